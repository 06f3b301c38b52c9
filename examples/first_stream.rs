//! Run with: cargo run --example first_stream
//!
//! A first stream, as in Plotly's streaming tutorial (7.1), written out:
//! make a figure whose trace is fed by a stream token, open one `Stream` for
//! that token, write 200 points of the noisy cosine `{"x": time, "y": …}`
//! one every 80 ms, and close it. That is the whole Plotly streaming
//! protocol. A viewer starts here (the plot stays up until Ctrl-C), or give
//! `--url` of one started with `plotstream serve`.

#![allow(clippy::print_stdout)] // an example says what it does

use std::time::Duration;

use clap::Parser;
use plotstream::client::{Stream, StreamOptions, create_figure};
use plotstream::cosine::{NoisyCosine, Params};
use plotstream::protocol::{Figure, StreamSpec, Trace, Write};

/// The token that ties the stream to the figure's trace.
const TOKEN: &str = "first-stream";

#[derive(Parser)]
struct Args {
    /// A plotstream viewer, such as http://127.0.0.1:8080 (without it, one
    /// starts here).
    #[arg(long)]
    url: Option<String>,
}

/// Streams `count` points, one each `period`, into a new figure on the
/// viewer at `url`; the figure's page.
async fn run(url: &str, count: usize, period: Duration) -> anyhow::Result<String> {
    // 1. A figure whose one trace is fed by TOKEN and keeps its last 80 points.
    let figure = Figure {
        data: vec![Trace::streamed("scatter", StreamSpec::new(TOKEN, 80))],
        ..Figure::default()
    };
    let page = create_figure(url, &figure, &StreamOptions::default())
        .await?
        .url;
    println!("live plot: {page}");

    // 2. One stream for that token: a long chunked POST, one JSON per line.
    let stream = Stream::connect(url, TOKEN, StreamOptions::default()).await?;
    let mut tick = tokio::time::interval(period);
    for sample in NoisyCosine::seeded(Params::default(), 0)?.take(count) {
        tick.tick().await;
        // 3. Scalars append: x the wall-clock time, as the tutorial's.
        let now = chrono::Local::now().format("%Y-%m-%d %H:%M:%S%.6f");
        stream.write(&Write::xy(now.to_string(), sample.y)).await?;
    }

    // 4. Close: the zero chunk, then the server's answer and the counts.
    let done = stream.close().await?;
    println!(
        "server answered {}: {} writes, {} may be lost",
        done.status,
        done.stats.writes,
        done.stats.may_be_lost()
    );
    Ok(page)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let Some(url) = Args::parse().url {
        run(&url, 200, Duration::from_millis(80)).await?;
        return Ok(());
    }
    let viewer = plotstream::viewer::Viewer::new(Default::default())?;
    let listener = plotstream::viewer::bind("127.0.0.1:0".parse()?).await?;
    let url = format!("http://{}", listener.local_addr()?);
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let server = tokio::spawn(plotstream::viewer::serve(listener, viewer, stop));
    let page = run(&url, 200, Duration::from_millis(80)).await?;
    println!("the plot stays up at {page} until Ctrl-C");
    server.await??;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[tokio::test]
    async fn the_points_arrive_and_the_trace_keeps_its_last_80() {
        let viewer = plotstream::viewer::Viewer::new(Default::default()).expect("a viewer");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(plotstream::viewer::serve(
            listener,
            viewer.clone(),
            std::future::pending(),
        ));
        let page = super::run(&url, 100, Duration::from_millis(1))
            .await
            .expect("streams");
        assert_eq!(page, format!("{url}/plot/1"));
        let figure = viewer.figure_json(1).expect("the figure");
        let ys = figure["data"][0]["y"].as_array().expect("y values");
        assert_eq!(ys.len(), 80, "maxpoints keeps the last 80 of 100");
        let x = figure["data"][0]["x"][0].as_str().expect("x is a time");
        assert_eq!(x.len(), "2026-12-04 15:00:00.000000".len(), "{x}");
    }
}
