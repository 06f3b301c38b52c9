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

/// Shows an error and its causes in one line, `error: cause: its cause`,
/// leaving out a cause whose words the line already holds (a wrapper that
/// repeats its source's message says it once). The one way every plotstream
/// crate prints an error chain: the command line's `error:` line, the
/// viewer's answers and the load generator's first-error line.
///
/// ```
/// use plotstream_protocol::ErrorChain;
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("cannot open the tape")]
/// struct Open(#[source] std::io::Error);
///
/// let e = Open(std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"));
/// assert_eq!(ErrorChain(&e).to_string(), "cannot open the tape: no such file");
/// ```
#[derive(Clone, Copy)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = self.0.to_string();
        let mut source = self.0.source();
        while let Some(s) = source {
            let cause = s.to_string();
            if !text.contains(&cause) {
                text.push_str(": ");
                text.push_str(&cause);
            }
            source = s.source();
        }
        f.write_str(&text)
    }
}

impl std::fmt::Debug for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorChain;

    #[derive(Debug, thiserror::Error)]
    #[error("{what}")]
    struct Layer {
        what: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    fn layers(words: &[&'static str]) -> Layer {
        let mut layer: Option<Box<Layer>> = None;
        for what in words.iter().rev() {
            layer = Some(Box::new(Layer {
                what,
                source: layer,
            }));
        }
        *layer.expect("at least one layer")
    }

    #[test]
    fn joins_each_cause_once() {
        let e = layers(&["cannot stream", "connection reset"]);
        assert_eq!(
            ErrorChain(&e).to_string(),
            "cannot stream: connection reset"
        );
        // A wrapper that already says its cause's words does not repeat them.
        let e = layers(&["bad figure: too deep", "too deep", "depth 65"]);
        assert_eq!(ErrorChain(&e).to_string(), "bad figure: too deep: depth 65");
        let e = layers(&["alone"]);
        assert_eq!(ErrorChain(&e).to_string(), "alone");
    }
}
