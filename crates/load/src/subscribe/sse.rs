//! EventSource (`text/event-stream` over HTTP): each `data:` line is one
//! message, as Nchan's EventSource subscribers send them.

use std::collections::VecDeque;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use plotstream_protocol::{Line, LineDecoder};

use super::Subscribe;
use crate::Error;

pub(crate) struct Sse {
    body: Incoming,
    decoder: LineDecoder,
    /// Messages decoded but not yet handed out.
    ready: VecDeque<Vec<u8>>,
}

impl Subscribe for Sse {
    async fn connect(url: &str, _topic: &str) -> Result<Self, Error> {
        let uri: http::Uri = url
            .parse()
            .map_err(|_| Error::Subscribe(format!("{url:?} is not a URL")))?;
        if uri.scheme_str() != Some("http") {
            return Err(Error::Subscribe(format!(
                "--subscribe-url {url:?}: give a ws://, wss://, http:// (EventSource) or mqtt:// URL"
            )));
        }
        let addr = format!(
            "{}:{}",
            uri.host().unwrap_or_default(),
            uri.port_u16().unwrap_or(80)
        );
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let body = super::event_stream(&addr, path).await?;
        Ok(Sse {
            body,
            decoder: LineDecoder::new(),
            ready: VecDeque::new(),
        })
    }

    async fn next(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(m) = self.ready.pop_front() {
                return Some(m);
            }
            let data = match self.body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => data,
                    Err(_) => continue,
                },
                Some(Err(_)) | None => return None,
            };
            let ready = &mut self.ready;
            let _ = self.decoder.feed(&data, |line| {
                if let Line::Data { bytes, .. } = line
                    && let Some(json) = bytes.strip_prefix(b"data: ")
                {
                    ready.push_back(json.to_vec());
                }
                Ok::<_, plotstream_protocol::Error>(())
            });
        }
    }
}
