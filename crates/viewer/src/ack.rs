//! Acknowledged streams (`plotstream-ack: 1`), plotstream's extension of
//! the protocol: the answer's head goes out at once, then `{"acked": N}`
//! lines while the client writes; with `plotstream-resume` a stream goes on
//! after a drop, its lines taken once.
//!
//! A token remembers the last acknowledged stream that wrote to it
//! ([`Resumable`]): its id and the lines taken on it. One per token, so the
//! memory is bounded by the figure limit. A resume of that stream skips the
//! lines the viewer has; a stream it does not know (a new one, or any after
//! a restart) starts from what the client says was acknowledged.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::Frame;
use plotstream_protocol::{ACK_BYTES, ACK_HEADER, ACK_INTERVAL, Ack, RESUME_HEADER, Resume};
use tokio::time::{Instant, Sleep};

use crate::store::StreamMark;
use crate::{Error, Viewer};

/// What a request asks of acknowledgements: nothing (`None`), or acks, for
/// the stream it names if it names one.
pub(crate) fn requested(headers: &HeaderMap) -> Result<Option<Option<Resume>>, Error> {
    let bad = |reason: String| Error::BadAckHeaders { reason };
    let resume = match headers.get(RESUME_HEADER) {
        None => None,
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| bad(format!("{RESUME_HEADER} is not visible ASCII")))?;
            Some(Resume::parse(v).map_err(|e| bad(e.to_string()))?)
        }
    };
    match headers.get(ACK_HEADER).map(HeaderValue::as_bytes) {
        None if resume.is_some() => Err(bad(format!(
            "{RESUME_HEADER} resumes an acknowledged stream: send {ACK_HEADER}: 1 with it"
        ))),
        None => Ok(None),
        Some(b"1") => Ok(Some(resume)),
        Some(_) => Err(bad(format!(
            "{ACK_HEADER} asks for acknowledgements with the value 1, and takes no other"
        ))),
    }
}

/// The last acknowledged stream of a token, and who may apply its lines.
#[derive(Debug, Default)]
pub(crate) struct Resumable(Mutex<Slot>);

#[derive(Debug, Default)]
struct Slot {
    /// The stream's id; `None` until a stream named one.
    stream_id: Option<String>,
    /// Lines taken on it, over all its connections.
    lines: u64,
    /// The connection that may apply lines: each new acknowledged
    /// connection of the token takes over.
    owner: u64,
}

/// One acknowledged connection's place in its stream.
#[derive(Debug)]
pub(crate) struct Claim {
    owner: u64,
    /// A connection that named no stream: its lines are its own, counted
    /// from 0, and the token's resumable stream is left as it was.
    anonymous: bool,
    /// Lines at the start of this connection the viewer has already taken.
    pub(crate) skip: u64,
    /// The lines taken on the stream so far, for the acks.
    pub(crate) progress: Arc<Progress>,
}

/// What the ingest has done, read by the answer's body.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Lines taken on the stream, over all its connections.
    lines: AtomicU64,
    /// Bytes of input on this connection.
    bytes: AtomicU64,
    /// `bytes` when the last ack went out.
    bytes_acked: AtomicU64,
}

impl Progress {
    /// Counts a chunk of input.
    pub(crate) fn input(&self, bytes: usize) {
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Whether enough input came since the last ack that the next is due
    /// now, without waiting for the interval.
    pub(crate) fn ack_due(&self) -> bool {
        let bytes = self.bytes.load(Ordering::Relaxed);
        bytes - self.bytes_acked.load(Ordering::Relaxed) >= ACK_BYTES as u64
    }
}

impl Resumable {
    /// Puts back a stream's mark from the store: where the points restored
    /// end. A token whose figures were saved at different marks resumes
    /// from the least: a write is applied again rather than lost.
    pub(crate) fn restore(&self, mark: &StreamMark) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.stream_id.as_deref() == Some(mark.stream_id.as_str()) {
            slot.lines = slot.lines.min(mark.lines);
        } else {
            slot.stream_id = Some(mark.stream_id.clone());
            slot.lines = mark.lines;
        }
    }

    /// Takes over the token's acknowledged stream for a new connection.
    pub(crate) fn claim(&self, resume: Option<&Resume>) -> Claim {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let skip = match resume {
            // The stream resumes at a line this viewer has: it passes over
            // the lines it took already.
            Some(r)
                if slot.stream_id.as_deref() == Some(r.stream_id.as_str())
                    && r.acked <= slot.lines =>
            {
                slot.lines - r.acked
            }
            // A stream this viewer does not know counts from the line the
            // client resumes at (acknowledged by a viewer before a restart).
            // So does one that resumes past what this viewer took: its
            // client dropped lines from a full buffer, and counted them.
            Some(r) => {
                slot.stream_id = Some(r.stream_id.clone());
                slot.lines = r.acked;
                0
            }
            None => 0,
        };
        slot.owner += 1;
        Claim {
            owner: slot.owner,
            anonymous: resume.is_none(),
            skip,
            progress: Arc::new(Progress {
                lines: AtomicU64::new(if resume.is_some() { slot.lines } else { 0 }),
                ..Progress::default()
            }),
        }
    }

    /// Applies `lines` lines of `claim`'s connection with `apply`, unless a
    /// newer connection has taken the stream over: then nothing is applied,
    /// so no line is taken twice.
    ///
    /// `apply` gets the stream's mark with these lines counted, to keep
    /// beside the points they reach (a stream without an id has none).
    pub(crate) fn apply(
        &self,
        token: &str,
        claim: &Claim,
        lines: u64,
        apply: impl FnOnce(Option<&StreamMark>),
    ) -> Result<(), Error> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.owner != claim.owner {
            return Err(Error::TakenOver {
                token: token.to_owned(),
            });
        }
        if claim.anonymous {
            apply(None);
            claim.progress.lines.fetch_add(lines, Ordering::Release);
            return Ok(());
        }
        let mark = slot.stream_id.as_ref().map(|id| StreamMark {
            token: token.to_owned(),
            stream_id: id.clone(),
            lines: slot.lines + lines,
        });
        apply(mark.as_ref());
        slot.lines += lines;
        claim.progress.lines.store(slot.lines, Ordering::Release);
        Ok(())
    }
}

/// The ingest of one acknowledged connection, to its end.
pub(crate) type Ingest = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// The answer to an acknowledged stream: 200 at once, then ack lines while
/// the ingest (polled by this body, on the connection's own task) takes
/// the request's lines. The last line says how the stream ended.
pub(crate) fn answer(viewer: Viewer, progress: Arc<Progress>, ingest: Ingest) -> Response {
    let body = AckBody {
        viewer,
        progress,
        ingest: Some(ingest),
        acked: None,
        last_ack: Instant::now(),
        timer: Box::pin(tokio::time::sleep(ACK_INTERVAL)),
    };
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::CONNECTION, HeaderValue::from_static("close")),
            (
                header::HeaderName::from_static(ACK_HEADER),
                HeaderValue::from_static("1"),
            ),
        ],
        Body::new(body),
    )
        .into_response()
}

struct AckBody {
    viewer: Viewer,
    progress: Arc<Progress>,
    /// `None` once it has ended and its last line is sent.
    ingest: Option<Ingest>,
    /// The count the last ack line carried.
    acked: Option<u64>,
    last_ack: Instant,
    /// Fires when the next ack is due by time.
    timer: Pin<Box<Sleep>>,
}

impl AckBody {
    fn line(&mut self, ack: &Ack) -> Frame<Bytes> {
        let mut out = Vec::with_capacity(32);
        ack.encode_line(&mut out);
        self.acked = Some(ack.acked);
        self.last_ack = Instant::now();
        let bytes = self.progress.bytes.load(Ordering::Relaxed);
        self.progress.bytes_acked.store(bytes, Ordering::Relaxed);
        Frame::data(Bytes::from(out))
    }
}

impl http_body::Body for AckBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let Some(ingest) = this.ingest.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(ended) = ingest.as_mut().poll(cx) {
            this.ingest = None;
            let lines = this.progress.lines.load(Ordering::Acquire);
            let ack = match ended {
                Ok(()) => Ack::progress(lines),
                Err(e) => {
                    this.viewer.metrics().count_in_band(&e);
                    Ack::failed(lines, e.status().as_u16(), e.message())
                }
            };
            return Poll::Ready(Some(Ok(this.line(&ack))));
        }
        let lines = this.progress.lines.load(Ordering::Acquire);
        if this.acked == Some(lines) {
            return Poll::Pending;
        }
        // New lines since the last ack: due after the interval, or at once
        // after enough input (the ingest yields to let this ack go out).
        let due = this.last_ack + ACK_INTERVAL;
        if this.progress.ack_due() || Instant::now() >= due {
            return Poll::Ready(Some(Ok(this.line(&Ack::progress(lines)))));
        }
        if this.timer.deadline() != due {
            this.timer.as_mut().reset(due);
        }
        match this.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Ok(this.line(&Ack::progress(lines))))),
            Poll::Pending => Poll::Pending,
        }
    }
}
