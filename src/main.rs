//! The `plotstream` command: parses its options and hands them to
//! [`plotstream::cli::run`].

use std::process::ExitCode;

use clap::Parser;
use plotstream::cli::{Opts, run};

fn main() -> ExitCode {
    let opts = Opts::parse();
    let mut out = std::io::stdout();
    match run(opts, &mut out) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {}", plotstream::ErrorChain(&err));
            }
            ExitCode::from(err.exit_code())
        }
    }
}
