//! The NDJSON line codec: [`encode_line`] and the incremental [`LineDecoder`].

use serde::Serialize;

use crate::{Error, Write};

/// Appends `value` as one JSON line (`json + "\n"`) to `buf`.
///
/// It allocates nothing of its own: the bytes go straight into the caller's
/// buffer, which grows only when it is too small, so a buffer reused from
/// write to write stops allocating once it is warm. On error the buffer is
/// left as it was.
///
/// ```
/// use plotstream_protocol::{encode_line, Write};
///
/// let mut buf = Vec::new();
/// encode_line(&Write::xy(1, 0.5), &mut buf)?;
/// encode_line(&Write::xy(2, -0.5), &mut buf)?;
/// assert_eq!(buf, b"{\"x\":1,\"y\":0.5}\n{\"x\":2,\"y\":-0.5}\n");
/// # Ok::<(), plotstream_protocol::Error>(())
/// ```
pub fn encode_line<T: Serialize + ?Sized>(value: &T, buf: &mut Vec<u8>) -> Result<(), Error> {
    let start = buf.len();
    match serde_json::to_writer(&mut *buf, value) {
        Ok(()) => {
            buf.push(b'\n');
            Ok(())
        }
        Err(source) => {
            buf.truncate(start);
            Err(Error::Encode { source })
        }
    }
}

/// Appends a heartbeat, a bare `\n`, to `buf`.
pub fn encode_heartbeat(buf: &mut Vec<u8>) {
    buf.push(b'\n');
}

/// One line found by a [`LineDecoder`], numbered from 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A line with content, without its `\n` or `\r\n`.
    Data {
        /// The line's number in the stream, counting heartbeats.
        number: u64,
        /// The line's bytes.
        bytes: &'a [u8],
    },
    /// A bare newline (or a line of only white space): a keep-alive.
    Heartbeat {
        /// The line's number in the stream.
        number: u64,
    },
}

impl Line<'_> {
    /// The line's number in the stream, counting from 1.
    pub fn number(&self) -> u64 {
        match *self {
            Line::Data { number, .. } | Line::Heartbeat { number } => number,
        }
    }

    /// Parses a data line as a [`Write`]; `None` for a heartbeat.
    ///
    /// The error names the line number, the column and the reason. A
    /// write whose attribute paths go deeper than
    /// [`MAX_PATH_DEPTH`](crate::MAX_PATH_DEPTH) is refused here, naming the
    /// path ([`Write::validate`]).
    pub fn parse_write(&self) -> Option<Result<Write, Error>> {
        match *self {
            Line::Heartbeat { .. } => None,
            Line::Data { number, bytes } => {
                let parsed = Write::from_slice(bytes).map_err(|e| Error::invalid_write(number, &e));
                // Checked in place: a write is a few hundred bytes to move.
                if let Ok(Err(e)) = parsed.as_ref().map(Write::validate) {
                    return Some(Err(Error::InvalidWrite {
                        line: number,
                        column: 0,
                        reason: e.to_string(),
                    }));
                }
                Some(parsed)
            }
        }
    }
}

/// Splits a byte stream into lines, fed in pieces of any size.
///
/// Chunk boundaries mean nothing: a line may arrive in many pieces and a
/// piece may hold many lines. Lines end in `\n` or `\r\n`; an empty line is a
/// heartbeat. A line longer than the limit (1 MiB unless set) is an error
/// naming its number; the decoder then skips to the next newline, so memory
/// stays bounded by the limit whatever arrives.
///
/// A line wholly inside one piece is handed over without copying; only a line
/// that spans pieces is gathered in the decoder's buffer.
///
/// ```
/// use plotstream_protocol::{Line, LineDecoder};
///
/// let mut dec = LineDecoder::new();
/// let mut lines = Vec::new();
/// for piece in [&b"{\"x\":1}\n\n{\"x\""[..], b":2}\r\n"] {
///     dec.feed(piece, |line| {
///         lines.push(match line {
///             Line::Data { bytes, .. } => String::from_utf8_lossy(bytes).into_owned(),
///             Line::Heartbeat { .. } => "<heartbeat>".to_owned(),
///         });
///         Ok::<_, plotstream_protocol::Error>(())
///     })?;
/// }
/// assert_eq!(lines, ["{\"x\":1}", "<heartbeat>", "{\"x\":2}"]);
/// # Ok::<(), plotstream_protocol::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LineDecoder {
    partial: Vec<u8>,
    max_line_len: usize,
    next_number: u64,
    skipping: bool,
}

impl Default for LineDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl LineDecoder {
    /// The default line limit: 1 MiB.
    pub const DEFAULT_MAX_LINE_LEN: usize = 1 << 20;

    /// A decoder with the default 1 MiB line limit.
    pub fn new() -> Self {
        Self::with_max_line_len(Self::DEFAULT_MAX_LINE_LEN)
    }

    /// A decoder that rejects lines longer than `max_line_len` bytes (not
    /// counting the line ending).
    pub fn with_max_line_len(max_line_len: usize) -> Self {
        LineDecoder {
            partial: Vec::new(),
            max_line_len,
            next_number: 1,
            skipping: false,
        }
    }

    /// The line limit in bytes.
    pub fn max_line_len(&self) -> usize {
        self.max_line_len
    }

    /// How many lines have ended so far (data, heartbeats and rejected lines).
    pub fn lines_ended(&self) -> u64 {
        self.next_number - 1
    }

    /// How many bytes of an unfinished line the decoder holds.
    pub fn pending(&self) -> usize {
        self.partial.len()
    }

    /// Feeds the next piece of the stream, calling `on_line` for each line it
    /// completes, in order.
    ///
    /// A line over the limit stops the call with [`Error::LineTooLong`]; an
    /// error from `on_line` stops it too and is returned. Either way the rest
    /// of this piece is not decoded: such errors end a stream.
    pub fn feed<E, F>(&mut self, piece: &[u8], mut on_line: F) -> Result<(), E>
    where
        E: From<Error>,
        F: FnMut(Line<'_>) -> Result<(), E>,
    {
        let mut rest = piece;
        while let Some(pos) = memchr::memchr(b'\n', rest) {
            let head = &rest[..pos];
            rest = &rest[pos + 1..];
            let number = self.next_number;
            self.next_number += 1;
            if self.skipping {
                self.skipping = false;
                continue;
            }
            let line = if self.partial.is_empty() {
                head
            } else {
                self.partial.extend_from_slice(head);
                &self.partial
            };
            let result = match classify(number, line, self.max_line_len) {
                Ok(event) => on_line(event),
                Err(e) => Err(e.into()),
            };
            self.partial.clear();
            result?;
        }
        if self.skipping || rest.is_empty() {
            return Ok(());
        }
        // One byte of slack: a `\r` that the coming `\n` turns into a line ending.
        if self.partial.len() + rest.len() > self.max_line_len + 1 {
            self.partial.clear();
            self.skipping = true;
            return Err(Error::LineTooLong {
                line: self.next_number,
                limit: self.max_line_len,
            }
            .into());
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }

    /// Ends the stream: a last line without a newline is handed to `on_line`
    /// as a data line (white space alone is dropped).
    pub fn finish<E, F>(&mut self, mut on_line: F) -> Result<(), E>
    where
        E: From<Error>,
        F: FnMut(Line<'_>) -> Result<(), E>,
    {
        if std::mem::take(&mut self.skipping) || self.partial.is_empty() {
            self.partial.clear();
            return Ok(());
        }
        let number = self.next_number;
        self.next_number += 1;
        let result = match classify(number, &self.partial, self.max_line_len) {
            Ok(Line::Heartbeat { .. }) => Ok(()),
            Ok(event) => on_line(event),
            Err(e) => Err(e.into()),
        };
        self.partial.clear();
        result
    }
}

/// Makes a finished line (its `\n` removed) into a [`Line`]: drops a
/// trailing `\r`, checks the limit, and tells heartbeats from data.
fn classify(number: u64, line: &[u8], max_line_len: usize) -> Result<Line<'_>, Error> {
    let content = line.strip_suffix(b"\r").unwrap_or(line);
    if content.len() > max_line_len {
        return Err(Error::LineTooLong {
            line: number,
            limit: max_line_len,
        });
    }
    Ok(if content.iter().all(u8::is_ascii_whitespace) {
        Line::Heartbeat { number }
    } else {
        Line::Data {
            number,
            bytes: content,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A decoded line, owned, for comparisons.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Owned {
        Data(u64, Vec<u8>),
        Heartbeat(u64),
    }

    fn collect(dec: &mut LineDecoder, pieces: &[&[u8]]) -> Result<Vec<Owned>, Error> {
        let mut out = Vec::new();
        for piece in pieces {
            dec.feed(piece, |line| {
                out.push(own(line));
                Ok::<_, Error>(())
            })?;
        }
        dec.finish(|line| {
            out.push(own(line));
            Ok::<_, Error>(())
        })?;
        Ok(out)
    }

    fn own(line: Line<'_>) -> Owned {
        match line {
            Line::Data { number, bytes } => Owned::Data(number, bytes.to_vec()),
            Line::Heartbeat { number } => Owned::Heartbeat(number),
        }
    }

    #[test]
    fn splits_lines_heartbeats_and_crlf() {
        let mut dec = LineDecoder::new();
        let got = collect(&mut dec, &[b"{\"x\":1}\n\n\r\n  \n{\"x\":2}\r\n"]).expect("decodes");
        assert_eq!(
            got,
            [
                Owned::Data(1, b"{\"x\":1}".to_vec()),
                Owned::Heartbeat(2),
                Owned::Heartbeat(3),
                Owned::Heartbeat(4),
                Owned::Data(5, b"{\"x\":2}".to_vec()),
            ]
        );
        assert_eq!(dec.lines_ended(), 5);
    }

    #[test]
    fn a_crlf_split_between_pieces_is_one_line_ending() {
        let mut dec = LineDecoder::new();
        let got = collect(&mut dec, &[b"{\"x\":1}\r", b"\n"]).expect("decodes");
        assert_eq!(got, [Owned::Data(1, b"{\"x\":1}".to_vec())]);
    }

    #[test]
    fn finish_hands_over_an_unterminated_last_line() {
        let mut dec = LineDecoder::new();
        let got = collect(&mut dec, &[b"{\"x\":1}\n{\"x\"", b":2}"]).expect("decodes");
        assert_eq!(got[1], Owned::Data(2, b"{\"x\":2}".to_vec()));
        let got = collect(&mut LineDecoder::new(), &[b"{}\n  "]).expect("decodes");
        assert_eq!(got, [Owned::Data(1, b"{}".to_vec())]);
    }

    #[test]
    fn a_line_at_the_limit_passes_and_one_over_fails_with_its_number() {
        let mut dec = LineDecoder::with_max_line_len(4);
        let got = collect(&mut dec, &[b"\nabcd\r\n"]).expect("at the limit");
        assert_eq!(got[1], Owned::Data(2, b"abcd".to_vec()));

        let mut dec = LineDecoder::with_max_line_len(4);
        let err = collect(&mut dec, &[b"ab\n\nabcde\n"]).expect_err("over the limit");
        assert!(
            matches!(err, Error::LineTooLong { line: 3, limit: 4 }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "line 3 is longer than the limit of 4 bytes"
        );
    }

    #[test]
    fn an_overlong_line_in_pieces_fails_early_and_the_decoder_resyncs() {
        let mut dec = LineDecoder::with_max_line_len(4);
        let ok = |_: Line<'_>| Ok::<_, Error>(());
        dec.feed(b"ok\nabc", ok).expect("still short");
        let err = dec
            .feed(b"def", ok)
            .expect_err("too long before its newline");
        assert!(matches!(err, Error::LineTooLong { line: 2, .. }), "{err:?}");
        assert_eq!(dec.pending(), 0, "nothing of an over-long line is buffered");
        let mut after = Vec::new();
        dec.feed(b"ghijkl\n{}\n", |l| {
            after.push(own(l));
            Ok::<_, Error>(())
        })
        .expect("resyncs at the next newline");
        assert_eq!(after, [Owned::Data(3, b"{}".to_vec())]);
    }

    #[test]
    fn a_callback_error_stops_the_feed() {
        let mut dec = LineDecoder::new();
        let mut seen = 0;
        let err = dec
            .feed(b"a\nb\nc\n", |line| {
                seen += 1;
                if line.number() == 2 {
                    return Err(Error::LineTooLong { line: 99, limit: 0 });
                }
                Ok(())
            })
            .expect_err("callback error");
        assert_eq!(seen, 2);
        assert!(matches!(err, Error::LineTooLong { line: 99, .. }));
    }

    #[test]
    fn parse_write_names_line_and_reason() {
        let line = Line::Data {
            number: 12,
            bytes: b"{\"x\": 1,",
        };
        let err = line
            .parse_write()
            .expect("data line")
            .expect_err("truncated");
        assert_eq!(
            err.to_string(),
            "line 12: invalid write: EOF while parsing a value at column 8"
        );
        let line = Line::Data {
            number: 3,
            bytes: b"[1]",
        };
        let err = line.parse_write().expect("data line").expect_err("array");
        assert_eq!(
            err.to_string(),
            "line 3: invalid write: invalid type: sequence, expected a Plotly stream write (a JSON object)"
        );
        assert!(Line::Heartbeat { number: 1 }.parse_write().is_none());
    }

    #[test]
    fn encode_leaves_the_buffer_as_it_was_on_error() {
        let mut bad = std::collections::BTreeMap::new();
        bad.insert(vec![1u8], 1);
        let mut buf = b"kept\n".to_vec();
        assert!(encode_line(&bad, &mut buf).is_err());
        assert_eq!(buf, b"kept\n");
        encode_heartbeat(&mut buf);
        assert_eq!(buf, b"kept\n\n");
    }
}
