//! Helpers: a real viewer on 127.0.0.1:0, and raw HTTP against it.

#![allow(dead_code, unreachable_pub)]

use plotstream_protocol::{Figure, StreamSpec, Trace};
use plotstream_viewer::{Config, Viewer};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Running {
    pub viewer: Viewer,
    pub addr: String,
    pub url: String,
}

/// Starts a viewer with `config` on a free loopback port.
pub async fn start(config: Config) -> Running {
    let viewer = Viewer::new(config).expect("a valid config");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address").to_string();
    tokio::spawn(plotstream_viewer::serve(
        listener,
        viewer.clone(),
        std::future::pending(),
    ));
    Running {
        viewer,
        url: format!("http://{addr}"),
        addr,
    }
}

/// A figure with one scatter trace fed by `token`.
pub fn figure(token: &str, maxpoints: u64) -> Figure {
    Figure {
        data: vec![Trace::streamed(
            "scatter",
            StreamSpec::new(token, maxpoints),
        )],
        ..Figure::default()
    }
}

/// An HTTP answer: status, headers (lowercase) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends `request` (the whole of it, raw) and reads the answer until the
/// server closes the connection.
pub async fn raw(addr: &str, request: &[u8]) -> Answer {
    let mut s = TcpStream::connect(addr).await.expect("connects");
    s.write_all(request).await.expect("sends");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    parse_answer(&out)
}

pub fn parse_answer(out: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

/// A chunked `POST /` with `token` (none: no header), one chunk per piece.
pub fn stream_request(token: Option<&str>, pieces: &[&[u8]]) -> Vec<u8> {
    let mut req = b"POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\nconnection: close\r\n".to_vec();
    if let Some(t) = token {
        req.extend_from_slice(format!("plotly-streamtoken: {t}\r\n").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    for piece in pieces {
        req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        req.extend_from_slice(piece);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    req
}

/// The body as JSON; an error's text as a JSON string.
fn body_json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.trim_end().to_owned()))
}

/// `GET path` and the body as JSON (an error's text as a string).
pub async fn get_json(addr: &str, path: &str) -> (u16, Value) {
    let a = raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    (a.status, body_json(&a.body))
}

/// `POST path` with a JSON body; the answer's body as JSON (an error's text
/// as a string).
pub async fn post_json(addr: &str, path: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let req = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let a = raw(addr, req.as_bytes()).await;
    (a.status, body_json(&a.body))
}
