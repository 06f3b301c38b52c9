//! Plotly's streaming notebooks, run unchanged (but for their
//! configuration) under the real chart_studio 1.1.0 and plotly 5.24.1
//! against a real `plotstream serve`: `py.plot` through Chart Studio's v2
//! API, `py.Stream` writes, plotting again under a filename, the embed URL
//! of `tls.embed`, and all of it still there after `serve` restarts on the
//! same data directory. `.ci/run` installs the pinned Python packages;
//! elsewhere, without them, the test says so and skips, except under
//! `CI=true`, where it fails.

mod common;

use std::time::Duration;

use common::Served;
use serde_json::{Value, json};
use tokio::process::Command;

/// The figure id in a Chart Studio URL `http://host/~owner/N/`.
fn id_of(url: &Value) -> u64 {
    url.as_str()
        .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{url} is not a plot URL"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(have_python_client),
    ignore = "needs python3 with chart-studio 1.1.0 and plotly 5.x (pip install chart-studio==1.1.0 plotly==5.24.1)"
)]
async fn plotly_s_streaming_notebooks_run_unchanged() {
    common::require_python_client();
    let data = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("notebook-data-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let data = data.to_str().expect("a UTF-8 path").to_owned();
    let args = ["--addr", "127.0.0.1:0", "--data-dir", &data];
    let served = Served::start(&args).await;
    let addr = served.addr.clone();
    let port = addr.rsplit(':').next().expect("a port").to_owned();
    // chart_studio writes ~/.plotly: a home of the test's own.
    let home = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("notebook-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).expect("a home");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/notebook.py");
    let run = Command::new("python3")
        .args([script, &port])
        .env("HOME", &home)
        .env("BROWSER", "true") // py.plot opens the page: let it open nothing
        .output();
    let out = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the notebook finishes")
        .expect("python3 runs");
    std::fs::remove_dir_all(&home).ok();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the notebook failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let urls: Value = serde_json::from_str(stdout.trim()).expect("the notebook prints its URLs");

    // The quickstart: one scatter, its one write drawn.
    let quick = common::get_json(&addr, &format!("/api/figures/{}", id_of(&urls["quick"]))).await;
    assert_eq!(quick["data"][0]["stream"]["token"], "quick-token");
    assert_eq!(
        (&quick["data"][0]["x"], &quick["data"][0]["y"]),
        (&json!([1]), &json!([2]))
    );

    // The tutorial: maxpoints 80, lines+markers, 'Time Series'; plotted
    // again under its filename, the same figure; after 200 writes it holds
    // the last 80.
    assert_eq!(
        urls["again"], urls["tutorial"],
        "the same filename, the same figure"
    );
    let id = id_of(&urls["tutorial"]);
    let fig = common::get_json(&addr, &format!("/api/figures/{id}")).await;
    let trace = &fig["data"][0];
    assert_eq!(
        trace["stream"],
        json!({"token": "tutorial-token", "maxpoints": 80})
    );
    assert_eq!(trace["mode"], "lines+markers");
    assert_eq!(fig["layout"]["title"]["text"], "Time Series");
    let last: Vec<u64> = (120..200).collect();
    assert_eq!(trace["x"], json!(last));
    let squares: Vec<u64> = last.iter().map(|i| i * i).collect();
    assert_eq!(trace["y"], json!(squares));

    // tls.embed's URL is a bare page of that figure, and the plot's own
    // URL leads to its page.
    let embed = urls["embed"].as_str().expect("an iframe");
    let src = format!("/~alice/{id}.embed");
    assert!(
        embed.contains(&format!("src=\"http://{addr}{src}\"")),
        "{embed}"
    );
    let (status, page) = common::get(&addr, &src).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("data-figure=\"{id}\"")), "{page}");
    let (status, _) = common::get(&addr, &format!("/~alice/{id}/")).await;
    assert_eq!(status, 303, "the plot's URL leads to its page");
    let (status, _) = common::get(&addr, "/~alice/999.embed").await;
    assert_eq!(status, 404);

    // Restarted on the same data directory, the plot is still there: its
    // URL, its name (chart_studio looks plots up by name), its 80 points.
    let out = served.stop("-TERM").await;
    assert!(out.status.success(), "{out:?}");
    let served = Served::start(&args).await;
    let addr = served.addr.clone();
    let fig = common::get_json(&addr, &format!("/api/figures/{id}")).await;
    assert_eq!(fig["data"][0]["x"], json!(last), "{fig}");
    assert_eq!(fig["data"][0]["y"], json!(squares));
    assert_eq!(fig["layout"]["title"]["text"], "Time Series");
    let found = common::get_json(&addr, "/v2/files/lookup?path=python-streaming").await;
    assert_eq!(found["fid"], format!("plotstream:{id}"), "{found}");
    let (status, page) = common::get(&addr, &src).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("data-figure=\"{id}\"")), "{page}");
    drop(served);
    std::fs::remove_dir_all(&data).ok();
}
