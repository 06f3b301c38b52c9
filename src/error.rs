//! The facade's error type.

use std::io;
use std::path::PathBuf;

/// What the command line and [`live`](crate::live) can fail with (bad
/// command-line arguments are clap's, exit 2).
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
    /// A stream to the server failed.
    #[error(transparent)]
    Client(#[from] plotstream_client::Error),
    /// The viewer failed.
    #[error(transparent)]
    Viewer(#[from] plotstream_viewer::Error),
    /// The arguments ask for nothing that can be done.
    #[error("{0}")]
    Usage(String),
    /// A load test failed.
    #[error(transparent)]
    Load(#[from] plotstream_load::Error),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] io::Error),
    /// A tape could not be read.
    #[error("tape {}, line {line}: {reason}", path.display())]
    Tape {
        /// The tape's path.
        path: PathBuf,
        /// The line (0: opening the file).
        line: u64,
        /// What went wrong.
        reason: String,
    },
}
