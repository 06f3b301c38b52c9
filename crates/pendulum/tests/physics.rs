//! The integrator checked against physics: energy, order of accuracy, and
//! the small-angle normal modes.

use approx::assert_abs_diff_eq;
use nalgebra::SVector;
use plotstream_pendulum::{DoublePendulum, Params, Rk4, State};

fn seed_start() -> State {
    State::from_degrees(120.0, -10.0).expect("finite")
}

fn integrate(start: State, dt: f64, steps: u64) -> SVector<f64, 4> {
    let system = DoublePendulum::new(Params::default()).expect("valid");
    let mut rk4 = Rk4::new(system, 0.0, start.to_vector(), dt).expect("valid");
    for _ in 0..steps {
        rk4.step();
    }
    *rk4.state()
}

/// From the demo's start (θ1 = 120°, θ2 = −10°, at rest), 10⁶ steps of 1 ms
/// (1,000 s of chaotic motion) change the energy by less than 10⁻⁶ J, against
/// m·g·L = 9.8 J. RK4's error per step is O(dt⁵); it is not symplectic, so
/// the energy error does drift, but slowly enough at this step.
#[test]
fn energy_drifts_less_than_a_microjoule_over_a_million_steps() {
    let system = DoublePendulum::new(Params::default()).expect("valid");
    let start = seed_start();
    let e0 = system.energy(&start);
    let end = State::from_vector(&integrate(start, 0.001, 1_000_000));
    let drift = (system.energy(&end) - e0).abs();
    assert!(drift < 1e-6, "energy drift {drift:e} J");
    assert!(end.omega1.abs() > 0.0, "it moved");
}

/// Fourth order: halving the step divides the error at t = 1 s by 2⁴ = 16.
/// The error is measured against a run with a step 32 times smaller (its own
/// error is 32⁴ ≈ 10⁶ times smaller, so it does not count), on the positions
/// of both bobs. From this violent start the error reaches its asymptotic
/// regime only below about 2.5 ms: measured at t = 1 s, halving 20 → 10 ms
/// gives a ratio of 29, 5 → 2.5 ms 18, 1.25 → 0.625 ms 15.7. So the test
/// halves 1.25 ms; the errors (10⁻⁹, 10⁻¹⁰) stand well above rounding.
#[test]
fn halving_the_step_shrinks_the_error_sixteenfold() {
    let system = DoublePendulum::new(Params::default()).expect("valid");
    let position = |v: SVector<f64, 4>| {
        let (x1, y1, x2, y2) = system.positions(&State::from_vector(&v));
        SVector::from([x1, y1, x2, y2])
    };
    let (coarse, fine) = (0.00125, 0.000625);
    let reference = position(integrate(seed_start(), fine / 32.0, 51_200));
    let e_coarse = (position(integrate(seed_start(), coarse, 800)) - reference).norm();
    let e_fine = (position(integrate(seed_start(), fine, 1600)) - reference).norm();
    let ratio = e_coarse / e_fine;
    assert!(
        (ratio - 16.0).abs() <= 4.0,
        "error ratio {ratio} ({e_coarse:e} / {e_fine:e})"
    );
}

/// Released at rest from θ1 = 10⁻³ rad, θ2 = 0, the pendulum follows the
/// linearised solution: a sum of the two normal modes. With m1 = m2 and
/// L1 = L2 = L they have ω² = (2 ∓ √2)·g/L and shapes (1, ±√2), so
/// θ1 = c1 cos ω₋t + c2 cos ω₊t and θ2 = √2 (c1 cos ω₋t − c2 cos ω₊t) with
/// c1 = c2 = θ1(0)/2. The nonlinear terms are O(θ³), a relative 10⁻⁶ here;
/// over 10 s they stay far below the bound of 10⁻⁴ of the amplitude.
#[test]
fn small_oscillations_follow_the_normal_modes() {
    let a = 1e-3;
    let g = Params::default().g;
    let w_slow = ((2.0 - std::f64::consts::SQRT_2) * g).sqrt();
    let w_fast = ((2.0 + std::f64::consts::SQRT_2) * g).sqrt();
    let system = DoublePendulum::new(Params::default()).expect("valid");
    let start = State::new(a, 0.0, 0.0, 0.0).expect("finite");
    let mut rk4 = Rk4::new(system, 0.0, start.to_vector(), 0.001).expect("valid");
    let tol = 1e-4 * a;
    let mut worst: f64 = 0.0;
    for _ in 0..10_000 {
        rk4.step();
        let t = rk4.t();
        let (slow, fast) = ((w_slow * t).cos(), (w_fast * t).cos());
        let theta1 = a / 2.0 * (slow + fast);
        let theta2 = a / 2.0 * std::f64::consts::SQRT_2 * (slow - fast);
        let y = rk4.state();
        assert_abs_diff_eq!(y[0], theta1, epsilon = tol);
        assert_abs_diff_eq!(y[2], theta2, epsilon = tol);
        worst = worst.max((y[0] - theta1).abs()).max((y[2] - theta2).abs());
    }
    assert!((rk4.t() - 10.0).abs() < 1e-9);
    assert!(worst > 0.0, "the nonlinear pendulum is not exactly linear");
}
