//! Run with: cargo run --example client -- --url http://127.0.0.1:8080
//!
//! The Plotly streaming protocol by hand, with `plotstream_client` alone:
//! make a figure on a plotstream viewer (`cargo run --release -- serve`),
//! open one `Stream` for its token, `write` points and a layout update,
//! `close`, and read what the server answered. Without `--url` it starts a
//! viewer of its own first.

#![allow(clippy::print_stdout)] // an example says what it does

use std::time::Duration;

use clap::Parser;
use plotstream::client::{Stream, StreamOptions, create_figure};
use plotstream::protocol::{Figure, StreamSpec, Trace, Write};

#[derive(Parser)]
struct Args {
    /// A plotstream viewer, such as http://127.0.0.1:8080.
    #[arg(long)]
    url: Option<String>,
}

/// Streams 100 points of a sine to a new figure on the viewer at `url`;
/// the figure's page.
async fn run(url: &str) -> anyhow::Result<String> {
    // A figure whose one trace is fed by the token "sine", keeping 50 points.
    let figure = Figure {
        data: vec![Trace::streamed("scatter", StreamSpec::new("sine", 50))],
        ..Figure::default()
    };
    let page = create_figure(url, &figure, &StreamOptions::default())
        .await?
        .url;

    let stream = Stream::connect(url, "sine", StreamOptions::default()).await?;
    for i in 0..100u32 {
        let x = f64::from(i) / 10.0;
        stream.write(&Write::xy(x, x.sin())).await?; // scalars append
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let title: Write = serde_json::from_str(r#"{"layout": {"title": {"text": "sin x"}}}"#)?;
    stream.write(&title).await?;
    let done = stream.close().await?; // the zero chunk, then the server's answer
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
    let url = match Args::parse().url {
        Some(url) => url,
        None => {
            let viewer = plotstream::viewer::Viewer::new(Default::default())?;
            let listener = plotstream::viewer::bind("127.0.0.1:0".parse()?).await?;
            let url = format!("http://{}", listener.local_addr()?);
            tokio::spawn(plotstream::viewer::serve(
                listener,
                viewer,
                std::future::pending(),
            ));
            url
        }
    };
    run(&url).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_sine_arrives_whole() {
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
        let page = super::run(&url).await.expect("streams");
        assert_eq!(page, format!("{url}/plot/1"));
        let figure = viewer.figure_json(1).expect("the figure");
        assert_eq!(figure["data"][0]["x"].as_array().map(Vec::len), Some(50));
        assert_eq!(figure["layout"]["title"]["text"], "sin x");
    }
}
