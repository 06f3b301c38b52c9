//! [`Stages`]: a value ramped linearly from target to target over time, as
//! k6's ramping executors do: `30s:100,2m:1000,30s:0` goes from where it
//! starts to 100 over 30 s, on to 1,000 over 2 min, and down to 0 over
//! 30 s. `--stages` ramps the open streams (from 0), `--rate-stages` each
//! stream's rate (from `--rate`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::flags::duration_or_zero as parse_duration;

/// The most stages a schedule takes.
const MAX_STAGES: usize = 1_000;

/// The most streams a stage may ask for.
pub(crate) const MAX_STAGE_STREAMS: f64 = 10_000_000.0;

/// One stage: reach `target` over `duration` seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stage {
    duration: f64,
    target: f64,
}

/// A value ramped linearly through stages, each `duration:target`.
#[derive(Clone, Debug, PartialEq)]
pub struct Stages {
    /// Where the first stage starts from.
    start: f64,
    stages: Vec<Stage>,
    /// What the text said, for the report.
    text: String,
}

impl fmt::Display for Stages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Stages {
    type Err = String;

    /// Parses `D:T,D:T,…` (durations as `--duration` takes them, targets
    /// numbers of zero or more).
    fn from_str(s: &str) -> Result<Self, String> {
        let mut stages = Vec::new();
        for part in s.split(',').map(str::trim) {
            let bad = |why: &str| {
                format!(
                    "{s:?}: stage {part:?} {why}; give stages as DURATION:TARGET, such as 30s:100,2m:1000,30s:0"
                )
            };
            let (d, t) = part.split_once(':').ok_or_else(|| bad("has no ':'"))?;
            let duration =
                parse_duration(d).map_err(|e| bad(&format!("has a bad duration ({e})")))?;
            let target: f64 = t
                .trim()
                .replace('_', "")
                .parse()
                .map_err(|_| bad("has a target that is not a number"))?;
            if !target.is_finite() || target < 0.0 {
                return Err(bad("has a target below zero"));
            }
            stages.push(Stage {
                duration: duration.as_secs_f64(),
                target,
            });
            if stages.len() > MAX_STAGES {
                return Err(format!("{s:?}: more than {MAX_STAGES} stages"));
            }
        }
        let total: f64 = stages.iter().map(|s| s.duration).sum();
        if total <= 0.0 {
            return Err(format!(
                "{s:?}: the stages last no time; give at least one stage longer than zero"
            ));
        }
        Ok(Stages {
            start: 0.0,
            stages,
            text: s.trim().to_owned(),
        })
    }
}

/// Parses `--stages`: stages of whole numbers of streams.
pub(crate) fn stream_stages(s: &str) -> Result<Stages, String> {
    let stages: Stages = s.parse()?;
    if let Some(bad) = stages
        .stages
        .iter()
        .find(|st| st.target.fract() != 0.0 || st.target > MAX_STAGE_STREAMS)
    {
        return Err(format!(
            "{s:?}: {} is not a number of streams (a whole number up to {MAX_STAGE_STREAMS})",
            bad.target
        ));
    }
    if stages.max() < 1.0 {
        return Err(format!(
            "{s:?}: the stages never open a stream; give a stage with a target of 1 or more"
        ));
    }
    Ok(stages)
}

impl Stages {
    /// These stages, starting from `start` instead of 0.
    #[must_use]
    pub(crate) fn starting_at(mut self, start: f64) -> Self {
        self.start = start;
        self
    }

    /// How long the stages last.
    pub fn total(&self) -> Duration {
        Duration::from_secs_f64(self.stages.iter().map(|s| s.duration).sum())
    }

    /// The segments: (start time, length, value at its start, at its end).
    fn segments(&self) -> impl Iterator<Item = (f64, f64, f64, f64)> + '_ {
        let (mut at, mut from) = (0.0, self.start);
        self.stages.iter().map(move |s| {
            let seg = (at, s.duration, from, s.target);
            at += s.duration;
            from = s.target;
            seg
        })
    }

    /// The value at `t` s; after the last stage, its target.
    pub fn value(&self, t: f64) -> f64 {
        let mut last = self.start;
        for (a, len, p, q) in self.segments() {
            if t < a + len {
                return p + (q - p) * ((t - a) / len).max(0.0);
            }
            last = q;
        }
        last
    }

    /// The largest value the stages reach.
    pub fn max(&self) -> f64 {
        self.stages
            .iter()
            .map(|s| s.target)
            .fold(self.start, f64::max)
    }

    /// The times (s, within the stages) at which the value is at least
    /// `level`, as sorted, disjoint intervals.
    pub(crate) fn at_least(&self, level: f64) -> Vec<(f64, f64)> {
        let mut out: Vec<(f64, f64)> = Vec::new();
        for (a, len, p, q) in self.segments() {
            if len <= 0.0 {
                continue; // a jump: the next segment starts from its target
            }
            let b = a + len;
            // Where the ramp crosses `level` (only asked when p ≠ q).
            let crossing = || a + (level - p) / (q - p) * len;
            let span = match (p >= level, q >= level) {
                (true, true) => Some((a, b)),
                (false, true) => Some((crossing(), b)),
                (true, false) => Some((a, crossing())),
                (false, false) => None,
            };
            let Some((from, to)) = span.filter(|(f, t)| t > f) else {
                continue;
            };
            match out.last_mut() {
                Some(last) if (from - last.1).abs() < 1e-9 => last.1 = to,
                _ => out.push((from, to)),
            }
        }
        out
    }

    /// ∫₀ᵗ value: with a rate, the writes due by `t`.
    #[cfg(test)]
    pub(crate) fn integral(&self, t: f64) -> f64 {
        let mut sum = 0.0;
        for (a, len, p, q) in self.segments() {
            let s = (t - a).clamp(0.0, len);
            if len > 0.0 {
                sum += p * s + (q - p) * s * s / (2.0 * len);
            }
        }
        sum
    }

    /// The first time `t` at which ∫₀ᵗ value reaches `w`: with a rate, when
    /// the `w`-th write is due. `None` past the last stage.
    pub(crate) fn inverse_integral(&self, w: f64) -> Option<f64> {
        if w <= 0.0 {
            return Some(0.0);
        }
        let mut left = w;
        for (a, len, p, q) in self.segments() {
            if len <= 0.0 {
                continue;
            }
            let area = (p + q) / 2.0 * len;
            if left <= area && area > 0.0 {
                // p·s + (q − p)s²/(2·len) = left, solved in the form that
                // stays exact when q = p.
                let root = (p * p + 2.0 * (q - p) * left / len).max(0.0).sqrt();
                let s = 2.0 * left / (p + root);
                return Some(a + s.min(len));
            }
            left -= area;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_parse_and_refuse_with_reasons() {
        let s: Stages = "30s:100, 2m:1000,30s:0".parse().expect("stages");
        assert_eq!(s.total(), Duration::from_secs(180));
        assert_eq!(s.to_string(), "30s:100, 2m:1000,30s:0");
        for (bad, says) in [
            ("30s", "no ':'"),
            ("x:1", "bad duration"),
            ("1s:-1", "below zero"),
            ("1s:many", "not a number"),
            ("0s:5", "last no time"),
        ] {
            let err = bad.parse::<Stages>().expect_err(bad);
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert!(stream_stages("1s:2.5").is_err());
        assert!(stream_stages("1s:1e9").is_err());
        assert!(stream_stages("1s:2,1s:0").is_ok());
        assert!(stream_stages("1s:0").is_err(), "no stream at all");
    }

    #[test]
    fn the_value_ramps_linearly_and_holds_after_the_end() {
        let s: Stages = "10s:100,10s:100,0s:20,10s:0".parse().expect("stages");
        assert_eq!(s.value(0.0), 0.0);
        assert_eq!(s.value(5.0), 50.0);
        assert_eq!(s.value(15.0), 100.0);
        assert_eq!(s.value(20.0), 20.0, "a stage of no time jumps");
        assert_eq!(s.value(25.0), 10.0);
        assert_eq!(s.value(99.0), 0.0);
        assert_eq!(s.max(), 100.0);
        let r = "10s:20"
            .parse::<Stages>()
            .expect("stages")
            .starting_at(10.0);
        assert_eq!(r.value(5.0), 15.0);
    }

    #[test]
    fn intervals_at_or_above_a_level_follow_the_ramps() {
        let s: Stages = "10s:10,10s:10,10s:0,10s:10".parse().expect("stages");
        let near = |a: &[(f64, f64)], b: &[(f64, f64)]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|(x, y)| (x.0 - y.0).abs() < 1e-9 && (x.1 - y.1).abs() < 1e-9)
        };
        // Stream 0 opens when one stream is due (t = 1 s), and closes when
        // fewer than one is (t = 29 s), then opens again at 31 s.
        let got = s.at_least(1.0);
        assert!(near(&got, &[(1.0, 29.0), (31.0, 40.0)]), "{got:?}");
        let got = s.at_least(10.0);
        assert!(near(&got, &[(10.0, 20.0)]), "{got:?}");
        assert!(s.at_least(11.0).is_empty());
    }

    #[test]
    fn the_inverse_integral_inverts_the_integral() {
        let s = "10s:50,5s:50,10s:0,3s:0,2s:8"
            .parse::<Stages>()
            .expect("stages")
            .starting_at(10.0);
        for k in 1..=1000 {
            let w = f64::from(k) * 0.7;
            match s.inverse_integral(w) {
                Some(t) => {
                    assert!((s.integral(t) - w).abs() < 1e-6, "w {w}: t {t}");
                    assert!(
                        !(25.0 + 1e-6..28.0).contains(&t),
                        "no write is due while the rate is 0: {t}"
                    );
                }
                None => assert!(w > s.integral(30.0) - 1e-9, "w {w}"),
            }
        }
        assert_eq!(s.inverse_integral(0.0), Some(0.0));
    }

    proptest::proptest! {
        /// Whatever the text, parsing answers (a value or a reason) and
        /// never panics.
        #[test]
        fn any_text_parses_or_is_refused(text in "\\PC{0,40}") {
            let _ = text.parse::<Stages>();
            let _ = stream_stages(&text);
        }

        /// Stages written out parse back: they last their durations, reach
        /// each target at the end of its stage, and the intervals at or
        /// above a level hold exactly the times whose value is.
        #[test]
        fn written_stages_parse_back(
            stages in proptest::collection::vec((1u32..100, 0u32..50), 1..8),
            level in 1u32..50,
        ) {
            let text: Vec<String> = stages.iter().map(|(d, t)| format!("{d}s:{t}")).collect();
            let parsed: Stages = text.join(",").parse().expect("valid stages");
            let total: u32 = stages.iter().map(|s| s.0).sum();
            proptest::prop_assert_eq!(parsed.total(), Duration::from_secs(u64::from(total)));
            let mut at = 0;
            for &(d, t) in &stages {
                at += d;
                proptest::prop_assert!((parsed.value(f64::from(at) - 1e-9) - f64::from(t)).abs() < 1e-6);
            }
            let open = parsed.at_least(f64::from(level));
            for tenth in 0..total * 10 {
                let t = f64::from(tenth) / 10.0 + 0.05;
                let inside = open.iter().any(|&(a, b)| a <= t && t < b);
                let value = parsed.value(t);
                // Away from the crossings, where rounding decides.
                if (value - f64::from(level)).abs() > 1e-6 {
                    proptest::prop_assert_eq!(inside, value >= f64::from(level), "t {} value {}", t, value);
                }
            }
        }
    }
}
