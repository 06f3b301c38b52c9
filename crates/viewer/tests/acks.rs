//! Acknowledged streams (`plotstream-ack: 1`) and their resumption, over
//! real sockets on 127.0.0.1: raw requests, so the bytes are the
//! extension's, and plotstream's own client.

mod common;

use std::time::Duration;

use common::{figure, get_json, start};
use plotstream_client::{Error, Stream, StreamOptions};
use plotstream_protocol::{Ack, Update, Write};
use plotstream_viewer::Config;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const TOKEN: &str = "tok";

async fn with_figure() -> common::Running {
    let v = start(Config::default()).await;
    v.viewer
        .add_figure(figure(TOKEN, 1000))
        .expect("a valid figure");
    v
}

/// An acknowledged stream's head, sent by hand.
async fn open(addr: &str, extra: &str) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr).await.expect("connects");
    let head = format!(
        "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\nplotly-streamtoken: {TOKEN}\r\nplotstream-ack: 1\r\n{extra}\r\n"
    );
    s.write_all(head.as_bytes()).await.expect("sends");
    BufReader::new(s)
}

async fn chunk(s: &mut BufReader<TcpStream>, lines: &str) {
    let c = format!("{:x}\r\n{lines}\r\n", lines.len());
    s.get_mut().write_all(c.as_bytes()).await.expect("sends");
}

/// Reads the answer's head; its lowercase text.
async fn head(s: &mut BufReader<TcpStream>) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(Duration::from_secs(5), s.read_line(&mut line))
            .await
            .expect("the head comes at once")
            .expect("reads");
        if n == 0 || line == "\r\n" {
            return head.to_ascii_lowercase();
        }
        head.push_str(&line);
    }
}

/// Reads ack lines (the answer is chunked) until one acks `n` lines or
/// carries an error; that one.
async fn ack_until(s: &mut BufReader<TcpStream>, n: u64) -> Ack {
    loop {
        let mut size = String::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_line(&mut size))
            .await
            .expect("acks keep coming")
            .expect("reads");
        assert!(read > 0, "the answer ended before an ack of {n}");
        let len = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        let mut data = vec![0; len + 2];
        s.read_exact(&mut data).await.expect("the chunk");
        for line in data[..len].split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let ack = Ack::parse(line).expect("an ack line");
            if ack.acked >= n || ack.status.is_some() {
                return ack;
            }
        }
    }
}

async fn xs(addr: &str) -> serde_json::Value {
    get_json(addr, &format!("/api/streams/{TOKEN}")).await.1["traces"][0]["x"].clone()
}

#[tokio::test]
async fn the_head_comes_at_once_and_acks_count_every_line_taken() {
    let v = with_figure().await;
    let mut s = open(&v.addr, "").await;
    let h = head(&mut s).await;
    assert!(h.starts_with("http/1.1 200"), "{h}");
    assert!(h.contains("plotstream-ack: 1"), "{h}");
    assert!(h.contains("content-type: application/x-ndjson"), "{h}");
    assert_eq!(
        ack_until(&mut s, 0).await,
        Ack::progress(0),
        "the first ack says where it starts"
    );
    chunk(&mut s, "{\"x\":1}\n{\"x\":2}\n\n").await;
    assert_eq!(
        ack_until(&mut s, 3).await,
        Ack::progress(3),
        "a heartbeat is a line too"
    );
    chunk(&mut s, "{\"x\":3}\n").await;
    s.get_mut().write_all(b"0\r\n\r\n").await.expect("ends");
    assert_eq!(ack_until(&mut s, 4).await, Ack::progress(4));
    assert_eq!(xs(&v.addr).await, json!([1, 2, 3]));
}

#[tokio::test]
async fn a_resumed_stream_passes_over_the_lines_the_viewer_has() {
    let v = with_figure().await;
    let mut first = open(&v.addr, "plotstream-resume: s-1:0\r\n").await;
    head(&mut first).await;
    chunk(&mut first, "{\"x\":0}\n{\"x\":1}\n{\"x\":2}\n{\"x\":3}\n").await;
    ack_until(&mut first, 4).await;
    // The connection drops; the client had only 2 acknowledged, so it
    // sends from line 2 again.
    drop(first);
    let mut second = open(&v.addr, "plotstream-resume: s-1:2\r\n").await;
    head(&mut second).await;
    assert_eq!(
        ack_until(&mut second, 0).await.acked,
        4,
        "it says what it has"
    );
    chunk(&mut second, "{\"x\":2}\n{\"x\":3}\n{\"x\":4}\n").await;
    second
        .get_mut()
        .write_all(b"0\r\n\r\n")
        .await
        .expect("ends");
    assert_eq!(ack_until(&mut second, 5).await, Ack::progress(5));
    assert_eq!(xs(&v.addr).await, json!([0, 1, 2, 3, 4]), "each line once");
    let (_, m) = get_json(&v.addr, "/metrics").await;
    let m = m.as_str().expect("text").to_owned();
    assert!(
        m.contains("plotstream_resumed_lines_skipped_total 2"),
        "{m}"
    );
}

#[tokio::test]
async fn a_stream_the_viewer_does_not_know_counts_from_where_it_resumes() {
    let v = with_figure().await;
    let mut s = open(&v.addr, "plotstream-resume: from-before-a-restart:100\r\n").await;
    head(&mut s).await;
    assert_eq!(ack_until(&mut s, 0).await.acked, 100);
    chunk(&mut s, "{\"x\":100}\n{\"x\":101}\n").await;
    s.get_mut().write_all(b"0\r\n\r\n").await.expect("ends");
    assert_eq!(ack_until(&mut s, 102).await, Ack::progress(102));
    assert_eq!(xs(&v.addr).await, json!([100, 101]));
}

#[tokio::test]
async fn a_bad_line_ends_an_acknowledged_stream_with_its_status_in_the_last_ack() {
    let v = with_figure().await;
    let mut s = open(&v.addr, "").await;
    head(&mut s).await;
    chunk(&mut s, "{\"x\":1}\nnot json\n").await;
    let last = ack_until(&mut s, u64::MAX).await;
    assert_eq!((last.acked, last.status), (1, Some(400)), "{last:?}");
    assert!(
        last.error.as_deref().is_some_and(|e| e.contains("line 2")),
        "{last:?}"
    );
}

#[tokio::test]
async fn bad_ack_headers_are_refused_by_name() {
    let v = with_figure().await;
    for (extra, words) in [
        (
            "plotstream-resume: s:1\r\n",
            "send plotstream-ack: 1 with it",
        ),
        ("plotstream-ack: yes\r\n", "with the value 1"),
        (
            "plotstream-ack: 1\r\nplotstream-resume: s\r\n",
            "has no ':'",
        ),
        (
            "plotstream-ack: 1\r\nplotstream-resume: a b:1\r\n",
            "a stream id is",
        ),
    ] {
        let req = format!(
            "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\nplotly-streamtoken: {TOKEN}\r\n{extra}\r\n0\r\n\r\n"
        );
        let a = common::raw(&v.addr, req.as_bytes()).await;
        assert_eq!(a.status, 400, "{extra}");
        assert!(a.body.contains(words), "{extra}: {}", a.body);
    }
}

fn acked() -> StreamOptions {
    StreamOptions {
        acks: true,
        ..StreamOptions::default()
    }
}

#[tokio::test]
async fn the_client_s_writes_are_all_acknowledged() {
    let v = with_figure().await;
    let stream = Stream::connect(&v.url, TOKEN, acked())
        .await
        .expect("connects");
    for i in 0..1000 {
        stream.write(&Write::xy(i, 0.5)).await.expect("writes");
    }
    let summary = stream.close().await.expect("closes");
    assert_eq!(summary.status, 200);
    let st = summary.stats;
    assert_eq!(
        (st.writes, st.acked, st.dropped, st.unconfirmed, st.queued),
        (1000, 1000, 0, 0, 0)
    );
    let x = xs(&v.addr).await;
    assert_eq!(x.as_array().map(Vec::len), Some(1000));
}

#[tokio::test]
async fn a_client_streaming_with_acks_to_a_server_without_them_is_told_so() {
    // A server that reads the request and never answers, as a Plotly
    // server that answers only at the end would.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accepts");
        let mut sink = vec![0; 4096];
        while s.read(&mut sink).await.is_ok_and(|n| n > 0) {}
    });
    let opts = StreamOptions {
        connect_timeout: Duration::from_millis(300),
        ..acked()
    };
    let stream = Stream::connect(&url, TOKEN, opts).await.expect("connects");
    stream.write(&Write::xy(1, 1.0)).await.expect("queued");
    let err = stream.close().await.expect_err("no acks");
    let Error::Stopped(reason) = &err else {
        panic!("{err}");
    };
    assert!(matches!(**reason, Error::NoAcks { .. }), "{reason}");
    assert!(
        err.to_string().contains("without acks") || reason.to_string().contains("without acks")
    );
}

#[tokio::test]
async fn a_resumed_client_sends_nothing_twice_when_the_viewer_ends_its_stream() {
    // The viewer ends a stream idle for 300 ms with 408; the client
    // reconnects, resumes, and the figure has each write once.
    let v = start(Config {
        idle_timeout: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    v.viewer
        .add_figure(figure(TOKEN, 1000))
        .expect("a valid figure");
    let opts = StreamOptions {
        reconnect_backoff: Duration::from_millis(20),
        ..acked()
    };
    let stream = Stream::connect(&v.url, TOKEN, opts)
        .await
        .expect("connects");
    let mut w = Write::xy(0, 0.0);
    for i in 0..20u32 {
        w.x = Some(Update::append(i));
        stream.write(&w).await.expect("writes");
        if i % 5 == 4 {
            tokio::time::sleep(Duration::from_millis(450)).await;
        }
    }
    let summary = stream.close().await.expect("closes");
    assert!(summary.stats.reconnects >= 3, "{:?}", summary.stats);
    assert_eq!(summary.stats.acked, 20);
    let want: Vec<u32> = (0..20).collect();
    assert_eq!(xs(&v.addr).await, json!(want));
}

#[tokio::test]
async fn a_connection_naming_no_stream_leaves_the_token_s_stream_resumable() {
    let v = with_figure().await;
    let mut s = open(&v.addr, "plotstream-resume: s-1:0\r\n").await;
    head(&mut s).await;
    chunk(&mut s, "{\"x\":0}\n{\"x\":1}\n{\"x\":2}\n").await;
    s.get_mut().write_all(b"0\r\n\r\n").await.expect("ends");
    assert_eq!(ack_until(&mut s, 3).await.acked, 3);
    // Another acknowledged connection, naming no stream: counted alone.
    let mut other = open(&v.addr, "").await;
    head(&mut other).await;
    chunk(&mut other, "{\"x\":10}\n{\"x\":11}\n").await;
    other.get_mut().write_all(b"0\r\n\r\n").await.expect("ends");
    assert_eq!(ack_until(&mut other, 2).await, Ack::progress(2));
    // s-1 resumes from line 1 (its client saw only the first ack): the
    // viewer still knows it, and passes over lines 1 and 2.
    let mut again = open(&v.addr, "plotstream-resume: s-1:1\r\n").await;
    head(&mut again).await;
    chunk(&mut again, "{\"x\":1}\n{\"x\":2}\n{\"x\":3}\n").await;
    again.get_mut().write_all(b"0\r\n\r\n").await.expect("ends");
    assert_eq!(ack_until(&mut again, 4).await, Ack::progress(4));
    assert_eq!(xs(&v.addr).await, json!([0, 1, 2, 10, 11, 3]));
}
