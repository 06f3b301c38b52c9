//! Publishers: how a stream's writes reach the server under test, one
//! module per protocol, all behind [`Publish`].
//!
//! | target | URL | one stream is | one write is |
//! | --- | --- | --- | --- |
//! | `plotly` | `http(s)://host:port[/path]` | a chunked `POST` with the token header | one chunk of one line |
//! | `http` | `http(s)://host:port/path/{token}` | a chunked `POST` or `PUT` (`--method`) with `--header`s | one chunk of one line |
//! | `ws` | `ws://host:port/path/{token}` | a WebSocket | one masked text frame |
//! | `mqtt` | `mqtt://host:port` | an MQTT 3.1.1 connection | one `PUBLISH` to `--topic` |
//!
//! A publisher is driven by its worker ([`crate::engine`]), which owns
//! many streams and never waits on one of them: [`Publish::try_send`]
//! hands a write over at once. The plain-TCP publishers ([`chunked`],
//! [`ws`], [`mqtt`]) frame each write into the worker's buffer and write it
//! with one `write` call on the socket ([`socket`]); what the kernel does
//! not take waits in the publisher, and the stream writes nothing more
//! until [`Publish::poll_flush`] has sent it. `https://` and `--acks` go
//! through plotstream's client ([`client`]), which has TLS, reconnects
//! and acknowledgements.

use std::io;
use std::task::{Context, Poll};

use plotstream_client::Counts;

pub(crate) mod chunked;
pub(crate) mod client;
#[cfg(feature = "mqtt")]
pub(crate) mod mqtt;
pub(crate) mod socket;
#[cfg(feature = "ws")]
pub(crate) mod ws;

/// One write, encoded as the payload chosen (`--payload`).
#[derive(Debug)]
pub(crate) struct Message<'a> {
    /// The payload's bytes, without a newline: what every target sends.
    pub(crate) payload: &'a [u8],
}

/// How a stream's connection ended, from the publisher's side.
#[derive(Debug, Default)]
pub(crate) struct Closed {
    /// The server's last word: an HTTP status, a WebSocket close code, …
    pub(crate) status: Option<String>,
    /// What the connection carried.
    pub(crate) counts: Counts,
    /// Why the stream failed, if it did.
    pub(crate) error: Option<PublishError>,
}

/// Why a publisher failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The connection could not be made.
    #[error("cannot connect to {server}")]
    Connect {
        /// The server, as the URL names it.
        server: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Connecting took longer than it may.
    #[error("cannot connect to {server}: no answer within {seconds} s")]
    ConnectTimeout {
        /// The server.
        server: String,
        /// The limit.
        seconds: u64,
    },
    /// The server refused the stream's opening (an HTTP upgrade, an MQTT
    /// CONNACK), in its words.
    #[error("{server} refused the stream: {reason}")]
    Refused {
        /// The server.
        server: String,
        /// What it said.
        reason: String,
    },
    /// The server ended the stream with this answer (an HTTP status, a
    /// WebSocket close code).
    #[error("the server ended the stream: {answer}")]
    Ended {
        /// Its answer, as the report counts it.
        answer: String,
    },
    /// The server broke the protocol.
    #[error("the server broke the protocol: {0}")]
    Protocol(String),
    /// The connection failed while the stream was open.
    #[error("the connection failed")]
    Io(#[source] io::Error),
    /// A request header could not be made from its template.
    #[error("header {name}")]
    Header {
        /// The header.
        name: http::HeaderName,
        /// Why.
        #[source]
        source: http::header::InvalidHeaderValue,
    },
    /// plotstream's client failed (`https://`, `--acks`).
    #[error(transparent)]
    Client(#[from] plotstream_client::Error),
}

/// What [`Publish::try_send`] did with a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// It is on its way (in the kernel's buffer, or the client's queue).
    Out,
    /// The publisher holds it, or part of it: call [`Publish::poll_flush`]
    /// before the next write.
    Held,
}

/// One stream's connection to the server under test.
pub(crate) trait Publish: Sized + Send + 'static {
    /// What connecting needs, shared by every stream of a run.
    type Config: Send + Sync + 'static;

    /// Opens the stream for `token`, from the address `local` where given
    /// (`--bind`).
    fn connect(
        config: &Self::Config,
        token: &str,
        local: Option<std::net::IpAddr>,
    ) -> impl Future<Output = Result<Self, PublishError>> + Send;

    /// Hands one write over without waiting; `scratch` is the worker's
    /// buffer to frame it in (its contents are the publisher's to replace).
    fn try_send(
        &mut self,
        message: &Message<'_>,
        scratch: &mut Vec<u8>,
    ) -> Result<Sent, PublishError>;

    /// Sends what the publisher holds; ready once it holds nothing.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PublishError>>;

    /// Ends the stream cleanly and tells how it ended.
    fn close(self) -> impl Future<Output = Closed> + Send;
}

/// Fills `{token}` in a URL or topic template.
pub(crate) fn fill(template: &str, token: &str) -> String {
    template.replace("{token}", token)
}
