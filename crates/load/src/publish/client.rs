//! The plotly and http targets through plotstream's client, for what the
//! plain writer ([`super::chunked`]) does not do: `https://` (the `tls`
//! feature), and plotstream's acknowledgements (`--acks`), with the
//! client's reconnects and resumes and its counts of drops and
//! unconfirmed writes.
//!
//! The worker never waits on the client: a write goes into the client's
//! queue at once; a full queue holds it here, and the worker offers it again
//! at its next tick.

use std::task::{Context, Poll};

use plotstream_client::{Stream, StreamOptions};

use super::{Closed, Message, Publish, PublishError, Sent, fill};

/// Where the streams go, and the client's options for them.
#[derive(Debug)]
pub(crate) struct Config {
    /// The URL, `{token}` filled per stream.
    pub(crate) url: String,
    /// The client's options (`{token}` in a header value filled per stream).
    pub(crate) options: StreamOptions,
}

/// One stream, and the write its full queue could not take yet.
pub(crate) struct Client {
    stream: Stream,
    held: Option<Vec<u8>>,
}

impl Publish for Client {
    type Config = Config;

    async fn connect(
        config: &Config,
        token: &str,
        local: Option<std::net::IpAddr>,
    ) -> Result<Self, PublishError> {
        let mut options = config.options.clone();
        options.local_addr = local;
        for (name, value) in &mut options.headers {
            let text = String::from_utf8_lossy(value.as_bytes());
            *value = http::HeaderValue::from_str(&fill(&text, token)).map_err(|source| {
                PublishError::Header {
                    name: name.clone(),
                    source,
                }
            })?;
        }
        let stream = Stream::connect(&fill(&config.url, token), token, options).await?;
        Ok(Client { stream, held: None })
    }

    fn try_send(
        &mut self,
        message: &Message<'_>,
        _scratch: &mut Vec<u8>,
    ) -> Result<Sent, PublishError> {
        if self.held.is_some() || !self.stream.try_write_json(message.payload)? {
            self.held
                .get_or_insert_with(Vec::new)
                .extend_from_slice(message.payload);
            return Ok(Sent::Held);
        }
        Ok(Sent::Out)
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), PublishError>> {
        match &self.held {
            Some(line) if !self.stream.try_write_json(line)? => Poll::Pending,
            _ => {
                self.held = None;
                Poll::Ready(Ok(()))
            }
        }
    }

    async fn close(self) -> Closed {
        let Client { stream, held } = self;
        let stats = stream.stats_handle();
        let mut closed = Closed::default();
        match stream.close().await {
            Ok(summary) => closed.status = Some(summary.status.to_string()),
            Err(e) => {
                closed.status = Some(match &e {
                    plotstream_client::Error::Stopped(reason) => match reason.as_ref() {
                        plotstream_client::Error::Status { status, .. } => status.to_string(),
                        _ => "error".to_owned(),
                    },
                    _ => "error".to_owned(),
                });
                closed.error = Some(PublishError::Client(e));
            }
        }
        closed.counts = stats.get().counts();
        // A write the queue never took was never sent.
        closed.counts.unsent += u64::from(held.is_some());
        closed
    }
}
