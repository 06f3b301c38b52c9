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
//! - **[`Thresholds`]**: a run that breaches one exits 99, so CI can gate on it.
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
use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use clap::Args;
use plotstream_client::{Stream, StreamOptions};
use plotstream_demos::{Clock, DemoKind, Frame};
use plotstream_protocol::{Figure, StreamSpec, Trace, Update};
use publish::{Message, Publish};
use tokio::time::Instant;

mod direct;
mod html;
mod publish;
mod report;
mod subscribe;

pub use html::render as render_html;
pub use report::{Loss, Percentiles, Report, RunConfig, Thresholds};

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

/// `--shard I/N`: run streams I, I+N, I+2N, …
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a shard: give I/N with 0 <= I < N, such as 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Parses a duration: `500ms`, `5s`, `2m`, `1h`, or plain seconds (`0.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 500ms, 5s or 2m"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{s:?}: the unit must be ms, s, m or h")),
    };
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{s:?} is not a duration of zero or more"))
}

/// Parses a duration above zero.
pub fn positive_duration(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(format!(
            "{s:?} is zero: give a duration above zero, such as 500ms, 5s or 2m"
        )),
        d => Ok(d),
    }
}

/// Parses a whole number of at least 1.
fn at_least_one(s: &str) -> Result<u64, String> {
    match s.trim().replace('_', "").parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} must be a whole number of at least 1")),
    }
}

/// Parses a share from 0 to 1.
fn fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} must be a share from 0 to 1, such as 0.01")),
    }
}

fn positive(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} must be a number above 0")),
    }
}

/// What kind of server is load-tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The Plotly streaming protocol: a chunked POST per stream (http://, https://).
    Plotly,
    /// A WebSocket per stream, a text frame per write (ws://).
    Ws,
    /// An MQTT client per stream, a PUBLISH per write (mqtt://).
    Mqtt,
}

impl Target {
    /// The target a URL's scheme names.
    pub fn of_url(url: &str) -> Option<Target> {
        let scheme = url.split_once("://")?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "http" | "https" => Some(Target::Plotly),
            "ws" | "wss" => Some(Target::Ws),
            "mqtt" => Some(Target::Mqtt),
            _ => None,
        }
    }
}

/// What each write carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Payload {
    /// The Plotly write the demo makes, its sequence number in `customdata`.
    Plotly,
    /// A flat JSON point: `{"run", "stream", "seq", "x", "y"}`; subscribers
    /// ignore points of other runs (a server may replay old messages).
    Point,
}

/// Parses `--header 'Name: value'`.
fn header(s: &str) -> Result<(http::HeaderName, http::HeaderValue), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: give a header as 'Name: value'"))?;
    let name = http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|e| format!("{s:?}: bad header name: {e}"))?;
    let value = http::HeaderValue::from_str(value.trim())
        .map_err(|e| format!("{s:?}: bad header value: {e}"))?;
    Ok((name, value))
}

/// The QoS of `--qos`.
#[cfg(feature = "mqtt")]
fn mqtt_qos(q: u8) -> rumqttc::QoS {
    match q {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

/// Parses `--qos`: 0, 1 or 2.
fn qos(s: &str) -> Result<u8, String> {
    match s.trim() {
        "0" => Ok(0),
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(format!("{s:?}: the MQTT QoS is 0, 1 or 2")),
    }
}

/// The options of a load run (`plotstream load …`).
#[derive(Clone, Debug, Args)]
pub struct Opts {
    /// The server: http://host:port (Plotly protocol), ws://host:port/path/{token}
    /// (WebSocket), or mqtt://host:port (MQTT). `{token}` is each stream's token.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// What to load-test; by default the URL's scheme says (http → plotly,
    /// ws → ws, mqtt → mqtt).
    #[arg(long, value_enum)]
    pub target: Option<Target>,
    /// What each write carries: the demo's Plotly write, or a flat point.
    #[arg(long, value_enum, default_value = "plotly")]
    pub payload: Payload,
    /// An extra request header for WebSocket streams, 'Name: value' (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = header)]
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// The MQTT topic of each stream.
    #[arg(long, value_name = "TEMPLATE", default_value = "plotstream/{token}")]
    pub topic: String,
    /// The MQTT QoS of each write: 0, 1 or 2 (1 and 2 give the broker's ack latency).
    #[arg(long, value_name = "Q", default_value = "0", value_parser = qos)]
    pub qos: u8,
    /// Read every write back from the server's own subscribe side, one
    /// connection per stream: a ws:// or http:// (EventSource) URL with
    /// {token}, such as Nchan's /sub/{token}, or mqtt://host:port for the
    /// streams' topics.
    #[arg(long, value_name = "URL", conflicts_with = "subscribe")]
    pub subscribe_url: Option<String>,
    /// The demo each stream plays (a stream sends the writes of its first trace).
    #[arg(long, value_enum, default_value = "noisy-cosine")]
    pub demo: DemoKind,
    /// Streams in the test (all shards together), at least 1.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one)]
    pub streams: u64,
    /// Writes per second per stream.
    #[arg(long, value_name = "R", default_value_t = 10.0, value_parser = positive)]
    pub rate: f64,
    /// How long each stream writes, above zero: 500ms, 10s, 2m.
    #[arg(long, value_name = "D", default_value = "10s", value_parser = positive_duration)]
    pub duration: Duration,
    /// Start the streams evenly over this long.
    #[arg(long, value_name = "D", default_value = "0s", value_parser = parse_duration)]
    pub ramp_up: Duration,
    /// The seed: stream i plays its demo with seed S + i.
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// The tokens' prefix: stream i streams to token P-i.
    #[arg(long, value_name = "P", default_value = "load")]
    pub token_prefix: String,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Run streams I, I+N, I+2N, … of the test, so that N machines run it together.
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    pub shard: Shard,
    /// Against a plotstream viewer: create figures for the tokens and read
    /// their event streams, measuring end-to-end latency and loss.
    #[arg(long)]
    pub subscribe: bool,
    /// Exit 99 if the p99 (end-to-end latency with --subscribe, else lateness) is over this.
    #[arg(long, value_name = "D", value_parser = parse_duration)]
    pub max_p99: Option<Duration>,
    /// Exit 99 if more writes than this are lost (needs --subscribe).
    #[arg(long, value_name = "N")]
    pub max_loss: Option<u64>,
    /// Exit 99 if more than this share (0 to 1) of the streams fail.
    #[arg(long, value_name = "F", value_parser = fraction)]
    pub max_error_rate: Option<f64>,
    /// Also write the report as a self-contained HTML page: the percentile
    /// spectrum and the achieved rate over time.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Plot the run itself live (writes/s, p99 lateness, errors) on the
    /// plotstream viewer at this URL.
    #[arg(long, value_name = "URL")]
    pub live: Option<String>,
    /// Keep the figures --subscribe made on the viewer after the run (they
    /// are deleted by default).
    #[arg(long)]
    pub keep_figures: bool,
}

impl Opts {
    /// The thresholds the options set.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            max_p99: self.max_p99,
            max_loss: self.max_loss,
            max_error_rate: self.max_error_rate,
        }
    }

    /// Writes each stream sends: `rate × duration`, rounded down.
    pub fn writes_per_stream(&self) -> u64 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = (self.rate * self.duration.as_secs_f64() + 1e-9).floor() as u64;
        n
    }
}

/// When each write of each stream is due.
#[derive(Debug)]
pub(crate) struct Schedule {
    t0: Instant,
    ramp: Duration,
    streams: usize,
    rate: f64,
}

impl Schedule {
    /// A schedule starting now, for tests.
    #[cfg(test)]
    pub(crate) fn for_test() -> Self {
        Schedule {
            t0: Instant::now(),
            ramp: Duration::ZERO,
            streams: 1,
            rate: 1.0,
        }
    }

    /// When stream `position` (of this run's streams) starts.
    fn start(&self, position: usize) -> Instant {
        #[allow(clippy::cast_precision_loss)]
        let share = position as f64 / self.streams.max(1) as f64;
        self.t0 + self.ramp.mul_f64(share)
    }

    /// When write `seq` of stream `position` is due.
    pub(crate) fn intended(&self, position: usize, seq: u64) -> Instant {
        #[allow(clippy::cast_precision_loss)]
        let offset = Duration::from_secs_f64(seq as f64 / self.rate);
        self.start(position) + offset
    }
}

/// Counters all streams share, for progress and the report.
#[derive(Debug, Default)]
struct Counters {
    writes: AtomicU64,
    /// When the latest write was handed over, in ns after the schedule's start.
    last_write_nanos: AtomicU64,
    open: AtomicI64,
    connect_errors: AtomicU64,
    stream_errors: AtomicU64,
}

/// What all streams share: counters, and the histograms of lateness.
#[derive(Debug)]
struct Shared {
    counters: Counters,
    /// Every write's lateness.
    lateness: Mutex<hdrhistogram::Histogram<u64>>,
    /// The lateness recorded since the monitor last looked.
    window: Mutex<hdrhistogram::Histogram<u64>>,
    /// The first error a stream met, in words, to say why a run failed.
    first_error: Mutex<Option<String>>,
}

impl Shared {
    fn new() -> Self {
        Shared {
            counters: Counters::default(),
            lateness: Mutex::new(report::histogram()),
            window: Mutex::new(report::histogram()),
            first_error: Mutex::new(None),
        }
    }

    /// Adds a stream's recent lateness to the run's histograms, and empties it.
    fn add_lateness(&self, local: &mut hdrhistogram::Histogram<u64>) {
        for h in [&self.lateness, &self.window] {
            let _ = h
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .add(&*local);
        }
        local.reset();
    }

    /// Keeps the first error met, with its causes.
    fn note_error(&self, e: &dyn std::error::Error) {
        let mut first = self
            .first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if first.is_none() {
            let mut text = e.to_string();
            let mut source = e.source();
            while let Some(s) = source {
                text.push_str(": ");
                text.push_str(&s.to_string());
                source = s.source();
            }
            *first = Some(text);
        }
    }
}

/// What one stream did.
#[derive(Debug, Default)]
struct StreamResult {
    bytes: u64,
    reconnects: u64,
    drops: u64,
    unconfirmed: u64,
    unsent: u64,
    status: Option<String>,
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

/// Runs the load test, printing progress and the summary to `out`, writing
/// the JSON report to `--report`.
pub async fn run(opts: &Opts, out: &mut (dyn io::Write + Send)) -> Result<Outcome, Error> {
    let positions: Vec<u64> = (opts.shard.index..opts.streams)
        .step_by(usize::try_from(opts.shard.count).unwrap_or(usize::MAX))
        .collect();
    let here = positions.len();
    let needed = (here as u64) * if opts.subscribe { 2 } else { 1 } + 64;
    raise_file_limit(needed, out)?;
    let per_stream = opts.writes_per_stream();
    let token = |i: u64| format!("{}-{i}", opts.token_prefix);
    plotstream_demos::check_token_prefix(&token(0))?;

    // Subscribers first, each open before any stream starts, so that they
    // see every write. They learn the schedule when the streams start.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let schedule_cell: Arc<OnceLock<Arc<Schedule>>> = Arc::new(OnceLock::new());
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
            let sub = subscribe::Subscriber::new(
                (g * PER_FIGURE..g * PER_FIGURE + group.len()).collect(),
            );
            subscribers.push(tokio::spawn(subscribe::follow(
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
        let ctx = direct::Ctx {
            schedule: Arc::clone(&schedule_cell),
            stop: stop_rx.clone(),
            run,
        };
        let mut ready = Vec::new();
        for (position, &i) in positions.iter().enumerate() {
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
            ready.push(ready_rx);
            let sub = direct::Direct::new(position);
            let token = token(i);
            if sub_url.starts_with("mqtt://") {
                #[cfg(feature = "mqtt")]
                {
                    let (host, port) = publish::mqtt::broker(sub_url).map_err(Error::Options)?;
                    let topic = publish::fill(&opts.topic, &token);
                    directs.push(tokio::spawn(direct::follow_mqtt(
                        (host, port, topic),
                        sub,
                        ctx.clone(),
                        ready_tx,
                    )));
                }
                #[cfg(not(feature = "mqtt"))]
                return Err(Error::Options(
                    "mqtt:// subscribers need plotstream-load's `mqtt` feature".into(),
                ));
            } else {
                directs.push(tokio::spawn(direct::follow_url(
                    publish::fill(sub_url, &token),
                    sub,
                    ctx.clone(),
                    ready_tx,
                )));
            }
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

    let schedule = Arc::new(Schedule {
        t0: Instant::now() + Duration::from_millis(100),
        ramp: opts.ramp_up,
        streams: here,
        rate: opts.rate,
    });
    let _ = schedule_cell.set(Arc::clone(&schedule));
    let shared = Arc::new(Shared::new());
    // The broker's acknowledgement latency (MQTT at QoS 1 and 2).
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
    let mut tasks = Vec::with_capacity(here);
    let spawn = |i: u64,
                 position: usize|
     -> Result<(String, Box<dyn plotstream_demos::Demo>, usize), Error> {
        let token = token(i);
        let demo = opts
            .demo
            .build_with_prefix(opts.seed.wrapping_add(i), &token)?;
        Ok((token, demo, position))
    };
    macro_rules! start_streams {
        ($publisher:ty, $config:expr) => {{
            let config = Arc::new($config);
            for (position, &i) in positions.iter().enumerate() {
                let (token, demo, position) = spawn(i, position)?;
                let task: StreamTask<$publisher> = StreamTask {
                    config: Arc::clone(&config),
                    token,
                    demo,
                    payload: opts.payload,
                    run,
                    position,
                    writes: per_stream,
                    schedule: Arc::clone(&schedule),
                    shared: Arc::clone(&shared),
                };
                tasks.push(tokio::spawn(task.run()));
            }
        }};
    }
    match target {
        Target::Plotly => start_streams!(
            publish::plotly::Plotly,
            publish::plotly::Config {
                url: opts.url.clone()
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
                    qos: mqtt_qos(opts.qos),
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
            total: per_stream * here as u64,
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
    let (rate_over_time, lateness_over_time) = monitor.await.unwrap_or_default();
    let counters = &shared.counters;
    let elapsed = schedule.t0.elapsed();

    // Give the subscribers a moment to see the last writes, then stop them.
    let mut loss = None;
    let mut latency = None;
    if opts.subscribe {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = stop_tx.send(true);
        let mut total = Loss::default();
        let mut hist = report::histogram();
        for s in subscribers {
            let sub = s
                .await
                .map_err(|_| Error::Subscribe("a subscriber task failed".into()))??;
            for seen in &sub.seen {
                total.received += seen.received;
                total.duplicates += seen.duplicates;
            }
            total.resyncs += sub.resyncs;
            hist.add(&sub.latency)
                .map_err(|e| Error::Histogram(format!("{e:?}")))?;
        }
        let sent = counters.writes.load(Ordering::Relaxed);
        total.lost = sent.saturating_sub(total.received);
        loss = Some(total);
        latency = Some(Percentiles::of(&hist)?);
    }
    if !directs.is_empty() {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = stop_tx.send(true);
        let mut total = Loss::default();
        let mut hist = report::histogram();
        for d in directs {
            let sub = d
                .await
                .map_err(|_| Error::Subscribe("a subscriber task failed".into()))??;
            total.received += sub.seen.received;
            total.duplicates += sub.seen.duplicates;
            hist.add(&sub.latency)
                .map_err(|e| Error::Histogram(format!("{e:?}")))?;
        }
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
    // The time the writes took, and the time they should have taken: the
    // last stream starts ramp·(n−1)/n in, and each write occupies 1/R.
    #[allow(clippy::cast_precision_loss)]
    let actual_span = Duration::from_nanos(counters.last_write_nanos.load(Ordering::Relaxed))
        .as_secs_f64()
        + 1.0 / opts.rate;
    #[allow(clippy::cast_precision_loss)]
    let scheduled_span = opts.ramp_up.as_secs_f64() * (here.saturating_sub(1)) as f64
        / here.max(1) as f64
        + per_stream as f64 / opts.rate;
    let mut statuses = BTreeMap::new();
    for r in &results {
        if let Some(s) = &r.status {
            *statuses.entry(s.clone()).or_insert(0) += 1;
        }
    }
    let lateness = shared
        .lateness
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    #[allow(clippy::cast_precision_loss)]
    let report = Report {
        config: RunConfig {
            url: opts.url.clone(),
            demo: opts.demo.name().to_owned(),
            streams: opts.streams,
            streams_here: here as u64,
            rate: opts.rate,
            duration_s: opts.duration.as_secs_f64(),
            ramp_up_s: opts.ramp_up.as_secs_f64(),
            seed: opts.seed,
            token_prefix: opts.token_prefix.clone(),
            shard: format!("{}/{}", opts.shard.index, opts.shard.count),
            subscribe: opts.subscribe || opts.subscribe_url.is_some(),
        },
        target_rate: (per_stream * here as u64) as f64 / scheduled_span.max(1e-9),
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
        unsent: results.iter().map(|r| r.unsent).sum(),
        statuses,
        lateness_ms: Percentiles::of(&lateness)?,
        latency_ms: latency,
        loss,
        rate_over_time,
        lateness_over_time,
        ack_latency_ms: ack_latency,
    };
    if let Some(path) = &opts.report {
        let json = serde_json::to_vec_pretty(&report).map_err(|e| Error::ReportFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        std::fs::write(path, json).map_err(|e| Error::ReportFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    }
    if let Some(path) = &opts.html {
        std::fs::write(path, html::render(&report)?).map_err(|e| Error::ReportFile {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    }
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
    let failed = report.connect_errors + report.stream_errors;
    if report.writes == 0 || failed >= here as u64 {
        let why = shared
            .first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| "no error was reported".to_owned());
        return Err(Error::NothingSent {
            what: format!(
                "{} writes sent, {failed} of {here} {} failed",
                report.writes,
                if here == 1 { "stream" } else { "streams" }
            ),
            why,
        });
    }
    for b in &breaches {
        writeln!(out, "threshold breached: {b}").map_err(Error::Output)?;
    }
    Ok(Outcome { report, breaches })
}

/// One stream of the run: connects at its start, sends its writes on
/// schedule through its publisher, and reports what it did.
struct StreamTask<P: Publish> {
    config: Arc<P::Config>,
    token: String,
    demo: Box<dyn plotstream_demos::Demo>,
    payload: Payload,
    /// This run's id, in point payloads.
    run: u64,
    /// Its place among this run's streams (for the schedule).
    position: usize,
    /// How many writes it sends.
    writes: u64,
    schedule: Arc<Schedule>,
    shared: Arc<Shared>,
}

impl<P: Publish> StreamTask<P> {
    async fn run(mut self) -> StreamResult {
        let (schedule, shared) = (Arc::clone(&self.schedule), Arc::clone(&self.shared));
        tokio::time::sleep_until(schedule.start(self.position)).await;
        let mut publisher = match P::connect(&self.config, &self.token).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(token = self.token, "cannot connect: {e}");
                shared
                    .counters
                    .connect_errors
                    .fetch_add(1, Ordering::Relaxed);
                shared.note_error(&e);
                return StreamResult::default();
            }
        };
        shared.counters.open.fetch_add(1, Ordering::Relaxed);
        let mut local = report::histogram();
        let mut frame = Frame::default();
        let mut payload = Vec::new();
        let mut failed = None;
        // Lateness goes to the run's histograms once a second of schedule,
        // so that progress and --live see it as the run goes.
        let mut next_merge = schedule.start(self.position) + Duration::from_secs(1);
        for seq in 0..self.writes {
            let due = schedule.intended(self.position, seq);
            tokio::time::sleep_until(due).await;
            // The next write of the demo's first trace, numbered.
            let mut write = loop {
                self.demo.next_frame(Clock::Simulated, &mut frame);
                if let Some(w) = frame.writes.iter().find(|w| w.token == 0) {
                    break w.write.clone();
                }
            };
            write.customdata = Some(Update::append(seq));
            payload.clear();
            encode_payload(
                self.payload,
                self.run,
                &self.token,
                seq,
                &write,
                &mut payload,
            );
            let message = Message {
                write: &write,
                payload: &payload,
            };
            if let Err(e) = publisher.send(&message).await {
                failed = Some(e.0);
                break;
            }
            report::record(&mut local, due.elapsed());
            shared.counters.writes.fetch_add(1, Ordering::Relaxed);
            let since_start = u64::try_from(schedule.t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
            shared
                .counters
                .last_write_nanos
                .fetch_max(since_start, Ordering::Relaxed);
            if due >= next_merge {
                shared.add_lateness(&mut local);
                next_merge = due + Duration::from_secs(1);
            }
        }
        shared.add_lateness(&mut local);
        let closed = publisher.close().await;
        if let Some(e) = failed.or(closed.error) {
            shared
                .counters
                .stream_errors
                .fetch_add(1, Ordering::Relaxed);
            shared.note_error(&publish::PublishError(e));
        }
        shared.counters.open.fetch_sub(1, Ordering::Relaxed);
        StreamResult {
            bytes: closed.bytes,
            reconnects: closed.reconnects,
            drops: closed.drops,
            unconfirmed: closed.unconfirmed,
            unsent: closed.unsent,
            status: closed.status,
        }
    }
}

/// Writes the payload of write `seq` of stream `token`.
fn encode_payload(
    payload: Payload,
    run: u64,
    token: &str,
    seq: u64,
    write: &plotstream_protocol::Write,
    out: &mut Vec<u8>,
) {
    match payload {
        Payload::Plotly => {
            let _ = write.encode_line(out);
            out.pop(); // the newline: each target frames writes its own way
        }
        Payload::Point => {
            let scalar = |u: &Option<Update>| match u {
                Some(Update::Append(s)) => s.to_value(),
                _ => serde_json::Value::Null,
            };
            let point = serde_json::json!({"run": run, "stream": token, "seq": seq, "x": scalar(&write.x), "y": scalar(&write.y)});
            let _ = serde_json::to_writer(&mut *out, &point);
        }
    }
}

/// The run's own figures, streamed to a viewer (`--live`).
struct LiveFeed {
    streams: Vec<Stream>,
}

impl LiveFeed {
    async fn connect(
        url: &str,
        prefix: &str,
        out: &mut (dyn io::Write + Send),
    ) -> Result<Self, Error> {
        let names = ["writes/s", "p99 lateness (ms)", "errors"];
        let tokens: Vec<String> = ["writes", "p99", "errors"]
            .iter()
            .map(|t| format!("{prefix}-live-{t}"))
            .collect();
        let data = tokens
            .iter()
            .zip(names)
            .enumerate()
            .map(|(i, (token, name))| {
                let mut t = Trace::streamed("scatter", StreamSpec::new(token.as_str(), 3600))
                    .with("mode", serde_json::json!("lines"))
                    .with("yaxis", serde_json::json!(if i == 0 { "y" } else { "y2" }));
                t.name = Some(name.to_owned());
                t
            })
            .collect();
        let figure = Figure {
            data,
            layout: serde_json::json!({
                "title": {"text": format!("load test {prefix}")},
                "xaxis": {"title": {"text": "s"}},
                "yaxis": {"title": {"text": "writes/s"}, "rangemode": "tozero"},
                "yaxis2": {"title": {"text": "ms, errors"}, "overlaying": "y", "side": "right", "rangemode": "tozero"}
            })
            .as_object()
            .cloned(),
            ..Figure::default()
        };
        let created =
            plotstream_client::create_figure(url, &figure, &StreamOptions::default()).await?;
        writeln!(out, "live plot of this run: {}", created.url).map_err(Error::Output)?;
        let mut streams = Vec::new();
        for token in &tokens {
            streams.push(Stream::connect(url, token, StreamOptions::default()).await?);
        }
        Ok(LiveFeed { streams })
    }

    async fn send(&self, t: f64, values: [f64; 3]) {
        for (stream, v) in self.streams.iter().zip(values) {
            // The run goes on if its own plot cannot.
            let _ = stream.write(&plotstream_protocol::Write::xy(t, v)).await;
        }
    }

    async fn close(self) {
        for s in self.streams {
            let _ = s.close().await;
        }
    }
}

/// Watches the run once a second until stopped: keeps the writes sent and
/// the lateness p50/p99 of each second, shows progress on stderr (an
/// indicatif bar on a terminal, a line every 10 s otherwise) and feeds
/// `--live`.
struct Monitor {
    shared: Arc<Shared>,
    streams: usize,
    total: u64,
    live: Option<LiveFeed>,
    t0: Instant,
}

impl Monitor {
    /// Runs until `stop`; the writes and the lateness `[p50, p99]` (ms) of
    /// each second.
    #[allow(clippy::print_stderr)]
    async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) -> (Vec<u64>, Vec<[f64; 2]>) {
        let bar = io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(self.total);
            let style = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} writes  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        let counters = &self.shared.counters;
        let mut per_second = Vec::new();
        let mut lateness = Vec::new();
        let mut last = 0;
        let mut ticker =
            tokio::time::interval_at(self.t0 + Duration::from_secs(1), Duration::from_secs(1));
        loop {
            let stopped = tokio::select! {
                _ = ticker.tick() => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            let writes = counters.writes.load(Ordering::Relaxed);
            let delta = writes - last;
            last = writes;
            let [p50, p99] = self.take_window();
            if stopped {
                // The last, partial second.
                if delta > 0 {
                    per_second.push(delta);
                    lateness.push([p50, p99]);
                }
                break;
            }
            per_second.push(delta);
            lateness.push([p50, p99]);
            let errors = counters.connect_errors.load(Ordering::Relaxed)
                + counters.stream_errors.load(Ordering::Relaxed);
            let open = counters.open.load(Ordering::Relaxed);
            let msg = format!(
                "streams {open}/{} open  {delta}/s  errors {errors}  lateness p99 {p99:.2} ms this second",
                self.streams
            );
            match &bar {
                Some(bar) => {
                    bar.set_position(writes);
                    bar.set_message(msg);
                }
                None if per_second.len() % 10 == 0 => {
                    eprintln!(
                        "{:>5} s  writes {writes}/{}  {msg}",
                        per_second.len(),
                        self.total
                    );
                }
                None => {}
            }
            if let Some(live) = &self.live {
                #[allow(clippy::cast_precision_loss)]
                live.send(per_second.len() as f64, [delta as f64, p99, errors as f64])
                    .await;
            }
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        if let Some(live) = self.live {
            live.close().await;
        }
        (per_second, lateness)
    }

    /// The lateness p50 and p99 (ms) recorded since the last call.
    fn take_window(&self) -> [f64; 2] {
        let mut window = self
            .shared
            .window
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        #[allow(clippy::cast_precision_loss)]
        let ms = |q: f64| window.value_at_quantile(q) as f64 / 1000.0;
        let out = [ms(0.5), ms(0.99)];
        window.reset();
        out
    }
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
