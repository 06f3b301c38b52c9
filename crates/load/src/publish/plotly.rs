//! The Plotly streaming protocol: a chunked `POST` per stream, through
//! plotstream's client (reconnects, counted drops and unconfirmed writes).

use plotstream_client::{Stream, StreamOptions};

use super::{Closed, Message, Publish, PublishError, fill};
use crate::chain;

/// Where the streams go.
#[derive(Debug)]
pub(crate) struct Config {
    /// The URL, `{token}` filled per stream.
    pub(crate) url: String,
    /// Certificates to trust for `https://` (`--ca-cert`).
    pub(crate) ca_certs_pem: Option<std::sync::Arc<[u8]>>,
    /// With `--acks`: records each write's ack latency.
    pub(crate) acks: Option<plotstream_client::AckHook>,
}

pub(crate) struct Plotly(Stream);

impl Publish for Plotly {
    type Config = Config;

    async fn connect(
        config: &Config,
        token: &str,
        local: Option<std::net::IpAddr>,
    ) -> Result<Self, PublishError> {
        let opts = StreamOptions {
            ca_certs_pem: config.ca_certs_pem.clone(),
            local_addr: local,
            acks: config.acks.is_some(),
            on_ack: config.acks.clone(),
            ..StreamOptions::default()
        };
        Stream::connect(&fill(&config.url, token), token, opts)
            .await
            .map(Plotly)
            .map_err(|e| PublishError(crate::connect_error(&e)))
    }

    async fn send(&mut self, message: &Message<'_>) -> Result<(), PublishError> {
        self.0
            .write(message.write)
            .await
            .map_err(|e| PublishError(chain(&e)))
    }

    async fn close(self) -> Closed {
        closed_stream(self.0).await
    }
}

/// Closes a client stream and tells how it ended.
pub(crate) async fn closed_stream(stream: Stream) -> Closed {
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
            closed.error = Some(chain(&e));
        }
    }
    let st = stats.get();
    closed.bytes = st.bytes;
    closed.reconnects = st.reconnects;
    closed.drops = st.dropped;
    closed.unconfirmed = st.unconfirmed;
    closed.acked = st.acked;
    closed.unsent = st.queued;
    closed
}
