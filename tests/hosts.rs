//! Many hosts without a cluster: a viewer in one network namespace and
//! three load shards in three others, joined by veth pairs, each with
//! addresses assigned only inside the namespaces this test makes (10.x.i.1
//! for the server's side of pair i, 10.x.i.2 for the shard's). The shards
//! start together with `--start-at`, write their reports to stdout with
//! `--report -`, and merge into one test: exact totals, and first writes
//! within 50 ms of each other. Traffic goes only to those addresses.
//!
//! Making namespaces needs root (`ip netns`, Debian's iproute2). Where they
//! cannot be made the test is reported ignored, saying why, except under
//! `CI=true`, where it fails. Hence a harness of its own (libtest-mimic).

mod common;

use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libtest_mimic::{Arguments, Completion, Failed, Trial};
use plotstream::load::Report;

const SHARDS: usize = 3;

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let trial = Trial::ignorable_test("three_shards_in_namespaces_start_together", || {
        if let Some(why) = cannot_make_namespaces() {
            if std::env::var("CI").as_deref() == Ok("true") {
                return Err(Failed::from(format!(
                    "{why}; under CI=true nothing is skipped"
                )));
            }
            return Ok(Completion::ignored_with(why));
        }
        three_shards_in_namespaces_start_together();
        Ok(Completion::Completed)
    });
    libtest_mimic::run(&args, vec![trial]).exit_code()
}

/// Why namespaces cannot be made here, if they cannot.
fn cannot_make_namespaces() -> Option<String> {
    let name = format!("psprobe{}", std::process::id());
    let made = ip(&["netns", "add", &name]);
    let _ = ip(&["netns", "del", &name]);
    match made {
        Ok(()) => None,
        Err(e) => Some(format!(
            "needs root and iproute2 to make network namespaces (ip netns add: {e})"
        )),
    }
}

/// Runs `ip ARGS`.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

fn must(args: &[&str]) {
    ip(args).unwrap_or_else(|e| panic!("ip {}: {e}", args.join(" ")));
}

/// The namespaces this test made, deleted when it ends however it ends
/// (their veth pairs go with them).
struct Hosts {
    server: String,
    shards: Vec<String>,
    /// The second octet of every address here: 10.NET.i.*.
    net: u32,
}

impl Hosts {
    fn make() -> Hosts {
        let pid = std::process::id();
        let hosts = Hosts {
            server: format!("ps{pid}srv"),
            shards: (0..SHARDS).map(|i| format!("ps{pid}sh{i}")).collect(),
            net: 200 + pid % 50,
        };
        for ns in std::iter::once(&hosts.server).chain(&hosts.shards) {
            must(&["netns", "add", ns]);
            must(&["-n", ns, "link", "set", "lo", "up"]);
        }
        for (i, shard) in hosts.shards.iter().enumerate() {
            let (a, b) = (format!("ps{pid}a{i}"), format!("ps{pid}b{i}"));
            must(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
            must(&["link", "set", &a, "netns", &hosts.server]);
            must(&["link", "set", &b, "netns", shard]);
            let net = hosts.net;
            must(&[
                "-n",
                &hosts.server,
                "addr",
                "add",
                &format!("10.{net}.{i}.1/24"),
                "dev",
                &a,
            ]);
            must(&[
                "-n",
                shard,
                "addr",
                "add",
                &format!("10.{net}.{i}.2/24"),
                "dev",
                &b,
            ]);
            must(&["-n", &hosts.server, "link", "set", &a, "up"]);
            must(&["-n", shard, "link", "set", &b, "up"]);
        }
        hosts
    }

    /// The server's address as shard `i` reaches it.
    fn server_addr(&self, i: usize) -> String {
        format!("10.{}.{i}.1", self.net)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in std::iter::once(&self.server).chain(&self.shards) {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// `plotstream ARGS` inside namespace `ns`.
fn in_namespace(ns: &str, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, &common::plotstream_bin()])
        .args(args);
    c
}

fn three_shards_in_namespaces_start_together() {
    let hosts = Hosts::make();
    let port = 18_080;
    let mut server = in_namespace(
        &hosts.server,
        &["serve", "--addr", &format!("0.0.0.0:{port}"), "--in-memory"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("serve starts");
    let _server = KillOnDrop(&mut server);
    wait_until_listening(&hosts, port);
    let start = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
        + 3.0;
    let start_at = format!("{start:.3}");
    let shards: Vec<_> = hosts
        .shards
        .iter()
        .enumerate()
        .map(|(i, ns)| {
            let url = format!("http://{}:{port}", hosts.server_addr(i));
            let shard = format!("{i}/{SHARDS}");
            let mut args = vec!["load".to_owned()];
            args.extend(common::shard_args(&url, 30, &shard, "hosts"));
            args.extend(["--start-at", &start_at, "--report", "-"].map(str::to_owned));
            in_namespace(ns, &args.iter().map(String::as_str).collect::<Vec<_>>())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("a shard starts")
        })
        .collect();
    let mut logs = String::new();
    for shard in shards {
        let out = shard.wait_with_output().expect("the shard ends");
        assert!(out.status.success(), "{out:?}");
        logs.push_str(&String::from_utf8_lossy(&out.stderr));
        logs.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    let reports = Report::parse_all(&logs).expect("three reports in the logs");
    let merged = Report::merge(&reports).expect("one test");
    assert_eq!(merged.config.streams_here, 30);
    assert_eq!(merged.writes, 30 * 40, "every write of the test");
    let loss = merged.loss.as_ref().expect("subscribed");
    assert_eq!((loss.received, loss.lost, loss.duplicates), (1200, 0, 0));
    assert_eq!(merged.shards.len(), SHARDS);
    let firsts: Vec<f64> = merged
        .shards
        .iter()
        .map(|s| s.first_write_unix_s.expect("each shard wrote"))
        .collect();
    let spread = firsts.iter().copied().fold(f64::MIN, f64::max)
        - firsts.iter().copied().fold(f64::MAX, f64::min);
    assert!(
        spread < 0.05,
        "the shards' first writes {:.1} ms apart: {firsts:?}",
        spread * 1000.0
    );
    report_spread(spread);
    assert!(
        firsts.iter().all(|&f| f >= start - 0.001),
        "{firsts:?} before {start}"
    );
}

/// Says how far apart the shards' first writes were: reported, bounded
/// above, not a speed test.
#[allow(clippy::print_stderr)]
fn report_spread(spread: f64) {
    eprintln!(
        "the shards' first writes fell within {:.2} ms of each other",
        spread * 1000.0
    );
}

/// Waits (20 s at most) until the viewer in the server's namespace answers
/// on the first pair's address, from the first shard's namespace.
fn wait_until_listening(hosts: &Hosts, port: u16) {
    let url = format!("http://{}:{port}/metrics", hosts.server_addr(0));
    let start = std::time::Instant::now();
    loop {
        let ok = Command::new("ip")
            .args(["netns", "exec", &hosts.shards[0], "python3", "-c"])
            .arg(format!(
                "import urllib.request,sys; urllib.request.urlopen('{url}', timeout=1)"
            ))
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the viewer never answered at {url}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills the child when dropped.
struct KillOnDrop<'a>(&'a mut std::process::Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
