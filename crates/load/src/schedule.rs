//! [`Schedule`]: when each write of each stream is due (open loop).
//!
//! Stream `i` starts at its share of the ramp, then at its own phase within
//! one write period: the phases are spread evenly over the period from a
//! seeded random offset (the golden-ratio sequence), so that N streams of
//! R writes a second arrive as an even N·R a second, not as a herd of N
//! every 1/R (`--in-phase` keeps the herd, for those who want it).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::Shard;
use crate::stages::Stages;

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
    /// A Poisson–Pareto burst process per stream: bursts arrive as a
    /// Poisson process (one a second), last Pareto times of shape 3 − 2H
    /// (mean 1 s) and write at R while active; the mean is R, the aggregate
    /// self-similar with Hurst exponent H.
    Ppbp,
    /// ON/OFF per stream: Pareto ON and OFF periods of shape 3 − 2H (mean
    /// 1 s each), writing at 2R while ON; the mean is R, and the sum of many
    /// such streams is self-similar with Hurst exponent H.
    Onoff,
}

/// The mean length of a burst (ppbp) and of an ON or OFF period (onoff), s.
const MEAN_PERIOD: f64 = 1.0;

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
    /// The Hurst exponent of the ppbp and onoff arrivals, in (0.5, 1).
    pub(crate) hurst: f64,
    /// This run's shard: its stream at position p is stream
    /// `index + p × count` of the test (for phases, seeds and stages).
    pub(crate) shard: Shard,
    /// `--stages`: the open streams over time (from 0).
    pub(crate) stages: Option<Arc<Stages>>,
    /// `--rate-stages`: each stream's rate over time (from `rate`).
    pub(crate) rate_stages: Option<Arc<Stages>>,
    /// `--churn`: each stream closes and reopens this often.
    pub(crate) churn: Option<Duration>,
    /// Unstaged runs: how long each stream writes, from its start.
    pub(crate) duration: Duration,
}

/// One of a stream's connections: open from the first instant to the second.
pub(crate) type Epoch = (Instant, Instant);

/// One stream's arrival process: the offsets of its writes from its start,
/// write after write. They are generated in order (a seeded process), so a
/// reader asks for sequence numbers that do not go down; asking for an
/// earlier one starts the process over.
#[derive(Debug, Clone)]
struct Process {
    rate: f64,
    arrivals: Arrivals,
    seed: u64,
    /// The state of the stream's generator (splitmix64).
    state: u64,
    /// The next sequence number and its offset from `start`, s.
    next: u64,
    offset: f64,
    /// The Pareto shape 3 − 2H of bursts and periods.
    alpha: f64,
    /// ppbp: the active bursts as (next write, end), earliest next first;
    /// and when the next burst arrives.
    bursts: std::collections::BinaryHeap<std::cmp::Reverse<(Nanos, Nanos)>>,
    next_burst: f64,
    /// onoff: whether the stream is ON, and when that period ends.
    on: bool,
    period_end: f64,
}

/// A time in ns after a stream's start, for ordering bursts.
type Nanos = u64;

fn nanos(s: f64) -> Nanos {
    (s * 1e9) as Nanos
}

fn secs(n: Nanos) -> f64 {
    n as f64 / 1e9
}

impl Process {
    fn new(rate: f64, arrivals: Arrivals, seed: u64, hurst: f64) -> Self {
        let mut t = Process {
            rate,
            arrivals,
            seed,
            state: seed,
            next: 0,
            offset: 0.0,
            alpha: 3.0 - 2.0 * hurst,
            bursts: std::collections::BinaryHeap::new(),
            next_burst: 0.0,
            on: false,
            period_end: 0.0,
        };
        t.begin();
        t
    }

    /// Puts the stream in its state at its start, and the first write's time
    /// in `offset`. The bursty processes start stationary, as if they had
    /// been running for ever: Poisson(λμ) bursts already active (ppbp), ON
    /// with probability ½ (onoff), each with a residual life drawn from the
    /// equilibrium distribution of the Pareto lengths.
    fn begin(&mut self) {
        match self.arrivals {
            Arrivals::Constant => self.offset = 0.0,
            Arrivals::Poisson => self.offset = self.gap(),
            Arrivals::Ppbp => {
                // λμ = 1 burst active on average.
                let active = self.poisson_count(1.0);
                // Each burst writes at a random point of its period first,
                // so that a burst of length D gives D·R writes on average.
                let period = 1.0 / self.rate;
                for _ in 0..active {
                    let end = self.residual();
                    let first = self.uniform() * period;
                    self.bursts
                        .push(std::cmp::Reverse((nanos(first), nanos(end))));
                }
                self.next_burst = self.exponential(1.0 / MEAN_PERIOD);
                self.offset = self.next_ppbp();
            }
            Arrivals::Onoff => {
                self.on = self.uniform() < 0.5;
                self.period_end = self.residual();
                let first = self.uniform() / (2.0 * self.rate);
                self.offset = self.next_onoff(None).max(first);
            }
        }
    }

    fn exponential(&mut self, rate: f64) -> f64 {
        -self.uniform().ln() / rate
    }

    /// A Poisson count of mean `mean` (by inversion; small means only).
    fn poisson_count(&mut self, mean: f64) -> u32 {
        let u = self.uniform();
        let (mut k, mut p) = (0u32, (-mean).exp());
        let mut cdf = p;
        while u > cdf && k < 1000 {
            k += 1;
            p *= mean / f64::from(k);
            cdf += p;
        }
        k
    }

    /// A Pareto length of shape α and mean [`MEAN_PERIOD`].
    fn pareto(&mut self) -> f64 {
        let scale = MEAN_PERIOD * (self.alpha - 1.0) / self.alpha;
        scale / self.uniform().powf(1.0 / self.alpha)
    }

    /// The residual life of a Pareto length seen at a random time: the
    /// inverse of the equilibrium distribution F_e(x) = (1/μ)∫₀ˣ(1 − F).
    fn residual(&mut self) -> f64 {
        let (a, mu) = (self.alpha, MEAN_PERIOD);
        let xm = mu * (a - 1.0) / a;
        let u = self.uniform();
        if u * mu <= xm {
            u * mu
        } else {
            let inner = 1.0 - (u * mu - xm) * (a - 1.0) / xm;
            xm / inner.max(f64::MIN_POSITIVE).powf(1.0 / (a - 1.0))
        }
    }

    /// ppbp: the next write of any active burst, letting bursts arrive and
    /// end on the way.
    fn next_ppbp(&mut self) -> f64 {
        let period = nanos(1.0 / self.rate).max(1);
        loop {
            let arrival = nanos(self.next_burst);
            match self.bursts.peek() {
                Some(&std::cmp::Reverse((at, _))) if at < arrival => {
                    let Some(std::cmp::Reverse((at, end))) = self.bursts.pop() else {
                        continue;
                    };
                    if at + period < end {
                        self.bursts.push(std::cmp::Reverse((at + period, end)));
                    }
                    if at < end {
                        return secs(at);
                    }
                }
                _ => {
                    let length = self.pareto();
                    let first = arrival + nanos(self.uniform() / self.rate);
                    self.bursts
                        .push(std::cmp::Reverse((first, arrival + nanos(length))));
                    self.next_burst += self.exponential(1.0 / MEAN_PERIOD);
                }
            }
        }
    }

    /// onoff: the write after `last` (or the first one), ON at 2R.
    fn next_onoff(&mut self, last: Option<f64>) -> f64 {
        let gap = 1.0 / (2.0 * self.rate);
        let mut candidate = last.map_or(0.0, |t| t + gap);
        loop {
            if self.on && candidate < self.period_end {
                return candidate;
            }
            // The period is over: the next one starts at its end.
            let end = self.period_end;
            self.on = !self.on;
            self.period_end = end + self.pareto();
            if self.on {
                // A random point of the first write period, as for bursts.
                candidate = candidate.max(end + self.uniform() * gap);
            }
        }
    }

    /// A uniform number in (0, 1].
    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// A Poisson stream is already running when it starts (memoryless: the
    /// wait for its first write is one gap, as between any two).
    fn gap(&mut self) -> f64 {
        self.exponential(self.rate)
    }

    /// The offset of the write after the current one.
    fn advance(&mut self) -> f64 {
        match self.arrivals {
            Arrivals::Constant => self.offset + 1.0 / self.rate,
            Arrivals::Poisson => self.offset + self.gap(),
            Arrivals::Ppbp => self.next_ppbp(),
            Arrivals::Onoff => self.next_onoff(Some(self.offset)),
        }
    }

    /// The offset (s) of write `seq` from the stream's start.
    fn offset_of(&mut self, seq: u64) -> f64 {
        if self.arrivals == Arrivals::Constant {
            return seq as f64 / self.rate;
        }
        if seq < self.next {
            let hurst = (3.0 - self.alpha) / 2.0;
            *self = Process::new(self.rate, self.arrivals, self.seed, hurst);
        }
        while self.next < seq {
            self.offset = self.advance();
            self.next += 1;
        }
        self.offset
    }
}

/// When a stream may write: its arrival process runs in *nominal* time (as
/// if the rate were `--rate` throughout), which `--rate-stages` warps into
/// wall time (write k is due when ∫ rate reaches k), and only the writes
/// that fall while the stream is open (its duration, or `--stages`, and
/// before the run's end) are sent.
#[derive(Debug, Clone)]
struct Window {
    /// The stream's nominal start after the run's t0, s.
    nominal_start: f64,
    /// `--rate`, the rate of nominal time.
    rate: f64,
    warp: Option<Arc<Stages>>,
    /// The times the stream is open, s after t0, sorted.
    open: Arc<[(f64, f64)]>,
}

/// One stream's due times: `at(k)` is when its k-th write is due.
#[derive(Debug, Clone)]
pub(crate) struct Times {
    t0: Instant,
    process: Process,
    window: Window,
    /// The raw writes of the process looked at, the writes kept,
    /// the last kept one's time (s after t0), the open interval reached,
    /// and whether the stream has no more writes.
    raw: u64,
    kept: u64,
    last: f64,
    interval: usize,
    done: bool,
}

impl Times {
    /// When write `seq` is due; `None` when the stream has no such write.
    pub(crate) fn at(&mut self, seq: u64) -> Option<Instant> {
        let window = &self.window;
        if seq + 1 < self.kept {
            // Asked for an earlier write: start over.
            (self.raw, self.kept, self.interval, self.done) = (0, 0, 0, false);
        }
        while self.kept <= seq && !self.done {
            let offset = self.process.offset_of(self.raw);
            self.raw += 1;
            let nominal = window.nominal_start + offset;
            let wall = match &window.warp {
                Some(stages) => stages.inverse_integral(nominal * window.rate),
                None => Some(nominal),
            };
            let Some(wall) = wall else {
                self.done = true;
                break;
            };
            // A write due at the very end of an interval is not in it (to
            // within rounding: rate × duration writes, not one more).
            while window
                .open
                .get(self.interval)
                .is_some_and(|o| o.1 <= wall + 1e-9)
            {
                self.interval += 1;
            }
            match window.open.get(self.interval) {
                None => self.done = true,
                Some(&(from, _)) if wall >= from => {
                    self.last = wall;
                    self.kept += 1;
                }
                Some(_) => {}
            }
        }
        (self.kept > seq).then(|| self.t0 + Duration::from_secs_f64(self.last))
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
            hurst: 0.8,
            shard: Shard { index: 0, count: 1 },
            stages: None,
            rate_stages: None,
            churn: None,
            duration: Duration::from_secs(86_400),
        }
    }

    /// The index in the whole test (all shards) of this run's stream at
    /// `position`.
    pub(crate) fn index(&self, position: usize) -> u64 {
        self.shard.index + position as u64 * self.shard.count
    }

    /// Whether the stages set when streams are open and when the run ends
    /// (rather than each stream's duration).
    pub(crate) fn staged(&self) -> bool {
        self.stages.is_some() || self.rate_stages.is_some()
    }

    /// How long a staged run lasts after t0: the longer of its stages.
    pub(crate) fn end(&self) -> Option<Duration> {
        [&self.stages, &self.rate_stages]
            .into_iter()
            .flatten()
            .map(|s| s.total())
            .max()
    }

    /// When stream `position` is open, s after t0: while `--stages` asks
    /// for more streams than its index, else from its start; until the
    /// run's end, or for its duration.
    pub(crate) fn open(&self, position: usize) -> Vec<(f64, f64)> {
        let end = self.end().map(|d| d.as_secs_f64());
        match &self.stages {
            Some(stages) => stages
                .at_least(self.index(position) as f64 + 1.0)
                .into_iter()
                .map(|(a, b)| (a, end.map_or(b, |e| b.min(e))))
                .collect(),
            None => {
                let start = (self.start(position) - self.t0).as_secs_f64();
                vec![(start, end.unwrap_or(start + self.duration.as_secs_f64()))]
            }
        }
    }

    /// Stream `position`'s due times.
    pub(crate) fn times(&self, position: usize) -> Times {
        let window = Window {
            nominal_start: (self.start(position) - self.t0).as_secs_f64(),
            rate: self.rate,
            warp: self.rate_stages.clone(),
            open: self.open(position).into(),
        };
        Times {
            t0: self.t0,
            process: Process::new(
                self.rate,
                self.arrivals,
                self.seed.wrapping_add(self.index(position)),
                self.hurst,
            ),
            window,
            raw: 0,
            kept: 0,
            last: 0.0,
            interval: 0,
            done: false,
        }
    }

    /// Stream `position`'s connections, in order: one for each time it is
    /// open, cut every `--churn` (at its own phase of the churn period, so
    /// that the streams reconnect spread out, not all at once).
    pub(crate) fn epochs(&self, position: usize) -> impl Iterator<Item = Epoch> + use<> {
        let churn = self.churn.map(|d| {
            let d = d.as_secs_f64();
            let phase = (Schedule::offset_from_seed(self.seed.wrapping_add(1))
                + self.index(position) as f64 * GOLDEN)
                .fract();
            (d, phase * d)
        });
        let t0 = self.t0;
        let mut open = self.open(position).into_iter();
        let mut current = open.next();
        std::iter::from_fn(move || {
            let (from, to) = current?;
            // The next cut after `from` (more than 1 ms after: no empty
            // connections).
            let cut = churn.map(|(d, phase)| {
                let k = ((from - phase + 1e-3) / d).floor() + 1.0;
                phase + k * d
            });
            let until = cut.filter(|&c| c < to).unwrap_or(to);
            current = if until < to {
                Some((until, to))
            } else {
                open.next()
            };
            let at = |s: f64| t0 + Duration::from_secs_f64(s.max(0.0));
            Some((at(from), at(until)))
        })
    }

    /// The phase offset drawn from `seed`, in [0, 1) (splitmix64).
    pub(crate) fn offset_from_seed(seed: u64) -> f64 {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// When stream `position` (of this run's streams) starts: its share of
    /// the ramp, then its phase.
    pub(crate) fn start(&self, position: usize) -> Instant {
        let share = position as f64 / self.streams.max(1) as f64;
        let phase = match self.phase_offset {
            Some(u) => (u + self.index(position) as f64 * GOLDEN).fract() / self.rate,
            None => 0.0,
        };
        self.t0 + self.ramp.mul_f64(share) + Duration::from_secs_f64(phase)
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
                let i =
                    ((times.at(seq).expect("due") - s.t0).as_nanos() / slot.as_nanos()) as usize;
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
            streams: 100,
            rate: 20.0,
            phase_offset,
            ..Schedule::for_test()
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
            streams: 1000,
            rate: 4.0,
            phase_offset: Some(Schedule::offset_from_seed(7)),
            seed: 7,
            ..Schedule::for_test()
        };
        let last_start = (0..s.streams).map(|p| s.start(p) - t0).max();
        assert!(last_start < Some(Duration::from_millis(250)));
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
                streams: 100,
                rate: 20.0,
                arrivals: Arrivals::Poisson,
                seed: seed * 1000,
                ..Schedule::for_test()
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
        let in_order: Vec<Instant> = (0..50).map(|k| a.at(k).expect("due")).collect();
        let mut b = s.times(0);
        assert_eq!(b.at(49).expect("due"), in_order[49], "skipping ahead");
        assert_eq!(
            b.at(10).expect("due"),
            in_order[10],
            "going back starts over"
        );
        assert!(in_order.windows(2).all(|w| w[0] <= w[1]), "in order");
    }

    /// Counts of the writes of `streams` streams per 100 ms slot over
    /// `seconds`, after a warm-up of 10 s.
    fn bursty_counts(arrivals: Arrivals, hurst: f64, seed: u64, seconds: usize) -> Vec<f64> {
        let t0 = Instant::now();
        let s = Schedule {
            t0,
            streams: 20,
            rate: 20.0,
            arrivals,
            seed,
            hurst,
            ..Schedule::for_test()
        };
        let slots = seconds * 10;
        let mut counts = vec![0.0; slots];
        for p in 0..s.streams {
            let mut times = s.times(p);
            let mut seq = 0;
            loop {
                let at = (times.at(seq).expect("due") - t0).as_secs_f64();
                seq += 1;
                let slot = ((at - 10.0) * 10.0).floor() as isize;
                if slot >= slots as isize {
                    break;
                }
                if slot >= 0 {
                    counts[slot as usize] += 1.0;
                }
            }
        }
        counts
    }

    /// Bursty arrivals keep the mean rate and have the Hurst exponent asked
    /// for. 20 streams × 20 writes/s over 5,000 s (after a 10 s warm-up;
    /// they start stationary anyway), in 100 ms slots, averaged over 3
    /// seeds. Blocks from 60 slots (6 s, twenty times the shortest burst or
    /// period, x_m = μ(α−1)/α = 0.29 s at H = 0.8) to 1,000 slots (100 s,
    /// leaving 50 blocks for the largest size's variance), as the ppbp
    /// crate's tests reason. The mean wanders more than 1/√n because the
    /// process is long-range dependent (its variance falls as n^(2H−2)):
    /// 400 writes/s ± 5%. H within 0.1, as the issue asks. Seen: ppbp 0.740
    /// (H = 0.7) and 0.837 (0.85); onoff 0.791 and 0.852. Sums of ON/OFF
    /// sources reach their asymptotic slope slowest, so at H = 0.7 the
    /// estimate is still 0.09 high at this length: the test holds it, with
    /// little to spare, and says so.
    #[test]
    fn ppbp_and_onoff_arrivals_are_self_similar_with_the_hurst_asked() {
        for arrivals in [Arrivals::Ppbp, Arrivals::Onoff] {
            for hurst in [0.7, 0.85] {
                let (mut h_sum, mut mean_sum) = (0.0, 0.0);
                for seed in 0..3 {
                    let counts = bursty_counts(arrivals, hurst, seed * 77, 5_000);
                    mean_sum += counts.iter().sum::<f64>() / counts.len() as f64 * 10.0;
                    h_sum += plotstream_ppbp::aggregated_variance_hurst(&counts, 60, 1_000)
                        .expect("enough blocks");
                }
                let (h, mean) = (h_sum / 3.0, mean_sum / 3.0);
                assert!(
                    (mean - 400.0).abs() < 20.0,
                    "{arrivals:?} H={hurst}: mean {mean}"
                );
                assert!(
                    (h - hurst).abs() < 0.1,
                    "{arrivals:?} H={hurst}: estimated {h}"
                );
            }
        }
    }

    fn staged(stages: Option<&str>, rate_stages: Option<&str>, churn: Option<f64>) -> Schedule {
        Schedule {
            streams: 20,
            rate: 10.0,
            phase_offset: Some(Schedule::offset_from_seed(5)),
            stages: stages.map(|s| Arc::new(crate::stages::stream_stages(s).expect("stages"))),
            rate_stages: rate_stages
                .map(|s| Arc::new(s.parse::<Stages>().expect("stages").starting_at(10.0))),
            churn: churn.map(Duration::from_secs_f64),
            ..Schedule::for_test()
        }
    }

    /// `--stages`: at each instant, the streams whose connection is open
    /// are as many as the stages ask (rounded down), and every write falls
    /// within its stream's connection.
    #[test]
    fn stages_open_as_many_streams_as_they_ask_and_write_only_then() {
        let s = staged(Some("10s:20,10s:20,5s:5,5s:0"), None, None);
        assert_eq!(s.end(), Some(Duration::from_secs(30)));
        let epochs: Vec<Vec<Epoch>> = (0..20).map(|p| s.epochs(p).collect()).collect();
        for tenth in 0..300 {
            let t = s.t0 + Duration::from_millis(tenth * 100 + 50);
            let open = epochs
                .iter()
                .filter(|e| e.iter().any(|&(a, b)| a <= t && t < b))
                .count();
            let want = s
                .stages
                .as_ref()
                .expect("staged")
                .value((t - s.t0).as_secs_f64());
            assert_eq!(
                open,
                want.floor() as usize,
                "at {:.2} s",
                (t - s.t0).as_secs_f64()
            );
        }
        let mut total = 0;
        for (p, e) in epochs.iter().enumerate() {
            let mut times = s.times(p);
            let mut seq = 0;
            while let Some(due) = times.at(seq) {
                assert!(
                    e.iter().any(|&(a, b)| a <= due && due < b),
                    "stream {p} write {seq}"
                );
                seq += 1;
            }
            total += seq;
        }
        // ∫ floor(s(t)) dt × 10 writes/s: the ramp up holds 0+1+…+19 over
        // 10 s (95 stream-seconds), the plateau 200, the ramps down 62.5
        // and 10: about 3,675 writes, each stream's whole periods only.
        assert!((3_500..=3_800).contains(&total), "{total}");
    }

    /// `--rate-stages`: a stream's writes per second follow the rate as it
    /// ramps, and add up to its integral (10 → 30 over 10 s: 200).
    #[test]
    fn rate_stages_warp_each_stream_s_writes() {
        for arrivals in [Arrivals::Constant, Arrivals::Poisson] {
            let s = Schedule {
                streams: 1,
                arrivals,
                ..staged(None, Some("10s:30"), None)
            };
            let mut times = s.times(0);
            let mut per_second = [0u32; 10];
            let mut seq = 0;
            while let Some(due) = times.at(seq) {
                per_second[(due - s.t0).as_secs() as usize] += 1;
                seq += 1;
            }
            if arrivals == Arrivals::Constant {
                assert!((199..=201).contains(&seq), "{seq}");
                for (i, &n) in per_second.iter().enumerate() {
                    let want = 11.0 + 2.0 * i as f64;
                    assert!((f64::from(n) - want).abs() <= 1.0, "second {i}: {n} writes");
                }
            } else {
                // A Poisson count of mean 200: within 4 standard deviations.
                assert!((143..=257).contains(&seq), "{seq}");
            }
        }
    }

    /// `--churn 2s`: each stream reconnects every 2 s, and the 20 streams
    /// at spread phases: a tenth of them in each 0.2 s.
    #[test]
    fn churn_cuts_each_stream_at_its_own_phase() {
        let s = staged(Some("20s:20,20s:20"), None, Some(2.0));
        let mut cuts = vec![0u32; 200];
        for p in 0..20 {
            let epochs: Vec<Epoch> = s.epochs(p).collect();
            for w in epochs.windows(2) {
                let (end, next) = (w[0].1, w[1].0);
                if end == next {
                    cuts[((end - s.t0).as_millis() / 200) as usize] += 1;
                    assert!(w[0].1 - w[0].0 <= Duration::from_secs(2));
                }
            }
        }
        // On the plateau (20 s to 40 s), 20 reconnects every 2 s, spread
        // as the golden-ratio phases are: 1 to 3 in each 0.2 s slot (2 on
        // average), never a herd.
        for (i, &c) in cuts.iter().enumerate().take(199).skip(101) {
            assert!((1..=3).contains(&c), "slot {i}: {c}");
        }
        for window in cuts[100..200].chunks(10) {
            assert_eq!(window.iter().sum::<u32>(), 20, "{cuts:?}");
        }
        let unstaged = Schedule {
            churn: Some(Duration::from_secs(1)),
            ..Schedule::for_test()
        };
        let first: Vec<Epoch> = unstaged.epochs(0).take(3).collect();
        assert_eq!(
            first.len(),
            3,
            "an unstaged stream churns until its writes end"
        );
        assert!(first.iter().all(|e| e.1 > e.0), "each connection ends");
    }
}
