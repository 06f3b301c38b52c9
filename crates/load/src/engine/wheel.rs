//! [`Wheel`]: a worker's slot ring of its streams' next due times.
//!
//! One slot a millisecond, 1,024 slots (about a second a round); a stream
//! due later than a round waits in its slot for its round to come. Each
//! entry keeps its exact due time, so nothing is popped before it is due
//! and the worker sleeps to the exact instant. Pushing is O(1), and popping
//! what is due visits only the slots passed since the last pop.

use std::time::Duration;

use tokio::time::Instant;

/// Slots in the ring.
const SLOTS: u64 = 1024;

/// Nanoseconds a slot.
const SLOT_NANOS: u64 = 1_000_000;

/// A slot ring of `(due, stream)` entries, `due` in ns after the origin.
#[derive(Debug)]
pub(crate) struct Wheel {
    origin: Instant,
    slots: Vec<Vec<(u64, u32)>>,
    /// The first slot's tick not wholly popped yet.
    cursor: u64,
    len: usize,
}

impl Wheel {
    pub(crate) fn new(origin: Instant) -> Self {
        Wheel {
            origin,
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            cursor: 0,
            len: 0,
        }
    }

    /// `at` in ns after the origin (0 before it).
    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX)
    }

    fn slot(&mut self, tick: u64) -> &mut Vec<(u64, u32)> {
        &mut self.slots[(tick % SLOTS) as usize]
    }

    /// Stream `stream` is due at `at` (in the past: at the next pop).
    pub(crate) fn push(&mut self, at: Instant, stream: u32) {
        let due = self.nanos(at);
        let tick = (due / SLOT_NANOS).max(self.cursor);
        self.slot(tick).push((due, stream));
        self.len += 1;
    }

    /// Moves the streams due by `now` into `out`.
    pub(crate) fn pop_due(&mut self, now: Instant, out: &mut Vec<u32>) {
        // Before the origin nothing is due: even what is due at it is later.
        if now < self.origin {
            return;
        }
        let now_n = self.nanos(now);
        let now_t = now_n / SLOT_NANOS;
        if self.len == 0 {
            self.cursor = self.cursor.max(now_t);
            return;
        }
        if now_t < self.cursor {
            // Still in the cursor's slot: only it can hold what is due.
            self.take(self.cursor, now_n, out);
            return;
        }
        let visits = (now_t - self.cursor + 1).min(SLOTS);
        for k in 0..visits {
            self.take(self.cursor + k, now_n, out);
        }
        self.cursor = now_t;
    }

    /// Moves the entries of `tick`'s slot due by `now_n` into `out`.
    fn take(&mut self, tick: u64, now_n: u64, out: &mut Vec<u32>) {
        let slot = &mut self.slots[(tick % SLOTS) as usize];
        if slot.is_empty() {
            return;
        }
        let before = out.len();
        slot.retain(|&(due, stream)| {
            if due <= now_n {
                out.push(stream);
                false
            } else {
                true
            }
        });
        self.len -= out.len() - before;
    }

    /// When the earliest stream is due; `None` when none is waiting.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        if self.len == 0 {
            return None;
        }
        let at = |n: u64| self.origin + Duration::from_nanos(n);
        for k in 0..SLOTS {
            let tick = self.cursor + k;
            // An entry pushed for the past sits at the cursor's tick.
            let in_round = |&&(due, _): &&(u64, u32)| (due / SLOT_NANOS).max(self.cursor) == tick;
            if let Some(&(due, _)) = self.slots[(tick % SLOTS) as usize]
                .iter()
                .filter(in_round)
                .min()
            {
                return Some(at(due));
            }
        }
        // Nothing within a round: the earliest of the later rounds.
        self.slots
            .iter()
            .flatten()
            .map(|&(due, _)| due)
            .min()
            .map(at)
    }

    /// Whether nothing waits.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Entries come out at their tick and never before their time, in
    /// this round or rounds later, and the next due time is the earliest.
    #[test]
    fn entries_come_out_when_due_and_never_before() {
        let t0 = Instant::now();
        let mut wheel = Wheel::new(t0);
        wheel.push(t0 + ms(5) + Duration::from_micros(300), 1);
        wheel.push(t0 + ms(3), 2);
        wheel.push(t0 + ms(3000), 3); // three rounds on
        wheel.push(t0 + ms(1024 + 3), 4); // the same slot as 2, a round on
        assert_eq!(wheel.next_due(), Some(t0 + ms(3)));
        let mut out = Vec::new();
        wheel.pop_due(t0 + ms(2), &mut out);
        assert!(out.is_empty());
        wheel.pop_due(t0 + ms(3), &mut out);
        assert_eq!(out, [2]);
        // 1 is due at 5.3 ms: not at 5.2 ms, at 5.3.
        let due = t0 + ms(5) + Duration::from_micros(300);
        wheel.pop_due(due - Duration::from_micros(100), &mut out);
        assert_eq!(out, [2]);
        assert_eq!(wheel.next_due(), Some(due));
        wheel.pop_due(due, &mut out);
        assert_eq!(out, [2, 1]);
        assert_eq!(wheel.next_due(), Some(t0 + ms(1027)));
        assert_eq!(out, [2, 1]);
        wheel.pop_due(t0 + ms(1026), &mut out);
        assert_eq!(out, [2, 1]);
        // A long sleep passes more than a round: all that is due comes out.
        wheel.pop_due(t0 + ms(5000), &mut out);
        assert_eq!(out, [2, 1, 4, 3]);
        assert!(wheel.is_empty());
        assert_eq!(wheel.next_due(), None);
    }

    /// Nothing comes out before the origin, not even what is due at it.
    #[test]
    fn nothing_is_due_before_the_origin() {
        let t0 = Instant::now() + ms(50);
        let mut wheel = Wheel::new(t0);
        wheel.push(t0, 1);
        let mut out = Vec::new();
        wheel.pop_due(t0 - ms(10), &mut out);
        assert!(out.is_empty());
        assert_eq!(wheel.next_due(), Some(t0));
        wheel.pop_due(t0, &mut out);
        assert_eq!(out, [1]);
    }

    /// What is pushed for a time already past comes out at the next pop.
    #[test]
    fn the_past_is_due_at_once() {
        let t0 = Instant::now();
        let mut wheel = Wheel::new(t0);
        let mut out = Vec::new();
        wheel.pop_due(t0 + ms(10), &mut out);
        wheel.push(t0 + ms(1), 7);
        assert_eq!(wheel.next_due(), Some(t0 + ms(1)));
        wheel.pop_due(t0 + ms(10), &mut out);
        assert_eq!(out, [7]);
    }
}
