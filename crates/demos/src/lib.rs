//! plotstream's demos: what each one draws, and the writes it streams.
//!
//! A [`Demo`] is three things: the [`Figure`] it draws into, the
//! `(token, Write)` pairs each frame emits ([`Frame`]), and its frame period
//! in simulated time. Demos are pure: they read no clock (the caller passes
//! one in as a [`Clock`] when x is wall-clock time) and do no I/O, so the same
//! seed gives the same frames. [`DemoKind`] names them and builds them.
//!
//! | demo | simulation | tokens |
//! | --- | --- | --- |
//! | `noisy-cosine` | [`plotstream_cosine`] | one: a scatter trace keeping 80 points, a point every 80 ms |
//! | `gapminder` | [`plotstream_gapminder`] | five, one per continent (`-asia`, `-europe`, `-africa`, `-americas`, `-oceania`), overwritten each frame, a tenth of a year every 100 ms |
//! | `ppbp` | [`plotstream_ppbp`] | two: `-active` (the count each slot) and `-average` (over 100 slots), 1,000 points each, a slot every 10 ms |
//! | `double-pendulum` | [`plotstream_pendulum`] | two: `-rods` (overwritten each frame) and `-trail` (the lower bob, 100 points), a frame every 50 ms |
//!
//! # Example
//!
//! ```
//! use plotstream_demos::{Clock, DemoKind, Frame};
//!
//! let mut demo = DemoKind::NoisyCosine.build(7)?;
//! assert_eq!(demo.tokens(), ["noisy-cosine"]);
//! assert_eq!(demo.figure().data[0].stream.as_ref().map(|s| s.maxpoints()), Some(80));
//!
//! let mut frame = Frame::default();
//! demo.next_frame(Clock::Simulated, &mut frame);
//! demo.next_frame(Clock::Simulated, &mut frame);
//! assert_eq!(frame.index, 1);
//! assert_eq!(frame.t, 0.08);
//! let w = &frame.writes[0];
//! assert_eq!(demo.tokens()[w.token], "noisy-cosine");
//! assert_eq!(w.write.x, Some(plotstream_protocol::Update::append(1)));
//! # Ok::<(), plotstream_demos::Error>(())
//! ```
#![deny(missing_docs)]

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use plotstream_protocol::{Figure, StreamSpec, Trace, Write};

mod cosine;
mod gapminder;
mod lessons;
mod pendulum;
mod ppbp;

pub use cosine::NoisyCosineDemo;
pub use gapminder::{GapminderDemo, XAxis};
pub use lessons::{Lesson, PendulumLessonDemo};
pub use pendulum::{DoublePendulumDemo, Trajectory};
pub use ppbp::{PpbpDemo, PpbpVarianceDemo};

/// A streamed scatter trace for `token` keeping `maxpoints`, drawn in
/// `mode`, named, with empty `x` and `y` to stream into.
pub(crate) fn scatter(token: &str, maxpoints: u64, mode: &str, name: impl Into<String>) -> Trace {
    let mut t = Trace::streamed("scatter", StreamSpec::new(token, maxpoints))
        .with("mode", serde_json::json!(mode))
        .with("x", serde_json::json!([]))
        .with("y", serde_json::json!([]));
    t.name = Some(name.into());
    t
}

/// Appends the last sample, if there is one, as one JSON line.
pub(crate) fn write_last<T: serde::Serialize>(
    last: Option<&T>,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    if let Some(sample) = last {
        plotstream_protocol::encode_line(sample, out)?;
    }
    Ok(())
}

/// What a demo can refuse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A demo name that no demo has.
    #[error("unknown demo {name:?}; the demos are: {}", DemoKind::names().join(", "))]
    UnknownDemo {
        /// The name asked for.
        name: String,
    },
    /// A token prefix that breaks the protocol's token rule.
    #[error("token prefix {prefix:?}: {reason}")]
    TokenPrefix {
        /// The prefix asked for.
        prefix: String,
        /// What is wrong with it.
        #[source]
        reason: plotstream_protocol::TokenError,
    },
    /// The noisy cosine's parameters.
    #[error("noisy cosine")]
    Cosine(#[from] plotstream_cosine::Error),
    /// The double pendulum's parameters or start.
    #[error("double pendulum")]
    Pendulum(#[from] plotstream_pendulum::Error),
    /// The Gapminder data.
    #[error(transparent)]
    Gapminder(#[from] plotstream_gapminder::Error),
    /// The burst process's parameters.
    #[error("ppbp")]
    Ppbp(#[from] plotstream_ppbp::Error),
    /// A sample could not be encoded.
    #[error("cannot encode a sample")]
    Encode(#[from] plotstream_protocol::Error),
}

/// Where a time-series demo takes its x values from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// x is the sample index: tapes stay reproducible.
    Simulated,
    /// x is this wall-clock time, written `YYYY-mm-dd HH:MM:SS.ffffff` as the
    /// Python tutorials did (for demos paced in real time).
    Wall(chrono::NaiveDateTime),
}

/// One write of a frame and the token it goes to.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenWrite {
    /// Index into [`Demo::tokens`].
    pub token: usize,
    /// The write.
    pub write: Write,
}

/// The writes one frame emits. Reuse one `Frame` from frame to frame: its
/// buffer is kept.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Frame {
    /// The frame's number, from 0.
    pub index: u64,
    /// The frame's time in seconds of simulated time: `index × period`.
    pub t: f64,
    /// The writes, in the order they are sent.
    pub writes: Vec<TokenWrite>,
}

impl Frame {
    /// Clears the frame for frame `index` of a demo with the given period.
    pub fn start(&mut self, index: u64, period: Duration) {
        self.index = index;
        // Whole nanoseconds first, so 3 × 80 ms prints as 0.24, not 0.24000000000000002.
        let nanos = u128::from(index) * period.as_nanos();
        let t = nanos as f64 / 1e9;
        self.t = t;
        self.writes.clear();
    }
}

/// A demo: a figure, the writes each frame emits, and a frame period.
pub trait Demo: Send + fmt::Debug {
    /// The demo's name, as the command line spells it.
    fn name(&self) -> &'static str;

    /// The stream tokens the demo writes to; [`TokenWrite::token`] indexes this.
    fn tokens(&self) -> &[String];

    /// The figure the demo draws into, its traces carrying the tokens.
    fn figure(&self) -> Figure;

    /// Simulated time between two frames.
    fn period(&self) -> Duration;

    /// Advances to the next frame (the first call gives frame 0) and fills
    /// `frame` with its writes.
    fn next_frame(&mut self, clock: Clock, frame: &mut Frame);

    /// Appends the raw samples of the last frame to `out`, one JSON object a
    /// line (what `plotstream generate --samples` prints).
    fn write_samples(&self, out: &mut Vec<u8>) -> Result<(), Error>;
}

/// The demos plotstream ships.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum DemoKind {
    /// A beat of two cosines in Gaussian noise, a point every 80 ms.
    NoisyCosine,
    /// A never-ending double pendulum from 120°, −10°, a frame every 50 ms.
    DoublePendulum,
    /// Hans Rosling's bubbles, 1952–2007 and again, a tenth of a year every 100 ms.
    Gapminder,
    /// Poisson–Pareto bursts (λ = 10, H = 0.8, μ = 4): active count and its average, a slot every 10 ms.
    Ppbp,
    /// The pendulum's chaos: two of them 1e-9 rad apart, and their separation with its fitted growth rate.
    PendulumChaos,
    /// The pendulum's energy error under RK4 at a 10 ms step, beside the pendulum.
    PendulumEnergy,
    /// The pendulum's phase portrait (θ1, ω1), beside the pendulum.
    PendulumPhase,
    /// PPBP's self-similarity: the bursts, and their variance–time plot with the fitted H.
    PpbpVariance,
}

impl DemoKind {
    /// Every demo.
    pub const ALL: &'static [DemoKind] = &[
        DemoKind::NoisyCosine,
        DemoKind::DoublePendulum,
        DemoKind::Gapminder,
        DemoKind::Ppbp,
        DemoKind::PendulumChaos,
        DemoKind::PendulumEnergy,
        DemoKind::PendulumPhase,
        DemoKind::PpbpVariance,
    ];

    /// The names of every demo, as the command line spells them.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|d| d.name()).collect()
    }

    /// The demo's name.
    pub fn name(self) -> &'static str {
        match self {
            DemoKind::NoisyCosine => "noisy-cosine",
            DemoKind::DoublePendulum => "double-pendulum",
            DemoKind::Gapminder => "gapminder",
            DemoKind::Ppbp => "ppbp",
            DemoKind::PendulumChaos => "pendulum-chaos",
            DemoKind::PendulumEnergy => "pendulum-energy",
            DemoKind::PendulumPhase => "pendulum-phase",
            DemoKind::PpbpVariance => "ppbp-variance",
        }
    }

    /// Builds the demo with its own name as token prefix.
    pub fn build(self, seed: u64) -> Result<Box<dyn Demo>, Error> {
        self.build_with_prefix(seed, self.name())
    }

    /// Builds the demo with tokens starting with `prefix`: a demo with one
    /// token uses the prefix itself, a demo with several appends `-<part>`.
    pub fn build_with_prefix(self, seed: u64, prefix: &str) -> Result<Box<dyn Demo>, Error> {
        check_token_prefix(prefix)?;
        Ok(match self {
            DemoKind::NoisyCosine => Box::new(NoisyCosineDemo::new(seed, prefix)?),
            // Deterministic: the seed has nothing to draw.
            DemoKind::DoublePendulum => {
                let (theta1, theta2) = DoublePendulumDemo::START_DEGREES;
                Box::new(DoublePendulumDemo::new(prefix, theta1, theta2)?)
            }
            DemoKind::Gapminder => Box::new(GapminderDemo::new(prefix, XAxis::Log)?),
            DemoKind::Ppbp => Box::new(PpbpDemo::new(
                prefix,
                plotstream_ppbp::Params::default(),
                seed,
            )?),
            DemoKind::PendulumChaos => Box::new(PendulumLessonDemo::new(prefix, Lesson::Chaos)?),
            DemoKind::PendulumEnergy => Box::new(PendulumLessonDemo::new(
                prefix,
                Lesson::Energy { dt: 0.01 },
            )?),
            DemoKind::PendulumPhase => Box::new(PendulumLessonDemo::new(prefix, Lesson::Phase)?),
            DemoKind::PpbpVariance => Box::new(PpbpVarianceDemo::new(
                prefix,
                plotstream_ppbp::Params::default(),
                seed,
            )?),
        })
    }
}

impl DemoKind {
    /// A builder of this kind's demos for many streams, which share what
    /// they can: every pendulum stream reads one [`Trajectory`] (they all
    /// start where the demo does), so that a load test of thousands of them
    /// computes one simulation, not one each; Gapminder's streams share the
    /// parsed data.
    ///
    /// ```
    /// use plotstream_demos::{Clock, DemoKind, Frame};
    ///
    /// let many = DemoKind::DoublePendulum.for_many()?;
    /// let (mut a, mut b) = (many.build(0, "a")?, many.build(1, "b")?);
    /// let (mut fa, mut fb) = (Frame::default(), Frame::default());
    /// a.next_frame(Clock::Simulated, &mut fa);
    /// b.next_frame(Clock::Simulated, &mut fb);
    /// assert_eq!(fa.writes[0].write, fb.writes[0].write, "one trajectory");
    /// # Ok::<(), plotstream_demos::Error>(())
    /// ```
    pub fn for_many(self) -> Result<Demos, Error> {
        let shared = match self {
            DemoKind::DoublePendulum => {
                let (theta1, theta2) = DoublePendulumDemo::START_DEGREES;
                Shared::Trajectory(Trajectory::new(theta1, theta2)?)
            }
            DemoKind::Gapminder => {
                Shared::Data(Arc::new(plotstream_gapminder::Dataset::embedded()?))
            }
            DemoKind::NoisyCosine
            | DemoKind::Ppbp
            | DemoKind::PendulumChaos
            | DemoKind::PendulumEnergy
            | DemoKind::PendulumPhase
            | DemoKind::PpbpVariance => Shared::Nothing,
        };
        Ok(Demos { kind: self, shared })
    }
}

/// Demos of one kind for many streams ([`DemoKind::for_many`]).
#[derive(Debug)]
pub struct Demos {
    kind: DemoKind,
    shared: Shared,
}

/// What the streams of one demo share.
#[derive(Debug)]
enum Shared {
    /// The pendulum's frames: they all start where the demo does.
    Trajectory(Arc<Trajectory>),
    /// Gapminder's data, parsed once.
    Data(Arc<plotstream_gapminder::Dataset>),
    /// Nothing: each draws from its own seed.
    Nothing,
}

impl Demos {
    /// One stream's demo, as [`DemoKind::build_with_prefix`] builds it (the
    /// same writes), sharing what the kind shares.
    pub fn build(&self, seed: u64, prefix: &str) -> Result<Box<dyn Demo>, Error> {
        check_token_prefix(prefix)?;
        Ok(match &self.shared {
            Shared::Trajectory(t) => Box::new(DoublePendulumDemo::shared(prefix, Arc::clone(t))),
            Shared::Data(d) => {
                Box::new(GapminderDemo::with_data(prefix, XAxis::Log, Arc::clone(d))?)
            }
            Shared::Nothing => self.kind.build_with_prefix(seed, prefix)?,
        })
    }
}

/// The longest token prefix: room is left for the `-N` the demos add.
pub const MAX_TOKEN_PREFIX_LEN: usize = plotstream_protocol::MAX_TOKEN_LEN - 16;

/// Checks that `prefix` can start a stream token: the protocol's token rule
/// ([`check_token`](plotstream_protocol::check_token)), with room left for
/// the suffix the demos add.
pub fn check_token_prefix(prefix: &str) -> Result<(), Error> {
    let checked = match plotstream_protocol::check_token(prefix) {
        Ok(()) if prefix.len() > MAX_TOKEN_PREFIX_LEN => {
            Err(plotstream_protocol::TokenError::TooLong { len: prefix.len() })
        }
        other => other,
    };
    checked.map_err(|reason| Error::TokenPrefix {
        prefix: prefix.to_owned(),
        reason,
    })
}

impl fmt::Display for DemoKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DemoKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .iter()
            .copied()
            .find(|d| d.name() == s)
            .ok_or_else(|| Error::UnknownDemo { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Demos built for many streams write what demos built one by one
    /// write, frame for frame, for every kind.
    #[test]
    fn demos_for_many_write_what_demos_alone_write() {
        for &kind in DemoKind::ALL {
            let many = kind.for_many().expect("valid");
            for seed in [0, 7] {
                let mut alone = kind.build_with_prefix(seed, "p").expect("valid");
                let mut shared = many.build(seed, "p").expect("valid");
                let (mut a, mut b) = (Frame::default(), Frame::default());
                for i in 0..60 {
                    alone.next_frame(Clock::Simulated, &mut a);
                    shared.next_frame(Clock::Simulated, &mut b);
                    assert_eq!(a.writes, b.writes, "{kind:?} seed {seed} frame {i}");
                }
                assert_eq!(alone.figure(), shared.figure(), "{kind:?}");
            }
        }
        assert!(
            DemoKind::Gapminder
                .for_many()
                .expect("valid")
                .build(0, "bad token")
                .is_err()
        );
    }

    #[test]
    fn names_parse_back() {
        for d in DemoKind::ALL {
            assert_eq!(d.name().parse::<DemoKind>().ok(), Some(*d));
        }
        let err = "pendulum".parse::<DemoKind>().expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "unknown demo \"pendulum\"; the demos are: noisy-cosine, double-pendulum, gapminder, ppbp, pendulum-chaos, pendulum-energy, pendulum-phase, ppbp-variance"
        );
    }

    #[test]
    fn token_prefixes_are_checked() {
        assert!(
            DemoKind::NoisyCosine
                .build_with_prefix(0, "load-17")
                .is_ok()
        );
        let long = "p".repeat(MAX_TOKEN_PREFIX_LEN + 1);
        for bad in ["", "a b", "x\n", "é", &long] {
            let err = DemoKind::NoisyCosine
                .build_with_prefix(0, bad)
                .expect_err("bad prefix");
            assert!(matches!(err, Error::TokenPrefix { .. }), "{bad:?}");
        }
    }

    #[test]
    fn frame_times_are_exact_multiples() {
        let mut f = Frame::default();
        f.start(3, Duration::from_millis(80));
        assert_eq!(f.t, 0.24);
        f.start(0, Duration::from_millis(80));
        assert_eq!(f.t, 0.0);
    }
}
