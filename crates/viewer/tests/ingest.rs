//! The viewer's protocol rules and API, over real sockets on 127.0.0.1.

mod common;

use std::time::Duration;

use common::{figure, get_json, post_json, raw, start, stream_request};
use plotstream_viewer::Config;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "tok";

async fn with_figure(config: Config) -> common::Running {
    let v = start(config).await;
    v.viewer
        .add_figure(figure(TOKEN, 500))
        .expect("a valid figure");
    v
}

async fn xs(addr: &str) -> serde_json::Value {
    let (status, s) = get_json(addr, &format!("/api/streams/{TOKEN}")).await;
    assert_eq!(status, 200);
    s["traces"][0]["x"].clone()
}

#[tokio::test]
async fn writes_append_overwrite_and_relayout() {
    let v = with_figure(Config::default()).await;
    let a = raw(
        &v.addr,
        &stream_request(
            Some(TOKEN),
            &[
                b"{\"x\":1,\"y\":10}\n{\"x\":2,",
                b"\"y\":20}\r\n\n{\"x\":3,\"y\":30,\"layout\":{\"title\":{\"text\":\"live\"}}}\n",
            ],
        ),
    )
    .await;
    assert_eq!((a.status, a.body.as_str()), (200, "ok\n"));
    assert!(a.head.contains("connection: close"), "{}", a.head);
    let (_, s) = get_json(&v.addr, "/api/streams/tok").await;
    assert_eq!(
        s,
        json!({"token": "tok", "figures": [1], "traces": [{"x": [1, 2, 3], "y": [10, 20, 30]}], "writes": 3, "errors": 0, "connected": false})
    );
    raw(
        &v.addr,
        &stream_request(Some(TOKEN), &[b"{\"x\":[7,8],\"y\":[70,80]}\n"]),
    )
    .await;
    assert_eq!(xs(&v.addr).await, json!([7, 8]));
    let (status, fig) = get_json(&v.addr, "/api/figures/1").await;
    assert_eq!(status, 200);
    assert_eq!(fig["layout"]["title"]["text"], "live");
    assert_eq!(fig["data"][0]["y"], json!([70, 80]));
    assert_eq!(
        fig["data"][0]["stream"],
        json!({"token": "tok", "maxpoints": 500})
    );
}

#[tokio::test]
async fn a_line_that_is_not_json_is_400_naming_it_and_earlier_points_stay() {
    let v = with_figure(Config::default()).await;
    let a = raw(
        &v.addr,
        &stream_request(
            Some(TOKEN),
            &[
                b"{\"x\":0,\"y\":0}\n\n{\"x\":1,\"y\":1}\n{\"x\":2,\"y\"",
                b":oops}\n{\"x\":3}\n",
            ],
        ),
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body,
        "stream \"tok\": line 4: invalid write: expected value at column 12\n"
    );
    assert_eq!(
        xs(&v.addr).await,
        json!([0, 1]),
        "the points before the bad line are kept"
    );
    let (_, s) = get_json(&v.addr, "/api/streams/tok").await;
    assert_eq!(
        (s["writes"].clone(), s["errors"].clone()),
        (json!(2), json!(1))
    );
}

#[tokio::test]
async fn a_line_that_is_not_an_object_is_400() {
    let v = with_figure(Config::default()).await;
    let a = raw(
        &v.addr,
        &stream_request(Some(TOKEN), &[b"{\"x\":5}\n[1,2]\n"]),
    )
    .await;
    assert_eq!(a.status, 400);
    assert!(
        a.body.contains("line 2: invalid write: invalid type: sequence, expected a Plotly stream write (a JSON object)"),
        "{}",
        a.body
    );
    assert_eq!(xs(&v.addr).await, json!([5]));
}

#[tokio::test]
async fn a_line_over_1_mib_is_413_and_earlier_points_stay() {
    let v = with_figure(Config::default()).await;
    let mut long = b"{\"x\":1,\"text\":\"".to_vec();
    long.resize(long.len() + (1 << 20), b'a');
    long.extend_from_slice(b"\"}\n");
    let first: &[u8] = b"{\"x\":0}\n";
    let a = raw(
        &v.addr,
        &stream_request(Some(TOKEN), &[first, &long[..300_000], &long[300_000..]]),
    )
    .await;
    assert_eq!(a.status, 413);
    assert_eq!(
        a.body,
        "stream \"tok\": line 2 is longer than the limit of 1048576 bytes\n"
    );
    assert_eq!(xs(&v.addr).await, json!([0]));
}

#[tokio::test]
async fn no_token_is_400_and_an_unknown_token_is_404_naming_it() {
    let v = with_figure(Config::default()).await;
    let a = raw(&v.addr, &stream_request(None, &[b"{\"x\":1}\n"])).await;
    assert_eq!(a.status, 400);
    assert_eq!(
        a.body,
        "missing the plotly-streamtoken header: a stream needs a token\n"
    );
    let a = raw(&v.addr, &stream_request(Some("nope"), &[b"{\"x\":1}\n"])).await;
    assert_eq!(a.status, 404);
    assert!(
        a.body
            .starts_with("unknown stream token \"nope\": create a figure"),
        "{}",
        a.body
    );
    let (status, _) = get_json(&v.addr, "/api/streams/nope").await;
    assert_eq!(status, 404, "an unknown token made nothing");
    assert_eq!(
        xs(&v.addr).await,
        json!(null),
        "the known token's trace is untouched"
    );
}

#[tokio::test]
async fn an_open_viewer_gives_a_new_token_a_figure_titled_by_it() {
    let v = start(Config {
        open: true,
        ..Config::default()
    })
    .await;
    let a = raw(
        &v.addr,
        &stream_request(Some("fresh"), &[b"{\"x\":1,\"y\":2}\n"]),
    )
    .await;
    assert_eq!(a.status, 200);
    let (_, list) = get_json(&v.addr, "/api/figures").await;
    assert_eq!(list[0]["title"], "fresh");
    let (_, fig) = get_json(&v.addr, "/api/figures/1").await;
    assert_eq!(fig["data"][0]["type"], "scatter");
    assert_eq!(fig["data"][0]["x"], json!([1]));
    assert_eq!(fig["layout"]["title"]["text"], "fresh");
    // A second stream with the same token feeds the same figure.
    raw(
        &v.addr,
        &stream_request(Some("fresh"), &[b"{\"x\":2,\"y\":3}\n"]),
    )
    .await;
    let (_, list) = get_json(&v.addr, "/api/figures").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn the_figures_api_creates_and_checks() {
    let v = start(Config::default()).await;
    let fig = json!({"data": [{"type": "scatter", "mode": "lines", "stream": {"token": "a", "maxpoints": 80}},
                              {"type": "scatter", "stream": {"token": "a"}}],
                     "layout": {"title": {"text": "two traces"}}, "config": {"responsive": true}});
    let (status, created) = post_json(&v.addr, "/api/figures", &fig).await;
    assert_eq!(status, 201);
    assert_eq!(
        created,
        json!({"id": 1, "url": format!("http://{}/plot/1", v.addr)})
    );
    // One token feeding two traces.
    raw(
        &v.addr,
        &stream_request(Some("a"), &[b"{\"x\":1,\"y\":1}\n"]),
    )
    .await;
    let (_, got) = get_json(&v.addr, "/api/figures/1").await;
    assert_eq!(got["data"][0]["x"], json!([1]));
    assert_eq!(got["data"][1]["x"], json!([1]));
    assert_eq!(got["data"][0]["mode"], "lines", "attributes kept");
    assert_eq!(got["config"], json!({"responsive": true}));

    let too_many = json!({"data": [{"stream": {"token": "b", "maxpoints": 1_000_001}}]});
    let (status, err) = post_json(&v.addr, "/api/figures", &too_many).await;
    assert_eq!(status, 400);
    assert_eq!(
        err,
        "invalid figure: trace 0: maxpoints 1000001 is outside 1 to 1000000 (Config::max_points)"
    );
    // The limit is the config's: a viewer that allows more takes it.
    let roomy = common::start(Config {
        max_points: 2_000_000,
        ..Config::default()
    })
    .await;
    let (status, _) = post_json(&roomy.addr, "/api/figures", &too_many).await;
    assert_eq!(status, 201);
    let (status, err) = post_json(&v.addr, "/api/figures", &json!({"data": 5})).await;
    assert_eq!(status, 400);
    assert!(
        err.as_str()
            .unwrap_or_default()
            .starts_with("invalid figure: not a Plotly figure"),
        "{err}"
    );
    let (status, _) = get_json(&v.addr, "/api/figures/99").await;
    assert_eq!(status, 404);
}

/// Opens a stream, sends its head and one line, and leaves it open.
async fn open_stream(addr: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connects");
    s.write_all(b"POST / HTTP/1.1\r\nhost: localhost\r\ntransfer-encoding: chunked\r\nplotly-streamtoken: tok\r\n\r\n8\r\n{\"x\":1}\n\r\n")
        .await
        .expect("sends");
    s
}

async fn answer_of(mut s: TcpStream) -> common::Answer {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("answered in time")
        .expect("reads");
    common::parse_answer(&out)
}

#[tokio::test]
async fn a_second_connection_with_the_same_token_ends_the_first() {
    let v = with_figure(Config::default()).await;
    let first = open_stream(&v.addr).await;
    // Wait until the first is connected, then take over.
    for _ in 0..200 {
        let (_, s) = get_json(&v.addr, "/api/streams/tok").await;
        if s["connected"] == json!(true) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = open_stream(&v.addr).await;
    let a = answer_of(first).await;
    assert_eq!(a.status, 409);
    assert_eq!(
        a.body,
        "stream token \"tok\" was taken over by a newer connection\n"
    );
    drop(second);
}

#[tokio::test]
async fn an_idle_stream_is_closed_with_408() {
    let v = with_figure(Config {
        idle_timeout: Duration::from_millis(200),
        ..Config::default()
    })
    .await;
    let a = answer_of(open_stream(&v.addr).await).await;
    assert_eq!(a.status, 408);
    assert_eq!(
        a.body,
        "stream \"tok\" closed: idle for 0.2 s (no write, no heartbeat)\n"
    );
    assert_eq!(
        xs(&v.addr).await,
        json!([1]),
        "what came before the silence is kept"
    );
}

/// The idle timer is set once a stream and moved on only when it fires:
/// chunks that keep coming, each well within the timeout though the
/// stream lasts many timeouts, keep it open; the silence after them ends it.
#[tokio::test]
async fn a_stream_that_keeps_writing_outlives_its_idle_timeout() {
    let v = with_figure(Config {
        idle_timeout: Duration::from_millis(300),
        ..Config::default()
    })
    .await;
    let mut s = open_stream(&v.addr).await;
    let started = std::time::Instant::now();
    for x in 2..=9 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        s.write_all(format!("8\r\n{{\"x\":{x}}}\n\r\n").as_bytes())
            .await
            .expect("the stream is still open");
    }
    let a = answer_of(s).await;
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "open for the 8 chunks"
    );
    assert_eq!(a.status, 408);
    assert_eq!(xs(&v.addr).await, json!([1, 2, 3, 4, 5, 6, 7, 8, 9]));
}

#[tokio::test]
async fn metrics_count_streams_writes_and_errors_by_kind() {
    let v = with_figure(Config::default()).await;
    raw(
        &v.addr,
        &stream_request(Some(TOKEN), &[b"{\"x\":1}\n\n{\"x\":2}\n"]),
    )
    .await;
    raw(&v.addr, &stream_request(Some(TOKEN), &[b"nope\n"])).await;
    raw(&v.addr, &stream_request(None, &[b"{}\n"])).await;
    // An acked stream's refusal is told in its last ack line, and counted
    // once all the same.
    let acked = String::from_utf8(stream_request(Some(TOKEN), &[b"nope\n"]))
        .expect("ascii")
        .replacen(
            "connection: close\r\n",
            "connection: close\r\nplotstream-ack: 1\r\n",
            1,
        );
    raw(&v.addr, acked.as_bytes()).await;
    // Refusals answered by the guard and by the figures API are counted by
    // the same one step as the streams'; a lookup of nothing is not a refusal.
    let evil = raw(
        &v.addr,
        b"GET /api/figures HTTP/1.1\r\nhost: evil.example\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(evil.status, 403);
    let (status, _) = post_json(
        &v.addr,
        "/api/figures",
        &json!({"data": [{"type": "scatter", "stream": {"token": "big", "maxpoints": 2_000_000}}]}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(get(&v.addr, "/nothing/here", "").await.status, 404);
    let a = raw(
        &v.addr,
        b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(
        a.head.contains("content-type: text/plain; version=0.0.4"),
        "{}",
        a.head
    );
    for line in [
        "plotstream_open_streams 0",
        "plotstream_writes_total 2",
        "plotstream_heartbeats_total 1",
        "plotstream_figures 1",
        "plotstream_subscribers 0",
        "plotstream_errors_total{kind=\"invalid_write\"} 2",
        "plotstream_errors_total{kind=\"host_refused\"} 1",
        "plotstream_errors_total{kind=\"invalid_figure\"} 1",
        "plotstream_errors_total{kind=\"missing_token\"} 1",
        "plotstream_errors_total{kind=\"unknown_token\"} 0",
        "# TYPE plotstream_writes_total counter",
    ] {
        assert!(
            a.body.lines().any(|l| l == line),
            "no {line:?} in\n{}",
            a.body
        );
    }
}

/// `GET path` with `extra` header lines.
async fn get(addr: &str, path: &str, extra: &str) -> common::Answer {
    let request =
        format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n{extra}connection: close\r\n\r\n");
    raw(addr, request.as_bytes()).await
}

#[tokio::test]
async fn pages_list_figures_and_serve_plotly_from_the_binary() {
    let v = with_figure(Config::default()).await;
    let a = raw(
        &v.addr,
        b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(
        a.body.contains("<a href=\"/plot/1\">figure 1</a>"),
        "{}",
        a.body
    );
    let a = raw(
        &v.addr,
        b"GET /plot/1 HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(a.status, 200);
    // A figure of scatters names the basic bundle; one with a heatmap the full one.
    assert!(
        a.body
            .contains("<script defer src=\"/static/plotly-basic-3.7.0.min.js\"></script>"),
        "{}",
        a.body
    );
    assert!(a.body.contains("data-bundle=\"basic\""), "{}", a.body);
    let mut heat = figure("heat", 10);
    heat.data[0].kind = Some("heatmap".to_owned());
    let heat = v.viewer.add_figure(heat).expect("valid");
    let a = get(&v.addr, &format!("/plot/{heat}"), "").await;
    assert!(
        a.body
            .contains("<script defer src=\"/static/plotly-3.7.0.min.js\"></script>"),
        "{}",
        a.body
    );
    // Served from the binary: plain, or gzipped to a browser that takes it,
    // cached for good under the versioned name.
    for (path, first) in [
        ("/static/plotly-3.7.0.min.js", "/**\n* plotly.js v3.7.0"),
        (
            "/static/plotly-basic-3.7.0.min.js",
            "/**\n* plotly.js (basic - minified) v3.7.0",
        ),
        ("/static/plotly.min.js", "/**\n* plotly.js v3.7.0"),
    ] {
        let a = get(&v.addr, path, "").await;
        assert_eq!(a.status, 200, "{path}");
        assert!(
            a.body.starts_with(first),
            "{path}: {}",
            &a.body[..40.min(a.body.len())]
        );
        assert!(!a.head.contains("content-encoding"), "{}", a.head);
    }
    let a = get(
        &v.addr,
        "/static/plotly-basic-3.7.0.min.js",
        "accept-encoding: gzip, deflate, br\r\n",
    )
    .await;
    assert!(a.head.contains("content-encoding: gzip"), "{}", a.head);
    assert!(
        a.head.contains(&format!(
            "content-length: {}",
            plotstream_plotly::BASIC_GZIP.len()
        )),
        "{}",
        a.head
    );
    assert!(
        a.head
            .contains("cache-control: public, max-age=31536000, immutable"),
        "{}",
        a.head
    );
    // The page's script is asked for each time, and is a 304 when unchanged.
    let a = get(&v.addr, "/static/plot.js", "").await;
    let etag = a
        .head
        .lines()
        .find_map(|l| l.strip_prefix("etag: "))
        .expect("an etag")
        .to_owned();
    let a = get(
        &v.addr,
        "/static/plot.js",
        &format!("if-none-match: {etag}\r\n"),
    )
    .await;
    assert_eq!(a.status, 304, "{}", a.head);
    // The icon, where browsers look for it; an unknown file is a 404.
    let a = get(&v.addr, "/favicon.ico", "").await;
    assert_eq!(a.status, 200);
    assert!(a.head.contains("content-type: image/svg+xml"), "{}", a.head);
    assert_eq!(get(&v.addr, "/static/nothing.js", "").await.status, 404);
    let a = raw(
        &v.addr,
        b"GET /plot/9 HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(a.status, 404);
}

/// A subscriber gets a snapshot, then each chunk's writes as one update.
#[tokio::test]
async fn subscribers_get_a_snapshot_then_updates() {
    let v = with_figure(Config::default()).await;
    raw(
        &v.addr,
        &stream_request(Some(TOKEN), &[b"{\"x\":1,\"y\":1}\n"]),
    )
    .await;
    let mut sub = TcpStream::connect(&v.addr).await.expect("connects");
    sub.write_all(b"GET /plot/1/events HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .expect("asks");
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let mut read_until = async |seen: &mut String, what: &str| {
        while !seen.contains(what) {
            let n = tokio::time::timeout(Duration::from_secs(10), sub.read(&mut buf))
                .await
                .expect("an event in time")
                .expect("reads");
            assert!(n > 0, "the event stream ended: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    };
    read_until(&mut seen, "event: snapshot\ndata: ").await;
    read_until(&mut seen, "\n\n").await;
    assert!(seen.contains("text/event-stream"), "{seen}");
    assert!(
        seen.contains("\"x\":[1]"),
        "the snapshot holds the point: {seen}"
    );
    raw(
        &v.addr,
        &stream_request(Some(TOKEN), &[b"{\"x\":2,\"y\":4}\n{\"x\":3,\"y\":9}\n"]),
    )
    .await;
    read_until(&mut seen, "event: update\ndata: ").await;
    read_until(&mut seen, "}]}\n\n").await;
    assert!(
        seen.contains(
            r#"data: {"traces":[{"index":0,"append":{"x":[2,3],"y":[4,9]},"overwrite":{}}]}"#
        ),
        "{seen}"
    );
}
