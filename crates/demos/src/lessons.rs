//! The double pendulum's lessons, each a demo: chaos (two pendulums 1e-9
//! rad apart and their separation, with the fitted Lyapunov exponent),
//! energy (E(t) − E(0) under RK4 at a step you choose), and the phase
//! portrait (θ1, ω1).

use std::time::Duration;

use plotstream_pendulum::chaos::Separation;
use plotstream_pendulum::{DoublePendulum, Frames, Params, Sample, State, Steps};
use plotstream_protocol::{Figure, Update, Write};
use serde_json::{Map, Value, json};

use crate::{Clock, Demo, Error, Frame, TokenWrite, scatter, write_last};

/// The lessons.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lesson {
    /// Two pendulums 1e-9 rad apart in θ1, drawn together, and their
    /// distance in state space on a log scale, with the growth rate fitted
    /// so far (the largest Lyapunov exponent, about 0.95 1/s).
    Chaos,
    /// The pendulum and its energy error E(t) − E(0) under RK4 at step
    /// `dt` seconds: halve it and the error falls about 16 times.
    Energy {
        /// The RK4 step, s (the demo's own is 0.001).
        dt: f64,
    },
    /// The pendulum and its phase portrait: (θ1, ω1), θ1 wrapped to ±π.
    Phase,
}

/// Frames a second (the pendulum demo's 0.05 s).
const FRAME: f64 = 0.05;
/// The separation band whose ln d the chaos lesson fits.
const FIT: (f64, f64) = (1e-8, 1e-2);

/// A lesson of the double pendulum, from the demo's start (120°, −10°).
#[derive(Debug)]
pub struct PendulumLessonDemo {
    lesson: Lesson,
    tokens: Vec<String>,
    system: DoublePendulum,
    frames: Option<Frames>,
    pair: Option<Separation>,
    e0: f64,
    index: u64,
    fit: Fit,
    last: Option<Sample>,
}

/// A running least-squares fit of ln d against t (no allocation per frame).
#[derive(Clone, Copy, Debug, Default)]
struct Fit {
    n: f64,
    t: f64,
    y: f64,
    tt: f64,
    ty: f64,
}

impl Fit {
    fn add(&mut self, t: f64, d: f64) {
        let y = d.ln();
        self.n += 1.0;
        self.t += t;
        self.y += y;
        self.tt += t * t;
        self.ty += t * y;
    }

    fn slope(&self) -> Option<f64> {
        let den = self.n * self.tt - self.t * self.t;
        (self.n >= 3.0 && den > 0.0).then(|| (self.n * self.ty - self.t * self.y) / den)
    }
}

impl PendulumLessonDemo {
    /// `lesson`, with tokens `<prefix>-…`.
    pub fn new(prefix: &str, lesson: Lesson) -> Result<Self, Error> {
        let params = Params::default();
        let (th1, th2) = crate::DoublePendulumDemo::START_DEGREES;
        let start = State::from_degrees(th1, th2)?;
        let system = DoublePendulum::new(params)?;
        let names: &[&str] = match lesson {
            Lesson::Chaos => &["a", "b", "separation"],
            Lesson::Energy { .. } => &["rods", "energy"],
            Lesson::Phase => &["rods", "phase"],
        };
        let (frames, pair) = match lesson {
            Lesson::Chaos => (None, Some(Separation::new(params, start, 1e-9, 0.001, 50)?)),
            Lesson::Energy { dt } => {
                let steps = Steps {
                    frame: FRAME,
                    internal: dt,
                };
                (Some(Frames::new(params, start, steps)?), None)
            }
            Lesson::Phase => (Some(Frames::new(params, start, Steps::default())?), None),
        };
        Ok(PendulumLessonDemo {
            lesson,
            tokens: names.iter().map(|n| format!("{prefix}-{n}")).collect(),
            system,
            frames,
            pair,
            e0: system.energy(&start),
            index: 0,
            fit: Fit::default(),
            last: None,
        })
    }

    fn rods(&self, s: &State) -> Write {
        rods(self.system.positions(s))
    }

    fn title(&self) -> String {
        match self.lesson {
            Lesson::Chaos => "Chaos: two pendulums 1e-9 rad apart".to_owned(),
            Lesson::Energy { dt } => format!("Energy under RK4 at dt = {} ms", dt * 1000.0),
            Lesson::Phase => "Phase portrait (θ1, ω1)".to_owned(),
        }
    }
}

/// The rods, from the bobs' positions: overwritten each frame.
fn rods((x1, y1, x2, y2): (f64, f64, f64, f64)) -> Write {
    Write {
        x: Some(Update::overwrite([0.0, x1, x2])),
        y: Some(Update::overwrite([0.0, y1, y2])),
        ..Write::default()
    }
}

/// A layout with the pendulum on the left and a plot on the right.
fn two_panels(title: &str, right: Value) -> Map<String, Value> {
    let mut layout = json!({
        "title": {"text": title},
        "showlegend": false,
        "xaxis": {"domain": [0, 0.45], "range": [-2.2, 2.2], "zeroline": false},
        "yaxis": {"range": [-2.2, 1.0], "zeroline": false, "scaleanchor": "x"},
    });
    if let (Some(l), Value::Object(r)) = (layout.as_object_mut(), right) {
        l.extend(r);
    }
    layout.as_object().cloned().unwrap_or_default()
}

impl Demo for PendulumLessonDemo {
    fn name(&self) -> &'static str {
        match self.lesson {
            Lesson::Chaos => "pendulum-chaos",
            Lesson::Energy { .. } => "pendulum-energy",
            Lesson::Phase => "pendulum-phase",
        }
    }

    fn tokens(&self) -> &[String] {
        &self.tokens
    }

    fn figure(&self) -> Figure {
        let rods = |token: &str, color: &str, name: &str| {
            scatter(token, 3, "lines+markers", name)
                .with("marker", json!({"size": 10, "color": color}))
                .with("line", json!({"width": 3, "color": color}))
        };
        let right = |token: &str, points: u64, name: &str| {
            scatter(token, points, "lines", name)
                .with("xaxis", json!("x2"))
                .with("yaxis", json!("y2"))
        };
        let (data, axes) = match self.lesson {
            Lesson::Chaos => (
                vec![
                    rods(&self.tokens[0], "#1f77b4", "pendulum A"),
                    rods(&self.tokens[1], "#d62728", "pendulum B"),
                    right(&self.tokens[2], 2000, "separation"),
                ],
                json!({"xaxis2": {"domain": [0.55, 1], "anchor": "y2", "title": {"text": "t (s)"}},
                       "yaxis2": {"anchor": "x2", "type": "log", "exponentformat": "power",
                                  "title": {"text": "distance in state space"}}}),
            ),
            Lesson::Energy { .. } => (
                vec![
                    rods(&self.tokens[0], "#1f77b4", "rods"),
                    right(&self.tokens[1], 2000, "E(t) − E(0)"),
                ],
                json!({"xaxis2": {"domain": [0.55, 1], "anchor": "y2", "title": {"text": "t (s)"}},
                       "yaxis2": {"anchor": "x2", "exponentformat": "e",
                                  "title": {"text": "E(t) − E(0) (J)"}}}),
            ),
            Lesson::Phase => (
                vec![
                    rods(&self.tokens[0], "#1f77b4", "rods"),
                    right(&self.tokens[1], 5000, "(θ1, ω1)"),
                ],
                json!({"xaxis2": {"domain": [0.55, 1], "anchor": "y2", "range": [-3.2, 3.2],
                                  "title": {"text": "θ1 (rad)"}},
                       "yaxis2": {"anchor": "x2", "title": {"text": "ω1 (rad/s)"}}}),
            ),
        };
        Figure {
            data,
            layout: Some(two_panels(&self.title(), axes)),
            ..Figure::default()
        }
    }

    fn period(&self) -> Duration {
        Duration::from_secs_f64(FRAME)
    }

    fn next_frame(&mut self, _clock: Clock, frame: &mut Frame) {
        frame.start(self.index, self.period());
        self.index += 1;
        if let Some(pair) = &mut self.pair {
            let (t, d) = pair.next().unwrap_or_else(|| unreachable!("never ends"));
            let (a, b) = pair.states();
            let (wa, wb) = (self.rods(&a), self.rods(&b));
            frame.writes.push(TokenWrite {
                token: 0,
                write: wa,
            });
            frame.writes.push(TokenWrite {
                token: 1,
                write: wb,
            });
            let mut w = Write::xy(t, d);
            if (FIT.0..=FIT.1).contains(&d) {
                self.fit.add(t, d);
            }
            // Once a second, the growth rate fitted so far, in the title.
            if self.index % 20 == 1
                && let Some(rate) = self.fit.slope()
            {
                let text = format!("{} · fitted growth of ln d: λ ≈ {rate:.2} /s", self.title());
                w.layout = json!({"title.text": text})
                    .as_object()
                    .cloned()
                    .map(Box::new);
            }
            frame.writes.push(TokenWrite { token: 2, write: w });
            return;
        }
        let Some(frames) = &mut self.frames else {
            return;
        };
        let s = frames.next().unwrap_or_else(|| unreachable!("never ends"));
        self.last = Some(s);
        frame.writes.push(TokenWrite {
            token: 0,
            write: rods((s.x1, s.y1, s.x2, s.y2)),
        });
        let right = match self.lesson {
            Lesson::Energy { .. } => Write::xy(s.t, s.energy - self.e0),
            _ => {
                let wrapped = (s.theta1 + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU)
                    - std::f64::consts::PI;
                Write::xy(wrapped, s.omega1)
            }
        };
        frame.writes.push(TokenWrite {
            token: 1,
            write: right,
        });
    }

    fn write_samples(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        write_last(self.last.as_ref(), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(lesson: Lesson, n: usize) -> Vec<Frame> {
        let mut demo = PendulumLessonDemo::new("l", lesson).expect("valid");
        (0..n)
            .map(|_| {
                let mut f = Frame::default();
                demo.next_frame(Clock::Simulated, &mut f);
                f
            })
            .collect()
    }

    #[test]
    fn the_chaos_lesson_draws_two_pendulums_that_part_and_fits_their_growth() {
        let all = frames(Lesson::Chaos, 600); // 30 s
        let d = |f: &Frame| match &f.writes[2].write.y {
            Some(Update::Append(plotstream_protocol::Scalar::Number(n))) => {
                n.as_f64().unwrap_or(0.0)
            }
            other => panic!("{other:?}"),
        };
        assert!(d(&all[0]) < 2e-9, "they start 1e-9 apart");
        assert!(d(&all[599]) > 0.1, "apart after 30 s: {}", d(&all[599]));
        assert_ne!(
            all[599].writes[0].write, all[599].writes[1].write,
            "two pendulums"
        );
        let title = all
            .iter()
            .rev()
            .find_map(|f| {
                f.writes[2]
                    .write
                    .layout
                    .as_ref()?
                    .get("title.text")?
                    .as_str()
                    .map(str::to_owned)
            })
            .expect("a fitted λ in the title");
        let rate: f64 = title
            .rsplit("λ ≈ ")
            .next()
            .and_then(|r| r.split(' ').next())
            .and_then(|r| r.parse().ok())
            .expect("a number");
        assert!((0.6..1.3).contains(&rate), "{title}");
    }

    #[test]
    fn the_energy_lesson_plots_rk4_s_error_and_the_phase_lesson_wraps_theta() {
        let coarse = frames(Lesson::Energy { dt: 0.01 }, 200);
        let fine = frames(Lesson::Energy { dt: 0.005 }, 200);
        let worst = |fs: &[Frame]| {
            fs.iter()
                .filter_map(|f| match &f.writes[1].write.y {
                    Some(Update::Append(plotstream_protocol::Scalar::Number(n))) => n.as_f64(),
                    _ => None,
                })
                .fold(0.0f64, |m, e| m.max(e.abs()))
        };
        let ratio = worst(&coarse) / worst(&fine);
        assert!(ratio > 8.0, "halving dt: {ratio}");
        for f in frames(Lesson::Phase, 400) {
            let Some(Update::Append(plotstream_protocol::Scalar::Number(n))) = &f.writes[1].write.x
            else {
                panic!("an appended θ1");
            };
            let th = n.as_f64().unwrap_or(9.0);
            assert!(
                (-std::f64::consts::PI..=std::f64::consts::PI).contains(&th),
                "{th}"
            );
        }
    }
}
