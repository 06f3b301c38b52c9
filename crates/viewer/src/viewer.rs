//! [`Viewer`]: the figures, the tokens that feed them, the counters, and the
//! tasks that keep them (the flusher, the janitor that drops idle figures
//! made for unknown tokens, and the saver that keeps points in the store).

use crate::config::Setting;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock, Weak};
use std::time::Duration;

use plotstream_protocol::{Figure, PathTooDeep, StreamSpec, Trace, Write, check_token};
use serde_json::{Value, json};

use crate::column::TraceData;
use crate::figure::{FigureEntry, FigureSettings, Flusher, Kind, Refused, TokenEntry};
use crate::memory::Memory;
use crate::metrics::Metrics;
use crate::store::{SaveRow, StoredData, StoredFigure};
use crate::{Config, Error, Store};

#[derive(Debug)]
struct Inner {
    config: Config,
    figures: RwLock<BTreeMap<u64, Arc<FigureEntry>>>,
    next_id: AtomicU64,
    tokens: RwLock<HashMap<String, Arc<TokenEntry>>>,
    /// Held while an open viewer makes a default figure, so two connections
    /// with one new token make one figure.
    open_lock: Mutex<()>,
    metrics: Metrics,
    /// The points' memory budget.
    memory: Arc<Memory>,
    flusher: Arc<Flusher>,
    /// Whether the flusher and the janitor run.
    tasks: AtomicBool,
    /// Chart Studio's names and grids.
    files: crate::chart_studio::Files,
    /// Where figures are kept across restarts, if anywhere.
    store: Option<Store>,
    /// Held while a figure is made, made again or deleted (in memory and in
    /// the store), and while a save writes: a save never writes the data of
    /// a figure that has gone, or been made again, since it was taken.
    persist: Mutex<()>,
    /// What the store gave back when the viewer started.
    restored: OnceLock<Restored>,
}

/// What [`Viewer::with_store`] found in its store and put back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Restored {
    /// Figures put back.
    pub figures: usize,
    /// Points put back, every trace's together.
    pub points: usize,
    /// Figures left in the store but not put back, each with why (over a
    /// limit such as [`Config::max_figures`], or unreadable). They stay in
    /// the store: a viewer with higher limits puts them back.
    pub refused: Vec<String>,
}

/// Where [`Viewer::insert_figure`] puts a figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// Under a new id.
    New,
    /// In place of figure N, which goes once the new one is found valid.
    Replace(u64),
    /// Under the id it had in the store (it is there already).
    Restore(u64),
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.flusher.stop();
    }
}

/// The viewer's state: figures, the tokens that feed them, counters. Cheap
/// to clone; every clone is the same viewer.
///
/// ```
/// use plotstream_protocol::{Figure, StreamSpec, Trace, Write};
/// use plotstream_viewer::{Config, Viewer};
///
/// let viewer = Viewer::new(Config::default())?;
/// let figure = Figure {
///     data: vec![Trace::streamed("scatter", StreamSpec::new("tok", 100))],
///     ..Figure::default()
/// };
/// let id = viewer.add_figure(figure)?;
/// viewer.apply("tok", &[Write::xy(1, 2)])?;
/// assert_eq!(viewer.figure_json(id).unwrap()["data"][0]["y"], serde_json::json!([2]));
/// viewer.delete_figure(id)?;
/// assert!(viewer.figure_json(id).is_none());
/// # Ok::<(), plotstream_viewer::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Viewer {
    inner: Arc<Inner>,
}

impl Viewer {
    /// An empty viewer that keeps its figures in memory only; refuses a
    /// [`Config`] whose limits cannot work.
    pub fn new(config: Config) -> Result<Self, Error> {
        Viewer::build(config, None)
    }

    /// A viewer that keeps its figures in `store`, with the figures the
    /// store holds put back: each with its id (so its URL), its stream
    /// tokens, its points as of the last save, and its Chart Studio names.
    /// [`Viewer::restored`] says what came back.
    ///
    /// From then on a figure is in the store before [`Viewer::add_figure`]
    /// returns (and gone from it when deleted), and its points are saved
    /// every [`Config::save_interval`] by a task that [`app`](crate::app)
    /// starts, and by [`Viewer::save`], which [`serve`](crate::serve) calls
    /// once more when it stops.
    pub fn with_store(config: Config, store: Store) -> Result<Self, Error> {
        let contents = store.load()?;
        let viewer = Viewer::build(config, Some(store))?;
        viewer
            .inner
            .next_id
            .store(contents.next_id, Ordering::Relaxed);
        let mut report = Restored::default();
        for loaded in contents.figures {
            let stored = match loaded.figure {
                Ok(stored) => stored,
                Err(reason) => {
                    report
                        .refused
                        .push(format!("figure {}: unreadable ({reason})", loaded.id));
                    continue;
                }
            };
            let StoredFigure { figure, auto } = stored;
            match viewer.insert_figure(
                figure,
                if auto { Kind::Auto } else { Kind::Made },
                Slot::Restore(loaded.id),
            ) {
                Ok(id) => {
                    report.figures += 1;
                    if let Some(data) = loaded.data {
                        report.points += viewer.restore_data(id, data);
                    }
                }
                Err(e) => report.refused.push(format!("figure {}: {e}", loaded.id)),
            }
        }
        viewer.files().restore(contents.names);
        let _ = viewer.inner.restored.set(report);
        Ok(viewer)
    }

    /// What [`Viewer::with_store`] put back (nothing, for [`Viewer::new`]).
    pub fn restored(&self) -> &Restored {
        self.inner.restored.get_or_init(Restored::default)
    }

    /// The store, if the viewer keeps its figures in one.
    pub fn store(&self) -> Option<&Store> {
        self.inner.store.as_ref()
    }

    fn build(config: Config, store: Option<Store>) -> Result<Self, Error> {
        config.validate()?;
        Ok(Viewer {
            inner: Arc::new(Inner {
                memory: Arc::new(Memory::new(config.memory_limit, config.max_token_bytes)),
                config,
                figures: RwLock::new(BTreeMap::new()),
                next_id: AtomicU64::new(1),
                tokens: RwLock::new(HashMap::new()),
                open_lock: Mutex::new(()),
                metrics: Metrics::default(),
                flusher: Arc::new(Flusher::default()),
                tasks: AtomicBool::new(false),
                files: crate::chart_studio::Files::default(),
                store,
                persist: Mutex::new(()),
                restored: OnceLock::new(),
            }),
        })
    }

    fn persist_lock(&self) -> MutexGuard<'_, ()> {
        self.inner
            .persist
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a failed store write in `/metrics`, and hands it back.
    pub(crate) fn store_failed(&self, e: crate::StoreError) -> Error {
        self.inner
            .metrics
            .store_errors
            .fetch_add(1, Ordering::Relaxed);
        Error::Store(e)
    }

    /// Puts back figure `id`'s saved data; the points put back. A trace
    /// whose columns its token cannot take (over [`Config::max_columns`])
    /// stays empty.
    fn restore_data(&self, id: u64, mut data: StoredData) -> usize {
        let Ok(entry) = self.figure(id) else {
            return 0;
        };
        {
            let tokens = self
                .inner
                .tokens
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            for (trace, columns) in entry.template().data.iter().zip(&mut data.traces) {
                let token = trace.stream.as_ref().and_then(|s| tokens.get(&s.token));
                if token.is_none_or(|t| t.admit_restored(columns).is_err()) {
                    columns.clear();
                }
            }
        }
        {
            let tokens = self
                .inner
                .tokens
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            for mark in &data.streams {
                if let Some(token) = tokens.get(&mark.token) {
                    token.resume.restore(mark);
                }
            }
        }
        entry.restore(&data);
        // Saved under larger limits, perhaps: what is kept fits these.
        self.keep_within_memory();
        entry.points().iter().sum()
    }

    /// Saves the points of every figure written to since its last save, in
    /// one transaction; how many figures it saved. Without a store, saves
    /// nothing. The task that [`app`](crate::app) starts calls it every
    /// [`Config::save_interval`]; call it yourself before stopping a viewer
    /// you serve with your own server.
    ///
    /// If the store fails, the figures stay to be saved next time, and the
    /// error says why.
    pub fn save(&self) -> Result<usize, Error> {
        let Some(store) = &self.inner.store else {
            return Ok(0);
        };
        // Acquire: pairs with the Release of each write's count, so every
        // write counted here made its figure dirty before the figures are
        // looked at below.
        let writes = self.inner.metrics.writes.load(Ordering::Acquire);
        let taken: Vec<(Arc<FigureEntry>, SaveRow)> = self
            .figures()
            .into_iter()
            .filter_map(|f| {
                let row = f.take_saved()?;
                Some((f, row))
            })
            .collect();
        let _persist = self.persist_lock();
        let (entries, rows): (Vec<Arc<FigureEntry>>, Vec<SaveRow>) = {
            let figures = self
                .inner
                .figures
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            taken
                .into_iter()
                .filter(|(f, _)| figures.get(&f.id).is_some_and(|now| Arc::ptr_eq(now, f)))
                .unzip()
        };
        let next = self.inner.next_id.load(Ordering::Relaxed);
        if let Err(e) = store.put_data(&rows, next) {
            for f in &entries {
                f.mark_dirty();
            }
            return Err(self.store_failed(e));
        }
        for (f, row) in entries.iter().zip(&rows) {
            if row.figure.is_some() {
                f.mark_stored();
            }
        }
        let metrics = &self.inner.metrics;
        metrics.saves.fetch_add(1, Ordering::Relaxed);
        metrics.writes_saved.store(writes, Ordering::Relaxed);
        Ok(rows.len())
    }

    /// Starts, once, the tasks that keep the viewer: the flusher, which
    /// sends updates figures have gathered for longer than
    /// [`Config::update_interval`]; the janitor, which drops figures made
    /// for unknown tokens once idle for [`Config::open_figure_ttl`]; and,
    /// with a store, the saver ([`Viewer::save`] every
    /// [`Config::save_interval`]). All end with the viewer. Needs a tokio runtime; without one (or with
    /// a zero interval) updates go out as they are applied, and the tail
    /// waits for the next write.
    pub(crate) fn start_tasks(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.inner.tasks.swap(true, Ordering::AcqRel) {
            return;
        }
        let config = &self.inner.config;
        if !config.update_interval.is_zero() {
            runtime.spawn(Arc::clone(&self.inner.flusher).run(config.update_interval));
        }
        if self.inner.store.is_some() {
            runtime.spawn(saver(Arc::downgrade(&self.inner), config.save_interval));
        }
        if let (true, Some(ttl)) = (config.open, config.open_figure_ttl) {
            runtime.spawn(janitor(Arc::downgrade(&self.inner), ttl));
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Adds a figure; the tokens of its traces' `stream` attributes start
    /// feeding them. Refuses a figure over [`Config::max_figures`] or
    /// [`Config::max_traces`], a `maxpoints` outside 1 to 1,000,000, and a
    /// token that breaks the token rule ([`check_token`]).
    ///
    /// A figure an open viewer made on its own for one of these tokens (a
    /// stand-in, until the token's real figure came) is deleted: its token
    /// feeds this one instead.
    pub fn add_figure(&self, figure: Figure) -> Result<u64, Error> {
        self.insert_figure(figure, Kind::Made, Slot::New)
    }

    /// Adds a figure as [`Viewer::add_figure`] does, but held in memory
    /// only: it is never saved in the store, and once it has had no stream
    /// and no write for [`Config::open_figure_ttl`] it is dropped. For
    /// figures made to be thrown away, such as a load test's: whoever made
    /// it deletes it when done, and if they cannot (killed), it goes anyway.
    pub fn add_temporary_figure(&self, figure: Figure) -> Result<u64, Error> {
        self.insert_figure(figure, Kind::Temporary, Slot::New)
    }

    /// Makes figure `id` again from `figure`, keeping its id (and so its
    /// page's URL): its subscribers' event streams end (a page reconnects
    /// and gets the new figure), and its tokens feed the new one.
    pub fn replace_figure(&self, id: u64, figure: Figure) -> Result<(), Error> {
        self.insert_figure(figure, Kind::Made, Slot::Replace(id))
            .map(|_| ())
    }

    /// Chart Studio's names and grids.
    pub(crate) fn files(&self) -> &crate::chart_studio::Files {
        &self.inner.files
    }

    /// Checks `figure` and adds it where `slot` says, and to the store
    /// (unless it comes from there).
    fn insert_figure(&self, figure: Figure, kind: Kind, slot: Slot) -> Result<u64, Error> {
        let auto = kind == Kind::Auto;
        let config = &self.inner.config;
        let traces = check_figure(&figure, config)?;
        let _persist = self.persist_lock();
        if let Slot::Replace(id) = slot {
            self.remove_figure(id)?;
        }
        let by_token = traces_by_token(&figure);
        let settings = FigureSettings {
            subscriber_buffer: config.subscriber_buffer,
            subscriber_backlog_bytes: config.subscriber_backlog_bytes,
            update_interval: config.update_interval,
            show_tokens: config.show_tokens,
            flusher: Arc::clone(&self.inner.flusher),
            memory: Arc::clone(&self.inner.memory),
        };
        let entry = {
            let mut figures = self
                .inner
                .figures
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if figures.len() >= config.max_figures {
                return Err(Error::TooManyFigures {
                    limit: config.max_figures,
                    setting: config.setting_name(Setting::MaxFigures),
                });
            }
            let id = match slot {
                Slot::Replace(id) => id,
                Slot::Restore(id) => {
                    self.inner.next_id.fetch_max(id + 1, Ordering::Relaxed);
                    id
                }
                Slot::New => self.inner.next_id.fetch_add(1, Ordering::Relaxed),
            };
            let title = title_of(&figure).unwrap_or_else(|| format!("figure {id}"));
            let entry = Arc::new(FigureEntry::new(id, title, kind, figure, traces, &settings));
            figures.insert(id, Arc::clone(&entry));
            entry
        };
        let mut tokens = self
            .inner
            .tokens
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        for (token, indices) in by_token {
            tokens
                .entry(token)
                .or_insert_with_key(|t| Arc::new(TokenEntry::new(t, config.max_columns)))
                .add_target(Arc::clone(&entry), indices);
        }
        // Stand-ins made for these tokens go: the real figure is here.
        let stand_ins: Vec<u64> = if auto || matches!(slot, Slot::Restore(_)) {
            Vec::new()
        } else {
            let mut ids: Vec<u64> = entry
                .tokens()
                .iter()
                .filter_map(|t| tokens.get(t))
                .flat_map(|t| t.targets())
                .filter_map(|f| (f.auto && f.id != entry.id).then_some(f.id))
                .collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        drop(tokens);
        for id in stand_ins {
            if self.remove_figure(id).is_ok()
                && let Some(store) = &self.inner.store
            {
                store.delete_figure(id).map_err(|e| self.store_failed(e))?;
            }
        }
        self.store_new(&entry, kind, slot)?;
        Ok(entry.id)
    }

    /// Puts a figure just made in the store, if it goes there now (the
    /// caller holds the persist lock); a failed put takes it out again.
    fn store_new(&self, entry: &FigureEntry, kind: Kind, slot: Slot) -> Result<(), Error> {
        let auto = kind == Kind::Auto;
        match (&self.inner.store, slot) {
            // It is there already.
            (_, Slot::Restore(_)) => entry.mark_stored(),
            // Made for an unknown token: no request waits for it, so it
            // goes to the store with its first save, off the stream's path.
            (_, _) if auto => {}
            // Never saved.
            (_, _) if kind == Kind::Temporary => {}
            (Some(store), _) => {
                let next = self.inner.next_id.load(Ordering::Relaxed);
                if let Err(e) = store.put_figure(entry.id, entry.template(), auto, next) {
                    let _ = self.remove_figure(entry.id);
                    return Err(self.store_failed(e));
                }
                entry.mark_stored();
            }
            (None, _) => {}
        }
        Ok(())
    }

    /// Deletes figure `id`: its subscribers' event streams end, and a token
    /// that fed only this figure is forgotten (a stream on it ends with 410).
    pub fn delete_figure(&self, id: u64) -> Result<(), Error> {
        self.forget_figure(id)?;
        self.inner
            .metrics
            .figures_deleted
            .fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Deletes figure `id` from memory and from the store.
    fn forget_figure(&self, id: u64) -> Result<(), Error> {
        let _persist = self.persist_lock();
        self.remove_figure(id)?;
        if let Some(store) = &self.inner.store {
            store.delete_figure(id).map_err(|e| self.store_failed(e))?;
        }
        Ok(())
    }

    /// Takes figure `id` out of memory (the caller holds the persist lock).
    fn remove_figure(&self, id: u64) -> Result<(), Error> {
        let entry = self
            .inner
            .figures
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
            .ok_or(Error::NoSuchFigure { id })?;
        {
            let mut tokens = self
                .inner
                .tokens
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            for token in entry.tokens() {
                if let Some(t) = tokens.get(token).filter(|t| t.detach(id)) {
                    t.remove();
                    tokens.remove(token);
                }
            }
        }
        entry.close();
        Ok(())
    }

    /// The token's entry. An unknown token is refused, or under
    /// [`Config::open`] gets a default scatter figure of its own (within
    /// [`Config::max_figures`]).
    pub(crate) fn token(&self, token: &str) -> Result<Arc<TokenEntry>, Error> {
        let known = || {
            self.inner
                .tokens
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(token)
                .cloned()
        };
        if let Some(t) = known() {
            return Ok(t);
        }
        check_token(token)?;
        let unknown = || Error::UnknownToken {
            token: token.to_owned(),
            setting: self.inner.config.setting_name(Setting::Open),
        };
        if !self.inner.config.open {
            return Err(unknown());
        }
        let _creating = self
            .inner
            .open_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = known() {
            return Ok(t);
        }
        self.insert_figure(default_figure(token), Kind::Auto, Slot::New)?;
        known().ok_or_else(unknown)
    }

    pub(crate) fn figure(&self, id: u64) -> Result<Arc<FigureEntry>, Error> {
        self.inner
            .figures
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
            .ok_or(Error::NoSuchFigure { id })
    }

    pub(crate) fn figures(&self) -> Vec<Arc<FigureEntry>> {
        self.inner
            .figures
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    /// Checks one write for `entry`: its paths ([`Write::validate`]) and
    /// the token's column limit. `line` names it in the error.
    fn check(&self, entry: &TokenEntry, line: u64, w: &Write) -> Result<(), Error> {
        w.validate().map_err(|e| invalid_write(entry, line, &e))?;
        self.admit(entry, line, w)
    }

    /// Takes a validated write (as [`Line::parse_write`] makes them) into
    /// the token's columns, or refuses it over the column limit.
    ///
    /// [`Line::parse_write`]: plotstream_protocol::Line::parse_write
    pub(crate) fn admit(&self, entry: &TokenEntry, line: u64, w: &Write) -> Result<(), Error> {
        let memory = &self.inner.memory;
        if memory.is_full() {
            // Something may have been freed since (a figure deleted).
            self.keep_within_memory();
            if memory.is_full() {
                return Err(Error::OverMemory {
                    used: memory.used(),
                    limit: memory.limit,
                    setting: self.inner.config.setting_name(Setting::MemoryLimit),
                });
            }
        }
        entry.admit(w).map_err(|refused| match refused {
            Refused::OverColumns(path) => Error::TooManyColumns {
                token: entry.token.clone(),
                line,
                path,
                limit: self.inner.config.max_columns,
                setting: self.inner.config.setting_name(Setting::MaxColumns),
            },
            Refused::TooDeep(e) => invalid_write(entry, line, &e),
        })
    }

    /// Applies `writes` to every trace `token` feeds, as if they had arrived
    /// on a stream: for programs that produce data in the viewer's own
    /// process. The same rules hold: an unknown token is refused (or gets a
    /// figure, under [`Config::open`]), and so is a write whose paths are too
    /// deep or that names one column too many; the writes before it are
    /// applied.
    ///
    /// ```
    /// use plotstream_protocol::{Figure, StreamSpec, Trace, Write};
    /// use plotstream_viewer::{Config, Error, Viewer};
    ///
    /// let viewer = Viewer::new(Config::default())?;
    /// let id = viewer.add_figure(Figure {
    ///     data: vec![Trace::streamed("scatter", StreamSpec::new("t", 500))],
    ///     ..Figure::default()
    /// })?;
    /// viewer.apply("t", &[Write::xy(1, 2), Write::xy(2, 4)])?;
    /// assert_eq!(viewer.figure_json(id).unwrap()["data"][0]["y"], serde_json::json!([2, 4]));
    /// assert!(matches!(viewer.apply("unknown", &[Write::xy(1, 2)]), Err(Error::UnknownToken { .. })));
    /// # Ok::<(), plotstream_viewer::Error>(())
    /// ```
    pub fn apply(&self, token: &str, writes: &[Write]) -> Result<(), Error> {
        let entry = self.token(token)?;
        let mut result = Ok(());
        let mut admitted = writes.len();
        for (i, w) in writes.iter().enumerate() {
            if let Err(e) = self.check(&entry, i as u64 + 1, w) {
                admitted = i;
                result = Err(e);
                break;
            }
        }
        entry.apply(&writes[..admitted], None);
        self.keep_within_memory();
        self.inner
            .metrics
            .writes
            // Release: see `Viewer::save`.
            .fetch_add(admitted as u64, Ordering::Release);
        result
    }

    /// How many writes the viewer has applied since it started (the
    /// `plotstream_writes_total` of `/metrics`).
    pub fn writes_applied(&self) -> u64 {
        self.inner.metrics.writes.load(Ordering::Relaxed)
    }

    /// How many figures the viewer holds.
    pub fn figure_count(&self) -> usize {
        self.inner
            .figures
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The figure with the data it holds now, as Plotly figure JSON (its
    /// stream tokens only under [`Config::show_tokens`]).
    pub fn figure_json(&self, id: u64) -> Option<Value> {
        self.figure(id).ok().map(|f| f.snapshot())
    }

    /// `{"token", "figures": [<id>], "traces": [<data>], "writes", "errors",
    /// "connected"}`; `figures` leaves out a stand-in the viewer made for
    /// the token on its own.
    pub fn stream_json(&self, token: &str) -> Option<Value> {
        let t = Arc::clone(
            self.inner
                .tokens
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(token)?,
        );
        let figures: Vec<u64> = t
            .targets()
            .iter()
            .filter_map(|f| (!f.auto).then_some(f.id))
            .collect();
        Some(json!({
            "token": t.token,
            "figures": figures,
            "traces": t.traces_json(),
            "writes": t.writes.load(Ordering::Relaxed),
            "errors": t.errors.load(Ordering::Relaxed),
            "connected": t.connections.load(Ordering::Relaxed) > 0,
        }))
    }

    /// Drops old points while the traces hold more than
    /// [`Config::memory_limit`]: the oldest of the largest figure's largest
    /// traces first, to 1/64 below the limit, each trace keeping its newest
    /// point. Called after writes are applied; one caller at a time does
    /// the work. If the newest points alone are over the limit, the viewer
    /// is full: [`Viewer::admit`] refuses writes until something is freed.
    pub(crate) fn keep_within_memory(&self) {
        let memory = &self.inner.memory;
        let Some(mut need) = memory.excess() else {
            memory.set_full(false);
            return;
        };
        let Some(_dropping) = memory.try_drop() else {
            return;
        };
        let mut figures = self.figures();
        figures.sort_by_key(|f| std::cmp::Reverse(f.bytes()));
        for figure in &figures {
            need = need.saturating_sub(figure.drop_oldest(need));
            if need == 0 {
                break;
            }
        }
        memory.set_full(memory.used() > memory.limit);
    }

    /// Ends every figure's event streams (the server is stopping).
    pub(crate) fn close_subscriptions(&self) {
        for f in self.figures() {
            f.close();
        }
    }

    /// The counters in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        self.inner
            .metrics
            .text(self.figure_count(), &self.inner.memory)
    }

    /// Drops the figures made for unknown tokens that have had no stream
    /// and no write for `ttl`.
    fn expire(&self, ttl: Duration) {
        let idle: Vec<u64> = self
            .figures()
            .iter()
            .filter(|f| (f.auto || f.temporary) && f.idle_for() >= ttl && !self.connected(f))
            .map(|f| f.id)
            .collect();
        for id in idle {
            if self.forget_figure(id).is_ok() {
                self.inner
                    .metrics
                    .figures_expired
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Whether a stream feeds the figure now.
    fn connected(&self, f: &FigureEntry) -> bool {
        self.streams_feeding(f) > 0
    }

    /// How many streams feed the figure now.
    pub(crate) fn streams_feeding(&self, f: &FigureEntry) -> u64 {
        let tokens = self
            .inner
            .tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        f.tokens()
            .iter()
            .filter_map(|t| tokens.get(t))
            .map(|t| u64::try_from(t.connections.load(Ordering::Relaxed)).unwrap_or(0))
            .sum()
    }

    /// Tells the subscribers of every figure `token` feeds how many streams
    /// feed it now (a stream on it began or ended).
    pub(crate) fn streams_changed(&self, token: &TokenEntry) {
        for f in token.targets() {
            f.send_streams(self.streams_feeding(&f));
        }
    }
}

/// The janitor task: every quarter of `ttl` (between 50 ms and 30 s), drops
/// idle figures made for unknown tokens; ends with the viewer.
async fn janitor(viewer: Weak<Inner>, ttl: Duration) {
    let every = (ttl / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = viewer.upgrade() else {
            return;
        };
        Viewer { inner }.expire(ttl);
    }
}

/// The saver task: every `every`, saves the figures written to since the
/// last save (off the async threads: a save waits for the disk); ends with
/// the viewer. A failed save is counted and said, and tried again.
async fn saver(viewer: Weak<Inner>, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(inner) = viewer.upgrade() else {
            return;
        };
        let viewer = Viewer { inner };
        match tokio::task::spawn_blocking(move || viewer.save()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("{e}"),
            Err(e) => tracing::warn!("the save task failed: {e}"),
        }
    }
}

/// A write refused for its paths, naming its line.
fn invalid_write(entry: &TokenEntry, line: u64, e: &PathTooDeep) -> Error {
    Error::InvalidWrite {
        token: entry.token.clone(),
        source: plotstream_protocol::Error::InvalidWrite {
            line,
            column: 0,
            reason: e.to_string(),
        },
    }
}

/// The limits a figure must keep; its traces' columns, empty.
fn check_figure(figure: &Figure, config: &Config) -> Result<Vec<TraceData>, Error> {
    if figure.data.len() > config.max_traces {
        return Err(Error::InvalidFigure {
            reason: format!(
                "{} traces, over the limit of {} ({})",
                figure.data.len(),
                config.max_traces,
                config.setting_name(Setting::MaxTraces)
            ),
        });
    }
    let mut traces = Vec::with_capacity(figure.data.len());
    for (i, trace) in figure.data.iter().enumerate() {
        let maxpoints = match &trace.stream {
            Some(spec) => check_stream(i, spec, config)?,
            None => 0,
        };
        traces.push(TraceData::new(maxpoints));
    }
    Ok(traces)
}

/// The figure's streamed traces, grouped by token, in the order the tokens
/// first appear.
fn traces_by_token(figure: &Figure) -> Vec<(String, Vec<usize>)> {
    let mut by_token: Vec<(&str, Vec<usize>)> = Vec::new();
    for (i, trace) in figure.data.iter().enumerate() {
        if let Some(spec) = &trace.stream {
            match by_token.iter_mut().find(|(t, _)| *t == spec.token) {
                Some((_, indices)) => indices.push(i),
                None => by_token.push((&spec.token, vec![i])),
            }
        }
    }
    by_token
        .into_iter()
        .map(|(t, i)| (t.to_owned(), i))
        .collect()
}

fn check_stream(index: usize, spec: &StreamSpec, config: &Config) -> Result<u64, Error> {
    let max_points = config.max_points;
    let invalid = |reason: String| Error::InvalidFigure {
        reason: format!("trace {index}: {reason}"),
    };
    check_token(&spec.token).map_err(|e| invalid(e.to_string()))?;
    let maxpoints = spec.maxpoints();
    if !(1..=max_points).contains(&maxpoints) {
        return Err(invalid(format!(
            "maxpoints {maxpoints} is outside 1 to {max_points} ({})",
            config.setting_name(Setting::MaxPoints)
        )));
    }
    Ok(maxpoints)
}

fn title_of(figure: &Figure) -> Option<String> {
    let title = figure.layout.as_ref()?.get("title")?;
    match title {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => m.get("text")?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// The figure an unknown token gets under [`Config::open`].
fn default_figure(token: &str) -> Figure {
    let trace = Trace::streamed(
        "scatter",
        StreamSpec::new(token, plotstream_protocol::DEFAULT_MAXPOINTS),
    )
    .with("mode", json!("lines+markers"));
    Figure {
        data: vec![trace],
        layout: json!({"title": {"text": token}}).as_object().cloned(),
        ..Figure::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("plotstream-viewer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn figure(token: &str, maxpoints: u64) -> Figure {
        Figure {
            data: vec![Trace::streamed(
                "scatter",
                StreamSpec::new(token, maxpoints),
            )],
            ..Figure::default()
        }
    }

    fn reopen(dir: &std::path::Path, config: Config) -> Viewer {
        Viewer::with_store(config, Store::open(dir).expect("opens")).expect("restores")
    }

    #[test]
    fn the_limits_hold_for_what_the_store_gives_back() {
        let dir = temp_dir("limits");
        {
            let viewer = reopen(&dir, Config::default());
            for token in ["a", "b"] {
                viewer.add_figure(figure(token, 10)).expect("valid");
            }
            let wide: Write =
                serde_json::from_value(json!({"x": 1, "y": 2, "marker": {"size": 3}}))
                    .expect("a write");
            viewer.apply("a", &[wide]).expect("applies");
            assert_eq!(viewer.save().expect("saves"), 1, "only a was written to");
        }
        // Fewer figures and columns allowed than the store holds: the first
        // figure comes back empty (its 3 columns are over 2), the second is
        // left in the store, and both say why.
        let tight = Config {
            max_figures: 1,
            max_columns: 2,
            ..Config::default()
        };
        let viewer = reopen(&dir, tight);
        let restored = viewer.restored().clone();
        assert_eq!((restored.figures, restored.points), (1, 0));
        assert_eq!(restored.refused.len(), 1, "{restored:?}");
        assert!(
            restored.refused[0].starts_with("figure 2: ")
                && restored.refused[0].contains("Config::max_figures"),
            "{restored:?}"
        );
        assert_eq!(
            viewer.figure_json(1).expect("figure 1")["data"][0].get("x"),
            None
        );
        drop(viewer);
        // With room again, both come back, with their points.
        let viewer = reopen(&dir, Config::default());
        assert_eq!(
            (viewer.restored().figures, viewer.restored().points),
            (2, 1)
        );
        let fig = viewer.figure_json(1).expect("figure 1");
        assert_eq!(fig["data"][0]["marker"]["size"], json!([3]));
        drop(viewer);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_figure_made_again_comes_back_as_made_again() {
        let dir = temp_dir("replace");
        {
            let viewer = reopen(&dir, Config::default());
            let id = viewer.add_figure(figure("old", 10)).expect("valid");
            viewer.apply("old", &[Write::xy(1, 1)]).expect("applies");
            viewer.save().expect("saves");
            viewer.replace_figure(id, figure("new", 5)).expect("valid");
            // The old figure's points were taken before it went; a save now
            // must not put them under the new one.
            viewer.save().expect("saves");
        }
        let viewer = reopen(&dir, Config::default());
        let fig = viewer.figure_json(1).expect("figure 1");
        assert_eq!(
            fig["data"][0]["stream"],
            json!({"token": "new", "maxpoints": 5})
        );
        assert_eq!(fig["data"][0].get("x"), None, "{fig}");
        assert!(matches!(
            viewer.apply("old", &[Write::xy(1, 1)]),
            Err(Error::UnknownToken { .. })
        ));
        viewer
            .apply("new", &[Write::xy(2, 2)])
            .expect("the new token feeds it");
        drop(viewer);
        std::fs::remove_dir_all(&dir).ok();
    }

    fn text_write(i: u64, len: usize) -> Write {
        serde_json::from_value(json!({"x": i, "text": "s".repeat(len)})).expect("a write")
    }

    #[test]
    fn points_past_the_budgets_go_oldest_first_and_are_counted() {
        let per_point = 8 + std::mem::size_of::<Value>() + 1000;
        let viewer = Viewer::new(Config {
            memory_limit: 64 * per_point,
            max_token_bytes: 16 * per_point,
            ..Config::default()
        })
        .expect("a valid config");
        let ids: Vec<u64> = (0..6)
            .map(|t| {
                viewer
                    .add_figure(figure(&format!("t{t}"), 500))
                    .expect("adds")
            })
            .collect();
        // Each token is held to its own 16 points, whatever it sends.
        for i in 0..40 {
            viewer.apply("t0", &[text_write(i, 1000)]).expect("applies");
        }
        let xs = |id: u64| viewer.figure_json(id).expect("a figure")["data"][0]["x"].clone();
        let x0 = xs(ids[0]);
        let held = x0.as_array().map_or(0, Vec::len);
        assert!((14..=16).contains(&held), "{held} points held");
        assert_eq!(x0[held - 1], json!(39), "the newest stays");
        // Six tokens at their cap pass the viewer's 64 points: the largest
        // figure loses its oldest first, and every drop is counted.
        for t in 1..6 {
            for i in 0..16 {
                viewer
                    .apply(&format!("t{t}"), &[text_write(i, 1000)])
                    .expect("applies");
            }
        }
        let memory = &viewer.inner.memory;
        assert!(
            memory.used() <= memory.limit,
            "{} over {}",
            memory.used(),
            memory.limit
        );
        let held: usize = ids
            .iter()
            .map(|&id| xs(id).as_array().map_or(0, Vec::len))
            .sum();
        let dropped: u64 = ids
            .iter()
            .map(|&id| {
                viewer.figure_json(id).expect("a figure")["dropped"]
                    .as_u64()
                    .unwrap_or(0)
            })
            .sum();
        assert_eq!(
            held as u64 + dropped,
            40 + 5 * 16,
            "held {held}, dropped {dropped}"
        );
        assert_eq!(memory.dropped(), dropped);
        assert!(
            viewer
                .metrics_text()
                .contains(&format!("plotstream_points_dropped_total {dropped}\n"))
        );
    }

    #[test]
    fn newest_points_alone_over_the_limit_refuse_writes_until_freed() {
        let per_point = 8 + std::mem::size_of::<Value>() + 1000;
        let viewer = Viewer::new(Config {
            memory_limit: 2 * per_point,
            max_token_bytes: 2 * per_point,
            ..Config::default()
        })
        .expect("a valid config");
        for t in ["a", "b", "c"] {
            viewer.add_figure(figure(t, 500)).expect("adds");
        }
        viewer.apply("a", &[text_write(1, 1000)]).expect("applies");
        viewer.apply("b", &[text_write(1, 1000)]).expect("applies");
        // Accepted (the newest write is never dropped), but over the limit
        // with nothing old to drop.
        viewer.apply("c", &[text_write(1, 1000)]).expect("applies");
        let err = viewer.apply("a", &[text_write(2, 1000)]).expect_err("full");
        assert!(matches!(err, Error::OverMemory { .. }), "{err}");
        assert!(err.to_string().contains("memory limit"), "{err}");
        viewer.delete_figure(3).expect("deletes");
        viewer
            .apply("a", &[text_write(2, 1000)])
            .expect("room again");
        assert_eq!(
            viewer.figure_json(1).expect("a figure")["data"][0]["x"],
            json!([2])
        );
    }

    #[test]
    fn a_stream_without_a_token_is_refused_by_name() {
        let viewer = Viewer::new(Config::default()).expect("a valid config");
        let figure: Figure = serde_json::from_value(json!({
            "data": [{"type": "scatter", "stream": {"maxpoints": 5}}]
        }))
        .expect("parses: a hidden token reads as empty");
        let err = viewer.add_figure(figure).expect_err("no token");
        assert!(err.to_string().contains("trace 0"), "{err}");
    }
}
