//! Fuzzing the viewer with bounded proptest runs (part of `cargo test`):
//! arbitrary bytes through the chunk framing, the line decoder and apply,
//! against a real server on 127.0.0.1:0 and in process. Whatever arrives,
//! the viewer answers with a status below 500, never panics or aborts, and
//! every figure can still be read.
//!
//! The strategies aim at what broke before: attribute paths of many dotted
//! segments and deep nesting (recursion), many distinct keys (columns),
//! long arrays (events), and chunk-size lines that are not hex.

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use plotstream_protocol::{Line, LineDecoder, Write};
use plotstream_viewer::{Config, Viewer};
use proptest::prelude::*;
use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Cases per property: bounded, so that the run takes seconds.
const CASES: u32 = 256;

/// An attribute key: protocol fields, dotted paths up to 16 segments deep
/// (over the limit of 10), or short names.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "x",
            "y",
            "z",
            "text",
            "customdata",
            "marker",
            "line",
            "layout",
            "color",
            "size",
            "width"
        ])
        .prop_map(str::to_owned),
        prop::collection::vec(
            prop::sample::select(vec!["a", "b", "marker", "", "color"]),
            1..16
        )
        .prop_map(|parts| parts.join(".")),
        "[a-k]{1,3}",
    ]
}

/// Any JSON value, nested up to 8 levels, with those keys.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[ -~]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(8, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..20).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A line: mostly JSON objects (writes, good or bad), sometimes any bytes.
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec((key(), json()), 0..8).prop_map(|kv| {
            let mut s = Value::Object(kv.into_iter().collect()).to_string();
            s.push('\n');
            s.into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..64),
        1 => Just(b"\n".to_vec()),
    ]
}

/// A piece of a request body: a well-formed chunk, or raw bytes where the
/// framing should be (a bad size, a stray CRLF, a lone zero).
#[derive(Clone, Debug)]
enum Piece {
    Chunk(Vec<u8>),
    Raw(Vec<u8>),
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        6 => line().prop_map(Piece::Chunk),
        1 => prop_oneof![
            prop::sample::select(vec![&b"zz\r\n"[..], b"-1\r\n", b"fffffffffffffffffffff\r\n", b"\r\n", b"0\r\n", b"5;ext\r\nab", b"3\r\nabcd\r\n"])
                .prop_map(<[u8]>::to_vec),
            prop::collection::vec(any::<u8>(), 0..16),
        ].prop_map(Piece::Raw),
    ]
}

/// How the body ends: the zero chunk, Plotly's Python client's close, or
/// not at all (the client just stops sending).
fn ending() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(vec![&b"0\r\n\r\n"[..], b"\r\n0\r\n\r\n", b""])
}

fn body(pieces: &[Piece], end: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pieces {
        match p {
            Piece::Chunk(data) => {
                out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            }
            Piece::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }
    out.extend_from_slice(end);
    out
}

/// One open viewer on 127.0.0.1:0 for all cases, on a runtime of its own.
fn server() -> &'static (tokio::runtime::Runtime, String) {
    static SERVER: OnceLock<(tokio::runtime::Runtime, String)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let config = Config {
            open: true,
            idle_timeout: Duration::from_secs(2),
            ..Config::default()
        };
        let addr = rt.block_on(async { common::start(config).await.addr });
        (rt, addr)
    })
}

/// Sends one request and reads the answer's status (0: none came).
async fn send(addr: &str, request: &[u8]) -> u16 {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let _ = s.write_all(request).await;
    let _ = s.shutdown().await; // nothing more comes: an unfinished body ends here
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "no answer within 20 s");
    common::parse_answer(&out).status
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Arbitrary bodies, framing included, against the real server.
    #[test]
    fn any_body_is_answered_below_500_and_every_figure_stays_readable(
        pieces in prop::collection::vec(piece(), 0..12),
        end in ending(),
        token in 0u32..64,
    ) {
        let (rt, addr) = server();
        rt.block_on(async {
            let mut request = format!(
                "POST / HTTP/1.1\r\nhost: 127.0.0.1\r\nplotly-streamtoken: fuzz-{token}\r\ntransfer-encoding: chunked\r\n\r\n"
            ).into_bytes();
            request.extend_from_slice(&body(&pieces, end));
            let status = send(addr, &request).await;
            assert!(
                matches!(status, 200 | 400 | 413),
                "answered {status} to {:?}",
                String::from_utf8_lossy(&request)
            );
            // Its figure reads back whole (the list names it by its token).
            let (status, figures) = common::get_json(addr, "/api/figures").await;
            assert_eq!(status, 200);
            let mine = figures
                .as_array()
                .into_iter()
                .flatten()
                .find(|f| f["title"] == format!("fuzz-{token}"))
                .expect("the token's figure");
            let (status, _) = common::get_json(addr, &format!("/api/figures/{}", mine["id"])).await;
            assert_eq!(status, 200, "figure {} unreadable", mine["id"]);
            let page = common::raw(addr, format!("GET /plot/{} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n", mine["id"]).as_bytes()).await;
            assert_eq!(page.status, 200);
        });
    }

    /// Arbitrary bytes in arbitrary pieces through the line decoder and
    /// `Viewer::apply`, in process: errors are fine, panics are not.
    #[test]
    fn any_lines_in_any_pieces_decode_and_apply_without_panic(
        lines in prop::collection::vec(line(), 0..16),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let viewer = Viewer::new(Config { open: true, max_line_len: 4096, ..Config::default() })
            .expect("a valid config");
        let input: Vec<u8> = lines.concat();
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        points.sort_unstable();
        let mut decoder = LineDecoder::with_max_line_len(4096);
        let mut start = 0;
        let mut take = |line: Line<'_>| {
            if let Some(Ok(w)) = line.parse_write() {
                let _ = viewer.apply("t", &[w]);
            }
            Ok::<_, plotstream_protocol::Error>(())
        };
        for p in points.into_iter().chain([input.len()]) {
            // A line over the limit is an error that ends a real stream;
            // here decoding goes on, to reach more of the input.
            let _ = decoder.feed(&input[start..p], &mut take);
            start = p;
        }
        let _ = decoder.finish(&mut take);
        // Writes built in process skip the parser's checks: apply checks too.
        let deep = format!("a{}", ".a".repeat(200));
        let w: Write = serde_json::from_value(serde_json::json!({ &deep: 1 })).expect("a write");
        prop_assert!(viewer.apply("t", &[w]).is_err());
        prop_assert!(viewer.figure_json(1).is_some());
        prop_assert!(viewer.stream_json("t").is_some());
    }
}
