//! `--metrics-addr`: the run's live counters and latency histograms in the
//! Prometheus text format, at `GET /metrics`, while the test runs.
//!
//! Histograms have fixed buckets (seconds: 0.5 ms to 10 s), so shards add
//! up: `sum by (le) (rate(plotstream_load_latency_seconds_bucket[1m]))`
//! over every shard's endpoint is the test's, which percentiles are not.
//! Every series carries `test_id` and `shard` labels.
//!
//! | metric | type | what |
//! | --- | --- | --- |
//! | `plotstream_load_writes_total` | counter | writes handed to streams |
//! | `plotstream_load_open_streams` | gauge | connections open now |
//! | `plotstream_load_connect_errors_total` | counter | connections that could not be opened |
//! | `plotstream_load_stream_errors_total` | counter | streams that failed later |
//! | `plotstream_load_lateness_seconds` | histogram | intended send time to the write handed over |
//! | `plotstream_load_latency_seconds` | histogram | intended send time to arrival, every receiver (with subscribers) |
//! | `plotstream_load_ack_latency_seconds` | histogram | the server's ack latency (`--acks`, MQTT QoS 1 and 2) |
//!
//! The server is a few lines over plain TCP: a request head of at most
//! 8 KiB within 5 s, 64 connections at once, one answer, then close.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::engine::Shared;
use crate::{Error, report};

/// The buckets' upper bounds, in seconds.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The largest request head read.
const MAX_HEAD: usize = 8 << 10;

/// Connections served at once.
const MAX_CONNECTIONS: usize = 64;

/// Binds `addr` for the endpoint: before any connection to the target, so
/// that an address in use is a refused option.
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Options(crate::flags::cannot_listen("--metrics-addr", addr, &e)))
}

/// The labels every series carries: `test_id="…",shard="I/N"`.
pub(crate) fn labels(opts: &crate::Opts) -> String {
    format!(
        "test_id=\"{}\",shard=\"{}/{}\"",
        opts.test_id(),
        opts.shard.index,
        opts.shard.count
    )
}

/// The endpoint, served until this is dropped.
pub(crate) struct Serving(tokio::task::JoinHandle<()>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves the endpoint on `listener` until the [`Serving`] is dropped.
pub(crate) fn serve(listener: TcpListener, shared: Arc<Shared>, labels: String) -> Serving {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    Serving(tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                continue;
            };
            let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
                continue; // over the limit: dropped, closed
            };
            let (shared, labels) = (Arc::clone(&shared), labels.clone());
            tokio::spawn(async move {
                let _ =
                    tokio::time::timeout(Duration::from_secs(5), answer(socket, &shared, &labels))
                        .await;
                drop(permit);
            });
        }
    }))
}

/// Reads one request head and answers it.
async fn answer(mut socket: TcpStream, shared: &Shared, labels: &str) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut request = httparse::Request::new(&mut headers);
    let path = match request.parse(&head) {
        Ok(_) => request.path.unwrap_or(""),
        Err(_) => "",
    };
    let (status, body) = if request.method == Some("GET") && path == "/metrics" {
        ("200 OK", render(shared, labels))
    } else {
        ("404 Not Found", "only GET /metrics is here\n".to_owned())
    };
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(answer.as_bytes()).await?;
    socket.shutdown().await
}

/// The metrics now.
pub(crate) fn render(shared: &Shared, labels: &str) -> String {
    let totals = shared.totals();
    let mut out = String::new();
    for (name, kind, help, value) in [
        (
            "writes_total",
            "counter",
            "Writes handed to streams.",
            totals.writes as f64,
        ),
        (
            "open_streams",
            "gauge",
            "Connections open now.",
            totals.open as f64,
        ),
        (
            "connect_errors_total",
            "counter",
            "Connections that could not be opened.",
            totals.connect_errors as f64,
        ),
        (
            "stream_errors_total",
            "counter",
            "Streams that failed after they opened.",
            totals.stream_errors as f64,
        ),
    ] {
        let _ = writeln!(
            out,
            "# HELP plotstream_load_{name} {help}\n# TYPE plotstream_load_{name} {kind}\nplotstream_load_{name}{{{labels}}} {value}"
        );
    }
    histogram(
        &mut out,
        "lateness_seconds",
        "Intended send time to the write handed to its stream.",
        &shared.lateness.snapshot(),
        labels,
    );
    histogram(
        &mut out,
        "latency_seconds",
        "Intended send time to arrival at a subscriber, over every receiver.",
        &shared.latency_snapshot(),
        labels,
    );
    histogram(
        &mut out,
        "ack_latency_seconds",
        "Write queued to the server's acknowledgement.",
        &shared.acks.snapshot(),
        labels,
    );
    out
}

/// One histogram in fixed buckets, from an HDR histogram of microseconds.
fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    h: &hdrhistogram::Histogram<u64>,
    labels: &str,
) {
    let _ = writeln!(
        out,
        "# HELP plotstream_load_{name} {help}\n# TYPE plotstream_load_{name} histogram"
    );
    for le in BUCKETS {
        let micros = (le * 1e6) as u64;
        let n = if h.is_empty() {
            0
        } else {
            h.count_between(0, micros.min(report::MAX_MICROS))
        };
        let _ = writeln!(
            out,
            "plotstream_load_{name}_bucket{{{labels},le=\"{le}\"}} {n}"
        );
    }
    let count = h.len();
    let _ = writeln!(
        out,
        "plotstream_load_{name}_bucket{{{labels},le=\"+Inf\"}} {count}\nplotstream_load_{name}_sum{{{labels}}} {}\nplotstream_load_{name}_count{{{labels}}} {count}",
        h.mean() * count as f64 / 1e6
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_count_what_is_at_most_their_bound() {
        let mut h = report::histogram();
        for ms in [0.3, 0.9, 4.0, 4.0, 2000.0] {
            report::record(&mut h, Duration::from_secs_f64(ms / 1000.0));
        }
        let mut out = String::new();
        histogram(&mut out, "x_seconds", "x.", &h, "shard=\"0/1\"");
        let bucket = |le: &str| {
            out.lines()
                .find(|l| l.contains(&format!("le=\"{le}\"")))
                .and_then(|l| l.rsplit(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
        };
        assert_eq!(bucket("0.0005"), Some(1));
        assert_eq!(bucket("0.001"), Some(2));
        assert_eq!(bucket("0.005"), Some(4));
        assert_eq!(bucket("1"), Some(4));
        assert_eq!(bucket("2.5"), Some(5));
        assert_eq!(bucket("+Inf"), Some(5));
        assert!(out.contains("x_seconds_count{shard=\"0/1\"} 5\n"), "{out}");
    }
}
