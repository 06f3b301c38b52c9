//! Run with: cargo run --example pendulum_chaos
//!
//! The double pendulum's first lesson, chaos: two pendulums that start 1e-9
//! rad apart, drawn together, and beside them the distance between their
//! states on a log scale. It grows as e^(λt) until they are as far apart as
//! pendulums get (about 21 s); the title gives λ fitted so far (about
//! 0.95 1/s). A viewer starts here and prints the plot's URL; Ctrl-C stops.
//!
//! Options: `--speed 2` runs it twice as fast; `--url http://127.0.0.1:8080`
//! streams to a viewer started with `plotstream serve`.

use clap::Parser;
use plotstream::demos::{Lesson, PendulumLessonDemo};
use plotstream::live::{LiveArgs, run};

/// Two pendulums 1e-9 rad apart, and how fast they part.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    live: LiveArgs,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let demo = PendulumLessonDemo::new("pendulum-chaos", Lesson::Chaos)?;
    run(Box::new(demo), &args.live)?;
    Ok(())
}
