//! [`Stream`]: one Plotly stream, a long chunked `POST` fed from a bounded queue.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::header::{HOST, HeaderValue, TRANSFER_ENCODING};
use http::{Method, Request, Response, Uri};
use http_body::Frame;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use plotstream_protocol::{ACK_HEADER, RESUME_HEADER, TOKEN_HEADER, Write};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};

use crate::conn::{self, Connection};
use crate::target::Target;
use crate::{Error, Overflow, StreamOptions};

/// How much of a response body is kept for [`CloseSummary::body`] and errors.
const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// Counts of what a stream did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Writes accepted by [`Stream::write`].
    pub writes: u64,
    /// Heartbeats queued: by [`Stream::heartbeat`] and by the keep-alive timer.
    pub heartbeats: u64,
    /// Lines (writes and heartbeats) handed to a connection.
    pub sent: u64,
    /// Bytes of those lines.
    pub bytes: u64,
    /// Writes dropped from a full queue under [`Overflow::DropOldest`].
    pub dropped: u64,
    /// Reconnects that succeeded.
    pub reconnects: u64,
    /// Writes handed to connections that ended without the server's answer
    /// (dropped, reset, or answered 502 by a gateway): the server may have
    /// applied them or not, nobody can tell. They may be lost.
    pub unconfirmed: u64,
    /// Lines waiting in the queue now (after a failed stream: never sent).
    /// With [`StreamOptions::acks`]: the writes not acknowledged yet, sent
    /// or not.
    pub queued: u64,
    /// Writes the server acknowledged (with [`StreamOptions::acks`]): with
    /// acks, every write is acknowledged, dropped, or still queued.
    pub acked: u64,
}

impl Stats {
    /// How many writes may not have reached the server: those dropped from
    /// a full queue, those unconfirmed, and those still queued. Zero means
    /// every write was sent on a connection the server answered.
    pub fn may_be_lost(&self) -> u64 {
        self.dropped + self.unconfirmed + self.queued
    }

    /// These counts as the [`Counts`](crate::Counts) that load streams and
    /// reports add up (what is still queued was never sent).
    pub fn counts(&self) -> crate::Counts {
        crate::Counts {
            bytes: self.bytes,
            writes: self.writes,
            reconnects: self.reconnects,
            drops: self.dropped,
            unconfirmed: self.unconfirmed,
            unsent: self.queued,
            acked: self.acked,
        }
    }
}

/// What [`Stream::close`] returns: the server's answer and the final counts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloseSummary {
    /// The server's status code.
    pub status: u16,
    /// The response body (its first 64 KiB), as text.
    pub body: String,
    /// What the stream did.
    pub stats: Stats,
}

/// One queued line: its length, whether it is a write (or a heartbeat),
/// and, with an ack hook, when it was queued.
#[derive(Clone, Copy, Debug)]
struct Queued {
    len: usize,
    write: bool,
    at: Option<Instant>,
}

/// Encoded lines waiting to be sent: one buffer and each line's length.
///
/// With acknowledgements the lines sent stay at the front, after the last
/// line acknowledged, until the server acknowledges them; a new connection
/// sends them again ([`Queue::rewind`]).
#[derive(Debug, Default)]
struct Queue {
    buf: Vec<u8>,
    head: usize,
    lines: VecDeque<Queued>,
    /// Lines at the front sent and kept for acknowledgement.
    sent: usize,
    /// Their bytes.
    sent_bytes: usize,
    /// The number of the first line kept, counting every line ever queued
    /// from 0: the line a resumed stream starts at.
    front: u64,
}

/// Whole lines taken from the queue: one chunk.
struct Taken {
    chunk: Bytes,
    lines: u64,
    writes: u64,
}

impl Queue {
    /// Lines waiting to be sent.
    fn len(&self) -> usize {
        self.lines.len() - self.sent
    }

    /// Bytes of the lines kept: sent and unacknowledged, and unsent.
    fn kept_bytes(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Writes among the lines kept.
    fn kept_writes(&self) -> u64 {
        self.lines.iter().map(|q| u64::from(q.write)).sum()
    }

    /// Sends the kept lines again, from the first unacknowledged.
    fn rewind(&mut self) {
        self.sent = 0;
        self.sent_bytes = 0;
    }

    /// The server has taken every line before number `upto`: they are
    /// let go, each write's queued time given to `each`. The writes among
    /// them; `None` for an ack of lines not sent.
    fn ack(&mut self, upto: u64, mut each: impl FnMut(Instant)) -> Option<u64> {
        if upto > self.front + self.sent as u64 {
            return None;
        }
        let mut writes = 0;
        while self.front < upto {
            let Some(q) = self.lines.pop_front() else {
                break;
            };
            self.front += 1;
            self.sent -= 1;
            self.sent_bytes -= q.len;
            self.head += q.len;
            writes += u64::from(q.write);
            if let (true, Some(at)) = (q.write, q.at) {
                each(at);
            }
        }
        self.reclaim();
        Some(writes)
    }

    /// Appends one line written by `encode`; on error nothing is queued.
    fn push(
        &mut self,
        write: bool,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), plotstream_protocol::Error>,
    ) -> Result<(), Error> {
        self.push_at(write, None, encode)
    }

    /// [`Queue::push`], noting when (for the ack latency).
    fn push_at(
        &mut self,
        write: bool,
        at: Option<Instant>,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), plotstream_protocol::Error>,
    ) -> Result<(), Error> {
        let start = self.buf.len();
        if let Err(e) = encode(&mut self.buf) {
            // Whatever the encoder wrote before failing is not a line.
            self.buf.truncate(start);
            return Err(e.into());
        }
        self.lines.push_back(Queued {
            len: self.buf.len() - start,
            write,
            at,
        });
        Ok(())
    }

    /// Drops the oldest line not sent yet (with acks the lines before it
    /// are on the wire already: dropping them would free no room to send);
    /// true when it was a write. The lines after it have not been sent,
    /// so their numbers move down with it.
    fn drop_oldest_unsent(&mut self) -> bool {
        if self.sent == 0 {
            return self.drop_oldest();
        }
        let Some(q) = self.lines.remove(self.sent) else {
            return false;
        };
        let start = self.head + self.sent_bytes;
        self.buf.drain(start..start + q.len);
        q.write
    }

    /// Drops the oldest line; true when it was a write.
    fn drop_oldest(&mut self) -> bool {
        let Some(q) = self.lines.pop_front() else {
            return false;
        };
        if self.sent > 0 {
            self.sent -= 1;
            self.sent_bytes -= q.len;
        }
        self.front += 1;
        self.head += q.len;
        self.reclaim();
        q.write
    }

    /// Takes whole lines not sent yet, at most `max` bytes of them (but at
    /// least one line): the next chunk. With `keep` they stay, sent, until
    /// acknowledged.
    fn take(&mut self, max: usize, keep: bool) -> Option<Taken> {
        let mut bytes = 0;
        let mut lines = 0u64;
        let mut writes = 0u64;
        for &q in self.lines.range(self.sent..) {
            if lines > 0 && bytes + q.len > max {
                break;
            }
            bytes += q.len;
            lines += 1;
            writes += u64::from(q.write);
        }
        if lines == 0 {
            return None;
        }
        let start = self.head + self.sent_bytes;
        let chunk = Bytes::copy_from_slice(&self.buf[start..start + bytes]);
        if keep {
            self.sent += lines as usize;
            self.sent_bytes += bytes;
        } else {
            self.lines.drain(..lines as usize);
            self.front += lines;
            self.head += bytes;
            self.reclaim();
        }
        Some(Taken {
            chunk,
            lines,
            writes,
        })
    }

    /// Gives back the space of lines already taken.
    fn reclaim(&mut self) {
        if self.lines.is_empty() {
            self.buf.clear();
            self.head = 0;
        } else if self.head >= self.buf.len() / 2 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }
}

/// The state writers and the sender share, behind one mutex.
#[derive(Debug, Default)]
struct State {
    queue: Queue,
    stats: Stats,
    closing: bool,
    failed: Option<Arc<Error>>,
    /// The request body's waker, left when it found the queue empty: the
    /// next line queued, or the close, wakes it.
    body_waker: Option<Waker>,
    /// What the current connection's body carried.
    carried: Carried,
}

impl State {
    /// Whether a write must wait, or drop the oldest, for room: the queue
    /// holds its most lines waiting to be sent, or (with acks) its most
    /// bytes kept, sent or not.
    fn full(&self, opts: &StreamOptions) -> bool {
        self.unsent_full(opts) || (opts.acks && self.queue.kept_bytes() >= opts.max_unacked_bytes)
    }

    /// Whether the lines waiting to be sent are at the queue's capacity.
    fn unsent_full(&self, opts: &StreamOptions) -> bool {
        self.queue.len() >= opts.queue_capacity
    }
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Blocked writers wait here for room in the queue.
    space: Notify,
    opts: StreamOptions,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the request body, if it waits for the queue.
    fn wake_body(mut state: MutexGuard<'_, State>) {
        let waker = state.body_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn stats(&self) -> Stats {
        let state = self.lock();
        Stats {
            queued: if self.opts.acks {
                state.queue.kept_writes()
            } else {
                state.queue.len() as u64
            },
            ..state.stats
        }
    }
}

/// Reads a [`Stream`]'s counts, also after the stream was closed
/// ([`Stream::stats_handle`]).
#[derive(Clone, Debug)]
pub struct StatsHandle(Arc<Shared>);

impl StatsHandle {
    /// The counts now.
    pub fn get(&self) -> Stats {
        self.0.stats()
    }
}

/// One stream to a Plotly-protocol server: a long `POST` whose body is one
/// JSON write per line.
///
/// Writes go into a bounded queue; a sender task puts whatever is queued
/// into one chunk (up to [`StreamOptions::max_chunk`] bytes), sends a
/// heartbeat by itself after [`StreamOptions::heartbeat_after`] of silence,
/// and reconnects with back-off when the server ends the stream with 200, 408
/// or 502 or the connection drops, carrying on with what is still queued.
///
/// ```no_run
/// use plotstream_client::{Stream, StreamOptions};
/// use plotstream_protocol::Write;
///
/// # async fn demo() -> Result<(), plotstream_client::Error> {
/// let stream = Stream::connect("http://127.0.0.1:8080", "my-token", StreamOptions::default()).await?;
/// for i in 0..100 {
///     stream.write(&Write::xy(i, f64::from(i).sin())).await?;
/// }
/// stream.heartbeat().await?;
/// let summary = stream.close().await?;
/// assert_eq!(summary.stats.writes, 100);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Stream {
    shared: Arc<Shared>,
    task: Option<JoinHandle<Result<CloseSummary, Error>>>,
}

impl Stream {
    /// Connects to `url` (`http://host[:port][/path]`, or `https://` with the
    /// `tls` feature) and starts the stream for `token`.
    ///
    /// The first connection is made here, so an unreachable server is an
    /// error now (within [`StreamOptions::connect_timeout`]), not a hang.
    pub async fn connect(url: &str, token: &str, opts: StreamOptions) -> Result<Stream, Error> {
        opts.validate()?;
        let target = Target::parse(url)?;
        let invalid = |reason| Error::InvalidToken {
            token: token.to_owned(),
            reason,
        };
        plotstream_protocol::check_token(token).map_err(invalid)?;
        let token_value = HeaderValue::from_str(token)
            .expect("the token rule admits only visible ASCII, which is always a header value");
        let connection = conn::connect(&target, &opts).await?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            space: Notify::new(),
            opts,
        });
        let sender = Sender {
            request: RequestParts::new(&target, token_value, &shared.opts)?,
            stream_id: shared.opts.acks.then(new_stream_id),
            shared: Arc::clone(&shared),
            target,
        };
        let task = tokio::spawn(sender.run(connection));
        Ok(Stream {
            shared,
            task: Some(task),
        })
    }

    /// Queues one write. Under [`Overflow::Block`] it waits while the queue
    /// is full; under [`Overflow::DropOldest`] it drops the oldest queued
    /// write instead. It fails once the stream has stopped or is closing.
    pub async fn write(&self, write: &Write) -> Result<(), Error> {
        self.enqueue(false, |buf| write.encode_line(buf)).await
    }

    /// Queues one line of JSON encoded already (without its newline), for
    /// NDJSON servers that take other writes than Plotly's. A line with a
    /// newline in it is refused: it would be two lines.
    pub async fn write_json(&self, json: &[u8]) -> Result<(), Error> {
        check_json_line(json)?;
        self.enqueue(false, |buf| push_json_line(buf, json)).await
    }

    /// Queues one line of JSON (as [`Stream::write_json`]) if it can without
    /// waiting: `Ok(false)` when the queue is full under
    /// [`Overflow::Block`], and nothing was queued. For callers that drive
    /// many streams from one task and cannot wait on any one of them.
    pub fn try_write_json(&self, json: &[u8]) -> Result<bool, Error> {
        check_json_line(json)?;
        self.try_enqueue(false, &|buf: &mut Vec<u8>| push_json_line(buf, json))
    }

    /// Queues a heartbeat, a bare newline: it keeps an idle stream open.
    pub async fn heartbeat(&self) -> Result<(), Error> {
        self.enqueue(true, |buf| {
            plotstream_protocol::encode_heartbeat(buf);
            Ok(())
        })
        .await
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// A handle that reads this stream's counts at any time, also after
    /// [`Stream::close`] has consumed the stream (and failed: then it tells
    /// what was unconfirmed and what was never sent).
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle(Arc::clone(&self.shared))
    }

    /// Sends everything queued, ends the body with the zero chunk, and
    /// returns the server's answer. A status other than 2xx is an
    /// [`Error::Status`].
    pub async fn close(mut self) -> Result<CloseSummary, Error> {
        self.begin_close();
        let task = self.task.take().ok_or(Error::Closed)?;
        task.await.map_err(|_| Error::Aborted)?
    }

    fn begin_close(&self) {
        let mut state = self.shared.lock();
        state.closing = true;
        Shared::wake_body(state);
    }

    async fn enqueue(
        &self,
        heartbeat: bool,
        encode: impl Fn(&mut Vec<u8>) -> Result<(), plotstream_protocol::Error>,
    ) -> Result<(), Error> {
        loop {
            // The fast path registers nothing: most writes find room.
            if self.try_enqueue(heartbeat, &encode)? {
                return Ok(());
            }
            // Full under Overflow::Block: register for a wake-up, then look
            // again, so that room made between the two looks is not missed.
            let space = self.shared.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            if self.try_enqueue(heartbeat, &encode)? {
                return Ok(());
            }
            space.await;
        }
    }

    /// Queues the line if there is room (or room was made by dropping the
    /// oldest); `false` when the queue is full under [`Overflow::Block`].
    fn try_enqueue(
        &self,
        heartbeat: bool,
        encode: &impl Fn(&mut Vec<u8>) -> Result<(), plotstream_protocol::Error>,
    ) -> Result<bool, Error> {
        let opts = &self.shared.opts;
        let mut state = self.shared.lock();
        {
            if let Some(err) = &state.failed {
                return Err(Error::Stopped(Arc::clone(err)));
            }
            if state.closing {
                return Err(Error::Closed);
            }
            if state.full(opts) {
                match opts.overflow {
                    Overflow::Block => return Ok(false),
                    Overflow::DropOldest => {
                        // Too many waiting: the oldest waiting goes. Too
                        // many bytes kept: the oldest kept goes, sent or not.
                        while state.full(opts) && state.queue.lines.front().is_some() {
                            let write = if state.unsent_full(opts) {
                                state.queue.drop_oldest_unsent()
                            } else {
                                state.queue.drop_oldest()
                            };
                            if write {
                                state.stats.dropped += 1;
                            }
                        }
                    }
                }
            }
            let at = opts.on_ack.as_ref().map(|_| Instant::now());
            state.queue.push_at(!heartbeat, at, encode)?;
            if heartbeat {
                state.stats.heartbeats += 1;
            } else {
                state.stats.writes += 1;
            }
        }
        // The body leaves its waker only on an empty queue, so this wakes
        // it for the first line after a pause and costs nothing otherwise.
        Shared::wake_body(state);
        Ok(true)
    }
}

/// A JSON line must be non-empty and have no newline (it would be two lines).
fn check_json_line(json: &[u8]) -> Result<(), Error> {
    if json.contains(&b'\n') || json.is_empty() {
        return Err(Error::InvalidOptions {
            reason: "a JSON line must be non-empty and have no newline".to_owned(),
        });
    }
    Ok(())
}

fn push_json_line(buf: &mut Vec<u8>, json: &[u8]) -> Result<(), plotstream_protocol::Error> {
    buf.extend_from_slice(json);
    buf.push(b'\n');
    Ok(())
}

impl Drop for Stream {
    /// A stream dropped without [`Stream::close`] still ends cleanly: its
    /// task sends what is queued and the zero chunk, in the background.
    fn drop(&mut self) {
        if self.task.is_some() {
            self.begin_close();
        }
    }
}

/// The request line and headers, built once and cloned per connection.
#[derive(Debug)]
struct RequestParts {
    method: Method,
    path: Uri,
    host: HeaderValue,
    /// The token header, unless the options leave it out.
    token: Option<HeaderValue>,
    extra: Vec<(http::HeaderName, HeaderValue)>,
}

impl RequestParts {
    fn new(target: &Target, token: HeaderValue, opts: &StreamOptions) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidUrl {
            url: format!("{}{}", target.addr, target.path),
            reason,
        };
        Ok(RequestParts {
            path: target
                .path
                .parse()
                .map_err(|e: http::uri::InvalidUri| invalid(e.to_string()))?,
            host: HeaderValue::from_str(&target.host_header).map_err(|e| invalid(e.to_string()))?,
            token: opts.token_header.then_some(token),
            method: opts.method.clone(),
            extra: opts.headers.clone(),
        })
    }

    fn request(&self, body: QueueBody, resume: Option<HeaderValue>) -> Request<QueueBody> {
        let mut req = Request::new(body);
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.path.clone();
        let headers = req.headers_mut();
        headers.insert(HOST, self.host.clone());
        for (name, value) in &self.extra {
            headers.append(name.clone(), value.clone());
        }
        if let Some(token) = &self.token {
            headers.insert(TOKEN_HEADER, token.clone());
        }
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        if let Some(resume) = resume {
            headers.insert(ACK_HEADER, HeaderValue::from_static("1"));
            headers.insert(RESUME_HEADER, resume);
        }
        req
    }
}

/// How one connection's request ended.
enum Answer {
    /// The server's status and words: its answer, or with acks the last
    /// ack line's (200 and nothing when it had no error).
    Ended(u16, String),
    /// The connection ended without an answer, or (with acks) went silent.
    Dropped(Error),
    /// The stream cannot go on (a server without acks, a bad ack).
    Stopped(Error),
}

/// What one connection carried.
#[derive(Clone, Copy, Debug, Default)]
struct Carried {
    /// Chunks handed to it.
    chunks: u64,
    /// Writes taken from the queue for it.
    writes: u64,
    /// Whether its body ended (the stream was closing and all was sent).
    ended: bool,
}

/// The request body: whole lines taken straight from the stream's queue,
/// up to [`StreamOptions::max_chunk`] bytes a chunk, and a heartbeat after
/// [`StreamOptions::heartbeat_after`] of silence. It ends once the stream is
/// closing and the queue is empty; hyper then writes the zero chunk.
#[derive(Debug)]
pub(crate) struct QueueBody {
    shared: Arc<Shared>,
    /// When a chunk last went out.
    last_sent: Instant,
    /// Fires at the earliest time a heartbeat may be due; moved on, not
    /// reset per chunk, so a busy stream touches the timer once an interval.
    heartbeat: Pin<Box<Sleep>>,
}

impl QueueBody {
    fn new(shared: Arc<Shared>) -> Self {
        let now = Instant::now();
        let heartbeat = Box::pin(tokio::time::sleep_until(now + shared.opts.heartbeat_after));
        QueueBody {
            shared,
            last_sent: now,
            heartbeat,
        }
    }
}

impl http_body::Body for QueueBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        let opts = &this.shared.opts;
        loop {
            let mut state = this.shared.lock();
            let was_full = state.full(opts);
            if let Some(taken) = state.queue.take(opts.max_chunk, opts.acks) {
                state.stats.sent += taken.lines;
                state.stats.bytes += taken.chunk.len() as u64;
                // Counted once taken: a chunk this connection then fails to
                // carry is lost with it, as far as anyone can tell, like
                // those it carried unanswered.
                state.carried.writes += taken.writes;
                state.carried.chunks += 1;
                drop(state);
                if was_full {
                    this.shared.space.notify_waiters();
                }
                this.last_sent = Instant::now();
                return Poll::Ready(Some(Ok(Frame::data(taken.chunk))));
            }
            if state.closing {
                state.carried.ended = true;
                return Poll::Ready(None);
            }
            if !state
                .body_waker
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                state.body_waker = Some(cx.waker().clone());
            }
            drop(state);
            let due = this.last_sent + opts.heartbeat_after;
            if this.heartbeat.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if Instant::now() < due {
                // Chunks went out since the timer was set: wait for the rest.
                this.heartbeat.as_mut().reset(due);
                continue;
            }
            let mut state = this.shared.lock();
            // A heartbeat's encoding cannot fail.
            let _ = state.queue.push(false, |buf| {
                plotstream_protocol::encode_heartbeat(buf);
                Ok(())
            });
            state.stats.heartbeats += 1;
            drop(state);
            this.heartbeat
                .as_mut()
                .reset(Instant::now() + opts.heartbeat_after);
        }
    }
}

/// The sender task: owns the connection, reconnects, keeps alive.
struct Sender {
    shared: Arc<Shared>,
    target: Target,
    request: RequestParts,
    /// The stream's id, with acks: the same on every connection.
    stream_id: Option<String>,
}

impl Sender {
    async fn run(self, connection: Connection<QueueBody>) -> Result<CloseSummary, Error> {
        let result = self.drive(connection).await;
        match result {
            Ok(summary) => Ok(summary),
            Err(err) => {
                tracing::warn!(addr = %self.target.addr, "stream stopped: {err}");
                let err = Arc::new(err);
                self.shared.lock().failed = Some(Arc::clone(&err));
                self.shared.space.notify_waiters();
                Err(Error::Stopped(err))
            }
        }
    }

    async fn drive(&self, mut connection: Connection<QueueBody>) -> Result<CloseSummary, Error> {
        // Tries since a connection last carried data: a server that ends
        // every stream at once cannot keep the client reconnecting for ever.
        let mut tries = 0;
        loop {
            let (answer, carried) = self.pump(&mut connection).await;
            if carried.chunks > 0 {
                tries = 0;
            }
            // Writes on a connection that ends without the server's answer
            // may or may not have been applied: they are unconfirmed. (With
            // acks none are: what was not acknowledged is sent again.)
            let unanswered = || {
                if !self.shared.opts.acks {
                    self.shared.lock().stats.unconfirmed += carried.writes;
                }
            };
            let (status, body) = match answer {
                Answer::Ended(status, body) => (status, body),
                Answer::Stopped(e) => return Err(e),
                // The connection dropped: worth a reconnect.
                Answer::Dropped(cause) => {
                    unanswered();
                    if carried.ended && !self.shared.opts.acks {
                        return Err(cause);
                    }
                    connection = Box::pin(self.reconnect(&mut tries, cause)).await?;
                    self.shared.lock().stats.reconnects += 1;
                    continue;
                }
            };
            // With acks, the body's end counts only once every line was
            // acknowledged: the server may end a stream early (408).
            let done = carried.ended
                && (!self.shared.opts.acks || self.shared.lock().queue.lines.is_empty());
            if done {
                // The stream was closing, the body ended: this is the answer.
                if !(200..300).contains(&status) {
                    return Err(self.status_error(status, body));
                }
                let stats = Stats {
                    queued: 0,
                    ..self.shared.lock().stats
                };
                return Ok(CloseSummary {
                    status,
                    body,
                    stats,
                });
            }
            // The server answered while the stream was streaming.
            if !matches!(status, 200 | 408 | 502) {
                return Err(self.status_error(status, body));
            }
            // A gateway's 502 says nothing of what the server applied.
            if status == 502 {
                unanswered();
            }
            let cause = self.status_error(status, body);
            connection = Box::pin(self.reconnect(&mut tries, cause)).await?;
            self.shared.lock().stats.reconnects += 1;
        }
    }

    /// Reconnects with back-off, for ever or until the allowed tries are
    /// spent; each wait is said (to [`StreamOptions::on_retry`] and the log)
    /// with its reason.
    async fn reconnect(
        &self,
        tries: &mut u32,
        cause: Error,
    ) -> Result<Connection<QueueBody>, Error> {
        let opts = &self.shared.opts;
        let mut last = cause;
        loop {
            *tries += 1;
            if let Some(allowed) = opts.reconnect_tries.filter(|&n| *tries > n) {
                return Err(Error::Reconnect {
                    addr: self.target.addr.clone(),
                    tries: allowed,
                    last: Box::new(last),
                });
            }
            let wait = opts.backoff(*tries);
            let retry = crate::Retry {
                addr: &self.target.addr,
                attempt: *tries,
                reason: &last,
                wait,
            };
            tracing::info!(addr = %self.target.addr, "{last}; reconnect try {tries} in {wait:?}");
            if let Some(hook) = &opts.on_retry {
                hook.call(&retry);
            }
            tokio::time::sleep(wait).await;
            match conn::connect(&self.target, opts).await {
                Ok(connection) => return Ok(connection),
                Err(e) => last = e,
            }
        }
    }

    /// Streams the queue over one connection until the server's answer
    /// (with acks: the answer's end) or the connection's; how it ended, and
    /// what went out on it.
    async fn pump(&self, connection: &mut Connection<QueueBody>) -> (Answer, Carried) {
        let resume = {
            let mut state = self.shared.lock();
            state.carried = Carried::default();
            self.stream_id.as_ref().map(|id| {
                // What was not acknowledged goes again, from its first line.
                state.queue.rewind();
                let resume = plotstream_protocol::Resume {
                    stream_id: id.clone(),
                    acked: state.queue.front,
                };
                HeaderValue::from_str(&resume.to_string())
                    .expect("a stream id and a number are a header value")
            })
        };
        let acks = resume.is_some();
        let body = QueueBody::new(Arc::clone(&self.shared));
        let request = self.request.request(body, resume);
        let answer = connection.send.send_request(request);
        let answer = if acks {
            // A plotstream viewer answers an acknowledged stream at once.
            let timeout = self.shared.opts.connect_timeout;
            match tokio::time::timeout(timeout, connection.drive(answer)).await {
                Ok(answer) => answer,
                Err(_) => {
                    return (
                        Answer::Stopped(Error::NoAcks {
                            addr: self.target.addr.clone(),
                            timeout,
                        }),
                        self.carried(),
                    );
                }
            }
        } else {
            connection.drive(answer).await
        };
        let answer = match answer {
            Err(e) => Answer::Dropped(self.http_error(e)),
            Ok(response) if acks => self.read_acks(connection, response).await,
            // Boxed, like the reconnect: once a connection, not inline in
            // the task for the stream's whole life.
            Ok(response) => {
                let (status, body) = connection.drive(Box::pin(read_answer(response))).await;
                Answer::Ended(status, body)
            }
        };
        (answer, self.carried())
    }

    /// What the connection just ended carried.
    fn carried(&self) -> Carried {
        std::mem::take(&mut self.shared.lock().carried)
    }

    /// Reads an acknowledged stream's answer to its end, letting go of the
    /// lines each ack covers.
    async fn read_acks(
        &self,
        connection: &mut Connection<QueueBody>,
        response: Response<Incoming>,
    ) -> Answer {
        let status = response.status().as_u16();
        let mut body = match self.ack_body(connection, response).await {
            Ok(body) => body,
            Err(answer) => return answer,
        };
        let mut pending: Vec<u8> = Vec::new();
        let mut last = None;
        // A connection whose lines wait a whole check interval, twice in a
        // row, without an ack is taken for dead (a half-open connection, a
        // server that hangs): it is dropped and the stream resumes.
        // One timer for the whole answer, looked at once an interval (not a
        // fresh timeout for every ack frame).
        let silence = self.shared.opts.connect_timeout;
        let check = tokio::time::sleep(silence);
        tokio::pin!(check);
        let mut waited: Option<u64> = None;
        loop {
            let frame = tokio::select! {
                biased;
                frame = connection.drive(body.frame()) => Some(frame),
                () = &mut check => None,
            };
            let frame = match frame {
                Some(Some(Ok(frame))) => frame,
                Some(Some(Err(e))) => return Answer::Dropped(self.http_error(e)),
                Some(None) => break,
                None => {
                    check.as_mut().reset(Instant::now() + silence);
                    if let Err(answer) = self.still_acking(&mut waited, silence) {
                        return answer;
                    }
                    continue;
                }
            };
            let Some(data) = frame.data_ref() else {
                continue;
            };
            pending.extend_from_slice(data);
            if let Err(reason) = self.take_acks(&mut pending, &mut last) {
                return self.bad_ack(reason);
            }
        }
        match last {
            Some(plotstream_protocol::Ack {
                status: Some(status),
                error,
                ..
            }) => Answer::Ended(status, error.unwrap_or_default()),
            Some(_) => Answer::Ended(status, String::new()),
            None => self.bad_ack("the answer ended without an ack line".to_owned()),
        }
    }

    /// The body of an acknowledged stream's answer; or, for a refusal or a
    /// server without the extension, how the stream ends.
    async fn ack_body(
        &self,
        connection: &mut Connection<QueueBody>,
        response: Response<Incoming>,
    ) -> Result<Incoming, Answer> {
        let status = response.status().as_u16();
        let speaks_acks = response
            .headers()
            .get(plotstream_protocol::ACK_HEADER)
            .is_some_and(|v| v.as_bytes() == b"1");
        if !(200..300).contains(&status) {
            // A refusal before streaming began (404, 409, ...): its answer,
            // as usual.
            let (status, body) = connection.drive(Box::pin(read_answer(response))).await;
            return Err(Answer::Ended(status, body));
        }
        if !speaks_acks {
            // A server that answered without the extension.
            connection.drive(Box::pin(read_answer(response))).await;
            return Err(Answer::Stopped(Error::NoAcks {
                addr: self.target.addr.clone(),
                timeout: self.shared.opts.connect_timeout,
            }));
        }
        Ok(response.into_body())
    }

    /// Takes the whole ack lines in `pending` (keeping a partial last one),
    /// letting go of the lines each covers; the last ack in `last`.
    fn take_acks(
        &self,
        pending: &mut Vec<u8>,
        last: &mut Option<plotstream_protocol::Ack>,
    ) -> Result<(), String> {
        let mut start = 0;
        while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
            let line = &pending[start..start + end];
            start += end + 1;
            let ack = plotstream_protocol::Ack::parse(line).map_err(|e| e.to_string())?;
            self.acknowledged(ack.acked)?;
            *last = Some(ack);
        }
        pending.drain(..start);
        if pending.len() > MAX_RESPONSE_BODY {
            return Err(format!("a line longer than {MAX_RESPONSE_BODY} bytes"));
        }
        Ok(())
    }

    /// A check interval passed: lines that waited the whole previous one
    /// for an ack, at the same front, mean the connection is dead.
    fn still_acking(
        &self,
        waited: &mut Option<u64>,
        silence: std::time::Duration,
    ) -> Result<(), Answer> {
        let state = self.shared.lock();
        let front = state.queue.front;
        let sent = state.queue.sent > 0;
        drop(state);
        if sent && *waited == Some(front) {
            return Err(Answer::Dropped(Error::AckTimeout {
                addr: self.target.addr.clone(),
                timeout: silence,
            }));
        }
        *waited = sent.then_some(front);
        Ok(())
    }

    /// The stream stops: the server's acks are wrong.
    fn bad_ack(&self, reason: String) -> Answer {
        Answer::Stopped(Error::BadAck {
            addr: self.target.addr.clone(),
            reason,
        })
    }

    /// The server has taken every line before number `upto`.
    fn acknowledged(&self, upto: u64) -> Result<(), String> {
        let opts = &self.shared.opts;
        let mut state = self.shared.lock();
        let was_full = state.full(opts);
        let front = state.queue.front;
        let now = Instant::now();
        let hook = opts.on_ack.as_ref();
        let Some(writes) = state.queue.ack(upto, |at| {
            if let Some(hook) = hook {
                hook.call(now.saturating_duration_since(at));
            }
        }) else {
            return Err(format!(
                "{upto} lines acknowledged, but only {} were sent",
                front + state.queue.sent as u64
            ));
        };
        state.stats.acked += writes;
        drop(state);
        if was_full {
            self.shared.space.notify_waiters();
        }
        Ok(())
    }

    fn http_error(&self, source: hyper::Error) -> Error {
        Error::Http {
            addr: self.target.addr.clone(),
            source,
        }
    }

    fn status_error(&self, status: u16, body: String) -> Error {
        Error::Status {
            addr: self.target.addr.clone(),
            status,
            body,
        }
    }
}

/// A new stream id: 128 bits no other stream of this process or another
/// is likely to have (the standard library's random hash keys, the time
/// and a count), in hex.
fn new_stream_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    let half = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u64(n);
        h.write_u32(std::process::id());
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

/// The status and the first 64 KiB of the body of an answer; a body cut
/// short by the connection keeps what arrived.
async fn read_answer(response: Response<Incoming>) -> (u16, String) {
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while bytes.len() < MAX_RESPONSE_BODY {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    bytes.extend_from_slice(data);
                }
            }
            Some(Err(_)) | None => break,
        }
    }
    bytes.truncate(MAX_RESPONSE_BODY);
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(buf: &mut Vec<u8>, s: &str) -> Result<(), plotstream_protocol::Error> {
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'\n');
        Ok(())
    }

    #[test]
    fn take_respects_the_chunk_limit_but_always_takes_one_line() {
        let mut q = Queue::default();
        for s in ["aaaa", "bb", "cccccccccc"] {
            q.push(true, |b| line(b, s)).expect("queues");
        }
        let t = q.take(8, false).expect("a chunk");
        assert_eq!((&t.chunk[..], t.lines), (&b"aaaa\nbb\n"[..], 2));
        let t = q.take(8, false).expect("an over-long line alone");
        assert_eq!((&t.chunk[..], t.lines), (&b"cccccccccc\n"[..], 1));
        assert!(q.take(8, false).is_none());
        assert_eq!((q.buf.len(), q.head), (0, 0), "space is given back");
    }

    #[test]
    fn drop_oldest_drops_whole_lines_from_the_front() {
        let mut q = Queue::default();
        for s in ["1", "22", "333"] {
            q.push(true, |b| line(b, s)).expect("queues");
        }
        q.push(false, |b| line(b, "")).expect("a heartbeat");
        assert!(q.drop_oldest(), "a write");
        assert_eq!(q.len(), 3);
        let t = q.take(100, false).expect("a chunk");
        assert_eq!(
            (&t.chunk[..], t.lines, t.writes),
            (&b"22\n333\n\n"[..], 3, 2)
        );
    }

    #[test]
    fn a_failed_encode_queues_nothing() {
        let mut q = Queue::default();
        q.push(true, |b| line(b, "before")).expect("queues");
        let err = q.push(true, |b| {
            b.extend_from_slice(b"{\"half\":");
            Err(plotstream_protocol::Error::LineTooLong { line: 1, limit: 0 })
        });
        assert!(err.is_err());
        q.push(true, |b| line(b, "after")).expect("queues");
        assert_eq!(q.len(), 2);
        let t = q.take(100, false).expect("a chunk");
        assert_eq!(
            &t.chunk[..],
            b"before\nafter\n",
            "nothing of the failed line"
        );
    }

    #[test]
    fn with_acks_sent_lines_stay_until_acknowledged_and_go_again_after_a_rewind() {
        let mut q = Queue::default();
        for s in ["a", "b", "c"] {
            q.push(true, |b| line(b, s)).expect("queues");
        }
        q.push(false, |b| line(b, "")).expect("a heartbeat");
        let t = q.take(4, true).expect("a chunk");
        assert_eq!(&t.chunk[..], b"a\nb\n");
        assert_eq!((q.len(), q.kept_bytes()), (2, 7), "two unsent, all kept");
        assert_eq!(q.ack(3, |_| {}), None, "line 2 was not sent");
        assert_eq!(q.ack(1, |_| {}), Some(1), "line 0 was a write");
        assert_eq!((q.front, q.kept_writes()), (1, 2));
        q.rewind();
        let t = q.take(100, true).expect("a chunk");
        assert_eq!(
            &t.chunk[..],
            b"b\nc\n\n",
            "sent again from the first unacknowledged"
        );
        assert_eq!(q.ack(4, |_| {}), Some(2), "two writes and the heartbeat");
        assert_eq!((q.front, q.kept_bytes(), q.len()), (4, 0, 0));
    }

    #[test]
    fn dropping_the_oldest_moves_the_resume_point_past_it() {
        let mut q = Queue::default();
        for s in ["a", "b", "c"] {
            q.push(true, |b| line(b, s)).expect("queues");
        }
        q.take(2, true).expect("a sent");
        assert!(q.drop_oldest());
        assert_eq!((q.front, q.sent, q.len()), (1, 0, 2));
        let t = q.take(100, true).expect("the rest");
        assert_eq!(&t.chunk[..], b"b\nc\n");
        assert_eq!(
            q.ack(1, |_| {}),
            Some(0),
            "the dropped line was let go already"
        );
        assert_eq!(q.ack(3, |_| {}), Some(2));
    }

    #[test]
    fn with_acks_dropping_for_room_to_send_drops_the_oldest_unsent_line() {
        let mut q = Queue::default();
        for s in ["a", "b", "c", "d"] {
            q.push(true, |b| line(b, s)).expect("queues");
        }
        q.take(4, true).expect("a and b sent");
        assert!(q.drop_oldest_unsent());
        assert_eq!((q.front, q.sent, q.len(), q.kept_bytes()), (0, 2, 1, 6));
        let t = q.take(100, true).expect("the rest");
        assert_eq!(&t.chunk[..], b"d\n", "c went, the sent lines stay");
        assert_eq!(q.ack(3, |_| {}), Some(3));
        assert_eq!(q.kept_bytes(), 0);
    }
}
