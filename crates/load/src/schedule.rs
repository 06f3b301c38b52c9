//! [`Schedule`]: when each write of each stream is due (open loop).
//!
//! Stream `i` starts at its share of the ramp, then at its own phase within
//! one write period: the phases are spread evenly over the period from a
//! seeded random offset (the golden-ratio sequence), so that N streams of
//! R writes a second arrive as an even N·R a second, not as a herd of N
//! every 1/R (`--in-phase` keeps the herd, for those who want it).

use std::time::Duration;

use tokio::time::Instant;

/// The golden ratio's fractional part: consecutive multiples of it mod 1
/// fill the unit interval as evenly as any sequence can.
const GOLDEN: f64 = 0.618_033_988_749_894_8;

/// How each stream's writes are spaced in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Arrivals {
    /// Evenly: write k at k/R after the stream's start (and phase).
    Constant,
    /// A Poisson process of rate R per stream (exponential gaps, seeded),
    /// so the aggregate is a Poisson process of rate N·R.
    Poisson,
}

/// When each write of each stream is due.
#[derive(Debug)]
pub(crate) struct Schedule {
    pub(crate) t0: Instant,
    pub(crate) ramp: Duration,
    pub(crate) streams: usize,
    pub(crate) rate: f64,
    /// Where in the period the phases start, in [0, 1); `None`: all in phase.
    pub(crate) phase_offset: Option<f64>,
    pub(crate) arrivals: Arrivals,
    /// Seeds each stream's arrivals (stream `i` draws from `seed + i`).
    pub(crate) seed: u64,
}

/// One stream's due times, write after write. Times are generated in order
/// (a seeded process), so a reader asks for sequence numbers that do not go
/// down; asking for an earlier one starts the stream over.
#[derive(Debug, Clone)]
pub(crate) struct Times {
    start: Instant,
    rate: f64,
    arrivals: Arrivals,
    seed: u64,
    /// The state of the stream's generator (splitmix64).
    state: u64,
    /// The next sequence number and its offset from `start`, s.
    next: u64,
    offset: f64,
}

impl Times {
    fn new(start: Instant, rate: f64, arrivals: Arrivals, seed: u64) -> Self {
        let mut t = Times {
            start,
            rate,
            arrivals,
            seed,
            state: seed,
            next: 0,
            offset: 0.0,
        };
        t.offset = t.gap_before_first();
        t
    }

    /// A uniform number in (0, 1].
    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        #[allow(clippy::cast_precision_loss)]
        let u = ((z >> 11) + 1) as f64 / (1u64 << 53) as f64;
        u
    }

    fn gap(&mut self) -> f64 {
        match self.arrivals {
            Arrivals::Constant => 1.0 / self.rate,
            Arrivals::Poisson => -self.uniform().ln() / self.rate,
        }
    }

    /// A Poisson stream is already running when it starts (memoryless: the
    /// wait for its first write is one gap); an even one writes at once.
    fn gap_before_first(&mut self) -> f64 {
        match self.arrivals {
            Arrivals::Constant => 0.0,
            Arrivals::Poisson => self.gap(),
        }
    }

    /// When write `seq` is due.
    pub(crate) fn at(&mut self, seq: u64) -> Instant {
        if self.arrivals == Arrivals::Constant {
            #[allow(clippy::cast_precision_loss)]
            return self.start + Duration::from_secs_f64(seq as f64 / self.rate);
        }
        if seq < self.next {
            *self = Times::new(self.start, self.rate, self.arrivals, self.seed);
        }
        while self.next < seq {
            self.offset += self.gap();
            self.next += 1;
        }
        self.start + Duration::from_secs_f64(self.offset)
    }
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
            phase_offset: None,
            arrivals: Arrivals::Constant,
            seed: 0,
        }
    }

    /// Stream `position`'s due times.
    pub(crate) fn times(&self, position: usize) -> Times {
        Times::new(
            self.start(position),
            self.rate,
            self.arrivals,
            self.seed.wrapping_add(position as u64),
        )
    }

    /// The phase offset drawn from `seed`, in [0, 1) (splitmix64).
    pub(crate) fn offset_from_seed(seed: u64) -> f64 {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        #[allow(clippy::cast_precision_loss)]
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
        unit
    }

    /// When stream `position` (of this run's streams) starts: its share of
    /// the ramp, then its phase.
    pub(crate) fn start(&self, position: usize) -> Instant {
        #[allow(clippy::cast_precision_loss)]
        let share = position as f64 / self.streams.max(1) as f64;
        let phase = match self.phase_offset {
            #[allow(clippy::cast_precision_loss)]
            Some(u) => (u + position as f64 * GOLDEN).fract() / self.rate,
            None => 0.0,
        };
        self.t0 + self.ramp.mul_f64(share) + Duration::from_secs_f64(phase)
    }

    /// How long after `t0` the last stream starts.
    pub(crate) fn last_start(&self) -> Duration {
        (0..self.streams)
            .map(|p| self.start(p) - self.t0)
            .max()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index of dispersion (variance over mean) of the writes per
    /// 10 ms slot, over the run's steady part.
    fn dispersion(s: &Schedule, writes: u64) -> f64 {
        let slot = Duration::from_millis(10);
        let mut counts = vec![0u64; 3000];
        for p in 0..s.streams {
            let mut times = s.times(p);
            for seq in 0..writes {
                let i = ((times.at(seq) - s.t0).as_nanos() / slot.as_nanos()) as usize;
                if let Some(c) = counts.get_mut(i) {
                    *c += 1;
                }
            }
        }
        // Leave out the first and last periods, where streams start and end.
        let steady = &counts[5..1995];
        let n = steady.len() as f64;
        let mean = steady.iter().sum::<u64>() as f64 / n;
        let var = steady
            .iter()
            .map(|&c| (c as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        var / mean
    }

    /// 100 streams × 20 writes/s for 20 s, counted in 10 ms slots (the
    /// measurement of the issue). In phase, all 100 land in one slot of
    /// every 5: counts of 100, 0, 0, 0, 0 (mean 20, variance 1,600),
    /// dispersion 80, a herd. Phases spread by the golden-ratio sequence put
    /// 20 ± 1 in every slot: dispersion near 0, where independent random
    /// phases would give about 0.8 (a Binomial(100, 0.2) count per slot)
    /// and a Poisson process 1.
    #[test]
    fn spread_phases_make_an_even_aggregate_and_in_phase_a_herd() {
        let t0 = Instant::now();
        let make = |phase_offset| Schedule {
            t0,
            ramp: Duration::ZERO,
            streams: 100,
            rate: 20.0,
            phase_offset,
            arrivals: Arrivals::Constant,
            seed: 0,
        };
        let herd = dispersion(&make(None), 400);
        assert!(herd > 50.0, "in phase: {herd}");
        for seed in 0..5 {
            let even = dispersion(&make(Some(Schedule::offset_from_seed(seed))), 400);
            assert!(even < 0.1, "seed {seed}: {even}");
        }
    }

    #[test]
    fn phases_stay_within_one_period_and_follow_the_seed() {
        let t0 = Instant::now();
        let s = Schedule {
            t0,
            ramp: Duration::ZERO,
            streams: 1000,
            rate: 4.0,
            phase_offset: Some(Schedule::offset_from_seed(7)),
            arrivals: Arrivals::Constant,
            seed: 7,
        };
        assert!(s.last_start() < Duration::from_millis(250));
        assert_eq!(Schedule::offset_from_seed(7), Schedule::offset_from_seed(7));
        assert_ne!(Schedule::offset_from_seed(7), Schedule::offset_from_seed(8));
    }

    /// 100 Poisson streams of 20 writes/s: the aggregate is a Poisson
    /// process of 2,000/s, so a 10 ms slot holds a Poisson(20) count, whose
    /// variance equals its mean: dispersion 1. Over the 1,990 steady slots
    /// the sample dispersion has a standard error of about sqrt(2/1989) =
    /// 0.032; the test takes 1 ± 0.15 (more than 4 standard errors), for
    /// each of five seeds.
    #[test]
    fn poisson_arrivals_have_a_dispersion_of_one() {
        let t0 = Instant::now();
        for seed in 0..5 {
            let s = Schedule {
                t0,
                ramp: Duration::ZERO,
                streams: 100,
                rate: 20.0,
                phase_offset: None,
                arrivals: Arrivals::Poisson,
                seed: seed * 1000,
            };
            // Enough writes that every stream outlasts the 20 s counted.
            let d = dispersion(&s, 600);
            assert!((d - 1.0).abs() < 0.15, "seed {seed}: {d}");
        }
    }

    #[test]
    fn times_are_the_same_however_they_are_asked_for() {
        let s = Schedule {
            arrivals: Arrivals::Poisson,
            seed: 3,
            ..Schedule::for_test()
        };
        let mut a = s.times(0);
        let in_order: Vec<Instant> = (0..50).map(|k| a.at(k)).collect();
        let mut b = s.times(0);
        assert_eq!(b.at(49), in_order[49], "skipping ahead");
        assert_eq!(b.at(10), in_order[10], "going back starts over");
        assert!(in_order.windows(2).all(|w| w[0] <= w[1]), "in order");
    }
}
