//! The sender task: owns the connection, sends the queue's chunks,
//! reads the answer or the acks, and reconnects.

use std::sync::Arc;

use http::header::{HOST, HeaderValue, TRANSFER_ENCODING};
use http::{Method, Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use plotstream_protocol::{ACK_HEADER, RESUME_HEADER, TOKEN_HEADER};
use tokio::time::Instant;

use super::body::QueueBody;
use super::shared::{Carried, CloseSummary, Shared, Stats};
use crate::conn::{self, Connection};
use crate::target::Target;
use crate::{Error, StreamOptions};

/// How much of a response body is kept for [`CloseSummary::body`] and errors.
pub(super) const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// The request line and headers, built once and cloned per connection.
#[derive(Debug)]
pub(super) struct RequestParts {
    pub(super) method: Method,
    pub(super) path: Uri,
    pub(super) host: HeaderValue,
    /// The token header, unless the options leave it out.
    pub(super) token: Option<HeaderValue>,
    pub(super) extra: Vec<(http::HeaderName, HeaderValue)>,
}

impl RequestParts {
    pub(super) fn new(
        target: &Target,
        token: HeaderValue,
        opts: &StreamOptions,
    ) -> Result<Self, Error> {
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

    pub(super) fn request(
        &self,
        body: QueueBody,
        resume: Option<HeaderValue>,
    ) -> Request<QueueBody> {
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
pub(super) enum Answer {
    /// The server's status and words: its answer, or with acks the last
    /// ack line's (200 and nothing when it had no error).
    Ended(u16, String),
    /// The connection ended without an answer, or (with acks) went silent.
    Dropped(Error),
    /// The stream cannot go on (a server without acks, a bad ack).
    Stopped(Error),
}

/// The sender task: owns the connection, reconnects, keeps alive.
pub(super) struct Sender {
    pub(super) shared: Arc<Shared>,
    pub(super) target: Target,
    pub(super) request: RequestParts,
    /// The stream's id, with acks: the same on every connection.
    pub(super) stream_id: Option<String>,
}

impl Sender {
    pub(super) async fn run(
        self,
        connection: Connection<QueueBody>,
    ) -> Result<CloseSummary, Error> {
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

    pub(super) async fn drive(
        &self,
        mut connection: Connection<QueueBody>,
    ) -> Result<CloseSummary, Error> {
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
    pub(super) async fn reconnect(
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
    pub(super) async fn pump(&self, connection: &mut Connection<QueueBody>) -> (Answer, Carried) {
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
    pub(super) fn carried(&self) -> Carried {
        std::mem::take(&mut self.shared.lock().carried)
    }

    /// Reads an acknowledged stream's answer to its end, letting go of the
    /// lines each ack covers.
    pub(super) async fn read_acks(
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
    pub(super) async fn ack_body(
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
    pub(super) fn take_acks(
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
    pub(super) fn still_acking(
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
    pub(super) fn bad_ack(&self, reason: String) -> Answer {
        Answer::Stopped(Error::BadAck {
            addr: self.target.addr.clone(),
            reason,
        })
    }

    /// The server has taken every line before number `upto`.
    pub(super) fn acknowledged(&self, upto: u64) -> Result<(), String> {
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
                "{} acknowledged, but only {} sent",
                plotstream_protocol::plural(upto, "line", "lines"),
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

    pub(super) fn http_error(&self, source: hyper::Error) -> Error {
        Error::Http {
            addr: self.target.addr.clone(),
            source,
        }
    }

    pub(super) fn status_error(&self, status: u16, body: String) -> Error {
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
pub(super) fn new_stream_id() -> String {
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
pub(super) async fn read_answer(response: Response<Incoming>) -> (u16, String) {
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
