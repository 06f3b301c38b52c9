//! The client against raw TCP servers on 127.0.0.1: the bytes on the wire,
//! reconnects, refused connections, and a stalled server.

use std::time::{Duration, Instant};

use plotstream_client::{Error, Overflow, Stream, StreamOptions};
use plotstream_protocol::{Update, Write};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A request as the server read it: the head, and each chunk's bytes.
#[derive(Debug, Default)]
struct Received {
    head: String,
    chunks: Vec<Vec<u8>>,
    /// Whether the zero chunk arrived.
    ended: bool,
}

impl Received {
    fn body(&self) -> Vec<u8> {
        self.chunks.concat()
    }

    /// The body's lines (without their `\n`).
    fn lines(&self) -> Vec<String> {
        let body = String::from_utf8(self.body()).expect("utf-8 body");
        assert!(
            body.is_empty() || body.ends_with('\n'),
            "the body ends with a newline"
        );
        body.lines().map(str::to_owned).collect()
    }

    /// The writes among the lines, heartbeats left out.
    fn writes(&self) -> Vec<Write> {
        self.lines()
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| Write::from_slice(l.as_bytes()).expect("a write"))
            .collect()
    }
}

async fn bind() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("has an address"));
    (listener, url)
}

/// Reads the request head, up to its blank line.
async fn read_head(r: &mut BufReader<TcpStream>, into: &mut Received) {
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).await.expect("reads the head");
        assert!(
            n > 0,
            "the connection closed inside the head: {}",
            into.head
        );
        into.head.push_str(&line);
        if line == "\r\n" {
            return;
        }
    }
}

/// Reads one chunk: `Some(bytes)`, or `None` at the zero chunk.
async fn read_chunk(r: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut size = String::new();
    if r.read_line(&mut size).await.ok()? == 0 {
        return None;
    }
    let size = usize::from_str_radix(size.trim_end(), 16).expect("a hex chunk size");
    let mut data = vec![0; size + 2];
    r.read_exact(&mut data).await.ok()?;
    assert_eq!(&data[size..], b"\r\n", "a chunk ends with CRLF");
    data.truncate(size);
    if size == 0 { None } else { Some(data) }
}

/// Reads a whole chunked request, then answers `status` with `body`.
async fn serve_one(socket: TcpStream, status: &str, body: &str) -> Received {
    let mut r = BufReader::new(socket);
    let mut got = Received::default();
    read_head(&mut r, &mut got).await;
    while let Some(chunk) = read_chunk(&mut r).await {
        got.chunks.push(chunk);
    }
    got.ended = true;
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    r.get_mut()
        .write_all(answer.as_bytes())
        .await
        .expect("answers");
    got
}

/// Accepts one stream, reads `lines` lines of it, then resets the
/// connection without an answer, as a server killed with SIGKILL does.
async fn reset_after(listener: &TcpListener, lines: usize) -> Received {
    let (socket, _) = listener.accept().await.expect("accepts");
    let mut r = BufReader::new(socket);
    let mut got = Received::default();
    read_head(&mut r, &mut got).await;
    while got.lines().len() < lines {
        let chunk = read_chunk(&mut r).await.expect("a chunk");
        got.chunks.push(chunk);
    }
    r.get_mut().set_zero_linger().expect("linger 0");
    got
}

/// Waits (10 s at most) for the stream's first reconnect.
async fn reconnected(stream: &Stream) {
    let start = Instant::now();
    while stream.stats().reconnects == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no reconnect: {:?}",
            stream.stats()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn quick() -> StreamOptions {
    StreamOptions {
        reconnect_backoff: Duration::from_millis(10),
        connect_timeout: Duration::from_secs(5),
        ..StreamOptions::default()
    }
}

fn varied_write(i: u32) -> Write {
    match i % 4 {
        0 => Write::xy(i, f64::from(i) * 0.5),
        1 => Write {
            x: Some(Update::overwrite([0, i])),
            y: Some(Update::overwrite([1.5, -2.5])),
            ..Write::default()
        },
        2 => Write {
            text: Some(Update::append(format!("point \"{i}\"\n"))),
            ..Write::xy(i, i)
        },
        _ => serde_json::from_value(serde_json::json!({
            "x": i, "marker": {"color": "red"}, "layout": {"title": {"text": format!("t{i}")}}
        }))
        .expect("a write"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bytes_on_the_wire_are_the_protocol() {
    let (listener, url) = bind().await;
    let port = listener.local_addr().expect("address").port();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accepts");
        serve_one(socket, "200 OK", "done").await
    });
    let opts = StreamOptions {
        max_chunk: 4096,
        ..quick()
    };
    let stream = Stream::connect(&url, "tok-1", opts)
        .await
        .expect("connects");
    let writes: Vec<Write> = (0..1000).map(varied_write).collect();
    for (i, w) in writes.iter().enumerate() {
        stream.write(w).await.expect("writes");
        if i == 500 || i == 999 {
            stream.heartbeat().await.expect("heartbeats");
        }
    }
    let summary = stream.close().await.expect("closes");
    assert_eq!((summary.status, summary.body.as_str()), (200, "done"));
    assert_eq!((summary.stats.writes, summary.stats.heartbeats), (1000, 2));
    assert_eq!(summary.stats.sent, 1002);
    assert_eq!(summary.stats.dropped, 0);

    let got = server.await.expect("server ran");
    let head = got.head.to_ascii_lowercase();
    assert!(head.starts_with("post / http/1.1\r\n"), "{head}");
    assert!(
        head.contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")),
        "{head}"
    );
    assert!(head.contains("\r\nplotly-streamtoken: tok-1\r\n"), "{head}");
    assert!(
        head.contains("\r\ntransfer-encoding: chunked\r\n"),
        "{head}"
    );
    assert!(got.ended, "the zero chunk ends the body");
    for chunk in &got.chunks {
        assert!(chunk.ends_with(b"\n"), "chunks hold whole lines");
        let lines = chunk.iter().filter(|&&b| b == b'\n').count();
        assert!(
            chunk.len() <= 4096 || lines == 1,
            "a chunk of {} bytes",
            chunk.len()
        );
    }
    let lines = got.lines();
    assert_eq!(lines.len(), 1002);
    for line in &lines {
        if !line.is_empty() {
            let v: Value = serde_json::from_str(line).expect("each line is JSON");
            assert!(v.is_object(), "{line}");
        }
    }
    assert_eq!(lines[501], "", "the heartbeat sits where it was written");
    assert_eq!(
        got.writes(),
        writes,
        "the server decodes the writes, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_408_mid_stream_reconnects_and_streaming_goes_on() {
    let (listener, url) = bind().await;
    let server = tokio::spawn(async move {
        // First connection: read ten lines, then time the stream out.
        let (socket, _) = listener.accept().await.expect("accepts");
        let mut r = BufReader::new(socket);
        let mut first = Received::default();
        read_head(&mut r, &mut first).await;
        while first.lines().len() < 10 {
            let chunk = read_chunk(&mut r).await.expect("a chunk");
            first.chunks.push(chunk);
        }
        r.get_mut()
            .write_all(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 4\r\nconnection: close\r\n\r\nidle")
            .await
            .expect("answers");
        drop(r);
        // Second connection: the rest.
        let (socket, _) = listener.accept().await.expect("accepts again");
        let second = serve_one(socket, "200 OK", "").await;
        (first, second)
    });

    let stream = Stream::connect(&url, "tok", quick())
        .await
        .expect("connects");
    for i in 0..10 {
        stream.write(&Write::xy(i, i)).await.expect("writes");
    }
    reconnected(&stream).await;
    for i in 10..20 {
        stream
            .write(&Write::xy(i, i))
            .await
            .expect("writes after the reconnect");
    }
    let summary = stream.close().await.expect("closes");
    assert_eq!(summary.stats.reconnects, 1);

    let (first, second) = server.await.expect("server ran");
    let xs = |r: &Received| -> Vec<Update> { r.writes().into_iter().filter_map(|w| w.x).collect() };
    assert_eq!(xs(&first), (0..10).map(Update::append).collect::<Vec<_>>());
    assert_eq!(
        xs(&second),
        (10..20).map(Update::append).collect::<Vec<_>>()
    );
    assert!(second.head.contains("plotly-streamtoken: tok\r\n"));
}

/// A server killed mid-stream (its connection reset, no answer): the writes
/// it was sent are unconfirmed, counted as such, and never reported as
/// delivered; those after the reconnect are confirmed by the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_on_a_connection_that_ends_unanswered_are_unconfirmed() {
    let (listener, url) = bind().await;
    let server = tokio::spawn(async move {
        reset_after(&listener, 10).await;
        let (socket, _) = listener.accept().await.expect("accepts again");
        serve_one(socket, "200 OK", "ok").await
    });
    let stream = Stream::connect(&url, "tok", quick())
        .await
        .expect("connects");
    let stats = stream.stats_handle();
    for i in 0..10 {
        stream.write(&Write::xy(i, i)).await.expect("writes");
    }
    reconnected(&stream).await;
    for i in 10..15 {
        stream.write(&Write::xy(i, i)).await.expect("writes");
    }
    let summary = stream.close().await.expect("closes");
    let st = summary.stats;
    assert_eq!((st.writes, st.reconnects), (15, 1));
    assert_eq!(st.unconfirmed, 10, "the ten the reset connection carried");
    assert_eq!(st.may_be_lost(), 10);
    assert_eq!(stats.get(), st, "the handle reads the same after close");
    let second = server.await.expect("server ran");
    assert_eq!(second.writes().len(), 5);
}

/// A stream whose every reconnect fails: the handle still tells, after
/// `close` failed, what was unconfirmed and what was never sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_gives_up_says_what_may_be_lost() {
    let (listener, url) = bind().await;
    let server = tokio::spawn(async move {
        reset_after(&listener, 3).await;
        drop(listener); // nobody listens any more
    });
    let opts = StreamOptions {
        reconnect_tries: Some(2),
        ..quick()
    };
    let stream = Stream::connect(&url, "tok", opts).await.expect("connects");
    let stats = stream.stats_handle();
    for i in 0..3 {
        stream.write(&Write::xy(i, i)).await.expect("writes");
    }
    server.await.expect("server ran");
    // Writes while the stream reconnects wait in the queue; then it gives up.
    let mut queued = 0;
    for i in 3..8 {
        if stream.write(&Write::xy(i, i)).await.is_ok() {
            queued += 1;
        }
    }
    let err = stream.close().await.expect_err("gives up");
    assert!(
        err.to_string().contains("stopped") || err.to_string().contains("gave up"),
        "{err}"
    );
    let st = stats.get();
    // The three the reset connection read, and any taken for it before the
    // client saw the reset; the rest were never sent.
    assert!(st.unconfirmed >= 3, "{st:?}");
    assert_eq!(st.unconfirmed + st.queued, 3 + queued, "{st:?}");
    assert_eq!(st.may_be_lost(), st.writes, "nothing was confirmed: {st:?}");
}

/// A generic NDJSON stream: PUT, extra headers, no token header, and lines
/// of JSON encoded by the caller.
#[tokio::test]
async fn method_headers_and_raw_json_lines_for_other_servers() {
    let (listener, url) = bind().await;
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accepts");
        serve_one(socket, "200 OK", "").await
    });
    let opts = StreamOptions {
        method: http::Method::PUT,
        headers: vec![(
            http::HeaderName::from_static("authorization"),
            http::HeaderValue::from_static("Bearer t"),
        )],
        token_header: false,
        ..quick()
    };
    let stream = Stream::connect(&format!("{url}/ingest/tok"), "tok", opts)
        .await
        .expect("connects");
    stream.write_json(br#"{"seq":1}"#).await.expect("writes");
    assert!(
        stream.write_json(b"{\"a\":1}\n{}").await.is_err(),
        "two lines in one"
    );
    stream.close().await.expect("closes");
    let got = server.await.expect("server ran");
    assert!(
        got.head.starts_with("PUT /ingest/tok HTTP/1.1\r\n"),
        "{}",
        got.head
    );
    assert!(
        got.head
            .to_ascii_lowercase()
            .contains("authorization: bearer t\r\n"),
        "{}",
        got.head
    );
    assert!(!got.head.contains("plotly-streamtoken"), "{}", got.head);
    assert_eq!(got.lines(), [r#"{"seq":1}"#]);
}

#[tokio::test]
async fn no_server_listening_is_a_clear_error_at_once() {
    let (listener, url) = bind().await;
    drop(listener);
    let start = Instant::now();
    let err = Stream::connect(&url, "tok", quick())
        .await
        .expect_err("nothing listens");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let addr = url.trim_start_matches("http://");
    assert_eq!(err.to_string(), format!("cannot connect to {addr}"));
    let reason = std::error::Error::source(&err)
        .expect("a reason")
        .to_string();
    assert!(reason.to_lowercase().contains("refused"), "{reason}");
}

#[tokio::test]
async fn bad_arguments_are_refused_before_connecting() {
    let url = "http://127.0.0.1:9";
    for (token, opts, want) in [
        ("", quick(), "invalid stream token"),
        ("a\nb", quick(), "invalid stream token"),
        (
            "t",
            StreamOptions {
                queue_capacity: 0,
                ..quick()
            },
            "queue_capacity must be at least 1",
        ),
    ] {
        let err = Stream::connect(url, token, opts)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains(want), "{err}");
    }
    let err = Stream::connect("ftp://x", "t", quick())
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains("the scheme must be http or https"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_status_stops_the_stream_with_the_servers_words() {
    let (listener, url) = bind().await;
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accepts");
        let mut r = BufReader::new(socket);
        read_head(&mut r, &mut Received::default()).await;
        let body = "unknown stream token \"tok\"";
        let answer = format!(
            "HTTP/1.1 404 Not Found\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        r.get_mut()
            .write_all(answer.as_bytes())
            .await
            .expect("answers");
        // Keep reading so the client is not stopped by a reset instead.
        let mut sink = Vec::new();
        let _ = r.read_to_end(&mut sink).await;
    });
    let stream = Stream::connect(&url, "tok", quick())
        .await
        .expect("connects");
    let start = Instant::now();
    let err = loop {
        match stream.write(&Write::xy(1, 2)).await {
            Ok(()) => tokio::time::sleep(Duration::from_millis(2)).await,
            Err(e) => break e,
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never stopped");
    };
    let Error::Stopped(reason) = &err else {
        panic!("expected Stopped, got {err:?}")
    };
    let Error::Status { status, body, .. } = reason.as_ref() else {
        panic!("expected a status, got {reason:?}")
    };
    assert_eq!(
        (*status, body.as_str()),
        (404, "unknown stream token \"tok\"")
    );
    assert_eq!(stream.stats().reconnects, 0, "a 404 is not retried");
    assert!(matches!(stream.close().await, Err(Error::Stopped(_))));
}

/// The server accepts but never reads, so the socket buffers fill, then the
/// queue; under `DropOldest` every write beyond that is counted as dropped.
/// When the server finally reads, what it got plus what was dropped is every
/// write, exactly, and the newest write is among what it got.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_oldest_counts_every_drop_under_a_stalled_server() {
    let (listener, url) = bind().await;
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accepts");
        go_rx.await.expect("told to read");
        serve_one(socket, "200 OK", "").await
    });
    let opts = StreamOptions {
        queue_capacity: 100,
        overflow: Overflow::DropOldest,
        ..quick()
    };
    let stream = Stream::connect(&url, "tok", opts).await.expect("connects");
    // 200,000 writes of ~230 bytes: 46 MB, far beyond loopback socket buffers.
    let pad = "p".repeat(200);
    let n: u64 = 200_000;
    for seq in 0..n {
        let w = Write {
            text: Some(Update::append(pad.as_str())),
            customdata: Some(Update::append(seq)),
            ..Write::default()
        };
        stream.write(&w).await.expect("never blocks, never fails");
    }
    let stats = stream.stats();
    assert_eq!(stats.writes, n);
    assert!(
        stats.dropped > 0,
        "a stalled server must cause drops: {stats:?}"
    );
    assert!(stats.queued <= 100, "{stats:?}");
    go_tx.send(()).expect("server waits");
    let summary = stream.close().await.expect("closes");
    let got = server.await.expect("server ran");
    let seqs: Vec<u64> = got
        .writes()
        .iter()
        .map(|w| match &w.customdata {
            Some(Update::Append(s)) => s.as_f64().expect("a number") as u64,
            other => panic!("no sequence number: {other:?}"),
        })
        .collect();
    assert_eq!(
        seqs.len() as u64 + summary.stats.dropped,
        n,
        "received + dropped = written"
    );
    assert!(
        seqs.windows(2).all(|p| p[0] < p[1]),
        "in order, no duplicates"
    );
    assert_eq!(seqs.last(), Some(&(n - 1)), "the newest write survives");
    assert_eq!(summary.stats.sent, seqs.len() as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_sends_heartbeats_by_itself() {
    let (listener, url) = bind().await;
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accepts");
        serve_one(socket, "200 OK", "").await
    });
    let opts = StreamOptions {
        heartbeat_after: Duration::from_millis(50),
        ..quick()
    };
    let stream = Stream::connect(&url, "tok", opts).await.expect("connects");
    stream.write(&Write::xy(0, 0)).await.expect("writes");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let summary = stream.close().await.expect("closes");
    let got = server.await.expect("server ran");
    let beats = got.lines().iter().filter(|l| l.is_empty()).count() as u64;
    assert!(beats >= 1, "no heartbeat in 400 ms of silence");
    assert_eq!(beats, summary.stats.heartbeats);
    assert_eq!(got.writes(), [Write::xy(0, 0)]);
}

/// Under `Block` a stalled server holds the writer back instead: the queue
/// fills, `write` waits for room, and once the server reads, every write
/// arrives, in order, none dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_waits_for_room_and_loses_nothing() {
    let (listener, url) = bind().await;
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.expect("accepts");
        go_rx.await.expect("told to read");
        serve_one(socket, "200 OK", "").await
    });
    let opts = StreamOptions {
        queue_capacity: 10,
        overflow: Overflow::Block,
        ..quick()
    };
    let stream = std::sync::Arc::new(Stream::connect(&url, "tok", opts).await.expect("connects"));
    let n: u64 = 200_000;
    let writer = {
        let stream = std::sync::Arc::clone(&stream);
        tokio::spawn(async move {
            let pad = "p".repeat(200);
            for seq in 0..n {
                let w = Write {
                    text: Some(Update::append(pad.as_str())),
                    customdata: Some(Update::append(seq)),
                    ..Write::default()
                };
                stream.write(&w).await.expect("waits, never fails");
            }
        })
    };
    // 46 MB cannot fit in socket buffers: the writer must be waiting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !writer.is_finished(),
        "a full queue under Block holds the writer back"
    );
    assert!(stream.stats().queued <= 10);
    go_tx.send(()).expect("server waits");
    writer
        .await
        .expect("the writer finishes once the server reads");
    let stream = std::sync::Arc::try_unwrap(stream).expect("the only owner");
    let summary = stream.close().await.expect("closes");
    assert_eq!((summary.stats.writes, summary.stats.dropped), (n, 0));
    let got = server.await.expect("server ran");
    let seqs: Vec<u64> = got
        .writes()
        .iter()
        .map(|w| match &w.customdata {
            Some(Update::Append(s)) => s.as_f64().expect("a number") as u64,
            other => panic!("no sequence number: {other:?}"),
        })
        .collect();
    assert_eq!(seqs, (0..n).collect::<Vec<_>>(), "every write, in order");
}

/// With acks, a server that answers and then goes silent (a hung process,
/// a half-open connection) is taken for dead once lines have waited two
/// checks of the connect timeout: the client connects again and resumes
/// from the first line not acknowledged.
#[tokio::test]
async fn a_silent_acknowledging_server_is_taken_for_dead_and_the_stream_resumes() {
    let (listener, url) = bind().await;
    let server = tokio::spawn(async move {
        let mut heads = Vec::new();
        for _ in 0..2 {
            let (socket, _) = listener.accept().await.expect("accepts");
            let mut r = BufReader::new(socket);
            let mut got = Received::default();
            read_head(&mut r, &mut got).await;
            r.get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nplotstream-ack: 1\r\ntransfer-encoding: chunked\r\n\r\nc\r\n{\"acked\":0}\n\r\n")
                .await
                .expect("answers");
            heads.push(got.head);
            // Reads on, acknowledging nothing; the socket stays open.
            tokio::spawn(async move {
                let mut sink = vec![0; 4096];
                while r.read(&mut sink).await.is_ok_and(|n| n > 0) {}
            });
        }
        heads
    });
    let opts = StreamOptions {
        acks: true,
        connect_timeout: Duration::from_millis(200),
        reconnect_backoff: Duration::from_millis(10),
        ..StreamOptions::default()
    };
    let stream = Stream::connect(&url, "tok", opts).await.expect("connects");
    stream.write(&Write::xy(1, 1.0)).await.expect("queued");
    let started = Instant::now();
    let heads = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the client came back")
        .expect("the server task");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "not before the silence was waited out"
    );
    assert!(heads[0].contains("plotstream-resume: "), "{}", heads[0]);
    let resume = |head: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix("plotstream-resume: "))
            .map(|v| v.trim().to_owned())
    };
    let (first, second) = (resume(&heads[0]), resume(&heads[1]));
    assert_eq!(
        first, second,
        "the same stream, from the same line (nothing acknowledged)"
    );
    assert!(first.is_some_and(|v| v.ends_with(":0")));
    assert_eq!(stream.stats().acked, 0);
    assert_eq!(stream.stats().queued, 1, "the write is kept, not lost");
}
