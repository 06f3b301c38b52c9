//! The viewer's memory budget ([`Config::memory_limit`] and
//! [`Config::max_token_bytes`]): the bytes every trace's values hold,
//! counted as they change, and the points dropped to stay within it.
//!
//! What is counted is each value's slot (8 bytes for a packed number, a
//! `serde_json::Value` for anything else) and what it owns: a string's
//! bytes, an array's or object's contents. Not counted: the rings' spare
//! capacity (at most as much again as their slots, since they grow by
//! doubling and shrink when points are dropped), the allocator's overhead,
//! and everything that is not a point (figures' templates and layouts,
//! bounded by `max_figure_bytes`, and the subscribers' backlogs, bounded by
//! `subscriber_backlog_bytes`).
//!
//! [`Config::memory_limit`]: crate::Config::memory_limit
//! [`Config::max_token_bytes`]: crate::Config::max_token_bytes

use std::mem::size_of;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use serde_json::Value;

/// The bytes `v` owns beyond its own slot: a walk with a stack of its
/// own, never recursion (the value's depth is its sender's choice).
pub(crate) fn heap_bytes(v: &Value) -> usize {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(s) => s.capacity(),
        Value::Array(_) | Value::Object(_) => {
            let mut total = 0;
            let mut stack = vec![v];
            while let Some(v) = stack.pop() {
                match v {
                    Value::String(s) => total += s.capacity(),
                    Value::Array(a) => {
                        total += a.capacity() * size_of::<Value>();
                        stack.extend(a);
                    }
                    Value::Object(m) => {
                        // A map entry: its key, its value's slot, and about
                        // three words of the map's own per entry.
                        for (k, v) in m {
                            total += k.capacity() + size_of::<Value>() + 3 * size_of::<usize>();
                            stack.push(v);
                        }
                    }
                    Value::Null | Value::Bool(_) | Value::Number(_) => {}
                }
            }
            total
        }
    }
}

/// The budget and what it holds now.
#[derive(Debug)]
pub(crate) struct Memory {
    /// Every trace's bytes together may not pass this for long.
    pub(crate) limit: usize,
    /// One token's traces may not pass this (shared among the figures it feeds).
    pub(crate) per_token: usize,
    used: AtomicUsize,
    dropped: AtomicU64,
    /// Set when dropping every old point still left the viewer over its
    /// limit: then writes are refused until something is freed.
    full: AtomicBool,
    /// Held while points are dropped for the limit: one writer does it.
    dropping: Mutex<()>,
}

impl Memory {
    pub(crate) fn new(limit: usize, per_token: usize) -> Self {
        Memory {
            limit,
            per_token,
            used: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            full: AtomicBool::new(false),
            dropping: Mutex::new(()),
        }
    }

    /// Notes that traces went from `before` to `after` bytes.
    pub(crate) fn changed(&self, before: usize, after: usize) {
        if after >= before {
            self.used.fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.used.fetch_sub(before - after, Ordering::Relaxed);
        }
    }

    /// Notes points dropped to stay within the budget.
    pub(crate) fn note_dropped(&self, points: u64) {
        self.dropped.fetch_add(points, Ordering::Relaxed);
    }

    /// The bytes every trace holds now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Points dropped to stay within the budget since the viewer started.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// How many bytes to free now, if the viewer is over its limit: down to
    /// 1/64 below it, so that the next writes do not each start a round.
    pub(crate) fn excess(&self) -> Option<usize> {
        let used = self.used();
        (used > self.limit).then(|| used - self.limit + self.limit / 64)
    }

    /// The bytes a token may hold in each of the `figures` it feeds, and how
    /// many to free when its traces there hold `held`.
    pub(crate) fn token_excess(&self, held: usize, figures: usize) -> Option<usize> {
        let cap = self.per_token / figures.max(1);
        (held > cap).then(|| held - cap + cap / 64)
    }

    /// Whether the viewer is over its limit with nothing old left to drop.
    pub(crate) fn is_full(&self) -> bool {
        self.full.load(Ordering::Relaxed)
    }

    pub(crate) fn set_full(&self, full: bool) {
        self.full.store(full, Ordering::Relaxed);
    }

    /// The right to drop points for the limit, unless another holds it.
    pub(crate) fn try_drop(&self) -> Option<std::sync::MutexGuard<'_, ()>> {
        self.dropping.try_lock().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_value_owns_its_strings_and_contents() {
        assert_eq!(heap_bytes(&json!(1.5)), 0);
        assert_eq!(heap_bytes(&Value::String("x".repeat(1000))), 1000);
        let arr = json!(["ab", "cd"]);
        let Value::Array(a) = &arr else {
            unreachable!("an array")
        };
        assert_eq!(heap_bytes(&arr), a.capacity() * size_of::<Value>() + 4);
        let obj = json!({"key": "value"});
        assert_eq!(
            heap_bytes(&obj),
            3 + 5 + size_of::<Value>() + 3 * size_of::<usize>()
        );
    }

    #[test]
    fn a_deep_value_is_walked_without_recursion() {
        let mut v = json!("leaf");
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(heap_bytes(&v), 100_000 * size_of::<Value>() + 4);
        // Taken apart level by level: serde_json's drop would recurse.
        while let Value::Array(mut a) = v {
            v = a.pop().unwrap_or(Value::Null);
        }
    }

    #[test]
    fn over_the_limit_it_asks_for_a_little_more_than_the_excess() {
        let m = Memory::new(6400, 640);
        m.changed(0, 6400);
        assert_eq!(m.excess(), None);
        m.changed(6400, 6500);
        assert_eq!(m.excess(), Some(200));
        m.changed(6500, 100);
        assert_eq!(m.used(), 100);
        assert_eq!(m.token_excess(640, 1), None);
        assert_eq!(m.token_excess(641, 1), Some(11));
        assert_eq!(m.token_excess(321, 2), Some(6));
    }
}
