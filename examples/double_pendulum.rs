//! Run with: cargo run --example double_pendulum
//!
//! A double pendulum that never stops, live in the browser: two rods and the
//! trail of the lower bob, integrated with RK4 (1 ms steps), drawn every
//! 50 ms of simulated time, in real time. A viewer starts here and prints
//! the plot's URL; open it. Ctrl-C stops.
//!
//! Options: `--theta1 90 --theta2 0` start from other angles (degrees from
//! hanging straight down; at rest); `--speed 0.5` slows it down; `--url
//! http://127.0.0.1:8080` streams to a viewer started with `plotstream serve`.

use clap::Parser;
use plotstream::demos::DoublePendulumDemo;
use plotstream::live::{LiveArgs, run};

/// A never-ending double pendulum, live in the browser.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    live: LiveArgs,
    /// The upper rod's starting angle, in degrees from hanging down.
    #[arg(long, default_value_t = 120.0, allow_negative_numbers = true)]
    theta1: f64,
    /// The lower rod's starting angle, in degrees from hanging down.
    #[arg(long, default_value_t = -10.0, allow_negative_numbers = true)]
    theta2: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let demo = DoublePendulumDemo::new("double-pendulum", args.theta1, args.theta2)?;
    run(Box::new(demo), &args.live)?;
    Ok(())
}
