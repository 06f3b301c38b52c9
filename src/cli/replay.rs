//! `plotstream replay`: a tape, back to a server, paced by its `t`.

use std::io;
use std::path::{Path, PathBuf};

use clap::Args;
use plotstream_protocol::TapeRecord;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use super::{Connect, Error, Pacing};
use crate::pace::{Pacer, Streams, block_on, until_stopped};
use crate::signal::{GRACE, Signals};

/// Options of `plotstream replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayOpts {
    /// The tape, as `plotstream generate` prints it; `-` reads stdin.
    #[arg(value_name = "TAPE")]
    pub tape: PathBuf,
    /// The server's root URL, such as http://127.0.0.1:8080 (https needs the tls feature).
    #[arg(long, value_name = "URL", value_parser = crate::flags::server_url)]
    pub url: String,
    /// How fast to send.
    #[command(flatten)]
    pub pacing: Pacing,
    /// How to connect.
    #[command(flatten)]
    pub connect: Connect,
}

/// The tape: stdin for `-`, else the file, refused by name if it cannot be
/// opened or is a directory.
async fn open(path: &Path) -> Result<Box<dyn AsyncRead + Unpin + Send>, Error> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(tokio::io::stdin()));
    }
    let cannot = |source| Error::TapeOpen {
        path: path.to_owned(),
        source,
    };
    let file = tokio::fs::File::open(path).await.map_err(cannot)?;
    if file.metadata().await.map_err(cannot)?.is_dir() {
        return Err(cannot(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory, not a tape",
        )));
    }
    Ok(Box::new(file))
}

/// What serde says is wrong with a tape line, without its own "at line 1"
/// (the tape's line number says where): the column stays.
fn json_reason(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&position) {
        Some(what) => format!("{what} (column {})", e.column()),
        None => text,
    }
}

/// Replays the tape to its end or a signal; the exit code is 0, or the
/// signal's (130, 143) after the summary.
pub(crate) fn run(opts: &ReplayOpts, out: &mut (dyn io::Write + Send)) -> Result<u8, Error> {
    block_on(async {
        let signals = Signals::listen().map_err(Error::Runtime)?;
        let input = open(&opts.tape).await?;
        let client = opts.connect.options();
        let viewer = plotstream_client::is_viewer(&opts.url, &client).await?;
        let acks = opts.connect.acks_for(viewer);
        writeln!(out, "{}", acks.line()).map_err(Error::Output)?;
        let mut streams = Streams::new(&opts.url, client, acks);
        let pacer = Pacer::new(opts.pacing.speed, opts.pacing.max_rate);
        let work = async {
            let mut lines = BufReader::new(input).lines();
            let mut number = 0u64;
            let mut records = 0u64;
            loop {
                number += 1;
                let bad = |reason: String| Error::Tape {
                    path: opts.tape.clone(),
                    line: number,
                    reason,
                };
                let line = lines.next_line().await.map_err(|e| bad(e.to_string()))?;
                let Some(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                let record: TapeRecord =
                    serde_json::from_str(&line).map_err(|e| bad(json_reason(&e)))?;
                records += 1;
                pacer.wait_for(record.t).await;
                streams.write(&record.token, &record.write).await?;
            }
            if records == 0 {
                return Err(Error::Usage(format!(
                    "nothing to replay: the tape {} has no records (make one with `plotstream generate`)",
                    opts.tape.display()
                )));
            }
            Ok(())
        };
        let result = until_stopped(work, &signals).await;
        let grace = signals.received().map(|_| GRACE);
        let closed = streams.close(out, grace).await;
        result.and(closed).map(|()| signals.exit_code(0))
    })
}
