//! `plotstream load` against the stream servers people run, started here
//! from generated configs on free loopback ports: nginx with Nchan
//! (WebSocket publishers; WebSocket and EventSource subscribers) and
//! Mosquitto (MQTT). Each run streams a demo for a bounded time and reads
//! every write back: 0 lost. Without the servers the tests say so and
//! skip, except under `CI=true`.

mod common;

use std::time::Duration;

use common::Server;
use plotstream::load::Report;

async fn load(args: &[&str]) -> (std::process::Output, Report) {
    let report = std::env::temp_dir().join(format!(
        "plotstream-targets-{}-{}.json",
        std::process::id(),
        common::free_port()
    ));
    let mut all: Vec<&str> = args.to_vec();
    let path = report.to_str().expect("utf-8").to_owned();
    all.extend(["--report", &path]);
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(common::plotstream_bin())
            .arg("load")
            .args(&all)
            .output(),
    )
    .await
    .expect("the load test ends")
    .expect("runs");
    let text = std::fs::read_to_string(&report).unwrap_or_else(|_| panic!("no report: {out:?}"));
    std::fs::remove_file(&report).ok();
    (out, serde_json::from_str(&text).expect("a report"))
}

fn assert_all_seen(out: &std::process::Output, r: &Report, writes: u64) {
    assert_every_receiver_saw_all(out, r, writes, 1);
}

/// Every write reached each of the `k` receivers of its stream, once.
fn assert_every_receiver_saw_all(out: &std::process::Output, r: &Report, writes: u64, k: u64) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(r.writes, writes, "{stdout}");
    let loss = r.loss.as_ref().expect("subscribed");
    assert_eq!(
        (loss.receivers, loss.received, loss.lost, loss.duplicates),
        (k, writes * k, 0, 0),
        "{stdout}"
    );
    if k > 1 {
        let spread = r.fanout_spread_ms.as_ref().expect("a fan-out spread");
        assert_eq!(
            (spread.count, loss.spread_incomplete),
            (writes, 0),
            "every write's first and last receiver: {stdout}"
        );
        assert!(spread.max >= spread.min, "{stdout}");
    }
    assert_eq!(
        (r.connect_errors, r.stream_errors, r.may_be_lost()),
        (0, 0, 0),
        "{stdout}"
    );
    assert_eq!(r.latency_ms.as_ref().map(|l| l.count), Some(writes * k));
    assert!(
        r.latency_over_time.iter().any(|[_, p99]| *p99 > 0.0),
        "end-to-end latency each second: {:?}",
        r.latency_over_time
    );
}

/// WebSocket publishers into Nchan, read back by WebSocket subscribers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(have_nchan),
    ignore = "needs nginx with Nchan (apt-get install nginx-light libnginx-mod-nchan)"
)]
async fn websocket_streams_into_nchan_lose_nothing() {
    let nchan = Server::nchan().await;
    let base = format!("127.0.0.1:{}", nchan.port);
    let (out, r) = load(&[
        "--url",
        &format!("ws://{base}/pub/{{token}}"),
        "--header",
        "X-Test: yes",
        "--streams",
        "20",
        "--rate",
        "20",
        "--duration",
        "2s",
        "--subscribe-url",
        &format!("ws://{base}/sub/{{token}}"),
    ])
    .await;
    assert_all_seen(&out, &r, 800);
    assert_eq!(
        r.statuses.get("1000"),
        Some(&20),
        "a normal close each: {:?}",
        r.statuses
    );
}

/// The same publishers, read back as Nchan's EventSource, with flat points.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(have_nchan),
    ignore = "needs nginx with Nchan (apt-get install nginx-light libnginx-mod-nchan)"
)]
async fn nchan_eventsource_subscribers_see_every_point() {
    let nchan = Server::nchan().await;
    let base = format!("127.0.0.1:{}", nchan.port);
    let (out, r) = load(&[
        "--url",
        &format!("ws://{base}/pub/{{token}}"),
        "--payload",
        "point",
        "--streams",
        "10",
        "--rate",
        "25",
        "--duration",
        "2s",
        "--subscribe-url",
        &format!("http://{base}/sub/{{token}}"),
    ])
    .await;
    assert_all_seen(&out, &r, 500);
}

/// MQTT publishers into Mosquitto at QoS 1, read back by MQTT subscribers:
/// every write acknowledged by the broker, with its ack latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(have_mosquitto),
    ignore = "needs Mosquitto (apt-get install mosquitto)"
)]
async fn mqtt_streams_into_mosquitto_lose_nothing() {
    let broker = Server::mosquitto().await;
    let url = format!("mqtt://127.0.0.1:{}", broker.port);
    let (out, r) = load(&[
        "--url",
        &url,
        "--qos",
        "1",
        "--topic",
        "test/{token}/points",
        "--streams",
        "20",
        "--rate",
        "20",
        "--duration",
        "2s",
        "--subscribe-url",
        &url,
    ])
    .await;
    assert_all_seen(&out, &r, 800);
    assert_eq!(
        r.ack_latency_ms.as_ref().map(|a| a.count),
        Some(800),
        "every write acked"
    );
    assert_eq!(r.statuses.get("disconnected"), Some(&20));
}

/// Fan-out: 10 receivers per stream on each subscribe side (Nchan's
/// WebSocket and EventSource, and 10 MQTT clients on each topic): every
/// write counted per receiver, and its spread from first to last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(have_nchan, have_mosquitto)),
    ignore = "needs nginx with Nchan and Mosquitto (apt-get install nginx-light libnginx-mod-nchan mosquitto)"
)]
async fn ten_receivers_per_stream_each_see_every_write() {
    let nchan = Server::nchan().await;
    let base = format!("127.0.0.1:{}", nchan.port);
    let broker = Server::mosquitto().await;
    let mqtt = format!("mqtt://127.0.0.1:{}", broker.port);
    let ws = format!("ws://{base}/pub/{{token}}");
    for (url, sub) in [
        (ws.clone(), format!("ws://{base}/sub/{{token}}")),
        (ws, format!("http://{base}/sub/{{token}}")),
        (mqtt.clone(), mqtt),
    ] {
        let (out, r) = load(&[
            "--url",
            &url,
            "--payload",
            "point",
            "--streams",
            "10",
            "--rate",
            "20",
            "--duration",
            "2s",
            "--subscribe-url",
            &sub,
            "--subscribers",
            "10",
        ])
        .await;
        assert_every_receiver_saw_all(&out, &r, 400, 10);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("  spread    min") && stdout.contains("(10 receivers a stream"),
            "{stdout}"
        );
    }
}

/// A broker that is not there: exit 1, saying why.
#[tokio::test]
async fn an_absent_broker_is_a_clear_failure() {
    let url = format!("mqtt://127.0.0.1:{}", common::free_port());
    let out = tokio::process::Command::new(common::plotstream_bin())
        .args(["load", "--url", &url, "--duration", "1s"])
        .output()
        .await
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to mqtt://127.0.0.1:"), "{err}");
}

/// Plain HTTP NDJSON streams, the token in a header the user names: into a
/// plotstream viewer, read back from its event streams. `--method PUT`
/// sends PUT (which the viewer refuses: 405, a clear failure).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_streams_with_headers_lose_nothing() {
    let v = common::Served::start(&["--addr", "127.0.0.1:0"]).await;
    let url = format!("http://{}/", v.addr);
    let (out, r) = load(&[
        "--url",
        &url,
        "--target",
        "http",
        "--header",
        "plotly-streamtoken: {token}",
        "--streams",
        "20",
        "--rate",
        "20",
        "--duration",
        "2s",
        "--subscribe",
    ])
    .await;
    assert_all_seen(&out, &r, 800);
    assert_eq!(r.statuses.get("200"), Some(&20));
    let out = tokio::process::Command::new(common::plotstream_bin())
        .args(["load", "--url", &url, "--target", "http", "--method", "PUT"])
        .args([
            "--header",
            "plotly-streamtoken: {token}",
            "--duration",
            "1s",
        ])
        .output()
        .await
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("405"), "{err}");
}
