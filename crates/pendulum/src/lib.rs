//! A never-ending double pendulum: two point masses on massless rods,
//! integrated with classical RK4.
//!
//! - [`Params`] (masses, lengths, g) and [`State`] (θ1, ω1, θ2, ω2) are
//!   checked when built.
//! - [`DoublePendulum`] is the [`System`]: the equations of motion of
//!   Plotly's streaming demo (the matplotlib form), angles from the
//!   downward vertical.
//! - [`Rk4`] is a fixed-step integrator over any [`System`] on nalgebra's
//!   `SVector`, with a public [`Rk4::step`]; it allocates nothing per step.
//! - [`Frames`] is the never-ending iterator of [`Sample`]s, one per frame
//!   (0.05 s of simulated time by default), each frame integrated in smaller
//!   internal steps (0.001 s by default).
//! - [`chaos`] holds the pendulum's lessons in numbers: two pendulums
//!   parting ([`chaos::Separation`]), its largest Lyapunov exponent two
//!   independent ways ([`chaos::lyapunov_benettin`], [`chaos::growth_rate`]),
//!   and RK4's energy error against its step ([`chaos::energy_error`]).
//!
//! # Example
//!
//! ```
//! use plotstream_pendulum::{Frames, Params, State, Steps};
//!
//! // The demo's start: θ1 = 120°, θ2 = −10°, at rest.
//! let start = State::from_degrees(120.0, -10.0)?;
//! let mut frames = Frames::new(Params::default(), start, Steps::default())?;
//! let first = frames.next().expect("never ends");
//! assert_eq!(first.t, 0.0);
//! let e0 = first.energy;
//! let later = frames.nth(199).expect("never ends"); // 10 s on
//! assert!((later.t - 10.0).abs() < 1e-9);
//! assert!((later.energy - e0).abs() < 1e-6, "RK4 at 1 ms keeps the energy");
//! // The lower bob hangs below the upper one, at most L1 + L2 = 2 from the pivot.
//! assert!(later.x2.hypot(later.y2) <= 2.0 + 1e-12);
//! # Ok::<(), plotstream_pendulum::Error>(())
//! ```
#![deny(missing_docs)]

use std::iter::FusedIterator;

use nalgebra::SVector;
use serde::Serialize;

pub mod chaos;
mod rk4;

pub use rk4::{Rk4, System};

/// What the constructors refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A mass, length or g that is not a positive finite number.
    #[error("{name} must be a positive finite number, got {value}")]
    Param {
        /// Which parameter.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// An angle or angular velocity that is not finite.
    #[error("the initial state must be finite")]
    State,
    /// A time step that is not a positive finite number.
    #[error("the time step must be a positive finite number of seconds, got {0}")]
    Step(f64),
}

/// The pendulum's physical parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Params {
    /// Upper mass, kg. Default 1.
    pub m1: f64,
    /// Lower mass, kg. Default 1.
    pub m2: f64,
    /// Upper rod, m. Default 1.
    pub l1: f64,
    /// Lower rod, m. Default 1.
    pub l2: f64,
    /// Gravity, m/s². Default 9.8.
    pub g: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            m1: 1.0,
            m2: 1.0,
            l1: 1.0,
            l2: 1.0,
            g: 9.8,
        }
    }
}

impl Params {
    /// Checks that every parameter is a positive finite number.
    pub fn validate(&self) -> Result<(), Error> {
        for (name, value) in [
            ("m1", self.m1),
            ("m2", self.m2),
            ("l1", self.l1),
            ("l2", self.l2),
            ("g", self.g),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(Error::Param { name, value });
            }
        }
        Ok(())
    }
}

/// Angles (rad, from the downward vertical) and angular velocities (rad/s).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct State {
    /// Upper rod's angle.
    pub theta1: f64,
    /// Upper rod's angular velocity.
    pub omega1: f64,
    /// Lower rod's angle.
    pub theta2: f64,
    /// Lower rod's angular velocity.
    pub omega2: f64,
}

impl State {
    /// A state; refuses anything not finite.
    pub fn new(theta1: f64, omega1: f64, theta2: f64, omega2: f64) -> Result<Self, Error> {
        let s = State {
            theta1,
            omega1,
            theta2,
            omega2,
        };
        if s.to_vector().iter().all(|v| v.is_finite()) {
            Ok(s)
        } else {
            Err(Error::State)
        }
    }

    /// At rest, at these angles in degrees.
    pub fn from_degrees(theta1: f64, theta2: f64) -> Result<Self, Error> {
        State::new(theta1.to_radians(), 0.0, theta2.to_radians(), 0.0)
    }

    /// `(θ1, ω1, θ2, ω2)`.
    pub fn to_vector(self) -> SVector<f64, 4> {
        SVector::from([self.theta1, self.omega1, self.theta2, self.omega2])
    }

    /// From `(θ1, ω1, θ2, ω2)`.
    pub fn from_vector(v: &SVector<f64, 4>) -> Self {
        State {
            theta1: v[0],
            omega1: v[1],
            theta2: v[2],
            omega2: v[3],
        }
    }
}

/// The double pendulum as a [`System`] on `(θ1, ω1, θ2, ω2)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DoublePendulum {
    p: Params,
}

impl DoublePendulum {
    /// The system for `params`, checked.
    pub fn new(params: Params) -> Result<Self, Error> {
        params.validate()?;
        Ok(DoublePendulum { p: params })
    }

    /// The parameters.
    pub fn params(&self) -> Params {
        self.p
    }

    /// Total energy (kinetic + potential, zero at the pivot's height), J.
    pub fn energy(&self, s: &State) -> f64 {
        let Params { m1, m2, l1, l2, g } = self.p;
        let kinetic = 0.5 * m1 * (l1 * s.omega1).powi(2)
            + 0.5
                * m2
                * ((l1 * s.omega1).powi(2)
                    + (l2 * s.omega2).powi(2)
                    + 2.0 * l1 * l2 * s.omega1 * s.omega2 * (s.theta1 - s.theta2).cos());
        let potential = -(m1 + m2) * g * l1 * s.theta1.cos() - m2 * g * l2 * s.theta2.cos();
        kinetic + potential
    }

    /// The bobs' positions `(x1, y1, x2, y2)`, the pivot at the origin, y up.
    pub fn positions(&self, s: &State) -> (f64, f64, f64, f64) {
        let (sin1, cos1) = s.theta1.sin_cos();
        let (sin2, cos2) = s.theta2.sin_cos();
        let x1 = self.p.l1 * sin1;
        let y1 = -self.p.l1 * cos1;
        (x1, y1, x1 + self.p.l2 * sin2, y1 - self.p.l2 * cos2)
    }
}

impl System<4> for DoublePendulum {
    /// The equations of motion of two point masses on massless rods, in the
    /// form of the matplotlib example the Plotly demo used.
    #[inline]
    fn derivative(&self, _t: f64, y: &SVector<f64, 4>, dy: &mut SVector<f64, 4>) {
        let Params { m1, m2, l1, l2, g } = self.p;
        let (th1, w1, th2, w2) = (y[0], y[1], y[2], y[3]);
        // Two sin_cos calls, and θ2 − θ1 by the difference identities:
        // libm's trigonometry is most of the cost of a step.
        let (sin1, cos1) = th1.sin_cos();
        let (sin2, cos2) = th2.sin_cos();
        let sin_d = sin2 * cos1 - cos2 * sin1;
        let cos_d = cos2 * cos1 + sin2 * sin1;
        let m = m1 + m2;
        let den1 = m * l1 - m2 * l1 * cos_d * cos_d;
        let den2 = (l2 / l1) * den1;
        dy[0] = w1;
        dy[1] =
            (m2 * l1 * w1 * w1 * sin_d * cos_d + m2 * g * sin2 * cos_d + m2 * l2 * w2 * w2 * sin_d
                - m * g * sin1)
                / den1;
        dy[2] = w2;
        dy[3] = (-m2 * l2 * w2 * w2 * sin_d * cos_d + m * g * sin1 * cos_d
            - m * l1 * w1 * w1 * sin_d
            - m * g * sin2)
            / den2;
    }
}

/// The frame step and the internal integration step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Steps {
    /// Simulated time between two samples, s. Default 0.05.
    pub frame: f64,
    /// The largest internal RK4 step, s; a frame is cut into whole steps no
    /// longer than this. Default 0.001.
    pub internal: f64,
}

impl Default for Steps {
    fn default() -> Self {
        Steps {
            frame: 0.05,
            internal: 0.001,
        }
    }
}

/// One frame of the pendulum.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// Simulated time, s.
    pub t: f64,
    /// Upper rod's angle, rad.
    pub theta1: f64,
    /// Upper rod's angular velocity, rad/s.
    pub omega1: f64,
    /// Lower rod's angle, rad.
    pub theta2: f64,
    /// Lower rod's angular velocity, rad/s.
    pub omega2: f64,
    /// Upper bob.
    pub x1: f64,
    /// Upper bob.
    pub y1: f64,
    /// Lower bob.
    pub x2: f64,
    /// Lower bob.
    pub y2: f64,
    /// Total energy, J.
    pub energy: f64,
}

/// The never-ending iterator of frames: the first is the initial state at
/// t = 0, each next one a frame step later.
#[derive(Clone, Debug)]
pub struct Frames {
    rk4: Rk4<DoublePendulum, 4>,
    per_frame: u64,
    frame: f64,
    index: u64,
}

impl Frames {
    /// The pendulum from `start`, sampled every `steps.frame`, integrated in
    /// `ceil(frame / internal)` equal steps per frame.
    pub fn new(params: Params, start: State, steps: Steps) -> Result<Self, Error> {
        for step in [steps.frame, steps.internal] {
            if !(step.is_finite() && step > 0.0) {
                return Err(Error::Step(step));
            }
        }
        let system = DoublePendulum::new(params)?;
        let start = State::new(start.theta1, start.omega1, start.theta2, start.omega2)?;
        // A hair of slack so that 0.05 / 0.001 is 50 steps, not 51.
        let per_frame = ((steps.frame / steps.internal) * (1.0 - 1e-12))
            .ceil()
            .max(1.0) as u64;
        let dt = steps.frame / per_frame as f64;
        Ok(Frames {
            rk4: Rk4::new(system, 0.0, start.to_vector(), dt)?,
            per_frame,
            frame: steps.frame,
            index: 0,
        })
    }

    /// The RK4 steps in one frame.
    pub fn steps_per_frame(&self) -> u64 {
        self.per_frame
    }

    fn sample(&self) -> Sample {
        let system = self.rk4.system();
        let s = State::from_vector(self.rk4.state());
        let (x1, y1, x2, y2) = system.positions(&s);
        let t = self.index as f64 * self.frame;
        Sample {
            t,
            theta1: s.theta1,
            omega1: s.omega1,
            theta2: s.theta2,
            omega2: s.omega2,
            x1,
            y1,
            x2,
            y2,
            energy: system.energy(&s),
        }
    }
}

impl Iterator for Frames {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        if self.index > 0 {
            for _ in 0..self.per_frame {
                self.rk4.step();
            }
        }
        let sample = self.sample();
        self.index += 1;
        Some(sample)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl FusedIterator for Frames {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_states_are_checked() {
        let bad = Params {
            l2: 0.0,
            ..Params::default()
        };
        assert_eq!(
            DoublePendulum::new(bad).map(|p| p.params()),
            Err(Error::Param {
                name: "l2",
                value: 0.0
            })
        );
        assert_eq!(
            Error::Param {
                name: "g",
                value: -1.0
            }
            .to_string(),
            "g must be a positive finite number, got -1"
        );
        assert_eq!(State::new(f64::NAN, 0.0, 0.0, 0.0), Err(Error::State));
        let start = State::from_degrees(120.0, -10.0).expect("finite");
        let err = Frames::new(
            Params::default(),
            start,
            Steps {
                frame: 0.05,
                internal: 0.0,
            },
        );
        assert_eq!(err.map(|f| f.steps_per_frame()), Err(Error::Step(0.0)));
    }

    #[test]
    fn a_frame_is_cut_into_whole_internal_steps() {
        let start = State::from_degrees(10.0, 0.0).expect("finite");
        let f = Frames::new(Params::default(), start, Steps::default()).expect("valid");
        assert_eq!(f.steps_per_frame(), 50);
        let f = Frames::new(
            Params::default(),
            start,
            Steps {
                frame: 0.05,
                internal: 0.003,
            },
        )
        .expect("valid");
        assert_eq!(f.steps_per_frame(), 17);
    }

    #[test]
    fn at_rest_hanging_down_it_stays() {
        let start = State::from_degrees(0.0, 0.0).expect("finite");
        for s in Frames::new(Params::default(), start, Steps::default())
            .expect("valid")
            .take(100)
        {
            assert_eq!((s.theta1, s.theta2, s.x2), (0.0, 0.0, 0.0));
            assert!((s.y2 + 2.0).abs() < 1e-15);
        }
    }
}
