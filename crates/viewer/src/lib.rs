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
//! - [`Store`]: where a viewer keeps its figures across restarts (an
//!   embedded redb file); [`Viewer::with_store`] puts back what it holds,
//!   and [`Viewer::save`] saves the points written since the last save.
//! - [`app`]: the axum [`Router`] over a viewer, for tests and for embedding.
//! - [`serve`]: binds and serves until a shutdown signal.
//!
//! | route | what |
//! | --- | --- |
//! | `POST /` | a stream: header `plotly-streamtoken`, one JSON write per line; with `plotstream-ack: 1`, answered at once with `{"acked": N}` lines, and resumable (`plotstream-resume`, see [`plotstream_protocol::Ack`]) |
//! | `POST /api/figures` | a Plotly figure (`application/json`) → 201 `{"id", "url"}` |
//! | `GET /api/figures`, `GET /api/figures/{id}` | the figures; one with the data it holds |
//! | `GET /api/figures/{id}/data.csv`, `…/data.ndjson` | the points it holds, one row a point, as a download |
//! | `DELETE /api/figures/{id}` | deletes a figure → 204 |
//! | `GET /api/streams/{token}` | `{"token", "figures", "traces", "writes", "errors", "connected"}` |
//! | `GET /`, `GET /plot/{id}` | the list of figures; one live plot |
//! | `GET /plot/{id}/events` | server-sent events: a `snapshot`, then `update`s ([`plotstream_protocol::ViewerEvent`]) |
//! | `GET /metrics` | Prometheus text: connections, streams, writes, bytes, refusals by kind, subscribers |
//!
//! The protocol's rules are Plotly's: scalars append and arrays overwrite; a
//! second connection with the same token ends the first (409); a stream idle
//! for 60 s is closed (408); a line that is not a JSON object gets 400 naming
//! the line, a line over 1 MiB gets 413, a missing token 400, an unknown token
//! 404 (unless [`Config::open`]), and every write before the bad line is kept.
//!
//! Every byte it takes is treated as hostile, and everything it holds is
//! bounded ([`Config`] lists the limits): attribute paths are at most
//! [`plotstream_protocol::MAX_PATH_DEPTH`] deep, a token streams at most
//! [`Config::max_columns`] attributes, the viewer holds at most
//! [`Config::max_figures`] figures, the points held count their bytes
//! (strings included) against [`Config::memory_limit`] and, per token,
//! [`Config::max_token_bytes`]: past them the oldest points go, each one
//! counted (`plotstream_points_dropped_total`, the figure's `dropped`) and
//! said on its page, a subscriber's backlog is bounded in
//! events and bytes, a connection must send its request head within
//! [`Config::header_timeout`], and at most [`Config::max_connections`] are
//! open. Requests must name a loopback host ([`AllowedHosts`]), and a `POST`
//! must be JSON or a stream, so that no other web page can write to it.
//! Every refusal is one [`Error`], answered with its status and message.
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
//! let viewer = Viewer::new(Config::default())?;
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
use axum::routing::{delete, get, post, put};
use tokio::net::TcpListener;

mod ack;
mod api;
mod chart_studio;
mod column;
mod config;
mod error;
mod event;
mod export;
mod fanout;
mod figure;
mod ingest;
mod linger;
mod memory;
mod metrics;
mod page;
mod security;
mod server;
mod sse;
mod store;
mod viewer;

pub use config::{AllowedHosts, Config, MAX_MAXPOINTS, Setting};
pub use error::Error;
pub use linger::{Lingering, LingeringListener};
pub use store::{STORE_FILE, Store, StoreError};
pub use viewer::{Restored, Viewer};

/// The viewer's routes over `viewer`, behind its guard (allowed hosts, JSON
/// for `POST`, `nosniff`).
///
/// Inside a tokio runtime it also starts the tasks that send figures'
/// gathered updates to their subscribers ([`Config::update_interval`]) and
/// drop idle figures made for unknown tokens ([`Config::open_figure_ttl`]).
///
/// Served by another server than [`serve`], the request-head timeout and
/// the connection limit are that server's to keep.
pub fn app(viewer: Viewer) -> Router {
    viewer.start_tasks();
    use plotstream_protocol::paths::{self, chart_studio as v2};
    Router::new()
        .route(paths::ROOT, get(page::index).post(ingest::ingest))
        .route(paths::PLOT, get(page::plot))
        .route(paths::PLOT_EVENTS, get(sse::events))
        .route(paths::STATIC, get(page::static_file))
        .route(paths::FAVICON, get(page::favicon))
        .route(
            paths::FIGURES,
            post(api::create_figure).get(api::list_figures),
        )
        .route(
            paths::FIGURE,
            get(api::get_figure).delete(api::delete_figure),
        )
        .route(paths::FIGURE_FILE, get(api::figure_data))
        .route(paths::STREAM, get(api::get_stream))
        .route(paths::METRICS, get(api::metrics))
        // Chart Studio's API, for Plotly's Python client (`py.plot`).
        .route(v2::LOOKUP, get(chart_studio::lookup))
        .route(v2::PLOTS, post(chart_studio::create_plot))
        .route(v2::PLOT, put(chart_studio::update_plot))
        .route(v2::GRIDS, post(chart_studio::create_grid))
        .route(v2::GRID, delete(chart_studio::delete_grid))
        .route(v2::OWNER_PAGE, get(chart_studio::owner_page))
        .route("/{owner}/{file}/", get(chart_studio::owner_page))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            viewer.clone(),
            security::guard,
        ))
        .with_state(viewer)
}

/// Binds `addr`; the listener accepts connections as soon as this returns.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr).await.map_err(|source| Error::Bind {
        addr: addr.to_string(),
        source,
    })
}

/// Serves `viewer` on `listener` until `shutdown` completes.
///
/// At most [`Config::max_connections`] connections are open at once (one
/// more is answered 503); a connection that does not send a whole request
/// head within [`Config::header_timeout`] is closed; connections close
/// gracefully ([`Lingering`]), which Plotly's Python client needs to read
/// its answer to `close()`. On shutdown it stops accepting, ends the event
/// streams, gives open connections 3 s to finish, and then saves what they
/// wrote ([`Viewer::save`]), for a viewer with a store.
pub async fn serve(
    listener: TcpListener,
    viewer: Viewer,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let router = app(viewer.clone());
    server::serve(listener, viewer, router, shutdown).await
}
