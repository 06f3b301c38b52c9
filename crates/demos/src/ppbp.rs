//! The `ppbp` demo.

use std::time::Duration;

use plotstream_ppbp::{Params, Ppbp, Sample};
use plotstream_protocol::{Figure, Write};
use serde_json::json;

use crate::{Clock, Demo, Error, Frame, TokenWrite, scatter, write_last};

/// How many points each trace keeps.
const KEEP: u64 = 1000;
/// The moving average's window, in slots (1 s at the default slot).
const WINDOW: usize = 100;

/// The Poisson–Pareto burst process as a live time series: the number of
/// active bursts each slot (trace 1) and its moving average over 100 slots
/// (trace 2), each keeping 1,000 points; a frame per slot.
#[derive(Debug)]
pub struct PpbpDemo {
    process: Ppbp,
    period: Duration,
    tokens: [String; 2],
    index: u64,
    window: Vec<u32>,
    sum: u64,
    last: Option<Sample>,
}

impl PpbpDemo {
    /// The process with `params`, seeded, with tokens `<prefix>-active` and
    /// `<prefix>-average`.
    pub fn new(prefix: &str, params: Params, seed: u64) -> Result<Self, Error> {
        Ok(PpbpDemo {
            process: Ppbp::seeded(params, seed)?,
            period: Duration::from_secs_f64(params.slot),
            tokens: [format!("{prefix}-active"), format!("{prefix}-average")],
            index: 0,
            window: vec![0; WINDOW],
            sum: 0,
            last: None,
        })
    }
}

impl Demo for PpbpDemo {
    fn name(&self) -> &'static str {
        "ppbp"
    }

    fn tokens(&self) -> &[String] {
        &self.tokens
    }

    fn figure(&self) -> Figure {
        let p = self.process.params();
        let active = scatter(&self.tokens[0], KEEP, "lines", "active bursts")
            .with("line", json!({"width": 1, "color": "#1f77b4"}));
        let average = scatter(
            &self.tokens[1],
            KEEP,
            "lines",
            format!("moving average ({WINDOW} slots)"),
        )
        .with("line", json!({"width": 3, "color": "#d62728"}));
        let layout = json!({
            "title": {"text": format!(
                "Poisson–Pareto burst process: λ = {}, H = {} (α = {:.1}), μ = {}",
                p.lambda, p.hurst, p.alpha(), p.mean
            )},
            "xaxis": {"title": {"text": "t"}},
            "yaxis": {"title": {"text": "active bursts"}, "rangemode": "tozero"},
            "legend": {"orientation": "h"},
        });
        Figure {
            data: vec![active, average],
            layout: layout.as_object().cloned(),
            ..Figure::default()
        }
    }

    fn period(&self) -> Duration {
        self.period
    }

    fn next_frame(&mut self, _clock: Clock, frame: &mut Frame) {
        let Some(s) = self.process.next() else {
            unreachable!("the process never ends")
        };
        self.last = Some(s);
        // The window fills over its first WINDOW slots; until then the mean
        // is over the slots seen.
        let slot = (self.index % WINDOW as u64) as usize;
        self.sum = self.sum - u64::from(self.window[slot]) + u64::from(s.active);
        self.window[slot] = s.active;
        let seen = (self.index + 1).min(WINDOW as u64) as f64;
        let average = self.sum as f64 / seen;
        frame.start(self.index, self.period);
        self.index += 1;
        let t = (s.t * 1e6).round() / 1e6;
        frame.writes.push(TokenWrite {
            token: 0,
            write: Write::xy(t, s.active),
        });
        frame.writes.push(TokenWrite {
            token: 1,
            write: Write::xy(t, average),
        });
    }

    fn write_samples(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        write_last(self.last.as_ref(), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotstream_protocol::{Mode, Update};

    #[test]
    fn two_appending_traces_and_a_moving_average() {
        let mut demo = PpbpDemo::new("p", Params::default(), 7).expect("valid");
        assert_eq!(demo.tokens(), ["p-active", "p-average"]);
        let mut reference = Ppbp::seeded(Params::default(), 7).expect("valid");
        let mut frame = Frame::default();
        let mut seen = Vec::new();
        for k in 0..250u32 {
            demo.next_frame(Clock::Simulated, &mut frame);
            let want = reference.next().expect("never ends");
            seen.push(f64::from(want.active));
            let active = &frame.writes[0].write;
            assert_eq!(active.mode("y"), Some(Mode::Append));
            assert_eq!(active.y, Some(Update::append(want.active)));
            let tail = &seen[seen.len().saturating_sub(WINDOW)..];
            let mean = tail.iter().sum::<f64>() / tail.len() as f64;
            let Some(Update::Append(avg)) = &frame.writes[1].write.y else {
                panic!("appends")
            };
            assert!(
                (avg.as_f64().unwrap_or(f64::NAN) - mean).abs() < 1e-9,
                "slot {k}"
            );
        }
        let fig = serde_json::to_value(demo.figure()).expect("serialises");
        assert_eq!(fig["data"][0]["stream"]["maxpoints"], 1000);
        assert_eq!(fig["data"][0]["mode"], "lines");
    }

    #[test]
    fn samples_are_t_and_active() {
        let mut demo = PpbpDemo::new("p", Params::default(), 7).expect("valid");
        demo.next_frame(Clock::Simulated, &mut Frame::default());
        let mut out = Vec::new();
        demo.write_samples(&mut out).expect("encodes");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(
            v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["active".to_owned(), "t".to_owned()])
        );
    }
}
