//! [`NdjsonSink`]: the stream's write API onto any `AsyncWrite`.

use serde::Serialize;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use plotstream_protocol::{TapeLine, Write, encode_heartbeat, encode_line};

use crate::Error;

/// Writes NDJSON lines to any [`AsyncWrite`] (stdout, a file, a socket):
/// the same `write` / `heartbeat` / `close` as a [`Stream`](crate::Stream),
/// for tapes and for piping into other tools.
///
/// Lines are gathered in a buffer and written out once 64 KiB are waiting,
/// on [`flush`](NdjsonSink::flush), and on [`close`](NdjsonSink::close).
///
/// ```
/// use plotstream_client::NdjsonSink;
/// use plotstream_protocol::Write;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let mut sink = NdjsonSink::new(Vec::new());
/// sink.write(&Write::xy(1, 2)).await?;
/// sink.heartbeat().await?;
/// sink.write_tape(0.5, "tok", &Write::xy(3, 4)).await?;
/// let out = sink.close().await?;
/// assert_eq!(out, b"{\"x\":1,\"y\":2}\n\n{\"t\":0.5,\"token\":\"tok\",\"write\":{\"x\":3,\"y\":4}}\n");
/// # Ok::<(), plotstream_client::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct NdjsonSink<W> {
    out: W,
    buf: Vec<u8>,
    lines: u64,
}

/// Write out once this much is buffered.
const FLUSH_AT: usize = 64 * 1024;

impl<W: AsyncWrite + Unpin> NdjsonSink<W> {
    /// A sink writing to `out`.
    pub fn new(out: W) -> Self {
        NdjsonSink {
            out,
            buf: Vec::with_capacity(FLUSH_AT + 4096),
            lines: 0,
        }
    }

    /// Writes one write as a wire line.
    pub async fn write(&mut self, write: &Write) -> Result<(), Error> {
        write.encode_line(&mut self.buf)?;
        self.wrote().await
    }

    /// Writes one tape line: `{"t", "token", "write"}`.
    pub async fn write_tape(&mut self, t: f64, token: &str, write: &Write) -> Result<(), Error> {
        TapeLine { t, token, write }.encode_line(&mut self.buf)?;
        self.wrote().await
    }

    /// Writes any serialisable value as one JSON line.
    pub async fn write_json<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        encode_line(value, &mut self.buf)?;
        self.wrote().await
    }

    /// Writes a heartbeat: a bare newline.
    pub async fn heartbeat(&mut self) -> Result<(), Error> {
        encode_heartbeat(&mut self.buf);
        self.wrote().await
    }

    /// How many lines were written.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// Writes out what is buffered and flushes the output.
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.out.write_all(&self.buf).await.map_err(Error::Io)?;
        self.buf.clear();
        self.out.flush().await.map_err(Error::Io)
    }

    /// Flushes, shuts the output down, and gives it back.
    pub async fn close(mut self) -> Result<W, Error> {
        self.flush().await?;
        self.out.shutdown().await.map_err(Error::Io)?;
        Ok(self.out)
    }

    async fn wrote(&mut self) -> Result<(), Error> {
        self.lines += 1;
        if self.buf.len() >= FLUSH_AT {
            self.out.write_all(&self.buf).await.map_err(Error::Io)?;
            self.buf.clear();
        }
        Ok(())
    }
}
