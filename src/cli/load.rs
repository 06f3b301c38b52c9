//! `plotstream load`: load-test a stream server; `plotstream load merge`.

use std::io;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use plotstream_load::Report;

use super::Error;
use crate::pace::block_on;

/// `plotstream load [OPTIONS]` runs a test; `plotstream load merge FILES` adds up shards.
#[derive(Debug, Clone, Args)]
pub struct LoadCommand {
    /// Merge reports instead of running a test.
    #[command(subcommand)]
    pub action: Option<LoadAction>,
    /// The test.
    #[command(flatten)]
    pub opts: Option<plotstream_load::Opts>,
}

/// What `plotstream load` can do besides running a test.
#[derive(Debug, Clone, Subcommand)]
pub enum LoadAction {
    /// Add up the JSON reports of shards run as one test: counts are summed,
    /// histograms merged, percentiles computed again. Prints the merged JSON.
    /// Shards of different tests (test id, rate, duration, arrivals), or one
    /// shard twice, are refused.
    Merge {
        /// The reports: files (`--report FILE` of each shard), or `-` for
        /// stdin; each may hold several, such as `kubectl logs` of shards
        /// run with `--report -`.
        #[arg(required = true, value_name = "REPORT")]
        files: Vec<PathBuf>,
    },
}

/// Runs the command; the exit code is 99 when a threshold was breached.
pub(crate) fn run(cmd: &LoadCommand, out: &mut (dyn io::Write + Send)) -> Result<u8, Error> {
    if let Some(LoadAction::Merge { files }) = &cmd.action {
        let mut reports = Vec::with_capacity(files.len());
        for path in files {
            let bad = |reason: String| plotstream_load::Error::ReportFile {
                path: path.clone(),
                reason,
            };
            let text = if path.as_os_str() == "-" {
                io::read_to_string(io::stdin())
            } else {
                std::fs::read_to_string(path)
            }
            .map_err(|e| bad(e.to_string()))?;
            reports.extend(Report::parse_all(&text).map_err(bad)?);
        }
        let merged = Report::merge(&reports)?;
        let json = serde_json::to_string_pretty(&merged)
            .map_err(|e| Error::Output(io::Error::other(e)))?;
        writeln!(out, "{json}").map_err(Error::Output)?;
        return Ok(0);
    }
    let Some(opts) = &cmd.opts else {
        return Err(Error::Refused(
            "plotstream load needs --url (a test) or merge (reports); see plotstream load --help"
                .to_owned(),
        ));
    };
    if let Some(knob) = opts.find_capacity {
        return block_on(async {
            let signals = crate::signal::Signals::listen().map_err(Error::Runtime)?;
            let capacity =
                plotstream_load::find_capacity_until(knob, opts, out, signals.stopped()).await?;
            Ok(signals.exit_code(u8::try_from(capacity.exit_code()).unwrap_or(1)))
        });
    }
    block_on(async {
        let signals = crate::signal::Signals::listen().map_err(Error::Runtime)?;
        // With --report -, stdout carries the report: the summary goes to stderr.
        let mut stderr = io::stderr();
        let out: &mut (dyn io::Write + Send) =
            if opts.report.as_deref() == Some(std::path::Path::new("-")) {
                &mut stderr
            } else {
                out
            };
        let outcome = plotstream_load::run_until(opts, out, signals.stopped()).await?;
        Ok(signals.exit_code(u8::try_from(outcome.exit_code()).unwrap_or(1)))
    })
}
