//! Run with: cargo run --example embed_viewer
//!
//! The viewer inside an axum app of your own: its routes merged with
//! yours, and a figure fed from this process with `Viewer::apply`, no HTTP
//! stream at all. Open the two URLs it prints.

#![allow(clippy::print_stdout)] // an example says what it does

use std::time::Duration;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use plotstream::protocol::{Figure, StreamSpec, Trace, Write};
use plotstream::viewer::{Config, Viewer};

/// Your routes beside the viewer's (`/`, `/plot/{id}`, `/api/…`, …).
fn app(viewer: Viewer) -> Router {
    Router::new()
        .route(
            "/hello",
            get(|| async { Html("<p>My app. <a href=\"/plot/1\">The live plot</a></p>") }),
        )
        .merge(plotstream::viewer::app(viewer))
}

/// Appends a point of a sine every 50 ms to the trace the token "sine" feeds.
async fn produce(viewer: Viewer) {
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    for i in 0u32.. {
        tick.tick().await;
        let t = f64::from(i) / 20.0;
        if viewer.apply("sine", &[Write::xy(t, t.sin())]).is_err() {
            return; // the figure was deleted
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let viewer = Viewer::new(Config::default())?;
    let id = viewer.add_figure(Figure {
        data: vec![Trace::streamed("scatter", StreamSpec::new("sine", 200))],
        ..Figure::default()
    })?;
    tokio::spawn(produce(viewer.clone()));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("your page: http://{addr}/hello\nthe plot:  http://{addr}/plot/{id}");
    axum::serve(listener, app(viewer)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_apps_answer_and_the_producer_feeds_the_plot() {
        let viewer = Viewer::new(Config::default()).expect("a viewer");
        let id = viewer
            .add_figure(Figure {
                data: vec![Trace::streamed("scatter", StreamSpec::new("sine", 200))],
                ..Figure::default()
            })
            .expect("valid");
        tokio::spawn(produce(viewer.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("an address");
        tokio::spawn(async move { axum::serve(listener, app(viewer)).await });
        let get = async |path: &str| {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(addr)
                .await
                .expect("connects");
            let req =
                format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
            s.write_all(req.as_bytes()).await.expect("asks");
            let mut answer = String::new();
            s.read_to_string(&mut answer).await.expect("reads");
            answer
        };
        assert!(get("/hello").await.contains("My app."));
        assert!(
            get(&format!("/plot/{id}"))
                .await
                .starts_with("HTTP/1.1 200")
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let fed = get("/api/streams/sine").await;
        assert!(fed.contains("\"x\":[0,0.05"), "{fed}");
    }
}
