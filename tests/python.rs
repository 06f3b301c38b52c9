//! Plotly's own Python client against plotstream, for real: chart_studio
//! 1.1.0 with plotly 5.24.1, which `.ci/run` installs.
//!
//! - Its `Stream` into the viewer. It sends `Host` twice and ends with
//!   `\r\n0\r\n\r\n` (a stray CRLF before the last chunk): its writes,
//!   heartbeats and `close()` must all work, every point must be kept, and
//!   `close()` must get 200. (chart_studio's `close()` itself returns `b''`
//!   on Python 3 whatever the server says, a bug of its own; the script
//!   reads the answer from the bytes its socket received.)
//! - Plotly's streaming notebooks, run unchanged (but for their
//!   configuration) against a real `plotstream serve`: `py.plot` through
//!   Chart Studio's v2 API, `py.Stream` writes, plotting again under a
//!   filename, the embed URL of `tls.embed`, and all of it still there after
//!   `serve` restarts on the same data directory.
//!
//! Whether the client is here is asked when the tests run, of the `python3`
//! on PATH then (a venv counts): without it each test is reported ignored,
//! with the reason and what installs it, except under `CI=true`, where it
//! fails. Hence a harness of its own (libtest-mimic), which can skip at run
//! time; it takes the usual test arguments (a name filter, `--list`).

mod common;

use std::process::ExitCode;
use std::time::Duration;

use common::Served;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use plotstream::protocol::{Figure, StreamSpec, Trace};
use plotstream::viewer::{Config, Viewer};
use serde_json::{Value, json};
use tokio::process::Command;

const WRITES: u64 = 10_000;
const MAXPOINTS: u64 = 500;

/// The figure id in a Chart Studio URL `http://host/~owner/N/`.
fn id_of(url: &Value) -> u64 {
    url.as_str()
        .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{url} is not a plot URL"))
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let trials = vec![
        trial(
            "chart_studio_streams_every_point_and_closes_with_200",
            chart_studio_streams_every_point_and_closes_with_200,
        ),
        trial(
            "plotly_s_streaming_notebooks_run_unchanged",
            plotly_s_streaming_notebooks_run_unchanged,
        ),
    ];
    libtest_mimic::run(&args, trials).exit_code()
}

/// A test that needs the Python client: ignored, saying why, when it is
/// missing now (a failure under `CI=true`); else run on a runtime of its
/// own. A panic fails it, as in any test.
fn trial<F: Future<Output = ()> + 'static>(name: &str, test: fn() -> F) -> Trial {
    Trial::ignorable_test(name, move || {
        if let Some(missing) = common::python_client_missing() {
            if std::env::var("CI").as_deref() == Ok("true") {
                return Err(Failed::from(format!(
                    "{missing}: `.ci/run` installs it, and under CI=true nothing is skipped"
                )));
            }
            return Ok(Completion::ignored_with(missing));
        }
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Failed::from(format!("no runtime: {e}")))?
            .block_on(test());
        Ok(Completion::Completed)
    })
}

async fn chart_studio_streams_every_point_and_closes_with_200() {
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

async fn plotly_s_streaming_notebooks_run_unchanged() {
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
    served.stop("-TERM").await;
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
