//! One stream of a run ([`StreamTask`]) and what all streams share
//! ([`Shared`]): counters, lateness histograms, the first error.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use plotstream_demos::{Clock, Frame};
use plotstream_protocol::Update;
use tokio::time::Instant;

use crate::publish::{self, Message, Publish};
use crate::{Payload, Schedule, report};

/// Counters all streams share, for progress and the report.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) writes: AtomicU64,
    /// When the latest write was handed over, in ns after the schedule's start.
    pub(crate) last_write_nanos: AtomicU64,
    pub(crate) open: AtomicI64,
    pub(crate) connect_errors: AtomicU64,
    pub(crate) stream_errors: AtomicU64,
}

/// Every write's lateness, in histograms that all streams share.
///
/// A histogram of 1 µs to an hour at 3 significant digits is 23,552
/// counters (184 KiB): one per stream was most of a stream's memory, and
/// merging each into the run's once a second most of the monitor's work.
/// Instead a write records once, into one of a few shards (its stream's, by
/// position, so that streams on different threads rarely wait for each
/// other); once a second the monitor moves the shards' records into the
/// run's total, reading that second's percentiles on the way.
#[derive(Debug)]
pub(crate) struct Lateness {
    shards: Vec<Mutex<hdrhistogram::Histogram<u64>>>,
    total: Mutex<hdrhistogram::Histogram<u64>>,
}

impl Lateness {
    /// Shards for `threads` worker threads: four a thread, so that two
    /// streams' writes on two threads seldom meet.
    pub(crate) fn new(threads: usize) -> Self {
        Lateness {
            shards: (0..threads.max(1) * 4)
                .map(|_| Mutex::new(report::histogram()))
                .collect(),
            total: Mutex::new(report::histogram()),
        }
    }

    /// Records the lateness of a write of the stream at `position`.
    pub(crate) fn record(&self, position: usize, late: Duration) {
        let shard = &self.shards[position % self.shards.len()];
        report::record(
            &mut shard.lock().unwrap_or_else(PoisonError::into_inner),
            late,
        );
    }

    /// Moves what the shards recorded since the last call into the total;
    /// the p50 and p99 (ms) of it.
    pub(crate) fn take_window(&self) -> [f64; 2] {
        let mut window = report::histogram();
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = window.add(&*shard);
            shard.reset();
        }
        let _ = self
            .total
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(&window);
        let ms = |q: f64| window.value_at_quantile(q) as f64 / 1000.0;
        [ms(0.5), ms(0.99)]
    }

    /// Every write's lateness so far.
    pub(crate) fn total(&self) -> hdrhistogram::Histogram<u64> {
        self.take_window();
        self.total
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// What all streams share: counters, and the histograms of lateness.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) counters: Counters,
    /// Every write's lateness.
    pub(crate) lateness: Lateness,
    /// The end-to-end latency subscribers recorded since the monitor last
    /// looked.
    pub(crate) latency_window: Arc<Mutex<hdrhistogram::Histogram<u64>>>,
    /// The first error a stream met, in words, to say why a run failed.
    pub(crate) first_error: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Shared {
            counters: Counters::default(),
            lateness: Lateness::new(
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            ),
            latency_window: Arc::new(Mutex::new(report::histogram())),
            first_error: Mutex::new(None),
        }
    }

    /// Keeps the first error met, with its causes.
    pub(crate) fn note_error(&self, e: &dyn std::error::Error) {
        let mut first = self
            .first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if first.is_none() {
            *first = Some(crate::chain(e));
        }
    }
}

/// What one stream did.
#[derive(Debug, Default)]
pub(crate) struct StreamResult {
    /// Connections opened (one per epoch that connected).
    pub(crate) connections: u64,
    /// Whether a connection of the stream failed.
    pub(crate) failed: bool,
    pub(crate) bytes: u64,
    pub(crate) reconnects: u64,
    pub(crate) drops: u64,
    pub(crate) unconfirmed: u64,
    pub(crate) unsent: u64,
    pub(crate) acked: u64,
    pub(crate) status: Option<String>,
}

/// One stream of the run: connects at its start, sends its writes on
/// schedule through its publisher, and reports what it did.
pub(crate) struct StreamTask<P: Publish> {
    pub(crate) config: Arc<P::Config>,
    pub(crate) token: String,
    pub(crate) demo: Box<dyn plotstream_demos::Demo>,
    pub(crate) payload: Payload,
    /// This run's id, in point payloads.
    pub(crate) run: u64,
    /// Its place among this run's streams (for the schedule).
    pub(crate) position: usize,
    pub(crate) schedule: Arc<Schedule>,
    pub(crate) shared: Arc<Shared>,
    /// The source addresses the run's connections spread over (`--bind`);
    /// empty: the system's choice.
    pub(crate) bind: Arc<[std::net::IpAddr]>,
}

impl<P: Publish> StreamTask<P> {
    /// Sends the stream's writes, one connection per epoch of the schedule
    /// (one, unless `--stages` or `--churn` close and reopen it).
    pub(crate) async fn run(mut self) -> StreamResult {
        let (schedule, shared) = (Arc::clone(&self.schedule), Arc::clone(&self.shared));
        let mut result = StreamResult::default();
        // Most demos write one trace a frame: room for one write, not the
        // four a first push would make.
        let mut frame = Frame {
            writes: Vec::with_capacity(1),
            ..Frame::default()
        };
        let mut payload = Vec::new();
        let mut times = schedule.times(self.position);
        let mut seq = 0;
        let mut due = times.at(0);
        for (open, close) in schedule.epochs(self.position) {
            if due.is_none() {
                break;
            }
            tokio::time::sleep_until(open).await;
            let in_epoch = |d: Instant| d < close;
            let local = (!self.bind.is_empty()).then(|| self.bind[self.position % self.bind.len()]);
            // Connecting and closing happen once a connection, so their
            // futures are boxed: kept inline they would size this task,
            // for the whole run, by its rarest await.
            let mut publisher = match Box::pin(P::connect(&self.config, &self.token, local)).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(token = self.token, "cannot connect: {e}");
                    shared
                        .counters
                        .connect_errors
                        .fetch_add(1, Ordering::Relaxed);
                    shared.note_error(&e);
                    result.failed = true;
                    // This connection's writes are never sent (counted as
                    // such); the next epoch tries again.
                    result.unsent += skip(&mut times, &mut seq, &mut due, in_epoch);
                    continue;
                }
            };
            result.connections += 1;
            shared.counters.open.fetch_add(1, Ordering::Relaxed);
            let mut failed = None;
            while let Some(d) = due.filter(|&d| in_epoch(d)) {
                tokio::time::sleep_until(d).await;
                // The next write of the demo's first trace, numbered (in
                // place: the frame is the demo's to overwrite next time).
                let first = loop {
                    self.demo.next_frame(Clock::Simulated, &mut frame);
                    if let Some(i) = frame.writes.iter().position(|w| w.token == 0) {
                        break i;
                    }
                };
                let write = &mut frame.writes[first].write;
                write.customdata = Some(Update::append(seq));
                payload.clear();
                encode_payload(
                    self.payload,
                    self.run,
                    &self.token,
                    seq,
                    write,
                    &mut payload,
                );
                let message = Message {
                    write,
                    payload: &payload,
                };
                seq += 1;
                due = times.at(seq);
                if let Err(e) = publisher.send(&message).await {
                    failed = Some(e.0);
                    break;
                }
                shared.lateness.record(self.position, d.elapsed());
                shared.counters.writes.fetch_add(1, Ordering::Relaxed);
                let since_start =
                    u64::try_from(schedule.t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
                shared
                    .counters
                    .last_write_nanos
                    .fetch_max(since_start, Ordering::Relaxed);
            }
            if failed.is_some() {
                // The rest of this connection's writes are never sent.
                result.unsent += skip(&mut times, &mut seq, &mut due, in_epoch);
            } else if schedule.staged() || due.is_some() {
                // Stay open for the whole epoch, written to or not: the
                // server sees the connections the stages ask for (an
                // unstaged stream closes after its last write).
                tokio::time::sleep_until(close).await;
            }
            let closed = Box::pin(publisher.close()).await;
            shared.counters.open.fetch_sub(1, Ordering::Relaxed);
            if let Some(e) = failed.or(closed.error) {
                shared
                    .counters
                    .stream_errors
                    .fetch_add(1, Ordering::Relaxed);
                shared.note_error(&publish::PublishError(e));
                result.failed = true;
            }
            result.bytes += closed.bytes;
            result.reconnects += closed.reconnects;
            result.drops += closed.drops;
            result.unconfirmed += closed.unconfirmed;
            result.acked += closed.acked;
            result.unsent += closed.unsent;
            if closed.status.is_some() {
                result.status = closed.status;
            }
        }
        result
    }
}

/// Moves past the writes due in this epoch (`in_epoch`); how many.
fn skip(
    times: &mut crate::schedule::Times,
    seq: &mut u64,
    due: &mut Option<Instant>,
    in_epoch: impl Fn(Instant) -> bool,
) -> u64 {
    let mut skipped = 0;
    while due.is_some_and(&in_epoch) {
        skipped += 1;
        *seq += 1;
        *due = times.at(*seq);
    }
    skipped
}

/// Writes the payload of write `seq` of stream `token`.
fn encode_payload(
    payload: Payload,
    run: u64,
    token: &str,
    seq: u64,
    write: &plotstream_protocol::Write,
    out: &mut Vec<u8>,
) {
    match payload {
        Payload::Plotly => {
            let _ = write.encode_line(out);
            out.pop(); // the newline: each target frames writes its own way
        }
        Payload::Point => {
            let scalar = |u: &Option<Update>| match u {
                Some(Update::Append(s)) => s.to_value(),
                _ => serde_json::Value::Null,
            };
            let point = serde_json::json!({"run": run, "stream": token, "seq": seq, "x": scalar(&write.x), "y": scalar(&write.y)});
            let _ = serde_json::to_writer(&mut *out, &point);
        }
    }
}
