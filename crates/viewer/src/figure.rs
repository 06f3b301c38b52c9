//! A figure ([`FigureEntry`]) and a token that feeds figures
//! ([`TokenEntry`]); and the [`Flusher`] that sends what figures gathered.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use plotstream_protocol::{
    Attribute, Field, Figure, PathTooDeep, StreamsEvent, ViewerEvent, Write,
};
use serde_json::{Map, Value};
use tokio::sync::{Notify, watch};

use crate::column::{TraceData, relayout, restored_attributes};
use crate::event::{self, Pending};
use crate::fanout::{Fanout, Message, Subscriber};
use crate::memory::Memory;
use crate::store::{SaveRow, StoredData, StreamMark};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The figures whose gathered updates wait to be sent. Figures register
/// themselves when they hold back an update; the flusher task wakes only
/// then, and visits only them: an idle viewer does no work.
#[derive(Debug, Default)]
pub(crate) struct Flusher {
    queued: Mutex<Vec<Weak<FigureEntry>>>,
    wake: Notify,
    stopped: AtomicBool,
}

impl Flusher {
    fn queue(&self, figure: Weak<FigureEntry>) {
        lock(&self.queued).push(figure);
        self.wake.notify_one();
    }

    /// Ends the flusher task.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// The flusher task: after each wake-up, waits one `interval` (so the
    /// figure gathers), then sends what every queued figure holds.
    pub(crate) async fn run(self: Arc<Self>, interval: Duration) {
        loop {
            self.wake.notified().await;
            if self.stopped.load(Ordering::Acquire) {
                return;
            }
            tokio::time::sleep(interval).await;
            let queued = std::mem::take(&mut *lock(&self.queued));
            for figure in queued.iter().filter_map(Weak::upgrade) {
                // Unmark first: an update applied from here on queues again.
                figure.queued.store(false, Ordering::Release);
                figure.flush();
            }
        }
    }
}

/// How a figure came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Made through the API (or restored): kept until deleted.
    Made,
    /// Made by an open viewer for an unknown token: saved, dropped when idle.
    Auto,
    /// Made to be thrown away (a load test's): never saved, dropped when idle.
    Temporary,
}

/// A figure: what it was created as, and the data it holds now.
#[derive(Debug)]
pub(crate) struct FigureEntry {
    pub(crate) id: u64,
    pub(crate) title: String,
    /// Made for an unknown token on an open viewer; dropped when idle.
    pub(crate) auto: bool,
    /// Held in memory only, never saved; dropped when idle (a load test's).
    pub(crate) temporary: bool,
    template: Figure,
    /// The distinct tokens of its traces.
    tokens: Vec<String>,
    state: Mutex<FigureState>,
    fanout: Fanout,
    update_interval: Duration,
    show_tokens: bool,
    flusher: Arc<Flusher>,
    /// Whether it is in the flusher's queue.
    queued: AtomicBool,
    /// Written to since its data was last taken for the store.
    dirty: AtomicBool,
    /// Whether the store has the figure's own row (a figure made for an
    /// unknown token gets it with its first save).
    stored: AtomicBool,
    /// The viewer's memory budget, which its traces' bytes count against.
    memory: Arc<Memory>,
    /// Its traces' bytes, readable without the lock (to pick the largest
    /// figure when the viewer is over its limit).
    bytes: AtomicUsize,
}

#[derive(Debug)]
struct FigureState {
    traces: Vec<TraceData>,
    layout: Map<String, Value>,
    /// Updates applied but not yet sent to subscribers.
    pending: Option<Pending>,
    /// When the last update event went out.
    last_sent: Instant,
    /// When it was made or last written to.
    last_write: Instant,
    /// How far each acknowledged stream that wrote to it reached, one per
    /// token at most: saved with the points.
    streams: Vec<StreamMark>,
    /// Its traces' bytes together.
    bytes: usize,
    /// Points dropped to stay within memory since it was made.
    dropped: u64,
}

/// What a new figure entry needs besides its figure.
#[derive(Debug)]
pub(crate) struct FigureSettings {
    pub(crate) subscriber_buffer: usize,
    pub(crate) subscriber_backlog_bytes: usize,
    pub(crate) update_interval: Duration,
    pub(crate) show_tokens: bool,
    pub(crate) flusher: Arc<Flusher>,
    pub(crate) memory: Arc<Memory>,
}

impl FigureEntry {
    /// A figure; `traces` holds one [`TraceData`] per trace of `template`.
    pub(crate) fn new(
        id: u64,
        title: String,
        kind: Kind,
        template: Figure,
        traces: Vec<TraceData>,
        settings: &FigureSettings,
    ) -> Self {
        let tokens = template.tokens().map(str::to_owned).collect();
        FigureEntry {
            id,
            title,
            auto: kind == Kind::Auto,
            temporary: kind == Kind::Temporary,
            tokens,
            state: Mutex::new(FigureState {
                traces,
                layout: template.layout.clone().unwrap_or_default(),
                pending: None,
                last_sent: Instant::now(),
                last_write: Instant::now(),
                streams: Vec::new(),
                bytes: 0,
                dropped: 0,
            }),
            template,
            fanout: Fanout::new(
                settings.subscriber_buffer,
                settings.subscriber_backlog_bytes,
            ),
            update_interval: settings.update_interval,
            show_tokens: settings.show_tokens,
            flusher: Arc::clone(&settings.flusher),
            queued: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            stored: AtomicBool::new(false),
            memory: Arc::clone(&settings.memory),
            bytes: AtomicUsize::new(0),
        }
    }

    /// Its traces' bytes, as of its last change.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Notes, in the figure and in the budget, that some of its traces
    /// went from `before` to `after` bytes.
    fn count_bytes(&self, state: &mut FigureState, before: usize, after: usize) {
        self.memory.changed(before, after);
        state.bytes = state.bytes - before + after;
        self.bytes.store(state.bytes, Ordering::Relaxed);
    }

    /// Drops the oldest points of its largest traces until `need` bytes are
    /// freed (each trace keeps its newest point), for the viewer's memory
    /// limit; returns the bytes freed. Subscribers are told how many points
    /// each trace keeps.
    pub(crate) fn drop_oldest(self: &Arc<Self>, need: usize) -> usize {
        let mut state = self.lock();
        let all: Vec<usize> = (0..state.traces.len()).collect();
        let freed = self.drop_from(&mut state, &all, need);
        if freed > 0 {
            if self.fanout.receiver_count() > 0 {
                let pending = state.pending.get_or_insert_with(Pending::default);
                for &i in &all {
                    pending.trace(i);
                }
            }
            self.dirty.store(true, Ordering::Release);
            self.send_or_queue(&mut state);
        }
        freed
    }

    /// Drops the oldest points of traces `indices`, largest first, until
    /// `need` bytes are freed; counts them, and the bytes.
    fn drop_from(&self, state: &mut FigureState, indices: &[usize], need: usize) -> usize {
        let mut order: Vec<usize> = indices
            .iter()
            .copied()
            .filter(|&i| i < state.traces.len())
            .collect();
        order.sort_by_key(|&i| std::cmp::Reverse(state.traces[i].bytes()));
        let mut freed = 0;
        let mut points = 0;
        for i in order {
            if freed >= need {
                break;
            }
            let (p, b) = state.traces[i].drop_oldest(need - freed);
            points += p;
            freed += b;
        }
        if points > 0 {
            state.dropped += points;
            self.memory.note_dropped(points);
            self.count_bytes(state, freed, 0);
        }
        freed
    }

    fn lock(&self) -> MutexGuard<'_, FigureState> {
        lock(&self.state)
    }

    /// The figure as it was made.
    pub(crate) fn template(&self) -> &Figure {
        &self.template
    }

    /// The distinct tokens of its traces.
    pub(crate) fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The figure with the data it holds now.
    pub(crate) fn snapshot(&self) -> Value {
        let state = self.lock();
        event::snapshot(
            &self.template,
            &state.traces,
            &state.layout,
            self.show_tokens,
            state.dropped,
        )
    }

    /// A snapshot and a subscriber of every update after it, taken together
    /// under the figure's lock, so nothing falls between them.
    ///
    /// Pending updates go out to the earlier subscribers first: the new one
    /// finds them in its snapshot, not again after it.
    pub(crate) fn subscribe(&self) -> (Value, Subscriber) {
        let mut state = self.lock();
        self.send_pending(&mut state);
        let snapshot = event::snapshot(
            &self.template,
            &state.traces,
            &state.layout,
            self.show_tokens,
            state.dropped,
        );
        (snapshot, self.fanout.subscribe())
    }

    /// Sends the pending updates now, if there are any.
    pub(crate) fn flush(&self) {
        let mut state = self.lock();
        self.send_pending(&mut state);
    }

    /// Tells subscribers how many streams feed the figure now, after what
    /// the streams sent so far.
    pub(crate) fn send_streams(&self, connected: u64) {
        let mut state = self.lock();
        self.send_pending(&mut state);
        if let Ok(json) = serde_json::to_string(&StreamsEvent { connected }) {
            self.fanout.send(&Message {
                kind: ViewerEvent::STREAMS,
                data: Arc::from(json),
            });
        }
    }

    /// Ends every subscription: the figure is gone.
    pub(crate) fn close(&self) {
        self.fanout.close();
    }

    /// Sends the pending updates as one event. Called under the lock: every
    /// subscriber sees updates in the order they were applied, after its
    /// snapshot.
    fn send_pending(&self, state: &mut FigureState) {
        let Some(pending) = state.pending.take() else {
            return;
        };
        let Some(update) = pending.take(&state.traces, state.dropped) else {
            return;
        };
        if let Ok(json) = serde_json::to_string(&update) {
            self.fanout.send(&Message {
                kind: ViewerEvent::UPDATE,
                data: Arc::from(json),
            });
            state.last_sent = Instant::now();
        }
    }

    /// What a save writes for it, if it was written to since the last
    /// time: its data, and the figure itself if the store lacks it. Taken
    /// under the figure's lock, so a write applied after it makes the figure
    /// dirty again.
    pub(crate) fn take_saved(&self) -> Option<SaveRow> {
        if self.temporary {
            return None;
        }
        let state = self.lock();
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return None;
        }
        let traces: Vec<_> = state.traces.iter().map(TraceData::saved).collect();
        let data = crate::store::data_row(&traces, &state.layout, &state.streams)?;
        let figure = if self.stored.load(Ordering::Acquire) {
            None
        } else {
            Some(crate::store::figure_row(&self.template, self.auto).ok()?)
        };
        Some(SaveRow {
            id: self.id,
            figure,
            data,
        })
    }

    /// Marks it to be saved again (its last save failed).
    pub(crate) fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// Notes that the store has the figure's own row.
    pub(crate) fn mark_stored(&self) {
        self.stored.store(true, Ordering::Release);
    }

    /// Puts back the data the store saved: the columns of each trace (the
    /// caller has admitted them into their tokens) and the layout.
    pub(crate) fn restore(&self, data: &StoredData) {
        let mut state = self.lock();
        for (trace, columns) in state.traces.iter_mut().zip(&data.traces) {
            trace.restore(columns);
        }
        if !data.layout.is_empty() {
            state.layout.clone_from(&data.layout);
        }
        state.streams.clone_from(&data.streams);
        let after = state.traces.iter().map(TraceData::bytes).sum();
        let before = state.bytes;
        self.count_bytes(&mut state, before, after);
    }

    /// The points it holds, as CSV or NDJSON ([`crate::export`]).
    pub(crate) fn export(&self, format: crate::export::Format) -> String {
        crate::export::render(&self.lock().traces, format)
    }

    /// Points held by each trace.
    pub(crate) fn points(&self) -> Vec<usize> {
        self.lock().traces.iter().map(TraceData::points).collect()
    }

    /// How long since it was made or last written to.
    pub(crate) fn idle_for(&self) -> Duration {
        self.lock().last_write.elapsed()
    }

    /// The data of the traces `indices`, as JSON objects.
    fn traces_json(&self, indices: &[usize]) -> Vec<Value> {
        let state = self.lock();
        indices
            .iter()
            .filter_map(|&i| Some(Value::Object(state.traces.get(i)?.to_json())))
            .collect()
    }

    /// Applies `writes` to the traces `indices`, the traces of one token
    /// that feeds `shared` figures: past its share of
    /// [`Config::max_token_bytes`](crate::Config::max_token_bytes), the
    /// oldest points of those traces go.
    ///
    /// Updates are gathered for `update_interval` (10 ms by default) and
    /// sent as one event: a subscriber gets a few dozen events a second per
    /// figure however many chunks arrive. What is held back, the flusher
    /// sends.
    fn apply(
        self: &Arc<Self>,
        indices: &[usize],
        writes: &[Write],
        mark: Option<&StreamMark>,
        shared: usize,
    ) {
        let mut state = self.lock();
        if let Some(mark) = mark {
            match state.streams.iter_mut().find(|m| m.token == mark.token) {
                Some(m) => m.clone_from(mark),
                None => state.streams.push(mark.clone()),
            }
        }
        let before = bytes_of(&state.traces, indices);
        let mut pending = if self.fanout.receiver_count() > 0 {
            Some(state.pending.take().unwrap_or_default())
        } else {
            state.pending = None;
            None
        };
        for w in writes {
            for &i in indices {
                let gathered = pending.as_mut().map(|p| p.trace(i));
                if let Some(trace) = state.traces.get_mut(i) {
                    trace.apply(w, gathered);
                }
            }
            if let Some(update) = &w.layout {
                relayout(&mut state.layout, update);
                if let Some(p) = pending.as_mut() {
                    p.relayout(update);
                }
            }
        }
        state.last_write = Instant::now();
        state.pending = pending;
        let held = bytes_of(&state.traces, indices);
        self.count_bytes(&mut state, before, held);
        if let Some(need) = self.memory.token_excess(held, shared) {
            self.drop_from(&mut state, indices, need);
        }
        self.dirty.store(true, Ordering::Release);
        self.send_or_queue(&mut state);
    }

    /// Sends the pending updates if the last event is `update_interval`
    /// old, else has the flusher send them.
    fn send_or_queue(self: &Arc<Self>, state: &mut FigureState) {
        if state.last_sent.elapsed() >= self.update_interval {
            self.send_pending(state);
        } else if state.pending.is_some() && !self.queued.swap(true, Ordering::AcqRel) {
            self.flusher.queue(Arc::downgrade(self));
        }
    }
}

/// The bytes of traces `indices` together.
fn bytes_of(traces: &[TraceData], indices: &[usize]) -> usize {
    indices
        .iter()
        .filter_map(|&i| traces.get(i))
        .map(TraceData::bytes)
        .sum()
}

impl Drop for FigureEntry {
    fn drop(&mut self) {
        // Its points are freed with it.
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        self.memory.changed(state.bytes, 0);
    }
}

/// The attributes a token has streamed: each is a column in every trace
/// it feeds, so their number is what bounds a trace's columns.
#[derive(Debug, Default)]
struct Columns {
    fields: u16,
    others: HashSet<Box<str>>,
}

impl Columns {
    fn len(&self) -> usize {
        self.fields.count_ones() as usize + self.others.len()
    }

    fn contains(&self, a: &Attribute<'_>) -> bool {
        match a.field {
            Some(f) => self.fields & (1 << f.index()) != 0,
            None => self.others.contains(a.path),
        }
    }

    fn insert(&mut self, a: &Attribute<'_>) -> Added {
        match a.field {
            Some(f) => {
                self.fields |= 1 << f.index();
                Added::Field(f)
            }
            None => {
                self.others.insert(a.path.into());
                Added::Other(a.path.into())
            }
        }
    }

    fn remove(&mut self, added: Added) {
        match added {
            Added::Field(f) => self.fields &= !(1 << f.index()),
            Added::Other(p) => {
                self.others.remove(&p);
            }
        }
    }
}

#[derive(Debug)]
enum Added {
    Field(Field),
    Other(Box<str>),
}

/// Why a token refused a write.
#[derive(Debug)]
pub(crate) enum Refused {
    /// One more attribute than the column limit: its path (64 bytes at most).
    OverColumns(String),
    /// A path deeper than the protocol allows (only for unvalidated writes).
    TooDeep(PathTooDeep),
}

impl From<PathTooDeep> for Refused {
    fn from(e: PathTooDeep) -> Self {
        Refused::TooDeep(e)
    }
}

/// A token: the traces it feeds, its counters, and its current connection.
#[derive(Debug)]
pub(crate) struct TokenEntry {
    pub(crate) token: String,
    targets: RwLock<Vec<(Arc<FigureEntry>, Vec<usize>)>>,
    columns: Mutex<Columns>,
    /// The protocol fields among the columns, readable without the lock.
    fields_seen: AtomicU16,
    max_columns: usize,
    pub(crate) writes: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) connections: AtomicI64,
    /// Bumped by each new connection, and when the token is removed; a
    /// connection watches it and ends.
    pub(crate) generation: watch::Sender<u64>,
    removed: AtomicBool,
    /// The token's last acknowledged stream, to resume it after a drop.
    pub(crate) resume: crate::ack::Resumable,
}

impl TokenEntry {
    pub(crate) fn new(token: &str, max_columns: usize) -> Self {
        TokenEntry {
            token: token.to_owned(),
            targets: RwLock::new(Vec::new()),
            columns: Mutex::new(Columns::default()),
            fields_seen: AtomicU16::new(0),
            max_columns,
            writes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            connections: AtomicI64::new(0),
            generation: watch::Sender::new(0),
            removed: AtomicBool::new(false),
            resume: crate::ack::Resumable::default(),
        }
    }

    pub(crate) fn add_target(&self, figure: Arc<FigureEntry>, indices: Vec<usize>) {
        self.targets
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push((figure, indices));
    }

    /// Stops feeding figure `id`; true when it feeds nothing any more.
    pub(crate) fn detach(&self, id: u64) -> bool {
        let mut targets = self.targets.write().unwrap_or_else(PoisonError::into_inner);
        targets.retain(|(f, _)| f.id != id);
        targets.is_empty()
    }

    /// Marks the token gone and ends its connection.
    pub(crate) fn remove(&self) {
        self.removed.store(true, Ordering::Release);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Whether the token was removed (its figures deleted).
    pub(crate) fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }

    /// Takes the write's attributes into the token's columns, or refuses
    /// the write, naming the first attribute over [`Config::max_columns`](crate::Config::max_columns).
    /// A refused write adds nothing. The write must be validated.
    pub(crate) fn admit(&self, w: &Write) -> Result<(), Refused> {
        // Most writes name only fields the token already streams: no lock.
        let fields = w.fields();
        if !fields.has_others() && fields.bits() & !self.fields_seen.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        self.admit_all(|f| w.for_each_attribute(f))
    }

    /// Takes the columns of a trace restored from the store into the
    /// token's columns, or refuses them all, as [`TokenEntry::admit`].
    pub(crate) fn admit_restored(&self, columns: &[(String, Vec<Value>)]) -> Result<(), Refused> {
        self.admit_all(|f| restored_attributes(columns).try_for_each(f))
    }

    /// Takes every attribute `walk` reports, or none of them.
    fn admit_all(
        &self,
        walk: impl FnOnce(&mut dyn FnMut(Attribute<'_>) -> Result<(), Refused>) -> Result<(), Refused>,
    ) -> Result<(), Refused> {
        let mut columns = lock(&self.columns);
        let mut added = Vec::new();
        let result = walk(&mut |a| {
            if columns.contains(&a) {
                return Ok(());
            }
            if columns.len() >= self.max_columns {
                return Err(Refused::OverColumns(a.path.chars().take(64).collect()));
            }
            added.push(columns.insert(&a));
            Ok(())
        });
        match result {
            Ok(()) => {
                self.fields_seen.store(columns.fields, Ordering::Release);
                Ok(())
            }
            Err(refused) => {
                for a in added {
                    columns.remove(a);
                }
                Err(refused)
            }
        }
    }

    /// Applies `writes` to every trace this token feeds; `mark`, for an
    /// acknowledged stream, is how far its lines reach with them.
    pub(crate) fn apply(&self, writes: &[Write], mark: Option<&StreamMark>) {
        if writes.is_empty() {
            return;
        }
        let targets = self.targets.read().unwrap_or_else(PoisonError::into_inner);
        for (figure, indices) in targets.iter() {
            figure.apply(indices, writes, mark, targets.len());
        }
        self.writes
            .fetch_add(writes.len() as u64, Ordering::Relaxed);
    }

    /// The figures this token feeds.
    pub(crate) fn targets(&self) -> Vec<Arc<FigureEntry>> {
        let targets = self.targets.read().unwrap_or_else(PoisonError::into_inner);
        targets.iter().map(|(f, _)| Arc::clone(f)).collect()
    }

    /// The data of every trace this token feeds.
    pub(crate) fn traces_json(&self) -> Vec<Value> {
        let targets = self.targets.read().unwrap_or_else(PoisonError::into_inner);
        targets
            .iter()
            .flat_map(|(figure, indices)| figure.traces_json(indices))
            .collect()
    }
}
