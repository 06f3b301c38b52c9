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
    /// The arguments were refused before anything was done (exit 2).
    #[error("{0}")]
    Refused(String),
    /// A load test failed.
    #[error(transparent)]
    Load(#[from] plotstream_load::Error),
    /// The viewer cannot listen on its address (a port in use, say): what
    /// [`flags::cannot_listen`](plotstream_load::flags::cannot_listen) says.
    #[error("{0}")]
    Listen(String),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] io::Error),
    /// A tape could not be opened.
    #[error("cannot open the tape {}", path.display())]
    TapeOpen {
        /// The tape's path.
        path: PathBuf,
        /// The system's reason.
        #[source]
        source: io::Error,
    },
    /// A tape's line could not be read, or is not a tape record.
    #[error("tape {}, line {line}: {reason}", path.display())]
    Tape {
        /// The tape's path.
        path: PathBuf,
        /// The line, from 1.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
}

impl Error {
    /// The process's exit code for this error: 2 when the arguments were
    /// refused (before anything connected), 1 for a failure at run time.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Refused(_) => 2,
            Error::Load(e) => u8::try_from(e.exit_code()).unwrap_or(1),
            _ => 1,
        }
    }
}

/// An error and its causes in one line, `error: cause: its cause`: what the
/// command line prints after `error:`. The protocol crate's
/// [`ErrorChain`](plotstream_protocol::ErrorChain), which every plotstream
/// crate uses.
///
/// ```
/// let e = plotstream::demos::Error::from(plotstream::ppbp::Params {
///     hurst: 2.0,
///     ..Default::default()
/// }
/// .validate()
/// .expect_err("H = 2 is refused"));
/// assert_eq!(
///     plotstream::ErrorChain(&e).to_string(),
///     "ppbp: the Hurst exponent must be in (0.5, 1), got 2"
/// );
/// ```
pub use plotstream_protocol::ErrorChain;
