//! The NDJSON tape: one line per write, with its time and token.

use serde::{Deserialize, Serialize};

use crate::Write;

/// One line of a tape, borrowed, for encoding without copying the write.
///
/// A tape line is `{"t": <simulated seconds>, "token": "<token>", "write": {<wire JSON>}}`:
///
/// ```
/// use plotstream_protocol::{encode_line, TapeLine, Write};
///
/// let mut buf = Vec::new();
/// let write = Write::xy(0, 1.5);
/// encode_line(&TapeLine { t: 0.08, token: "cos", write: &write }, &mut buf)?;
/// assert_eq!(buf, b"{\"t\":0.08,\"token\":\"cos\",\"write\":{\"x\":0,\"y\":1.5}}\n");
/// # Ok::<(), plotstream_protocol::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TapeLine<'a> {
    /// When the write happens, in seconds of simulated time from the start.
    pub t: f64,
    /// The stream token the write goes to.
    pub token: &'a str,
    /// The write, exactly as it goes on the wire.
    pub write: &'a Write,
}

impl TapeLine<'_> {
    /// Appends the tape line, `json + "\n"`, to `buf`: the bytes of
    /// [`encode_line`](crate::encode_line)`(self, buf)`, with the write
    /// encoded by [`Write::encode_line`]'s direct path. On error `buf` is left
    /// as it was.
    pub fn encode_line(&self, buf: &mut Vec<u8>) -> Result<(), crate::Error> {
        let start = buf.len();
        let result = (|| {
            buf.extend_from_slice(b"{\"t\":");
            serde_json::to_writer(&mut *buf, &self.t)?;
            buf.extend_from_slice(b",\"token\":");
            serde_json::to_writer(&mut *buf, self.token)?;
            buf.extend_from_slice(b",\"write\":");
            self.write.write_json(buf)?;
            buf.extend_from_slice(b"}\n");
            Ok(())
        })();
        result.map_err(|source| {
            buf.truncate(start);
            crate::Error::Encode { source }
        })
    }
}

/// One line of a tape, owned: what reading a tape gives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TapeRecord {
    /// When the write happens, in seconds of simulated time from the start.
    pub t: f64,
    /// The stream token the write goes to.
    pub token: String,
    /// The write.
    pub write: Write,
}

impl TapeRecord {
    /// The record as a borrowed [`TapeLine`], for encoding.
    pub fn as_line(&self) -> TapeLine<'_> {
        TapeLine {
            t: self.t,
            token: &self.token,
            write: &self.write,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode_line;

    #[test]
    fn a_tape_line_round_trips() {
        let rec = TapeRecord {
            t: 1.25,
            token: "pendulum-rods".into(),
            write: serde_json::from_str(r#"{"x":[0,1,2],"y":[0,-1,-2]}"#).expect("write"),
        };
        let mut buf = Vec::new();
        encode_line(&rec.as_line(), &mut buf).expect("encodes");
        let back: TapeRecord = serde_json::from_slice(&buf).expect("decodes");
        assert_eq!(back, rec);
        let mut direct = Vec::new();
        rec.as_line().encode_line(&mut direct).expect("encodes");
        assert_eq!(direct, buf, "both encoders give the same bytes");
    }
}
