//! Run with: cargo run --example pendulum_energy -- --dt 0.01
//!
//! The double pendulum's second lesson, the integrator's error: beside the
//! pendulum, its total energy minus the energy it started with, E(t) − E(0),
//! which physics keeps at zero and RK4 does not, quite. At `--dt 0.01` (10 ms
//! steps) the drift is plain to see; halve the step and it shrinks about 16
//! times (RK4 is of order 4): compare `--dt 0.005`. A viewer starts here and
//! prints the plot's URL; Ctrl-C stops.

use clap::Parser;
use plotstream::demos::{Lesson, PendulumLessonDemo};
use plotstream::live::{LiveArgs, run};

/// The pendulum and RK4's energy error at a step you choose.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    live: LiveArgs,
    /// The RK4 step, in seconds (the pendulum demo's own is 0.001).
    #[arg(long, default_value_t = 0.01)]
    dt: f64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let demo = PendulumLessonDemo::new("pendulum-energy", Lesson::Energy { dt: args.dt })?;
    run(Box::new(demo), &args.live)?;
    Ok(())
}
