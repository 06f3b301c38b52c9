//! Acknowledged streams across a viewer killed with `kill -9`: nothing is
//! lost in silence, nothing is applied twice.

mod common;

use std::time::{Duration, Instant};

use plotstream::client::{Stream, StreamOptions};
use plotstream_protocol::{Update, Write};
use serde_json::{Value, json};

const STREAMS: usize = 10;
const WRITES: u64 = 1_000_000;

/// 10 streams of 1,000,000 writes each (10 M in all), sent as fast as the
/// viewer takes them, their `x` the write's number. Once half are
/// acknowledged (every stream past 40% of its writes, none done) the
/// viewer is killed with `kill -9`, and 3 s later a new
/// one starts on the same port and data directory. The first viewer never
/// saved points (`--save-interval 1h`), so the second holds only what was
/// sent to it: every write from where each stream resumed, once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_killed_mid_stream_loses_nothing_acknowledged_and_applies_nothing_twice() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("acks-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().expect("utf-8").to_owned();
    let port = common::free_port();
    let addr = format!("127.0.0.1:{port}");
    let args = ["--addr", &addr, "--data-dir", &data];
    let mut first = common::Served::start(&[&args[..], &["--save-interval", "1h"]].concat()).await;
    let url = format!("http://{}", first.addr);
    for i in 0..STREAMS {
        let figure = json!({"data": [{"type": "scatter", "stream": {"token": format!("acked-{i}"), "maxpoints": WRITES}}]});
        let (status, body) = common::post_json(&first.addr, "/api/figures", &figure).await;
        assert_eq!(status, 201, "{body}");
    }
    let opts = StreamOptions {
        acks: true,
        reconnect_tries: 100,
        reconnect_backoff: Duration::from_millis(100),
        ..StreamOptions::default()
    };
    // The streams meet after 40% of their writes, so that at the kill
    // every one of them is in the middle of its writes.
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
            for n in 0..WRITES {
                if n == WRITES * 2 / 5 {
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
    let acked = || streams.iter().map(|(_, s)| s.get().acked).sum::<u64>();
    let start = Instant::now();
    while acked() < STREAMS as u64 * WRITES / 2 {
        assert!(start.elapsed() < Duration::from_secs(300), "too slow");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.child.start_kill().expect("SIGKILL");
    first.child.wait().await.expect("dies");
    let acked_at_kill = acked();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let second = common::Served::start(&args).await;

    let mut resumed_at = Vec::new();
    for (i, (task, _)) in streams.into_iter().enumerate() {
        let summary = tokio::time::timeout(Duration::from_secs(300), task)
            .await
            .expect("ends in time")
            .expect("the stream's task");
        let st = summary.stats;
        // The client's counts add up: every write acknowledged, none
        // dropped, none unconfirmed, none left.
        assert_eq!(
            (st.writes, st.acked, st.dropped, st.unconfirmed, st.queued),
            (WRITES, WRITES, 0, 0, 0),
            "stream {i}: {st:?}"
        );
        assert!(st.reconnects >= 1, "stream {i}: {st:?}");

        let token = format!("acked-{i}");
        let s = common::get_json(&second.addr, &format!("/api/streams/{token}")).await;
        let x = s["traces"][0]["x"].as_array().expect("x").clone();
        let first_x = x.first().and_then(Value::as_u64).expect("points");
        // Each write sent to the restarted viewer, once, no gap: x runs
        // from where the stream resumed to the last write, one by one.
        assert_eq!(x.len() as u64, WRITES - first_x, "stream {i}");
        assert!(
            x.iter()
                .enumerate()
                .all(|(k, v)| v.as_u64() == Some(first_x + k as u64)),
            "stream {i}: a duplicate or a gap"
        );
        assert_eq!(s["writes"], json!(WRITES - first_x), "stream {i}");
        resumed_at.push(first_x);
    }
    let resumed: u64 = resumed_at.iter().sum();
    assert!(
        resumed > 0 && resumed <= acked_at_kill,
        "the streams resumed at {resumed_at:?}, {acked_at_kill} acknowledged when the viewer died"
    );
}
