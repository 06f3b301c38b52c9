//! [`System`] and the classical fixed-step [`Rk4`] stepper.

use nalgebra::SVector;

use crate::Error;

/// An ordinary differential equation `y' = f(t, y)` in `N` dimensions.
pub trait System<const N: usize> {
    /// Writes `f(t, y)` into `dy`.
    fn derivative(&self, t: f64, y: &SVector<f64, N>, dy: &mut SVector<f64, N>);
}

/// The classical fourth-order Runge–Kutta method with a fixed step.
///
/// Its buffers live in the stepper (stack arrays of `N` floats): a step
/// allocates nothing.
///
/// ```
/// use nalgebra::SVector;
/// use plotstream_pendulum::{Rk4, System};
///
/// /// y' = -y: the exact solution is e^-t.
/// struct Decay;
/// impl System<1> for Decay {
///     fn derivative(&self, _t: f64, y: &SVector<f64, 1>, dy: &mut SVector<f64, 1>) {
///         dy[0] = -y[0];
///     }
/// }
///
/// let mut rk4 = Rk4::new(Decay, 0.0, SVector::from([1.0]), 0.01)?;
/// for _ in 0..100 {
///     rk4.step();
/// }
/// assert!((rk4.t() - 1.0).abs() < 1e-12);
/// assert!((rk4.state()[0] - (-1.0f64).exp()).abs() < 1e-10);
/// # Ok::<(), plotstream_pendulum::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Rk4<S, const N: usize> {
    system: S,
    t0: f64,
    steps: u64,
    dt: f64,
    y: SVector<f64, N>,
    k1: SVector<f64, N>,
    k2: SVector<f64, N>,
    k3: SVector<f64, N>,
    k4: SVector<f64, N>,
    tmp: SVector<f64, N>,
}

impl<S: System<N>, const N: usize> Rk4<S, N> {
    /// A stepper for `system` from `y0` at `t0`, with step `dt`; refuses a
    /// step that is not a positive finite number.
    pub fn new(system: S, t0: f64, y0: SVector<f64, N>, dt: f64) -> Result<Self, Error> {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(Error::Step(dt));
        }
        if !t0.is_finite() || y0.iter().any(|v| !v.is_finite()) {
            return Err(Error::State);
        }
        Ok(Rk4 {
            system,
            t0,
            steps: 0,
            dt,
            y: y0,
            k1: SVector::zeros(),
            k2: SVector::zeros(),
            k3: SVector::zeros(),
            k4: SVector::zeros(),
            tmp: SVector::zeros(),
        })
    }

    /// Advances one step of `dt`.
    #[inline]
    pub fn step(&mut self) {
        let (t, h) = (self.t(), self.dt);
        self.system.derivative(t, &self.y, &mut self.k1);
        self.tmp = self.y + self.k1 * (h / 2.0);
        self.system.derivative(t + h / 2.0, &self.tmp, &mut self.k2);
        self.tmp = self.y + self.k2 * (h / 2.0);
        self.system.derivative(t + h / 2.0, &self.tmp, &mut self.k3);
        self.tmp = self.y + self.k3 * h;
        self.system.derivative(t + h, &self.tmp, &mut self.k4);
        self.y += (self.k1 + (self.k2 + self.k3) * 2.0 + self.k4) * (h / 6.0);
        self.steps += 1;
    }

    /// The time now: `t0 + steps · dt`, counted, not summed, so it does not drift.
    pub fn t(&self) -> f64 {
        let elapsed = self.steps as f64 * self.dt;
        self.t0 + elapsed
    }

    /// The state now.
    pub fn state(&self) -> &SVector<f64, N> {
        &self.y
    }

    /// Puts the state at `y` (the time goes on as it was): for methods that
    /// steer a trajectory, such as renormalising a companion.
    pub fn set_state(&mut self, y: SVector<f64, N>) {
        self.y = y;
    }

    /// The step.
    pub fn dt(&self) -> f64 {
        self.dt
    }

    /// The system.
    pub fn system(&self) -> &S {
        &self.system
    }
}
