//! `--find-capacity`: how much load a server holds. Steps the offered load
//! up (doubling the rate or the streams) until a step breaks a threshold,
//! then bisects between the last step that held and the first that did
//! not, down to [`RESOLUTION`]. Every step is a whole run of `--duration`.

use std::io;
use std::time::Duration;

use plotstream_protocol::plural;
use serde::{Deserialize, Serialize};

use crate::{Error, Opts, Report};

/// The search stops when the step that failed is within this share above
/// the step that held.
pub const RESOLUTION: f64 = 0.05;

/// The most steps a search runs.
const MAX_STEPS: usize = 30;

/// A step whose achieved rate falls this far short of its target did not
/// hold the load, whatever its latency says.
const MIN_ACHIEVED: f64 = 0.9;

/// What `--find-capacity` varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Knob {
    /// Each stream's rate, from `--rate`.
    Rate,
    /// The number of streams, from `--streams`.
    Streams,
}

/// One step of the search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Step {
    /// Streams in the step.
    pub streams: u64,
    /// Writes per second per stream.
    pub rate: f64,
    /// Writes per second offered, all streams together.
    pub offered: f64,
    /// Writes per second achieved.
    pub achieved: f64,
    /// p50 and p99 of end-to-end latency (with subscribers), else of
    /// lateness, ms.
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
    /// Writes lost (with subscribers).
    pub lost: Option<u64>,
    /// Why the step did not hold the load (empty: it held).
    pub failures: Vec<String>,
    /// The step's whole report (`None` when it sent nothing).
    pub report: Option<Report>,
}

impl Step {
    /// Whether the step held every threshold.
    pub fn held(&self) -> bool {
        self.failures.is_empty()
    }
}

/// What a search found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capacity {
    /// What was varied.
    pub knob: Knob,
    /// The thresholds, in words.
    pub thresholds: String,
    /// Every step, in the order run.
    pub steps: Vec<Step>,
    /// The step with the largest load that held (`None`: not even the
    /// first did).
    pub answer: Option<Step>,
    /// The step with the smallest load that failed (`None`: none failed
    /// within the steps the search may run).
    pub first_failed: Option<Step>,
    /// Whether a signal ended the search early: the step it cut short is
    /// left out, and the answer is the best of the steps run whole.
    #[serde(default)]
    pub stopped_early: bool,
}

impl Capacity {
    /// 0 with an answer, 1 when not even the first step held.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.answer.is_none())
    }
}

impl Knob {
    /// The knob's value for `streams` streams at `rate` writes/s each.
    fn value(self, streams: u64, rate: f64) -> f64 {
        match self {
            Knob::Rate => rate,
            Knob::Streams => streams as f64,
        }
    }
}

/// `opts` with the knob at `value`, for step `k`.
fn step_opts(knob: Knob, opts: &Opts, value: f64, k: usize) -> Opts {
    let mut o = opts.clone();
    match knob {
        Knob::Rate => o.rate = value,
        Knob::Streams => o.streams = value.round().max(1.0) as u64,
    }
    // Each step has tokens of its own: a late write of one step is never
    // taken for a write of the next.
    o.token_prefix = format!("{}-c{k}", opts.token_prefix);
    o.find_capacity = None;
    o.report = None;
    o.html = None;
    o.live = None;
    o
}

/// Runs one step (until `stop`, if it comes) and judges it.
async fn step(opts: &Opts, stop: impl Future<Output = ()> + Send + 'static) -> Result<Step, Error> {
    let offered = opts.rate * opts.streams as f64;
    let (report, mut failures) = match crate::run_until(opts, &mut io::sink(), stop).await {
        Ok(outcome) => (Some(outcome.report), outcome.breaches),
        // The server took nothing: the load is over what it holds.
        Err(Error::NothingSent { what, why }) => (None, vec![format!("{what}: {why}")]),
        Err(e) => return Err(e),
    };
    let Some(r) = report else {
        return Ok(Step {
            streams: opts.streams,
            rate: opts.rate,
            offered,
            achieved: 0.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
            lost: None,
            failures,
            report: None,
        });
    };
    if r.achieved_rate < MIN_ACHIEVED * r.target_rate {
        failures.push(format!(
            "{:.0} writes/s achieved, under {:.0}% of the {:.0}/s offered",
            r.achieved_rate,
            MIN_ACHIEVED * 100.0,
            r.target_rate
        ));
    }
    let p = r.latency_ms.as_ref().unwrap_or(&r.lateness_ms);
    Ok(Step {
        streams: opts.streams,
        rate: opts.rate,
        offered: r.target_rate,
        achieved: r.achieved_rate,
        p50_ms: p.p50,
        p99_ms: p.p99,
        lost: r.loss.as_ref().map(|l| l.lost),
        failures,
        report: Some(r),
    })
}

/// The table's header.
const HEADER: &str =
    "step  streams     rate/s   offered/s  achieved/s    p50 ms    p99 ms    lost  verdict";

fn row(k: usize, s: &Step) -> String {
    format!(
        "{k:>4}  {:>7}  {:>9.2}  {:>10.0}  {:>10.0}  {:>8.2}  {:>8.2}  {:>6}  {}",
        s.streams,
        s.rate,
        s.offered,
        s.achieved,
        s.p50_ms,
        s.p99_ms,
        s.lost.map_or_else(|| "-".to_owned(), |l| l.to_string()),
        if s.held() {
            "held".to_owned()
        } else {
            format!("failed: {}", s.failures.join("; "))
        }
    )
}

/// Searches for the largest load that holds `opts`' thresholds, varying
/// `knob`, printing a row per step to `out` as it goes and the answer at
/// the end.
pub async fn find_capacity(
    knob: Knob,
    opts: &Opts,
    out: &mut (dyn io::Write + Send),
) -> Result<Capacity, Error> {
    find_capacity_until(knob, opts, out, std::future::pending()).await
}

/// Searches as [`find_capacity`] does, ending early when `stop` completes
/// (a signal): the step it cuts short is left out, and the answer, the
/// table and the report are of the steps run whole
/// ([`Capacity::stopped_early`]).
pub async fn find_capacity_until(
    knob: Knob,
    opts: &Opts,
    out: &mut (dyn io::Write + Send),
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Capacity, Error> {
    let mut capacity = begin(knob, opts, out)?;
    let (stopper, stop_rx) = watch_stop(stop);
    let stopped = || stopped(stop_rx.clone());
    // The step that held with the most load, and the one that failed with
    // the least, are the bounds the search narrows.
    let of = |s: &Option<Step>| s.as_ref().map(|s| knob.value(s.streams, s.rate));
    let mut value = knob.value(opts.streams, opts.rate);
    for k in 1..=MAX_STEPS {
        let s = step(&step_opts(knob, opts, value, k), stopped()).await?;
        if *stop_rx.borrow() {
            capacity.stopped_early = true;
            writeln!(out, "stopped by a signal during step {k}: it is left out")
                .map_err(Error::Output)?;
            break;
        }
        writeln!(out, "{}", row(k, &s)).map_err(Error::Output)?;
        let pause = if s.held() {
            capacity.answer = Some(s.clone());
            Duration::from_millis(500)
        } else {
            capacity.first_failed = Some(s.clone());
            // Let a server that fell behind catch up before the next step:
            // as long as the step's p99 said it was behind (at most 30 s).
            Duration::from_millis(500) + Duration::from_secs_f64((s.p99_ms / 1000.0).min(30.0))
        };
        capacity.steps.push(s);
        let Some(next) = next_value(knob, of(&capacity.answer), of(&capacity.first_failed)) else {
            break;
        };
        value = next;
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = stopped() => {
                capacity.stopped_early = true;
                break;
            }
        }
    }
    stopper.abort();
    say_answer(&capacity, out)?;
    crate::write_outputs(opts, &capacity, || {
        Ok(crate::html::render_capacity(&capacity))
    })?;
    Ok(capacity)
}

/// Checks that the search can run (options, a threshold, no stages),
/// prints its header, and gives the empty result.
fn begin(knob: Knob, opts: &Opts, out: &mut (dyn io::Write + Send)) -> Result<Capacity, Error> {
    crate::checked::Checked::new(opts)?;
    let t = opts.thresholds();
    if t.max_p99.is_none() && t.max_loss.is_none() && t.max_error_rate.is_none() {
        return Err(Error::Options(
            "--find-capacity needs a threshold to hold: give --max-p99, --max-loss or --max-error-rate"
                .to_owned(),
        ));
    }
    if opts.staged() {
        return Err(Error::Options(
            "--find-capacity sets the load itself: leave out --stages and --rate-stages".to_owned(),
        ));
    }
    let capacity = Capacity {
        knob,
        thresholds: t.describe(opts.subscribed()),
        steps: Vec::new(),
        answer: None,
        first_failed: None,
        stopped_early: false,
    };
    writeln!(
        out,
        "finding the capacity by {}: steps of {:?} each, holding {}",
        match knob {
            Knob::Rate => "each stream's rate",
            Knob::Streams => "the number of streams",
        },
        opts.duration,
        capacity.thresholds
    )
    .map_err(Error::Output)?;
    writeln!(out, "{HEADER}").map_err(Error::Output)?;
    Ok(capacity)
}

/// A task that waits for `stop`, and what it tells: true once it came.
fn watch_stop(
    stop: impl Future<Output = ()> + Send + 'static,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::watch::Receiver<bool>,
) {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        stop.await;
        let _ = tx.send(true);
    });
    (task, rx)
}

/// Completes once `rx` says the stop came.
async fn stopped(mut rx: tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// The next step's value of the knob, from the most that held and the
/// least that failed: double until a step fails, then bisect; `None` when
/// the search is done (close enough, or not even the first step held).
fn next_value(knob: Knob, held: Option<f64>, failed: Option<f64>) -> Option<f64> {
    match (held, failed) {
        (None, _) => None,
        (Some(h), None) => Some(h * 2.0),
        (Some(h), Some(f)) => {
            let close = match knob {
                Knob::Rate => f <= h * (1.0 + RESOLUTION),
                Knob::Streams => f - h <= 1.0 || f <= h * (1.0 + RESOLUTION),
            };
            let mid = (h + f) / 2.0;
            match (close, knob) {
                (true, _) => None,
                (false, Knob::Streams) => Some(mid.round()),
                (false, Knob::Rate) => Some(mid),
            }
        }
    }
}

/// Prints the search's answer: the capacity found, or that none was.
fn say_answer(capacity: &Capacity, out: &mut (dyn io::Write + Send)) -> Result<(), Error> {
    match (&capacity.answer, &capacity.first_failed) {
        (Some(a), f) => {
            writeln!(
                out,
                "capacity: {:.0} writes/s ({} × {:.2} writes/s) held {}{}",
                a.offered,
                plural(a.streams, "stream", "streams"),
                a.rate,
                capacity.thresholds,
                match f {
                    Some(f) => format!(
                        "; {:.0} writes/s did not ({})",
                        f.offered,
                        f.failures.join("; ")
                    ),
                    None => format!("; no step failed within {MAX_STEPS} steps"),
                }
            )
            .map_err(Error::Output)?;
        }
        (None, _) => {
            writeln!(
                out,
                "no capacity found: even the first step ({:.0} writes/s) failed; start lower with --rate or --streams",
                capacity.steps.first().map_or(0.0, |s| s.offered)
            )
            .map_err(Error::Output)?;
        }
    }
    Ok(())
}

/// The search's table, as printed.
impl std::fmt::Display for Capacity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{HEADER}")?;
        for (k, s) in self.steps.iter().enumerate() {
            writeln!(f, "{}", row(k + 1, s))?;
        }
        Ok(())
    }
}
