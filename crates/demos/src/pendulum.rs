//! The `double-pendulum` demo.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use plotstream_pendulum::{Frames, Params, Sample, State, Steps};
use plotstream_protocol::{Figure, Update, Write};
use serde_json::json;

use crate::{Clock, Demo, Error, Frame, TokenWrite, scatter, write_last};

/// How many positions of the lower bob the trail keeps.
const TRAIL: u64 = 100;

/// The never-ending double pendulum of Plotly's streaming demo: the rods
/// (trace 1, overwritten each frame: `x = [0, x1, x2]`, `y = [0, y1, y2]`)
/// and the lower bob's trail (trace 2, appended, the last 100 positions),
/// a frame every 0.05 s of simulated time.
#[derive(Debug)]
pub struct DoublePendulumDemo {
    source: Source,
    period: Duration,
    tokens: [String; 2],
    index: u64,
    last: Option<Sample>,
}

/// Where a demo's frames come from.
#[derive(Debug)]
enum Source {
    /// Its own integrator (boxed: a shared demo has none).
    Own(Box<Frames>),
    /// A trajectory other demos share.
    Shared(Arc<Trajectory>),
}

impl DoublePendulumDemo {
    /// Where Plotly's demo starts, from rest: θ1 = 120°, θ2 = −10°.
    pub const START_DEGREES: (f64, f64) = (120.0, -10.0);

    /// The demo's pendulum (G = 9.8, L1 = L2 = 1, M1 = M2 = 1) from rest at
    /// `theta1`, `theta2` degrees (the demo's start is 120°, −10°), with
    /// tokens `<prefix>-rods` and `<prefix>-trail`.
    pub fn new(prefix: &str, theta1: f64, theta2: f64) -> Result<Self, Error> {
        let frames = Frames::new(
            Params::default(),
            State::from_degrees(theta1, theta2)?,
            Steps::default(),
        )?;
        Ok(Self::from_source(prefix, Source::Own(Box::new(frames))))
    }

    /// The same demo, its frames read from `trajectory`, which other demos
    /// share: many streams of one pendulum cost one simulation. Its writes
    /// are the same, byte for byte, as those of [`DoublePendulumDemo::new`]
    /// from the trajectory's start.
    pub fn shared(prefix: &str, trajectory: Arc<Trajectory>) -> Self {
        Self::from_source(prefix, Source::Shared(trajectory))
    }

    fn from_source(prefix: &str, source: Source) -> Self {
        DoublePendulumDemo {
            source,
            period: Duration::from_secs_f64(Steps::default().frame),
            tokens: [format!("{prefix}-rods"), format!("{prefix}-trail")],
            index: 0,
            last: None,
        }
    }

    /// The next sample: its own integrator's, or frame `index` of the shared
    /// trajectory; past the frames it keeps, a copy of its integrator of
    /// this demo's own.
    fn next_sample(&mut self) -> Sample {
        if let Source::Shared(trajectory) = &self.source {
            match trajectory.frame(self.index) {
                Ok(sample) => return sample,
                Err(own) => self.source = Source::Own(own),
            }
        }
        match &mut self.source {
            Source::Own(frames) => frames
                .next()
                .unwrap_or_else(|| unreachable!("the pendulum never stops")),
            Source::Shared(_) => unreachable!("made its own above"),
        }
    }
}

/// A pendulum's frames, computed once and read by every demo that shares it
/// ([`DoublePendulumDemo::shared`]): a load test's thousands of pendulum
/// streams, which all start where the demo does, compute one trajectory
/// instead of one each (50 RK4 steps a frame).
///
/// It keeps its frames (80 bytes each) up to a bound,
/// [`Trajectory::MAX_FRAMES`] by default (a day of a 20-frame/s stream); a
/// demo that goes past them goes on with a copy of the integrator there.
#[derive(Debug)]
pub struct Trajectory {
    inner: Mutex<Computed>,
    max_frames: u64,
}

#[derive(Debug)]
struct Computed {
    frames: Frames,
    samples: Vec<Sample>,
}

impl Trajectory {
    /// The most frames a trajectory keeps by default.
    pub const MAX_FRAMES: u64 = 1 << 21;

    /// The demo's pendulum from rest at `theta1`, `theta2` degrees.
    pub fn new(theta1: f64, theta2: f64) -> Result<Arc<Self>, Error> {
        Self::with_max_frames(theta1, theta2, Self::MAX_FRAMES)
    }

    fn with_max_frames(theta1: f64, theta2: f64, max_frames: u64) -> Result<Arc<Self>, Error> {
        let frames = Frames::new(
            Params::default(),
            State::from_degrees(theta1, theta2)?,
            Steps::default(),
        )?;
        Ok(Arc::new(Trajectory {
            inner: Mutex::new(Computed {
                frames,
                samples: Vec::new(),
            }),
            max_frames,
        }))
    }

    /// Frame `k` (computing those before it that no demo asked for yet);
    /// past the frames it keeps, the integrator positioned there.
    fn frame(&self, k: u64) -> Result<Sample, Box<Frames>> {
        let mut c = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let want = usize::try_from(k).unwrap_or(usize::MAX);
        while c.samples.len() <= want {
            if c.samples.len() as u64 >= self.max_frames {
                return Err(Box::new(c.frames.clone()));
            }
            let next = c
                .frames
                .next()
                .unwrap_or_else(|| unreachable!("the pendulum never stops"));
            c.samples.push(next);
        }
        Ok(c.samples[want])
    }
}

impl Demo for DoublePendulumDemo {
    fn name(&self) -> &'static str {
        "double-pendulum"
    }

    fn tokens(&self) -> &[String] {
        &self.tokens
    }

    fn figure(&self) -> Figure {
        let rods = scatter(&self.tokens[0], 3, "lines+markers", "rods")
            .with("marker", json!({"size": 12, "color": "#1f77b4"}))
            .with("line", json!({"width": 3, "color": "#1f77b4"}));
        let trail = scatter(&self.tokens[1], TRAIL, "lines", "trail")
            .with("line", json!({"width": 1, "color": "#ff7f0e"}));
        let layout = json!({
            "title": {"text": "Double pendulum"},
            "xaxis": {"range": [-2, 2], "zeroline": false},
            "yaxis": {"range": [-2, 0.5], "zeroline": false, "scaleanchor": "x"},
            "showlegend": false,
        });
        Figure {
            data: vec![rods, trail],
            layout: layout.as_object().cloned(),
            ..Figure::default()
        }
    }

    fn period(&self) -> Duration {
        self.period
    }

    fn next_frame(&mut self, _clock: Clock, frame: &mut Frame) {
        let s = self.next_sample();
        self.last = Some(s);
        frame.start(self.index, self.period);
        self.index += 1;
        frame.writes.push(TokenWrite {
            token: 0,
            write: Write {
                x: Some(Update::overwrite([0.0, s.x1, s.x2])),
                y: Some(Update::overwrite([0.0, s.y1, s.y2])),
                ..Write::default()
            },
        });
        frame.writes.push(TokenWrite {
            token: 1,
            write: Write::xy(s.x2, s.y2),
        });
    }

    fn write_samples(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        write_last(self.last.as_ref(), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotstream_protocol::Mode;

    #[test]
    fn rods_overwrite_and_the_trail_appends() {
        let mut demo = DoublePendulumDemo::new("dp", 120.0, -10.0).expect("valid");
        assert_eq!(demo.tokens(), ["dp-rods", "dp-trail"]);
        let mut frame = Frame::default();
        demo.next_frame(Clock::Simulated, &mut frame);
        assert_eq!((frame.index, frame.t), (0, 0.0));
        let rods = &frame.writes[0];
        assert_eq!(
            (rods.token, rods.write.mode("x"), rods.write.mode("y")),
            (0, Some(Mode::Overwrite), Some(Mode::Overwrite))
        );
        // θ1 = 120°, θ2 = −10° from the downward vertical.
        let (x1, y1) = (120f64.to_radians().sin(), -120f64.to_radians().cos());
        let (x2, y2) = (
            x1 + (-10f64).to_radians().sin(),
            y1 - (-10f64).to_radians().cos(),
        );
        assert_eq!(rods.write.x, Some(Update::overwrite([0.0, x1, x2])));
        assert_eq!(rods.write.y, Some(Update::overwrite([0.0, y1, y2])));
        let trail = &frame.writes[1];
        assert_eq!(
            (trail.token, trail.write.mode("x")),
            (1, Some(Mode::Append))
        );
        assert_eq!(trail.write, Write::xy(x2, y2));
        demo.next_frame(Clock::Simulated, &mut frame);
        assert_eq!((frame.index, frame.t), (1, 0.05));
        assert_ne!(frame.writes[1].write, Write::xy(x2, y2), "it swings");
    }

    #[test]
    fn the_figure_is_the_seeds() {
        let demo = DoublePendulumDemo::new("dp", 120.0, -10.0).expect("valid");
        let fig = serde_json::to_value(demo.figure()).expect("serialises");
        assert_eq!(fig["data"][0]["mode"], "lines+markers");
        assert_eq!(fig["data"][0]["marker"]["size"], 12);
        assert_eq!(
            fig["data"][1]["stream"],
            json!({"token": "dp-trail", "maxpoints": 100})
        );
        assert_eq!(fig["layout"]["xaxis"]["range"], json!([-2, 2]));
        assert_eq!(fig["layout"]["yaxis"]["range"], json!([-2, 0.5]));
    }

    #[test]
    fn samples_have_the_documented_fields() {
        let mut demo = DoublePendulumDemo::new("dp", 120.0, -10.0).expect("valid");
        demo.next_frame(Clock::Simulated, &mut Frame::default());
        let mut out = Vec::new();
        demo.write_samples(&mut out).expect("encodes");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        let keys: Vec<&str> = v
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = [
            "t", "theta1", "omega1", "theta2", "omega2", "x1", "y1", "x2", "y2", "energy",
        ];
        want.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, want);
    }

    /// Demos that share a trajectory write what a demo of its own writes,
    /// frame for frame, also past the frames the trajectory keeps.
    #[test]
    fn a_shared_trajectory_writes_what_an_own_integrator_writes() {
        let trajectory = Trajectory::with_max_frames(120.0, -10.0, 30).expect("valid");
        let mut own = DoublePendulumDemo::new("dp", 120.0, -10.0).expect("valid");
        let mut early = DoublePendulumDemo::shared("dp", Arc::clone(&trajectory));
        let mut late = DoublePendulumDemo::shared("dp", Arc::clone(&trajectory));
        let (mut a, mut b, mut c) = (Frame::default(), Frame::default(), Frame::default());
        for i in 0..100 {
            own.next_frame(Clock::Simulated, &mut a);
            early.next_frame(Clock::Simulated, &mut b);
            if i >= 20 {
                // Starts later: it reads from where it is, not where others are.
                late.next_frame(Clock::Simulated, &mut c);
            }
            assert_eq!(a.writes, b.writes, "frame {i}");
            assert_eq!(a.t, b.t, "frame {i}");
        }
        let mut own_again = DoublePendulumDemo::new("dp", 120.0, -10.0).expect("valid");
        for _ in 0..80 {
            own_again.next_frame(Clock::Simulated, &mut a);
        }
        assert_eq!(a.writes, c.writes, "the late one's 80th frame");
        assert!(
            matches!(early.source, Source::Own(_)),
            "past 30 frames, its own"
        );
        let kept = trajectory.inner.lock().expect("not poisoned").samples.len();
        assert_eq!(kept, 30, "the trajectory keeps no more than its bound");
    }

    #[test]
    fn a_non_finite_angle_is_refused() {
        let err = DoublePendulumDemo::new("dp", f64::NAN, 0.0).expect_err("refused");
        assert_eq!(
            err.to_string(),
            "double pendulum",
            "the cause is the source's"
        );
        let cause = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("the initial state must be finite"));
    }
}
