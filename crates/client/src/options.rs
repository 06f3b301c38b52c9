//! [`StreamOptions`]: the client's knobs, with the Python client's defaults.

use std::sync::Arc;
use std::time::Duration;

use crate::Error;

/// What [`Stream::write`](crate::Stream::write) does when the queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Wait until the sender has taken some writes: backpressure.
    #[default]
    Block,
    /// Drop the oldest queued write to make room, and count it in
    /// [`Stats::dropped`](crate::Stats::dropped).
    DropOldest,
}

/// How a [`Stream`](crate::Stream) queues, sends, keeps alive and reconnects.
///
/// ```
/// use std::time::Duration;
/// use plotstream_client::{Overflow, StreamOptions};
///
/// let opts = StreamOptions {
///     queue_capacity: 1_000,
///     overflow: Overflow::DropOldest,
///     heartbeat_after: Duration::from_secs(10),
///     ..StreamOptions::default()
/// };
/// assert_eq!(opts.reconnect_tries, None, "never gives up");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamOptions {
    /// How many writes may wait to be sent. Default 65,536. (With
    /// [`StreamOptions::acks`], what is sent and not yet acknowledged is
    /// bounded by [`StreamOptions::max_unacked_bytes`].)
    pub queue_capacity: usize,
    /// What a write does when the queue is full. Default [`Overflow::Block`].
    pub overflow: Overflow,
    /// The largest chunk the sender puts on the wire, in bytes; a single
    /// larger write goes alone. Default 64 KiB.
    pub max_chunk: usize,
    /// A heartbeat goes out by itself after this long without sending
    /// anything (servers close streams idle for 60 s). Default 30 s.
    pub heartbeat_after: Duration,
    /// How long connecting (TCP, TLS, HTTP handshake) may take. Default 10 s.
    pub connect_timeout: Duration,
    /// How many times in a row to try reconnecting after the server ended
    /// the stream with 200, 408 or 502 or the connection dropped (a
    /// connection that carries data starts the count again). Default
    /// `None`: for ever, as a never-ending stream should; `Some(0)` turns
    /// reconnecting off, `Some(5)` is the Python client's.
    pub reconnect_tries: Option<u32>,
    /// The first back-off before reconnecting; it doubles each try, up to
    /// [`StreamOptions::reconnect_backoff_max`] (1, 2, 4, 8, 16, 30, 30 s…
    /// by default).
    pub reconnect_backoff: Duration,
    /// The longest back-off between reconnect tries. Default 30 s.
    pub reconnect_backoff_max: Duration,
    /// Called before each wait to reconnect, with why and how long
    /// ([`Retry`]): for a line per failed try. Default none (the client
    /// logs each with `tracing`).
    pub on_retry: Option<RetryHook>,
    /// The request's method: `POST` (the protocol's) or `PUT`, for NDJSON
    /// stream servers that take it. Default `POST`.
    pub method: http::Method,
    /// Extra request headers (auth, routing), sent on every connection.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Whether the token goes in the `plotly-streamtoken` header, as the
    /// protocol has it. Default true; a generic NDJSON server may take the
    /// token in the URL instead.
    pub token_header: bool,
    /// Certificates (PEM) to trust for `https://` besides the public roots:
    /// a private CA's, or a test server's own. Needs the `tls` feature.
    /// Default none.
    pub ca_certs_pem: Option<Arc<[u8]>>,
    /// The address connections go from. One (source, destination) address
    /// pair has only the ephemeral port range (about 28,000 ports on
    /// Linux): a load test of more connections to one server spreads them
    /// over several source addresses (on loopback, 127.0.0.1, 127.0.0.2, …).
    /// Default: the system's choice.
    pub local_addr: Option<std::net::IpAddr>,
    /// Ask the server to acknowledge the lines it has taken, and resume
    /// after a drop without sending any twice: plotstream's extension of
    /// the protocol, which a plotstream viewer speaks
    /// ([`plotstream_protocol::Ack`]). Writes not yet acknowledged are kept
    /// (up to [`StreamOptions::max_unacked_bytes`]) and sent again on the
    /// next connection; none is ever left unconfirmed. A server that does
    /// not answer with acknowledgements within the connect timeout stops the
    /// stream with [`Error::NoAcks`](crate::Error::NoAcks); a connection
    /// whose lines wait two connect timeouts for an ack is taken for dead
    /// ([`Error::AckTimeout`](crate::Error::AckTimeout)) and the stream
    /// resumes on a new one. Default false.
    pub acks: bool,
    /// With [`StreamOptions::acks`]: how many bytes of lines (sent but not
    /// acknowledged, and not yet sent) the stream keeps. When they are
    /// full, [`StreamOptions::overflow`] applies, and a dropped write is
    /// counted. Default 16 MiB.
    pub max_unacked_bytes: usize,
    /// With [`StreamOptions::acks`]: called with each acknowledged write's
    /// latency, from [`Stream::write`](crate::Stream::write) queuing it to
    /// its ack arriving (under the stream's lock: keep it short, such as a
    /// histogram record). Default none.
    pub on_ack: Option<AckHook>,
}

/// A function called with each acknowledged write's latency
/// ([`StreamOptions::on_ack`]).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use plotstream_client::AckHook;
///
/// let slowest = Arc::new(AtomicU64::new(0));
/// let seen = Arc::clone(&slowest);
/// let hook = AckHook::new(move |latency| {
///     seen.fetch_max(latency.as_micros() as u64, Ordering::Relaxed);
/// });
/// hook.call(std::time::Duration::from_micros(250));
/// assert_eq!(slowest.load(Ordering::Relaxed), 250);
/// ```
#[derive(Clone)]
pub struct AckHook(Arc<dyn Fn(Duration) + Send + Sync>);

impl AckHook {
    /// A hook calling `f`.
    pub fn new(f: impl Fn(Duration) + Send + Sync + 'static) -> Self {
        AckHook(Arc::new(f))
    }

    /// Calls it with one write's latency.
    pub fn call(&self, latency: Duration) {
        (self.0)(latency);
    }
}

impl std::fmt::Debug for AckHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AckHook(..)")
    }
}

impl PartialEq for AckHook {
    /// The same function (one hook, cloned).
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for AckHook {}

/// A reconnect about to be tried ([`StreamOptions::on_retry`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct Retry<'a> {
    /// The server's `host:port`.
    pub addr: &'a str,
    /// The try about to be made, from 1 (since data last went through).
    pub attempt: u32,
    /// What ended the last connection, or made the last try fail.
    pub reason: &'a Error,
    /// How long the client waits before the try.
    pub wait: Duration,
}

/// A function called before each reconnect try ([`StreamOptions::on_retry`]).
///
/// ```
/// use plotstream_client::RetryHook;
///
/// let hook = RetryHook::new(|retry| {
///     eprintln!("{}: {}; try {} in {:?}", retry.addr, retry.reason, retry.attempt, retry.wait)
/// });
/// # let _ = hook;
/// ```
#[derive(Clone)]
pub struct RetryHook(Arc<dyn Fn(&Retry<'_>) + Send + Sync>);

impl RetryHook {
    /// A hook calling `f`.
    pub fn new(f: impl Fn(&Retry<'_>) + Send + Sync + 'static) -> Self {
        RetryHook(Arc::new(f))
    }

    /// Calls it.
    pub fn call(&self, retry: &Retry<'_>) {
        (self.0)(retry);
    }
}

impl std::fmt::Debug for RetryHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RetryHook(..)")
    }
}

impl PartialEq for RetryHook {
    /// The same function (one hook, cloned).
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for RetryHook {}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            queue_capacity: 1 << 16,
            overflow: Overflow::Block,
            max_chunk: 64 * 1024,
            heartbeat_after: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            reconnect_tries: None,
            reconnect_backoff: Duration::from_secs(1),
            reconnect_backoff_max: Duration::from_secs(30),
            on_retry: None,
            method: http::Method::POST,
            headers: Vec::new(),
            token_header: true,
            ca_certs_pem: None,
            local_addr: None,
            acks: false,
            max_unacked_bytes: 16 << 20,
            on_ack: None,
        }
    }
}

impl StreamOptions {
    /// Checks the options: a queue and chunks of at least one, a non-zero
    /// heartbeat interval and connect timeout.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: &str| {
            Err(Error::InvalidOptions {
                reason: reason.to_owned(),
            })
        };
        if self.queue_capacity == 0 {
            return invalid("queue_capacity must be at least 1");
        }
        if self.max_chunk == 0 {
            return invalid("max_chunk must be at least 1 byte");
        }
        if self.max_unacked_bytes == 0 {
            return invalid("max_unacked_bytes must be at least 1 byte");
        }
        if self.heartbeat_after.is_zero() {
            return invalid("heartbeat_after must be longer than zero");
        }
        if self.connect_timeout.is_zero() {
            return invalid("connect_timeout must be longer than zero");
        }
        if self.method != http::Method::POST && self.method != http::Method::PUT {
            return invalid("method must be POST or PUT: a stream is a request body");
        }
        Ok(())
    }

    /// The back-off before reconnect try `n` (from 1): `backoff · 2^(n-1)`,
    /// at most `backoff_max`.
    pub fn backoff(&self, n: u32) -> Duration {
        let factor = 1u32 << n.saturating_sub(1).min(31);
        self.reconnect_backoff
            .saturating_mul(factor)
            .min(self.reconnect_backoff_max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let o = StreamOptions::default();
        let secs: Vec<u64> = (1..=8).map(|n| o.backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(o.backoff(u32::MAX).as_secs(), 30, "no overflow");
        let python = StreamOptions {
            reconnect_backoff_max: Duration::from_secs(8),
            ..StreamOptions::default()
        };
        let secs: Vec<u64> = (1..=6).map(|n| python.backoff(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 8, 8], "the Python client's");
    }

    #[test]
    fn validation_names_the_option() {
        assert!(StreamOptions::default().validate().is_ok());
        let bad = StreamOptions {
            queue_capacity: 0,
            ..StreamOptions::default()
        };
        let err = bad.validate().expect_err("zero queue");
        assert_eq!(
            err.to_string(),
            "invalid stream options: queue_capacity must be at least 1"
        );
        let bad = StreamOptions {
            heartbeat_after: Duration::ZERO,
            ..StreamOptions::default()
        };
        assert!(bad.validate().is_err());
    }
}
