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

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use plotstream_client::StreamOptions;
use plotstream_protocol::{Figure, StreamSpec, Trace};
use tokio::time::Instant;

mod capacity;
mod html;
mod monitor;
mod offered;
mod opts;
mod publish;
mod report;
mod schedule;
mod stages;
mod subscribe;
mod task;

pub use capacity::{Capacity, Knob, RESOLUTION, Step, find_capacity};
pub use html::render as render_html;
use monitor::{LiveFeed, Monitor};
pub use offered::Offered;
pub use opts::{BindAddrs, Opts, Payload, Shard, Target, parse_duration, positive_duration};
pub use report::{Loss, Percentiles, Report, RunConfig, Thresholds};
pub use schedule::Arrivals;
pub(crate) use schedule::Schedule;
pub use stages::Stages;
use task::{Shared, StreamTask};

/// The exit code of a run that breached a threshold.
pub const EXIT_BREACH: i32 = 99;

/// Streams per figure when subscribing: one event stream follows this many.
const PER_FIGURE: usize = 100;

/// What a load run can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A histogram could not be (de)serialised.
    #[error("histogram: {0}")]
    Histogram(String),
    /// `merge` was given nothing.
    #[error("nothing to merge: give one or more report files")]
    NothingToMerge,
    /// A report file could not be read or written.
    #[error("report {}: {reason}", path.display())]
    ReportFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Subscribing to the viewer failed.
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
    /// The options do not make a run.
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
pub(crate) fn connect_error(e: &plotstream_client::Error) -> String {
    let mut text = chain(e);
    if let plotstream_client::Error::Connect { source, .. } = e {
        if source.kind() == io::ErrorKind::AddrNotAvailable {
            text.push_str(
                " (out of local ports from this source address: spread the streams over \
                 more with --bind, such as --bind 127.0.0.1-127.0.0.8)",
            );
        } else if matches!(source.raw_os_error(), Some(23 | 24)) {
            text.push_str(
                " (out of file descriptors: raise the open-file limit, `ulimit -n`, \
                 or split the test over processes with --shard)",
            );
        }
    }
    text
}

/// An error and its causes, in one line.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
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
    if let Some(path) = &opts.report {
        let json = serde_json::to_vec_pretty(value).map_err(|e| failed(path)(&e))?;
        std::fs::write(path, json).map_err(|e| failed(path)(&e))?;
    }
    if let Some(path) = &opts.html {
        std::fs::write(path, html()?).map_err(|e| failed(path)(&e))?;
    }
    Ok(())
}

/// `host:port` of the plotstream viewer at `url`, whose event streams the
/// subscribers read over plain HTTP.
fn viewer_addr(url: &str) -> Result<String, Error> {
    let bad = |reason: &str| Error::Subscribe(format!("--subscribe to {url:?}: {reason}"));
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

/// Runs the load test, printing progress and the summary to `out`, writing
/// the JSON report to `--report`.
pub async fn run(opts: &Opts, out: &mut (dyn io::Write + Send)) -> Result<Outcome, Error> {
    let positions: Vec<u64> = (opts.shard.index..opts.total_streams())
        .step_by(usize::try_from(opts.shard.count).unwrap_or(usize::MAX))
        .collect();
    let here = positions.len();
    let needed = (here as u64) * if opts.subscribe { 2 } else { 1 } + 64;
    raise_file_limit(needed, out)?;
    let token = |i: u64| format!("{}-{i}", opts.token_prefix);
    plotstream_demos::check_token_prefix(&token(0))?;

    // Subscribers first, each open before any stream starts, so that they
    // see every write. They learn the schedule when the streams start.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let schedule_cell: Arc<OnceLock<Arc<Schedule>>> = Arc::new(OnceLock::new());
    let shared = Arc::new(Shared::new());
    let mut subscribers = Vec::new();
    let mut made = Vec::new();
    if opts.subscribe {
        let addr = viewer_addr(&opts.url)?;
        let mut ready = Vec::new();
        for (g, group) in positions.chunks(PER_FIGURE).enumerate() {
            let data = group
                .iter()
                .map(|&i| {
                    Trace::streamed("scatter", StreamSpec::new(token(i), 100))
                        .with("mode", serde_json::json!("lines"))
                })
                .collect();
            let figure = Figure {
                data,
                layout: serde_json::json!({"title": {"text": format!("load test {}: streams from {}", opts.token_prefix, group[0])}})
                    .as_object()
                    .cloned(),
                ..Figure::default()
            };
            let created =
                plotstream_client::create_figure(&opts.url, &figure, &StreamOptions::default())
                    .await?;
            made.push(created.id);
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
            ready.push(ready_rx);
            let sub = subscribe::viewer::Subscriber::new(
                (g * PER_FIGURE..g * PER_FIGURE + group.len()).collect(),
                Arc::clone(&shared.latency_window),
            );
            subscribers.push(tokio::spawn(subscribe::viewer::follow(
                addr.clone(),
                created.id,
                sub,
                Arc::clone(&schedule_cell),
                ready_tx,
                stop_rx.clone(),
            )));
        }
        for r in ready {
            tokio::time::timeout(Duration::from_secs(30), r)
                .await
                .map_err(|_| Error::Subscribe("no snapshot from the viewer within 30 s".into()))?
                .map_err(|_| {
                    Error::Subscribe("the event stream ended before its snapshot".into())
                })?;
        }
    }

    // This run's id, in point payloads: writes of other runs are not ours.
    let run = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
            % u128::from(u64::MAX),
    )
    .unwrap_or_default();
    // Direct subscribers: one connection per stream to the server's own
    // subscribe side, each open before the streams start.
    let mut directs = Vec::new();
    if let Some(sub_url) = &opts.subscribe_url {
        let ctx = subscribe::Ctx {
            schedule: Arc::clone(&schedule_cell),
            stop: stop_rx.clone(),
            run,
            window: Arc::clone(&shared.latency_window),
        };
        let mut ready = Vec::new();
        for (position, &i) in positions.iter().enumerate() {
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
            ready.push(ready_rx);
            let sub = subscribe::Direct::new(position);
            let token = token(i);
            let url = publish::fill(sub_url, &token);
            let topic = publish::fill(&opts.topic, &token);
            let ctx = ctx.clone();
            let follow = match sub_url.split_once("://").map(|(scheme, _)| scheme) {
                #[cfg(feature = "mqtt")]
                Some("mqtt") => tokio::spawn(subscribe::follow::<subscribe::mqtt::Mqtt>(
                    url, topic, sub, ctx, ready_tx,
                )),
                #[cfg(feature = "ws")]
                Some("ws" | "wss") => tokio::spawn(subscribe::follow::<subscribe::ws::Ws>(
                    url, topic, sub, ctx, ready_tx,
                )),
                Some("http") => tokio::spawn(subscribe::follow::<subscribe::sse::Sse>(
                    url, topic, sub, ctx, ready_tx,
                )),
                _ => {
                    return Err(Error::Options(format!(
                        "--subscribe-url {sub_url:?}: give a ws://, http:// (EventSource) or mqtt:// URL \
                         (ws and mqtt need plotstream-load's features of those names)"
                    )));
                }
            };
            directs.push(follow);
        }
        for (r, d) in ready.into_iter().zip(&mut directs) {
            let ok = tokio::time::timeout(Duration::from_secs(30), r).await;
            if !matches!(ok, Ok(Ok(()))) {
                // Say why: the task's own error, if it ended with one.
                if let (true, Ok(Err(e))) = (d.is_finished(), d.await) {
                    return Err(e);
                }
                return Err(Error::Subscribe(format!(
                    "a subscriber to {sub_url} was not ready within 30 s"
                )));
            }
        }
    }

    let mut schedule = Schedule {
        t0: Instant::now(),
        ramp: opts.ramp_up,
        streams: here,
        rate: opts.rate,
        // Shards draw their phases from the same seed: together they spread
        // as one run does (shard i takes streams i, i+N, …).
        phase_offset: (!opts.in_phase).then(|| Schedule::offset_from_seed(opts.seed)),
        arrivals: opts.arrivals,
        seed: opts.seed,
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
    schedule.t0 = Instant::now() + Duration::from_millis(100);
    let schedule = Arc::new(schedule);
    let _ = schedule_cell.set(Arc::clone(&schedule));
    // The server's acknowledgement latency (MQTT at QoS 1 and 2, the
    // Plotly protocol with --acks).
    let acks = Arc::new(Mutex::new(report::histogram()));

    let target = opts
        .target
        .or_else(|| Target::of_url(&opts.url))
        .ok_or_else(|| {
            Error::Options(format!(
                "{:?}: give an http://, ws:// or mqtt:// URL, or name the kind with --target",
                opts.url
            ))
        })?;
    if opts.acks && target != Target::Plotly {
        return Err(Error::Options(format!(
            "--acks asks a plotstream viewer to acknowledge writes (--target plotly), not a {} server",
            format!("{target:?}").to_lowercase()
        )));
    }
    let mut tasks = Vec::with_capacity(here);
    // Stream i plays its demo seeded with seed + i, on token prefix-i; the
    // streams share what their demo can (the pendulum's one trajectory).
    let demos = opts.demo.for_many()?;
    let demo_of = |i: u64| -> Result<(String, Box<dyn plotstream_demos::Demo>), Error> {
        let token = token(i);
        let demo = demos.build(opts.seed.wrapping_add(i), &token)?;
        Ok((token, demo))
    };
    let ca_certs: Option<Arc<[u8]>> = match &opts.ca_cert {
        Some(path) => Some(Arc::from(std::fs::read(path).map_err(|e| {
            Error::Options(format!(
                "cannot read the CA certificates {}: {e}",
                path.display()
            ))
        })?)),
        None => None,
    };
    let bind = source_addresses(opts, here, out)?;
    macro_rules! start_streams {
        ($publisher:ty, $config:expr) => {{
            let config = Arc::new($config);
            for (position, &i) in positions.iter().enumerate() {
                let (token, demo) = demo_of(i)?;
                let task: StreamTask<$publisher> = StreamTask {
                    config: Arc::clone(&config),
                    token,
                    demo,
                    payload: opts.payload,
                    run,
                    position,
                    schedule: Arc::clone(&schedule),
                    shared: Arc::clone(&shared),
                    bind: Arc::clone(&bind),
                };
                tasks.push(tokio::spawn(task.run()));
            }
        }};
    }
    match target {
        Target::Plotly => start_streams!(
            publish::plotly::Plotly,
            publish::plotly::Config {
                url: opts.url.clone(),
                ca_certs_pem: ca_certs.clone(),
                acks: opts.acks.then(|| {
                    let acks = Arc::clone(&acks);
                    plotstream_client::AckHook::new(move |latency| {
                        report::record(
                            &mut acks.lock().unwrap_or_else(PoisonError::into_inner),
                            latency,
                        );
                    })
                }),
            }
        ),
        Target::Http => start_streams!(
            publish::http::Http,
            publish::http::Config {
                url: opts.url.clone(),
                method: opts.method.clone(),
                headers: opts.headers.clone(),
                ca_certs_pem: ca_certs.clone(),
            }
        ),
        #[cfg(feature = "ws")]
        Target::Ws => start_streams!(
            publish::ws::Ws,
            publish::ws::Config {
                url: opts.url.clone(),
                headers: opts.headers.clone()
            }
        ),
        #[cfg(feature = "mqtt")]
        Target::Mqtt => {
            let (host, port) = publish::mqtt::broker(&opts.url).map_err(Error::Options)?;
            start_streams!(
                publish::mqtt::Mqtt,
                publish::mqtt::Config {
                    host,
                    port,
                    topic: opts.topic.clone(),
                    qos: opts::mqtt_qos(opts.qos),
                    acks: Arc::clone(&acks),
                }
            );
        }
        #[allow(unreachable_patterns)]
        other => {
            return Err(Error::Options(format!(
                "the {other:?} target needs plotstream-load's `{}` feature",
                format!("{other:?}").to_lowercase()
            )));
        }
    }

    let live = match &opts.live {
        Some(url) => Some(LiveFeed::connect(url, &opts.token_prefix, out).await?),
        None => None,
    };
    let (monitor_stop, monitor_rx) = tokio::sync::watch::channel(false);
    let monitor = tokio::spawn(
        Monitor {
            shared: Arc::clone(&shared),
            streams: here,
            total: offered.writes,
            live,
            t0: schedule.t0,
        }
        .run(monitor_rx),
    );
    let mut results = Vec::with_capacity(here);
    for t in tasks {
        match t.await {
            Ok(r) => results.push(r),
            // A stream task that panicked failed: count it, never hide it.
            Err(e) => {
                shared
                    .counters
                    .stream_errors
                    .fetch_add(1, Ordering::Relaxed);
                shared.note_error(&e);
            }
        }
    }
    let _ = monitor_stop.send(true);
    let monitor::Seconds {
        writes: rate_over_time,
        lateness: lateness_over_time,
        latency: latency_over_time,
        open: open_over_time,
    } = match monitor.await {
        Ok(seconds) => seconds,
        // Its per-second figures are gone: the report says so, not zeros.
        Err(e) => {
            shared.note_error(&Error::Options(format!(
                "the monitor task failed, so the report has no per-second figures: {e}"
            )));
            monitor::Seconds::default()
        }
    };
    let counters = &shared.counters;
    let elapsed = schedule.t0.elapsed();

    // Give the subscribers a moment to see the last writes, then stop them
    // and add up what they saw.
    let mut loss = None;
    let mut latency = None;
    if !subscribers.is_empty() || !directs.is_empty() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = stop_tx.send(true);
        let failed = |_| Error::Subscribe("a subscriber task failed".into());
        let mut total = Loss::default();
        let mut hist = report::histogram();
        let mut add = |seen: &[subscribe::Seen], latency: &hdrhistogram::Histogram<u64>| {
            for s in seen {
                total.received += s.received;
                total.duplicates += s.duplicates;
            }
            hist.add(latency)
                .map_err(|e| Error::Histogram(format!("{e:?}")))
        };
        let mut resyncs = 0;
        for s in subscribers {
            let sub = s.await.map_err(failed)??;
            resyncs += sub.resyncs;
            add(&sub.seen, &sub.latency)?;
        }
        for d in directs {
            let sub = d.await.map_err(failed)??;
            add(std::slice::from_ref(&sub.seen), &sub.latency)?;
        }
        total.resyncs = resyncs;
        let sent = counters.writes.load(Ordering::Relaxed);
        total.lost = sent.saturating_sub(total.received);
        loss = Some(total);
        latency = Some(Percentiles::of(&hist)?);
    }
    let acks = acks.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let ack_latency = if acks.is_empty() {
        None
    } else {
        Some(Percentiles::of(&acks)?)
    };

    let writes = counters.writes.load(Ordering::Relaxed);
    let bytes: u64 = results.iter().map(|r| r.bytes).sum();
    // The time the writes took, and the time they should have taken: to
    // the last write (due), plus the 1/R it occupies; a staged run lasts
    // its stages.
    let last_write =
        Duration::from_nanos(counters.last_write_nanos.load(Ordering::Relaxed)).as_secs_f64();
    let (actual_span, scheduled_span) = match schedule.end() {
        Some(end) => (last_write.max(end.as_secs_f64()), end.as_secs_f64()),
        None => (
            last_write + 1.0 / opts.rate,
            offered.span_s + 1.0 / opts.rate,
        ),
    };
    let mut statuses = BTreeMap::new();
    for r in &results {
        if let Some(s) = &r.status {
            *statuses.entry(s.clone()).or_insert(0) += 1;
        }
    }
    let lateness = shared.lateness.total();
    let report = Report {
        config: RunConfig {
            url: opts.url.clone(),
            demo: opts.demo.name().to_owned(),
            streams: opts.total_streams(),
            streams_here: here as u64,
            rate: opts.rate,
            duration_s: schedule.end().unwrap_or(opts.duration).as_secs_f64(),
            ramp_up_s: opts.ramp_up.as_secs_f64(),
            seed: opts.seed,
            token_prefix: opts.token_prefix.clone(),
            shard: format!("{}/{}", opts.shard.index, opts.shard.count),
            subscribe: opts.subscribed(),
            arrivals: Some(match opts.arrivals {
                Arrivals::Constant if opts.in_phase => "constant, in phase".to_owned(),
                Arrivals::Constant => "constant".to_owned(),
                Arrivals::Poisson => "poisson".to_owned(),
                Arrivals::Ppbp => format!("ppbp (H {})", opts.hurst),
                Arrivals::Onoff => format!("onoff (H {})", opts.hurst),
            }),
            stages: opts.stages.as_ref().map(ToString::to_string),
            rate_stages: opts.rate_stages.as_ref().map(ToString::to_string),
            churn_s: opts.churn.map(|d| d.as_secs_f64()),
        },
        target_rate: offered.writes as f64 / scheduled_span.max(1e-9),
        achieved_rate: writes as f64 / actual_span.max(1e-9),
        elapsed_s: elapsed.as_secs_f64(),
        send_span_s: actual_span,
        bytes_per_s: bytes as f64 / actual_span.max(1e-9),
        writes,
        bytes,
        connect_errors: counters.connect_errors.load(Ordering::Relaxed),
        stream_errors: counters.stream_errors.load(Ordering::Relaxed),
        reconnects: results.iter().map(|r| r.reconnects).sum(),
        drops: results.iter().map(|r| r.drops).sum(),
        unconfirmed: results.iter().map(|r| r.unconfirmed).sum(),
        acked: opts.acks.then(|| results.iter().map(|r| r.acked).sum()),
        unsent: results.iter().map(|r| r.unsent).sum(),
        statuses,
        lateness_ms: Percentiles::of(&lateness)?,
        latency_ms: latency,
        loss,
        rate_over_time,
        lateness_over_time,
        latency_over_time: if opts.subscribed() {
            latency_over_time
        } else {
            Vec::new()
        },
        ack_latency_ms: ack_latency,
        connections: results.iter().map(|r| r.connections).sum(),
        open_over_time,
        offered: Some(offered),
    };
    write_outputs(opts, &report, || html::render(&report))?;
    if !opts.keep_figures {
        for id in made {
            if let Err(e) =
                plotstream_client::delete_figure(&opts.url, id, &StreamOptions::default()).await
            {
                tracing::warn!("cannot delete figure {id} after the run: {e}");
            }
        }
    }
    let breaches = opts.thresholds().breaches(&report);
    write!(out, "{report}").map_err(Error::Output)?;
    // Streams that failed, the panicked ones (no result) among them.
    let failed = results.iter().filter(|r| r.failed).count() + (here - results.len());
    let first_error = shared
        .first_error
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if report.writes == 0 || (failed >= here && here > 0) {
        let why = first_error.unwrap_or_else(|| "no error was reported".to_owned());
        return Err(Error::NothingSent {
            what: format!(
                "{} writes sent, {failed} of {here} {} failed",
                report.writes,
                if here == 1 { "stream" } else { "streams" }
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
    fn shards_and_durations_parse() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["4/4", "1/0", "x", "1-2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("5 days").is_err());
        assert!(parse_duration("-1s").is_err());
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
