//! [`Socket`]: a TCP connection that a worker writes frames to with one
//! `write` call each, and [`Reader`], the small task that reads what the
//! server says on it.
//!
//! A write is framed by its publisher into the worker's buffer and handed to
//! the kernel with [`tokio::net::TcpStream::try_write`]: one system call and,
//! with `TCP_NODELAY`, one segment per write, and no task woken. When the
//! kernel's buffer is full, what it did not take waits here (one write at
//! the most: the stream writes nothing more until it is out) and
//! [`Socket::poll_flush`] sends it once the socket is writable again.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};

use super::{PublishError, Sent};

/// How long connecting may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a clean close may wait for the server's last word.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The most a reader keeps of what the server says (an answer's body).
pub(crate) const MAX_ANSWER: usize = 64 * 1024;

/// Connects to `host:port` (from `local` where given), with `TCP_NODELAY`:
/// each write is a segment of its own, sent now.
pub(crate) async fn connect(
    host: &str,
    port: u16,
    local: Option<IpAddr>,
    server: &str,
) -> Result<TcpStream, PublishError> {
    let failed = |source: io::Error| PublishError::Connect {
        server: server.to_owned(),
        source,
    };
    let attempt = async {
        let mut last = None;
        for addr in tokio::net::lookup_host((host, port)).await? {
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            if let Some(ip) = local {
                socket.bind(SocketAddr::new(ip, 0))?;
            }
            match socket.connect(addr).await {
                Ok(tcp) => return Ok(tcp),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("the host has no address")))
    };
    let tcp = tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| PublishError::ConnectTimeout {
            server: server.to_owned(),
            seconds: CONNECT_TIMEOUT.as_secs(),
        })?
        .map_err(failed)?;
    tcp.set_nodelay(true).map_err(failed)?;
    Ok(tcp)
}

/// Writes `bytes` whole (the opening of a stream), waiting as needed.
pub(crate) async fn write_all(tcp: &mut TcpStream, bytes: &[u8]) -> Result<(), PublishError> {
    tcp.write_all(bytes).await.map_err(PublishError::Io)
}

/// Reads from `tcp` into `buf` until `done` says what it holds is enough
/// (it returns how many bytes that is), up to `max` bytes and within the
/// connect timeout; the bytes after it are left in `buf`. For the answer to
/// a stream's opening (an HTTP upgrade's head, a CONNACK) from `server`.
#[cfg_attr(not(any(feature = "ws", feature = "mqtt")), allow(dead_code))]
pub(crate) async fn read_opening(
    tcp: &mut TcpStream,
    buf: &mut Vec<u8>,
    max: usize,
    server: &str,
    done: impl FnMut(&[u8]) -> Result<Option<usize>, PublishError>,
) -> Result<usize, PublishError> {
    tokio::time::timeout(CONNECT_TIMEOUT, read_until(tcp, buf, max, done))
        .await
        .map_err(|_| PublishError::ConnectTimeout {
            server: server.to_owned(),
            seconds: CONNECT_TIMEOUT.as_secs(),
        })?
}

#[cfg_attr(not(any(feature = "ws", feature = "mqtt")), allow(dead_code))]
async fn read_until(
    tcp: &mut TcpStream,
    buf: &mut Vec<u8>,
    max: usize,
    mut done: impl FnMut(&[u8]) -> Result<Option<usize>, PublishError>,
) -> Result<usize, PublishError> {
    loop {
        if let Some(n) = done(buf)? {
            return Ok(n);
        }
        if buf.len() >= max {
            return Err(PublishError::Protocol(format!(
                "the server's answer is over {max} bytes"
            )));
        }
        let mut chunk = [0u8; 2048];
        let n = tcp.read(&mut chunk).await.map_err(PublishError::Io)?;
        if n == 0 {
            return Err(PublishError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A connection's writing side, owned by the stream's worker.
#[derive(Debug)]
pub(crate) struct Socket {
    tcp: OwnedWriteHalf,
    /// What the kernel has not taken yet, from `sent` on.
    held: Vec<u8>,
    sent: usize,
}

impl Socket {
    /// The writing side of `tcp`, and its reading side for a reader task.
    pub(crate) fn new(tcp: TcpStream) -> (Socket, OwnedReadHalf) {
        let (read, write) = tcp.into_split();
        let socket = Socket {
            tcp: write,
            held: Vec::new(),
            sent: 0,
        };
        (socket, read)
    }

    /// Whether it holds bytes the kernel has not taken.
    pub(crate) fn holds(&self) -> bool {
        self.sent < self.held.len()
    }

    /// Writes `bytes` with one `write` call, keeping what the kernel does
    /// not take; after bytes are held, only keeps them (in order).
    pub(crate) fn send(&mut self, bytes: &[u8]) -> Result<Sent, PublishError> {
        if self.holds() {
            self.held.extend_from_slice(bytes);
            return Ok(Sent::Held);
        }
        match self.tcp.try_write(bytes) {
            Ok(n) if n == bytes.len() => Ok(Sent::Out),
            Ok(n) => {
                self.hold(&bytes[n..]);
                Ok(Sent::Held)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.hold(bytes);
                Ok(Sent::Held)
            }
            Err(e) => Err(PublishError::Io(e)),
        }
    }

    fn hold(&mut self, bytes: &[u8]) {
        self.held.clear();
        self.sent = 0;
        self.held.extend_from_slice(bytes);
    }

    /// Sends what is held; ready once nothing is.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PublishError>> {
        while self.holds() {
            let n = ready!(Pin::new(&mut self.tcp).poll_write(cx, &self.held[self.sent..]))
                .map_err(PublishError::Io)?;
            if n == 0 {
                return Poll::Ready(Err(PublishError::Io(io::ErrorKind::WriteZero.into())));
            }
            self.sent += n;
        }
        // A large backlog's buffer is not kept for the stream's life.
        if self.held.capacity() > 4096 {
            self.held = Vec::new();
        } else {
            self.held.clear();
        }
        self.sent = 0;
        Poll::Ready(Ok(()))
    }

    /// Sends what is held, waiting.
    pub(crate) async fn flush(&mut self) -> Result<(), PublishError> {
        std::future::poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Writes `bytes` whole after what is held, waiting (a closing frame).
    pub(crate) async fn send_all(&mut self, bytes: &[u8]) -> Result<(), PublishError> {
        if self.send(bytes)? == Sent::Held {
            self.flush().await?;
        }
        Ok(())
    }
}

/// Reads what the server sends on a connection, as it comes, into
/// `on_bytes`, until that returns `false` or the server closes. `Ok(())` at
/// the server's close; the error that ended it otherwise. (A short read
/// tells tokio the socket is drained: one `recv` a message of the server's.)
pub(crate) async fn read_all(
    tcp: &mut OwnedReadHalf,
    mut on_bytes: impl FnMut(&[u8]) -> bool,
) -> io::Result<()> {
    let mut buf = [0u8; 1024];
    loop {
        match tcp.read(&mut buf).await? {
            0 => return Ok(()),
            n if !on_bytes(&buf[..n]) => return Ok(()),
            _ => {}
        }
    }
}

/// A URL's host, port and path (with its query), for the plain-TCP
/// publishers; `default_port` when the URL has none.
pub(crate) fn split_url(url: &str, default_port: u16) -> Result<(String, u16, String), String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    let host = uri
        .host()
        .ok_or_else(|| format!("{url:?} has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let path = if path.is_empty() {
        "/".to_owned()
    } else {
        path
    };
    Ok((host, uri.port_u16().unwrap_or(default_port), path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_port_and_path() {
        assert_eq!(
            split_url("http://127.0.0.1:9000/pub/a?x=1", 80),
            Ok(("127.0.0.1".to_owned(), 9000, "/pub/a?x=1".to_owned()))
        );
        assert_eq!(
            split_url("ws://localhost", 80),
            Ok(("localhost".to_owned(), 80, "/".to_owned()))
        );
        assert_eq!(
            split_url("mqtt://[::1]:1884", 1883),
            Ok(("::1".to_owned(), 1884, "/".to_owned()))
        );
        assert!(split_url("not a url", 80).is_err());
    }

    /// A write the kernel cannot take is held, whole and in order, and sent
    /// by the flush once the reader drains the socket.
    #[tokio::test]
    async fn what_the_kernel_does_not_take_is_held_and_flushed() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("an address");
        let tcp = connect("127.0.0.1", addr.port(), None, "test")
            .await
            .expect("connects");
        let (mut server, _) = listener.accept().await.expect("accepts");
        let (mut socket, _read) = Socket::new(tcp);
        let block = vec![7u8; 64 * 1024];
        let mut sent = 0usize;
        // Fill the buffers until a write is held.
        while socket.send(&block).expect("writes") == Sent::Out {
            sent += block.len();
            assert!(sent < 512 << 20, "the kernel never pushed back");
        }
        assert!(socket.holds());
        // Held: a second write is kept behind the first.
        assert_eq!(socket.send(&[1, 2, 3]).expect("kept"), Sent::Held);
        let total = sent + block.len() + 3;
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while got.len() < total {
                let mut buf = vec![0u8; 1 << 16];
                let n = server.read(&mut buf).await.expect("reads");
                assert!(n > 0, "closed early");
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        socket.flush().await.expect("flushes");
        assert!(!socket.holds());
        let got = reader.await.expect("the reader");
        assert_eq!(got.len(), total);
        assert_eq!(&got[total - 3..], &[1, 2, 3], "in order, at the end");
    }
}
