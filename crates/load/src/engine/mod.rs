//! The engine: a few workers, one per thread, each driving many streams.
//!
//! A worker ([`worker::Worker`]) owns its streams (positions `w`, `w + W`,
//! …) and a slot ring of their next due times ([`wheel::Wheel`]). It sleeps
//! on one timer until the next stream is due, then writes every write due:
//! the demo's next frame into the worker's one frame, the payload into the
//! worker's one buffer, and the frame onto the socket with one call
//! ([`Publish::try_send`]). A stream is a state machine (waiting, connecting,
//! open, held, closing), not a task: connecting and closing, once a
//! connection, run as tasks of their own and report back on the worker's
//! inbox. Counts and histograms are the worker's own, published for the
//! monitor every 50 ms ([`Shared`]), so no write takes a lock that other
//! streams or the monitor take. (An MQTT stream at QoS 1 and 2 shares one
//! with its own connection's reader: the times of the writes awaiting
//! their acknowledgement, and at QoS 2 the socket, for the PUBRELs.)

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use plotstream_client::Counts;

use crate::publish::Publish;
use crate::report;

mod wheel;
mod worker;

pub(crate) use worker::{Plan, StreamSpec};

/// Histograms in shards, each recorded into by one writer at a time (a
/// worker, or an ack reader), moved into one total once a second.
///
/// A histogram of 1 µs to an hour at 3 significant digits is 23,552
/// counters (184 KiB): too much for each stream to have its own.
#[derive(Debug)]
pub(crate) struct Sharded {
    shards: Vec<Mutex<hdrhistogram::Histogram<u64>>>,
    total: Mutex<hdrhistogram::Histogram<u64>>,
    next: AtomicUsize,
}

impl Sharded {
    /// `n` shards.
    pub(crate) fn new(n: usize) -> Self {
        Sharded {
            shards: (0..n.max(1))
                .map(|_| Mutex::new(report::histogram()))
                .collect(),
            total: Mutex::new(report::histogram()),
            next: AtomicUsize::new(0),
        }
    }

    /// A shard for a new writer, round the shards in turn.
    pub(crate) fn pick(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.shards.len()
    }

    /// Records `d` into shard `shard`.
    pub(crate) fn record(&self, shard: usize, d: Duration) {
        let shard = &self.shards[shard % self.shards.len()];
        report::record(&mut shard.lock().unwrap_or_else(PoisonError::into_inner), d);
    }

    /// Adds what a worker recorded (and empties it).
    pub(crate) fn add(&self, shard: usize, h: &mut hdrhistogram::Histogram<u64>) {
        if h.is_empty() {
            return;
        }
        let shard = &self.shards[shard % self.shards.len()];
        let _ = shard
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .add(&*h);
        h.reset();
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

    /// Everything recorded so far, leaving the window as it is (for a
    /// reader other than the monitor, such as `--metrics-addr`).
    pub(crate) fn snapshot(&self) -> hdrhistogram::Histogram<u64> {
        let mut all = self
            .total
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for shard in &self.shards {
            let _ = all.add(&*shard.lock().unwrap_or_else(PoisonError::into_inner));
        }
        all
    }

    /// Everything recorded so far.
    pub(crate) fn total(&self) -> hdrhistogram::Histogram<u64> {
        self.take_window();
        self.total
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// One worker's counters, as it last published them.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counters {
    pub(crate) writes: AtomicU64,
    /// When the latest write was handed over, in ns after the schedule's start.
    pub(crate) last_write_nanos: AtomicU64,
    /// When the first was, in ns after the schedule's start, plus 1 (0: none yet).
    pub(crate) first_write_nanos: AtomicU64,
    pub(crate) open: AtomicI64,
    pub(crate) connect_errors: AtomicU64,
    pub(crate) stream_errors: AtomicU64,
}

/// The workers' counters added up.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Totals {
    pub(crate) writes: u64,
    pub(crate) last_write_nanos: u64,
    /// When the first write was handed over, in ns after the schedule's start.
    pub(crate) first_write_nanos: Option<u64>,
    pub(crate) open: i64,
    pub(crate) connect_errors: u64,
    pub(crate) stream_errors: u64,
}

/// What the workers, the subscribers and the monitor share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Each worker's counters.
    pub(crate) counters: Vec<Counters>,
    /// Every write's lateness, a shard a worker.
    pub(crate) lateness: Sharded,
    /// The server's acknowledgement latency (MQTT at QoS 1 and 2, the
    /// Plotly protocol with `--acks`).
    pub(crate) acks: Arc<Sharded>,
    /// The end-to-end latency subscribers recorded since the monitor last
    /// looked.
    pub(crate) latency_window: Arc<Mutex<hdrhistogram::Histogram<u64>>>,
    /// The end-to-end latency of the seconds the monitor has looked at.
    pub(crate) latency_total: Mutex<hdrhistogram::Histogram<u64>>,
    /// The first error a stream met, in words, to say why a run failed.
    pub(crate) first_error: Mutex<Option<String>>,
    /// Set to end the run early (a signal): the workers close their
    /// streams and offer nothing more.
    stopping: std::sync::atomic::AtomicBool,
}

impl Shared {
    pub(crate) fn new(workers: usize) -> Self {
        Shared {
            counters: (0..workers.max(1)).map(|_| Counters::default()).collect(),
            lateness: Sharded::new(workers),
            acks: Arc::new(Sharded::new(workers * 4)),
            latency_window: Arc::new(Mutex::new(report::histogram())),
            latency_total: Mutex::new(report::histogram()),
            first_error: Mutex::new(None),
            stopping: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Ends the run early: within [`worker::PUBLISH_EVERY`] every worker
    /// stops writing, closes its streams (waiting [`worker::STOP_GRACE`]
    /// at most for their answers) and finishes.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// The end-to-end latency recorded so far, the current second's too.
    pub(crate) fn latency_snapshot(&self) -> hdrhistogram::Histogram<u64> {
        let mut all = self
            .latency_total
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let _ = all.add(
            &*self
                .latency_window
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        all
    }

    /// Whether the run was ended early.
    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// The workers' counters, added up.
    pub(crate) fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for c in &self.counters {
            t.writes += c.writes.load(Ordering::Relaxed);
            t.last_write_nanos = t
                .last_write_nanos
                .max(c.last_write_nanos.load(Ordering::Relaxed));
            if let Some(first) = c.first_write_nanos.load(Ordering::Relaxed).checked_sub(1) {
                t.first_write_nanos = Some(t.first_write_nanos.map_or(first, |f| f.min(first)));
            }
            t.open += c.open.load(Ordering::Relaxed);
            t.connect_errors += c.connect_errors.load(Ordering::Relaxed);
            t.stream_errors += c.stream_errors.load(Ordering::Relaxed);
        }
        t
    }

    /// Keeps the first error met, with its causes.
    pub(crate) fn note_error(&self, e: &(dyn std::error::Error + 'static)) {
        let mut first = self
            .first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if first.is_none() {
            *first = Some(crate::chain(e));
        }
    }
}

/// What a worker's streams did, added up.
#[derive(Debug, Default)]
pub(crate) struct Finished {
    /// Streams driven.
    pub(crate) streams: usize,
    /// Streams a connection of which failed.
    pub(crate) failed: usize,
    /// Connections opened.
    pub(crate) connections: u64,
    pub(crate) counts: Counts,
    /// Each stream's last status, counted.
    pub(crate) statuses: BTreeMap<String, u64>,
}

impl std::ops::AddAssign for Finished {
    fn add_assign(&mut self, other: Finished) {
        self.streams += other.streams;
        self.failed += other.failed;
        self.connections += other.connections;
        self.counts += other.counts;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
    }
}

/// Runs `streams` on `workers` workers of publisher `P` and adds up what
/// they did. A worker that panicked counts its streams as failed.
pub(crate) async fn run<P: Publish>(
    plan: Arc<Plan<P>>,
    streams: Vec<StreamSpec>,
    workers: usize,
) -> Finished {
    let workers = workers.max(1);
    let mut shares: Vec<Vec<StreamSpec>> = (0..workers).map(|_| Vec::new()).collect();
    for (i, s) in streams.into_iter().enumerate() {
        shares[i % workers].push(s);
    }
    let handles: Vec<_> = shares
        .into_iter()
        .enumerate()
        .map(|(w, share)| {
            let n = share.len();
            (
                n,
                tokio::spawn(worker::Worker::new(w, Arc::clone(&plan), share).run()),
            )
        })
        .collect();
    let mut total = Finished::default();
    for (n, handle) in handles {
        match handle.await {
            Ok(done) => total += done,
            Err(e) => {
                plan.shared.counters[0]
                    .stream_errors
                    .fetch_add(n as u64, Ordering::Relaxed);
                plan.shared.note_error(&e);
                total.streams += n;
                total.failed += n;
            }
        }
    }
    total
}
