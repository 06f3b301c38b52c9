//! The `plotstream` command line: options ([`Opts`]) and [`run`].
//!
//! `main` only parses and calls [`run`], so tests drive the whole command with
//! `run(Opts::parse_from([...]), &mut out)`.

use std::io;

use clap::{Parser, Subcommand};

mod generate;

pub use generate::GenerateOpts;

/// What the command line can fail with (bad arguments are clap's, exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Writing the output failed (other than the reader going away).
    #[error("cannot write the output")]
    Output(#[source] io::Error),
    /// A demo refused its options, or could not encode.
    #[error(transparent)]
    Demo(#[from] plotstream_demos::Error),
    /// The protocol could not encode a line.
    #[error(transparent)]
    Protocol(#[from] plotstream_protocol::Error),
}

/// plotstream: Plotly's streaming API, brought back locally.
///
/// Never-ending simulated streams (noisy cosine, …) in the Plotly streaming
/// protocol: one JSON write per line.
#[derive(Debug, Parser)]
#[command(name = "plotstream", version, about, long_about = None)]
pub struct Opts {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a demo's writes as an NDJSON tape on stdout, as fast as it can.
    #[command(
        long_about = GENERATE_LONG_ABOUT,
        after_help = "Examples:\n  plotstream generate noisy-cosine --count 1000 --seed 7 > cosine.ndjson\n  plotstream generate noisy-cosine --samples | head -5"
    )]
    Generate(GenerateOpts),
}

const GENERATE_LONG_ABOUT: &str = "\
Print a demo's writes as an NDJSON tape on stdout, as fast as it can.

One line per write: {\"t\": <simulated seconds>, \"token\": \"<token>\", \"write\": {<the exact wire JSON>}}.
The same seed gives the same bytes. Without --count it never ends; closing the pipe (| head) ends it cleanly.";

/// Runs the command, writing its output to `out`.
///
/// When `out` is a pipe whose reader has gone (`plotstream generate | head`),
/// the command ends with `Ok(())`: that is how a never-ending stream is stopped.
pub fn run(opts: Opts, out: &mut dyn io::Write) -> Result<(), Error> {
    let result = match opts.command {
        Command::Generate(g) => generate::run(&g, out),
    };
    match result {
        Err(Error::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
