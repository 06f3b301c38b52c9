//! The viewer's error type.

use std::io;

/// What the viewer's library functions can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A figure the viewer cannot stream into.
    #[error("invalid figure: {reason}")]
    InvalidFigure {
        /// What is wrong, naming the trace.
        reason: String,
    },
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The system's reason.
        #[source]
        source: io::Error,
    },
    /// The server stopped on an I/O error.
    #[error("the viewer's server failed")]
    Serve(#[source] io::Error),
}
