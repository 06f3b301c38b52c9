//! A local live-plot server for the Plotly streaming protocol.
//!
//! Plotly's cloud no longer takes streams; this viewer does, on your own
//! machine. It takes `POST /` streams from plotstream's client and from
//! Plotly's original Python client (chart_studio), keeps each trace's last
//! `maxpoints` points in ring buffers, and draws the figures live in the
//! browser with plotly.js, served from the binary.
//!
//! - [`Viewer`]: the state: figures, the tokens that feed them, counters.
//!   [`Viewer::add_figure`] registers a figure whose traces carry
//!   `stream: {token, maxpoints}`.
//! - [`app`]: the axum [`Router`] over a viewer, for tests and for embedding.
//! - [`serve`]: binds and serves until a shutdown signal.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /` | a stream: header `plotly-streamtoken`, one JSON write per line |
//! | `POST /api/figures` | a Plotly figure → 201 `{"id", "url"}` |
//! | `GET /api/figures`, `GET /api/figures/{id}` | the figures; one with the data it holds |
//! | `GET /api/streams/{token}` | `{"token", "traces", "writes", "errors", "connected"}` |
//! | `GET /`, `GET /plot/{id}` | the list of figures; one live plot |
//! | `GET /plot/{id}/events` | server-sent events: a `snapshot`, then `update`s |
//! | `GET /metrics` | Prometheus text: open streams, writes, bytes, errors by kind, subscribers |
//!
//! The protocol's rules are Plotly's: scalars append and arrays overwrite; a
//! second connection with the same token ends the first (409); a stream idle
//! for 60 s is closed (408); a line that is not a JSON object gets 400 naming
//! the line, a line over 1 MiB gets 413, a missing token 400, an unknown token
//! 404 (unless [`Config::open`]), and every write before the bad line is kept.
//!
//! # Example
//!
//! Serve on a free port, create a figure, stream three points with
//! plotstream's client, and read them back:
//!
//! ```
//! use plotstream_protocol::{Figure, StreamSpec, Trace, Write};
//! use plotstream_viewer::{Config, Viewer};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let viewer = Viewer::new(Config::default());
//! let id = viewer.add_figure(Figure {
//!     data: vec![Trace::streamed("scatter", StreamSpec::new("tok", 2))],
//!     ..Figure::default()
//! })?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let url = format!("http://{}", listener.local_addr().unwrap());
//! tokio::spawn(plotstream_viewer::serve(listener, viewer.clone(), std::future::pending()));
//!
//! let stream = plotstream_client::Stream::connect(&url, "tok", Default::default()).await.unwrap();
//! for i in 0..3 {
//!     stream.write(&Write::xy(i, i * 10)).await.unwrap();
//! }
//! assert_eq!(stream.close().await.unwrap().status, 200);
//!
//! let figure = viewer.figure_json(id).unwrap();
//! assert_eq!(figure["data"][0]["x"], serde_json::json!([1, 2]), "maxpoints 2 keeps the last two");
//! assert_eq!(figure["data"][0]["y"], serde_json::json!([10, 20]));
//! # Ok::<(), plotstream_viewer::Error>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]

use std::net::SocketAddr;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;

mod api;
mod error;
mod ingest;
mod linger;
mod page;
mod state;
mod store;

pub use error::Error;
pub use linger::{Lingering, LingeringListener};
pub use state::{Config, Viewer};
pub use store::MAX_MAXPOINTS;

/// The viewer's routes over `viewer`.
///
/// Inside a tokio runtime it also starts the task that sends figures'
/// gathered updates to their subscribers ([`Config::update_interval`]).
pub fn app(viewer: Viewer) -> Router {
    viewer.start_flusher();
    Router::new()
        .route("/", get(page::index).post(ingest::ingest))
        .route("/plot/{id}", get(page::plot))
        .route("/plot/{id}/events", get(page::events))
        .route("/static/plotly.min.js", get(page::plotly_js))
        .route("/static/plot.js", get(page::plot_js))
        .route(
            "/api/figures",
            post(api::create_figure).get(api::list_figures),
        )
        .route("/api/figures/{id}", get(api::get_figure))
        .route("/api/streams/{token}", get(api::get_stream))
        .route("/metrics", get(api::metrics))
        .with_state(viewer)
}

/// Binds `addr`; the listener accepts connections as soon as this returns.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).await.map_err(|source| Error::Bind {
        addr: addr.to_string(),
        source,
    })
}

/// Serves `viewer` on `listener` until `shutdown` completes. Connections
/// close gracefully ([`LingeringListener`]), which Plotly's Python client
/// needs to read its answer to `close()`.
pub async fn serve(
    listener: TcpListener,
    viewer: Viewer,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    axum::serve(LingeringListener::new(listener), app(viewer))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Serve)
}
