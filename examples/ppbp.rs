//! Run with: cargo run --example ppbp
//!
//! Heavy-tailed traffic you can watch: the Poisson–Pareto burst process.
//! Bursts arrive at random (λ a second) and last a Pareto time (mean μ,
//! shape α = 3 − 2H); the plot shows how many are active each 10 ms slot and
//! the one-second moving average. However far you zoom out, the bursts
//! never smooth away: that is long-range dependence, H = 0.8.
//! A viewer starts here and prints the plot's URL; open it. Ctrl-C stops.
//!
//! Options: `--hurst 0.6` is closer to ordinary (short-memory) traffic,
//! `--hurst 0.95` burstier still; `--lambda 50 --mean 2`; `--seed 3`;
//! `--url http://127.0.0.1:8080` streams to a viewer started with `plotstream serve`.

use clap::Parser;
use plotstream::demos::PpbpDemo;
use plotstream::live::{LiveArgs, run};
use plotstream::ppbp::Params;

/// The Poisson–Pareto burst process, live in the browser.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    live: LiveArgs,
    /// The Hurst exponent, in (0.5, 1).
    #[arg(long, default_value_t = 0.8)]
    hurst: f64,
    /// Bursts per second.
    #[arg(long, default_value_t = 10.0)]
    lambda: f64,
    /// The mean burst duration, in seconds.
    #[arg(long, default_value_t = 4.0)]
    mean: f64,
    /// The random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let params = Params {
        hurst: args.hurst,
        lambda: args.lambda,
        mean: args.mean,
        ..Params::default()
    };
    run(
        Box::new(PpbpDemo::new("ppbp", params, args.seed)?),
        &args.live,
    )?;
    Ok(())
}
