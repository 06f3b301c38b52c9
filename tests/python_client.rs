//! Plotly's own Python client, chart_studio 1.1.0, streams into the viewer.
//!
//! It sends `Host` twice and ends with `\r\n0\r\n\r\n` (a stray CRLF before
//! the last chunk): its writes, heartbeats and `close()` must all work, every
//! point must be kept, and `close()` must get 200. (chart_studio's `close()`
//! itself returns `b''` on Python 3 whatever the server says, a bug of its
//! own; the script reads the answer from the bytes its socket received.)
//! `.ci/run` installs the client; elsewhere, without it, the test is
//! ignored and says why, except under `CI=true`, where it fails.

mod common;

use std::time::Duration;

use plotstream::protocol::{Figure, StreamSpec, Trace};
use plotstream::viewer::{Config, Viewer};
use serde_json::{Value, json};
use tokio::process::Command;

const WRITES: u64 = 10_000;
const MAXPOINTS: u64 = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(have_python_client),
    ignore = "needs python3 with chart-studio 1.1.0 and plotly 5.x (pip install chart-studio==1.1.0 plotly==5.24.1)"
)]
async fn chart_studio_streams_every_point_and_closes_with_200() {
    common::require_python_client();
    let viewer = Viewer::new(Config::default()).expect("a valid config");
    viewer
        .add_figure(Figure {
            data: vec![Trace::streamed(
                "scatter",
                StreamSpec::new("py-token", MAXPOINTS),
            )],
            ..Figure::default()
        })
        .expect("a valid figure");
    let addr = common::serve_here(&viewer).await;
    let port = addr.rsplit(':').next().expect("a port").to_owned();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/chart_studio_stream.py"
    );
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

    let stream = viewer.stream_json("py-token").expect("the token is known");
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
        viewer
            .metrics_text()
            .contains("plotstream_heartbeats_total 10\n")
    );
}
