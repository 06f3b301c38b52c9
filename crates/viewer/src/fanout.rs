//! One figure's subscribers: each has its own queue of events,
//! bounded in count and in bytes. A subscriber that falls further behind
//! than either bound is marked lagged, its queue is emptied, and it is
//! sent a fresh snapshot instead: a reader that never reads holds at most
//! the bound, whatever the writers send.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// One event for subscribers: its SSE name and its JSON, shared by all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Message {
    pub(crate) kind: &'static str,
    pub(crate) data: Arc<str>,
}

/// What a subscriber receives next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Received {
    /// The next event.
    Event(Message),
    /// It fell behind: it needs a fresh snapshot.
    Lagged,
    /// The figure is gone.
    Closed,
}

#[derive(Debug, Default)]
struct QueueState {
    events: VecDeque<Message>,
    bytes: usize,
    lagged: bool,
    closed: bool,
}

#[derive(Debug, Default)]
struct Queue {
    state: Mutex<QueueState>,
    /// One waiter per queue: `notify_one` keeps a permit when it waits not yet.
    ready: Notify,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The subscribers of one figure.
#[derive(Debug)]
pub(crate) struct Fanout {
    queues: Mutex<Vec<Arc<Queue>>>,
    max_events: usize,
    max_bytes: usize,
}

impl Fanout {
    pub(crate) fn new(max_events: usize, max_bytes: usize) -> Self {
        Fanout {
            queues: Mutex::new(Vec::new()),
            max_events: max_events.max(1),
            max_bytes: max_bytes.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<Queue>>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new subscriber; it receives every event sent after this call.
    pub(crate) fn subscribe(&self) -> Subscriber {
        let queue = Arc::new(Queue::default());
        let mut queues = self.lock();
        queues.retain(|q| Arc::strong_count(q) > 1);
        queues.push(Arc::clone(&queue));
        Subscriber { queue }
    }

    /// Subscribers still listening.
    pub(crate) fn receiver_count(&self) -> usize {
        self.lock()
            .iter()
            .filter(|q| Arc::strong_count(q) > 1)
            .count()
    }

    /// Queues `event` for every subscriber; one that would go past a bound
    /// is marked lagged instead, and its queue emptied.
    pub(crate) fn send(&self, event: &Message) {
        let mut queues = self.lock();
        queues.retain(|q| Arc::strong_count(q) > 1);
        for q in queues.iter() {
            let mut s = q.lock();
            if s.lagged || s.closed {
                continue;
            }
            let len = event.data.len();
            if s.events.len() >= self.max_events || s.bytes + len > self.max_bytes {
                s.events.clear();
                s.bytes = 0;
                s.lagged = true;
            } else {
                s.bytes += len;
                s.events.push_back(event.clone());
            }
            drop(s);
            q.ready.notify_one();
        }
    }

    /// Ends every subscription: the figure is gone.
    pub(crate) fn close(&self) {
        for q in self.lock().drain(..) {
            q.lock().closed = true;
            q.ready.notify_one();
        }
    }
}

/// One subscriber's end of its queue.
#[derive(Debug)]
pub(crate) struct Subscriber {
    queue: Arc<Queue>,
}

impl Subscriber {
    /// What comes next: waits for an event, a lag, or the end.
    pub(crate) async fn recv(&mut self) -> Received {
        loop {
            if let Some(r) = self.try_recv() {
                return r;
            }
            self.queue.ready.notified().await;
        }
    }

    /// What is there now, without waiting.
    pub(crate) fn try_recv(&mut self) -> Option<Received> {
        let mut s = self.queue.lock();
        if s.closed {
            return Some(Received::Closed);
        }
        if s.lagged {
            return Some(Received::Lagged);
        }
        let event = s.events.pop_front()?;
        s.bytes -= event.data.len();
        Some(Received::Event(event))
    }

    /// Bytes waiting in this subscriber's queue.
    #[cfg(test)]
    pub(crate) fn backlog_bytes(&self) -> usize {
        self.queue.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(s: &str) -> Message {
        Message {
            kind: "update",
            data: Arc::from(s),
        }
    }

    #[tokio::test]
    async fn events_arrive_in_order_and_a_closed_fanout_ends_them() {
        let f = Fanout::new(10, 1000);
        let mut a = f.subscribe();
        f.send(&ev("1"));
        f.send(&ev("2"));
        assert_eq!(a.recv().await, Received::Event(ev("1")));
        assert_eq!(a.recv().await, Received::Event(ev("2")));
        assert_eq!(a.try_recv(), None);
        let waiter = tokio::spawn(async move { a.recv().await });
        tokio::task::yield_now().await;
        f.send(&ev("3"));
        assert_eq!(waiter.await.expect("joins"), Received::Event(ev("3")));
        let mut b = f.subscribe();
        f.close();
        assert_eq!(b.recv().await, Received::Closed);
    }

    #[test]
    fn a_reader_that_never_reads_holds_at_most_the_byte_bound() {
        let f = Fanout::new(1000, 100);
        let mut stuck = f.subscribe();
        let mut reader = f.subscribe();
        for _ in 0..9 {
            f.send(&ev(&"x".repeat(10)));
            assert!(matches!(reader.try_recv(), Some(Received::Event(_))));
        }
        assert_eq!(stuck.backlog_bytes(), 90);
        f.send(&ev(&"x".repeat(20)));
        assert_eq!(stuck.backlog_bytes(), 0, "emptied when it lagged");
        assert_eq!(stuck.try_recv(), Some(Received::Lagged));
        assert!(matches!(reader.try_recv(), Some(Received::Event(_))));
    }

    #[test]
    fn the_count_bound_lags_too_and_dropped_subscribers_are_forgotten() {
        let f = Fanout::new(2, 1 << 20);
        let mut s = f.subscribe();
        for i in 0..3 {
            f.send(&ev(&i.to_string()));
        }
        assert_eq!(s.try_recv(), Some(Received::Lagged));
        assert_eq!(f.receiver_count(), 1);
        drop(s);
        assert_eq!(f.receiver_count(), 0);
        f.send(&ev("x"));
        assert!(f.lock().is_empty());
    }
}
