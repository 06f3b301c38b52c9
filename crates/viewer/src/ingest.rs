//! `POST /`: the Plotly streaming protocol.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use plotstream_protocol::{Line, LineDecoder, TOKEN_HEADER, Write};
use tokio::time::Instant;

use crate::ack::{self, Claim};
use crate::figure::TokenEntry;
use crate::metrics::Open;
use crate::server::ConnTail;
use crate::store::StreamMark;
use crate::{Error, Viewer};

/// Keeps the token's connection count right however the handler ends,
/// and tells its figures' subscribers when a stream begins and ends.
struct Connected(Viewer, Arc<TokenEntry>);

impl Connected {
    fn new(viewer: &Viewer, token: &Arc<TokenEntry>) -> Self {
        token.connections.fetch_add(1, Ordering::Relaxed);
        viewer.streams_changed(token);
        Connected(viewer.clone(), Arc::clone(token))
    }
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.1.connections.fetch_sub(1, Ordering::Relaxed);
        self.0.streams_changed(&self.1);
    }
}

/// Takes one stream: decodes lines as they arrive and applies each chunk's
/// writes at once. Bad input ends the stream with a clear answer, keeping
/// every write before it. The connection closes after the answer: Plotly's
/// Python client reads its answer until the server closes.
///
/// A client that asks for acknowledgements (`plotstream-ack: 1`) gets its
/// answer's head at once and ack lines while it writes ([`crate::ack`]).
pub(crate) async fn ingest(
    State(viewer): State<Viewer>,
    tail: Option<Extension<ConnTail>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let tail = tail.map(|Extension(t)| t);
    let answer = match ack::requested(&headers) {
        Ok(None) => take(&viewer, tail, &headers, body)
            .await
            .map(|()| (StatusCode::OK, [(header::CONNECTION, "close")], "ok\n").into_response()),
        Ok(Some(resume)) => acknowledged(&viewer, tail, &headers, resume.as_ref(), body),
        Err(e) => Err(e),
    };
    answer.unwrap_or_else(IntoResponse::into_response)
}

/// The token the request streams to.
fn token_entry(viewer: &Viewer, headers: &HeaderMap) -> Result<Arc<TokenEntry>, Error> {
    let token = headers
        .get(TOKEN_HEADER)
        .ok_or(Error::MissingToken)?
        .to_str()
        .map_err(|_| Error::MissingToken)?;
    viewer.token(token)
}

async fn take(
    viewer: &Viewer,
    tail: Option<ConnTail>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(), Error> {
    let entry = token_entry(viewer, headers)?;
    stream(viewer, &entry, tail, body, None).await
}

/// An acknowledged stream: its claim on the token's stream is made (or
/// refused) before the answer's head, and its ingest runs in the answer's
/// body, which sends the acks.
fn acknowledged(
    viewer: &Viewer,
    tail: Option<ConnTail>,
    headers: &HeaderMap,
    resume: Option<&plotstream_protocol::Resume>,
    body: Body,
) -> Result<Response, Error> {
    let entry = token_entry(viewer, headers)?;
    let claim = entry.resume.claim(resume);
    let progress = Arc::clone(&claim.progress);
    let ingest_viewer = viewer.clone();
    let ingest: ack::Ingest =
        Box::pin(async move { stream(&ingest_viewer, &entry, tail, body, Some(&claim)).await });
    Ok(ack::answer(viewer.clone(), progress, ingest))
}

/// Why decoding a chunk stopped.
enum Stop {
    Protocol(plotstream_protocol::Error),
    Refused(Error),
}

impl From<plotstream_protocol::Error> for Stop {
    fn from(e: plotstream_protocol::Error) -> Self {
        Stop::Protocol(e)
    }
}

/// Takes one stream's lines ([`take_lines`]), counting a stream that ends
/// in an error against its token.
async fn stream(
    viewer: &Viewer,
    entry: &Arc<TokenEntry>,
    tail: Option<ConnTail>,
    body: Body,
    claim: Option<&Claim>,
) -> Result<(), Error> {
    let result = take_lines(viewer, entry, tail, body, claim).await;
    if result.is_err() {
        entry.errors.fetch_add(1, Ordering::Relaxed);
    }
    result
}

async fn take_lines(
    viewer: &Viewer,
    entry: &Arc<TokenEntry>,
    tail: Option<ConnTail>,
    mut body: Body,
    claim: Option<&Claim>,
) -> Result<(), Error> {
    // A newer connection with this token ends this one.
    entry.generation.send_modify(|g| *g += 1);
    let mut ended = entry.generation.subscribe();
    ended.mark_unchanged();
    let _connected = (
        Connected::new(viewer, entry),
        Open::new(viewer, |m| &m.open_streams),
    );
    viewer.metrics().streams.fetch_add(1, Ordering::Relaxed);

    let token = &entry.token;
    let config = viewer.config();
    let mut decoder = LineDecoder::with_max_line_len(config.max_line_len);
    let mut batch = Batch {
        skip: claim.map_or(0, |c| c.skip),
        ..Batch::default()
    };
    // One timer and one watch for the whole stream, not one of each per
    // chunk: at one write a chunk (chart_studio's way, or any paced
    // client) making and dropping them was a tenth of the viewer's time.
    // The idle timer is moved on only when it fires early.
    let taken_over = ended.changed();
    tokio::pin!(taken_over);
    let idle = tokio::time::sleep(config.idle_timeout);
    tokio::pin!(idle);
    let mut last_frame = Instant::now();
    loop {
        let frame = tokio::select! {
            biased;
            frame = body.frame() => frame,
            _ = &mut taken_over => {
                return Err(if entry.is_removed() {
                    Error::FigureDeleted { token: token.clone() }
                } else {
                    Error::TakenOver { token: token.clone() }
                });
            }
            () = &mut idle => {
                let due = last_frame + config.idle_timeout;
                if Instant::now() < due {
                    idle.as_mut().reset(due);
                    continue;
                }
                return Err(Error::IdleTimeout {
                    token: token.clone(),
                    timeout: config.idle_timeout,
                });
            }
        };
        last_frame = Instant::now();
        let data = match frame {
            None => break,
            Some(Err(e)) => {
                ended_by(&e, token, tail.as_ref(), &decoder)?;
                break;
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
        };
        take_chunk(viewer, entry, claim, &mut decoder, &mut batch, &data).await?;
    }
    let result = decoder.finish(|line| batch.collect(viewer, entry, line));
    batch.apply(viewer, entry, claim)?;
    result.map_err(|stop| stop.into_error(token))
}

/// A body error: the stream's clean end (`Ok`: Plotly's Python client's
/// close, or the client gone), or the broken framing it is answered with.
fn ended_by(
    e: &axum::Error,
    token: &str,
    tail: Option<&ConnTail>,
    decoder: &LineDecoder,
) -> Result<(), Error> {
    match body_fault(e, tail, decoder.pending()) {
        Fault::CleanEnd => Ok(()),
        Fault::Gone => {
            tracing::debug!(token, "stream connection dropped: {e}");
            Ok(())
        }
        Fault::Malformed(reason) => Err(Error::MalformedBody {
            token: token.to_owned(),
            lines: decoder.lines_ended(),
            reason,
        }),
    }
}

/// One chunk of the body: its lines taken and applied, counted, and on an
/// acknowledged stream its bytes noted (and the ack let out when due).
async fn take_chunk(
    viewer: &Viewer,
    entry: &TokenEntry,
    claim: Option<&Claim>,
    decoder: &mut LineDecoder,
    batch: &mut Batch,
    data: &[u8],
) -> Result<(), Error> {
    viewer
        .metrics()
        .bytes
        .fetch_add(data.len() as u64, Ordering::Relaxed);
    let result = decoder.feed(data, |line| batch.collect(viewer, entry, line));
    batch.apply(viewer, entry, claim)?;
    result.map_err(|stop| stop.into_error(&entry.token))?;
    if let Some(claim) = claim {
        claim.progress.input(data.len());
        if claim.progress.ack_due() {
            // Lets the answer's body, which polls this, send the ack.
            tokio::task::yield_now().await;
        }
    }
    Ok(())
}

impl Stop {
    fn into_error(self, token: &str) -> Error {
        match self {
            Stop::Protocol(source) => Error::InvalidWrite {
                token: token.to_owned(),
                source,
            },
            Stop::Refused(e) => e,
        }
    }
}

/// The writes of one chunk, admitted, waiting to be applied together.
#[derive(Default)]
struct Batch {
    writes: Vec<Write>,
    heartbeats: u64,
    /// Lines (writes and heartbeats) collected.
    lines: u64,
    /// Lines still to pass over: a resumed stream's, taken before.
    skip: u64,
}

impl Batch {
    fn collect(&mut self, viewer: &Viewer, entry: &TokenEntry, line: Line<'_>) -> Result<(), Stop> {
        if self.skip > 0 {
            self.skip -= 1;
            viewer
                .metrics()
                .lines_skipped
                .fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        match line.parse_write() {
            None => self.heartbeats += 1,
            Some(write) => {
                let write = write?;
                viewer
                    .admit(entry, line.number(), &write)
                    .map_err(Stop::Refused)?;
                self.writes.push(write);
            }
        }
        // Counted once taken: a refused line is not.
        self.lines += 1;
        Ok(())
    }

    /// Applies what was collected; on an acknowledged stream, counted in
    /// the same step, and only while this connection owns the stream.
    fn apply(
        &mut self,
        viewer: &Viewer,
        entry: &TokenEntry,
        claim: Option<&Claim>,
    ) -> Result<(), Error> {
        let lines = std::mem::take(&mut self.lines);
        let Some(claim) = claim else {
            self.apply_now(viewer, entry, None);
            viewer.keep_within_memory();
            return Ok(());
        };
        let applied = entry.resume.apply(&entry.token, claim, lines, |mark| {
            self.apply_now(viewer, entry, mark);
        });
        // Outside the stream's claim: this takes other figures' locks.
        viewer.keep_within_memory();
        if applied.is_err() {
            self.writes.clear();
            self.heartbeats = 0;
        }
        applied
    }

    fn apply_now(&mut self, viewer: &Viewer, entry: &TokenEntry, mark: Option<&StreamMark>) {
        let metrics = viewer.metrics();
        entry.apply(&self.writes, mark);
        metrics
            .writes
            // Release: a save that reads this count sees the figures these
            // writes made dirty (see `Viewer::save`).
            .fetch_add(self.writes.len() as u64, Ordering::Release);
        metrics
            .heartbeats
            .fetch_add(self.heartbeats, Ordering::Relaxed);
        self.writes.clear();
        self.heartbeats = 0;
    }
}

/// What an error reading the request body means.
#[derive(Debug, PartialEq, Eq)]
enum Fault {
    /// Plotly's Python client's close: every line before it stands.
    CleanEnd,
    /// The client went away; nobody is there to answer.
    Gone,
    /// The HTTP framing is broken: answer 400 with the reason.
    Malformed(String),
}

/// hyper's words for a chunk-size line that does not start with a hex digit.
const NO_SIZE_DIGIT: &str = "missing size digit";

/// Tells a body error apart: the Python client's close, a client that went
/// away, or broken framing.
///
/// Plotly's Python client ends a stream with `\r\n0\r\n\r\n`: a stray CRLF
/// where the next chunk's size belongs, then the zero chunk. hyper reads the
/// CRLF as a size line without a digit, the same error as a size of `zz` or
/// `-1`. What tells them apart is the connection's last bytes ([`ConnTail`]):
/// the close ends the input, so they are exactly the close sequence after a
/// chunk's CRLF. Without a tail (the app served by another server) the
/// error at a line boundary is taken as the close, as before.
fn body_fault(e: &axum::Error, tail: Option<&ConnTail>, pending: usize) -> Fault {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut io_fault = None;
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            io_fault = Some(io);
        }
        source = s.source();
    }
    let Some(io) = io_fault else {
        return Fault::Gone;
    };
    match io.kind() {
        std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => {}
        _ => return Fault::Gone,
    }
    let reason = io.to_string();
    if reason.contains(NO_SIZE_DIGIT) && pending == 0 {
        let closed_as_python_does = match tail {
            Some(t) => t.ends_with(b"\r\n\r\n0\r\n\r\n"),
            None => true,
        };
        if closed_as_python_does {
            return Fault::CleanEnd;
        }
    }
    Fault::Malformed(reason.to_lowercase())
}
