//! What the writers and the sender share behind one mutex, and the counts
//! they keep ([`Stats`], [`CloseSummary`], [`StatsHandle`]).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use tokio::sync::Notify;

use super::queue::Queue;
use crate::{Error, StreamOptions};

/// Counts of what a stream did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Writes accepted by [`Stream::write`](crate::Stream::write).
    pub writes: u64,
    /// Heartbeats queued: by [`Stream::heartbeat`](crate::Stream::heartbeat) and by the keep-alive timer.
    pub heartbeats: u64,
    /// Lines (writes and heartbeats) handed to a connection.
    pub sent: u64,
    /// Bytes of those lines.
    pub bytes: u64,
    /// Writes dropped from a full queue under [`Overflow::DropOldest`](crate::Overflow::DropOldest).
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

/// What [`Stream::close`](crate::Stream::close) returns: the server's answer and the final counts.
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

/// The state writers and the sender share, behind one mutex.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) queue: Queue,
    pub(super) stats: Stats,
    pub(super) closing: bool,
    pub(super) failed: Option<Arc<Error>>,
    /// The request body's waker, left when it found the queue empty: the
    /// next line queued, or the close, wakes it.
    pub(super) body_waker: Option<Waker>,
    /// What the current connection's body carried.
    pub(super) carried: Carried,
}

impl State {
    /// Whether a write must wait, or drop the oldest, for room: the queue
    /// holds its most lines waiting to be sent, or (with acks) its most
    /// bytes kept, sent or not.
    pub(super) fn full(&self, opts: &StreamOptions) -> bool {
        self.unsent_full(opts) || (opts.acks && self.queue.kept_bytes() >= opts.max_unacked_bytes)
    }

    /// Whether the lines waiting to be sent are at the queue's capacity.
    pub(super) fn unsent_full(&self, opts: &StreamOptions) -> bool {
        self.queue.len() >= opts.queue_capacity
    }
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// Blocked writers wait here for room in the queue.
    pub(super) space: Notify,
    pub(super) opts: StreamOptions,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the request body, if it waits for the queue.
    pub(super) fn wake_body(mut state: MutexGuard<'_, State>) {
        let waker = state.body_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    pub(super) fn stats(&self) -> Stats {
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

/// Reads a [`Stream`](crate::Stream)'s counts, also after the stream was closed
/// ([`Stream::stats_handle`](crate::Stream::stats_handle)).
#[derive(Clone, Debug)]
pub struct StatsHandle(pub(super) Arc<Shared>);

impl StatsHandle {
    /// The counts now.
    pub fn get(&self) -> Stats {
        self.0.stats()
    }
}

/// What one connection carried.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Carried {
    /// Chunks handed to it.
    pub(super) chunks: u64,
    /// Writes taken from the queue for it.
    pub(super) writes: u64,
    /// Whether its body ended (the stream was closing and all was sent).
    pub(super) ended: bool,
}
