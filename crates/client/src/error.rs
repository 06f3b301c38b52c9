//! The client's error type.

use std::io;
use std::sync::Arc;
use std::time::Duration;

/// What can go wrong streaming.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not an `http://` or `https://` URL with a host.
    #[error("invalid stream url {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The token breaks the protocol's token rule
    /// ([`check_token`](plotstream_protocol::check_token)).
    #[error("invalid stream token {token:?}")]
    InvalidToken {
        /// The token given.
        token: String,
        /// What is wrong with it.
        #[source]
        reason: plotstream_protocol::TokenError,
    },
    /// An option is out of range.
    #[error("invalid stream options: {reason}")]
    InvalidOptions {
        /// Which option, and why.
        reason: String,
    },
    /// The TCP connection failed (refused, unreachable, no such host).
    #[error("cannot connect to {addr}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The system's reason.
        #[source]
        source: io::Error,
    },
    /// Connecting (TCP, TLS and the HTTP handshake) took longer than the
    /// connect timeout.
    #[error("cannot connect to {addr}: no connection within {timeout:?}")]
    ConnectTimeout {
        /// `host:port`.
        addr: String,
        /// The connect timeout.
        timeout: Duration,
    },
    /// An `https://` URL, but the crate was built without its `tls` feature.
    #[error("cannot stream to {url}: https needs plotstream-client's `tls` feature")]
    TlsDisabled {
        /// The URL given.
        url: String,
    },
    /// The TLS handshake failed.
    #[error("tls handshake with {addr} failed")]
    Tls {
        /// `host:port`.
        addr: String,
        /// The reason.
        #[source]
        source: io::Error,
    },
    /// HTTP failed on an open connection.
    #[error("http error on the stream to {addr}")]
    Http {
        /// `host:port`.
        addr: String,
        /// hyper's error.
        #[source]
        source: hyper::Error,
    },
    /// The server answered with a status that ends the stream for good
    /// (anything but 200, 408 and 502 while streaming; anything but 2xx at
    /// close).
    #[error("{addr} answered {status}: {body}")]
    Status {
        /// `host:port`.
        addr: String,
        /// The HTTP status code.
        status: u16,
        /// The start of the response body (64 KiB at most).
        body: String,
    },
    /// [`StreamOptions::acks`](crate::StreamOptions::acks) is on, and the
    /// server did not answer with acknowledgements (`plotstream-ack: 1`)
    /// within the connect timeout: it is not a plotstream viewer.
    #[error(
        "{addr} does not acknowledge writes (no plotstream-ack answer within {timeout:?}): stream to it without acks"
    )]
    NoAcks {
        /// `host:port`.
        addr: String,
        /// How long the answer was waited for.
        timeout: Duration,
    },
    /// With acks, lines waited for their acknowledgement twice the connect
    /// timeout without one: the connection is taken for dead, and the
    /// stream resumes on a new one.
    #[error(
        "{addr} acknowledged nothing for {timeout:?} while lines waited: taking the connection for dead"
    )]
    AckTimeout {
        /// `host:port`.
        addr: String,
        /// The check interval (the connect timeout).
        timeout: Duration,
    },
    /// An acknowledged stream's answer broke the extension's rules: a line
    /// that is not an ack, or an ack of lines never sent.
    #[error("{addr} sent a bad acknowledgement: {reason}")]
    BadAck {
        /// `host:port`.
        addr: String,
        /// What was wrong.
        reason: String,
    },
    /// The connection ended, and every reconnect failed.
    #[error(
        "gave up on {addr} after {}",
        plotstream_protocol::plural(u64::from(*tries), "reconnect try", "reconnect tries")
    )]
    Reconnect {
        /// `host:port`.
        addr: String,
        /// How many tries were made.
        tries: u32,
        /// The last try's error.
        #[source]
        last: Box<Error>,
    },
    /// The stream stopped earlier, for this reason; it takes no more writes.
    #[error("the stream has stopped")]
    Stopped(#[source] Arc<Error>),
    /// The stream is closing or closed; it takes no more writes.
    #[error("the stream is closed")]
    Closed,
    /// The stream's sender task ended without a result (the runtime shut down).
    #[error("the stream's sender task ended abnormally")]
    Aborted,
    /// A write could not be encoded.
    #[error(transparent)]
    Protocol(#[from] plotstream_protocol::Error),
    /// Writing to an [`NdjsonSink`](crate::NdjsonSink)'s output failed.
    #[error("cannot write the ndjson output")]
    Io(#[source] io::Error),
}
