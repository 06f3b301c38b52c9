//! Acknowledged streams across a viewer killed with `kill -9`: nothing is
//! lost in silence, nothing is applied twice.

mod common;

use std::time::{Duration, Instant};

use plotstream::client::{Stream, StreamOptions};
use plotstream_protocol::{Update, Write};
use serde_json::json;

const STREAMS: usize = 10;

/// What one stream did, and what the viewer started again holds of it.
struct Outcome {
    stats: plotstream::client::Stats,
    /// The figure's `x`: the numbers of the writes it holds.
    xs: Vec<u64>,
    /// The writes the restarted viewer applied for the token.
    applied: u64,
}

/// `STREAMS` streams of `writes` writes each, as fast as the viewer takes
/// them, their `x` the write's number. When every stream is past 40% of its
/// writes and the first has half acknowledged (none done: each keeps at
/// most 256 KiB unacknowledged) the viewer is killed with
/// `kill -9`; 3 s later a new one starts on the same port and data
/// directory, and the streams resume on it.
async fn kill_and_restart(name: &str, writes: u64, save_interval: &str) -> Vec<Outcome> {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("acks-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().expect("utf-8").to_owned();
    let port = common::free_port();
    let addr = format!("127.0.0.1:{port}");
    let args = [
        "--addr",
        &addr,
        "--data-dir",
        &data,
        "--save-interval",
        save_interval,
    ];
    let mut first = common::Served::start(&args).await;
    let url = format!("http://{}", first.addr);
    for i in 0..STREAMS {
        let figure = json!({"data": [{"type": "scatter", "stream": {"token": format!("acked-{i}"), "maxpoints": writes}}]});
        let (status, body) = common::post_json(&first.addr, "/api/figures", &figure).await;
        assert_eq!(status, 201, "{body}");
    }
    // A stream keeps at most 256 KiB unacknowledged (about 12,000 of these
    // writes), so none can run far ahead of what the viewer acknowledged:
    // at the kill every stream is in the middle of its writes.
    let opts = StreamOptions {
        acks: true,
        max_unacked_bytes: 256 << 10,
        reconnect_tries: Some(100),
        reconnect_backoff: Duration::from_millis(100),
        reconnect_backoff_max: Duration::from_millis(800),
        ..StreamOptions::default()
    };
    let met = std::sync::Arc::new(tokio::sync::Barrier::new(STREAMS + 1));
    let mut streams = Vec::new();
    for i in 0..STREAMS {
        let stream = Stream::connect(&url, &format!("acked-{i}"), opts.clone())
            .await
            .expect("connects");
        let stats = stream.stats_handle();
        let met = std::sync::Arc::clone(&met);
        let task = tokio::spawn(async move {
            let mut w = Write::xy(0, 0.5);
            for n in 0..writes {
                if n == writes * 2 / 5 {
                    met.wait().await;
                }
                w.x = Some(Update::append(n));
                stream.write(&w).await.expect("writes");
            }
            stream.close().await.expect("closes after the restart")
        });
        streams.push((task, stats));
    }
    met.wait().await;
    // Kill once the first stream has half its writes acknowledged. Every
    // stream is past the meeting point (40% written), and none is done: a
    // stream writes at most 256 KiB (some 12,000 writes) past what it had
    // acknowledged, and none had more than half acknowledged, give or take
    // the 10 ms between looks.
    let start = Instant::now();
    while streams.iter().all(|(_, s)| s.get().acked < writes / 2) {
        assert!(start.elapsed() < Duration::from_secs(300), "too slow");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.child.start_kill().expect("SIGKILL");
    first.child.wait().await.expect("dies");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let second = common::Served::start(&args).await;
    let mut outcomes = Vec::new();
    for (i, (task, _)) in streams.into_iter().enumerate() {
        let summary = tokio::time::timeout(Duration::from_secs(300), task)
            .await
            .expect("ends in time")
            .expect("the stream's task");
        let s = common::get_json(&second.addr, &format!("/api/streams/acked-{i}")).await;
        let xs = s["traces"][0]["x"]
            .as_array()
            .expect("x")
            .iter()
            .map(|v| v.as_u64().expect("a number"))
            .collect();
        outcomes.push(Outcome {
            stats: summary.stats,
            xs,
            applied: s["writes"].as_u64().expect("a count"),
        });
    }
    outcomes
}

/// The client's counts add up: every write acknowledged, none dropped,
/// none unconfirmed, none left; and the stream did resume.
fn assert_all_acknowledged(i: usize, o: &Outcome, writes: u64) {
    let st = &o.stats;
    assert_eq!(
        (st.writes, st.acked, st.dropped, st.unconfirmed, st.queued),
        (writes, writes, 0, 0, 0),
        "stream {i}: {st:?}"
    );
    assert!(st.reconnects >= 1, "stream {i}: {st:?}");
}

/// 10 M writes in all (10 streams of 1 M). The first viewer never saved
/// points (`--save-interval 1h`), so the second holds only what was sent
/// to it: every write from where each stream resumed, once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_killed_mid_stream_loses_nothing_acknowledged_and_applies_nothing_twice() {
    const WRITES: u64 = 1_000_000;
    let outcomes = kill_and_restart("unsaved", WRITES, "1h").await;
    for (i, o) in outcomes.iter().enumerate() {
        assert_all_acknowledged(i, o, WRITES);
        let first = *o.xs.first().expect("points");
        // It resumed in the middle: the old viewer had acknowledged some,
        // not all (acks in flight when it died may still have arrived).
        assert!(first > 0 && first < WRITES, "stream {i} resumed at {first}");
        // Each write sent to the restarted viewer, once, no gap: x runs
        // from where the stream resumed to the last write, one by one.
        assert_eq!(o.xs.len() as u64, WRITES - first, "stream {i}");
        assert!(
            o.xs.iter().enumerate().all(|(k, &x)| x == first + k as u64),
            "stream {i}: a duplicate or a gap"
        );
        assert_eq!(o.applied, WRITES - first, "stream {i}");
    }
}

/// The same with points saved every 100 ms: the restarted viewer restores
/// each figure's points with the mark of the stream they reach, and the
/// resumed stream goes on from there. No write is held twice; what can be
/// missing is one stretch, the writes acknowledged after the last save
/// (the README's guarantee).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restored_figure_resumes_its_stream_where_its_saved_points_end() {
    const WRITES: u64 = 200_000;
    let outcomes = kill_and_restart("saved", WRITES, "100ms").await;
    let mut restored = 0;
    for (i, o) in outcomes.iter().enumerate() {
        assert_all_acknowledged(i, o, WRITES);
        assert!(
            o.xs.windows(2).all(|w| w[0] < w[1]),
            "stream {i}: a write held twice, or out of order"
        );
        assert_eq!(o.xs.first(), Some(&0), "stream {i}: the saved points");
        assert_eq!(o.xs.last(), Some(&(WRITES - 1)), "stream {i}");
        let gaps = o.xs.windows(2).filter(|w| w[1] != w[0] + 1).count();
        assert!(gaps <= 1, "stream {i}: {gaps} stretches missing");
        restored += o.xs.len() as u64 - o.applied;
    }
    assert!(restored > 0, "points came back from the store");
}

/// One acknowledged stream sent whole, by hand: the lines `from..to` as
/// `{"x": n}`, resuming stream `id` at `from`. The last ack's count.
async fn send_acked(addr: &str, id: &str, from: u64, to: u64) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let lines: String = (from..to).map(|n| format!("{{\"x\":{n}}}\n")).collect();
    let request = format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\ntransfer-encoding: chunked\r\nplotly-streamtoken: acked-0\r\nplotstream-ack: 1\r\nplotstream-resume: {id}:{from}\r\n\r\n{:x}\r\n{lines}\r\n0\r\n\r\n",
        lines.len()
    );
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    s.write_all(request.as_bytes()).await.expect("sends");
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.expect("reads");
    answer
        .lines()
        .rev()
        .find_map(|l| plotstream_protocol::Ack::parse(l.as_bytes()).ok())
        .map(|ack| ack.acked)
        .unwrap_or_else(|| panic!("no ack in {answer}"))
}

/// A viewer that saved a stream's points and stopped knows, started again,
/// how far that stream reached: a client that resumes from an earlier line
/// (its last acks never arrived) has those lines passed over, not held
/// twice.
#[tokio::test]
async fn a_restored_stream_passes_over_the_lines_its_saved_points_hold() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("acks-marks-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().expect("utf-8").to_owned();
    let args = ["--addr", "127.0.0.1:0", "--data-dir", &data];
    let first = common::Served::start(&args).await;
    let figure =
        json!({"data": [{"type": "scatter", "stream": {"token": "acked-0", "maxpoints": 100}}]});
    let (status, body) = common::post_json(&first.addr, "/api/figures", &figure).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(send_acked(&first.addr, "s-1", 0, 5).await, 5);
    // A clean stop saves the points, with how far the stream reached.
    first.stop("-TERM").await;
    let second = common::Served::start(&args).await;
    assert_eq!(send_acked(&second.addr, "s-1", 2, 7).await, 7);
    let s = common::get_json(&second.addr, "/api/streams/acked-0").await;
    assert_eq!(
        s["traces"][0]["x"],
        json!([0, 1, 2, 3, 4, 5, 6]),
        "each once"
    );
    assert_eq!(
        common::metric(&second.addr, "plotstream_resumed_lines_skipped_total").await,
        Some(3.0)
    );
}
