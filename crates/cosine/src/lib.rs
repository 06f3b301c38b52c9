//! A seeded, never-ending noisy cosine: the first demo of Plotly's streaming
//! tutorials.
//!
//! Sample `i` is `y = cos(k·i/50) · cos(i/50) + σ·N(0, 1)`, with `k = 5` and
//! `σ = 1` by default: a beat of two cosines drowned in Gaussian noise.
//! [`NoisyCosine`] is an [`Iterator`] of [`Sample`]s that never ends; it is
//! pure (no clock, no I/O) and allocates nothing per sample, and the same seed
//! gives the same samples.
//!
//! # Example
//!
//! ```
//! use plotstream_cosine::{NoisyCosine, Params, signal};
//!
//! let mut samples = NoisyCosine::seeded(Params::default(), 7)?;
//! let first = samples.next().expect("never ends");
//! assert_eq!(first.i, 0);
//!
//! // Without noise the signal is the beat alone.
//! let clean = NoisyCosine::seeded(Params { sigma: 0.0, ..Params::default() }, 7)?;
//! for s in clean.take(100) {
//!     assert!((s.y - signal(5.0, s.i)).abs() < 1e-12);
//! }
//!
//! // Parameters are checked.
//! let err = NoisyCosine::seeded(Params { sigma: -1.0, ..Params::default() }, 7).unwrap_err();
//! assert_eq!(err.to_string(), "sigma must be finite and not negative, got -1");
//! # Ok::<(), plotstream_cosine::Error>(())
//! ```
#![deny(missing_docs)]

use std::iter::FusedIterator;

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

/// The generator used by [`NoisyCosine::seeded`]: Xoshiro256++, a named
/// algorithm whose output will not change under us, so tapes stay reproducible.
pub type DefaultRng = Xoshiro256PlusPlus;

/// The noisy cosine's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Params {
    /// The beat factor `k`: the fast cosine is `cos(k·i/50)`. Default 5.
    pub k: f64,
    /// The noise's standard deviation `σ`. Default 1.
    pub sigma: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { k: 5.0, sigma: 1.0 }
    }
}

/// A parameter that [`NoisyCosine::new`] refuses.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `k` is NaN or infinite.
    #[error("k must be a finite number, got {0}")]
    K(f64),
    /// `σ` is negative, NaN or infinite.
    #[error("sigma must be finite and not negative, got {0}")]
    Sigma(f64),
}

/// One sample: its index and value.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// The sample's index, from 0.
    pub i: u64,
    /// `cos(k·i/50) · cos(i/50) + σ·N(0, 1)`.
    pub y: f64,
}

/// How often the rotating phasors are re-anchored to exact `sin_cos` values.
/// Between anchors rounding error grows by about one ulp per step, so it stays
/// near `ANCHOR_EVERY · 2⁻⁵³ ≈ 3·10⁻¹⁴`.
const ANCHOR_EVERY: u64 = 256;

/// `(cos θ, sin θ)`, turned by a fixed angle each step.
#[derive(Clone, Copy, Debug)]
struct Phasor {
    cos: f64,
    sin: f64,
}

impl Phasor {
    fn at(angle: f64) -> Self {
        let (sin, cos) = angle.sin_cos();
        Phasor { cos, sin }
    }

    /// Turns by the angle whose phasor is `by`.
    #[inline]
    fn turn(&mut self, by: Phasor) {
        let cos = self.cos * by.cos - self.sin * by.sin;
        self.sin = self.sin * by.cos + self.cos * by.sin;
        self.cos = cos;
    }
}

/// The never-ending noisy cosine.
///
/// The two cosines are not called per sample: two phasors turn by `k/50` and
/// `1/50` each step (four multiplications each) and are set back to exact
/// values every 256 samples, so a sample costs a few multiplications and one
/// normal draw. The result agrees with [`signal`] to about 10⁻¹³.
#[derive(Clone, Debug)]
pub struct NoisyCosine<R = DefaultRng> {
    k: f64,
    sigma: f64,
    i: u64,
    fast: Phasor,
    slow: Phasor,
    fast_step: Phasor,
    slow_step: Phasor,
    rng: R,
}

impl NoisyCosine<DefaultRng> {
    /// A noisy cosine drawing its noise from [`DefaultRng`] seeded with `seed`,
    /// or the reason `params` are invalid.
    pub fn seeded(params: Params, seed: u64) -> Result<Self, Error> {
        Self::new(params, DefaultRng::seed_from_u64(seed))
    }
}

/// The noise-free signal at index `i`: `cos(k·i/50) · cos(i/50)`.
#[inline]
pub fn signal(k: f64, i: u64) -> f64 {
    let phase = i as f64 / 50.0;
    (k * phase).cos() * phase.cos()
}

impl<R: Rng> NoisyCosine<R> {
    /// A noisy cosine drawing its noise from `rng`; it refuses a non-finite
    /// `k` and a negative or non-finite `σ`.
    pub fn new(params: Params, rng: R) -> Result<Self, Error> {
        if !params.k.is_finite() {
            return Err(Error::K(params.k));
        }
        if !(params.sigma.is_finite() && params.sigma >= 0.0) {
            return Err(Error::Sigma(params.sigma));
        }
        Ok(NoisyCosine {
            k: params.k,
            sigma: params.sigma,
            i: 0,
            fast: Phasor::at(0.0),
            slow: Phasor::at(0.0),
            fast_step: Phasor::at(params.k / 50.0),
            slow_step: Phasor::at(1.0 / 50.0),
            rng,
        })
    }

    /// The parameters.
    pub fn params(&self) -> Params {
        Params {
            k: self.k,
            sigma: self.sigma,
        }
    }
}

impl<R: Rng> Iterator for NoisyCosine<R> {
    type Item = Sample;

    #[inline]
    fn next(&mut self) -> Option<Sample> {
        let i = self.i;
        self.i += 1;
        if i.is_multiple_of(ANCHOR_EVERY) {
            let phase = i as f64 / 50.0;
            self.fast = Phasor::at(self.k * phase);
            self.slow = Phasor::at(phase);
        }
        let beat = self.fast.cos * self.slow.cos;
        self.fast.turn(self.fast_step);
        self.slow.turn(self.slow_step);
        let noise: f64 = StandardNormal.sample(&mut self.rng);
        Some(Sample {
            i,
            y: beat + self.sigma * noise,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl<R: Rng> FusedIterator for NoisyCosine<R> {}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn refuses_bad_parameters() {
        let with = |k, sigma| NoisyCosine::seeded(Params { k, sigma }, 1).map(|c| c.params());
        assert_eq!(
            with(f64::NAN, 1.0).map_err(|e| matches!(e, Error::K(_))),
            Err(true)
        );
        assert_eq!(
            with(f64::INFINITY, 1.0).map_err(|e| matches!(e, Error::K(_))),
            Err(true)
        );
        assert_eq!(with(5.0, -0.1), Err(Error::Sigma(-0.1)));
        assert_eq!(with(5.0, f64::INFINITY), Err(Error::Sigma(f64::INFINITY)));
        assert!(matches!(with(5.0, f64::NAN), Err(Error::Sigma(_))));
        assert_eq!(
            with(-3.0, 0.0),
            Ok(Params {
                k: -3.0,
                sigma: 0.0
            })
        );
        assert_eq!(
            Error::K(f64::NAN).to_string(),
            "k must be a finite number, got NaN"
        );
    }

    /// The phasors must track the exact formula, anchors and all, far out.
    ///
    /// The formula is itself only as exact as its angle: `k·i/50` is rounded
    /// to within an ulp, about `2⁻⁵² · |k|·i/50` radians, which at i = 10⁶ and
    /// k = 37 is 10⁻¹⁰. So the tolerance is 10⁻¹² plus four such ulps.
    #[test]
    fn rotation_matches_the_formula() {
        for k in [5.0, 0.0, -2.5, 37.0] {
            let clean = NoisyCosine::seeded(Params { k, sigma: 0.0 }, 3).expect("valid");
            for s in clean.take(1_000_000) {
                let angle = (f64::abs(k) + 1.0) * s.i as f64 / 50.0;
                let tol = 1e-12 + 4.0 * f64::EPSILON * angle;
                assert_abs_diff_eq!(s.y, signal(k, s.i), epsilon = tol);
            }
        }
    }

    #[test]
    fn indices_count_up_from_zero_and_never_end() {
        let mut c = NoisyCosine::seeded(Params::default(), 0).expect("valid");
        assert_eq!(c.size_hint(), (usize::MAX, None));
        let idx: Vec<u64> = c.by_ref().take(5).map(|s| s.i).collect();
        assert_eq!(idx, [0, 1, 2, 3, 4]);
        assert_eq!(c.nth(1000).map(|s| s.i), Some(1005));
    }
}
