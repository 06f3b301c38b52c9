//! [`Schedule`]: when each write of each stream is due (open loop).

use std::time::Duration;

use tokio::time::Instant;

/// When each write of each stream is due.
#[derive(Debug)]
pub(crate) struct Schedule {
    pub(crate) t0: Instant,
    pub(crate) ramp: Duration,
    pub(crate) streams: usize,
    pub(crate) rate: f64,
}

impl Schedule {
    /// A schedule starting now, for tests.
    #[cfg(test)]
    pub(crate) fn for_test() -> Self {
        Schedule {
            t0: Instant::now(),
            ramp: Duration::ZERO,
            streams: 1,
            rate: 1.0,
        }
    }

    /// When stream `position` (of this run's streams) starts.
    pub(crate) fn start(&self, position: usize) -> Instant {
        #[allow(clippy::cast_precision_loss)]
        let share = position as f64 / self.streams.max(1) as f64;
        self.t0 + self.ramp.mul_f64(share)
    }

    /// When write `seq` of stream `position` is due.
    pub(crate) fn intended(&self, position: usize, seq: u64) -> Instant {
        #[allow(clippy::cast_precision_loss)]
        let offset = Duration::from_secs_f64(seq as f64 / self.rate);
        self.start(position) + offset
    }
}
