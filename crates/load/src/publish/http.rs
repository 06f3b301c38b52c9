//! Plain HTTP streams: a never-ending chunked `POST` (or `PUT`) of NDJSON
//! lines to any URL, through plotstream's client (reconnects, counted
//! drops and unconfirmed writes), without the Plotly token header: the
//! token goes where the URL and the headers say (`{token}`).

use plotstream_client::{Stream, StreamOptions};

use super::plotly::closed_stream;
use super::{Closed, Message, Publish, PublishError, fill};
use crate::chain;

/// Where the streams go, how, and with which headers.
#[derive(Debug)]
pub(crate) struct Config {
    /// The URL, `{token}` filled per stream.
    pub(crate) url: String,
    /// `POST` or `PUT`.
    pub(crate) method: http::Method,
    /// Extra headers; `{token}` in a value is filled per stream.
    pub(crate) headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Certificates to trust for `https://` (`--ca-cert`).
    pub(crate) ca_certs_pem: Option<std::sync::Arc<[u8]>>,
}

pub(crate) struct Http(Stream);

impl Publish for Http {
    type Config = Config;

    async fn connect(
        config: &Config,
        token: &str,
        local: Option<std::net::IpAddr>,
    ) -> Result<Self, PublishError> {
        let mut headers = Vec::with_capacity(config.headers.len());
        for (name, value) in &config.headers {
            let text = String::from_utf8_lossy(value.as_bytes());
            let filled = http::HeaderValue::from_str(&fill(&text, token))
                .map_err(|e| PublishError(format!("header {name}: {e}")))?;
            headers.push((name.clone(), filled));
        }
        let opts = StreamOptions {
            method: config.method.clone(),
            headers,
            token_header: false,
            ca_certs_pem: config.ca_certs_pem.clone(),
            local_addr: local,
            ..StreamOptions::default()
        };
        Stream::connect(&fill(&config.url, token), token, opts)
            .await
            .map(Http)
            .map_err(|e| PublishError(crate::connect_error(&e)))
    }

    async fn send(&mut self, message: &Message<'_>) -> Result<(), PublishError> {
        self.0
            .write_json(message.payload)
            .await
            .map_err(|e| PublishError(chain(&e)))
    }

    async fn close(self) -> Closed {
        closed_stream(self.0).await
    }
}
