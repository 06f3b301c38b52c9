//! The `noisy-cosine` demo.

use std::time::Duration;

use plotstream_cosine::{NoisyCosine, Params, Sample};
use plotstream_protocol::{Figure, Scalar, Update, Write};
use serde_json::json;

use crate::{Clock, Demo, Error, Frame, TokenWrite, scatter, write_last};

/// How many points the trace keeps, as in the tutorial.
const MAXPOINTS: u64 = 80;
/// A point every 80 ms.
const PERIOD: Duration = Duration::from_millis(80);

/// The noisy cosine of Plotly's streaming tutorial: one scatter trace,
/// lines and markers, keeping its last 80 points, a point every 80 ms.
///
/// x is the sample index under [`Clock::Simulated`] and the wall-clock time
/// (`YYYY-mm-dd HH:MM:SS.ffffff`) under [`Clock::Wall`].
#[derive(Debug)]
pub struct NoisyCosineDemo {
    samples: NoisyCosine,
    tokens: [String; 1],
    last: Option<Sample>,
}

impl NoisyCosineDemo {
    /// The demo with the default parameters (k = 5, σ = 1), writing to `token`.
    pub fn new(seed: u64, token: &str) -> Result<Self, Error> {
        Self::with_params(Params::default(), seed, token)
    }

    /// The demo with the given parameters.
    pub fn with_params(params: Params, seed: u64, token: &str) -> Result<Self, Error> {
        Ok(NoisyCosineDemo {
            samples: NoisyCosine::seeded(params, seed)?,
            tokens: [token.to_owned()],
            last: None,
        })
    }
}

impl Demo for NoisyCosineDemo {
    fn name(&self) -> &'static str {
        "noisy-cosine"
    }

    fn tokens(&self) -> &[String] {
        &self.tokens
    }

    fn figure(&self) -> Figure {
        let k = self.samples.params().k;
        let trace = scatter(&self.tokens[0], MAXPOINTS, "lines+markers", "noisy cosine");
        let layout = json!({
            "title": {"text": format!("Noisy cosine: cos({k}·i/50)·cos(i/50) + N(0, σ²)")},
            "xaxis": {"title": {"text": "time"}},
            "yaxis": {"title": {"text": "y"}},
        });
        Figure {
            data: vec![trace],
            layout: layout.as_object().cloned(),
            ..Figure::default()
        }
    }

    fn period(&self) -> Duration {
        PERIOD
    }

    fn next_frame(&mut self, clock: Clock, frame: &mut Frame) {
        let Some(sample) = self.samples.next() else {
            unreachable!("the noisy cosine never ends")
        };
        self.last = Some(sample);
        frame.start(sample.i, PERIOD);
        let x = match clock {
            Clock::Simulated => Scalar::from(sample.i),
            Clock::Wall(now) => Scalar::String(now.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
        };
        frame.writes.push(TokenWrite {
            token: 0,
            write: Write {
                x: Some(Update::Append(x)),
                y: Some(Update::append(sample.y)),
                ..Write::default()
            },
        });
    }

    fn write_samples(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        write_last(self.last.as_ref(), out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use plotstream_protocol::{Mode, StreamSpec};

    #[test]
    fn the_figure_is_the_tutorials() {
        let demo = NoisyCosineDemo::new(0, "tok").expect("valid");
        let fig = demo.figure();
        assert_eq!(fig.data.len(), 1);
        let trace = &fig.data[0];
        assert_eq!(trace.kind.as_deref(), Some("scatter"));
        assert_eq!(trace.extra["mode"], "lines+markers");
        assert_eq!(trace.stream, Some(StreamSpec::new("tok", 80)));
        assert_eq!(fig.tokens().collect::<Vec<_>>(), ["tok"]);
    }

    #[test]
    fn each_frame_appends_one_point_to_the_one_token() {
        let mut demo = NoisyCosineDemo::new(7, "tok").expect("valid");
        let mut reference = NoisyCosine::seeded(Params::default(), 7).expect("valid");
        let mut frame = Frame::default();
        for i in 0..100u64 {
            demo.next_frame(Clock::Simulated, &mut frame);
            let want = reference.next().expect("never ends");
            assert_eq!(frame.index, i);
            assert_eq!(frame.writes.len(), 1);
            let w = &frame.writes[0];
            assert_eq!(w.token, 0);
            assert_eq!(w.write.mode("x"), Some(Mode::Append));
            assert_eq!(w.write.mode("y"), Some(Mode::Append));
            assert_eq!(w.write.x, Some(Update::append(i)));
            assert_eq!(w.write.y, Some(Update::append(want.y)));
        }
        assert_eq!(demo.period(), Duration::from_millis(80));
    }

    #[test]
    fn wall_clock_x_is_the_tutorials_timestamp() {
        let mut demo = NoisyCosineDemo::new(7, "tok").expect("valid");
        let now = NaiveDate::from_ymd_opt(2026, 11, 23)
            .and_then(|d| d.and_hms_micro_opt(16, 34, 15, 120))
            .expect("valid date");
        let mut frame = Frame::default();
        demo.next_frame(Clock::Wall(now), &mut frame);
        assert_eq!(
            frame.writes[0].write.x,
            Some(Update::append("2026-11-23 16:34:15.000120"))
        );
    }

    #[test]
    fn samples_are_index_and_value() {
        let mut demo = NoisyCosineDemo::new(7, "tok").expect("valid");
        let mut out = Vec::new();
        demo.write_samples(&mut out).expect("encodes");
        assert!(out.is_empty(), "no frame yet, no sample");
        let mut frame = Frame::default();
        demo.next_frame(Clock::Simulated, &mut frame);
        demo.write_samples(&mut out).expect("encodes");
        assert_eq!(out, b"{\"i\":0,\"y\":-0.8266753083094904}\n");
    }
}
