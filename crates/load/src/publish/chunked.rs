//! The Plotly streaming protocol and plain HTTP streams over `http://`: a
//! chunked `POST` (or `PUT`) whose head goes once, then one chunk of one
//! NDJSON line per write, written straight to the socket. A small task
//! reads the server's answer, which a stream server gives at the end or
//! when it refuses the stream.
//!
//! The plotly target sends the `plotly-streamtoken` header; the http
//! target sends the `--header`s instead (`{token}` filled per stream).

use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use plotstream_client::Counts;
use tokio::task::JoinHandle;

use super::socket::{self, CLOSE_TIMEOUT, MAX_ANSWER, Socket};
use super::{Closed, Message, Publish, PublishError, Sent, fill};

/// Where the streams go, and how.
#[derive(Debug)]
pub(crate) struct Config {
    /// The URL, `{token}` filled per stream.
    pub(crate) url: String,
    /// `POST` or `PUT`.
    pub(crate) method: http::Method,
    /// The token goes in `plotly-streamtoken` (the plotly target).
    pub(crate) token_header: bool,
    /// Extra headers; `{token}` in a value is filled per stream.
    pub(crate) headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

/// The server's answer, as the reader saw it.
#[derive(Debug, Default)]
struct Answer {
    status: Option<u16>,
    body: String,
    /// Why the connection ended without a whole answer.
    error: Option<std::io::Error>,
}

/// One stream: its socket, and the task reading the answer.
pub(crate) struct Chunked {
    socket: Socket,
    /// The answer's status, as soon as its head arrived.
    status: Arc<OnceLock<u16>>,
    reader: JoinHandle<Answer>,
    counts: Counts,
}

/// The request's head: the request line, `Host`, the token or the headers,
/// and `Transfer-Encoding: chunked`.
fn head(
    config: &Config,
    token: &str,
    host: &str,
    port: u16,
    path: &str,
) -> Result<Vec<u8>, PublishError> {
    let mut head = format!("{} {path} HTTP/1.1\r\nHost: {host}", config.method);
    let default_port = 80;
    if port != default_port {
        head.push_str(&format!(":{port}"));
    }
    head.push_str("\r\n");
    if config.token_header {
        head.push_str(&format!(
            "{}: {token}\r\n",
            plotstream_protocol::TOKEN_HEADER
        ));
    }
    let mut bytes = head.into_bytes();
    for (name, value) in &config.headers {
        let text = String::from_utf8_lossy(value.as_bytes());
        let filled = http::HeaderValue::from_str(&fill(&text, token)).map_err(|source| {
            PublishError::Header {
                name: name.clone(),
                source,
            }
        })?;
        bytes.extend_from_slice(name.as_str().as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(filled.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
    Ok(bytes)
}

/// Frames `line` (without its newline) as one chunk of one line.
pub(crate) fn chunk(line: &[u8], out: &mut Vec<u8>) {
    use std::io::Write as _;
    out.clear();
    let _ = write!(out, "{:x}\r\n", line.len() + 1);
    out.extend_from_slice(line);
    out.extend_from_slice(b"\n\r\n");
}

/// How an answer's body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyEnd {
    /// After this many bytes (`Content-Length`).
    Length(usize),
    /// At the zero chunk (`Transfer-Encoding: chunked`).
    Chunked,
    /// At the close.
    Close,
}

/// The body of a chunked answer, decoded; `None` until its zero chunk.
fn dechunk(mut bytes: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = bytes.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&bytes[..line]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        bytes = &bytes[line + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(bytes.get(..size)?);
        bytes = bytes.get(size + 2..)?;
    }
}

/// Reads the answer: its status as soon as the head is in; for an error,
/// its body too (64 KiB of it at most), for the report's words. A 2xx
/// answer's body is not waited for: the status says all.
async fn read_answer(
    mut tcp: tokio::net::tcp::OwnedReadHalf,
    status: Arc<OnceLock<u16>>,
) -> Answer {
    let mut answer = Answer::default();
    let mut buf = Vec::new();
    let mut body: Option<(usize, BodyEnd)> = None;
    let read = socket::read_all(&mut tcp, |bytes| {
        buf.extend_from_slice(bytes);
        if body.is_none() {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            let Ok(httparse::Status::Complete(n)) = response.parse(&buf) else {
                return buf.len() < MAX_ANSWER;
            };
            let code = response.code.unwrap_or(0);
            let _ = status.set(code);
            answer.status = Some(code);
            if (200..300).contains(&code) {
                return false;
            }
            let header = |name: &str| {
                response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case(name))
                    .and_then(|h| std::str::from_utf8(h.value).ok())
                    .map(str::trim)
            };
            let end = match (header("content-length"), header("transfer-encoding")) {
                (Some(len), _) => BodyEnd::Length(len.parse().unwrap_or(0)),
                (None, Some(te)) if te.eq_ignore_ascii_case("chunked") => BodyEnd::Chunked,
                _ => BodyEnd::Close,
            };
            body = Some((n, end));
        }
        let whole = match body {
            Some((at, BodyEnd::Length(len))) => buf.len() >= at + len,
            Some((at, BodyEnd::Chunked)) => dechunk(&buf[at..]).is_some(),
            _ => false,
        };
        !whole && buf.len() < MAX_ANSWER
    })
    .await;
    if let Err(e) = read {
        answer.error = Some(e);
    }
    if let Some((at, end)) = body {
        let text = match end {
            BodyEnd::Length(len) => buf[at..(at + len).min(buf.len())].to_vec(),
            BodyEnd::Chunked => dechunk(&buf[at..]).unwrap_or_default(),
            BodyEnd::Close => buf[at..].to_vec(),
        };
        answer.body = String::from_utf8_lossy(&text).trim().to_owned();
    }
    answer
}

impl Publish for Chunked {
    type Config = Config;

    async fn connect(
        config: &Config,
        token: &str,
        local: Option<std::net::IpAddr>,
    ) -> Result<Self, PublishError> {
        let url = fill(&config.url, token);
        let (host, port, path) = socket::split_url(&url, 80).map_err(PublishError::Protocol)?;
        let head = head(config, token, &host, port, &path)?;
        let mut tcp = socket::connect(&host, port, local, &url).await?;
        socket::write_all(&mut tcp, &head).await?;
        let (socket, read_half) = Socket::new(tcp);
        let status = Arc::new(OnceLock::new());
        let reader = tokio::spawn(read_answer(read_half, Arc::clone(&status)));
        Ok(Chunked {
            socket,
            status,
            reader,
            counts: Counts::default(),
        })
    }

    fn try_send(
        &mut self,
        message: &Message<'_>,
        scratch: &mut Vec<u8>,
    ) -> Result<Sent, PublishError> {
        // A stream server answers at the end, or when it refuses the stream.
        if let Some(status) = self.status.get() {
            return Err(PublishError::Ended {
                answer: status.to_string(),
            });
        }
        chunk(message.payload, scratch);
        let sent = self.socket.send(scratch)?;
        self.counts.writes += 1;
        self.counts.bytes += message.payload.len() as u64 + 1;
        Ok(sent)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PublishError>> {
        self.socket.poll_flush(cx)
    }

    async fn close(mut self) -> Closed {
        // The last chunk, then the answer. A stream whose writes went out
        // on a connection that ended without an answer may have lost them.
        let ended = self.socket.send_all(b"0\r\n\r\n").await;
        let answer = tokio::time::timeout(CLOSE_TIMEOUT, &mut self.reader).await;
        let mut closed = Closed {
            counts: self.counts,
            ..Closed::default()
        };
        match answer {
            Ok(Ok(Answer {
                status: Some(code),
                body,
                ..
            })) => {
                closed.status = Some(code.to_string());
                if !(200..300).contains(&code) {
                    let answer = if body.is_empty() {
                        code.to_string()
                    } else {
                        format!("{code} {body}")
                    };
                    closed.error = Some(PublishError::Ended { answer });
                }
            }
            other => {
                self.reader.abort();
                closed.counts.unconfirmed = closed.counts.writes;
                closed.status = Some("no answer".to_owned());
                closed.error = Some(match (ended, other) {
                    (Err(e), _) => e,
                    (_, Ok(Ok(Answer { error: Some(e), .. }))) => PublishError::Io(e),
                    _ => {
                        PublishError::Protocol("the connection ended without an answer".to_owned())
                    }
                });
            }
        }
        closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_answer_is_decoded_once_whole() {
        assert_eq!(
            dechunk(b"5\r\nhello\r\n1\r\n!\r\n0\r\n\r\n").as_deref(),
            Some(&b"hello!"[..])
        );
        assert_eq!(dechunk(b"5\r\nhello\r\n"), None);
        assert_eq!(dechunk(b"0\r\n\r\n").as_deref(), Some(&b""[..]));
    }

    #[test]
    fn a_write_is_one_chunk_of_one_line() {
        let mut out = b"old".to_vec();
        chunk(br#"{"x":1,"y":2}"#, &mut out);
        assert_eq!(out, b"e\r\n{\"x\":1,\"y\":2}\n\r\n");
    }

    #[test]
    fn the_head_carries_the_token_or_the_headers() {
        let plotly = Config {
            url: "http://127.0.0.1:8080/".to_owned(),
            method: http::Method::POST,
            token_header: true,
            headers: Vec::new(),
        };
        let head = head(&plotly, "load-3", "127.0.0.1", 8080, "/").expect("a head");
        assert_eq!(
            String::from_utf8(head).expect("ascii"),
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nplotly-streamtoken: load-3\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        let plain = Config {
            url: "http://h/ingest/{token}".to_owned(),
            method: http::Method::PUT,
            token_header: false,
            headers: vec![(
                http::HeaderName::from_static("authorization"),
                http::HeaderValue::from_static("Bearer {token}"),
            )],
        };
        let head = super::head(&plain, "t1", "h", 80, "/ingest/t1").expect("a head");
        assert_eq!(
            String::from_utf8(head).expect("ascii"),
            "PUT /ingest/t1 HTTP/1.1\r\nHost: h\r\nauthorization: Bearer t1\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
    }
}
