//! `plotstream generate`: a demo's tape, or its raw samples, on stdout.

use std::io;

use clap::Args;
use plotstream_demos::{Clock, DemoKind, Frame};
use plotstream_protocol::TapeLine;

use super::Error;

/// Flush to the output once this much is buffered.
const FLUSH_AT: usize = 64 * 1024;

/// Options of `plotstream generate`.
#[derive(Debug, Clone, Args)]
pub struct GenerateOpts {
    /// The demo to run.
    #[arg(value_enum)]
    pub demo: DemoKind,
    /// How many frames to print; without it the stream never ends.
    #[arg(long, allow_negative_numbers = true, value_name = "N", value_parser = crate::flags::count::<u64>)]
    pub count: Option<u64>,
    /// The random seed.
    #[command(flatten)]
    pub seed: crate::flags::Seed,
    /// Print the simulation's raw samples instead of the tape, one JSON object a line
    /// (noisy-cosine: {"i": .., "y": ..}).
    #[arg(long)]
    pub samples: bool,
    /// The stream tokens' prefix (default: the demo's name).
    #[arg(long, value_name = "P", value_parser = crate::flags::token_prefix)]
    pub token_prefix: Option<String>,
}

/// Prints the tape or the samples to `out`.
pub(crate) fn run(opts: &GenerateOpts, out: &mut (dyn io::Write + Send)) -> Result<(), Error> {
    let prefix = opts.token_prefix.as_deref().unwrap_or(opts.demo.name());
    let mut demo = opts.demo.build_with_prefix(opts.seed.value, prefix)?;
    let mut frame = Frame::default();
    let mut buf = Vec::with_capacity(FLUSH_AT + 4096);
    let mut left = opts.count;
    while left != Some(0) {
        demo.next_frame(Clock::Simulated, &mut frame);
        if opts.samples {
            demo.write_samples(&mut buf)?;
        } else {
            for w in &frame.writes {
                let line = TapeLine {
                    t: frame.t,
                    token: &demo.tokens()[w.token],
                    write: &w.write,
                };
                line.encode_line(&mut buf)?;
            }
        }
        if buf.len() >= FLUSH_AT {
            out.write_all(&buf).map_err(Error::Output)?;
            buf.clear();
        }
        left = left.map(|n| n - 1);
    }
    out.write_all(&buf).map_err(Error::Output)?;
    out.flush().map_err(Error::Output)
}
