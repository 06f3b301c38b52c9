//! Pacing and the set of streams that `stream`, `replay` and [`live`](crate::live) share.

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use plotstream_client::{Stats, Stream, StreamOptions};
use plotstream_demos::{Clock, Demo, Frame};
use plotstream_protocol::{Figure, Write};
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
                    url: format!("{base}/plot/{id}"),
                    made: false,
                }),
                // The page under the URL given (https through a proxy
                // stays https), not the viewer's own idea of its origin.
                None => Some(DemoFigure {
                    url: format!(
                        "{base}/plot/{}",
                        plotstream_client::create_figure(url, figure, opts)
                            .await?
                            .id
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

/// One [`Stream`] per token, opened on first use.
#[derive(Debug)]
pub(crate) struct Streams {
    url: String,
    opts: StreamOptions,
    open: HashMap<String, Stream>,
    order: Vec<String>,
}

impl Streams {
    pub(crate) fn new(url: &str, opts: StreamOptions) -> Self {
        Streams {
            url: url.to_owned(),
            opts,
            open: HashMap::new(),
            order: Vec::new(),
        }
    }

    /// Sends `write` on `token`'s stream, connecting it first if need be.
    pub(crate) async fn write(&mut self, token: &str, write: &Write) -> Result<(), Error> {
        if !self.open.contains_key(token) {
            let stream = Stream::connect(&self.url, token, self.opts.clone()).await?;
            self.open.insert(token.to_owned(), stream);
            self.order.push(token.to_owned());
        }
        Ok(self.open[token].write(write).await?)
    }

    /// Closes every stream, in the order they opened, and reports each.
    pub(crate) async fn close(mut self, out: &mut (dyn io::Write + Send)) -> Result<(), Error> {
        let mut first_error = None;
        for token in &self.order {
            let Some(stream) = self.open.remove(token) else {
                continue;
            };
            let stats = stream.stats_handle();
            match stream.close().await {
                Ok(summary) => report(
                    out,
                    token,
                    &summary.stats,
                    &format!("server answered {}", summary.status),
                )
                .map_err(Error::Output)?,
                Err(e) => {
                    report(out, token, &stats.get(), &format!("stopped: {e}"))
                        .map_err(Error::Output)?;
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
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
        "{token}: {} writes, {} heartbeats, {} bytes, {} reconnects; {lost}; {end}",
        st.writes, st.heartbeats, st.bytes, st.reconnects
    )
}

/// Streams `demo`'s frames to `streams`, each when `pacer` says it is due,
/// until `count` frames (or for ever), counting them in `frames` (which is
/// right even when the caller stops this early). In real time, time-series
/// demos stamp x with the wall clock.
pub(crate) async fn stream_demo(
    demo: &mut dyn Demo,
    streams: &mut Streams,
    pacer: &Pacer,
    count: Option<u64>,
    frames: &mut u64,
) -> Result<(), Error> {
    let mut frame = Frame::default();
    while count.is_none_or(|n| *frames < n) {
        let clock = if pacer.is_real_time() {
            Clock::Wall(chrono::Local::now().naive_local())
        } else {
            Clock::Simulated
        };
        demo.next_frame(clock, &mut frame);
        pacer.wait_for(frame.t).await;
        for w in &frame.writes {
            streams.write(&demo.tokens()[w.token], &w.write).await?;
        }
        *frames += 1;
    }
    Ok(())
}

/// Runs `work` until it ends or Ctrl-C, whichever comes first.
pub(crate) async fn until_ctrl_c<F: Future<Output = Result<(), Error>>>(
    work: F,
) -> Result<(), Error> {
    tokio::select! {
        r = work => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

/// A runtime for the streaming commands.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)
}
