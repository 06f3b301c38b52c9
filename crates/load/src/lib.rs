//! Load-test stream servers with never-ending simulated streams: the Plotly
//! streaming protocol, WebSocket servers (feature `ws`) and MQTT brokers
//! (feature `mqtt`).
//!
//! Request/response load tools cannot drive a request that never ends,
//! which is what a stream server takes. `plotstream-load` opens many
//! streams, one connection and one token (`<prefix>-<index>`) each, each fed
//! by its own seeded demo, and measures the server write by write:
//!
//! - **Targets** ([`Target`]): a chunked `POST` per stream (Plotly), a
//!   WebSocket per stream with a text frame per write, or an MQTT client
//!   per stream publishing to a topic (`--qos` 1 and 2 give the broker's
//!   ack latency per write). URLs and topics take `{token}`.
//! - **Subscribers**: the viewer's event streams (`--subscribe`), or the
//!   server's own subscribe side, one connection per stream
//!   (`--subscribe-url`: WebSocket, EventSource, or MQTT).
//!
//! - **Open loop.** Write k of a stream is due at `start + k/R`; its
//!   *lateness* is measured from that intended time, so a stalled server
//!   cannot hide its stall by slowing the client down (coordinated
//!   omission, as wrk2 corrects it). Times go into HDR histograms.
//! - **End to end** (`--subscribe`, against a plotstream viewer): the run
//!   creates figures for its tokens, reads their event streams, and measures
//!   from intended send time to arrival at the subscriber. Every write
//!   carries its stream's sequence number in `customdata`, so gaps
//!   (loss) and duplicates are counted.
//! - **A [`Report`]**: a summary and JSON with the configuration, rates,
//!   counts, percentiles and the histograms themselves (V2, base64), which
//!   [`Report::merge`] adds up across shards (`--shard I/N`).
//! - **Traffic shapes**: writes evenly paced at spread phases, Poisson, or
//!   self-similar bursts ([`Arrivals`]); the open streams and the rate
//!   ramped through [`Stages`] (`--stages 30s:100,2m:1000,30s:0`,
//!   `--rate-stages`); every stream reconnecting at its own phase
//!   (`--churn`). The report says what load was offered ([`Offered`]).
//! - **[`Thresholds`]**: a run that breaches one exits 99, so CI can gate on it.
//! - **[`find_capacity`]**: the largest load that holds the thresholds,
//!   found by doubling, then bisecting ([`Capacity`]).
//! - `--html FILE` writes the report as one self-contained page
//!   ([`render_html`]); `--live URL` plots the run itself on a viewer.
//!
//! # Example
//!
//! Fifty writes a second on each of three streams for half a second, to a
//! viewer on this machine, watched end to end:
//!
//! ```
//! use clap::Parser;
//! use plotstream_load::{Opts, run};
//!
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let viewer = plotstream_viewer::Viewer::new(plotstream_viewer::Config { open: true, ..Default::default() }).expect("a valid config");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let url = format!("http://{}", listener.local_addr().unwrap());
//! tokio::spawn(plotstream_viewer::serve(listener, viewer, std::future::pending()));
//!
//! #[derive(Parser)]
//! struct Cli { #[command(flatten)] opts: Opts }
//! let cli = Cli::parse_from(["load", "--url", &url, "--streams", "3", "--rate", "50", "--duration", "0.5s", "--subscribe"]);
//! let outcome = run(&cli.opts, &mut std::io::sink()).await?;
//! assert_eq!(outcome.report.writes, 75);
//! assert_eq!(outcome.report.loss.as_ref().map(|l| (l.received, l.lost)), Some((75, 0)));
//! assert!(outcome.breaches.is_empty());
//! # Ok::<(), plotstream_load::Error>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use plotstream_client::StreamOptions;
use plotstream_protocol::plural;
use tokio::time::Instant;

mod capacity;
mod checked;
mod engine;
pub mod exporter;
pub mod flags;
mod html;
mod monitor;
mod offered;
mod opts;
mod publish;
mod report;
mod schedule;
mod stages;
mod subscribe;

pub use capacity::{Capacity, Knob, RESOLUTION, Step, find_capacity, find_capacity_until};
use checked::Checked;
use engine::{Finished, Plan, Shared, StreamSpec};
pub use flags::BindAddrs;
pub use html::render as render_html;
use monitor::{LiveFeed, Monitor};
pub use offered::Offered;
pub use opts::{Opts, Payload, Shard, Target};
pub use plotstream_client::Counts;
use publish::Publish;
pub use publish::PublishError;
pub use report::{HistogramError, Loss, Percentiles, Report, RunConfig, Thresholds};
pub use schedule::Arrivals;
pub(crate) use schedule::Schedule;
pub use stages::Stages;
use subscribe::start::Subscribers;

/// The exit code of a run that breached a threshold.
pub const EXIT_BREACH: i32 = 99;

/// The exit code of a run whose options were refused, before anything
/// connected (as for clap's own usage errors).
pub const EXIT_USAGE: i32 = 2;

/// What a load run can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A histogram could not be added up or (de)serialised.
    #[error("histogram")]
    Histogram(#[from] HistogramError),
    /// `merge` was given nothing.
    #[error("nothing to merge: give one or more report files")]
    NothingToMerge,
    /// `merge` was given reports of different tests (or one shard twice).
    #[error("these reports are not the shards of one test: {0}")]
    NotOneTest(String),
    /// A report file could not be read or written.
    #[error("report {}: {reason}", path.display())]
    ReportFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Subscribing failed.
    #[error("subscriber: {0}")]
    Subscribe(String),
    /// The demo could not be built.
    #[error(transparent)]
    Demo(#[from] plotstream_demos::Error),
    /// Creating the figures on the viewer failed.
    #[error(transparent)]
    Client(#[from] plotstream_client::Error),
    /// Writing the summary failed.
    #[error("cannot write the output")]
    Output(#[source] io::Error),
    /// The options do not make a run: refused before anything connected.
    #[error("{0}")]
    Options(String),
    /// The run sent nothing, or every stream failed.
    #[error("{what}: {why}")]
    NothingSent {
        /// What happened, in numbers.
        what: String,
        /// The first error a stream met.
        why: String,
    },
}

impl Error {
    /// The process's exit code for this error: [`EXIT_USAGE`] for refused
    /// options, 1 for a failure at run time.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Options(_) => EXIT_USAGE,
            _ => 1,
        }
    }
}

impl From<hdrhistogram::AdditionError> for Error {
    fn from(e: hdrhistogram::AdditionError) -> Self {
        Error::Histogram(e.into())
    }
}

/// A finished run: the report and the thresholds it breached.
#[derive(Debug)]
#[non_exhaustive]
pub struct Outcome {
    /// What was measured.
    pub report: Report,
    /// The thresholds breached, each in a sentence (empty: passed).
    pub breaches: Vec<String>,
}

impl Outcome {
    /// 0, or [`EXIT_BREACH`] when a threshold was breached.
    pub fn exit_code(&self) -> i32 {
        if self.breaches.is_empty() {
            0
        } else {
            EXIT_BREACH
        }
    }
}

/// Why a connection failed, in one line, with what to do when the machine
/// ran out of ports or file descriptors.
pub(crate) fn connect_hint(e: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    let mut source = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::AddrNotAvailable {
                return Some(
                    "out of local ports from this source address: spread the streams over \
                     more with --bind, such as --bind 127.0.0.1-127.0.0.8",
                );
            }
            if matches!(io.raw_os_error(), Some(23 | 24)) {
                return Some(
                    "out of file descriptors: raise the open-file limit, `ulimit -n`, \
                     or split the test over processes with --shard",
                );
            }
        }
        source = s.source();
    }
    None
}

/// An error and its causes, in one line
/// ([`ErrorChain`](plotstream_protocol::ErrorChain)), with a hint where
/// running out of ports or descriptors caused it.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let text = plotstream_protocol::ErrorChain(e).to_string();
    match connect_hint(e) {
        Some(hint) => format!("{text} ({hint})"),
        None => text,
    }
}

/// Writes `value` as JSON to `--report` and the page `html` makes to
/// `--html`, when asked for.
pub(crate) fn write_outputs(
    opts: &Opts,
    value: &impl serde::Serialize,
    html: impl FnOnce() -> Result<String, Error>,
) -> Result<(), Error> {
    let failed = |path: &PathBuf| {
        let path = path.clone();
        move |e: &dyn std::fmt::Display| Error::ReportFile {
            path,
            reason: e.to_string(),
        }
    };
    match &opts.report {
        // One line of JSON on stdout, which `load merge` picks out of
        // `kubectl logs` (the summary goes to stderr then).
        Some(path) if path.as_os_str() == "-" => {
            use std::io::Write as _;
            let mut stdout = io::stdout().lock();
            serde_json::to_writer(&mut stdout, value).map_err(|e| failed(path)(&e))?;
            writeln!(stdout).map_err(|e| failed(path)(&e))?;
            stdout.flush().map_err(|e| failed(path)(&e))?;
        }
        Some(path) => {
            let json = serde_json::to_vec_pretty(value).map_err(|e| failed(path)(&e))?;
            std::fs::write(path, json).map_err(|e| failed(path)(&e))?;
        }
        None => {}
    }
    if let Some(path) = &opts.html {
        std::fs::write(path, html()?).map_err(|e| failed(path)(&e))?;
    }
    Ok(())
}

/// `host:port` of the plotstream viewer at `url`, whose event streams the
/// subscribers read over plain HTTP.
fn viewer_addr(url: &str) -> Result<String, Error> {
    let bad = |reason: &str| Error::Options(format!("--subscribe to {url:?}: {reason}"));
    let uri: http::Uri = url.parse().map_err(|_| bad("not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad("subscribers read a plotstream viewer over http://"));
    }
    let host = uri.host().ok_or_else(|| bad("the URL has no host"))?;
    Ok(format!("{host}:{}", uri.port_u16().unwrap_or(80)))
}

/// Raises the open-file limit as far as the system allows; says plainly on
/// `out` when the run needs more than it got.
fn raise_file_limit(needed: u64, out: &mut (dyn io::Write + Send)) -> Result<(), Error> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(got) if got < needed => writeln!(
            out,
            "warning: {needed} open files needed, the system allows {got}: some streams will fail to connect \
             (raise the hard limit, `ulimit -Hn`, or split the test with --shard)"
        )
        .map_err(Error::Output),
        Ok(_) => Ok(()),
        Err(e) => writeln!(out, "warning: cannot raise the open-file limit: {e}").map_err(Error::Output),
    }
}

/// Streams from one address to one server: fewer than the ephemeral port
/// range (28,232 ports by default on Linux), with room.
const STREAMS_PER_SOURCE: usize = 20_000;

/// The source addresses for `here` streams: `--bind`'s, or on a loopback
/// target with more streams than one address has ports for, 127.0.0.1 to
/// 127.0.0.8 (said on `out`); else none (the system's choice).
fn source_addresses(
    opts: &Opts,
    here: usize,
    out: &mut (dyn io::Write + Send),
) -> Result<Arc<[std::net::IpAddr]>, Error> {
    if let Some(bind) = &opts.bind {
        return Ok(Arc::from(bind.0.as_slice()));
    }
    let loopback = http::Uri::try_from(opts.url.as_str())
        .ok()
        .is_some_and(|u| {
            u.host().is_some_and(|h| {
                h == "localhost"
                    || h.parse::<std::net::Ipv4Addr>()
                        .is_ok_and(|ip| ip.is_loopback())
            })
        });
    if !loopback || here <= STREAMS_PER_SOURCE {
        return Ok(Arc::from([]));
    }
    let addrs: Vec<std::net::IpAddr> = (1..=8u8)
        .map(|i| std::net::IpAddr::from([127, 0, 0, i]))
        .collect();
    writeln!(
        out,
        "spreading {here} connections over the source addresses 127.0.0.1-127.0.0.8 \
         (one address has ports for about {STREAMS_PER_SOURCE}; --bind chooses others)"
    )
    .map_err(Error::Output)?;
    Ok(Arc::from(addrs))
}

/// The worker threads: one worker each.
fn workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
}

/// This run's id, in point payloads: writes of other runs are not ours.
fn run_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    u64::try_from(nanos % u128::from(u64::MAX)).unwrap_or_default()
}

/// Runs the load test, printing progress and the summary to `out`, writing
/// the JSON report to `--report`.
///
/// The options are checked first: a refused one is an [`Error::Options`]
/// before anything connects. Then, in turn: the subscribers, the schedule,
/// the streams (publishers driven by one worker a thread), the
/// monitor, and the report.
pub async fn run(opts: &Opts, out: &mut (dyn io::Write + Send)) -> Result<Outcome, Error> {
    run_until(opts, out, std::future::pending()).await
}

/// Runs the load test as [`run`] does, ending it early when `stop`
/// completes (a signal): the streams stop writing and close, each waiting
/// 2 s at most for its answer; the summary and the report cover the run up
/// to then ([`Report::stopped_early`]), and the figures the run made on a
/// viewer are deleted as at any end.
pub async fn run_until(
    opts: &Opts,
    out: &mut (dyn io::Write + Send),
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Outcome, Error> {
    let checked = Checked::new(opts)?;
    let metrics = match opts.metrics_addr {
        Some(addr) => Some(exporter::bind(addr).await?),
        None => None,
    };
    let streams = demo_streams(&checked)?;
    let here = checked.here();
    let receivers = if opts.subscribed() {
        opts.subscribers
    } else {
        0
    };
    raise_file_limit(here as u64 * (1 + receivers) + 64, out)?;
    let bind = source_addresses(opts, here, out)?;
    let shared = Arc::new(Shared::new(workers()));
    let stopper = stop_on(stop, Arc::clone(&shared));
    // Served until the run returns.
    let _exporter =
        metrics.map(|l| exporter::serve(l, Arc::clone(&shared), exporter::labels(opts)));
    let run = run_id();
    let schedule_cell = Arc::new(OnceLock::new());
    let subscribers = Subscribers::start(&checked, &shared, &schedule_cell, run).await;
    let subscribers = match subscribers {
        Ok(s) => s,
        Err(e) => {
            stopper.abort();
            return Err(e);
        }
    };
    let (schedule, offered, started) = schedule(opts, here);
    say_start(opts, out)?;
    let _ = schedule_cell.set(Arc::clone(&schedule));
    let live = match &opts.live {
        Some(url) => Some(LiveFeed::connect(url, &opts.token_prefix, out).await?),
        None => None,
    };
    let monitor = Monitor::start(Arc::clone(&shared), here, offered.writes, live, schedule.t0);
    let parts = Parts {
        schedule: Arc::clone(&schedule),
        shared: Arc::clone(&shared),
        run,
        bind,
    };
    let finished = start_publishers(&checked, parts, streams).await;
    stopper.abort();
    let seconds = monitor.finish(&shared).await;
    let totals = shared.totals();
    let figures = subscribers.figures.clone();
    let heard = subscribers.finish(totals.writes).await?;
    let mut report = Report::build(report::Parts {
        opts,
        schedule: &schedule,
        offered,
        totals,
        finished: &finished,
        lateness: shared.lateness.total(),
        acks: shared.acks.total(),
        loss: heard.loss,
        latency: heard.latency,
        spread: heard.spread,
        seconds,
        started,
    })?;
    report.stopped_early = shared.is_stopping();
    write_outputs(opts, &report, || html::render(&report))?;
    if !opts.keep_figures {
        delete_figures(&opts.url, &figures).await;
    }
    outcome(opts, report, &finished, &shared, out)
}

/// A task that ends the run early (`shared.stop()`) once `stop` completes.
fn stop_on(
    stop: impl Future<Output = ()> + Send + 'static,
    shared: Arc<Shared>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        stop.await;
        shared.stop();
    })
}

/// With `--start-at` still to come, says how long the run waits.
fn say_start(opts: &Opts, out: &mut (dyn io::Write + Send)) -> Result<(), Error> {
    if let Some(wait) = opts
        .start_at
        .and_then(|at| at.duration_since(std::time::SystemTime::now()).ok())
    {
        writeln!(
            out,
            "starting at --start-at, in {:.1} s: the subscribers are ready",
            wait.as_secs_f64()
        )
        .map_err(Error::Output)?;
    }
    Ok(())
}

/// Each stream's token and demo: stream i plays its demo seeded with
/// seed + i, on token prefix-i; the streams share what their demo can (the
/// pendulum's one trajectory).
fn demo_streams(checked: &Checked<'_>) -> Result<Vec<StreamSpec>, Error> {
    let opts = checked.opts;
    let demos = opts.demo.for_many()?;
    checked
        .positions
        .iter()
        .enumerate()
        .map(|(position, &i)| {
            let token = checked.token(i);
            let demo = demos.build(opts.seed.value.wrapping_add(i), &token)?;
            Ok(StreamSpec {
                position,
                token,
                demo,
            })
        })
        .collect()
}

/// The run's schedule, starting in 100 ms (or at `--start-at`), the load it
/// offers, and the wall-clock instant it starts.
fn schedule(opts: &Opts, here: usize) -> (Arc<Schedule>, Offered, std::time::SystemTime) {
    let mut schedule = Schedule {
        t0: Instant::now(),
        ramp: opts.ramp_up,
        streams: here,
        rate: opts.rate,
        // Shards draw their phases from the same seed: together they spread
        // as one run does (shard i takes streams i, i+N, …).
        phase_offset: (!opts.in_phase).then(|| Schedule::offset_from_seed(opts.seed.value)),
        arrivals: opts.arrivals,
        seed: opts.seed.value,
        hurst: opts.hurst,
        shard: opts.shard,
        stages: opts.stages.clone().map(Arc::new),
        rate_stages: opts
            .rate_stages
            .clone()
            .map(|s| Arc::new(s.starting_at(opts.rate))),
        churn: opts.churn,
        duration: opts.duration,
    };
    // The load offered, from the schedule before it starts (it tells the
    // progress bar how many writes are coming).
    let offered = Offered::of(&schedule);
    let now = std::time::SystemTime::now();
    let wait = opts.start_at.map_or(Duration::from_millis(100), |at| {
        at.duration_since(now).unwrap_or_default()
    });
    schedule.t0 = Instant::now() + wait;
    (Arc::new(schedule), offered, now + wait)
}

/// What every publisher's streams share, whatever the protocol.
struct Parts {
    schedule: Arc<Schedule>,
    shared: Arc<Shared>,
    run: u64,
    bind: Arc<[std::net::IpAddr]>,
}

/// Runs the streams on the target's publisher.
async fn start_publishers(
    checked: &Checked<'_>,
    parts: Parts,
    streams: Vec<StreamSpec>,
) -> Finished {
    let opts = checked.opts;
    match checked.target {
        Target::Plotly | Target::Http if checked.via_client() => {
            let plotly = checked.target == Target::Plotly;
            let acks = opts.acks.then(|| {
                let (acks, shard) = (Arc::clone(&parts.shared.acks), parts.shared.acks.pick());
                plotstream_client::AckHook::new(move |latency| acks.record(shard, latency))
            });
            let options = StreamOptions {
                method: opts.method.clone(),
                headers: if plotly {
                    Vec::new()
                } else {
                    opts.headers.clone()
                },
                token_header: plotly,
                ca_certs_pem: checked.ca_certs.clone(),
                acks: opts.acks,
                on_ack: acks,
                // A load test measures the server as it is: a stream whose
                // server stays away fails, counted, within its duration.
                reconnect_tries: Some(5),
                ..StreamOptions::default()
            };
            let config = publish::client::Config {
                url: opts.url.clone(),
                options,
            };
            drive::<publish::client::Client>(config, checked, parts, streams).await
        }
        Target::Plotly | Target::Http => {
            let plotly = checked.target == Target::Plotly;
            let config = publish::chunked::Config {
                url: opts.url.clone(),
                method: if plotly {
                    http::Method::POST
                } else {
                    opts.method.clone()
                },
                token_header: plotly,
                headers: if plotly {
                    Vec::new()
                } else {
                    opts.headers.clone()
                },
            };
            drive::<publish::chunked::Chunked>(config, checked, parts, streams).await
        }
        #[cfg(feature = "ws")]
        Target::Ws => {
            let config = publish::ws::Config {
                url: opts.url.clone(),
                headers: opts.headers.clone(),
            };
            drive::<publish::ws::Ws>(config, checked, parts, streams).await
        }
        #[cfg(feature = "mqtt")]
        Target::Mqtt => {
            let (host, port) = checked.broker.clone().unwrap_or_default();
            let config = publish::mqtt::Config {
                host,
                port,
                topic: opts.topic.clone(),
                qos: opts.qos,
                acks: Arc::clone(&parts.shared.acks),
            };
            drive::<publish::mqtt::Mqtt>(config, checked, parts, streams).await
        }
        // Checked: the target is one this build has.
        #[allow(unreachable_patterns)]
        _ => Finished::default(),
    }
}

/// Drives `streams` with publisher `P`, one worker a thread.
async fn drive<P: Publish>(
    config: P::Config,
    checked: &Checked<'_>,
    parts: Parts,
    streams: Vec<StreamSpec>,
) -> Finished {
    let plan = Plan::<P> {
        config: Arc::new(config),
        schedule: parts.schedule,
        shared: parts.shared,
        payload: checked.payload,
        run: parts.run,
        bind: parts.bind,
    };
    engine::run(Arc::new(plan), streams, workers()).await
}

/// Deletes the figures the run made on the viewer.
async fn delete_figures(url: &str, figures: &[u64]) {
    for &id in figures {
        if let Err(e) = plotstream_client::delete_figure(url, id, &StreamOptions::default()).await {
            tracing::warn!("cannot delete figure {id} after the run: {e}");
        }
    }
}

/// Prints the summary and what failed; the run's outcome, or why it sent
/// nothing.
fn outcome(
    opts: &Opts,
    report: Report,
    finished: &Finished,
    shared: &Shared,
    out: &mut (dyn io::Write + Send),
) -> Result<Outcome, Error> {
    let breaches = opts.thresholds().breaches(&report);
    write!(out, "{report}").map_err(Error::Output)?;
    let (failed, here) = (finished.failed, finished.streams);
    let first_error = shared
        .first_error
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if report.writes == 0 || (failed >= here && here > 0) {
        let why = first_error.unwrap_or_else(|| "no error was reported".to_owned());
        return Err(Error::NothingSent {
            what: format!(
                "{} sent, {failed} of {} failed",
                plural(report.writes, "write", "writes"),
                plural(here as u64, "stream", "streams")
            ),
            why,
        });
    }
    if let (Some(why), true) = (&first_error, failed > 0) {
        writeln!(out, "  first error: {why}").map_err(Error::Output)?;
    }
    for b in &breaches {
        writeln!(out, "threshold breached: {b}").map_err(Error::Output)?;
    }
    Ok(Outcome { report, breaches })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "x", "1-2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_viewer_address_comes_from_the_url() {
        assert_eq!(
            viewer_addr("http://127.0.0.1:9000/").ok(),
            Some("127.0.0.1:9000".to_owned())
        );
        assert_eq!(
            viewer_addr("http://viewer.local").ok(),
            Some("viewer.local:80".to_owned())
        );
        let err = viewer_addr("https://x").expect_err("not http");
        assert!(err.to_string().contains("over http://"), "{err}");
    }
}
