//! [`Subscribers`]: every subscriber of a run, open before any stream
//! starts (so that they see every write), and what they saw at the end.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use plotstream_client::StreamOptions;
use plotstream_protocol::{Figure, StreamSpec, Trace};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::{Ctx, Direct, Seen, viewer};
use crate::checked::Checked;
use crate::engine::Shared;
use crate::report::{self, Loss, Percentiles};
use crate::{Error, Schedule, publish};

/// Streams per figure when subscribing: one event stream follows this many.
const PER_FIGURE: usize = 100;

/// How long a subscriber may take to be ready.
const READY_WITHIN: Duration = Duration::from_secs(30);

/// On a plotstream viewer (the plotly target, or any with `--subscribe`), one figure of up to 100 of
/// the run's streams each, so that no stream makes a stand-in figure of its
/// own: temporary ones (never saved, deleted at the end) unless
/// `--keep-figures`. Each figure's id and the stream positions it draws.
/// Nothing on other servers.
async fn make_figures(checked: &Checked<'_>) -> Result<Vec<(u64, std::ops::Range<usize>)>, Error> {
    let opts = checked.opts;
    let client = StreamOptions {
        ca_certs_pem: checked.ca_certs.clone(),
        ..StreamOptions::default()
    };
    // --subscribe reads a viewer (whatever the target, as http to a
    // viewer's root); the plotly target asks. A server that cannot be
    // reached is no viewer: its streams then say why they failed.
    let viewer = opts.subscribe
        || (checked.target == crate::Target::Plotly
            && plotstream_client::is_viewer(&opts.url, &client)
                .await
                .unwrap_or(false));
    if !viewer {
        return Ok(Vec::new());
    }
    let mut figures = Vec::new();
    for (g, group) in checked.positions.chunks(PER_FIGURE).enumerate() {
        let data = group
            .iter()
            .map(|&i| {
                Trace::streamed("scatter", StreamSpec::new(checked.token(i), 100))
                    .with("mode", serde_json::json!("lines"))
            })
            .collect();
        let title = format!("load test {}: streams from {}", opts.token_prefix, group[0]);
        let figure = Figure {
            data,
            layout: serde_json::json!({"title": {"text": title}})
                .as_object()
                .cloned(),
            ..Figure::default()
        };
        let created = if opts.keep_figures {
            plotstream_client::create_figure(&opts.url, &figure, &client).await?
        } else {
            plotstream_client::create_temporary_figure(&opts.url, &figure, &client).await?
        };
        figures.push((created.id, g * PER_FIGURE..g * PER_FIGURE + group.len()));
    }
    Ok(figures)
}

/// The run's subscribers, running.
pub(crate) struct Subscribers {
    viewers: Vec<JoinHandle<Result<viewer::Subscriber, Error>>>,
    directs: Vec<JoinHandle<Result<Direct, Error>>>,
    /// The figures made on a plotstream viewer for the run's streams.
    pub(crate) figures: Vec<u64>,
    stop: watch::Sender<bool>,
    /// Receivers per stream (`--subscribers`).
    k: u64,
    /// With more than one, when the first and the last got each write.
    spread: Option<Arc<super::spread::Spread>>,
}

/// What the subscribers saw, added up.
pub(crate) struct Heard {
    pub(crate) loss: Option<Loss>,
    pub(crate) latency: Option<Percentiles>,
    /// With several receivers per stream: first to last receiver, per write.
    pub(crate) spread: Option<Percentiles>,
}

impl Subscribers {
    /// Starts the subscribers that `checked` asks for (none, the viewer's,
    /// or the server's own) and waits until each is ready. They learn the
    /// schedule from `schedule` when the streams start.
    pub(crate) async fn start(
        checked: &Checked<'_>,
        shared: &Shared,
        schedule: &Arc<OnceLock<Arc<Schedule>>>,
        run: u64,
    ) -> Result<Self, Error> {
        let (stop, stop_rx) = watch::channel(false);
        let k = checked.opts.subscribers;
        let mut subs = Subscribers {
            viewers: Vec::new(),
            directs: Vec::new(),
            figures: Vec::new(),
            stop,
            k,
            spread: (k > 1 && checked.opts.subscribed()).then(|| {
                Arc::new(super::spread::Spread::new(
                    checked.positions.len(),
                    u32::try_from(k).unwrap_or(u32::MAX),
                ))
            }),
        };
        let figures = make_figures(checked).await?;
        subs.figures = figures.iter().map(|f| f.0).collect();
        if checked.opts.subscribe {
            subs.start_viewers(checked, &figures, shared, schedule, &stop_rx)
                .await?;
        }
        if let Some(url) = &checked.opts.subscribe_url {
            let ctx = Ctx {
                schedule: Arc::clone(schedule),
                stop: stop_rx,
                run,
                window: Arc::clone(&shared.latency_window),
                spread: subs.spread.clone(),
            };
            subs.start_directs(checked, url, &ctx).await?;
        }
        Ok(subs)
    }

    /// A reader of each figure's event stream.
    async fn start_viewers(
        &mut self,
        checked: &Checked<'_>,
        figures: &[(u64, std::ops::Range<usize>)],
        shared: &Shared,
        schedule: &Arc<OnceLock<Arc<Schedule>>>,
        stop: &watch::Receiver<bool>,
    ) -> Result<(), Error> {
        let addr = crate::viewer_addr(&checked.opts.url)?;
        let mut ready = Vec::new();
        let receivers = figures
            .iter()
            .flat_map(|f| std::iter::repeat_n(f, self.k as usize));
        for (id, positions) in receivers {
            let (ready_tx, ready_rx) = oneshot::channel();
            ready.push(ready_rx);
            let sub = viewer::Subscriber::new(
                positions.clone().collect(),
                Arc::clone(&shared.latency_window),
                self.spread.clone(),
            );
            self.viewers.push(tokio::spawn(viewer::follow(
                addr.clone(),
                *id,
                sub,
                Arc::clone(schedule),
                ready_tx,
                stop.clone(),
            )));
        }
        for r in ready {
            tokio::time::timeout(READY_WITHIN, r)
                .await
                .map_err(|_| Error::Subscribe("no snapshot from the viewer within 30 s".into()))?
                .map_err(|_| {
                    Error::Subscribe("the event stream ended before its snapshot".into())
                })?;
        }
        Ok(())
    }

    /// One connection per stream to the server's own subscribe side.
    async fn start_directs(
        &mut self,
        checked: &Checked<'_>,
        sub_url: &str,
        ctx: &Ctx,
    ) -> Result<(), Error> {
        let mut ready = Vec::new();
        let receivers = checked
            .positions
            .iter()
            .enumerate()
            .flat_map(|p| std::iter::repeat_n(p, self.k as usize));
        for (position, &i) in receivers {
            let (ready_tx, ready_rx) = oneshot::channel();
            ready.push(ready_rx);
            let token = checked.token(i);
            let url = publish::fill(sub_url, &token);
            let topic = publish::fill(&checked.opts.topic, &token);
            let (sub, ctx) = (Direct::new(position), ctx.clone());
            let follow = match sub_url.split_once("://").map(|(scheme, _)| scheme) {
                #[cfg(feature = "mqtt")]
                Some("mqtt") => tokio::spawn(super::follow::<super::mqtt::Mqtt>(
                    url, topic, sub, ctx, ready_tx,
                )),
                #[cfg(feature = "ws")]
                Some("ws") => tokio::spawn(super::follow::<super::ws::Ws>(
                    url, topic, sub, ctx, ready_tx,
                )),
                // The scheme was checked: http is what is left.
                _ => tokio::spawn(super::follow::<super::sse::Sse>(
                    url, topic, sub, ctx, ready_tx,
                )),
            };
            self.directs.push(follow);
        }
        for (r, d) in ready.into_iter().zip(&mut self.directs) {
            let ok = tokio::time::timeout(READY_WITHIN, r).await;
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
        Ok(())
    }

    /// Gives the subscribers a moment to see the last writes, stops them,
    /// and adds up what they saw against the `sent` writes: the loss and the
    /// end-to-end latency (none without subscribers).
    pub(crate) async fn finish(self, sent: u64) -> Result<Heard, Error> {
        if self.viewers.is_empty() && self.directs.is_empty() {
            return Ok(Heard {
                loss: None,
                latency: None,
                spread: None,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = self.stop.send(true);
        let failed = |_| Error::Subscribe("a subscriber task failed".into());
        let mut total = Loss::default();
        let mut hist = report::histogram();
        let mut add = |seen: &[Seen], latency: &hdrhistogram::Histogram<u64>| {
            for s in seen {
                total.received += s.received;
                total.duplicates += s.duplicates;
            }
            hist.add(latency).map_err(Error::from)
        };
        let mut resyncs = 0;
        for s in self.viewers {
            let sub = s.await.map_err(failed)??;
            resyncs += sub.resyncs;
            add(&sub.seen, &sub.latency)?;
        }
        for d in self.directs {
            let sub = d.await.map_err(failed)??;
            add(std::slice::from_ref(&sub.seen), &sub.latency)?;
        }
        total.resyncs = resyncs;
        // Every receiver should have had every write.
        total.receivers = self.k;
        total.lost = (sent * self.k).saturating_sub(total.received);
        let spread = match self.spread.and_then(Arc::into_inner) {
            Some(s) => {
                let (h, incomplete) = s.finish();
                total.spread_incomplete = incomplete;
                (!h.is_empty()).then(|| Percentiles::of(&h)).transpose()?
            }
            None => None,
        };
        Ok(Heard {
            loss: Some(total),
            latency: Some(Percentiles::of(&hist)?),
            spread,
        })
    }
}
