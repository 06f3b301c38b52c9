//! [`Stream`]: one Plotly stream, a long chunked `POST` fed from a bounded queue.

use std::sync::{Arc, Mutex};

use http::header::HeaderValue;
use plotstream_protocol::Write;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::conn;
use crate::target::Target;
use crate::{Error, Overflow, StreamOptions};

mod body;
mod queue;
mod sender;
mod shared;

use sender::{RequestParts, Sender, new_stream_id};
pub use shared::{CloseSummary, Stats, StatsHandle};
use shared::{Shared, State};

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
