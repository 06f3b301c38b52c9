//! `GET /plot/{id}/events`: a figure's server-sent events, a `snapshot`
//! then `update`s; a fresh `snapshot` for a subscriber that fell behind; a
//! `streams` event after the first snapshot and whenever a stream feeding
//! the figure begins or ends.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use plotstream_protocol::{StreamsEvent, ViewerEvent};

use crate::fanout::{Received, Subscriber};
use crate::figure::FigureEntry;
use crate::metrics::Open;
use crate::{Error, Viewer};

/// One subscriber's state between events.
pub(crate) struct Subscription {
    figure: Arc<FigureEntry>,
    snapshot: Option<String>,
    /// The streams feeding the figure when it subscribed, said after the snapshot.
    streams: Option<u64>,
    updates: Subscriber,
    subscribed: Open,
}

impl Subscription {
    pub(crate) fn new(viewer: &Viewer, figure: Arc<FigureEntry>) -> Self {
        let (snapshot, updates) = figure.subscribe();
        Subscription {
            streams: Some(viewer.streams_feeding(&figure)),
            figure,
            snapshot: Some(snapshot.to_string()),
            updates,
            subscribed: Open::new(viewer, |m| &m.subscribers),
        }
    }

    /// The next event: the snapshot first, then updates; a fresh snapshot
    /// after falling behind; `None` when the figure is gone.
    pub(crate) async fn next(&mut self) -> Option<(&'static str, String)> {
        if let Some(snapshot) = self.snapshot.take() {
            return Some((ViewerEvent::SNAPSHOT, snapshot));
        }
        if let Some(connected) = self.streams.take() {
            let json = serde_json::to_string(&StreamsEvent { connected }).unwrap_or_default();
            return Some((ViewerEvent::STREAMS, json));
        }
        match self.updates.recv().await {
            Received::Event(message) => Some((message.kind, message.data.to_string())),
            Received::Lagged => {
                tracing::debug!(
                    figure = self.figure.id,
                    "subscriber behind: sending a snapshot"
                );
                self.subscribed
                    .viewer()
                    .metrics()
                    .resyncs
                    .fetch_add(1, Ordering::Relaxed);
                let (snapshot, updates) = self.figure.subscribe();
                self.updates = updates;
                Some((ViewerEvent::SNAPSHOT, snapshot.to_string()))
            }
            Received::Closed => None,
        }
    }
}

/// `GET /plot/{id}/events`.
pub(crate) async fn events(
    State(viewer): State<Viewer>,
    Path(id): Path<u64>,
) -> Result<Response, Error> {
    let figure = viewer.figure(id)?;
    let sub = Subscription::new(&viewer, figure);
    Ok(Sse::new(event_stream(sub))
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn event_stream(sub: Subscription) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(sub, |mut sub| async move {
        let (kind, data) = sub.next().await?;
        Some((Ok(Event::default().event(kind).data(data)), sub))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use plotstream_protocol::{Figure, StreamSpec, Trace, Write};

    /// A viewer with one figure of one trace fed by token "t", keeping 100 points.
    fn one_trace(config: Config) -> (Viewer, Arc<FigureEntry>) {
        let viewer = Viewer::new(config).expect("a valid config");
        let id = viewer
            .add_figure(Figure {
                data: vec![Trace::streamed("scatter", StreamSpec::new("t", 100))],
                ..Figure::default()
            })
            .expect("valid");
        let figure = viewer.figure(id).expect("exists");
        (viewer, figure)
    }

    fn put(viewer: &Viewer, w: Write) {
        viewer.apply("t", &[w]).expect("applies");
    }

    /// A subscriber more than `subscriber_buffer` updates behind gets one
    /// fresh snapshot holding everything, not the updates it missed.
    #[tokio::test]
    async fn a_subscriber_that_falls_behind_gets_a_fresh_snapshot() {
        let (viewer, figure) = one_trace(Config {
            subscriber_buffer: 2,
            update_interval: std::time::Duration::ZERO,
            ..Config::default()
        });
        let mut sub = Subscription::new(&viewer, figure);
        let (kind, first) = sub.next().await.expect("the first snapshot");
        assert_eq!(kind, "snapshot");
        assert!(!first.contains("\"x\""), "nothing streamed yet: {first}");
        let (kind, streams) = sub.next().await.expect("how many streams feed it");
        assert_eq!((kind, streams.as_str()), ("streams", r#"{"connected":0}"#));

        put(&viewer, Write::xy(0, 0));
        let (kind, update) = sub.next().await.expect("an update");
        assert_eq!(
            (kind, update.as_str()),
            (
                "update",
                r#"{"traces":[{"index":0,"append":{"x":[0],"y":[0]},"overwrite":{}}]}"#
            )
        );

        for i in 1..=5 {
            put(&viewer, Write::xy(i, i)); // five updates, two fit
        }
        let (kind, snapshot) = sub.next().await.expect("a snapshot");
        assert_eq!(kind, "snapshot");
        assert!(snapshot.contains(r#""x":[0,1,2,3,4,5]"#), "{snapshot}");
        put(&viewer, Write::xy(6, 6));
        let (kind, update) = sub.next().await.expect("updates again");
        assert_eq!(kind, "update");
        assert!(
            update.contains(r#""x":[6]"#),
            "only what came after the snapshot: {update}"
        );
        assert_eq!(viewer.metrics().resyncs.load(Ordering::Relaxed), 1);
        drop(sub);
        assert_eq!(viewer.metrics().subscribers.load(Ordering::Relaxed), 0);
    }

    /// Updates applied within the interval go out as one event; a new
    /// subscriber's snapshot holds what was pending, and the pending event
    /// reaches only those subscribed before.
    #[tokio::test]
    async fn updates_gathered_in_an_interval_go_out_as_one_event() {
        let (viewer, figure) = one_trace(Config {
            update_interval: std::time::Duration::from_secs(3600),
            ..Config::default()
        });
        let (_, mut early) = figure.subscribe();
        for i in 0..5 {
            put(&viewer, Write::xy(i, i));
        }
        assert!(early.try_recv().is_none(), "gathered, not sent yet");
        let (snapshot, mut late) = figure.subscribe();
        assert!(
            snapshot.to_string().contains(r#""x":[0,1,2,3,4]"#),
            "{snapshot}"
        );
        let Some(Received::Event(sent)) = early.try_recv() else {
            panic!("flushed for the earlier subscriber")
        };
        assert_eq!(
            &*sent.data,
            r#"{"traces":[{"index":0,"append":{"x":[0,1,2,3,4],"y":[0,1,2,3,4]},"overwrite":{}}]}"#
        );
        assert!(
            late.try_recv().is_none(),
            "the later one has them in its snapshot"
        );
        put(&viewer, Write::xy(5, 5));
        figure.flush();
        let Some(Received::Event(next)) = late.try_recv() else {
            panic!("new updates")
        };
        assert!(next.data.contains(r#""x":[5]"#), "{next:?}");
    }

    /// A deleted figure ends its subscribers' event streams.
    #[tokio::test]
    async fn deleting_a_figure_ends_its_event_streams() {
        let (viewer, figure) = one_trace(Config::default());
        let id = figure.id;
        let mut sub = Subscription::new(&viewer, figure);
        assert!(sub.next().await.is_some(), "the snapshot");
        assert!(sub.next().await.is_some(), "the streams");
        viewer.delete_figure(id).expect("deletes");
        assert!(sub.next().await.is_none());
    }
}
