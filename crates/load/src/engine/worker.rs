//! [`Worker`]: one task driving many streams from its slot ring.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use plotstream_demos::{Clock, Demo, Frame};
use plotstream_protocol::Update;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::wheel::Wheel;
use super::{Finished, Shared};
use crate::publish::{Closed, Message, Publish, PublishError, Sent};
use crate::schedule::{Epoch, Times};
use crate::{Payload, Schedule, report};

/// How often a worker publishes its counts and histogram for the monitor
/// (and at least how often it looks whether the run is being stopped).
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_millis(50);

/// How long a run stopped early waits for each stream's last answer; a
/// stream without one by then counts what it sent as unconfirmed.
pub(crate) const STOP_GRACE: Duration = Duration::from_secs(2);

/// The most writes one stream sends in a row when it is behind, before the
/// worker turns to its other streams.
const BURST: u32 = 64;

/// What every stream of a run shares.
pub(crate) struct Plan<P: Publish> {
    pub(crate) config: Arc<P::Config>,
    pub(crate) schedule: Arc<Schedule>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) payload: Payload,
    /// This run's id, in point payloads.
    pub(crate) run: u64,
    /// The source addresses the connections spread over (`--bind`); empty:
    /// the system's choice.
    pub(crate) bind: Arc<[std::net::IpAddr]>,
}

/// One stream to drive: its place in the run, its token and its demo.
pub(crate) struct StreamSpec {
    pub(crate) position: usize,
    pub(crate) token: String,
    pub(crate) demo: Box<dyn Demo>,
}

/// Where a stream is.
enum Phase<P> {
    /// In the ring, for its next epoch's opening.
    Waiting,
    /// Its connection is being made (a task of its own).
    Connecting,
    /// Open, in the ring for its next write or its epoch's end.
    Open(P),
    /// Open, with a write the socket has not taken whole: off the ring
    /// until it is out.
    Held(P),
    /// Its connection is being closed (a task of its own).
    Closing,
    Done,
}

impl<P> Phase<P> {
    /// Open → held: the socket holds a write.
    fn hold(&mut self) {
        if let Phase::Open(p) = std::mem::replace(self, Phase::Done) {
            *self = Phase::Held(p);
        }
    }

    /// Held → open: the held write is out (or failed, and the stream closes).
    fn unhold(&mut self) {
        if let Phase::Held(p) = std::mem::replace(self, Phase::Done) {
            *self = Phase::Open(p);
        }
    }
}

/// One stream as its worker drives it.
struct Slot<P> {
    spec: StreamSpec,
    times: Times,
    epochs: Box<dyn Iterator<Item = Epoch> + Send>,
    /// The next write's sequence number and due time.
    seq: u64,
    due: Option<Instant>,
    /// The current epoch's end.
    close_at: Instant,
    phase: Phase<P>,
    /// The due time of the write held.
    held_due: Option<Instant>,
    /// Why the current connection failed, until it is closed.
    failure: Option<PublishError>,
    failed: bool,
    connections: u64,
    /// Writes and bytes handed to the current connection (what a close cut
    /// short by [`STOP_GRACE`] counts as unconfirmed).
    sent: plotstream_client::Counts,
    counts: plotstream_client::Counts,
    status: Option<String>,
}

impl<P> Slot<P> {
    /// Whether write `due` falls in the current epoch.
    fn in_epoch(&self, due: Instant) -> bool {
        due < self.close_at
    }

    /// Moves past the writes left in this epoch, counting them unsent.
    fn skip_epoch(&mut self) {
        while self.due.is_some_and(|d| d < self.close_at) {
            self.counts.unsent += 1;
            self.seq += 1;
            self.due = self.times.at(self.seq);
        }
    }
}

/// What the connecting and closing tasks tell their worker.
enum Event<P> {
    Connected(u32, Result<P, PublishError>),
    Closed(u32, Closed),
}

/// A worker's own counts, published every [`PUBLISH_EVERY`].
struct Local {
    writes: u64,
    last_write_nanos: u64,
    first_write_nanos: Option<u64>,
    lateness: hdrhistogram::Histogram<u64>,
    published_at: Instant,
}

/// One worker: its streams, their ring, and the buffers they share.
pub(crate) struct Worker<P: Publish> {
    index: usize,
    plan: Arc<Plan<P>>,
    slots: Vec<Slot<P>>,
    wheel: Wheel,
    /// Streams held, waiting for their socket.
    held: Vec<u32>,
    due: Vec<u32>,
    done: usize,
    frame: Frame,
    payload: Vec<u8>,
    scratch: Vec<u8>,
    local: Local,
    tx: mpsc::UnboundedSender<Event<P>>,
    rx: mpsc::UnboundedReceiver<Event<P>>,
    /// The run is being stopped early: nothing more is opened or written.
    stopping: bool,
}

impl<P: Publish> Worker<P> {
    pub(crate) fn new(index: usize, plan: Arc<Plan<P>>, streams: Vec<StreamSpec>) -> Self {
        let schedule = Arc::clone(&plan.schedule);
        let mut wheel = Wheel::new(schedule.t0);
        let mut done = 0;
        let slots = streams
            .into_iter()
            .enumerate()
            .map(|(i, spec)| {
                let mut times = schedule.times(spec.position);
                let due = times.at(0);
                let mut epochs: Box<dyn Iterator<Item = Epoch> + Send> =
                    Box::new(schedule.epochs(spec.position));
                let first = epochs.next().filter(|_| due.is_some());
                let phase = match first {
                    Some((open, _)) => {
                        wheel.push(open, i as u32);
                        Phase::Waiting
                    }
                    None => {
                        done += 1;
                        Phase::Done
                    }
                };
                Slot {
                    spec,
                    times,
                    epochs,
                    seq: 0,
                    due,
                    close_at: first.map_or(schedule.t0, |(_, close)| close),
                    phase,
                    held_due: None,
                    failure: None,
                    failed: false,
                    connections: 0,
                    sent: plotstream_client::Counts::default(),
                    counts: plotstream_client::Counts::default(),
                    status: None,
                }
            })
            .collect();
        let (tx, rx) = mpsc::unbounded_channel();
        Worker {
            index,
            plan,
            slots,
            wheel,
            held: Vec::new(),
            due: Vec::new(),
            done,
            // Most demos write one trace a frame.
            frame: Frame {
                writes: Vec::with_capacity(4),
                ..Frame::default()
            },
            payload: Vec::with_capacity(256),
            scratch: Vec::with_capacity(256),
            local: Local {
                writes: 0,
                last_write_nanos: 0,
                first_write_nanos: None,
                lateness: report::histogram(),
                published_at: Instant::now(),
            },
            tx,
            rx,
            stopping: false,
        }
    }

    /// Drives every stream to its end; what they did.
    pub(crate) async fn run(mut self) -> Finished {
        let sleep = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(sleep);
        while self.done < self.slots.len() {
            if !self.stopping && self.plan.shared.is_stopping() {
                self.stop_all();
            }
            let now = Instant::now();
            while let Ok(event) = self.rx.try_recv() {
                self.on_event(event);
            }
            let mut due = std::mem::take(&mut self.due);
            self.wheel.pop_due(now, &mut due);
            for &i in &due {
                self.step(i);
            }
            due.clear();
            self.due = due;
            self.publish(false);
            if self.done == self.slots.len() {
                break;
            }
            // Sleep to the next due time (a held stream is looked at again
            // within a millisecond, whatever wakes its socket).
            let mut next = self.wheel.next_due();
            if !self.held.is_empty() {
                let soon = Instant::now() + Duration::from_millis(1);
                next = Some(next.map_or(soon, |n| n.min(soon)));
            }
            let until = next.unwrap_or_else(|| Instant::now() + PUBLISH_EVERY);
            sleep
                .as_mut()
                .reset(until.min(self.local.published_at + PUBLISH_EVERY));
            std::future::poll_fn(|cx| self.wait(cx, sleep.as_mut())).await;
        }
        self.publish(true);
        self.finish()
    }

    /// Ends the run early: streams not open are done, open ones close (and
    /// those connecting close once open); no write more is offered.
    fn stop_all(&mut self) {
        self.stopping = true;
        for i in 0..self.slots.len() {
            let slot = &mut self.slots[i];
            match slot.phase {
                Phase::Waiting => {
                    slot.phase = Phase::Done;
                    self.done += 1;
                }
                Phase::Open(_) | Phase::Held(_) => self.close(i as u32),
                Phase::Connecting | Phase::Closing | Phase::Done => {}
            }
        }
    }

    /// Ready when an event came, a held stream's write went out, or the
    /// sleep ended.
    fn wait(&mut self, cx: &mut Context<'_>, sleep: Pin<&mut tokio::time::Sleep>) -> Poll<()> {
        let mut ready = false;
        while let Poll::Ready(Some(event)) = self.rx.poll_recv(cx) {
            self.on_event(event);
            ready = true;
        }
        if self.flush_held(cx) {
            ready = true;
        }
        if ready || sleep.poll(cx).is_ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Pushes out the held streams' writes; whether any went out or failed.
    fn flush_held(&mut self, cx: &mut Context<'_>) -> bool {
        let mut moved = false;
        let mut k = 0;
        while k < self.held.len() {
            let i = self.held[k];
            let slot = &mut self.slots[i as usize];
            let Phase::Held(publisher) = &mut slot.phase else {
                self.held.swap_remove(k);
                continue;
            };
            match publisher.poll_flush(cx) {
                Poll::Pending => k += 1,
                Poll::Ready(result) => {
                    self.held.swap_remove(k);
                    moved = true;
                    slot.phase.unhold();
                    match result {
                        Ok(()) => {
                            if let Some(d) = slot.held_due.take() {
                                self.local.count(&self.plan.schedule, d);
                            }
                            self.schedule_next(i);
                        }
                        Err(e) => {
                            slot.held_due = None;
                            slot.counts.unsent += 1;
                            self.fail(i, e);
                        }
                    }
                }
            }
        }
        moved
    }

    /// What the stream at `i` does when its time in the ring comes.
    fn step(&mut self, i: u32) {
        let now = Instant::now();
        let slot = &mut self.slots[i as usize];
        match slot.phase {
            Phase::Waiting => {
                slot.phase = Phase::Connecting;
                self.connect(i);
            }
            Phase::Open(_) => {
                let mut sent = 0;
                while let Some(d) = slot_due(&self.slots[i as usize]).filter(|&d| d <= now) {
                    if !self.write(i, d) {
                        return;
                    }
                    sent += 1;
                    if sent == BURST {
                        break;
                    }
                }
                self.schedule_next(i);
            }
            _ => {}
        }
    }

    /// Writes the stream's next write, due at `d`; whether it may write
    /// again now (false: held or failed).
    fn write(&mut self, i: u32, d: Instant) -> bool {
        let plan = &*self.plan;
        let slot = &mut self.slots[i as usize];
        let Phase::Open(publisher) = &mut slot.phase else {
            return false;
        };
        // The next write of the demo's first trace, numbered.
        let first = loop {
            slot.spec.demo.next_frame(Clock::Simulated, &mut self.frame);
            if let Some(k) = self.frame.writes.iter().position(|w| w.token == 0) {
                break k;
            }
        };
        let write = &mut self.frame.writes[first].write;
        write.customdata = Some(Update::append(slot.seq));
        self.payload.clear();
        encode_payload(
            plan.payload,
            plan.run,
            &slot.spec.token,
            slot.seq,
            write,
            &mut self.payload,
        );
        let message = Message {
            payload: &self.payload,
        };
        let sent = publisher.try_send(&message, &mut self.scratch);
        slot.seq += 1;
        slot.due = slot.times.at(slot.seq);
        if sent.is_ok() {
            slot.sent.writes += 1;
            slot.sent.bytes += self.payload.len() as u64;
        }
        match sent {
            Ok(Sent::Out) => {
                self.local.count(&plan.schedule, d);
                true
            }
            Ok(Sent::Held) => {
                slot.held_due = Some(d);
                slot.phase.hold();
                self.held.push(i);
                false
            }
            Err(e) => {
                // Never handed over.
                slot.counts.unsent += 1;
                self.fail(i, e);
                false
            }
        }
    }

    /// Puts an open stream back in the ring for its next write in this
    /// epoch; with none left, for its epoch's end (a staged stream, or one
    /// with writes in later epochs, stays open to it), or closes it now (an
    /// unstaged stream that has written its last, or an epoch already over).
    /// A stream is in the ring at most once.
    fn schedule_next(&mut self, i: u32) {
        let staged = self.plan.schedule.staged();
        let slot = &self.slots[i as usize];
        if let Some(d) = slot_due(slot) {
            self.wheel.push(d, i);
        } else if (staged || slot.due.is_some()) && Instant::now() < slot.close_at {
            self.wheel.push(slot.close_at, i);
        } else {
            self.close(i);
        }
    }

    /// The connection failed: the rest of the epoch is never sent, and the
    /// connection is closed to hear the server's last word.
    fn fail(&mut self, i: u32, e: PublishError) {
        let slot = &mut self.slots[i as usize];
        slot.failure = Some(e);
        slot.skip_epoch();
        self.close(i);
    }

    /// Starts connecting the stream, in a task of its own.
    fn connect(&mut self, i: u32) {
        let slot = &self.slots[i as usize];
        let plan = &self.plan;
        let local =
            (!plan.bind.is_empty()).then(|| plan.bind[slot.spec.position % plan.bind.len()]);
        let (config, token, tx) = (
            Arc::clone(&plan.config),
            slot.spec.token.clone(),
            self.tx.clone(),
        );
        tokio::spawn(async move {
            let result = P::connect(&config, &token, local).await;
            let _ = tx.send(Event::Connected(i, result));
        });
    }

    /// Starts closing the stream's connection, in a task of its own; in a
    /// run stopped early, waiting [`STOP_GRACE`] at most.
    fn close(&mut self, i: u32) {
        let slot = &mut self.slots[i as usize];
        let (Phase::Open(publisher) | Phase::Held(publisher)) =
            std::mem::replace(&mut slot.phase, Phase::Closing)
        else {
            return;
        };
        let tx = self.tx.clone();
        let grace = self.stopping.then_some(STOP_GRACE);
        let sent = std::mem::take(&mut slot.sent);
        tokio::spawn(async move {
            let closed = match grace {
                None => publisher.close().await,
                Some(grace) => tokio::time::timeout(grace, publisher.close())
                    .await
                    .unwrap_or_else(|_| Closed {
                        status: Some("no answer".to_owned()),
                        counts: plotstream_client::Counts {
                            unconfirmed: sent.writes,
                            ..sent
                        },
                        error: None,
                    }),
            };
            let _ = tx.send(Event::Closed(i, closed));
        });
    }

    fn on_event(&mut self, event: Event<P>) {
        let counters = &self.plan.shared.counters[self.index];
        match event {
            Event::Connected(i, Ok(publisher)) => {
                counters.open.fetch_add(1, Ordering::Relaxed);
                let slot = &mut self.slots[i as usize];
                slot.connections += 1;
                slot.sent = plotstream_client::Counts::default();
                slot.phase = Phase::Open(publisher);
                if self.stopping {
                    self.close(i);
                } else {
                    self.schedule_next(i);
                }
            }
            Event::Connected(i, Err(e)) => {
                tracing::warn!(
                    token = self.slots[i as usize].spec.token,
                    "cannot connect: {e}"
                );
                counters.connect_errors.fetch_add(1, Ordering::Relaxed);
                self.plan.shared.note_error(&e);
                let slot = &mut self.slots[i as usize];
                slot.failed = true;
                // This connection's writes are never sent; the next epoch
                // tries again.
                slot.skip_epoch();
                self.next_epoch(i);
            }
            Event::Closed(i, closed) => {
                counters.open.fetch_sub(1, Ordering::Relaxed);
                let slot = &mut self.slots[i as usize];
                slot.counts += closed.counts;
                if closed.status.is_some() {
                    slot.status = closed.status;
                }
                if let Some(e) = slot.failure.take().or(closed.error) {
                    counters.stream_errors.fetch_add(1, Ordering::Relaxed);
                    self.plan.shared.note_error(&e);
                    slot.failed = true;
                }
                self.next_epoch(i);
            }
        }
    }

    /// The stream's next epoch, or its end.
    fn next_epoch(&mut self, i: u32) {
        let slot = &mut self.slots[i as usize];
        let next = if self.stopping {
            None
        } else {
            slot.epochs.next().filter(|_| slot.due.is_some())
        };
        match next {
            Some((open, close)) => {
                slot.close_at = close;
                slot.phase = Phase::Waiting;
                self.wheel.push(open, i);
            }
            None => {
                slot.phase = Phase::Done;
                self.done += 1;
            }
        }
    }

    /// Publishes the worker's counts and lateness for the monitor, every
    /// [`PUBLISH_EVERY`] (or now, with `now`).
    fn publish(&mut self, now: bool) {
        let at = Instant::now();
        if !now && at < self.local.published_at + PUBLISH_EVERY {
            return;
        }
        self.local.published_at = at;
        let shared = &self.plan.shared;
        let counters = &shared.counters[self.index];
        counters.writes.store(self.local.writes, Ordering::Relaxed);
        counters
            .last_write_nanos
            .store(self.local.last_write_nanos, Ordering::Relaxed);
        if let Some(first) = self.local.first_write_nanos {
            counters
                .first_write_nanos
                .store(first.saturating_add(1), Ordering::Relaxed);
        }
        shared.lateness.add(self.index, &mut self.local.lateness);
    }

    /// What the streams did, added up.
    fn finish(self) -> Finished {
        let mut done = Finished {
            streams: self.slots.len(),
            ..Finished::default()
        };
        let mut statuses = BTreeMap::new();
        for slot in self.slots {
            done.failed += usize::from(slot.failed);
            done.connections += slot.connections;
            done.counts += slot.counts;
            if let Some(s) = slot.status {
                *statuses.entry(s).or_insert(0) += 1;
            }
        }
        done.statuses = statuses;
        done
    }
}

/// An open stream's next write in this epoch.
fn slot_due<P>(slot: &Slot<P>) -> Option<Instant> {
    slot.due.filter(|&d| slot.in_epoch(d))
}

impl Local {
    /// Counts a write due at `d` that has just gone out.
    fn count(&mut self, schedule: &Schedule, d: Instant) {
        let now = Instant::now();
        report::record(&mut self.lateness, now.saturating_duration_since(d));
        self.writes += 1;
        self.last_write_nanos =
            u64::try_from(now.saturating_duration_since(schedule.t0).as_nanos())
                .unwrap_or(u64::MAX);
        self.first_write_nanos.get_or_insert(self.last_write_nanos);
    }
}

/// Writes the payload of write `seq` of stream `token`.
fn encode_payload(
    payload: Payload,
    run: u64,
    token: &str,
    seq: u64,
    write: &plotstream_protocol::Write,
    out: &mut Vec<u8>,
) {
    match payload {
        Payload::Plotly => {
            let _ = write.encode_line(out);
            out.pop(); // the newline: each target frames writes its own way
        }
        Payload::Point => {
            use std::io::Write as _;
            let scalar = |u: &Option<Update>, out: &mut Vec<u8>| match u {
                Some(Update::Append(s)) => {
                    let _ = serde_json::to_writer(&mut *out, &s.to_value());
                }
                _ => out.extend_from_slice(b"null"),
            };
            let _ = write!(out, "{{\"run\":{run},\"stream\":");
            let _ = serde_json::to_writer(&mut *out, token);
            let _ = write!(out, ",\"seq\":{seq},\"x\":");
            scalar(&write.x, out);
            out.extend_from_slice(b",\"y\":");
            scalar(&write.y, out);
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::engine::Shared;

    /// What the recording publisher saw: per connection, when it opened
    /// and the sequence numbers it carried.
    #[derive(Debug, Default)]
    struct Seen {
        connections: Vec<(String, Instant, Vec<u64>)>,
    }

    /// A publisher that records every write and holds every third one
    /// until the worker flushes it.
    struct Recorder {
        seen: Arc<Mutex<Seen>>,
        index: usize,
        held: Option<u64>,
        sent: u64,
    }

    fn seq_of(payload: &[u8]) -> u64 {
        let v: serde_json::Value = serde_json::from_slice(payload).expect("a Plotly write");
        v["customdata"].as_u64().expect("numbered")
    }

    impl Publish for Recorder {
        type Config = Arc<Mutex<Seen>>;

        async fn connect(
            config: &Self::Config,
            token: &str,
            _: Option<std::net::IpAddr>,
        ) -> Result<Self, PublishError> {
            let mut seen = config.lock().expect("lock");
            seen.connections
                .push((token.to_owned(), Instant::now(), Vec::new()));
            Ok(Recorder {
                seen: Arc::clone(config),
                index: seen.connections.len() - 1,
                held: None,
                sent: 0,
            })
        }

        fn try_send(
            &mut self,
            message: &Message<'_>,
            _: &mut Vec<u8>,
        ) -> Result<Sent, PublishError> {
            assert!(self.held.is_none(), "a write offered while one is held");
            let seq = seq_of(message.payload);
            self.sent += 1;
            if self.sent.is_multiple_of(3) {
                self.held = Some(seq);
                return Ok(Sent::Held);
            }
            self.seen.lock().expect("lock").connections[self.index]
                .2
                .push(seq);
            Ok(Sent::Out)
        }

        fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PublishError>> {
            // Out on the second look: the worker must come back by itself.
            match self.held.take() {
                Some(seq) if self.sent.is_multiple_of(2) => {
                    self.seen.lock().expect("lock").connections[self.index]
                        .2
                        .push(seq);
                    Poll::Ready(Ok(()))
                }
                Some(seq) => {
                    self.held = Some(seq);
                    self.sent += 1;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
                None => Poll::Ready(Ok(())),
            }
        }

        async fn close(self) -> Closed {
            let n = self.seen.lock().expect("lock").connections[self.index]
                .2
                .len() as u64;
            Closed {
                status: Some("200".to_owned()),
                counts: plotstream_client::Counts {
                    writes: n,
                    ..Default::default()
                },
                error: None,
            }
        }
    }

    /// Three streams × 50 writes/s for 0.6 s, each cut every 0.2 s: every
    /// write goes out once, in order, on the connection of its epoch (none
    /// opened before its epoch), the held ones included.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_sends_every_write_once_on_its_epochs_connection() {
        let mut schedule = Schedule::for_test();
        schedule.streams = 3;
        schedule.rate = 50.0;
        schedule.duration = Duration::from_millis(600);
        schedule.churn = Some(Duration::from_millis(200));
        schedule.t0 = Instant::now() + Duration::from_millis(20);
        let schedule = Arc::new(schedule);
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let plan = Arc::new(Plan::<Recorder> {
            config: Arc::new(Arc::clone(&seen)),
            schedule: Arc::clone(&schedule),
            shared: Arc::new(Shared::new(1)),
            payload: Payload::Plotly,
            run: 1,
            bind: Arc::from([]),
        });
        let demos = plotstream_demos::DemoKind::NoisyCosine
            .for_many()
            .expect("a demo");
        let streams = (0..3)
            .map(|i| StreamSpec {
                position: i,
                token: format!("t-{i}"),
                demo: demos.build(i as u64, &format!("t-{i}")).expect("a demo"),
            })
            .collect();
        let done = crate::engine::run(plan, streams, 1).await;
        assert_eq!((done.streams, done.failed), (3, 0));
        assert_eq!(done.counts.writes, 90, "3 × 50/s × 0.6 s");
        assert_eq!(done.statuses.get("200"), Some(&3));
        let seen = seen.lock().expect("lock");
        for i in 0..3 {
            let token = format!("t-{i}");
            let mine: Vec<_> = seen.connections.iter().filter(|c| c.0 == token).collect();
            let all: Vec<u64> = mine.iter().flat_map(|c| c.2.iter().copied()).collect();
            assert_eq!(
                all,
                (0..30).collect::<Vec<_>>(),
                "{token}: each write once, in order"
            );
            let epochs: Vec<_> = schedule.epochs(i).collect();
            assert_eq!(mine.len(), epochs.len(), "{token}: a connection an epoch");
            for (c, (open, _)) in mine.iter().zip(&epochs) {
                assert!(
                    c.1 >= *open,
                    "{token}: connected before its epoch: {:?} before {:?}",
                    open.saturating_duration_since(c.1),
                    open.saturating_duration_since(schedule.t0)
                );
            }
        }
        assert_eq!(done.connections, seen.connections.len() as u64);
    }

    /// The point payload is the JSON object the subscribers read, without
    /// building a `serde_json::Value` per write.
    #[test]
    fn the_point_payload_is_what_serde_would_write() {
        let mut write = plotstream_protocol::Write::xy(1.5, -2.0);
        write.customdata = Some(Update::append(7u64));
        let mut out = Vec::new();
        encode_payload(Payload::Point, 42, "load-\"3", 7, &write, &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
        assert_eq!(
            v,
            serde_json::json!({"run": 42, "stream": "load-\"3", "seq": 7, "x": 1.5, "y": -2.0})
        );
    }
}
