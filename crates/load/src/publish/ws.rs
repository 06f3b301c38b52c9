//! WebSocket (RFC 6455): one connection per stream, one masked text frame
//! per write, framed into the worker's buffer and written with one call.
//! A small task reads the server's frames: it answers pings (through the
//! worker, so that frames never interleave) and keeps the close code.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};

use plotstream_client::Counts;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::socket::{self, CLOSE_TIMEOUT, Socket};
use super::{Closed, Message, Publish, PublishError, Sent, fill};

/// Where the streams go, and the headers they send.
#[derive(Debug)]
pub(crate) struct Config {
    /// `ws://host:port/path`, `{token}` filled per stream.
    pub(crate) url: String,
    /// Extra request headers (auth, routing).
    pub(crate) headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

const TEXT: u8 = 0x1;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xA;

/// The largest control frame's payload (RFC 6455 5.5).
const MAX_CONTROL: usize = 125;

/// Frames `payload` as one final, masked frame of `opcode` into `out`.
pub(crate) fn frame(opcode: u8, payload: &[u8], mask: [u8; 4], out: &mut Vec<u8>) {
    out.clear();
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if let Ok(short) = u16::try_from(len) {
        out.push(0x80 | 126);
        out.extend_from_slice(&short.to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    for (i, b) in out[start..].iter_mut().enumerate() {
        *b ^= mask[i & 3];
    }
}

/// What the reader learnt of the server.
#[derive(Debug, Default)]
struct Heard {
    /// The server closed (its code), or the connection failed.
    closed: OnceLock<String>,
    /// A ping's payload, to answer before the next write.
    ping: Mutex<Option<Vec<u8>>>,
    pinged: AtomicBool,
}

/// Reads the server's frames (unmasked, RFC 6455 5.1): keeps pings for the
/// worker to answer and ends at the close, with its code.
struct FrameReader {
    buf: Vec<u8>,
    /// Payload bytes of a data frame still to pass over.
    skip: u64,
}

impl FrameReader {
    /// Takes `bytes`; `Some(code)` at the server's close.
    fn take(&mut self, mut bytes: &[u8], heard: &Heard) -> Option<String> {
        if self.skip > 0 {
            let n = usize::try_from(self.skip)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            self.skip -= n as u64;
            bytes = &bytes[n..];
        }
        self.buf.extend_from_slice(bytes);
        loop {
            let b = &self.buf;
            if b.len() < 2 {
                return None;
            }
            let (opcode, masked, len7) = (b[0] & 0x0F, b[1] & 0x80 != 0, u64::from(b[1] & 0x7F));
            let (len, mut at) = match len7 {
                126 if b.len() >= 4 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
                127 if b.len() >= 10 => {
                    let mut n = [0u8; 8];
                    n.copy_from_slice(&b[2..10]);
                    (u64::from_be_bytes(n), 10)
                }
                126 | 127 => return None,
                n => (n, 2),
            };
            let mask = if masked {
                if b.len() < at + 4 {
                    return None;
                }
                at += 4;
                Some([b[at - 4], b[at - 3], b[at - 2], b[at - 1]])
            } else {
                None
            };
            if opcode < CLOSE {
                // A data frame: nothing in it matters to a publisher.
                let have = (b.len() - at) as u64;
                if have < len {
                    self.skip = len - have;
                    self.buf.clear();
                    return None;
                }
                self.buf.drain(..at + len as usize);
                continue;
            }
            let len = len as usize;
            if b.len() < at + len {
                return None;
            }
            let mut payload = b[at..at + len].to_vec();
            if let Some(mask) = mask {
                for (i, p) in payload.iter_mut().enumerate() {
                    *p ^= mask[i & 3];
                }
            }
            self.buf.drain(..at + len);
            match opcode {
                CLOSE => {
                    return Some(match payload.get(..2) {
                        Some(&[a, b]) => u16::from_be_bytes([a, b]).to_string(),
                        _ => "close without a code".to_owned(),
                    });
                }
                PING => {
                    payload.truncate(MAX_CONTROL);
                    *heard.ping.lock().unwrap_or_else(PoisonError::into_inner) = Some(payload);
                    heard.pinged.store(true, Ordering::Release);
                }
                _ => {}
            }
        }
    }
}

/// One stream's WebSocket.
pub(crate) struct Ws {
    socket: Socket,
    heard: Arc<Heard>,
    reader: JoinHandle<Option<String>>,
    /// The masking keys' generator (xorshift64).
    mask_state: u64,
    counts: Counts,
}

impl Ws {
    fn next_mask(&mut self) -> [u8; 4] {
        let mut x = self.mask_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.mask_state = x;
        let [a, b, c, d, ..] = x.to_le_bytes();
        [a, b, c, d]
    }

    /// The close, as an error, once the server has closed.
    fn server_closed(&self) -> Option<PublishError> {
        self.heard.closed.get().map(|code| PublishError::Ended {
            answer: format!("the server closed the WebSocket ({code})"),
        })
    }
}

/// The upgrade request for `path` on `host`, with `key` and `headers`.
fn upgrade(
    host: &str,
    port: u16,
    path: &str,
    key: &str,
    headers: &[(http::HeaderName, http::HeaderValue)],
) -> Vec<u8> {
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    )
    .into_bytes();
    for (name, value) in headers {
        req.extend_from_slice(name.as_str().as_bytes());
        req.extend_from_slice(b": ");
        req.extend_from_slice(value.as_bytes());
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"\r\n");
    req
}

/// Checks the upgrade's answer: 101 with the key's accept value. How long
/// the head is, once it is whole.
fn upgraded(buf: &[u8], key: &str, server: &str) -> Result<Option<usize>, PublishError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let refused = |reason: String| PublishError::Refused {
        server: server.to_owned(),
        reason,
    };
    let n = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(PublishError::Protocol(format!("the upgrade's answer: {e}"))),
    };
    let code = response.code.unwrap_or(0);
    if code != 101 {
        return Err(refused(format!(
            "{code} {}",
            response.reason.unwrap_or_default()
        )));
    }
    let accept = response
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-accept"))
        .map(|h| h.value);
    if accept != Some(derive_accept_key(key.as_bytes()).as_bytes()) {
        return Err(refused("a wrong Sec-WebSocket-Accept".to_owned()));
    }
    Ok(Some(n))
}

impl Publish for Ws {
    type Config = Config;

    async fn connect(
        config: &Config,
        token: &str,
        local: Option<std::net::IpAddr>,
    ) -> Result<Self, PublishError> {
        let url = fill(&config.url, token);
        let (host, port, path) = socket::split_url(&url, 80).map_err(PublishError::Protocol)?;
        let mut tcp = socket::connect(&host, port, local, &url).await?;
        let key = generate_key();
        socket::write_all(
            &mut tcp,
            &upgrade(&host, port, &path, &key, &config.headers),
        )
        .await?;
        let mut buf = Vec::new();
        let n = socket::read_opening(&mut tcp, &mut buf, 16 * 1024, &url, |b| {
            upgraded(b, &key, &url)
        })
        .await?;
        let (socket, mut read_half) = Socket::new(tcp);
        let heard = Arc::new(Heard::default());
        let seen = Arc::clone(&heard);
        let reader = tokio::spawn(async move {
            let mut frames = FrameReader {
                buf: Vec::new(),
                skip: 0,
            };
            let mut code = frames.take(&buf[n..], &seen);
            if code.is_none() {
                let read = socket::read_all(&mut read_half, |bytes| {
                    code = frames.take(bytes, &seen);
                    code.is_none()
                })
                .await;
                if let Err(e) = read {
                    code = Some(format!("error: {e}"));
                }
            }
            if let Some(code) = &code {
                let _ = seen.closed.set(code.clone());
            }
            code
        });
        let seed = std::hash::BuildHasher::hash_one(
            &std::collections::hash_map::RandomState::new(),
            token,
        );
        Ok(Ws {
            socket,
            heard,
            reader,
            mask_state: seed | 1,
            counts: Counts::default(),
        })
    }

    fn try_send(
        &mut self,
        message: &Message<'_>,
        scratch: &mut Vec<u8>,
    ) -> Result<Sent, PublishError> {
        if let Some(e) = self.server_closed() {
            return Err(e);
        }
        if self.heard.pinged.swap(false, Ordering::Acquire) {
            let ping = self
                .heard
                .ping
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let mask = self.next_mask();
            frame(PONG, &ping.unwrap_or_default(), mask, scratch);
            self.socket.send(scratch)?;
        }
        let mask = self.next_mask();
        frame(TEXT, message.payload, mask, scratch);
        let sent = self.socket.send(scratch)?;
        self.counts.writes += 1;
        self.counts.bytes += message.payload.len() as u64;
        Ok(sent)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PublishError>> {
        self.socket.poll_flush(cx)
    }

    async fn close(mut self) -> Closed {
        let mut closed = Closed {
            counts: self.counts,
            ..Closed::default()
        };
        if let Some(e) = self.server_closed() {
            closed.status = self.heard.closed.get().cloned();
            closed.error = Some(e);
            closed.counts.unconfirmed = closed.counts.writes;
            return closed;
        }
        let mut scratch = Vec::with_capacity(8);
        let mask = self.next_mask();
        frame(CLOSE, &1000u16.to_be_bytes(), mask, &mut scratch);
        let sent = self.socket.send_all(&scratch).await;
        closed.status = match tokio::time::timeout(CLOSE_TIMEOUT, &mut self.reader).await {
            Ok(Ok(Some(code))) if sent.is_ok() && !code.starts_with("error") => Some(code),
            _ => {
                self.reader.abort();
                closed.error = Some(match sent {
                    Err(e) => e,
                    Ok(()) => {
                        PublishError::Protocol("the server did not answer the close".to_owned())
                    }
                });
                closed.counts.unconfirmed = closed.counts.writes;
                Some("no close".to_owned())
            }
        };
        closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 5.7's example: "Hello", masked with 37 fa 21 3d.
    #[test]
    fn a_masked_text_frame_is_as_the_rfc_has_it() {
        let mut out = Vec::new();
        frame(TEXT, b"Hello", [0x37, 0xfa, 0x21, 0x3d], &mut out);
        assert_eq!(
            out,
            [
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
            ]
        );
        frame(TEXT, &[b'a'; 300], [0; 4], &mut out);
        assert_eq!(&out[..4], &[0x81, 0x80 | 126, 0x01, 0x2c]);
        assert_eq!(out.len(), 4 + 4 + 300);
    }

    /// The server's frames, whole or cut anywhere: data passed over, a
    /// ping kept for the worker, the close's code.
    #[test]
    fn server_frames_are_read_across_any_cut() {
        let mut stream = vec![0x81, 0x03, b'a', b'b', b'c'];
        stream.extend_from_slice(&[0x82, 126, 0x01, 0x00]);
        stream.extend_from_slice(&[0u8; 256]);
        stream.extend_from_slice(&[0x89, 0x02, b'h', b'i']);
        stream.extend_from_slice(&[0x88, 0x02, 0x03, 0xe8]);
        for cut in 0..stream.len() {
            let heard = Heard::default();
            let mut reader = FrameReader {
                buf: Vec::new(),
                skip: 0,
            };
            let first = reader.take(&stream[..cut], &heard);
            let code = first.or_else(|| reader.take(&stream[cut..], &heard));
            assert_eq!(code.as_deref(), Some("1000"), "cut at {cut}");
            assert!(heard.pinged.load(Ordering::Relaxed), "cut at {cut}");
            assert_eq!(
                heard.ping.lock().expect("lock").as_deref(),
                Some(&b"hi"[..])
            );
        }
    }

    #[test]
    fn the_upgrade_needs_101_and_the_right_accept() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let ok =
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81";
        assert_eq!(upgraded(ok, key, "s").ok(), Some(Some(ok.len() - 1)));
        assert_eq!(upgraded(&ok[..20], key, "s").ok(), Some(None));
        let refused = b"HTTP/1.1 403 Forbidden\r\n\r\n";
        let err = upgraded(refused, key, "ws://s/").expect_err("403");
        assert_eq!(err.to_string(), "ws://s/ refused the stream: 403 Forbidden");
        let wrong = b"HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: x\r\n\r\n";
        assert!(upgraded(wrong, key, "s").is_err());
    }
}
