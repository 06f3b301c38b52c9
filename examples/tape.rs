//! Run with: cargo run --example tape
//!
//! Prints the first ten writes of the noisy cosine as a tape: what `plotstream
//! generate noisy-cosine --count 10` prints, built from the library's parts.
//! A demo fills a `Frame` with `(token, Write)` pairs; each pair becomes one
//! tape line `{"t", "token", "write"}`, the write being the exact wire JSON.

use std::io::Write as _;

use plotstream::demos::{Clock, DemoKind, Frame};
use plotstream::protocol::TapeLine;

fn main() -> anyhow::Result<()> {
    let mut demo = DemoKind::NoisyCosine.build(7)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "# figure: {}", serde_json::to_string(&demo.figure())?)?;

    let mut frame = Frame::default();
    let mut tape = Vec::new();
    for _ in 0..10 {
        demo.next_frame(Clock::Simulated, &mut frame);
        for w in &frame.writes {
            let token = &demo.tokens()[w.token];
            TapeLine {
                t: frame.t,
                token,
                write: &w.write,
            }
            .encode_line(&mut tape)?;
        }
    }
    out.write_all(&tape)?;
    Ok(())
}
