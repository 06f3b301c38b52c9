//! The request body: whole lines taken straight from the stream's queue,
//! and heartbeats in silences.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use tokio::time::{Instant, Sleep};

use super::shared::Shared;

/// The request body: whole lines taken straight from the stream's queue,
/// up to [`StreamOptions::max_chunk`](crate::StreamOptions::max_chunk) bytes a chunk, and a heartbeat after
/// [`StreamOptions::heartbeat_after`](crate::StreamOptions::heartbeat_after) of silence. It ends once the stream is
/// closing and the queue is empty; hyper then writes the zero chunk.
#[derive(Debug)]
pub(crate) struct QueueBody {
    pub(super) shared: Arc<Shared>,
    /// When a chunk last went out.
    pub(super) last_sent: Instant,
    /// Fires at the earliest time a heartbeat may be due; moved on, not
    /// reset per chunk, so a busy stream touches the timer once an interval.
    pub(super) heartbeat: Pin<Box<Sleep>>,
}

impl QueueBody {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
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
