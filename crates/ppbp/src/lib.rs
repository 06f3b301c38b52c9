//! The Poisson–Pareto burst process (PPBP): heavy-tailed traffic that never
//! ends.
//!
//! Bursts arrive as a Poisson process of rate λ; each lasts a Pareto
//! duration of shape α = 3 − 2H (so 1 < α < 2 for a Hurst exponent
//! 0.5 < H < 1) and mean μ. The streamed value is the number of bursts
//! active in each time slot; its mean is λμ, and it is long-range
//! dependent with Hurst exponent H: the standard model of self-similar
//! network traffic.
//!
//! [`Ppbp`] starts in the stationary regime, with no warm-up transient:
//! Poisson(λμ) bursts are already active at t = 0, each with a residual
//! lifetime drawn from the equilibrium (residual-life) distribution of the
//! Pareto. Memory grows with the number of active bursts only (a heap of end
//! times), and a slot allocates nothing once the heap has grown.
//!
//! # Example
//!
//! ```
//! use plotstream_ppbp::{Params, Ppbp};
//!
//! let params = Params::default(); // λ = 10, H = 0.8, μ = 4, slot 0.01, r = 1
//! assert_eq!(params.alpha(), 1.4);
//! let mut traffic = Ppbp::seeded(params, 7)?;
//! let first = traffic.next().expect("never ends");
//! assert_eq!(first.t, 0.0);
//! let mean = traffic.by_ref().take(100_000).map(|s| f64::from(s.active)).sum::<f64>() / 1e5;
//! assert!(mean > 20.0 && mean < 60.0, "about λμ = 40: {mean}");
//!
//! // Parameters are checked.
//! let err = Ppbp::seeded(Params { hurst: 1.0, ..Params::default() }, 7).unwrap_err();
//! assert_eq!(err.to_string(), "the Hurst exponent must be in (0.5, 1), got 1");
//! # Ok::<(), plotstream_ppbp::Error>(())
//! ```
#![deny(missing_docs)]

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::iter::FusedIterator;

use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, Exp, Poisson};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

/// The generator used by [`Ppbp::seeded`]: Xoshiro256++, a named algorithm,
/// so the same seed gives the same traffic tomorrow.
pub type DefaultRng = Xoshiro256PlusPlus;

/// What [`Ppbp::new`] refuses.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// H outside (0.5, 1): α = 3 − 2H would leave (1, 2).
    #[error("the Hurst exponent must be in (0.5, 1), got {0}")]
    Hurst(f64),
    /// λ, μ, the slot or r not a positive finite number.
    #[error("{name} must be a positive finite number, got {value}")]
    Param {
        /// Which parameter.
        name: &'static str,
        /// Its value.
        value: f64,
    },
}

/// The one rule for a Hurst exponent H of Pareto-tailed traffic: above
/// 0.5 and below 1, so that the Pareto shape α = 3 − 2H lies in (1, 2)
/// (finite mean, infinite variance: long-range dependence). Returns H.
///
/// ```
/// assert_eq!(plotstream_ppbp::check_hurst(0.8), Ok(0.8));
/// assert!(plotstream_ppbp::check_hurst(0.5).is_err());
/// assert!(plotstream_ppbp::check_hurst(f64::NAN).is_err());
/// ```
pub fn check_hurst(hurst: f64) -> Result<f64, Error> {
    if hurst > 0.5 && hurst < 1.0 {
        Ok(hurst)
    } else {
        Err(Error::Hurst(hurst))
    }
}

/// The process's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Params {
    /// λ: bursts per unit of time. Default 10.
    pub lambda: f64,
    /// H: the Hurst exponent, in (0.5, 1). Default 0.8 (α = 1.4).
    pub hurst: f64,
    /// μ: the mean burst duration. Default 4.
    pub mean: f64,
    /// The slot: time between samples. Default 0.01.
    pub slot: f64,
    /// r: the traffic rate of one burst, for [`Sample::rate`]. Default 1.
    pub rate: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            lambda: 10.0,
            hurst: 0.8,
            mean: 4.0,
            slot: 0.01,
            rate: 1.0,
        }
    }
}

impl Params {
    /// The Pareto shape α = 3 − 2H.
    pub fn alpha(&self) -> f64 {
        3.0 - 2.0 * self.hurst
    }

    /// The Pareto scale (the shortest burst): x_m = μ(α − 1)/α.
    pub fn scale(&self) -> f64 {
        let a = self.alpha();
        self.mean * (a - 1.0) / a
    }

    /// Checks H ([`check_hurst`]) and that λ, μ, the slot and r are
    /// positive and finite.
    pub fn validate(&self) -> Result<(), Error> {
        check_hurst(self.hurst)?;
        for (name, value) in [
            ("lambda", self.lambda),
            ("mean", self.mean),
            ("slot", self.slot),
            ("rate", self.rate),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(Error::Param { name, value });
            }
        }
        Ok(())
    }
}

/// One slot.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Sample {
    /// The slot's time: its index × the slot.
    pub t: f64,
    /// Bursts active at `t`.
    pub active: u32,
    /// The traffic rate: `active × r`.
    #[serde(skip)]
    pub rate: f64,
}

/// An end time, ordered (end times are finite).
#[derive(Clone, Copy, Debug, PartialEq)]
struct End(f64);

impl Eq for End {}

impl PartialOrd for End {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for End {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The never-ending PPBP: one [`Sample`] per slot.
#[derive(Clone, Debug)]
pub struct Ppbp<R = DefaultRng> {
    params: Params,
    alpha: f64,
    scale: f64,
    rng: R,
    gaps: Exp<f64>,
    /// End times of the active bursts, soonest first.
    ends: BinaryHeap<Reverse<End>>,
    next_arrival: f64,
    slot: u64,
    arrivals: u64,
}

impl Ppbp<DefaultRng> {
    /// The process drawing from [`DefaultRng`] seeded with `seed`.
    pub fn seeded(params: Params, seed: u64) -> Result<Self, Error> {
        Ppbp::new(params, DefaultRng::seed_from_u64(seed))
    }
}

impl<R: Rng> Ppbp<R> {
    /// The process drawing from `rng`, started in its stationary regime.
    pub fn new(params: Params, mut rng: R) -> Result<Self, Error> {
        params.validate()?;
        let (alpha, scale) = (params.alpha(), params.scale());
        let gaps = Exp::new(params.lambda).map_err(|_| Error::Param {
            name: "lambda",
            value: params.lambda,
        })?;
        let start = Poisson::new(params.lambda * params.mean).map_err(|_| Error::Param {
            name: "lambda × mean",
            value: params.lambda * params.mean,
        })?;
        let initial = start.sample(&mut rng) as usize;
        let mut ends = BinaryHeap::with_capacity(initial * 2 + 16);
        for _ in 0..initial {
            let u: f64 = rng.random();
            ends.push(Reverse(End(residual(u, alpha, scale, params.mean))));
        }
        let next_arrival = gaps.sample(&mut rng);
        Ok(Ppbp {
            params,
            alpha,
            scale,
            rng,
            gaps,
            ends,
            next_arrival,
            slot: 0,
            arrivals: 0,
        })
    }

    /// The parameters.
    pub fn params(&self) -> Params {
        self.params
    }

    /// Bursts that arrived after t = 0, so far.
    pub fn arrivals(&self) -> u64 {
        self.arrivals
    }

    /// Bursts active now.
    pub fn active(&self) -> usize {
        self.ends.len()
    }
}

/// A residual lifetime from the equilibrium distribution of a Pareto of
/// shape α, scale x_m and mean μ, by inverting its CDF at `u` ∈ [0, 1):
/// F(r) = r/μ up to x_m, then 1 − (x_m/μ)/(α − 1) · (x_m/r)^(α−1).
fn residual(u: f64, alpha: f64, scale: f64, mean: f64) -> f64 {
    if u * alpha <= alpha - 1.0 {
        u * mean
    } else {
        scale * (alpha * (1.0 - u)).powf(-1.0 / (alpha - 1.0))
    }
}

/// A Pareto duration of shape α and scale x_m, by inversion at `u` ∈ [0, 1).
fn pareto(u: f64, alpha: f64, scale: f64) -> f64 {
    scale * (1.0 - u).powf(-1.0 / alpha)
}

impl<R: Rng> Iterator for Ppbp<R> {
    type Item = Sample;

    #[inline]
    fn next(&mut self) -> Option<Sample> {
        let t = self.slot as f64 * self.params.slot;
        self.slot += 1;
        // Bursts that started by t ...
        while self.next_arrival <= t {
            let u: f64 = self.rng.random();
            let end = self.next_arrival + pareto(u, self.alpha, self.scale);
            self.ends.push(Reverse(End(end)));
            self.arrivals += 1;
            self.next_arrival += self.gaps.sample(&mut self.rng);
        }
        // ... less those that ended by t.
        while self.ends.peek().is_some_and(|Reverse(End(end))| *end <= t) {
            self.ends.pop();
        }
        let active = self.ends.len() as u32;
        Some(Sample {
            t,
            active,
            rate: f64::from(active) * self.params.rate,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl<R: Rng> FusedIterator for Ppbp<R> {}

/// The aggregated-variance estimate of the Hurst exponent of a series of
/// counts: the variance of the means of blocks of `m` values falls as
/// m^(2H−2), so H = 1 + slope/2 of log variance against log m, fitted by
/// least squares over 12 block sizes spaced evenly in log from `lo` to `hi`
/// values.
///
/// `None` when a block size leaves fewer than 2 blocks, or a variance is
/// zero (a series with no variation has no Hurst exponent). Choose `lo` well
/// above the shortest burst: below it, counts are smooth over a block and
/// the estimate tends to 1.
///
/// ```
/// // Independent counts: short-range, H = 0.5.
/// let mut x = 1u64;
/// let xs: Vec<f64> = (0..100_000)
///     .map(|_| { x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (x >> 60) as f64 })
///     .collect();
/// let h = plotstream_ppbp::aggregated_variance_hurst(&xs, 10, 1_000).unwrap();
/// assert!((h - 0.5).abs() < 0.1, "{h}");
/// ```
pub fn aggregated_variance_hurst(xs: &[f64], lo: usize, hi: usize) -> Option<f64> {
    let points = variance_time(xs, lo, hi)?;
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (sxx, sxy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x * x, b + x * y));
    let slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    Some(1.0 + slope / 2.0)
}

/// The variance–time plot behind [`aggregated_variance_hurst`]: for 12
/// block sizes m spaced evenly in log from `lo` to `hi`, `(ln m, ln Var)`
/// of the means of blocks of m values. Short-range traffic falls with
/// slope −1 (H = 0.5); self-similar traffic more slowly, slope 2H − 2.
/// `None` as for [`aggregated_variance_hurst`].
pub fn variance_time(xs: &[f64], lo: usize, hi: usize) -> Option<Vec<(f64, f64)>> {
    if lo == 0 || hi < lo {
        return None;
    }
    let (lo, hi) = (lo as f64, hi as f64);
    let mut points = Vec::with_capacity(12);
    for i in 0..12 {
        let m = (lo * (hi / lo).powf(f64::from(i) / 11.0)).round() as usize;
        let means: Vec<f64> = xs
            .chunks_exact(m.max(1))
            .map(|b| b.iter().sum::<f64>() / b.len() as f64)
            .collect();
        if means.len() < 2 {
            return None;
        }
        let n = means.len() as f64;
        let mu = means.iter().sum::<f64>() / n;
        let var = means.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (n - 1.0);
        if var <= 0.0 {
            return None;
        }
        points.push(((m as f64).ln(), var.ln()));
    }
    Some(points)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked() {
        let with = |p: Params| Ppbp::seeded(p, 1).map(|x| x.params());
        let d = Params::default();
        for h in [0.5, 1.0, 0.2, f64::NAN] {
            assert!(
                matches!(with(Params { hurst: h, ..d }), Err(Error::Hurst(_))),
                "{h}"
            );
        }
        assert_eq!(
            with(Params { lambda: 0.0, ..d }),
            Err(Error::Param {
                name: "lambda",
                value: 0.0
            })
        );
        assert_eq!(
            with(Params { mean: -4.0, ..d }),
            Err(Error::Param {
                name: "mean",
                value: -4.0
            })
        );
        assert!(matches!(
            with(Params {
                slot: f64::INFINITY,
                ..d
            }),
            Err(Error::Param { name: "slot", .. })
        ));
        assert!(matches!(
            with(Params { rate: 0.0, ..d }),
            Err(Error::Param { name: "rate", .. })
        ));
        assert_eq!(with(d), Ok(d));
    }

    /// The residual-life CDF is continuous at x_m and its inverse is
    /// monotone; the mean of a Pareto of scale x_m(α−1)/α… is μ.
    #[test]
    fn the_inversions_are_right() {
        let p = Params::default();
        let (a, xm, mu) = (p.alpha(), p.scale(), p.mean);
        assert!(
            (a * xm / (a - 1.0) - mu).abs() < 1e-12,
            "the Pareto's mean is μ"
        );
        let knee = (a - 1.0) / a;
        assert!(
            (residual(knee, a, xm, mu) - xm).abs() < 1e-12,
            "continuous at x_m"
        );
        let mut last = 0.0;
        for i in 0..1000 {
            let r = residual(f64::from(i) / 1000.0, a, xm, mu);
            assert!(r >= last, "monotone");
            last = r;
        }
        assert_eq!(pareto(0.0, a, xm), xm, "the shortest burst is x_m");
    }

    #[test]
    fn slots_are_evenly_spaced_and_counts_match_the_heap() {
        let mut p = Ppbp::seeded(Params::default(), 3).expect("valid");
        for k in 0..1000u32 {
            let s = p.next().expect("never ends");
            assert!((s.t - f64::from(k) * 0.01).abs() < 1e-9);
            assert_eq!(s.active as usize, p.active());
            assert_eq!(s.rate, f64::from(s.active));
        }
        assert!(p.arrivals() > 0);
    }
}
