//! Plotly's own Python client, chart_studio 1.1.0, streams into the viewer.
//!
//! It sends `Host` twice and ends with `\r\n0\r\n\r\n` (a stray CRLF before
//! the last chunk): its writes, heartbeats and `close()` must all work, every
//! point must be kept, and `close()` must get 200. (chart_studio's `close()`
//! itself returns `b''` on Python 3 whatever the server says, a bug of its
//! own; the script reads the answer from the bytes its socket received.)
//! `.ci/run` installs the client; elsewhere, without it, the test says so and
//! skips, except under `CI=true`, where it fails.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{figure, start};
use plotstream_viewer::Config;
use serde_json::{Value, json};
use tokio::process::Command;

const WRITES: u64 = 10_000;
const MAXPOINTS: u64 = 500;

fn have_chart_studio() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import chart_studio"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stderr)] // a skipped test says why
async fn chart_studio_streams_every_point_and_closes_with_200() {
    if !have_chart_studio() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chart_studio is missing on CI: `.ci/run` must install chart-studio==1.1.0"
        );
        eprintln!(
            "skipped: python3 with chart_studio 1.1.0 is not installed (pip install chart-studio==1.1.0)"
        );
        return;
    }
    let v = start(Config::default()).await;
    v.viewer
        .add_figure(figure("py-token", MAXPOINTS))
        .expect("a valid figure");
    let port = v.addr.rsplit(':').next().expect("a port").to_owned();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/chart_studio_stream.py");
    let run = Command::new("python3")
        .args([script, &port, "py-token", &WRITES.to_string()])
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the Python client finishes")
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: Value = serde_json::from_str(stdout.trim()).expect("the script prints its answer");
    assert_eq!(answer["status"], 200, "close() got {answer}");

    let stream = v
        .viewer
        .stream_json("py-token")
        .expect("the token is known");
    assert_eq!(stream["writes"], WRITES);
    assert_eq!(stream["errors"], 0);
    let last: Vec<u64> = (WRITES - MAXPOINTS..WRITES).collect();
    let squares: Vec<u64> = last.iter().map(|i| i * i).collect();
    assert_eq!(
        stream["traces"][0]["x"],
        json!(last),
        "exactly the last maxpoints writes"
    );
    assert_eq!(stream["traces"][0]["y"], json!(squares));
    assert!(
        v.viewer
            .metrics_text()
            .contains("plotstream_heartbeats_total 10\n")
    );
}
