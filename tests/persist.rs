//! Figures that outlive `plotstream serve`: kept in a data directory (an
//! embedded redb store) and put back when it starts again.
//!
//! The guarantee under test, as the README states it:
//! - a figure (with its tokens and Chart Studio names) is on disk before
//!   its 201 is sent, so it survives even `kill -9`; one that an open viewer
//!   made for an unknown token is saved with its points;
//! - points are saved every `--save-interval`: after `kill -9` the store has
//!   every point written at least one interval before the kill (the newest
//!   ones may be gone);
//! - a clean stop (SIGTERM, Ctrl-C) saves everything.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{Served, get_json, metric, post_json};
use plotstream_protocol::Write;
use serde_json::{Value, json};

/// A fresh data directory for one test.
fn data_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("persist-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn serve_args<'a>(dir: &'a str, save_interval: &'a str) -> Vec<&'a str> {
    vec![
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        dir,
        "--save-interval",
        save_interval,
    ]
}

/// Makes a figure of one trace fed by `token`, keeping 80 points; its id.
async fn make_figure(addr: &str, token: &str) -> u64 {
    let figure = json!({
        "data": [{"type": "scatter", "mode": "lines+markers", "stream": {"token": token, "maxpoints": 80}}],
        "layout": {"title": {"text": "kept"}},
    });
    let (status, body) = post_json(addr, "/api/figures", &figure).await;
    assert_eq!(status, 201, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    answer["id"].as_u64().expect("an id")
}

/// Streams the points `(i, i²)` for `i` in `range` on `token`, then a
/// layout update; the server answers 200.
async fn stream(addr: &str, token: &str, range: std::ops::Range<u64>) {
    let url = format!("http://{addr}");
    let s = plotstream_client::Stream::connect(&url, token, Default::default())
        .await
        .expect("connects");
    for i in range {
        s.write(&Write::xy(i, i * i)).await.expect("writes");
    }
    let relayout: Write =
        serde_json::from_value(json!({"layout": {"xaxis.range": [0, 10]}})).expect("a write");
    s.write(&relayout).await.expect("writes");
    assert_eq!(s.close().await.expect("closes").status, 200);
}

fn squares(range: std::ops::Range<u64>) -> (Value, Value) {
    let xs: Vec<u64> = range.collect();
    let ys: Vec<u64> = xs.iter().map(|i| i * i).collect();
    (json!(xs), json!(ys))
}

/// What `serve` said of its store when it started.
fn store_line(served: &Served) -> &str {
    served
        .lines
        .iter()
        .find(|l| l.starts_with("figures are kept"))
        .unwrap_or_else(|| panic!("no word of the store: {:?}", served.lines))
}

/// `kill -9`: no chance to save anything.
async fn crash(mut served: Served) {
    served.child.start_kill().expect("kills");
    served.child.wait().await.expect("waits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_stop_keeps_every_figure_and_point() {
    let dir = data_dir("clean");
    let d = dir.to_str().expect("a UTF-8 path");
    // No save but the last: whatever comes back, the stop saved.
    let served = Served::start(&serve_args(d, "1h")).await;
    assert_eq!(
        store_line(&served),
        format!(
            "figures are kept in {}: 0 figures restored, with 0 points",
            dir.join("figures.redb").display()
        )
    );
    let addr = served.addr.clone();
    let id = make_figure(&addr, "kept").await;
    stream(&addr, "kept", 0..200).await;
    served.stop("-TERM").await;

    let served = Served::start(&serve_args(d, "1h")).await;
    assert!(
        store_line(&served).ends_with(": 1 figure restored, with 80 points"),
        "{:?}",
        served.lines
    );
    let addr = served.addr.clone();
    let fig = get_json(&addr, &format!("/api/figures/{id}")).await;
    let trace = &fig["data"][0];
    assert_eq!(
        trace["stream"],
        json!({"token": "kept", "maxpoints": 80}),
        "{fig}"
    );
    assert_eq!(trace["mode"], "lines+markers");
    assert_eq!(fig["layout"]["title"]["text"], "kept");
    assert_eq!(
        fig["layout"]["xaxis"]["range"],
        json!([0, 10]),
        "the layout as writes left it"
    );
    assert_eq!((trace["x"].clone(), trace["y"].clone()), squares(120..200));

    // Its token feeds it again, on from where it was; a new figure gets a
    // new id, never one given out before.
    stream(&addr, "kept", 200..210).await;
    let fig = get_json(&addr, &format!("/api/figures/{id}")).await;
    assert_eq!(
        (fig["data"][0]["x"].clone(), fig["data"][0]["y"].clone()),
        squares(130..210)
    );
    assert!(make_figure(&addr, "other").await > id);
    // Deleted, it stays deleted.
    let (status, _) = common::request(&addr, "DELETE", &format!("/api/figures/{id}"), None)
        .await
        .expect("answered");
    assert_eq!(status, 204);
    served.stop("-TERM").await;
    let served = Served::start(&serve_args(d, "1h")).await;
    let (status, _) = common::get(&served.addr, &format!("/api/figures/{id}")).await;
    assert_eq!(status, 404);
    assert!(store_line(&served).ends_with(": 1 figure restored, with 0 points"));
    drop(served);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_the_points_of_the_last_save_are_there() {
    let dir = data_dir("crash");
    let d = dir.to_str().expect("a UTF-8 path");
    let served = Served::start(&serve_args(d, "200ms")).await;
    let addr = served.addr.clone();
    let id = make_figure(&addr, "crash").await;
    stream(&addr, "crash", 0..200).await;
    // A token no figure has: the (open) viewer makes one for it.
    stream(&addr, "made-for-me", 0..10).await;
    // Ten save intervals: the guarantee is one, plus the save itself.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let saved = metric(&addr, "plotstream_writes_saved").await;
    assert_eq!(saved, Some(212.0), "210 points and two layout writes");
    crash(served).await;

    let served = Served::start(&serve_args(d, "200ms")).await;
    let fig = get_json(&served.addr, &format!("/api/figures/{id}")).await;
    let trace = &fig["data"][0];
    assert_eq!((trace["x"].clone(), trace["y"].clone()), squares(120..200));
    assert_eq!(fig["layout"]["xaxis"]["range"], json!([0, 10]));
    let made = get_json(&served.addr, "/api/streams/made-for-me").await;
    assert_eq!(made["traces"][0]["x"], squares(0..10).0, "{made}");
    drop(served);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_before_any_save_the_figure_is_there_without_its_points() {
    let dir = data_dir("unsaved");
    let d = dir.to_str().expect("a UTF-8 path");
    let served = Served::start(&serve_args(d, "1h")).await;
    let addr = served.addr.clone();
    let id = make_figure(&addr, "unsaved").await;
    stream(&addr, "unsaved", 0..50).await;
    stream(&addr, "made-for-me", 0..10).await;
    assert_eq!(
        metric(&addr, "plotstream_writes_saved").await,
        Some(0.0),
        "no save yet: the metric says so"
    );
    crash(served).await;

    // The figure was on disk before its 201; the points were not saved yet,
    // and the viewer does not pretend they were.
    let served = Served::start(&serve_args(d, "1h")).await;
    assert!(
        store_line(&served).ends_with(": 1 figure restored, with 0 points"),
        "{:?}",
        served.lines
    );
    let fig = get_json(&served.addr, &format!("/api/figures/{id}")).await;
    assert_eq!(fig["data"][0]["stream"]["token"], "unsaved");
    assert_eq!(fig["data"][0].get("x"), None, "{fig}");
    // The figure the viewer made for a token goes with its first save.
    let (status, _) = common::get(&served.addr, "/api/streams/made-for-me").await;
    assert_eq!(status, 404);
    drop(served);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_viewer_a_data_dir() {
    let dir = data_dir("in-use");
    let d = dir.to_str().expect("a UTF-8 path");
    let first = Served::start(&serve_args(d, "1s")).await;
    let second = tokio::process::Command::new(common::plotstream_bin())
        .arg("serve")
        .args(serve_args(d, "1s"))
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), second)
        .await
        .expect("the second viewer exits")
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is in use by another process") && stderr.contains("--data-dir"),
        "{stderr}"
    );
    drop(first);
    std::fs::remove_dir_all(&dir).ok();
}
