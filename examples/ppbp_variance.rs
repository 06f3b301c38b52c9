//! Run with: cargo run --example ppbp_variance -- --speed 20
//!
//! The Poisson–Pareto burst process's lesson, self-similarity: the active
//! bursts (left), and beside them the variance–time plot of the counts so
//! far, redrawn every second: the variance of block means against the
//! block size, on log–log axes. Independent counts would fall along the
//! dashed slope of −1 (H = 0.5); these fall with slope 2H − 2, and the
//! title gives H fitted by least squares. It needs 164 s of traffic to
//! start, and reads H = 0.8 within 0.02 after about 11 minutes: `--speed 20`
//! gets there in half a minute. A viewer starts here and prints the plot's
//! URL; Ctrl-C stops.

use clap::Parser;
use plotstream::demos::PpbpVarianceDemo;
use plotstream::live::{LiveArgs, run};
use plotstream::ppbp::Params;

/// PPBP's bursts and their variance–time plot, live.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    live: LiveArgs,
    /// The random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let demo = PpbpVarianceDemo::new("ppbp-variance", Params::default(), args.seed)?;
    run(Box::new(demo), &args.live)?;
    Ok(())
}
