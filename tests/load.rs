//! `plotstream load` against `plotstream serve`: real processes on 127.0.0.1.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::Served;
use plotstream::load::Report;
use serde_json::Value;
use tokio::process::Command;

/// A viewer process on a free loopback port.
struct Viewer {
    _served: Served,
    url: String,
}

async fn viewer() -> Viewer {
    let served = Served::start(&["--addr", "127.0.0.1:0"]).await;
    Viewer {
        url: format!("http://{}", served.addr),
        _served: served,
    }
}

fn scratch(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("load-{}-{name}", std::process::id()))
}

async fn load(args: &[&str]) -> std::process::Output {
    tokio::time::timeout(
        Duration::from_secs(120),
        Command::new(env!("CARGO_BIN_EXE_plotstream"))
            .arg("load")
            .args(args)
            .output(),
    )
    .await
    .expect("the load test ends")
    .expect("runs")
}

fn read_report(path: &PathBuf) -> (Value, Report) {
    let text = std::fs::read_to_string(path).expect("the report was written");
    (
        serde_json::from_str(&text).expect("JSON"),
        serde_json::from_str(&text).expect("a report"),
    )
}

/// 200 streams × 50 writes/s × 5 s, subscribed: 50,000 writes sent, all
/// 50,000 received, none lost; the report holds every field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_streams_lose_nothing() {
    let v = viewer().await;
    let report = scratch("200.json");
    let out = load(&[
        "--url",
        &v.url,
        "--streams",
        "200",
        "--rate",
        "50",
        "--duration",
        "5s",
        "--subscribe",
        "--report",
        report.to_str().expect("utf-8"),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout
            .contains("200 streams of noisy-cosine at 50 writes/s each, constant arrivals for 5 s"),
        "{stdout}"
    );
    let (json, r) = read_report(&report);
    assert_eq!(r.writes, 50_000);
    let loss = r.loss.as_ref().expect("subscribed");
    assert_eq!(
        (loss.received, loss.lost, loss.duplicates),
        (50_000, 0, 0),
        "{stdout}"
    );
    assert_eq!((r.connect_errors, r.stream_errors, r.drops), (0, 0, 0));
    assert_eq!((r.unconfirmed, r.unsent, r.may_be_lost()), (0, 0, 0));
    assert_eq!(r.statuses.get("200"), Some(&200));
    assert_eq!(r.lateness_ms.count, 50_000);
    assert_eq!(r.latency_ms.as_ref().map(|l| l.count), Some(50_000));
    // 200 × 50 writes/s; the phases spread the starts over one period
    // (20 ms of the 5 s), so the schedule's span is up to 0.4% longer.
    assert!((r.target_rate - 10_000.0).abs() < 50.0, "{}", r.target_rate);
    assert!(r.achieved_rate > 0.0 && r.bytes > 0);
    // The summary's numbers agree with each other.
    let span_rate = r.writes as f64 / r.send_span_s;
    assert!(
        (span_rate - r.achieved_rate).abs() < 1e-6 * r.achieved_rate,
        "{stdout}"
    );
    assert!((r.bytes as f64 / r.send_span_s - r.bytes_per_s).abs() < 1e-6 * r.bytes_per_s);
    // The writes line counts what was sent of what the schedule offered,
    // and states the schedule's own rate beside the achieved one.
    let offered = r.offered.as_ref().expect("the offered load");
    assert_eq!(offered.writes, 50_000);
    assert!(
        stdout.contains(&format!(
            "writes    50000 sent of 50000 offered (100.00%) over {:.2} s: {:.0}/s achieved; the schedule offered {:.0}/s while every stream was open",
            r.send_span_s, r.achieved_rate, offered.mean_rate
        )),
        "{stdout}"
    );
    let l = &r.lateness_ms;
    assert!(
        l.min <= l.p50 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.mean > 0.0,
        "{l:?}"
    );
    assert!(
        !r.lateness_over_time.is_empty()
            && r.lateness_over_time.iter().all(|[p50, p99]| p50 <= p99),
        "{:?}",
        r.lateness_over_time
    );
    assert!(
        r.latency_over_time.iter().any(|[_, p99]| *p99 > 0.0)
            && r.latency_over_time.iter().all(|[p50, p99]| p50 <= p99),
        "end-to-end p50 and p99 each second: {:?}",
        r.latency_over_time
    );
    // The offered load: 10,000/s, even (phases spread over the period).
    assert!((offered.mean_rate - 10_000.0).abs() < 200.0, "{offered:?}");
    assert!(offered.dispersion_10ms < 0.5, "even: {offered:?}");
    assert!(stdout.contains("  offered   mean "), "{stdout}");
    // Its figures are gone from the viewer (--keep-figures keeps them).
    let addr = v.url.trim_start_matches("http://").to_owned();
    let figures = common::get_json(&addr, "/api/figures").await;
    assert_eq!(figures, serde_json::json!([]), "the run cleaned up");
    for key in [
        "config",
        "target_rate",
        "achieved_rate",
        "elapsed_s",
        "writes",
        "bytes",
        "connect_errors",
        "stream_errors",
        "reconnects",
        "drops",
        "bytes_per_s",
        "send_span_s",
        "lateness_over_time",
        "latency_over_time",
        "offered",
        "unconfirmed",
        "unsent",
        "statuses",
        "lateness_ms",
        "latency_ms",
        "loss",
    ] {
        assert!(json.get(key).is_some(), "no {key} in the report");
    }
    for key in ["p50", "p90", "p99", "p999", "max", "histogram"] {
        assert!(json["latency_ms"].get(key).is_some(), "no latency {key}");
        assert!(json["lateness_ms"].get(key).is_some(), "no lateness {key}");
    }
    std::fs::remove_file(report).ok();
}

/// Four shards of one test, as four processes, then `load merge`: the counts
/// are the sums, and the merged p99 agrees with the p99 of every recorded
/// value, sorted here apart from the histogram's own quantile code, to the
/// histogram's precision (3 significant figures).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_merge_into_one_test() {
    let v = viewer().await;
    let files: Vec<PathBuf> = (0..4).map(|i| scratch(&format!("shard{i}.json"))).collect();
    let runs = (0..4).map(|i| {
        let url = v.url.clone();
        let file = files[i].to_str().expect("utf-8").to_owned();
        async move {
            let mut args = common::shard_args(&url, 40, &format!("{i}/4"), "sharded");
            args.extend(["--report".to_owned(), file]);
            load(&args.iter().map(String::as_str).collect::<Vec<_>>()).await
        }
    });
    for out in futures_join(runs).await {
        assert!(out.status.success(), "{out:?}");
    }
    let shards: Vec<Report> = files.iter().map(|f| read_report(f).1).collect();
    for s in &shards {
        assert_eq!(s.config.streams_here, 10, "each shard runs a quarter");
    }
    let mut args = vec!["merge"];
    args.extend(files.iter().map(|f| f.to_str().expect("utf-8")));
    let out = load(&args).await;
    assert!(out.status.success(), "{out:?}");
    let merged: Report = serde_json::from_slice(&out.stdout).expect("merged JSON on stdout");

    assert_eq!(merged.config.streams_here, 40);
    assert_eq!(merged.writes, shards.iter().map(|s| s.writes).sum::<u64>());
    assert_eq!(merged.writes, 40 * 40);
    assert_eq!(merged.bytes, shards.iter().map(|s| s.bytes).sum::<u64>());
    let loss = merged.loss.as_ref().expect("subscribed");
    assert_eq!(
        loss.received,
        shards
            .iter()
            .map(|s| s.loss.as_ref().map_or(0, |l| l.received))
            .sum::<u64>()
    );
    assert_eq!(loss.lost, 0);
    assert_eq!(merged.statuses.get("200"), Some(&40));
    assert_eq!(merged.lateness_ms.count, merged.writes);
    // The offered load is the shards' together, not the first shard's.
    let offered = |r: &Report| r.offered.clone().expect("the offered load");
    let (whole, parts): (_, Vec<_>) = (offered(&merged), shards.iter().map(offered).collect());
    assert_eq!(whole.writes, merged.writes);
    let sum: f64 = parts.iter().map(|o| o.mean_rate).sum();
    assert!((whole.mean_rate - sum).abs() < 1e-9 * sum, "{whole:?}");
    assert_eq!(whole.hurst, None, "Hurst estimates do not add up");
    // Each second's p50 and p99 are the larger of the shards', for
    // lateness and end-to-end latency alike.
    let lateness: fn(&Report) -> &Vec<[f64; 2]> = |r| &r.lateness_over_time;
    let latency: fn(&Report) -> &Vec<[f64; 2]> = |r| &r.latency_over_time;
    for of in [lateness, latency] {
        let merged_seconds = of(&merged);
        let longest = shards.iter().map(|s| of(s).len()).max().unwrap_or(0);
        assert!(longest > 0, "the shards measured each second");
        assert_eq!(merged_seconds.len(), longest);
        for (i, m) in merged_seconds.iter().enumerate() {
            for q in 0..2 {
                let max = shards
                    .iter()
                    .filter_map(|s| of(s).get(i).map(|v| v[q]))
                    .fold(0.0, f64::max);
                assert_eq!(m[q], max, "second {i}");
            }
        }
    }

    // Every recorded lateness, from each shard's histogram, sorted.
    let mut all: Vec<u64> = Vec::new();
    for s in &shards {
        let h = s.lateness_ms.histogram().expect("a histogram");
        for v in h.iter_recorded() {
            all.extend(std::iter::repeat_n(
                v.value_iterated_to(),
                usize::try_from(v.count_at_value()).expect("fits"),
            ));
        }
    }
    all.sort_unstable();
    let rank = ((all.len() as f64) * 0.99).ceil() as usize - 1;
    let p99_all = all[rank] as f64 / 1000.0;
    let merged_p99 = merged.lateness_ms.p99;
    assert!(
        (merged_p99 - p99_all).abs() <= p99_all * 0.001 + 0.001,
        "merged p99 {merged_p99} ms, all samples {p99_all} ms"
    );
    for f in files {
        std::fs::remove_file(f).ok();
    }
}

/// Three shards started together with `--start-at` (an absolute unix time
/// the test picks, 2 s ahead), each writing its report to stdout with
/// `--report -` and its summary to stderr, as pods in a Job do. Their logs,
/// concatenated with the summaries between the reports as `kubectl logs`
/// gives them, merge into one test: the totals add up, every shard started
/// at the instant given and first wrote within 50 ms of the others. Shards
/// of another test, or one shard twice, are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_started_together_merge_from_their_logs() {
    let v = viewer().await;
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
        + 2.0;
    let start_at = format!("{start:.3}");
    let runs = (0..3).map(|i| {
        let (url, start_at) = (v.url.clone(), start_at.clone());
        async move {
            let mut args = common::shard_args(&url, 30, &format!("{i}/3"), "together");
            args.extend(["--start-at", &start_at, "--report", "-"].map(str::to_owned));
            load(&args.iter().map(String::as_str).collect::<Vec<_>>()).await
        }
    });
    let mut logs = String::new();
    for out in futures_join(runs).await {
        assert!(out.status.success(), "{out:?}");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(
            stdout.lines().count(),
            1,
            "only the report on stdout: {stdout}"
        );
        assert!(
            stderr.contains("  writes    "),
            "the summary on stderr: {stderr}"
        );
        logs.push_str(&stderr);
        logs.push_str(&stdout);
    }
    let path = scratch("logs.txt");
    std::fs::write(&path, &logs).expect("writes the logs");
    let file = path.to_str().expect("utf-8").to_owned();
    let out = load(&["merge", &file]).await;
    assert!(out.status.success(), "{out:?}");
    let merged: Report = serde_json::from_slice(&out.stdout).expect("merged JSON");
    assert_eq!(merged.config.streams_here, 30);
    assert_eq!(merged.writes, 30 * 40);
    assert_eq!(
        merged.loss.as_ref().map(|l| (l.received, l.lost)),
        Some((1200, 0))
    );
    assert_eq!(merged.shards.len(), 3, "{:?}", merged.shards);
    let firsts: Vec<f64> = merged
        .shards
        .iter()
        .map(|s| {
            assert!(
                (s.start_unix_s - start).abs() < 0.001,
                "{s:?} started at {start}"
            );
            s.first_write_unix_s.expect("it wrote")
        })
        .collect();
    let spread = firsts.iter().copied().fold(f64::MIN, f64::max)
        - firsts.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        spread < 0.05,
        "first writes {:.1} ms apart",
        spread * 1000.0
    );
    assert!(
        firsts.iter().all(|&f| f >= start),
        "none before the start: {firsts:?}"
    );

    // Another test's shard (another rate), and one shard twice: refused.
    let first_line = logs
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("a report line")
        .to_owned();
    let other = first_line.replacen("\"rate\":20.0", "\"rate\":30.0", 1);
    assert_ne!(other, first_line);
    for (text, says) in [
        (format!("{logs}{other}\n"), "has rate"),
        (format!("{logs}{first_line}\n"), "is given twice"),
    ] {
        std::fs::write(&path, text).expect("writes");
        let out = load(&["merge", &file]).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        assert!(
            err.contains("not the shards of one test") && err.contains(says),
            "{err}"
        );
    }
    std::fs::remove_file(&path).ok();
}

/// Runs the futures together and returns their outputs in order.
async fn futures_join<F: Future<Output = std::process::Output> + Send + 'static>(
    runs: impl Iterator<Item = F>,
) -> Vec<std::process::Output> {
    let handles: Vec<_> = runs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("joins"));
    }
    out
}

/// A breached threshold exits 99 and says which.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breached_threshold_exits_99() {
    let v = viewer().await;
    let out = load(&[
        "--url",
        &v.url,
        "--streams",
        "2",
        "--rate",
        "20",
        "--duration",
        "0.5s",
        "--max-p99",
        "0.01ms",
        "--max-loss",
        "0",
        "--subscribe",
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(99), "{stdout}");
    assert!(
        stdout.contains("threshold breached: p99 end-to-end latency")
            && stdout.contains("is over --max-p99 0.0 ms"),
        "{stdout}"
    );
    let out = load(&[
        "--url",
        &v.url,
        "--streams",
        "2",
        "--rate",
        "20",
        "--duration",
        "0.5s",
        "--max-error-rate",
        "0",
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = load(&["--url", &v.url, "--shard", "4/4"]).await;
    assert_eq!(out.status.code(), Some(2), "a bad shard is a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a shard: give I/N"));
}

/// `--html` writes one self-contained page (plotly.js inside, no network);
/// `--live` plots the run on a viewer while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_report_and_live_plot() {
    let v = viewer().await;
    let html = scratch("report.html");
    let out = load(&[
        "--url",
        &v.url,
        "--streams",
        "3",
        "--rate",
        "20",
        "--duration",
        "2.5s",
        "--html",
        html.to_str().expect("utf-8"),
        "--live",
        &v.url,
        "--token-prefix",
        "selfplot",
        "--report",
        scratch("live.json").to_str().expect("utf-8"),
    ])
    .await;
    let (_, r) = read_report(&scratch("live.json"));
    assert_eq!(
        r.rate_over_time.iter().sum::<u64>(),
        r.writes,
        "every write is in some second"
    );
    assert_eq!(r.writes, 150);
    std::fs::remove_file(scratch("live.json")).ok();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("live plot of this run: http://127.0.0.1:"),
        "{stdout}"
    );
    let page = std::fs::read_to_string(&html).expect("the page was written");
    assert!(
        page.contains("plotly.js (basic - minified) v3.7.0"),
        "plotly.js's basic bundle is inside"
    );
    assert!(
        page.len() < 1_300_000,
        "the basic bundle, not the full: {} bytes",
        page.len()
    );
    assert!(!page.contains("<script src="), "nothing is fetched");
    assert!(page.contains("Percentile spectrum") && page.contains("Writes per second"));
    let offered = r.offered.as_ref().expect("the offered load").mean_rate;
    let offered = serde_json::to_string(&offered).expect("a number");
    assert!(
        page.contains(r#""name":"offered (mean)""#)
            && page.contains(&format!(r#""y":[{offered},{offered}]"#)),
        "the rate is read against the schedule's own, {offered}/s"
    );
    assert!(page.contains("Lateness and end-to-end latency each second"));
    std::fs::remove_file(html).ok();
    // The run's own figure holds a point a second for writes/s.
    let addr = v.url.trim_start_matches("http://").to_owned();
    let body = common::get_json(&addr, "/api/streams/selfplot-live-writes").await;
    let ys: Vec<u64> = body["traces"][0]["y"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_u64)
        .collect();
    assert!(ys.len() >= 2, "a point a second: {body}");
    assert!(
        ys.iter().all(|&y| y <= 63),
        "3 streams × 20 writes/s, give or take a tick: {ys:?}"
    );
    // The p99 lateness plotted is each second's, never stuck at 0.
    let p99 = common::get_json(&addr, "/api/streams/selfplot-live-p99").await;
    let p99s: Vec<f64> = p99["traces"][0]["y"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    assert!(
        p99s.iter().any(|&v| v > 0.0),
        "p99 lateness plotted: {p99s:?}"
    );
}

/// A run that sends nothing exits 1 and says why; options out of range are
/// refused with exit 2, naming the valid range.
#[tokio::test]
async fn nothing_sent_exits_1_and_bad_ranges_exit_2() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let out = load(&[
        "--url",
        &format!("http://{closed}"),
        "--streams",
        "3",
        "--duration",
        "1s",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("0 writes sent, 3 of 3 streams failed: cannot connect to"),
        "{err}"
    );
    // A server that refuses every stream (a viewer, to a generic NDJSON
    // POST without Plotly's token header: 415; on the plotly target, load
    // makes its figures on a viewer first, so they would be taken).
    let v = Served::start(&["--addr", "127.0.0.1:0", "--closed"]).await;
    let url = format!("http://{}/nothing/{{token}}", v.addr);
    let out = load(&["--target", "http", "--url", &url, "--duration", "1s"]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 of 1 stream failed") && err.contains("the server ended the stream: 415"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 stream of noisy-cosine"));
    for (args, says) in [
        (
            &["--streams", "0"][..],
            "is not a whole number of at least 1",
        ),
        (&["--duration", "0s"][..], "give a duration above zero"),
        (&["--max-error-rate", "2"][..], "is not a share from 0 to 1"),
        // A negative number reaches the value's own check, not clap's
        // "unexpected argument".
        (&["--rate", "-5"][..], "\"-5\" is not a number above 0"),
        (&["--duration", "-5s"][..], "is not a duration"),
    ] {
        let mut all = vec!["--url", "http://127.0.0.1:9"];
        all.extend_from_slice(args);
        let out = load(&all).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}"
        );
    }
}

/// Every refused option exits 2 with one line naming it, before anything
/// connects: a listener that stands for the server is never called.
#[tokio::test]
async fn refused_options_exit_2_before_any_connection() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    listener.set_nonblocking(true).expect("non-blocking");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let mqtt = url.replace("http://", "mqtt://");
    let missing = scratch("no-such-ca.pem");
    let missing = missing.to_str().expect("utf-8");
    for (args, says) in [
        // clap's own usage error, with the usage line under it.
        (
            vec!["--streams", "2"],
            "the following required arguments were not provided",
        ),
        (
            vec!["--url", "foo://bar"],
            "give an http://, https://, ws:// or mqtt:// URL",
        ),
        (
            vec!["--url", &url, "--find-capacity"],
            "--find-capacity needs a threshold",
        ),
        (
            vec!["--url", &mqtt, "--acks"],
            "--acks asks a plotstream viewer",
        ),
        (
            vec!["--url", &url, "--token-prefix", "a b"],
            "--token-prefix \"a b\"",
        ),
        (vec!["--url", &url, "--ca-cert", missing], "--ca-cert"),
        (
            vec!["--url", &url, "--max-loss", "0"],
            "--max-loss needs subscribers",
        ),
        (
            vec!["--url", &url, "--subscribers", "3"],
            "--subscribers counts receivers per stream",
        ),
        (vec!["--url", &url, "--start-at", "1000"], "--start-at is"),
        (
            vec!["--url", &url, "--start-at", "soon"],
            "is not a start time",
        ),
    ] {
        let out = load(&args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        // clap's own errors add a usage or a pointer to --help below.
        if !stderr.contains("Usage:") && !stderr.contains("try '--help'") {
            assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        }
    }
    assert!(
        listener.accept().is_err(),
        "no refused run connected to the server"
    );
}

/// Poisson arrivals against a viewer, watched end to end: the streams write
/// for the duration, every write is seen once, and every one has its
/// latency from its own (random) due time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poisson_arrivals_lose_nothing_and_time_every_write() {
    let v = viewer().await;
    let report = scratch("poisson.json");
    let out = load(&[
        "--url",
        &v.url,
        "--arrivals",
        "poisson",
        "--streams",
        "20",
        "--rate",
        "50",
        "--duration",
        "2s",
        "--subscribe",
        "--report",
        report.to_str().expect("utf-8"),
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let (_, r) = read_report(&report);
    std::fs::remove_file(&report).ok();
    // Each stream sends what its Poisson process schedules in 2 s: 100 on
    // average, 2,000 ± 45 (one standard deviation) together; ± 200 is over
    // 4 of them.
    assert!((1_800..=2_200).contains(&r.writes), "{}", r.writes);
    let loss = r.loss.as_ref().expect("subscribed");
    assert_eq!(
        (loss.received, loss.lost, loss.duplicates),
        (r.writes, 0, 0)
    );
    assert_eq!(r.latency_ms.as_ref().map(|l| l.count), Some(r.writes));
    // A Poisson aggregate: dispersion 1 (200 slots of 10 ms: ± 0.1).
    let offered = r.offered.as_ref().expect("the offered load");
    assert!((offered.dispersion_10ms - 1.0).abs() < 0.5, "{offered:?}");
    // Latency is measured from each write's own due time: a few ms on
    // loopback, not the seconds a wrong due time would give.
    assert!(
        r.latency_ms.as_ref().is_some_and(|l| l.p50 < 500.0),
        "{:?}",
        r.latency_ms
    );
}

/// `--stages 3s:6,3s:6,3s:0` as the viewer counts it: streams open one by
/// one (every 0.5 s, as the ramp asks for one more), six stay open for
/// 3 s, then close one by one. `/metrics`' open streams, read every 50 ms,
/// go through each level in turn, 0 to 6 and back, and hold 6 for 3 s
/// (± 0.4 s: the sampling, and the time a connection takes to open).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_open_and_close_streams_as_the_server_counts_them() {
    let v = viewer().await;
    let addr = v.url.trim_start_matches("http://").to_owned();
    let report = scratch("stages.json");
    let run = tokio::spawn({
        let (url, report) = (v.url.clone(), report.clone());
        async move {
            load(&[
                "--url",
                &url,
                "--stages",
                "3s:6,3s:6,3s:0",
                "--rate",
                "20",
                "--subscribe",
                "--report",
                report.to_str().expect("utf-8"),
            ])
            .await
        }
    });
    let mut samples: Vec<(std::time::Instant, u64)> = Vec::new();
    while !run.is_finished() {
        if let Some(open) = common::metric(&addr, "plotstream_open_streams").await {
            samples.push((std::time::Instant::now(), open as u64));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = run.await.expect("the run");
    assert!(out.status.success(), "{out:?}");
    let mut levels: Vec<u64> = samples.iter().map(|s| s.1).collect();
    levels.dedup();
    assert_eq!(
        levels,
        [0, 1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1, 0],
        "{samples:?}"
    );
    let at_six: Vec<_> = samples.iter().filter(|s| s.1 == 6).collect();
    let held = at_six[at_six.len() - 1].0 - at_six[0].0;
    assert!(
        (Duration::from_millis(2_600)..=Duration::from_millis(3_400)).contains(&held),
        "six open for {held:?}"
    );
    let (_, r) = read_report(&report);
    std::fs::remove_file(&report).ok();
    assert_eq!(r.connections, 6);
    assert_eq!(r.config.streams, 6);
    // Each stream writes 20/s while it is open: stream i (from 0) is open
    // from (i+1)/2 s to 6 + (5−i)/2 s, 8 − i s in all, 33 s of
    // stream-time together: 660 writes (± one per connection edge).
    assert!((650..=670).contains(&r.writes), "{}", r.writes);
    let loss = r.loss.as_ref().expect("subscribed");
    assert_eq!((loss.received, loss.lost), (r.writes, 0));
}

/// `--churn 1s`: every stream closes and reopens each second, at its own
/// phase, and no write is lost across the reconnects. The viewer counts
/// the streams it accepted: 4 streams over 4 s, cut once a second each,
/// are 4 + 4 × 4 connections (give or take the cuts that fall on a
/// stream's last write).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_reconnects_every_stream_and_loses_nothing() {
    let v = viewer().await;
    let addr = v.url.trim_start_matches("http://").to_owned();
    let report = scratch("churn.json");
    let out = load(&[
        "--url",
        &v.url,
        "--streams",
        "4",
        "--rate",
        "25",
        "--duration",
        "4s",
        "--churn",
        "1s",
        "--subscribe",
        "--report",
        report.to_str().expect("utf-8"),
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let (_, r) = read_report(&report);
    std::fs::remove_file(&report).ok();
    let accepted = common::metric(&addr, "plotstream_streams_total")
        .await
        .expect("the viewer answers") as u64;
    assert!((16..=20).contains(&r.connections), "{}", r.connections);
    assert_eq!(accepted, r.connections, "the viewer saw each connection");
    assert_eq!(r.writes, 400);
    let loss = r.loss.as_ref().expect("subscribed");
    assert_eq!((loss.received, loss.lost, loss.duplicates), (400, 0, 0));
}

/// A stream server that is slow on purpose: it takes NDJSON streams
/// (`POST /pub/{token}`) and hands each line to the token's EventSource
/// subscribers (`GET /sub/{token}`), but applies at most `per_second`
/// lines a second, all streams together. Beyond that it falls behind: it
/// reads the streams no faster, so the writes wait in its socket buffers
/// and their end-to-end latency grows without bound.
mod slow {
    use std::collections::HashMap;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};
    use std::time::Duration;

    use bytes::Bytes;
    use http_body_util::BodyExt;
    use hyper::body::{Frame, Incoming};
    use hyper::{Request, Response};
    use tokio::sync::mpsc;
    use tokio::time::Instant;

    /// A response body fed by a channel (an event stream, or nothing).
    struct Events(mpsc::UnboundedReceiver<Bytes>);

    impl hyper::body::Body for Events {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
        }
    }

    #[derive(Clone)]
    struct Server {
        /// When the next line may be applied.
        next: Arc<Mutex<Instant>>,
        gap: Duration,
        subscribers: Arc<Mutex<HashMap<String, Vec<mpsc::UnboundedSender<Bytes>>>>>,
    }

    impl Server {
        /// Waits for the next free slot: one line every `gap`, all streams.
        async fn slot(&self) {
            let at = {
                let mut next = self.next.lock().expect("lock");
                let at = (*next).max(Instant::now());
                *next = at + self.gap;
                at
            };
            tokio::time::sleep_until(at).await;
        }

        async fn handle(self, req: Request<Incoming>) -> Response<Events> {
            let token = req
                .uri()
                .path()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            let (tx, rx) = mpsc::unbounded_channel();
            if req.uri().path().starts_with("/sub/") {
                let _ = tx.send(Bytes::from_static(b": subscribed\n\n"));
                self.subscribers
                    .lock()
                    .expect("lock")
                    .entry(token)
                    .or_default()
                    .push(tx);
                return Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Events(rx))
                    .expect("a response");
            }
            drop(tx);
            let mut body = req.into_body();
            let mut pending = Vec::new();
            while let Some(Ok(frame)) = body.frame().await {
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                pending.extend_from_slice(&data);
                while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=end).collect();
                    self.slot().await;
                    let event = Bytes::from([b"data: ", &line[..line.len() - 1], b"\n\n"].concat());
                    if let Some(subs) = self.subscribers.lock().expect("lock").get_mut(&token) {
                        subs.retain(|s| s.send(event.clone()).is_ok());
                    }
                }
            }
            Response::new(Events(rx))
        }
    }

    /// Starts the server on a free loopback port; its address.
    pub(crate) async fn start(per_second: f64) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("an address").to_string();
        let server = Server {
            next: Arc::new(Mutex::new(Instant::now())),
            gap: Duration::from_secs_f64(1.0 / per_second),
            subscribers: Arc::default(),
        };
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let server = server.clone();
                        async move { Ok::<_, std::convert::Infallible>(server.handle(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        addr
    }
}

/// `--find-capacity` finds, within 10%, the capacity of a server that
/// applies at most 1,000 writes a second: below it, writes pass through
/// in a few ms; above it, they queue and the p99 passes 50 ms within a
/// step. The search starts at 5 streams × 50 writes/s, doubles to 2,000
/// (failed), and bisects down to 5%.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capacity_search_finds_a_slow_server_s_capacity() {
    const CAPACITY: f64 = 1_000.0;
    let addr = slow::start(CAPACITY).await;
    let report = scratch("capacity.json");
    let html = scratch("capacity.html");
    let out = load(&[
        "--target",
        "http",
        "--url",
        &format!("http://{addr}/pub/{{token}}"),
        "--payload",
        "point",
        "--subscribe-url",
        &format!("http://{addr}/sub/{{token}}"),
        "--streams",
        "5",
        "--rate",
        "50",
        "--duration",
        "1.5s",
        "--find-capacity",
        "--max-p99",
        "50ms",
        "--report",
        report.to_str().expect("utf-8"),
        "--html",
        html.to_str().expect("utf-8"),
    ])
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let c: plotstream::load::Capacity =
        serde_json::from_str(&std::fs::read_to_string(&report).expect("a report")).expect("JSON");
    let page = std::fs::read_to_string(&html).expect("a page");
    std::fs::remove_file(&report).ok();
    std::fs::remove_file(&html).ok();
    let answer = c.answer.as_ref().expect("an answer");
    assert!(
        (answer.offered - CAPACITY).abs() <= 0.1 * CAPACITY,
        "found {:.0} writes/s:\n{stdout}",
        answer.offered
    );
    let failed = c.first_failed.as_ref().expect("a step failed");
    assert!(failed.offered > answer.offered && !failed.held());
    assert!(
        failed.offered <= answer.offered * (1.0 + plotstream::load::RESOLUTION) + 1.0,
        "{stdout}"
    );
    // The steps doubled, then bisected; the table and the page say so.
    let offered: Vec<f64> = c.steps.iter().map(|s| s.offered).collect();
    assert!((offered[0] - 250.0).abs() < 5.0, "{offered:?}");
    let first_failure = c.steps.iter().position(|s| !s.held()).expect("a failure");
    for k in 1..=first_failure {
        assert!(
            (offered[k] / offered[k - 1] - 2.0).abs() < 0.02,
            "{offered:?}"
        );
    }
    assert!(
        stdout.contains("capacity: ") && stdout.contains("held"),
        "{stdout}"
    );
    assert!(
        page.contains("Latency against offered load"),
        "the HTML plots latency against load"
    );
}

/// `--bind` spreads the streams over the source addresses given, round
/// robin, as the server sees them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_spreads_the_streams_over_source_addresses() {
    let server = common::Recorder::start().await;
    let out = load(&[
        "--url",
        &server.url,
        "--streams",
        "4",
        "--rate",
        "5",
        "--duration",
        "1s",
        "--bind",
        "127.0.0.2-127.0.0.3",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let mut peers: Vec<String> = server
        .streams()
        .iter()
        .filter_map(|s| s.peer.map(|p| p.ip().to_string()))
        .collect();
    peers.sort();
    assert_eq!(peers, ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"]);
}

/// A run that runs out of file descriptors says so, and what to do, not
/// only "connect errors".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_file_descriptors_is_said() {
    let server = common::Recorder::start().await;
    let run = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 48; exec \"$0\" load --url \"$1\" --streams 80 --rate 2 --duration 1s")
        .arg(env!("CARGO_BIN_EXE_plotstream"))
        .arg(&server.url)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("ends")
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("open files needed, the system allows 48"),
        "{stdout}"
    );
    assert!(
        stdout.contains("first error: cannot connect to http://127.0.0.1:")
            && stdout.contains("(out of file descriptors: raise the open-file limit"),
        "{stdout}"
    );
}

/// `--acks`: the viewer acknowledges every write, so the report times each
/// one (sent to applied) without `--subscribe`, and its counts stay exact
/// when the viewer is killed mid-run and started again on its port: the
/// streams resume, and every write is acknowledged once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_time_every_write_and_keep_the_count_across_a_restart() {
    let port = common::free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut first = Served::start(&["--addr", &addr]).await;
    let report = scratch("acks.json");
    let url = format!("http://{addr}");
    let path = report.to_str().expect("utf-8").to_owned();
    let run = tokio::spawn(async move {
        load(&[
            "--url",
            &url,
            "--streams",
            "20",
            "--rate",
            "100",
            "--duration",
            "6s",
            "--acks",
            "--report",
            &path,
        ])
        .await
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    first.child.start_kill().expect("SIGKILL");
    first.child.wait().await.expect("dies");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second = Served::start(&["--addr", &addr]).await;
    let out = run.await.expect("the load task");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let (_, r) = read_report(&report);
    assert_eq!(r.writes, 12_000, "{stdout}");
    assert_eq!(r.acked, Some(12_000), "{stdout}");
    assert_eq!((r.drops, r.unconfirmed, r.unsent), (0, 0, 0), "{stdout}");
    assert!(r.reconnects >= 20, "every stream resumed: {stdout}");
    let acks = r.ack_latency_ms.as_ref().expect("ack latency");
    assert_eq!(acks.count, 12_000, "one ack latency a write");
    assert!(
        stdout.contains("every write acknowledged by the server (12000)"),
        "{stdout}"
    );
    assert!(stdout.contains("  ack       min"), "{stdout}");
    drop(second);
}

#[tokio::test]
async fn acks_need_the_plotly_target() {
    let out = load(&[
        "--url",
        "ws://127.0.0.1:9/{token}",
        "--acks",
        "--duration",
        "1s",
    ])
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Like the load's other refused options, before any stream opens.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--acks asks a plotstream viewer"),
        "{stderr}"
    );
}

/// The figures a run makes on a viewer (one per 100 streams) are
/// temporary: never in its store, and gone when the run ends, also when a
/// signal ends it. SIGINT and SIGTERM end the run cleanly: the summary,
/// the report (saying it stopped early), and the signal's exit code, 130
/// or 143, never a pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_leaves_no_figure_and_a_signal_ends_it_with_its_report() {
    for signal in [None, Some("-INT"), Some("-TERM")] {
        let name = signal.unwrap_or("whole");
        let dir = scratch(&format!("store{name}"));
        let data = dir.to_str().expect("utf-8").to_owned();
        let served = Served::start(&["--addr", "127.0.0.1:0", "--data-dir", &data]).await;
        let url = format!("http://{}", served.addr);
        let report = scratch(&format!("signal{name}.json"));
        let duration = if signal.is_some() { "60s" } else { "1s" };
        let child = Command::new(env!("CARGO_BIN_EXE_plotstream"))
            .arg("load")
            .args(["--url", &url, "--streams", "150", "--rate", "20"])
            .args(["--duration", duration, "--report"])
            .arg(&report)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("load starts");
        let out = if let Some(signal) = signal {
            common::wait_for_writes(&served.addr, 1000.0).await;
            let figures = common::get_json(&served.addr, "/api/figures").await;
            assert_eq!(figures.as_array().map(Vec::len), Some(2), "{figures}");
            common::signal_and_wait(child, signal).await
        } else {
            tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
                .await
                .expect("load ends")
                .expect("waits")
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let expected = signal.map_or(Some(0), common::signal_exit_code);
        assert_eq!(out.status.code(), expected, "{name}: {out:?}");
        let (_, r) = read_report(&report);
        assert!(r.writes > 0, "{stdout}");
        assert_eq!(r.stopped_early, signal.is_some(), "{stdout}");
        assert_eq!(
            stdout.contains("stopped   early, by a signal"),
            signal.is_some(),
            "{stdout}"
        );
        // Not subscribed: the count is a bound, and the summary says so.
        assert!(
            stdout.contains("--subscribe or --subscribe-url"),
            "{stdout}"
        );
        let figures = common::get_json(&served.addr, "/api/figures").await;
        assert_eq!(
            figures,
            serde_json::json!([]),
            "{name}: the run's figures are gone"
        );
        served.stop("-TERM").await;
        let again = Served::start(&["--addr", "127.0.0.1:0", "--data-dir", &data]).await;
        assert!(
            again
                .lines
                .iter()
                .any(|l| l.contains(": 0 figures restored")),
            "{name}: nothing saved: {:?}",
            again.lines
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// `--metrics-addr`: Prometheus scrapes the run while it runs: counters
/// and latency histograms in fixed buckets, labelled with the test and the
/// shard; an address that cannot be listened on is refused with exit 2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_addr_serves_the_run_while_it_runs() {
    let v = viewer().await;
    let addr = format!("127.0.0.1:{}", common::free_port());
    let url = v.url.clone();
    let metrics = addr.clone();
    let run = tokio::spawn(async move {
        load(&[
            "--url",
            &url,
            "--streams",
            "20",
            "--rate",
            "20",
            "--duration",
            "4s",
            "--subscribe",
            "--metrics-addr",
            &metrics,
            "--test-id",
            "scraped",
        ])
        .await
    });
    // Mid-run: the endpoint is up once the streams write.
    let mut text = String::new();
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Some((200, body)) = common::try_get(&addr, "/metrics").await
            && body.contains(
                "plotstream_load_latency_seconds_count{test_id=\"scraped\",shard=\"0/1\"} ",
            )
            && !body.contains("plotstream_load_writes_total{test_id=\"scraped\",shard=\"0/1\"} 0\n")
        {
            text = body;
            break;
        }
    }
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in {text}"))
    };
    let labels = "{test_id=\"scraped\",shard=\"0/1\"}";
    assert!(
        value(&format!("plotstream_load_writes_total{labels}")) > 0.0,
        "{text}"
    );
    assert!(
        value(&format!("plotstream_load_open_streams{labels}")) > 0.0,
        "{text}"
    );
    for name in ["lateness", "latency"] {
        let count = value(&format!("plotstream_load_{name}_seconds_count{labels}"));
        let inf = value(&format!(
            "plotstream_load_{name}_seconds_bucket{{test_id=\"scraped\",shard=\"0/1\",le=\"+Inf\"}}"
        ));
        assert_eq!(count, inf, "{name}: {text}");
        // Cumulative buckets never go down.
        let buckets: Vec<f64> = text
            .lines()
            .filter(|l| l.starts_with(&format!("plotstream_load_{name}_seconds_bucket")))
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        assert_eq!(buckets.len(), 15, "{text}");
        assert!(
            buckets.windows(2).all(|w| w[0] <= w[1]),
            "{name}: {buckets:?}"
        );
    }
    assert!(
        text.contains("# TYPE plotstream_load_latency_seconds histogram"),
        "{text}"
    );
    let out = run.await.expect("the run");
    assert!(out.status.success(), "{out:?}");
    // Taken: refused before anything connects.
    let (_taken, busy) = common::taken_port();
    let out = load(&["--url", &v.url, "--duration", "1s", "--metrics-addr", &busy]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    common::assert_says_taken(&out.stderr, "--metrics-addr", &busy);
}
