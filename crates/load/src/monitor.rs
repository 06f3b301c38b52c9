//! The [`Monitor`]: progress once a second, the rate and lateness of each
//! second, and the run's own live plot ([`LiveFeed`]).

use std::io::{self, IsTerminal};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use plotstream_client::{Stream, StreamOptions};
use plotstream_protocol::{Figure, StreamSpec, Trace};
use tokio::time::Instant;

use crate::Error;
use crate::engine::Shared;

/// The run's own figures, streamed to a viewer (`--live`).
pub(crate) struct LiveFeed {
    pub(crate) streams: Vec<Stream>,
}

impl LiveFeed {
    pub(crate) async fn connect(
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

    pub(crate) async fn send(&self, t: f64, values: [f64; 3]) {
        for (stream, v) in self.streams.iter().zip(values) {
            // The run goes on if its own plot cannot.
            let _ = stream.write(&plotstream_protocol::Write::xy(t, v)).await;
        }
    }

    pub(crate) async fn close(self) {
        for s in self.streams {
            let _ = s.close().await;
        }
    }
}

/// Watches the run once a second until stopped: keeps the writes sent and
/// the lateness p50/p99 of each second, shows progress on stderr (an
/// indicatif bar on a terminal, a line every 10 s otherwise) and feeds
/// `--live`.
pub(crate) struct Monitor {
    pub(crate) shared: Arc<Shared>,
    pub(crate) streams: usize,
    pub(crate) total: u64,
    pub(crate) live: Option<LiveFeed>,
    pub(crate) t0: Instant,
}

/// What the monitor saw, second by second.
#[derive(Debug, Default)]
pub(crate) struct Seconds {
    /// Writes sent.
    pub(crate) writes: Vec<u64>,
    /// Lateness `[p50, p99]`, ms.
    pub(crate) lateness: Vec<[f64; 2]>,
    /// End-to-end latency `[p50, p99]`, ms.
    pub(crate) latency: Vec<[f64; 2]>,
    /// Connections open at the end of the second.
    pub(crate) open: Vec<u64>,
}

/// A monitor running, until [`Running::finish`].
pub(crate) struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<Seconds>,
}

impl Running {
    /// Stops the monitor; its per-second figures.
    pub(crate) async fn finish(self, shared: &Shared) -> Seconds {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(seconds) => seconds,
            // Its per-second figures are gone: the report says so, not zeros.
            Err(e) => {
                shared.note_error(&std::io::Error::other(format!(
                    "the monitor task failed, so the report has no per-second figures: {e}"
                )));
                Seconds::default()
            }
        }
    }
}

impl Monitor {
    /// Starts the monitor of `streams` streams sending `total` writes from `t0`.
    pub(crate) fn start(
        shared: Arc<Shared>,
        streams: usize,
        total: u64,
        live: Option<LiveFeed>,
        t0: Instant,
    ) -> Running {
        let (stop, rx) = tokio::sync::watch::channel(false);
        let monitor = Monitor {
            shared,
            streams,
            total,
            live,
            t0,
        };
        Running {
            stop,
            task: tokio::spawn(monitor.run(rx)),
        }
    }

    /// Runs until `stop`; what each second saw.
    #[allow(clippy::print_stderr)]
    async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) -> Seconds {
        let bar = io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(self.total);
            let style = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} writes  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        let mut per_second = Vec::new();
        let mut lateness = Vec::new();
        let mut latency = Vec::new();
        let mut open_seconds = Vec::new();
        let mut last = 0;
        let mut ticker =
            tokio::time::interval_at(self.t0 + Duration::from_secs(1), Duration::from_secs(1));
        loop {
            let stopped = tokio::select! {
                _ = ticker.tick() => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            let totals = self.shared.totals();
            let writes = totals.writes;
            let delta = writes.saturating_sub(last);
            last = writes;
            let [p50, p99] = self.shared.lateness.take_window();
            let end_to_end = take(&self.shared.latency_window, &self.shared.latency_total);
            let open = totals.open;
            if stopped {
                // The last, partial second.
                if delta > 0 {
                    per_second.push(delta);
                    lateness.push([p50, p99]);
                    latency.push(end_to_end);
                    open_seconds.push(u64::try_from(open).unwrap_or(0));
                }
                break;
            }
            per_second.push(delta);
            lateness.push([p50, p99]);
            latency.push(end_to_end);
            open_seconds.push(u64::try_from(open).unwrap_or(0));
            let errors = totals.connect_errors + totals.stream_errors;
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
        Seconds {
            writes: per_second,
            lateness,
            latency,
            open: open_seconds,
        }
    }
}

/// The p50 and p99 (ms) of what `window` recorded since the last call; it
/// is moved into `total` and emptied.
fn take(
    window: &Mutex<hdrhistogram::Histogram<u64>>,
    total: &Mutex<hdrhistogram::Histogram<u64>>,
) -> [f64; 2] {
    // The total first: a reader of both never misses this second.
    let mut total = total.lock().unwrap_or_else(PoisonError::into_inner);
    let mut window = window.lock().unwrap_or_else(PoisonError::into_inner);
    let ms = |q: f64| window.value_at_quantile(q) as f64 / 1000.0;
    let out = [ms(0.5), ms(0.99)];
    let _ = total.add(&*window);
    window.reset();
    out
}
