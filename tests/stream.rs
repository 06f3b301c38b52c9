//! `plotstream stream` and `plotstream replay`, the real binary against a
//! real HTTP server on 127.0.0.1.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::Recorder;
use serde_json::Value;
use tokio::process::Command;

async fn plotstream(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_plotstream"))
        .args(args)
        .output()
        .await
        .expect("the plotstream binary runs")
}

/// The `write` of each line of `plotstream generate`'s tape.
async fn tape_writes(args: &[&str]) -> (String, Vec<Value>) {
    let out = plotstream(args).await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let writes = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a tape line")["write"].clone())
        .collect();
    (text, writes)
}

fn received(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_sends_the_demos_writes_and_reports_counts() {
    let server = Recorder::start().await;
    let out = plotstream(&[
        "stream",
        "noisy-cosine",
        "--url",
        &server.url,
        "--count",
        "50",
        "--max-rate",
        "--seed",
        "7",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("noisy-cosine: 50 writes, 0 heartbeats"),
        "{stdout}"
    );
    assert!(stdout.contains("server answered 200"), "{stdout}");

    let streams = server.streams();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].token, "noisy-cosine");
    assert!(streams[0].ended_cleanly);
    let (_, want) =
        tape_writes(&["generate", "noisy-cosine", "--count", "50", "--seed", "7"]).await;
    assert_eq!(
        received(&streams[0].lines),
        want,
        "the same writes as the tape"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_sends_a_tape_back() {
    let server = Recorder::start().await;
    let (tape, want) = tape_writes(&[
        "generate",
        "noisy-cosine",
        "--count",
        "30",
        "--seed",
        "3",
        "--token-prefix",
        "replayed",
    ])
    .await;
    let path =
        std::env::temp_dir().join(format!("plotstream-replay-{}.ndjson", std::process::id()));
    std::fs::write(&path, tape).expect("writes the tape");
    let out = plotstream(&[
        "replay",
        path.to_str().expect("utf-8 path"),
        "--url",
        &server.url,
        "--max-rate",
    ])
    .await;
    std::fs::remove_file(&path).ok();
    assert!(out.status.success(), "{out:?}");
    let streams = server.streams();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].token, "replayed");
    assert_eq!(received(&streams[0].lines), want);
}

/// What `replay` says of a tape it cannot use: one line, each place named
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_tape_is_named_once() {
    let server = Recorder::start().await;
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tapes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a dir");
    let tape = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("writes");
        path.to_str().expect("utf-8 path").to_owned()
    };
    let fails = async |path: &str| {
        let out = plotstream(&["replay", path, "--url", &server.url, "--max-rate"]).await;
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        String::from_utf8_lossy(&out.stderr).trim_end().to_owned()
    };
    let record = "{\"t\":0,\"token\":\"a\",\"write\":{\"x\":1}}\n";
    let bad = tape("bad.ndjson", &format!("{record}not json\n"));
    assert_eq!(
        fails(&bad).await,
        format!("error: tape {bad}, line 2: expected ident (column 2)")
    );
    let cut = tape("cut.ndjson", &format!("{record}{}", &record[..30]));
    assert_eq!(
        fails(&cut).await,
        format!("error: tape {cut}, line 2: EOF while parsing a string (column 30)")
    );
    let empty = tape("empty.ndjson", "\n\n");
    assert_eq!(
        fails(&empty).await,
        format!(
            "error: nothing to replay: the tape {empty} has no records (make one with `plotstream generate`)"
        )
    );
    assert_eq!(
        fails("/nonexistent/tape").await,
        "error: cannot open the tape /nonexistent/tape: No such file or directory (os error 2)"
    );
    let d = dir.to_str().expect("utf-8 path");
    assert_eq!(
        fails(d).await,
        format!("error: cannot open the tape {d}: it is a directory, not a tape")
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Pacing never runs ahead of simulated time: 6 frames 80 ms apart at speed 4
/// cannot finish in under 5 × 80 / 4 = 100 ms. At speed 1 (real time) x is the
/// wall clock, written as the Python tutorials did.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_follows_simulated_time_and_real_time_stamps_the_wall_clock() {
    let server = Recorder::start().await;
    let start = Instant::now();
    let out = plotstream(&[
        "stream",
        "noisy-cosine",
        "--url",
        &server.url,
        "--count",
        "6",
        "--speed",
        "4",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(100),
        "ran ahead: {:?}",
        start.elapsed()
    );
    let xs: Vec<Value> = received(&server.streams()[0].lines)
        .iter()
        .map(|w| w["x"].clone())
        .collect();
    assert_eq!(
        xs,
        (0..6).map(Value::from).collect::<Vec<_>>(),
        "x is the index when not in real time"
    );

    let server = Recorder::start().await;
    let out = plotstream(&[
        "stream",
        "noisy-cosine",
        "--url",
        &server.url,
        "--count",
        "3",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    for w in received(&server.streams()[0].lines) {
        let x = w["x"].as_str().expect("a timestamp string");
        let shape: String = x
            .chars()
            .map(|c| if c.is_ascii_digit() { 'd' } else { c })
            .collect();
        assert_eq!(shape, "dddd-dd-dd dd:dd:dd.dddddd", "{x}");
    }
}

/// SIGINT (Ctrl-C) and SIGTERM end a never-ending stream cleanly: the body
/// gets its zero chunk, the counts are printed, and the exit code is the
/// signal's, 130 or 143, so that a script knows it was interrupted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_and_sigterm_close_the_streams_cleanly() {
    for signal in ["-INT", "-TERM"] {
        let server = Recorder::start().await;
        let child = Command::new(env!("CARGO_BIN_EXE_plotstream"))
            .args([
                "stream",
                "noisy-cosine",
                "--url",
                &server.url,
                "--speed",
                "20",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawns");
        let start = Instant::now();
        while server.line_count() < 5 {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no lines arrived"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let out = common::signal_and_wait(child, signal).await;
        assert_eq!(
            out.status.code(),
            common::signal_exit_code(signal),
            "{signal}: {out:?}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("noisy-cosine: ") && stdout.contains("server answered 200"),
            "{signal}: {stdout}"
        );
        assert!(
            stdout.contains("acks off (the server is not a plotstream viewer)"),
            "{stdout}"
        );
        let streams = server.streams();
        assert_eq!(streams.len(), 1);
        assert!(streams[0].ended_cleanly, "the zero chunk ended the body");
    }
}

/// With `--url`, a live demo creates its figure on that viewer and streams
/// into it; after `--count` frames it returns (no viewer of its own to keep up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_with_url_creates_its_figure_on_that_viewer() {
    use plotstream::viewer::{Config, Viewer};

    let viewer = Viewer::new(Config::default()).expect("a valid config");
    let url = format!("http://{}", common::serve_here(&viewer).await);

    let args = plotstream::live::LiveArgs {
        url: Some(url.clone()),
        speed: 100.0,
        count: Some(5),
        ..Default::default()
    };
    let demo = plotstream::demos::DemoKind::NoisyCosine
        .build(7)
        .expect("a demo");
    let mut out = Vec::new();
    let live = plotstream::live::stream(demo, &args, &mut out, std::future::pending())
        .await
        .expect("streams");
    assert_eq!(live.frames, 5);
    assert_eq!(live.plot_url, format!("{url}/plot/1"));
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        text.starts_with(&format!("live plot: {url}/plot/1")),
        "{text}"
    );
    let figure = viewer.figure_json(1).expect("the figure was created");
    assert_eq!(figure["data"][0]["x"], serde_json::json!([0, 1, 2, 3, 4]));
    assert_eq!(figure["data"][0]["mode"], "lines+markers");
}

/// `plotstream stream DEMO` to a plotstream viewer draws the demo's own
/// figure (its traces, axes and trail), made on the first run and found
/// again on the next; a stand-in the open viewer made for one of its tokens
/// before gives way to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_draws_the_demo_s_own_figure_on_a_plotstream_viewer() {
    let served = common::Served::start(&["--addr", "127.0.0.1:0"]).await;
    let url = format!("http://{}", served.addr);
    // A stream before the figure: the open viewer makes a stand-in.
    let s = plotstream_client::Stream::connect(&url, "double-pendulum-trail", Default::default())
        .await
        .expect("connects");
    s.write(&plotstream_protocol::Write::xy(0, 0))
        .await
        .expect("writes");
    s.close().await.expect("closes");
    let figures = common::get_json(&served.addr, "/api/figures").await;
    assert_eq!(figures.as_array().map(Vec::len), Some(1), "{figures}");

    let run = || async {
        let out = plotstream(&[
            "stream",
            "double-pendulum",
            "--url",
            &url,
            "--count",
            "20",
            "--max-rate",
        ])
        .await;
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = run().await;
    let line = first.lines().next().unwrap_or_default();
    assert!(
        line.starts_with(&format!("live plot: {url}/plot/")),
        "{first}"
    );
    let id: u64 = line
        .trim_start_matches(&format!("live plot: {url}/plot/"))
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("an id");
    let figures = common::get_json(&served.addr, "/api/figures").await;
    assert_eq!(
        figures.as_array().map(Vec::len),
        Some(1),
        "the stand-in went: {figures}"
    );
    let fig = common::get_json(&served.addr, &format!("/api/figures/{id}")).await;
    assert_eq!(
        fig["data"].as_array().map(Vec::len),
        Some(2),
        "rods and trail: {fig}"
    );
    assert_eq!(
        fig["layout"]["xaxis"]["range"],
        serde_json::json!([-2, 2]),
        "{fig}"
    );
    assert_eq!(
        fig["data"][0]["x"].as_array().map(Vec::len),
        Some(3),
        "the rods: {fig}"
    );
    assert_eq!(
        fig["data"][1]["x"].as_array().map(Vec::len),
        Some(20),
        "the trail: {fig}"
    );

    // Again: the same figure, said so.
    let second = run().await;
    assert!(
        second.starts_with(&format!(
            "live plot: {url}/plot/{id}  (the figure these tokens fed before"
        )),
        "{second}"
    );
    let figures = common::get_json(&served.addr, "/api/figures").await;
    assert_eq!(figures.as_array().map(Vec::len), Some(1), "{figures}");
    // The trail goes on in a new segment: a gap (null) between the first
    // run's 20 positions and the second's, so no line joins them. The
    // rods, overwritten each frame, get none.
    let fig = common::get_json(&served.addr, &format!("/api/figures/{id}")).await;
    for axis in ["x", "y"] {
        let trail = fig["data"][1][axis].as_array().expect("the trail");
        let gaps: Vec<usize> = (0..trail.len()).filter(|&i| trail[i].is_null()).collect();
        assert_eq!((trail.len(), gaps), (41, vec![20]), "{axis}: {trail:?}");
    }
    assert_eq!(
        fig["data"][0]["x"]
            .as_array()
            .map(|x| x.iter().any(serde_json::Value::is_null)),
        Some(false),
        "{fig}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_to_another_plotly_server_says_it_has_no_figure_api() {
    let server = Recorder::start().await;
    let out = plotstream(&[
        "stream",
        "noisy-cosine",
        "--url",
        &server.url,
        "--count",
        "3",
        "--max-rate",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with(&format!(
            "{} has no plotstream figure API: streaming to the tokens only",
            server.url
        )),
        "{stdout}"
    );
    assert_eq!(server.line_count(), 3);
}

/// Streams 400,000 noisy-cosine writes flat out (with `extra` flags) to a
/// viewer that is killed with SIGKILL once it has taken 1,000, and started
/// again on the same port 3 s later; what `stream` said.
async fn stream_across_a_viewer_restart(extra: &[&str]) -> std::process::Output {
    let addr = format!("127.0.0.1:{}", common::free_port());
    let mut first = common::Served::start(&["--addr", &addr]).await;
    let sender = Command::new(common::plotstream_bin())
        .args(["stream", "noisy-cosine", "--max-rate", "--count", "400000"])
        .args(extra)
        .args(["--url", &format!("http://{addr}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("stream starts");
    common::wait_for_writes(&addr, 1000.0).await;
    first.child.start_kill().expect("SIGKILL");
    first.child.wait().await.expect("dies");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _second = common::Served::start(&["--addr", &addr]).await;
    tokio::time::timeout(Duration::from_secs(120), sender.wait_with_output())
        .await
        .expect("stream ends")
        .expect("runs")
}

/// With `--no-acks`, the viewer killed with SIGKILL mid-stream and started
/// again 3 s later on the same port: `stream` reconnects and goes on, and
/// its summary counts the writes the dead connection carried as
/// unconfirmed (they may be lost), instead of "0 dropped".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_killed_mid_stream_leaves_unconfirmed_writes_counted() {
    let out = stream_across_a_viewer_restart(&["--no-acks"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("noisy-cosine: 400000 writes") && stdout.contains("server answered 200"),
        "{stdout}"
    );
    assert!(!stdout.contains("0 dropped,"), "{stdout}");
    assert!(
        !stdout.contains("every write sent on a connection the server answered"),
        "{stdout}"
    );
    let lost: u64 = stdout
        .split("; ")
        .find_map(|part| part.split_once(" may be lost (")?.0.parse().ok())
        .expect("a count of writes that may be lost");
    assert!(lost > 0, "{stdout}");
    assert!(
        stdout.contains(" unconfirmed: sent on a connection that ended without an answer"),
        "{stdout}"
    );
}

#[tokio::test]
async fn with_acks_the_summary_says_every_write_was_acknowledged() {
    let served = common::Served::start(&["--addr", "127.0.0.1:0"]).await;
    let out = plotstream(&[
        "stream",
        "noisy-cosine",
        "--max-rate",
        "--count",
        "2000",
        "--acks",
        "--url",
        &format!("http://{}", served.addr),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("noisy-cosine: 2000 writes")
            && stdout.contains("every write acknowledged by the server"),
        "{stdout}"
    );
}

/// The viewer that runs above, killed with SIGKILL mid-stream and started
/// again 3 s later, without any flag: `stream` asked the viewer for
/// acknowledgements by itself (it is a plotstream viewer), said each failed
/// reconnect try with its reason and the next wait, resumed, and ends with
/// every write acknowledged: an exact count, and nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_a_viewer_killed_mid_stream_loses_nothing() {
    let out = stream_across_a_viewer_restart(&[]).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("acks on (the server is a plotstream viewer; --no-acks turns them off)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("noisy-cosine: 400000 writes")
            && stdout.contains("every write acknowledged by the server"),
        "{stdout}"
    );
    assert!(!stdout.contains("may be lost"), "{stdout}");
    // One line per failed try: the reason, then the try and its wait.
    let tries: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("; reconnect try "))
        .collect();
    assert!(
        tries.len() >= 2
            && tries[0].ends_with("reconnect try 1 in 1s")
            && tries[1].ends_with("reconnect try 2 in 2s"),
        "{stderr}"
    );
    assert!(tries[1].contains("onnect"), "a reason: {}", tries[1]);
}

/// `--max-retries N` gives up after N failed tries in a row, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_retries_gives_up_after_that_many_tries() {
    let served = common::Served::start(&["--addr", "127.0.0.1:0"]).await;
    let sender = Command::new(common::plotstream_bin())
        .args([
            "stream",
            "noisy-cosine",
            "--speed",
            "20",
            "--max-retries",
            "1",
        ])
        .args(["--url", &format!("http://{}", served.addr)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("stream starts");
    common::wait_for_writes(&served.addr, 5.0).await;
    drop(served); // killed: nobody listens any more
    let out = tokio::time::timeout(Duration::from_secs(60), sender.wait_with_output())
        .await
        .expect("stream gives up")
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        stderr
            .lines()
            .filter(|l| l.contains("; reconnect try "))
            .count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("after 1 reconnect try"), "{stderr}");
}

/// `replay` stopped by a signal while its tape is still coming (stdin open):
/// it closes its streams, prints its summary, and exits 130 after SIGINT,
/// 143 after SIGTERM. To a plotstream viewer its writes were acknowledged
/// without asking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_ends_replay_cleanly_with_its_summary() {
    use tokio::io::AsyncWriteExt;
    let (tape, _) = tape_writes(&["generate", "noisy-cosine", "--count", "20"]).await;
    for signal in ["-INT", "-TERM"] {
        let served = common::Served::start(&["--addr", "127.0.0.1:0"]).await;
        let mut child = Command::new(common::plotstream_bin())
            .args(["replay", "-", "--max-rate", "--url"])
            .arg(format!("http://{}", served.addr))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("replay starts");
        let mut stdin = child.stdin.take().expect("piped");
        stdin
            .write_all(tape.as_bytes())
            .await
            .expect("feeds the tape");
        stdin.flush().await.expect("flushes");
        common::wait_for_writes(&served.addr, 20.0).await;
        let out = common::signal_and_wait(child, signal).await;
        drop(stdin); // open until now: the tape had not ended
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            common::signal_exit_code(signal),
            "{signal}: {out:?}"
        );
        assert!(
            stdout.contains("noisy-cosine: 20 writes")
                && stdout.contains("every write acknowledged by the server"),
            "{signal}: {stdout}"
        );
    }
}
