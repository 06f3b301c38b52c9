//! Run with: cargo run --example gapminder_bubbles
//!
//! Hans Rosling's bubble chart, animated for ever: 142 countries from 1952 to
//! 2007, GDP per capita against life expectancy, bubbles sized by population
//! and coloured by continent, a tenth of a year every 100 ms, then again.
//! Between the data's five-year rows the bubbles glide: GDP and population
//! grow at a constant rate, life expectancy in a straight line.
//! A viewer starts here and prints the plot's URL; open it. Ctrl-C stops.
//!
//! Options: `--linear` draws GDP per capita on a linear axis; `--speed 3`
//! plays three times faster; `--url http://127.0.0.1:8080` streams to a
//! viewer started with `plotstream serve`.
//!
//! Data: Gapminder.org, via the gapminder teaching dataset by Jennifer Bryan
//! (CC-BY; see `crates/gapminder/data/README.md`).

use clap::Parser;
use plotstream::demos::{GapminderDemo, XAxis};
use plotstream::live::{LiveArgs, run};

/// Hans Rosling's bubbles, animated for ever, live in the browser.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    live: LiveArgs,
    /// GDP per capita on a linear axis (0 to 60,000) instead of a log one.
    #[arg(long)]
    linear: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let axis = if args.linear {
        XAxis::Linear
    } else {
        XAxis::Log
    };
    run(Box::new(GapminderDemo::new("gapminder", axis)?), &args.live)?;
    Ok(())
}
