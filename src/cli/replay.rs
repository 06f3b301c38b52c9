//! `plotstream replay`: a tape, back to a server, paced by its `t`.

use std::io;
use std::path::PathBuf;

use clap::Args;
use plotstream_protocol::TapeRecord;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use super::{Error, Pacing};
use crate::pace::{Pacer, Streams, runtime, until_ctrl_c};

/// Options of `plotstream replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayOpts {
    /// The tape, as `plotstream generate` prints it; `-` reads stdin.
    #[arg(value_name = "TAPE")]
    pub tape: PathBuf,
    /// The server's URL, such as http://127.0.0.1:8080 (https needs the tls feature).
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// How fast to send.
    #[command(flatten)]
    pub pacing: Pacing,
}

pub(crate) fn run(opts: &ReplayOpts, out: &mut (dyn io::Write + Send)) -> Result<(), Error> {
    runtime()?.block_on(async {
        let input: Box<dyn AsyncRead + Unpin + Send> = if opts.tape.as_os_str() == "-" {
            Box::new(tokio::io::stdin())
        } else {
            let file = tokio::fs::File::open(&opts.tape)
                .await
                .map_err(|source| Error::Tape {
                    path: opts.tape.clone(),
                    line: 0,
                    reason: source.to_string(),
                })?;
            Box::new(file)
        };
        let mut streams = Streams::new(&opts.url);
        let pacer = Pacer::new(opts.pacing.speed, opts.pacing.max_rate);
        let work = async {
            let mut lines = BufReader::new(input).lines();
            let mut number = 0u64;
            loop {
                number += 1;
                let line = lines.next_line().await.map_err(|e| Error::Tape {
                    path: opts.tape.clone(),
                    line: number,
                    reason: e.to_string(),
                })?;
                let Some(line) = line else { return Ok(()) };
                if line.trim().is_empty() {
                    continue;
                }
                let record: TapeRecord = serde_json::from_str(&line).map_err(|e| Error::Tape {
                    path: opts.tape.clone(),
                    line: number,
                    reason: e.to_string(),
                })?;
                pacer.wait_for(record.t).await;
                streams.write(&record.token, &record.write).await?;
            }
        };
        let result = until_ctrl_c(work).await;
        let closed = streams.close(out).await;
        result.and(closed)
    })
}
