//! The pages: the list of figures, a live plot, its event stream, and the
//! static files (plotly.js is compiled in).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use futures_util::Stream;
use tokio::sync::broadcast::{self, error::RecvError};

use crate::Viewer;
use crate::state::FigureEntry;

/// The vendored plotly.js (`plotly.js-dist-min`, MIT): see `assets/plotly/README.md`.
pub(crate) const PLOTLY_VERSION: &str = "3.7.0";
static PLOTLY_JS: &[u8] = include_bytes!("../assets/plotly/plotly.min.js");
static PLOT_JS: &str = include_str!("../assets/plot.js");

/// Escapes text for HTML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `GET /`: the live figures.
pub(crate) async fn index(State(viewer): State<Viewer>) -> Html<String> {
    let mut rows = String::new();
    for f in viewer.figures() {
        let held = f.points();
        rows.push_str(&format!(
            "<tr><td><a href=\"/plot/{id}\">{title}</a></td><td>{traces}</td><td>{points}</td></tr>\n",
            id = f.id,
            title = escape(&f.title),
            traces = held.len(),
            points = held.iter().sum::<usize>(),
        ));
    }
    if rows.is_empty() {
        rows = "<tr><td colspan=\"3\">No figures yet: stream to this server, or POST a figure to /api/figures.</td></tr>".into();
    }
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>plotstream</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2em}}td,th{{padding:.3em 1em;text-align:left}}</style></head>\
         <body><h1>plotstream</h1><p>Live figures on this viewer (plotly.js {PLOTLY_VERSION}).</p>\
         <table><tr><th>figure</th><th>traces</th><th>points held</th></tr>\n{rows}</table>\
         <p><a href=\"/metrics\">metrics</a> · <a href=\"/api/figures\">figures as JSON</a></p></body></html>\n"
    ))
}

/// `GET /plot/{id}`: one live plot.
pub(crate) async fn plot(State(viewer): State<Viewer>, Path(id): Path<u64>) -> Response {
    let Some(f) = viewer.figure(id) else {
        return (StatusCode::NOT_FOUND, format!("no figure {id}\n")).into_response();
    };
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title} · plotstream</title>\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <style>html,body{{margin:0;height:100%;font-family:system-ui,sans-serif}}\
         #plot{{width:100%;height:calc(100% - 2em)}}\
         #status{{height:2em;line-height:2em;padding:0 1em;font:12px monospace;color:#555}}</style>\
         <script src=\"/static/plotly.min.js\"></script></head>\
         <body><div id=\"plot\"></div>\
         <div id=\"status\" data-state=\"connecting\" data-points=\"0\" data-updates=\"0\">connecting…</div>\
         <script src=\"/static/plot.js\" data-figure=\"{id}\"></script></body></html>\n",
        title = escape(&f.title),
    ))
    .into_response()
}

/// Keeps the subscriber gauge right however the event stream ends.
struct Subscribed(Viewer);

impl Drop for Subscribed {
    fn drop(&mut self) {
        self.0.metrics().subscribers.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Subscription {
    figure: Arc<FigureEntry>,
    snapshot: Option<String>,
    updates: broadcast::Receiver<Arc<str>>,
    _subscribed: Subscribed,
}

/// `GET /plot/{id}/events`: server-sent events, a `snapshot` then `update`s.
/// A subscriber that falls behind by more than the buffer gets a fresh
/// `snapshot` instead of an ever-growing queue.
pub(crate) async fn events(State(viewer): State<Viewer>, Path(id): Path<u64>) -> Response {
    let Some(figure) = viewer.figure(id) else {
        return (StatusCode::NOT_FOUND, format!("no figure {id}\n")).into_response();
    };
    let (snapshot, updates) = figure.subscribe();
    viewer.metrics().subscribers.fetch_add(1, Ordering::Relaxed);
    let sub = Subscription {
        figure,
        snapshot: Some(snapshot.to_string()),
        updates,
        _subscribed: Subscribed(viewer),
    };
    Sse::new(event_stream(sub))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn event_stream(sub: Subscription) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(sub, |mut sub| async move {
        let (kind, data) = next_message(&mut sub).await?;
        Some((Ok(Event::default().event(kind).data(data)), sub))
    })
}

/// The subscriber's next event: its snapshot first, then updates; a fresh
/// snapshot when it fell behind; `None` when the figure is gone.
async fn next_message(sub: &mut Subscription) -> Option<(&'static str, String)> {
    if let Some(snapshot) = sub.snapshot.take() {
        return Some(("snapshot", snapshot));
    }
    match sub.updates.recv().await {
        Ok(update) => Some(("update", update.to_string())),
        Err(RecvError::Lagged(missed)) => {
            tracing::debug!(
                figure = sub.figure.id,
                missed,
                "subscriber behind: sending a snapshot"
            );
            let (snapshot, updates) = sub.figure.subscribe();
            sub.updates = updates;
            Some(("snapshot", snapshot.to_string()))
        }
        Err(RecvError::Closed) => None,
    }
}

/// `GET /static/plotly.min.js`.
pub(crate) async fn plotly_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        PLOTLY_JS,
    )
        .into_response()
}

/// `GET /static/plot.js`: the page's script.
pub(crate) async fn plot_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        PLOT_JS,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use plotstream_protocol::{Figure, StreamSpec, Trace, Write};

    use crate::state::TokenEntry;

    /// A figure with one trace fed by token "t", keeping 100 points.
    fn one_trace(viewer: &Viewer) -> (Arc<FigureEntry>, Arc<TokenEntry>) {
        let id = viewer
            .add_figure(Figure {
                data: vec![Trace::streamed("scatter", StreamSpec::new("t", 100))],
                ..Figure::default()
            })
            .expect("valid");
        let figure = viewer.figure(id).expect("exists");
        let token = viewer.token("t").expect("registered");
        (figure, token)
    }

    /// A subscriber more than `subscriber_buffer` updates behind gets one
    /// fresh snapshot holding everything, not the updates it missed.
    #[tokio::test]
    async fn a_subscriber_that_falls_behind_gets_a_fresh_snapshot() {
        let viewer = Viewer::new(Config {
            subscriber_buffer: 2,
            update_interval: std::time::Duration::ZERO,
            ..Config::default()
        });
        let (figure, token) = one_trace(&viewer);
        let (snapshot, updates) = figure.subscribe();
        viewer.metrics().subscribers.fetch_add(1, Ordering::Relaxed);
        let mut sub = Subscription {
            figure,
            snapshot: Some(snapshot.to_string()),
            updates,
            _subscribed: Subscribed(viewer.clone()),
        };
        let (kind, first) = next_message(&mut sub).await.expect("the first snapshot");
        assert_eq!(kind, "snapshot");
        assert!(!first.contains("\"x\""), "nothing streamed yet: {first}");

        token.apply(&[Write::xy(0, 0)]);
        let (kind, update) = next_message(&mut sub).await.expect("an update");
        assert_eq!(
            (kind, update.as_str()),
            (
                "update",
                r#"{"traces":[{"append":{"x":[0],"y":[0]},"index":0,"overwrite":{}}]}"#
            )
        );

        for i in 1..=5 {
            token.apply(&[Write::xy(i, i)]); // five updates, two fit
        }
        let (kind, snapshot) = next_message(&mut sub).await.expect("a snapshot");
        assert_eq!(kind, "snapshot");
        assert!(snapshot.contains(r#""x":[0,1,2,3,4,5]"#), "{snapshot}");
        token.apply(&[Write::xy(6, 6)]);
        let (kind, update) = next_message(&mut sub).await.expect("updates again");
        assert_eq!(kind, "update");
        assert!(
            update.contains(r#""x":[6]"#),
            "only what came after the snapshot: {update}"
        );
        drop(sub);
        assert_eq!(viewer.metrics().subscribers.load(Ordering::Relaxed), 0);
    }

    /// Updates applied within the interval go out as one event; a new
    /// subscriber's snapshot holds what was pending, and the pending event
    /// reaches only those subscribed before.
    #[tokio::test]
    async fn updates_gathered_in_an_interval_go_out_as_one_event() {
        let viewer = Viewer::new(Config {
            update_interval: std::time::Duration::from_secs(3600),
            ..Config::default()
        });
        let (figure, token) = one_trace(&viewer);
        let (_, mut early) = figure.subscribe();
        for i in 0..5 {
            token.apply(&[Write::xy(i, i)]);
        }
        assert!(early.try_recv().is_err(), "gathered, not sent yet");
        let (snapshot, mut late) = figure.subscribe();
        assert!(
            snapshot.to_string().contains(r#""x":[0,1,2,3,4]"#),
            "{snapshot}"
        );
        let sent = early
            .try_recv()
            .expect("flushed for the earlier subscriber");
        assert_eq!(
            &*sent,
            r#"{"traces":[{"append":{"x":[0,1,2,3,4],"y":[0,1,2,3,4]},"index":0,"overwrite":{}}]}"#
        );
        assert!(
            late.try_recv().is_err(),
            "the later one has them in its snapshot"
        );
        token.apply(&[Write::xy(5, 5)]);
        figure.flush();
        assert!(late.try_recv().expect("new updates").contains(r#""x":[5]"#));
    }
}
