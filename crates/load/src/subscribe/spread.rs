//! [`Spread`]: with K receivers per stream (`--subscribers K`), when the
//! first and the last of them got each write: the fan-out spread.
//!
//! Each stream keeps a ring of its last [`WINDOW`] writes' first arrival
//! and count of receivers. When the K-th receiver of a write arrives, the
//! time since the first goes into the spread histogram. A write whose
//! receivers did not all arrive within the next [`WINDOW`] writes of its
//! stream (one was lost, or fell that far behind) is counted incomplete:
//! its loss is in the receivers' counts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::time::Instant;

use crate::report::{histogram, record};

/// Writes of one stream kept waiting for their last receiver.
pub(crate) const WINDOW: usize = 128;

#[derive(Clone, Copy, Debug)]
struct Entry {
    seq: u64,
    first: Instant,
    count: u32,
}

/// The spread of every stream's writes over its K receivers.
#[derive(Debug)]
pub(crate) struct Spread {
    k: u32,
    /// Per stream position, a ring of [`WINDOW`] entries (made at its
    /// first arrival: 3 KiB a stream).
    streams: Vec<Mutex<Vec<Option<Entry>>>>,
    hist: Mutex<hdrhistogram::Histogram<u64>>,
    incomplete: AtomicU64,
}

impl Spread {
    /// For `streams` streams of `k` receivers each.
    pub(crate) fn new(streams: usize, k: u32) -> Self {
        Spread {
            k,
            streams: (0..streams).map(|_| Mutex::new(Vec::new())).collect(),
            hist: Mutex::new(histogram()),
            incomplete: AtomicU64::new(0),
        }
    }

    /// A receiver of stream `position` got write `seq` (new to it) at `now`.
    pub(crate) fn arrived(&self, position: usize, seq: u64, now: Instant) {
        let Some(ring) = self.streams.get(position) else {
            return;
        };
        let mut ring = ring.lock().unwrap_or_else(PoisonError::into_inner);
        if ring.is_empty() {
            ring.resize(WINDOW, None);
        }
        let slot = &mut ring[(seq % WINDOW as u64) as usize];
        match slot {
            Some(e) if e.seq == seq => {
                e.count += 1;
                if e.count == self.k {
                    record(
                        &mut self.hist.lock().unwrap_or_else(PoisonError::into_inner),
                        now.saturating_duration_since(e.first),
                    );
                }
            }
            // A write older than the window: its entry is gone.
            Some(e) if e.seq > seq => {}
            _ => {
                if let Some(old) = slot.take()
                    && old.count < self.k
                {
                    self.incomplete.fetch_add(1, Ordering::Relaxed);
                }
                *slot = Some(Entry {
                    seq,
                    first: now,
                    count: 1,
                });
            }
        }
    }

    /// The spread histogram (µs), and the writes whose receivers did not
    /// all arrive: those evicted, and those still waiting at the end.
    pub(crate) fn finish(self) -> (hdrhistogram::Histogram<u64>, u64) {
        let mut incomplete = self.incomplete.into_inner();
        for ring in self.streams {
            let ring = ring.into_inner().unwrap_or_else(PoisonError::into_inner);
            incomplete += ring.iter().flatten().filter(|e| e.count < self.k).count() as u64;
        }
        (
            self.hist
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
            incomplete,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_spread_is_last_minus_first_receiver_and_gaps_are_incomplete() {
        let s = Spread::new(2, 3);
        let t = Instant::now();
        let ms = |n| t + Duration::from_millis(n);
        // Write 0 of stream 0: receivers at 0, 2 and 5 ms.
        s.arrived(0, 0, ms(0));
        s.arrived(0, 0, ms(2));
        s.arrived(0, 0, ms(5));
        // Write 1: only two receivers ever get it.
        s.arrived(0, 1, ms(10));
        s.arrived(0, 1, ms(11));
        // Stream 1's write 0, all three at once.
        for _ in 0..3 {
            s.arrived(1, 0, ms(20));
        }
        // Write WINDOW + 1 takes write 1's place: write 1 is incomplete.
        s.arrived(0, WINDOW as u64 + 1, ms(30));
        let (h, incomplete) = s.finish();
        assert_eq!(h.len(), 2, "two writes reached every receiver");
        assert!((4_990..=5_010).contains(&h.max()), "{} µs", h.max());
        // Write 1 (evicted) and write WINDOW + 1 (one receiver of three).
        assert_eq!(incomplete, 2);
    }
}
