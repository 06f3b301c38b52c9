//! Direct subscribers (`--subscribe-url`): one connection per stream to the
//! server's own subscribe side (a WebSocket or EventSource URL with
//! `{token}`, such as Nchan's `/sub/{token}`, or an MQTT broker's topic).
//! Every message names its write by sequence number (`seq` in the point
//! payload, `customdata` in the Plotly one), so loss, duplicates and
//! end-to-end latency are measured per write as for the viewer.

use std::sync::{Arc, OnceLock};

use plotstream_protocol::{Line, LineDecoder};
use serde_json::Value;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::report::{histogram, record};
use crate::subscribe::Seen;
use crate::{Error, Schedule};

/// What one stream's subscriber saw.
#[derive(Debug)]
pub(crate) struct Direct {
    pub(crate) position: usize,
    pub(crate) seen: Seen,
    pub(crate) latency: hdrhistogram::Histogram<u64>,
}

impl Direct {
    pub(crate) fn new(position: usize) -> Self {
        Direct {
            position,
            seen: Seen::default(),
            latency: histogram(),
        }
    }

    /// One message's payload, arrived at `now`.
    fn take(&mut self, payload: &[u8], ctx: &Ctx, now: Instant) {
        let Ok(v) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        if v.get("run").is_some_and(|r| r.as_u64() != Some(ctx.run)) {
            return; // another run's write, replayed by the server
        }
        let schedule = ctx.schedule.get().map(Arc::as_ref);
        let Some(seq) = v
            .get("seq")
            .or_else(|| v.get("customdata"))
            .and_then(Value::as_u64)
        else {
            return;
        };
        if let (true, Some(schedule)) = (self.seen.note(seq), schedule) {
            record(
                &mut self.latency,
                now.saturating_duration_since(schedule.intended(self.position, seq)),
            );
        }
    }
}

/// What every direct subscriber shares.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    pub(crate) schedule: Arc<OnceLock<Arc<Schedule>>>,
    pub(crate) stop: watch::Receiver<bool>,
    /// This run's id: points of other runs are ignored.
    pub(crate) run: u64,
}

/// Follows `url` (ws://, wss:// or http:// EventSource) for one stream.
pub(crate) async fn follow_url(
    url: String,
    mut sub: Direct,
    ctx: Ctx,
    ready: oneshot::Sender<()>,
) -> Result<Direct, Error> {
    if url.starts_with("ws://") || url.starts_with("wss://") {
        return follow_ws(url, sub, ctx, ready).await;
    }
    // EventSource: data lines of text/event-stream.
    let uri: http::Uri = url
        .parse()
        .map_err(|_| Error::Subscribe(format!("{url:?} is not a URL")))?;
    if uri.scheme_str() != Some("http") {
        return Err(Error::Subscribe(format!(
            "--subscribe-url {url:?}: give a ws://, wss:// or http:// (EventSource) URL"
        )));
    }
    let host = uri.host().unwrap_or_default().to_owned();
    let addr = format!("{host}:{}", uri.port_u16().unwrap_or(80));
    let tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|e| Error::Subscribe(format!("connect {addr}: {e}")))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .map_err(|e| Error::Subscribe(format!("handshake: {e}")))?;
    tokio::spawn(connection);
    let request = http::Request::builder()
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(http::header::HOST, addr.as_str())
        .header(http::header::ACCEPT, "text/event-stream")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| Error::Subscribe(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| Error::Subscribe(format!("GET {url}: {e}")))?;
    if !response.status().is_success() {
        return Err(Error::Subscribe(format!(
            "GET {url} answered {}",
            response.status()
        )));
    }
    let _ = ready.send(());
    let mut body = response.into_body();
    let mut decoder = LineDecoder::new();
    let mut stop = ctx.stop.clone();
    loop {
        use http_body_util::BodyExt;
        let frame = tokio::select! {
            f = body.frame() => f,
            _ = stop.wait_for(|s| *s) => return Ok(sub),
        };
        let Some(Ok(frame)) = frame else {
            return Ok(sub);
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let now = Instant::now();
        let _ = decoder.feed(&data, |line| {
            if let Some(json) = match line {
                Line::Data { bytes, .. } => bytes.strip_prefix(b"data: "),
                Line::Heartbeat { .. } => None,
            } {
                sub.take(json, &ctx, now);
            }
            Ok::<_, plotstream_protocol::Error>(())
        });
    }
}

#[cfg(feature = "ws")]
async fn follow_ws(
    url: String,
    mut sub: Direct,
    ctx: Ctx,
    ready: oneshot::Sender<()>,
) -> Result<Direct, Error> {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message as Frame;
    let socket = crate::publish::ws::open(&url, &[])
        .await
        .map_err(|e| Error::Subscribe(e.to_string()))?;
    let _ = ready.send(());
    let (_sink, mut stream) = socket.split();
    let mut stop = ctx.stop.clone();
    loop {
        let frame = tokio::select! {
            f = stream.next() => f,
            _ = stop.wait_for(|s| *s) => return Ok(sub),
        };
        let now = Instant::now();
        match frame {
            Some(Ok(Frame::Text(text))) => {
                sub.take(text.as_bytes(), &ctx, now);
            }
            Some(Ok(Frame::Binary(bytes))) => {
                sub.take(&bytes, &ctx, now);
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Ok(sub),
        }
    }
}

#[cfg(not(feature = "ws"))]
async fn follow_ws(
    url: String,
    _sub: Direct,
    _ctx: Ctx,
    _ready: oneshot::Sender<()>,
) -> Result<Direct, Error> {
    Err(Error::Subscribe(format!(
        "{url}: plotstream-load was built without its `ws` feature"
    )))
}

/// Subscribes to `topic` on the broker at `host:port` for one stream.
#[cfg(feature = "mqtt")]
pub(crate) async fn follow_mqtt(
    (host, port, topic): (String, u16, String),
    sub: Direct,
    ctx: Ctx,
    ready: oneshot::Sender<()>,
) -> Result<Direct, Error> {
    use rumqttc::{Event, Packet, QoS};
    let sub = Arc::new(std::sync::Mutex::new(sub));
    let (suback_tx, suback_rx) = oneshot::channel();
    let mut suback = Some(suback_tx);
    let (seen, in_loop) = (Arc::clone(&sub), ctx.clone());
    let on_event = move |event: &Event| match event {
        Event::Incoming(Packet::Publish(p)) => {
            let now = Instant::now();
            seen.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(&p.payload, &in_loop, now);
        }
        Event::Incoming(Packet::SubAck(_)) => {
            if let Some(tx) = suback.take() {
                let _ = tx.send(());
            }
        }
        _ => {}
    };
    let id = format!("sub-{}", topic.replace('/', "-"));
    let (client, events) = crate::publish::mqtt::client(&host, port, &id, on_event)
        .await
        .map_err(|e| Error::Subscribe(e.to_string()))?;
    client
        .subscribe(topic.as_str(), QoS::AtLeastOnce)
        .await
        .map_err(|e| Error::Subscribe(format!("MQTT subscribe {topic}: {e}")))?;
    tokio::time::timeout(std::time::Duration::from_secs(10), suback_rx)
        .await
        .map_err(|_| Error::Subscribe(format!("no SUBACK for {topic} within 10 s")))?
        .map_err(|_| Error::Subscribe("the MQTT subscriber ended".into()))?;
    let _ = ready.send(());
    let mut stop = ctx.stop.clone();
    let _ = stop.wait_for(|s| *s).await;
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), events).await;
    let out = std::mem::replace(
        &mut *sub
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
        Direct::new(0),
    );
    Ok(out)
}
