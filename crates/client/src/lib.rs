//! A client for the Plotly streaming protocol, on tokio and hyper.
//!
//! A [`Stream`] is one long chunked `POST /` with a `plotly-streamtoken`
//! header, whose body is one JSON [`Write`](plotstream_protocol::Write) per
//! line: what Plotly's Python client sent to `stream.plot.ly`, and what the
//! plotstream viewer takes. It works with any server that speaks the protocol.
//!
//! - Writes go into a bounded queue ([`StreamOptions::queue_capacity`]); a
//!   stream's one task (which also drives its connection) sends whatever is
//!   queued as one chunk. A full queue blocks
//!   the writer or drops the oldest write ([`Overflow`]), never silently: see
//!   [`Stats::dropped`].
//! - After 30 s without sending, a heartbeat goes out by itself.
//! - When the server ends the stream with 200, 408 or 502, or the connection
//!   drops, the client reconnects with back-off 1, 2, 4, 8, 16, 30, 30 s…,
//!   for ever by default ([`StreamOptions::reconnect_tries`];
//!   [`StreamOptions::on_retry`] hears of each try), and goes on with what
//!   is queued. Any other status is an [`Error::Status`] carrying the
//!   server's body.
//! - A connection that ends without the server's answer leaves the writes
//!   sent on it unconfirmed: the server may have applied them or not. They
//!   are counted ([`Stats::unconfirmed`], [`Stats::may_be_lost`]), never
//!   passed off as delivered.
//! - With [`StreamOptions::acks`] (a plotstream viewer's extension), the
//!   server acknowledges what it has applied; what is not acknowledged is
//!   kept ([`StreamOptions::max_unacked_bytes`]) and sent again after a
//!   drop, resuming the stream without a line twice: every write ends up
//!   acknowledged ([`Stats::acked`]), dropped or still queued, and none
//!   unconfirmed. [`StreamOptions::on_ack`] gets each write's ack latency.
//! - [`Stream::close`] sends what is queued, ends the body with the zero
//!   chunk, and returns the server's answer ([`CloseSummary`]).
//!
//! [`NdjsonSink`] offers the same writes onto any `AsyncWrite`, for tapes.
//!
//! `https://` URLs need the `tls` feature (rustls with the webpki roots).
//!
//! # Example
//!
//! Stream ten points to a server on this machine (here a tiny one made for
//! the example, which answers 200 once the stream ends):
//!
//! ```
//! use plotstream_client::{Stream, StreamOptions};
//! use plotstream_protocol::Write;
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let url = format!("http://{}", listener.local_addr().unwrap());
//! let server = tokio::spawn(async move {
//!     let (mut socket, _) = listener.accept().await.unwrap();
//!     let mut request = Vec::new();
//!     let mut buf = [0; 4096];
//!     while !request.ends_with(b"0\r\n\r\n") {
//!         let n = socket.read(&mut buf).await.unwrap();
//!         request.extend_from_slice(&buf[..n]);
//!     }
//!     socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await.unwrap();
//!     String::from_utf8(request).unwrap()
//! });
//!
//! let stream = Stream::connect(&url, "my-token", StreamOptions::default()).await?;
//! for i in 0..10 {
//!     stream.write(&Write::xy(i, i * i)).await?;
//! }
//! let summary = stream.close().await?;
//! assert_eq!((summary.status, summary.body.as_str()), (200, "ok"));
//! assert_eq!(summary.stats.writes, 10);
//!
//! let request = server.await.unwrap();
//! assert!(request.starts_with("POST / HTTP/1.1\r\n"));
//! assert!(request.contains("plotly-streamtoken: my-token\r\n"));
//! assert!(request.contains("{\"x\":9,\"y\":81}\n"));
//! # Ok::<(), plotstream_client::Error>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]

mod conn;
mod counts;
mod error;
mod figures;
mod options;
mod sink;
mod stream;
mod target;

/// Whether this build streams to `https://` URLs (the `tls` feature).
/// Without it, an `https://` URL is refused before any connection
/// ([`Error::TlsDisabled`]).
pub const TLS: bool = cfg!(feature = "tls");

pub use counts::Counts;
pub use error::Error;
pub use figures::{
    CreatedFigure, create_figure, create_temporary_figure, delete_figure, figures_fed_by, is_viewer,
};
pub use options::{AckHook, Overflow, Retry, RetryHook, StreamOptions};
pub use sink::NdjsonSink;
pub use stream::{CloseSummary, Stats, StatsHandle, Stream};
pub use target::check_url;
