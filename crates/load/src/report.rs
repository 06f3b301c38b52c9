//! [`Report`]: what a run measured, as JSON and as a summary; merging shards.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use plotstream_protocol::{plural, plural_rate};
use serde::{Deserialize, Serialize};

use crate::{Counts, Error};

/// A histogram could not be added up or (de)serialised.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistogramError {
    /// Two histograms could not be added.
    #[error("cannot add histograms")]
    Add(#[from] hdrhistogram::AdditionError),
    /// A histogram could not be serialised.
    #[error("cannot serialise a histogram")]
    Serialize(#[from] hdrhistogram::serialization::V2SerializeError),
    /// A report's histogram is not base64.
    #[error("a report's histogram is not base64")]
    Base64(#[from] base64::DecodeError),
    /// A report's histogram is not an HdrHistogram V2.
    #[error("a report's histogram cannot be read")]
    Deserialize(#[from] hdrhistogram::serialization::DeserializeError),
}

/// The largest time a histogram records, in microseconds: one hour.
pub(crate) const MAX_MICROS: u64 = 3_600_000_000;

/// An HDR histogram of microseconds, 3 significant figures.
pub(crate) fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, MAX_MICROS, 3)
        .unwrap_or_else(|_| unreachable!("valid histogram bounds"))
}

/// Records `d` (saturating at an hour).
pub(crate) fn record(h: &mut Histogram<u64>, d: Duration) {
    let micros = u64::try_from(d.as_micros()).unwrap_or(MAX_MICROS).max(1);
    h.saturating_record(micros);
}

/// Percentiles of a histogram, in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// How many values.
    pub count: u64,
    /// Smallest, ms.
    #[serde(default)]
    pub min: f64,
    /// Mean, ms.
    #[serde(default)]
    pub mean: f64,
    /// Standard deviation, ms.
    #[serde(default)]
    pub stddev: f64,
    /// Median, ms.
    pub p50: f64,
    /// 90th percentile, ms.
    pub p90: f64,
    /// 95th percentile, ms.
    #[serde(default)]
    pub p95: f64,
    /// 99th percentile, ms.
    pub p99: f64,
    /// 99.9th percentile, ms.
    pub p999: f64,
    /// Largest, ms.
    pub max: f64,
    /// The histogram itself: HdrHistogram V2, base64, microseconds.
    pub histogram: String,
}

impl Percentiles {
    /// The percentiles of `h`, with `h` serialised.
    pub fn of(h: &Histogram<u64>) -> Result<Self, Error> {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(h, &mut bytes)
            .map_err(HistogramError::from)?;
        let empty = h.is_empty();
        Ok(Percentiles {
            count: h.len(),
            min: if empty { 0.0 } else { h.min() as f64 / 1000.0 },
            mean: if empty { 0.0 } else { h.mean() / 1000.0 },
            stddev: if empty { 0.0 } else { h.stdev() / 1000.0 },
            p50: ms(0.5),
            p90: ms(0.9),
            p95: ms(0.95),
            p99: ms(0.99),
            p999: ms(0.999),
            max: h.max() as f64 / 1000.0,
            histogram: base64::engine::general_purpose::STANDARD.encode(bytes),
        })
    }

    /// The histogram back from its serialised form.
    pub fn histogram(&self) -> Result<Histogram<u64>, Error> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.histogram)
            .map_err(HistogramError::from)?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(HistogramError::from)?;
        Ok(h)
    }
}

/// What the run was asked to do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The server.
    pub url: String,
    /// The demo each stream plays.
    pub demo: String,
    /// Streams in the whole test (all shards).
    pub streams: u64,
    /// Streams this run (this shard) opened.
    pub streams_here: u64,
    /// Writes per second per stream.
    pub rate: f64,
    /// How long each stream writes, s.
    pub duration_s: f64,
    /// Over how long the streams start, s.
    pub ramp_up_s: f64,
    /// The seed.
    pub seed: u64,
    /// Token prefix.
    pub token_prefix: String,
    /// `I/N`, or `0/1` for a whole test.
    pub shard: String,
    /// The test this run belongs to (`--test-id`, or derived from the
    /// test's options): `merge` takes only shards of one test.
    #[serde(default)]
    pub test_id: String,
    /// Whether subscribers measured end-to-end latency and loss.
    pub subscribe: bool,
    /// `--arrivals`, and the Hurst exponent of ppbp and onoff: `ppbp (H 0.8)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<String>,
    /// `--stages`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stages: Option<String>,
    /// `--rate-stages`, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_stages: Option<String>,
    /// `--churn`, s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub churn_s: Option<f64>,
}

/// Loss as the subscribers saw it, counted per receiver and summed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Loss {
    /// Receivers per stream (`--subscribers`): each should get every write.
    #[serde(default = "one")]
    pub receivers: u64,
    /// Deliveries: (receiver, write) pairs whose sequence number arrived.
    pub received: u64,
    /// Deliveries that had not happened half a second after the last
    /// write (writes × receivers − received): lost, or still on the way.
    pub lost: u64,
    /// Sequence numbers seen more than once, or out of order.
    pub duplicates: u64,
    /// Fresh snapshots a subscriber got after falling behind (the writes they
    /// cover count as received).
    pub resyncs: u64,
    /// With several receivers per stream: writes that did not reach every
    /// one of them within 128 writes of their stream (left out of the
    /// spread; their loss is in `lost`).
    #[serde(default)]
    pub spread_incomplete: u64,
}

fn one() -> u64 {
    1
}

/// What a run measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The configuration.
    pub config: RunConfig,
    /// Writes per second the schedule asked for, all streams here together.
    pub target_rate: f64,
    /// Writes per second sent.
    pub achieved_rate: f64,
    /// Wall time from the first start to the last close, s.
    pub elapsed_s: f64,
    /// Writes handed to streams.
    pub writes: u64,
    /// Bytes sent.
    pub bytes: u64,
    /// Connections opened: one per stream, more with `--stages` and
    /// `--churn`.
    #[serde(default)]
    pub connections: u64,
    /// Connections that could not be opened.
    pub connect_errors: u64,
    /// Streams that failed later.
    pub stream_errors: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// Writes dropped by full queues.
    pub drops: u64,
    /// Writes sent on connections that ended without the server's answer:
    /// the server may or may not have applied them.
    #[serde(default)]
    pub unconfirmed: u64,
    /// Writes still queued when their stream failed: never sent (with
    /// `--acks`: not acknowledged).
    #[serde(default)]
    pub unsent: u64,
    /// Writes the server acknowledged (with `--acks`): then every write is
    /// acknowledged, dropped from a full queue, or counted unsent.
    #[serde(default)]
    pub acked: Option<u64>,
    /// The server's answers at close, by status.
    pub statuses: BTreeMap<String, u64>,
    /// Intended send time to the write being handed to the stream.
    pub lateness_ms: Percentiles,
    /// Intended send time to arrival at a subscriber (with `--subscribe`).
    pub latency_ms: Option<Percentiles>,
    /// With several receivers per stream (`--subscribers K`): per write,
    /// the first receiver's arrival to the last's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout_spread_ms: Option<Percentiles>,
    /// Loss (with `--subscribe`).
    pub loss: Option<Loss>,
    /// Writes sent in each second of the run, in order (merged shards: summed
    /// second by second).
    #[serde(default)]
    pub rate_over_time: Vec<u64>,
    /// Whether the run was stopped early (SIGINT, SIGTERM): the report
    /// covers it up to then, and the writes the schedule had left were
    /// never offered. Merged shards: whether any was.
    #[serde(default)]
    pub stopped_early: bool,
    /// When each shard started and first wrote: one entry for a run, every
    /// shard's in a merged report.
    #[serde(default)]
    pub shards: Vec<ShardTimes>,
    /// Lateness p50 and p99 (ms) of the writes recorded in each second of the
    /// run, in order (merged shards: the larger of each).
    #[serde(default)]
    pub lateness_over_time: Vec<[f64; 2]>,
    /// End-to-end latency p50 and p99 (ms) of the writes subscribers saw in
    /// each second of the run (with `--subscribe` or `--subscribe-url`;
    /// merged shards: the larger of each).
    #[serde(default)]
    pub latency_over_time: Vec<[f64; 2]>,
    /// Connections open at the end of each second of the run (merged
    /// shards: summed second by second).
    #[serde(default)]
    pub open_over_time: Vec<u64>,
    /// From the first write's intended time to the last write, plus one
    /// write interval, s: the span `achieved_rate` is measured over.
    #[serde(default)]
    pub send_span_s: f64,
    /// Bytes per second sent over that span.
    #[serde(default)]
    pub bytes_per_s: f64,
    /// Write to the server's acknowledgement (MQTT at QoS 1 and 2, the
    /// Plotly protocol with `--acks`).
    #[serde(default)]
    pub ack_latency_ms: Option<Percentiles>,
    /// The load the schedule offered: rates, dispersion, Hurst estimate
    /// (of this run; of merged shards, see [`Offered::merge`](crate::Offered)).
    #[serde(default)]
    pub offered: Option<crate::Offered>,
}

/// What [`Report::build`] makes a report of: the phases' results.
pub(crate) struct Parts<'a> {
    pub(crate) opts: &'a crate::Opts,
    pub(crate) schedule: &'a crate::Schedule,
    pub(crate) offered: crate::Offered,
    pub(crate) totals: crate::engine::Totals,
    pub(crate) finished: &'a crate::engine::Finished,
    pub(crate) lateness: Histogram<u64>,
    pub(crate) acks: Histogram<u64>,
    pub(crate) loss: Option<Loss>,
    pub(crate) latency: Option<Percentiles>,
    pub(crate) spread: Option<Percentiles>,
    pub(crate) seconds: crate::monitor::Seconds,
    /// The wall-clock instant the schedule started.
    pub(crate) started: std::time::SystemTime,
}

/// Unix seconds of `t`.
fn unix_s(t: std::time::SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// Checks that `reports` are shards of one test: one test id, rate,
/// duration and arrivals, and no shard twice.
fn one_test(reports: &[Report]) -> Result<(), Error> {
    let Some(first) = reports.first() else {
        return Ok(());
    };
    let a = &first.config;
    let mut shards = std::collections::BTreeSet::new();
    for r in reports {
        let b = &r.config;
        let differ = |what: &str, x: &dyn fmt::Debug, y: &dyn fmt::Debug| {
            Err(Error::NotOneTest(format!(
                "shard {} has {what} {x:?}, shard {} {y:?}",
                a.shard, b.shard
            )))
        };
        if a.test_id != b.test_id {
            return differ("test id", &a.test_id, &b.test_id);
        }
        if a.rate != b.rate {
            return differ("rate", &a.rate, &b.rate);
        }
        if a.duration_s != b.duration_s {
            return differ("duration (s)", &a.duration_s, &b.duration_s);
        }
        if a.arrivals != b.arrivals {
            return differ("arrivals", &a.arrivals, &b.arrivals);
        }
        if !shards.insert(b.shard.clone()) {
            return Err(Error::NotOneTest(format!(
                "shard {} is given twice",
                b.shard
            )));
        }
    }
    Ok(())
}

/// When one shard's schedule started, and when it first wrote.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardTimes {
    /// `I/N`.
    pub shard: String,
    /// The schedule's start (`--start-at`, or 100 ms after the run was
    /// ready), unix seconds.
    pub start_unix_s: f64,
    /// The first write handed to a stream, unix seconds (none: it wrote
    /// nothing).
    pub first_write_unix_s: Option<f64>,
}

impl RunConfig {
    /// What `opts` asked for, with the schedule's length.
    fn of(opts: &crate::Opts, schedule: &crate::Schedule, here: usize) -> Self {
        use crate::Arrivals;
        RunConfig {
            url: opts.url.clone(),
            demo: opts.demo.name().to_owned(),
            streams: opts.total_streams(),
            streams_here: here as u64,
            rate: opts.rate,
            duration_s: schedule.end().unwrap_or(opts.duration).as_secs_f64(),
            ramp_up_s: opts.ramp_up.as_secs_f64(),
            seed: opts.seed.value,
            token_prefix: opts.token_prefix.clone(),
            shard: format!("{}/{}", opts.shard.index, opts.shard.count),
            test_id: opts.test_id(),
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
        }
    }
}

impl Report {
    /// The report of a run, from what its phases measured.
    pub(crate) fn build(p: Parts<'_>) -> Result<Report, Error> {
        let (opts, schedule, totals) = (p.opts, p.schedule, p.totals);
        let writes = totals.writes;
        // The time the writes took, and the time they should have taken: to
        // the last write (due), plus the 1/R it occupies; a staged run lasts
        // its stages.
        let last_write = Duration::from_nanos(totals.last_write_nanos).as_secs_f64();
        let (actual_span, scheduled_span) = match schedule.end() {
            Some(end) => (last_write.max(end.as_secs_f64()), end.as_secs_f64()),
            None => (
                last_write + 1.0 / opts.rate,
                p.offered.span_s + 1.0 / opts.rate,
            ),
        };
        let counts = p.finished.counts;
        let mut report = Report {
            config: RunConfig::of(opts, schedule, p.finished.streams),
            target_rate: p.offered.writes as f64 / scheduled_span.max(1e-9),
            achieved_rate: writes as f64 / actual_span.max(1e-9),
            elapsed_s: schedule.t0.elapsed().as_secs_f64(),
            send_span_s: actual_span,
            bytes_per_s: counts.bytes as f64 / actual_span.max(1e-9),
            writes: 0,
            bytes: 0,
            connect_errors: totals.connect_errors,
            stream_errors: totals.stream_errors,
            reconnects: 0,
            drops: 0,
            unconfirmed: 0,
            acked: None,
            unsent: 0,
            statuses: p.finished.statuses.clone(),
            lateness_ms: Percentiles::of(&p.lateness)?,
            latency_ms: p.latency,
            fanout_spread_ms: p.spread,
            loss: p.loss,
            rate_over_time: p.seconds.writes,
            stopped_early: false,
            shards: vec![ShardTimes {
                shard: format!("{}/{}", opts.shard.index, opts.shard.count),
                start_unix_s: unix_s(p.started),
                first_write_unix_s: totals
                    .first_write_nanos
                    .map(|n| unix_s(p.started) + Duration::from_nanos(n).as_secs_f64()),
            }],
            lateness_over_time: p.seconds.lateness,
            latency_over_time: if opts.subscribed() {
                p.seconds.latency
            } else {
                Vec::new()
            },
            ack_latency_ms: (!p.acks.is_empty())
                .then(|| Percentiles::of(&p.acks))
                .transpose()?,
            connections: p.finished.connections,
            open_over_time: p.seconds.open,
            offered: Some(p.offered),
        };
        // The writes are the workers' count (what went out); the rest is
        // what the streams' connections counted.
        report.set_counts(Counts { writes, ..counts }, opts.acks);
        Ok(report)
    }

    /// The report's counts, as one [`Counts`].
    pub fn counts(&self) -> Counts {
        Counts {
            bytes: self.bytes,
            writes: self.writes,
            reconnects: self.reconnects,
            drops: self.drops,
            unconfirmed: self.unconfirmed,
            unsent: self.unsent,
            acked: self.acked.unwrap_or(0),
        }
    }

    /// Sets the report's counts (`acked` only where acknowledgements were
    /// asked for).
    fn set_counts(&mut self, c: Counts, acked: bool) {
        self.bytes = c.bytes;
        self.writes = c.writes;
        self.reconnects = c.reconnects;
        self.drops = c.drops;
        self.unconfirmed = c.unconfirmed;
        self.unsent = c.unsent;
        self.acked = acked.then_some(c.acked);
    }

    /// Writes that may not have reached the server, by cause: dropped from
    /// full queues, unconfirmed, never sent.
    pub fn may_be_lost(&self) -> u64 {
        self.drops + self.unconfirmed + self.unsent
    }

    /// What the sending side knows of loss, in words: never "0 lost" when
    /// some writes went unanswered.
    fn sending_losses(&self) -> String {
        // Without acknowledgements or subscribers, a clean end is all the
        // server said: the count is a bound, and the line says what makes
        // it exact.
        let bound = if self.acked.is_none() && self.loss.is_none() {
            " (a bound, not a count of what arrived: --subscribe or --subscribe-url, or --acks on \
             a plotstream viewer, or --qos 1 on MQTT, makes it exact)"
        } else {
            ""
        };
        if self.may_be_lost() == 0 {
            return match self.acked {
                Some(n) => format!("every write acknowledged by the server ({n})"),
                None => format!("every write went out on a connection that ended cleanly{bound}"),
            };
        }
        format!(
            "{} may be lost: {} dropped from full queues, {} unconfirmed (sent on connections that did not end cleanly, or not acknowledged), {} never sent{bound}",
            self.may_be_lost(),
            self.drops,
            self.unconfirmed,
            self.unsent
        )
    }

    /// Every report in `text`: one JSON document (a `--report FILE`), or
    /// several, one after another, with other lines between them, as
    /// `kubectl logs` gives the output of shards run with `--report -`
    /// (each report one line of JSON on stdout, the summary on stderr).
    ///
    /// ```
    /// use plotstream_load::Report;
    ///
    /// assert!(Report::parse_all("12 streams of noisy-cosine…\n").is_err());
    /// ```
    pub fn parse_all(text: &str) -> Result<Vec<Report>, String> {
        let whole: Result<Vec<Report>, _> = serde_json::Deserializer::from_str(text)
            .into_iter::<Report>()
            .collect();
        if let Ok(reports) = whole
            && !reports.is_empty()
        {
            return Ok(reports);
        }
        let mut reports = Vec::new();
        let mut first_error = None;
        for line in text.lines().map(str::trim).filter(|l| l.starts_with('{')) {
            match serde_json::from_str::<Report>(line) {
                Ok(r) => reports.push(r),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if reports.is_empty() {
            return Err(first_error.map_or_else(
                || {
                    "no report in it (a line of JSON that `plotstream load --report` wrote)"
                        .to_owned()
                },
                |e| format!("no report in it: {e}"),
            ));
        }
        Ok(reports)
    }

    /// Sums the counts of `reports` and merges their histograms: the report
    /// of shards run as one test.
    pub fn merge(reports: &[Report]) -> Result<Report, Error> {
        let first = reports.first().ok_or(Error::NothingToMerge)?;
        one_test(reports)?;
        let mut lateness = histogram();
        let mut latency: Option<Histogram<u64>> = None;
        let mut acks: Option<Histogram<u64>> = None;
        let mut spread: Option<Histogram<u64>> = None;
        let mut out = first.clone();
        out.config.streams_here = 0;
        out.config.shard = format!("merged from {}", reports.len());
        out.target_rate = 0.0;
        out.achieved_rate = 0.0;
        out.elapsed_s = 0.0;
        out.connect_errors = 0;
        out.stream_errors = 0;
        out.statuses.clear();
        out.loss = None;
        out.rate_over_time.clear();
        out.open_over_time.clear();
        out.connections = 0;
        out.lateness_over_time.clear();
        out.latency_over_time.clear();
        out.send_span_s = 0.0;
        out.bytes_per_s = 0.0;
        for r in reports {
            out.send_span_s = out.send_span_s.max(r.send_span_s);
            out.bytes_per_s += r.bytes_per_s;
            max_seconds(&mut out.lateness_over_time, &r.lateness_over_time);
            max_seconds(&mut out.latency_over_time, &r.latency_over_time);
            out.config.streams_here += r.config.streams_here;
            out.target_rate += r.target_rate;
            out.achieved_rate += r.achieved_rate;
            out.elapsed_s = out.elapsed_s.max(r.elapsed_s);
            out.connect_errors += r.connect_errors;
            out.stream_errors += r.stream_errors;
            out.connections += r.connections;
            out.stopped_early |= r.stopped_early;
            if !std::ptr::eq(r, first) {
                out.shards.extend(r.shards.iter().cloned());
            }
            add_seconds(&mut out.rate_over_time, &r.rate_over_time);
            add_seconds(&mut out.open_over_time, &r.open_over_time);
            for (status, n) in &r.statuses {
                *out.statuses.entry(status.clone()).or_default() += n;
            }
            lateness.add(r.lateness_ms.histogram()?)?;
            for (sum, part) in [
                (&mut latency, &r.latency_ms),
                (&mut acks, &r.ack_latency_ms),
                (&mut spread, &r.fanout_spread_ms),
            ] {
                if let Some(p) = part {
                    sum.get_or_insert_with(histogram).add(p.histogram()?)?;
                }
            }
            if let Some(l) = &r.loss {
                let total = out.loss.get_or_insert_with(|| Loss {
                    receivers: l.receivers,
                    ..Loss::default()
                });
                total.received += l.received;
                total.spread_incomplete += l.spread_incomplete;
                total.lost += l.lost;
                total.duplicates += l.duplicates;
                total.resyncs += l.resyncs;
            }
        }
        out.offered = crate::Offered::merge(reports.iter().filter_map(|r| r.offered.as_ref()));
        out.set_counts(
            reports.iter().map(Report::counts).sum(),
            reports.iter().any(|r| r.acked.is_some()),
        );
        out.lateness_ms = Percentiles::of(&lateness)?;
        out.latency_ms = latency.as_ref().map(Percentiles::of).transpose()?;
        out.ack_latency_ms = acks.as_ref().map(Percentiles::of).transpose()?;
        out.fanout_spread_ms = spread.as_ref().map(Percentiles::of).transpose()?;
        Ok(out)
    }

    /// The share of connections that failed (connect or later): of the
    /// streams, when each opens one.
    pub fn error_rate(&self) -> f64 {
        let errors = self.connect_errors + self.stream_errors;
        // Connections tried: one per stream, more with stages and churn
        // (reports from before `connections` was counted: the streams).
        let tried = match self.connections + self.connect_errors {
            0 => self.config.streams_here,
            n => n.max(self.config.streams_here),
        };
        match tried {
            0 => 0.0,
            n => (errors as f64 / n as f64).min(1.0),
        }
    }
}

/// Adds counts of each second to `sum`, second by second.
fn add_seconds(sum: &mut Vec<u64>, counts: &[u64]) {
    if sum.len() < counts.len() {
        sum.resize(counts.len(), 0);
    }
    for (s, n) in sum.iter_mut().zip(counts) {
        *s += n;
    }
}

/// Keeps in `max` the larger p50 and p99 of each second.
fn max_seconds(max: &mut Vec<[f64; 2]>, seconds: &[[f64; 2]]) {
    if max.len() < seconds.len() {
        max.resize(seconds.len(), [0.0, 0.0]);
    }
    for (m, x) in max.iter_mut().zip(seconds) {
        *m = [m[0].max(x[0]), m[1].max(x[1])];
    }
}

/// Limits a run must keep; breaching one makes the run exit 99.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Thresholds {
    /// The largest p99: of end-to-end latency with `--subscribe`, else of lateness.
    pub max_p99: Option<Duration>,
    /// The most writes lost.
    pub max_loss: Option<u64>,
    /// The largest share of streams that may fail, 0 to 1.
    pub max_error_rate: Option<f64>,
}

impl Thresholds {
    /// The thresholds in words, such as `p99 end-to-end latency ≤ 50 ms,
    /// ≤ 0 writes lost`; `subscribed`: the p99 is of end-to-end latency,
    /// else of lateness (as [`Thresholds::breaches`] judges it).
    pub fn describe(&self, subscribed: bool) -> String {
        let mut words = Vec::new();
        if let Some(d) = self.max_p99 {
            let what = if subscribed {
                "end-to-end latency"
            } else {
                "lateness"
            };
            words.push(format!("p99 {what} ≤ {} ms", d.as_secs_f64() * 1000.0));
        }
        if let Some(n) = self.max_loss {
            words.push(format!("≤ {} lost", plural(n, "write", "writes")));
        }
        if let Some(e) = self.max_error_rate {
            words.push(format!("≤ {e} of the connections failing"));
        }
        words.join(", ")
    }

    /// The thresholds `report` breaches, each said in a sentence.
    pub fn breaches(&self, report: &Report) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(max) = self.max_p99 {
            let (what, p) = match &report.latency_ms {
                Some(l) => ("end-to-end latency", l.p99),
                None => ("lateness", report.lateness_ms.p99),
            };
            let limit = max.as_secs_f64() * 1000.0;
            if p > limit {
                out.push(format!(
                    "p99 {what} {p:.1} ms is over --max-p99 {limit:.1} ms"
                ));
            }
        }
        if let Some(max) = self.max_loss {
            match &report.loss {
                Some(l) if l.lost > max => {
                    out.push(format!(
                        "{} lost, over --max-loss {max}",
                        plural(l.lost, "write", "writes")
                    ));
                }
                None => out.push("--max-loss needs --subscribe to measure loss".to_owned()),
                Some(_) => {}
            }
        }
        if let Some(max) = self.max_error_rate {
            let rate = report.error_rate();
            if rate > max {
                out.push(format!(
                    "error rate {rate:.4} is over --max-error-rate {max}"
                ));
            }
        }
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "{} of {} at {} each{} for {} s to {} (shard {})",
            plural(c.streams_here, "stream", "streams"),
            c.demo,
            plural_rate(c.rate, "write/s", "writes/s"),
            c.arrivals
                .as_ref()
                .map_or_else(String::new, |a| format!(", {a} arrivals")),
            c.duration_s,
            c.url,
            c.shard
        )?;
        self.fmt_writes(f)?;
        self.fmt_stages(f)?;
        writeln!(
            f,
            "  bytes     {} ({:.0}/s)   connect errors {}   stream errors {}   reconnects {}",
            self.bytes, self.bytes_per_s, self.connect_errors, self.stream_errors, self.reconnects
        )?;
        writeln!(f, "  sent      {}", self.sending_losses())?;
        if self.stopped_early {
            writeln!(
                f,
                "  stopped   early, by a signal: this covers the run up to then; the writes the schedule had left were never sent"
            )?;
        }
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        writeln!(f, "  answers   {}", statuses.join(", "))?;
        self.fmt_times(f)
    }
}

impl Report {
    /// The summary's `writes` line: what was sent of what the schedule
    /// offered, by count, and the rates. The achieved rate is over the whole
    /// send span; the offered rate is the schedule's own (while every stream
    /// was open, or over the whole schedule), which the span's edges do not dilute.
    fn fmt_writes(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (offered, over) = match &self.offered {
            Some(o) if o.steady => (o.writes, "while every stream was open"),
            Some(o) => (o.writes, "over the whole schedule"),
            // Reports from before the offered load was measured.
            None => (self.writes, "on average"),
        };
        let rate = self.offered_rate();
        let share = if offered > 0 {
            format!("{:.2}%", 100.0 * self.writes as f64 / offered as f64)
        } else {
            "none offered".to_owned()
        };
        writeln!(
            f,
            "  writes    {} sent of {offered} offered ({share}) over {:.2} s: {:.0}/s achieved; the schedule offered {rate:.0}/s {over}",
            self.writes, self.send_span_s, self.achieved_rate,
        )
    }

    /// The rate the schedule offered, writes/s: the offered load's mean
    /// (see [`Offered::steady`](crate::Offered::steady) for over what), or
    /// in reports from before it was measured, the target.
    pub fn offered_rate(&self) -> f64 {
        self.offered
            .as_ref()
            .map_or(self.target_rate, |o| o.mean_rate)
    }

    /// The summary's `stages` line, for a staged or churning run.
    fn fmt_stages(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let mut shape = Vec::new();
        if let Some(s) = &c.stages {
            shape.push(format!("streams through {s}"));
        }
        if let Some(s) = &c.rate_stages {
            shape.push(format!("rate from {} through {s}", c.rate));
        }
        if let Some(d) = c.churn_s {
            shape.push(format!("each stream reconnecting every {d} s"));
        }
        if !shape.is_empty() {
            writeln!(
                f,
                "  stages    {}; {} opened, at most {} open in a second",
                shape.join(", "),
                plural(self.connections, "connection", "connections"),
                self.open_over_time.iter().max().unwrap_or(&0)
            )?;
        }
        Ok(())
    }

    /// The summary's lines of the offered load, the times and the loss.
    fn fmt_times(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = |f: &mut fmt::Formatter<'_>, name: &str, p: &Percentiles| {
            writeln!(
                f,
                "  {name:<9} min {:.2}   mean {:.2} ± {:.2}   p50 {:.2}   p90 {:.2}   p95 {:.2}   p99 {:.2}   p99.9 {:.2}   max {:.2} ms",
                p.min, p.mean, p.stddev, p.p50, p.p90, p.p95, p.p99, p.p999, p.max
            )
        };
        if let Some(o) = &self.offered {
            // Merged shards' peaks are sums (upper bounds), and their Hurst
            // estimates do not combine: see `Offered::merge`.
            let (at_most, hurst) = match (self.shards.len() > 1, o.hurst) {
                (true, _) => ("at most ", "n/a (in each shard's report)".to_owned()),
                (false, Some(h)) => ("", format!("{h:.2}")),
                (false, None) => ("", "n/a".to_owned()),
            };
            writeln!(
                f,
                "  offered   mean {:.0}/s   peak {at_most}{:.0}/s over 10 ms, {at_most}{:.0}/s over 1 s   dispersion {:.2} (10 ms slots)   Hurst {hurst}",
                o.mean_rate, o.peak_rate_10ms, o.peak_rate_1s, o.dispersion_10ms,
            )?;
        }
        line(f, "lateness", &self.lateness_ms)?;
        if let Some(a) = &self.ack_latency_ms {
            line(f, "ack", a)?;
        }
        if let Some(l) = &self.latency_ms {
            line(f, "latency", l)?;
        }
        if let Some(s) = &self.fanout_spread_ms {
            line(f, "spread", s)?;
        }
        if let Some(l) = &self.loss {
            let each = if l.receivers > 1 {
                format!(
                    " ({} receivers a stream, counted each; {} did not reach them all)",
                    l.receivers,
                    plural(l.spread_incomplete, "write", "writes")
                )
            } else {
                String::new()
            };
            writeln!(
                f,
                "  loss      {} received, {} lost, {}, {}{each}",
                l.received,
                l.lost,
                plural(l.duplicates, "duplicate", "duplicates"),
                plural(l.resyncs, "resync", "resyncs")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_round_trip_through_their_serialised_histogram() {
        let mut h = histogram();
        for ms in 1..=1000u64 {
            record(&mut h, Duration::from_millis(ms));
        }
        let p = Percentiles::of(&h).expect("serialises");
        assert_eq!(p.count, 1000);
        assert!((p.p50 - 500.0).abs() / 500.0 < 0.001, "{}", p.p50);
        assert!((p.p99 - 990.0).abs() / 990.0 < 0.001, "{}", p.p99);
        let back = p.histogram().expect("deserialises");
        assert_eq!(back.len(), 1000);
        assert_eq!(back.value_at_quantile(0.99), h.value_at_quantile(0.99));
    }
}
