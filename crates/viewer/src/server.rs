//! The accept loop: every connection bounded in number and in how long it
//! may take to send a request head; served by hyper with a lingering close.

use crate::config::Setting;
use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tower_service::Service;

use crate::linger::Lingering;
use crate::metrics::Open;
use crate::{Error, Viewer};

/// How long open connections may take to finish once the server stops.
const GRACE: Duration = Duration::from_secs(3);

/// The last bytes a connection read, kept for the stream handler: the only
/// way to tell Plotly's Python client's close (`\r\n0\r\n\r\n`) from a
/// malformed chunk size, which hyper reports alike (see `ingest`).
#[derive(Clone, Debug, Default)]
pub(crate) struct ConnTail(Arc<Mutex<Tail>>);

#[derive(Debug, Default)]
struct Tail {
    bytes: [u8; Tail::LEN],
    len: usize,
}

impl Tail {
    const LEN: usize = 16;
}

impl ConnTail {
    /// Notes `read`, the bytes just read.
    pub(crate) fn record(&self, read: &[u8]) {
        if read.is_empty() {
            return;
        }
        let mut t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let keep = read.len().min(Tail::LEN);
        let old = (Tail::LEN - keep).min(t.len);
        // Shift the old bytes still kept to the front, then append.
        let (start, end) = (t.len - old, t.len);
        t.bytes.copy_within(start..end, 0);
        t.bytes[old..old + keep].copy_from_slice(&read[read.len() - keep..]);
        t.len = old + keep;
    }

    /// Whether the bytes read so far end with `suffix` (16 bytes at most).
    pub(crate) fn ends_with(&self, suffix: &[u8]) -> bool {
        let t = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        t.bytes[..t.len].ends_with(suffix)
    }
}

/// Serves `router` (built over `viewer`) on `listener` until `shutdown`
/// completes; then stops accepting, ends subscriptions, and gives open
/// connections [`GRACE`] to finish.
pub(crate) async fn serve(
    listener: TcpListener,
    viewer: Viewer,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let config = viewer.config().clone();
    let slots = Arc::new(Semaphore::new(config.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each connection task holds a sender; all dropped means all ended.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of file descriptors and the like: wait, then retry.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refuse(&tcp, &viewer, config.max_connections);
            continue;
        };
        // Lines are small; latency matters more than packet count.
        let _ = tcp.set_nodelay(true);
        let tail = ConnTail::default();
        let io = TokioIo::new(Lingering::new(tcp, tail.clone()));
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(tail.clone());
            let mut router = router.clone();
            async move { Ok::<_, Infallible>(router.call(req).await.unwrap_or_else(|e| match e {})) }
        });
        let mut stop = stop_rx.clone();
        let done = done_tx.clone();
        let open = Open::new(&viewer, |m| &m.connections);
        let header_timeout = config.header_timeout;
        tokio::spawn(async move {
            let _held = (slot, done, open);
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                // A client may shut its side once the request is sent and
                // still read the answer.
                .half_close(true);
            let conn = builder.serve_connection(io, service);
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!("connection ended: {e}");
                    }
                }
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(GRACE, conn).await;
                }
            }
        });
    }
    drop(listener);
    viewer.close_subscriptions();
    let _ = stop_tx.send(true);
    drop(done_tx);
    let _ = done_rx.recv().await;
    // Every stream has ended: what they wrote goes to the store.
    viewer.save()?;
    Ok(())
}

/// Answers a connection over the limit with 503 and closes it, without
/// reading from it.
fn refuse(tcp: &TcpStream, viewer: &Viewer, limit: usize) {
    let setting = viewer.config().setting_name(Setting::MaxConnections);
    let n = viewer
        .metrics()
        .connections_refused
        .fetch_add(1, Ordering::Relaxed);
    if n.is_power_of_two() || n == 0 {
        tracing::warn!(
            "refusing connections: {limit} are open, the limit ({setting}); {} refused so far",
            n + 1
        );
    }
    let body = format!("too many connections: {limit} are open, the limit ({setting})\n");
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tcp.try_write(answer.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_keeps_the_last_sixteen_bytes_across_reads() {
        let t = ConnTail::default();
        t.record(b"POST / HTTP/1.1\r\n\r\n8\r\n{\"x\":1}\n\r\n");
        t.record(b"\r\n0\r\n");
        t.record(b"\r\n");
        assert!(t.ends_with(b"\n\r\n\r\n0\r\n\r\n"));
        t.record(b"zz");
        assert!(!t.ends_with(b"\r\n\r\n0\r\n\r\n"));
        assert!(t.ends_with(b"0\r\n\r\nzz"));
        let short = ConnTail::default();
        short.record(b"ab");
        assert!(short.ends_with(b"ab") && !short.ends_with(b"xab"));
    }
}
