//! Publishers: how a stream's writes reach the server under test, one
//! module per protocol, all behind [`Publish`].
//!
//! | target | URL | one stream is | one write is |
//! | --- | --- | --- | --- |
//! | `plotly` | `http(s)://host:port[/path]` | a chunked `POST` with the token header | one line |
//! | `http` | `http(s)://host:port/path/{token}` | a chunked `POST` or `PUT` (`--method`) with `--header`s | one line |
//! | `ws` | `ws://host:port/path/{token}` | a WebSocket | one text frame |
//! | `mqtt` | `mqtt://host:port` | an MQTT client | one `PUBLISH` to `--topic` |

use std::fmt;

use plotstream_protocol::Write;

pub(crate) mod http;
#[cfg(feature = "mqtt")]
pub(crate) mod mqtt;
pub(crate) mod plotly;
#[cfg(feature = "ws")]
pub(crate) mod ws;

/// One write, as the payload chosen: the Plotly write and its encoded line.
#[derive(Debug)]
pub(crate) struct Message<'a> {
    /// The Plotly write (the plotly target sends this).
    pub(crate) write: &'a Write,
    /// The payload's bytes, without a newline (the other targets send these).
    #[cfg_attr(not(any(feature = "ws", feature = "mqtt")), allow(dead_code))]
    pub(crate) payload: &'a [u8],
}

/// How a stream ended, from the publisher's side.
#[derive(Debug, Default)]
pub(crate) struct Closed {
    /// The server's last word: an HTTP status, a WebSocket close code, …
    pub(crate) status: Option<String>,
    pub(crate) bytes: u64,
    pub(crate) reconnects: u64,
    pub(crate) drops: u64,
    pub(crate) unconfirmed: u64,
    pub(crate) unsent: u64,
    /// Writes the server acknowledged (plotly target with `--acks`).
    pub(crate) acked: u64,
    /// Why the stream failed, if it did.
    pub(crate) error: Option<String>,
}

/// A publisher failed; the message names the server and the reason.
#[derive(Debug)]
pub(crate) struct PublishError(pub(crate) String);

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PublishError {}

/// One stream's connection to the server under test.
pub(crate) trait Publish: Sized + Send + 'static {
    /// What connecting needs, shared by every stream of a run.
    type Config: Send + Sync + 'static;

    /// Opens the stream for `token`, from the address `local` where given
    /// (`--bind`; the ws and mqtt targets let the system choose).
    fn connect(
        config: &Self::Config,
        token: &str,
        local: Option<std::net::IpAddr>,
    ) -> impl Future<Output = Result<Self, PublishError>> + Send;

    /// Sends one write.
    fn send(
        &mut self,
        message: &Message<'_>,
    ) -> impl Future<Output = Result<(), PublishError>> + Send;

    /// Ends the stream cleanly and tells how it ended.
    fn close(self) -> impl Future<Output = Closed> + Send;
}

/// Fills `{token}` in a URL or topic template.
pub(crate) fn fill(template: &str, token: &str) -> String {
    template.replace("{token}", token)
}
