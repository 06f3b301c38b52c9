//! The protocol crate's error type.

/// What can go wrong encoding or decoding the protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A line exceeded the decoder's limit; the stream should be refused
    /// (HTTP 413).
    #[error("line {line} is longer than the limit of {limit} bytes")]
    LineTooLong {
        /// The line's number, counting from 1.
        line: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// A line is not JSON, or not a JSON object shaped like a write.
    #[error("line {line}: invalid write: {reason}")]
    InvalidWrite {
        /// The line's number, counting from 1.
        line: u64,
        /// The column (byte, from 1) where the line went wrong; 0 when the
        /// whole line is of the wrong shape.
        column: usize,
        /// Why, in the JSON parser's words, with the column when there is one.
        reason: String,
    },
    /// A line of an acknowledged stream's answer is not an ack.
    #[error("invalid ack line from the server: {reason}")]
    InvalidAck {
        /// Why, in the JSON parser's words.
        reason: String,
    },
    /// A value could not be encoded as JSON (a map with non-string keys).
    #[error("cannot encode a line as JSON")]
    Encode {
        /// The serialiser's error.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// An [`Error::InvalidWrite`] for line `line` from the parser's error,
    /// without serde_json's own "at line 1 column N" (a protocol line is one
    /// JSON line; the stream's line number is the one that helps).
    pub fn invalid_write(line: u64, err: &serde_json::Error) -> Self {
        let full = err.to_string();
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        let reason = full.strip_suffix(&suffix).unwrap_or(&full);
        let reason = match err.column() {
            0 => reason.to_owned(),
            column => format!("{reason} at column {column}"),
        };
        Error::InvalidWrite {
            line,
            column: err.column(),
            reason,
        }
    }
}
