//! Pacing and the set of streams that `stream`, `replay` and [`live`](crate::live) share.

use std::collections::HashMap;
use std::io::{self, Write as _};
use std::time::Duration;

use plotstream_client::{Stats, Stream, StreamOptions};
use plotstream_demos::{Clock, Demo, Frame};
use plotstream_protocol::{Figure, Mode, Write, paths, plural};
use tokio::time::Instant;

use crate::Error;

/// When each write goes out: `start + t / speed`, or at once under `--max-rate`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pacer {
    start: Instant,
    /// `None`: as fast as the server takes it.
    speed: Option<f64>,
}

impl Pacer {
    pub(crate) fn new(speed: f64, max_rate: bool) -> Self {
        Pacer {
            start: Instant::now(),
            speed: (!max_rate).then_some(speed),
        }
    }

    /// Whether writes go out in real time (speed 1): demos then stamp x with
    /// the wall clock.
    pub(crate) fn is_real_time(&self) -> bool {
        self.speed == Some(1.0)
    }

    /// Waits until simulated time `t` is due.
    pub(crate) async fn wait_for(&self, t: f64) {
        if let Some(speed) = self.speed {
            let due = Duration::try_from_secs_f64(t / speed).unwrap_or(Duration::MAX);
            if let Some(at) = self.start.checked_add(due) {
                tokio::time::sleep_until(at).await;
            }
        }
    }
}

/// The page of the demo's figure on the plotstream viewer at `url`: the
/// figure its tokens feed already (from an earlier run), or one made now,
/// so that each token draws into the demo's own traces and layout.
/// `None` when `url` is another Plotly-protocol server, which has no figure
/// API: each token is then drawn as that server draws it.
pub(crate) async fn demo_figure(
    url: &str,
    figure: &Figure,
    opts: &StreamOptions,
) -> Result<Option<DemoFigure>, Error> {
    let Some(token) = figure.tokens().next() else {
        return Ok(None);
    };
    let base = url.trim_end_matches('/');
    Ok(
        match plotstream_client::figures_fed_by(url, token, opts).await? {
            None => None,
            Some(ids) => match ids.first() {
                Some(id) => Some(DemoFigure {
                    url: format!("{base}{}", paths::plot(*id)),
                    made: false,
                }),
                // The page under the URL given (https through a proxy
                // stays https), not the viewer's own idea of its origin.
                None => Some(DemoFigure {
                    url: format!(
                        "{base}{}",
                        paths::plot(
                            plotstream_client::create_figure(url, figure, opts)
                                .await?
                                .id
                        )
                    ),
                    made: true,
                }),
            },
        },
    )
}

/// The demo's figure on a plotstream viewer ([`demo_figure`]).
#[derive(Debug)]
pub(crate) struct DemoFigure {
    /// Its live page.
    pub(crate) url: String,
    /// Made now, not found from an earlier run.
    pub(crate) made: bool,
}

impl DemoFigure {
    /// The line that tells the user where to look.
    pub(crate) fn line(&self) -> String {
        if self.made {
            format!("live plot: {}  (Ctrl-C to stop)", self.url)
        } else {
            format!(
                "live plot: {}  (the figure these tokens fed before; delete it on the viewer's index page to make it anew; Ctrl-C to stop)",
                self.url
            )
        }
    }
}

/// Whether writes are acknowledged, and why: `stream`, `replay` and the
/// live demos ask a plotstream viewer for acknowledgements unless told not
/// to, so that their loss count is exact by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Acks {
    /// `--acks`: asked for whatever the server (one without them stops the stream).
    Asked,
    /// The server is a plotstream viewer.
    Viewer,
    /// The server is not a plotstream viewer: it has no acknowledgements.
    NotViewer,
    /// `--no-acks`.
    Declined,
}

impl Acks {
    /// The choice for a server that is a plotstream viewer or not.
    pub(crate) fn choose(asked: bool, declined: bool, viewer: bool) -> Acks {
        match (asked, declined, viewer) {
            (true, _, _) => Acks::Asked,
            (false, true, _) => Acks::Declined,
            (false, false, true) => Acks::Viewer,
            (false, false, false) => Acks::NotViewer,
        }
    }

    pub(crate) fn on(self) -> bool {
        matches!(self, Acks::Asked | Acks::Viewer)
    }

    /// What it means for the summary's counts, in one line.
    pub(crate) fn line(self) -> &'static str {
        match self {
            Acks::Asked => {
                "acks on (--acks): a write counts as delivered once the server confirms it, and a stream that drops resumes without losing one"
            }
            Acks::Viewer => {
                "acks on (the server is a plotstream viewer; --no-acks turns them off): a write counts as delivered once the viewer confirms it, and a stream that drops resumes without losing one"
            }
            Acks::NotViewer => {
                "acks off (the server is not a plotstream viewer): a write sent on a connection that ends without an answer counts as may be lost, a bound"
            }
            Acks::Declined => {
                "acks off (--no-acks): a write sent on a connection that ends without an answer counts as may be lost, a bound"
            }
        }
    }
}

/// One [`Stream`] per token, opened on first use.
#[derive(Debug)]
pub(crate) struct Streams {
    url: String,
    opts: StreamOptions,
    acks: Acks,
    open: HashMap<String, Stream>,
    order: Vec<String>,
}

impl Streams {
    /// Streams to `url` with `opts`, acknowledged or not as `acks` says.
    /// Each failed reconnect try is said on stderr, with its reason and
    /// the wait before the next.
    pub(crate) fn new(url: &str, mut opts: StreamOptions, acks: Acks) -> Self {
        opts.acks = acks.on();
        Streams {
            url: url.to_owned(),
            opts,
            acks,
            open: HashMap::new(),
            order: Vec::new(),
        }
    }

    /// Sends `write` on `token`'s stream, connecting it first if need be.
    pub(crate) async fn write(&mut self, token: &str, write: &Write) -> Result<(), Error> {
        if !self.open.contains_key(token) {
            let mut opts = self.opts.clone();
            let name = token.to_owned();
            opts.on_retry = Some(plotstream_client::RetryHook::new(move |r| {
                let _ = writeln!(
                    io::stderr(),
                    "{name}: {}; reconnect try {} in {:?}",
                    r.reason,
                    r.attempt,
                    r.wait
                );
            }));
            let stream = Stream::connect(&self.url, token, opts).await?;
            self.open.insert(token.to_owned(), stream);
            self.order.push(token.to_owned());
        }
        Ok(self.open[token].write(write).await?)
    }

    /// Closes every stream, in the order they opened, and reports each
    /// after a line saying whether writes were acknowledged. With `grace`
    /// (a signal stopped the run), the answers are awaited that long at
    /// most, all streams together; a stream without one by then says so,
    /// and counts what it could not confirm.
    pub(crate) async fn close(
        mut self,
        out: &mut (dyn io::Write + Send),
        grace: Option<Duration>,
    ) -> Result<(), Error> {
        let deadline = grace.map(|g| Instant::now() + g);
        if !self.order.is_empty() {
            writeln!(out, "{}", self.acks.line()).map_err(Error::Output)?;
        }
        // Every stream closes at once; their answers are read in order.
        let closing: Vec<_> = self
            .order
            .iter()
            .filter_map(|token| {
                let stream = self.open.remove(token)?;
                let stats = stream.stats_handle();
                Some((token, stats, tokio::spawn(stream.close())))
            })
            .collect();
        let mut first_error = None;
        for (token, stats, close) in closing {
            let closed = match deadline {
                None => Some(close.await),
                Some(at) => tokio::time::timeout_at(at, close).await.ok(),
            };
            let closed = match closed {
                Some(Ok(answer)) => Some(answer),
                Some(Err(_)) => Some(Err(plotstream_client::Error::Closed)),
                None => None,
            };
            match closed {
                Some(Ok(summary)) => report(
                    out,
                    token,
                    &summary.stats,
                    &format!("server answered {}", summary.status),
                )
                .map_err(Error::Output)?,
                Some(Err(e)) => {
                    report(out, token, &stats.get(), &format!("stopped: {e}"))
                        .map_err(Error::Output)?;
                    first_error.get_or_insert(e);
                }
                None => report(
                    out,
                    token,
                    &unanswered(stats.get(), self.acks.on()),
                    &format!(
                        "no answer within {:?} of the signal",
                        grace.unwrap_or_default()
                    ),
                )
                .map_err(Error::Output)?,
            }
        }
        match first_error {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

/// A stream's counts when its close was given up on. With acks, what was
/// not acknowledged is still queued, and counted so; without, every write
/// sent and not dropped may be lost (the answer that would have confirmed
/// them never came): an over-count, never an under-count.
fn unanswered(mut st: Stats, acks: bool) -> Stats {
    if !acks {
        st.unconfirmed = st.writes.saturating_sub(st.dropped + st.queued);
    }
    st
}

/// One stream's closing line. It never says "0 dropped" when writes went
/// out on a connection that ended unanswered: those may be lost, and it
/// says how many.
fn report(out: &mut dyn io::Write, token: &str, st: &Stats, end: &str) -> io::Result<()> {
    let lost = if st.may_be_lost() == 0 && st.writes > 0 && st.acked == st.writes {
        "every write acknowledged by the server".to_owned()
    } else if st.may_be_lost() == 0 {
        "every write sent on a connection the server answered".to_owned()
    } else {
        format!(
            "{} may be lost ({} dropped from the full queue, {} unconfirmed: sent on a connection that ended without an answer, {} never sent)",
            st.may_be_lost(),
            st.dropped,
            st.unconfirmed,
            st.queued
        )
    };
    writeln!(
        out,
        "{token}: {}, {}, {}, {}; {lost}; {end}",
        plural(st.writes, "write", "writes"),
        plural(st.heartbeats, "heartbeat", "heartbeats"),
        plural(st.bytes, "byte", "bytes"),
        plural(st.reconnects, "reconnect", "reconnects")
    )
}

/// Streams `demo`'s frames to `streams`, each when `pacer` says it is due,
/// until `count` frames (or for ever), counting them in `frames` (which is
/// right even when the caller stops this early). In real time, time-series
/// demos stamp x with the wall clock.
///
/// Into a figure that an earlier run fed (`resumed`), each trace this run
/// appends to starts with a [gap](Write::gap): its old points and its new
/// ones are two segments, not one line that jumps from where the last run
/// stopped to where this one starts.
pub(crate) async fn stream_demo(
    demo: &mut dyn Demo,
    streams: &mut Streams,
    pacer: &Pacer,
    count: Option<u64>,
    frames: &mut u64,
    resumed: bool,
) -> Result<(), Error> {
    let mut frame = Frame::default();
    let mut gap = resumed;
    while count.is_none_or(|n| *frames < n) {
        let clock = if pacer.is_real_time() {
            Clock::Wall(chrono::Local::now().naive_local())
        } else {
            Clock::Simulated
        };
        demo.next_frame(clock, &mut frame);
        pacer.wait_for(frame.t).await;
        if std::mem::take(&mut gap) {
            let appended = frame
                .writes
                .iter()
                .filter(|w| w.write.mode("x") == Some(Mode::Append));
            for w in appended {
                streams
                    .write(&demo.tokens()[w.token], &Write::gap())
                    .await?;
            }
        }
        for w in &frame.writes {
            streams.write(&demo.tokens()[w.token], &w.write).await?;
        }
        *frames += 1;
    }
    Ok(())
}

/// Runs `work` until it ends or a signal comes, whichever is first.
pub(crate) async fn until_stopped<F: Future<Output = Result<(), Error>>>(
    work: F,
    signals: &crate::signal::Signals,
) -> Result<(), Error> {
    tokio::select! {
        r = work => r,
        () = signals.stopped() => Ok(()),
    }
}

/// Runs a command's work on a runtime of its own, and then leaves at once:
/// tasks still running are dropped, and a blocking read still waiting
/// (`replay -` on a stdin that has not ended) does not hold the exit, as
/// dropping the runtime would.
pub(crate) fn block_on<T>(work: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let result = runtime.block_on(work);
    runtime.shutdown_background();
    result
}
