//! Run with: cargo run --example first_stream
//!
//! A first stream, as in Plotly's streaming tutorial (7.1): 200 points of the
//! noisy cosine in real time, then the stream closes. The plot stays up
//! until Ctrl-C.
//!
//! Underneath, `run` creates the demo's figure (a scatter trace whose
//! `stream.token` is "noisy-cosine", keeping 80 points) on a viewer, opens one
//! `plotstream_client::Stream` for that token, writes `{"x": …, "y": …}` once
//! a frame, and closes it: the whole Plotly streaming protocol.

use clap::Parser;
use plotstream::demos::DemoKind;
use plotstream::live::{LiveArgs, run};

/// A first stream: 200 points of the noisy cosine, live, then close.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    live: LiveArgs,
}

fn main() -> anyhow::Result<()> {
    let Args { mut live } = Args::parse();
    live.count.get_or_insert(200);
    run(DemoKind::NoisyCosine.build(0)?, &live)?;
    Ok(())
}
