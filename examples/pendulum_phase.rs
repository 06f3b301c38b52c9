//! Run with: cargo run --example pendulum_phase
//!
//! The double pendulum in phase space: beside it, the upper rod's angle θ1
//! (wrapped to ±π) against its angular velocity ω1, a point every 50 ms, the
//! last 5,000 kept. A regular motion would trace a closed curve; this one
//! never repeats. A viewer starts here and prints the plot's URL; Ctrl-C
//! stops.

use clap::Parser;
use plotstream::demos::{Lesson, PendulumLessonDemo};
use plotstream::live::{LiveArgs, run};

/// The pendulum's phase portrait, live.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    live: LiveArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let demo = PendulumLessonDemo::new("pendulum-phase", Lesson::Phase)?;
    run(Box::new(demo), &args.live)?;
    Ok(())
}
