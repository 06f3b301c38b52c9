//! `POST /`: the Plotly streaming protocol.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use plotstream_protocol::{Error as ProtocolError, Line, LineDecoder, TOKEN_HEADER, Write};

use crate::Viewer;
use crate::state::{ErrorKind, TokenEntry};

/// Keeps the open-stream counts right however the handler ends.
struct Connected {
    viewer: Viewer,
    token: Arc<TokenEntry>,
}

impl Connected {
    fn new(viewer: &Viewer, token: &Arc<TokenEntry>) -> Self {
        viewer
            .metrics()
            .open_streams
            .fetch_add(1, Ordering::Relaxed);
        token.connections.fetch_add(1, Ordering::Relaxed);
        Connected {
            viewer: viewer.clone(),
            token: Arc::clone(token),
        }
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.viewer
            .metrics()
            .open_streams
            .fetch_sub(1, Ordering::Relaxed);
        self.token.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// An answer to a stream. The connection closes after it: a stream's
/// connection is done once answered, and Plotly's Python client reads its
/// answer until the server closes.
fn answer(status: StatusCode, message: String) -> Response {
    (status, [(header::CONNECTION, "close")], message + "\n").into_response()
}

/// Takes one stream: decodes lines as they arrive and applies each chunk's
/// writes at once. Bad input ends the stream with a clear answer, keeping
/// every write before it.
pub(crate) async fn ingest(
    State(viewer): State<Viewer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let metrics = viewer.metrics();
    let Some(token) = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()) else {
        metrics.error(ErrorKind::MissingToken);
        return answer(
            StatusCode::BAD_REQUEST,
            format!("missing the {TOKEN_HEADER} header: a stream needs a token"),
        );
    };
    let Some(entry) = viewer.token(token) else {
        metrics.error(ErrorKind::UnknownToken);
        return answer(
            StatusCode::NOT_FOUND,
            format!(
                "unknown stream token \"{token}\": create a figure whose trace has stream.token \"{token}\" \
                 (POST /api/figures), or run the viewer open (plotstream serve --open)"
            ),
        );
    };
    // A newer connection with this token ends this one.
    entry.generation.send_modify(|g| *g += 1);
    let mut taken_over = entry.generation.subscribe();
    taken_over.mark_unchanged();
    let _connected = Connected::new(&viewer, &entry);

    let config = viewer.config();
    let mut decoder = LineDecoder::with_max_line_len(config.max_line_len);
    let mut writes: Vec<Write> = Vec::new();
    let mut heartbeats = 0u64;
    let mut body = body;
    loop {
        let frame = tokio::select! {
            frame = tokio::time::timeout(config.idle_timeout, body.frame()) => frame,
            _ = taken_over.changed() => {
                metrics.error(ErrorKind::TakenOver);
                return answer(
                    StatusCode::CONFLICT,
                    format!("stream token \"{token}\" was taken over by a newer connection"),
                );
            }
        };
        let data = match frame {
            Err(_) => {
                metrics.error(ErrorKind::IdleTimeout);
                return answer(
                    StatusCode::REQUEST_TIMEOUT,
                    format!(
                        "stream \"{token}\" closed: idle for {} s (no write, no heartbeat)",
                        config.idle_timeout.as_secs_f64()
                    ),
                );
            }
            // The body's end; or an error reading it, which is how hyper
            // reports the Python client's close (`\r\n0\r\n\r\n`, a stray
            // CRLF before the last chunk) after every data frame: either
            // way the stream is over and everything before it is kept.
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                tracing::debug!(token, "stream body ended: {e}");
                break;
            }
            Ok(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
        };
        metrics
            .bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        let result = decoder.feed(&data, |line| collect(line, &mut writes, &mut heartbeats));
        apply(&viewer, &entry, &mut writes, &mut heartbeats);
        if let Err(e) = result {
            return refuse(&viewer, &entry, &e);
        }
    }
    let result = decoder.finish(|line| collect(line, &mut writes, &mut heartbeats));
    apply(&viewer, &entry, &mut writes, &mut heartbeats);
    if let Err(e) = result {
        return refuse(&viewer, &entry, &e);
    }
    answer(StatusCode::OK, "ok".to_owned())
}

fn collect(
    line: Line<'_>,
    writes: &mut Vec<Write>,
    heartbeats: &mut u64,
) -> Result<(), ProtocolError> {
    match line.parse_write() {
        None => *heartbeats += 1,
        Some(write) => writes.push(write?),
    }
    Ok(())
}

fn apply(viewer: &Viewer, entry: &TokenEntry, writes: &mut Vec<Write>, heartbeats: &mut u64) {
    let metrics = viewer.metrics();
    entry.apply(writes);
    metrics
        .writes
        .fetch_add(writes.len() as u64, Ordering::Relaxed);
    metrics.heartbeats.fetch_add(*heartbeats, Ordering::Relaxed);
    writes.clear();
    *heartbeats = 0;
}

fn refuse(viewer: &Viewer, entry: &TokenEntry, e: &ProtocolError) -> Response {
    entry.errors.fetch_add(1, Ordering::Relaxed);
    let (status, kind) = match e {
        ProtocolError::LineTooLong { .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, ErrorKind::LineTooLong)
        }
        _ => (StatusCode::BAD_REQUEST, ErrorKind::InvalidWrite),
    };
    viewer.metrics().error(kind);
    answer(status, format!("stream \"{}\": {e}", entry.token))
}
