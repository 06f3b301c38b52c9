//! Run with: cargo run --example noisy_cosine
//!
//! The noisy cosine of Plotly's streaming tutorial, live and never-ending:
//! `y = cos(5·i/50)·cos(i/50) + N(0, 1)`, a point every 80 ms, the last 80
//! points on screen. A viewer starts here and prints the plot's URL; open it
//! in a browser. Ctrl-C stops.
//!
//! Options: `--url http://127.0.0.1:8080` streams to a viewer you started
//! with `plotstream serve`; `--speed 10` plays ten times faster; `--seed 3`
//! draws other noise.

use clap::Parser;
use plotstream::demos::DemoKind;
use plotstream::live::{LiveArgs, run};

/// The noisy cosine of Plotly's streaming tutorial, live and never-ending.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    live: LiveArgs,
    /// The noise's random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let demo = DemoKind::NoisyCosine.build(args.seed)?;
    run(demo, &args.live)?;
    Ok(())
}
