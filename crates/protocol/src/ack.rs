//! The acknowledgement extension, plotstream's own (Plotly's protocol never
//! had one): a client that sends [`ACK_HEADER`]` : 1` gets the answer's head
//! at once and then [`Ack`] lines while it writes; with [`RESUME_HEADER`] it
//! resumes a stream after a drop without sending a line twice.
//!
//! A line counts once the server has taken it: a write applied, or a
//! heartbeat. The count is the stream's, over all its connections, so a
//! client that resumes with `acked` = N is sent acks from N on.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The request header that asks for acknowledgements: `plotstream-ack: 1`.
pub const ACK_HEADER: &str = "plotstream-ack";

/// The request header that names a stream and what the client has had
/// acknowledged of it: `plotstream-resume: <stream-id>:<acked>` ([`Resume`]).
pub const RESUME_HEADER: &str = "plotstream-resume";

/// The longest stream id taken, in bytes.
pub const MAX_STREAM_ID_LEN: usize = 64;

/// A server sends an ack line at least this often while lines arrive...
pub const ACK_INTERVAL: Duration = Duration::from_millis(100);

/// ...or after this many bytes of input, whichever comes first.
pub const ACK_BYTES: usize = 64 * 1024;

/// Why a `plotstream-resume` header is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeError {
    /// No `:` between the stream id and the count.
    #[error("plotstream-resume is <stream-id>:<acked>, and {value:?} has no ':'")]
    NoColon {
        /// The header's value (its first 80 characters).
        value: String,
    },
    /// The stream id is empty, too long, or has other bytes than
    /// `A-Z a-z 0-9 - _`.
    #[error("a stream id is 1 to {MAX_STREAM_ID_LEN} of A-Z, a-z, 0-9, '-' and '_', not {id:?}")]
    BadId {
        /// The id given (its first 80 characters).
        id: String,
    },
    /// The count is not a whole number.
    #[error("the acknowledged count of plotstream-resume must be a whole number, not {count:?}")]
    BadCount {
        /// The count given (its first 80 characters).
        count: String,
    },
}

/// What a client resumes: its stream's id (its own choice, unguessable, the
/// same on every connection of the stream) and how many lines the server
/// has acknowledged to it so far.
///
/// ```
/// use plotstream_protocol::Resume;
///
/// let r = Resume::parse("a1b2c3:1200")?;
/// assert_eq!((r.stream_id.as_str(), r.acked), ("a1b2c3", 1200));
/// assert_eq!(r.to_string(), "a1b2c3:1200");
/// assert!(Resume::parse("no-count").is_err());
/// # Ok::<(), plotstream_protocol::ResumeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resume {
    /// The stream's id.
    pub stream_id: String,
    /// Lines acknowledged to the client so far.
    pub acked: u64,
}

impl Resume {
    /// Parses a `plotstream-resume` header's value.
    pub fn parse(value: &str) -> Result<Resume, ResumeError> {
        let cut = |s: &str| s.chars().take(80).collect::<String>();
        let (id, count) = value
            .rsplit_once(':')
            .ok_or_else(|| ResumeError::NoColon { value: cut(value) })?;
        let id_ok = !id.is_empty()
            && id.len() <= MAX_STREAM_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(ResumeError::BadId { id: cut(id) });
        }
        let acked = count
            .parse()
            .map_err(|_| ResumeError::BadCount { count: cut(count) })?;
        Ok(Resume {
            stream_id: id.to_owned(),
            acked,
        })
    }
}

impl fmt::Display for Resume {
    /// The header's value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.stream_id, self.acked)
    }
}

/// One line of an acknowledged stream's answer: `{"acked": N}`, and on the
/// last line of a stream that ended in an error, its status and words.
///
/// ```
/// use plotstream_protocol::Ack;
///
/// let mut out = Vec::new();
/// Ack::progress(42).encode_line(&mut out);
/// assert_eq!(out, b"{\"acked\":42}\n");
/// assert_eq!(Ack::parse(b"{\"acked\":42}")?, Ack::progress(42));
/// # Ok::<(), plotstream_protocol::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Ack {
    /// Lines taken so far on this stream, over all its connections.
    pub acked: u64,
    /// The status the stream ended with, when it ended in an error (the
    /// answer's head, sent first, said 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why it ended, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Ack {
    /// An ack of `acked` lines.
    pub fn progress(acked: u64) -> Ack {
        Ack {
            acked,
            status: None,
            error: None,
        }
    }

    /// The last ack of a stream that ended in an error.
    pub fn failed(acked: u64, status: u16, error: String) -> Ack {
        Ack {
            acked,
            status: Some(status),
            error: Some(error),
        }
    }

    /// Appends the ack as one line of JSON.
    pub fn encode_line(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(&mut *out, self).expect("an ack always serializes");
        out.push(b'\n');
    }

    /// Parses one ack line (without its newline).
    pub fn parse(line: &[u8]) -> Result<Ack, crate::Error> {
        serde_json::from_slice(line).map_err(|e| crate::Error::InvalidAck {
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resume_round_trips_and_refuses_what_is_not_one() {
        let r = Resume {
            stream_id: "Ab-_09".to_owned(),
            acked: u64::MAX,
        };
        assert_eq!(Resume::parse(&r.to_string()), Ok(r));
        assert!(matches!(
            Resume::parse("x"),
            Err(ResumeError::NoColon { .. })
        ));
        for id in ["", "has space", "dot.", &"x".repeat(65)] {
            assert!(
                matches!(
                    Resume::parse(&format!("{id}:1")),
                    Err(ResumeError::BadId { .. })
                ),
                "{id:?}"
            );
        }
        for count in ["", "-1", "1.5", "18446744073709551616"] {
            assert!(
                matches!(
                    Resume::parse(&format!("id:{count}")),
                    Err(ResumeError::BadCount { .. })
                ),
                "{count:?}"
            );
        }
    }

    #[test]
    fn an_error_ack_carries_status_and_words() {
        let mut out = Vec::new();
        Ack::failed(7, 400, "bad".to_owned()).encode_line(&mut out);
        assert_eq!(out, b"{\"acked\":7,\"status\":400,\"error\":\"bad\"}\n");
        let back = Ack::parse(&out[..out.len() - 1]).expect("parses");
        assert_eq!(back, Ack::failed(7, 400, "bad".to_owned()));
    }
}
