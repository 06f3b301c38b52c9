//! Subscribers: what reads every write back, to measure end-to-end latency
//! and loss per write.
//!
//! - [`viewer`]: a plotstream viewer's event streams (`--subscribe`), one
//!   per figure of up to 100 streams.
//! - Direct subscribers (`--subscribe-url`), one connection per stream to
//!   the server's own subscribe side, all behind [`Subscribe`]: [`ws`]
//!   (WebSocket), [`sse`] (EventSource), [`mqtt`] (a subscription of its
//!   own). Every message names its write by sequence number (`seq` in the
//!   point payload, `customdata` in the Plotly one).

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde_json::Value;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::report::{histogram, record};
use crate::{Error, Schedule};

#[cfg(feature = "mqtt")]
pub(crate) mod mqtt;
pub(crate) mod spread;
pub(crate) mod sse;
pub(crate) mod start;
pub(crate) mod viewer;
#[cfg(feature = "ws")]
pub(crate) mod ws;

pub(crate) use viewer::Seen;

/// One stream's subscription to the server under test.
pub(crate) trait Subscribe: Sized + Send + 'static {
    /// Subscribes; the subscription is in place when this returns.
    fn connect(url: &str, topic: &str) -> impl Future<Output = Result<Self, Error>> + Send;

    /// The next message's payload; `None` once the subscription ended.
    fn next(&mut self) -> impl Future<Output = Option<Vec<u8>>> + Send;

    /// Ends the subscription.
    fn close(self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// What one stream's subscriber saw.
#[derive(Debug)]
pub(crate) struct Direct {
    pub(crate) position: usize,
    pub(crate) seen: Seen,
    pub(crate) latency: hdrhistogram::Histogram<u64>,
    /// The stream's due times, once the schedule is known.
    times: Option<crate::schedule::Times>,
}

/// What every direct subscriber shares.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    pub(crate) schedule: Arc<OnceLock<Arc<Schedule>>>,
    pub(crate) stop: watch::Receiver<bool>,
    /// This run's id: points of other runs are ignored.
    pub(crate) run: u64,
    /// Latency since the monitor last looked (each second's p50, p99).
    pub(crate) window: Arc<Mutex<hdrhistogram::Histogram<u64>>>,
    /// With several receivers per stream, the fan-out spread.
    pub(crate) spread: Option<Arc<spread::Spread>>,
}

impl Direct {
    pub(crate) fn new(position: usize) -> Self {
        Direct {
            position,
            seen: Seen::default(),
            latency: histogram(),
            times: None,
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
        let Some(seq) = v
            .get("seq")
            .or_else(|| v.get("customdata"))
            .and_then(Value::as_u64)
        else {
            return;
        };
        if let (true, Some(schedule)) = (self.seen.note(seq), ctx.schedule.get()) {
            // New sequence numbers only go up: the times follow as a cursor.
            let times = self
                .times
                .get_or_insert_with(|| schedule.times(self.position));
            // A number the schedule never had is no write of this run.
            let Some(due) = times.at(seq) else {
                return;
            };
            let took = now.saturating_duration_since(due);
            record(&mut self.latency, took);
            record(
                &mut ctx.window.lock().unwrap_or_else(PoisonError::into_inner),
                took,
            );
            if let Some(spread) = &ctx.spread {
                spread.arrived(self.position, seq, now);
            }
        }
    }
}

/// Opens a long `GET path` on `addr` (`host:port`) asking for server-sent
/// events, and hands back the body as it comes.
pub(crate) async fn event_stream(addr: &str, path: &str) -> Result<hyper::body::Incoming, Error> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| Error::Subscribe(format!("connect {addr}: {e}")))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .map_err(|e| Error::Subscribe(format!("handshake with {addr}: {e}")))?;
    tokio::spawn(connection);
    let request = http::Request::builder()
        .uri(path)
        .header(http::header::HOST, addr)
        .header(http::header::ACCEPT, "text/event-stream")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| Error::Subscribe(e.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| Error::Subscribe(format!("GET {path} on {addr}: {e}")))?;
    if !response.status().is_success() {
        return Err(Error::Subscribe(format!(
            "GET {path} on {addr} answered {}",
            response.status()
        )));
    }
    Ok(response.into_body())
}

/// Subscribes with `S` to `url` (and `topic`, for MQTT), says `ready`, and
/// notes every message until the run stops or the subscription ends.
pub(crate) async fn follow<S: Subscribe>(
    url: String,
    topic: String,
    mut sub: Direct,
    ctx: Ctx,
    ready: oneshot::Sender<()>,
) -> Result<Direct, Error> {
    let mut subscription = S::connect(&url, &topic).await?;
    let _ = ready.send(());
    let mut stop = ctx.stop.clone();
    loop {
        let message = tokio::select! {
            m = subscription.next() => m,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Some(payload) = message else {
            break;
        };
        sub.take(&payload, &ctx, Instant::now());
    }
    subscription.close().await;
    Ok(sub)
}
