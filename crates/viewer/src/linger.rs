//! A lingering close for every connection.
//!
//! Plotly's Python client ends a stream with `\r\n0\r\n\r\n`: hyper stops
//! reading at the stray CRLF, answers, and closes with `0\r\n\r\n` still
//! unread. Closing a socket with unread data makes the kernel send a reset,
//! which can destroy the answer before the client reads it (the client reads
//! it a byte at a time, until the server closes). So when hyper is done with a
//! connection, this sends FIN after the answer and reads and drops whatever
//! the peer still sends, for up to two seconds, before closing.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::server::ConnTail;

/// How long a closed connection may keep draining the peer's bytes.
const LINGER: Duration = Duration::from_secs(2);

/// A [`TcpListener`] whose connections close gracefully (see the module docs).
#[derive(Debug)]
pub struct LingeringListener(TcpListener);

impl LingeringListener {
    /// Wraps a bound listener.
    pub fn new(listener: TcpListener) -> Self {
        LingeringListener(listener)
    }
}

impl axum::serve::Listener for LingeringListener {
    type Io = Lingering;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Lingering, SocketAddr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    // Lines are small; latency matters more than packet count.
                    let _ = stream.set_nodelay(true);
                    return (Lingering::new(stream, ConnTail::default()), addr);
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait, then retry.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// An accepted connection that lingers when dropped, and keeps the last
/// bytes it read (for the stream handler to tell Plotly's Python client's
/// close from a malformed body).
#[derive(Debug)]
pub struct Lingering {
    stream: Option<TcpStream>,
    tail: ConnTail,
}

impl Lingering {
    pub(crate) fn new(stream: TcpStream, tail: ConnTail) -> Self {
        Lingering {
            stream: Some(stream),
            tail,
        }
    }

    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        let Some(mut stream) = self.stream.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let _ = stream.shutdown().await;
            let mut sink = [0u8; 4096];
            let _ = tokio::time::timeout(LINGER, async {
                while let Ok(n) = stream.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        });
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = match self.stream() {
            Ok(s) => Pin::new(s).poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        };
        if let Poll::Ready(Ok(())) = result {
            self.tail.record(&buf.filled()[before..]);
        }
        result
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.stream() {
            Ok(s) => Pin::new(s).poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(s) => Pin::new(s).poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(s) => Pin::new(s).poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.stream() {
            Ok(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream
            .as_ref()
            .is_some_and(AsyncWrite::is_write_vectored)
    }
}
