//! [`Viewer`]: the figures, the tokens that feed them, and the counters.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use plotstream_protocol::{Figure, StreamSpec, Trace, Write};
use serde_json::{Map, Value, json};
use tokio::sync::{broadcast, watch};

use crate::Error;
use crate::store::{Batch, MAX_MAXPOINTS, TraceData, relayout, set_path};

/// How the viewer behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Whether an unknown token gets a default scatter figure of its own
    /// (titled by the token) instead of a 404.
    pub open: bool,
    /// A stream with no write and no heartbeat for this long is closed with
    /// 408. Default 60 s, as Plotly's server.
    pub idle_timeout: Duration,
    /// The longest line taken, in bytes; a longer one gets 413. Default 1 MiB.
    pub max_line_len: usize,
    /// How many update events a subscriber may fall behind before it is sent
    /// a fresh snapshot instead. Default 256.
    pub subscriber_buffer: usize,
    /// How long a figure gathers updates before sending them to its
    /// subscribers as one event. Default 10 ms; zero sends each chunk's
    /// updates at once.
    pub update_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            open: false,
            idle_timeout: Duration::from_secs(60),
            max_line_len: plotstream_protocol::LineDecoder::DEFAULT_MAX_LINE_LEN,
            subscriber_buffer: 256,
            update_interval: Duration::from_millis(10),
        }
    }
}

/// The kinds of error the viewer counts in `/metrics`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    InvalidWrite,
    LineTooLong,
    MissingToken,
    UnknownToken,
    IdleTimeout,
    TakenOver,
}

impl ErrorKind {
    const ALL: [ErrorKind; 6] = [
        ErrorKind::InvalidWrite,
        ErrorKind::LineTooLong,
        ErrorKind::MissingToken,
        ErrorKind::UnknownToken,
        ErrorKind::IdleTimeout,
        ErrorKind::TakenOver,
    ];

    fn label(self) -> &'static str {
        match self {
            ErrorKind::InvalidWrite => "invalid_write",
            ErrorKind::LineTooLong => "line_too_long",
            ErrorKind::MissingToken => "missing_token",
            ErrorKind::UnknownToken => "unknown_token",
            ErrorKind::IdleTimeout => "idle_timeout",
            ErrorKind::TakenOver => "taken_over",
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) open_streams: AtomicI64,
    pub(crate) subscribers: AtomicI64,
    pub(crate) writes: AtomicU64,
    pub(crate) heartbeats: AtomicU64,
    pub(crate) bytes: AtomicU64,
    errors: [AtomicU64; ErrorKind::ALL.len()],
}

impl Metrics {
    pub(crate) fn error(&self, kind: ErrorKind) {
        self.errors[kind as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// A figure: what it was created as, and the data it holds now.
#[derive(Debug)]
pub(crate) struct FigureEntry {
    pub(crate) id: u64,
    pub(crate) title: String,
    template: Figure,
    state: Mutex<FigureState>,
    updates: broadcast::Sender<Arc<str>>,
    update_interval: Duration,
}

#[derive(Debug)]
struct FigureState {
    traces: Vec<TraceData>,
    layout: Map<String, Value>,
    /// Updates applied but not yet sent to subscribers.
    pending: Option<Batch>,
    /// When the last update event went out.
    last_sent: Instant,
}

impl FigureEntry {
    fn lock(&self) -> MutexGuard<'_, FigureState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The figure with the data it holds now.
    pub(crate) fn snapshot(&self) -> Value {
        let state = self.lock();
        self.snapshot_of(&state)
    }

    fn snapshot_of(&self, state: &FigureState) -> Value {
        let mut data = Vec::with_capacity(self.template.data.len());
        for (trace, held) in self.template.data.iter().zip(&state.traces) {
            let mut t = match serde_json::to_value(trace) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            };
            for (path, values) in held.to_json() {
                set_path(&mut t, &path, values);
            }
            data.push(Value::Object(t));
        }
        let mut fig = match serde_json::to_value(&self.template) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        fig.insert("data".into(), Value::Array(data));
        fig.insert("layout".into(), Value::Object(state.layout.clone()));
        Value::Object(fig)
    }

    /// A snapshot and a receiver of every update after it, taken together
    /// under the figure's lock, so nothing falls between them.
    ///
    /// Pending updates go out to the earlier subscribers first: the new one
    /// finds them in its snapshot, not again after it.
    pub(crate) fn subscribe(&self) -> (Value, broadcast::Receiver<Arc<str>>) {
        let mut state = self.lock();
        self.send_pending(&mut state);
        (self.snapshot_of(&state), self.updates.subscribe())
    }

    /// Sends the pending updates now, if there are any.
    pub(crate) fn flush(&self) {
        let mut state = self.lock();
        self.send_pending(&mut state);
    }

    /// Sends the pending batch as one update event. Called under the lock:
    /// every subscriber sees updates in the order they were applied, after
    /// its snapshot.
    fn send_pending(&self, state: &mut FigureState) {
        if let Some(json) = state
            .pending
            .take()
            .filter(|b| !b.is_empty())
            .and_then(|b| serde_json::to_string(&b).ok())
        {
            let _ = self.updates.send(json.into());
            state.last_sent = Instant::now();
        }
    }

    /// Points held by each trace.
    pub(crate) fn points(&self) -> Vec<usize> {
        self.lock().traces.iter().map(TraceData::points).collect()
    }

    /// Applies `writes` to the traces `indices`, and sends subscribers one
    /// update event for the lot.
    ///
    /// Updates are gathered for `update_interval` (10 ms by default) and
    /// sent as one event: a subscriber gets a few dozen events a second per
    /// figure however many chunks arrive. The viewer's flusher sends what
    /// is left.
    fn apply(&self, indices: &[usize], writes: &[Write]) {
        let mut state = self.lock();
        let mut batch = if self.updates.receiver_count() > 0 {
            Some(state.pending.take().unwrap_or_default())
        } else {
            state.pending = None;
            None
        };
        for w in writes {
            for &i in indices {
                if let Some(trace) = state.traces.get_mut(i) {
                    trace.apply(w, batch.as_mut().map(|b| b.trace(i)));
                }
            }
            if let Some(update) = &w.layout {
                relayout(&mut state.layout, update);
                if let Some(b) = batch.as_mut() {
                    b.relayout(update);
                }
            }
        }
        state.pending = batch;
        if state.last_sent.elapsed() >= self.update_interval {
            self.send_pending(&mut state);
        }
    }
}

/// A token: the traces it feeds, its counters, and its current connection.
#[derive(Debug)]
pub(crate) struct TokenEntry {
    pub(crate) token: String,
    targets: RwLock<Vec<(Arc<FigureEntry>, Vec<usize>)>>,
    pub(crate) writes: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) connections: AtomicI64,
    /// Bumped by each new connection; older connections watch it and end.
    pub(crate) generation: watch::Sender<u64>,
}

impl TokenEntry {
    fn new(token: &str) -> Self {
        TokenEntry {
            token: token.to_owned(),
            targets: RwLock::new(Vec::new()),
            writes: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            connections: AtomicI64::new(0),
            generation: watch::Sender::new(0),
        }
    }

    /// Applies `writes` to every trace this token feeds.
    pub(crate) fn apply(&self, writes: &[Write]) {
        if writes.is_empty() {
            return;
        }
        let targets = self.targets.read().unwrap_or_else(PoisonError::into_inner);
        for (figure, indices) in targets.iter() {
            figure.apply(indices, writes);
        }
        self.writes
            .fetch_add(writes.len() as u64, Ordering::Relaxed);
    }

    /// The data of every trace this token feeds.
    fn traces_json(&self) -> Vec<Value> {
        let targets = self.targets.read().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        for (figure, indices) in targets.iter() {
            let state = figure.lock();
            for &i in indices {
                if let Some(t) = state.traces.get(i) {
                    out.push(Value::Object(t.to_json()));
                }
            }
        }
        out
    }
}

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
    /// Whether the flusher task runs.
    flusher: std::sync::atomic::AtomicBool,
}

/// The viewer's state: figures, the tokens that feed them, counters. Cheap
/// to clone; every clone is the same viewer.
///
/// ```
/// use plotstream_protocol::{Figure, StreamSpec, Trace};
/// use plotstream_viewer::{Config, Viewer};
///
/// let viewer = Viewer::new(Config::default());
/// let figure = Figure {
///     data: vec![Trace::streamed("scatter", StreamSpec::new("tok", 100))],
///     ..Figure::default()
/// };
/// let id = viewer.add_figure(figure)?;
/// assert_eq!(viewer.figure_json(id).unwrap()["data"][0]["stream"]["token"], "tok");
/// # Ok::<(), plotstream_viewer::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Viewer {
    inner: Arc<Inner>,
}

impl Viewer {
    /// An empty viewer.
    pub fn new(config: Config) -> Self {
        Viewer {
            inner: Arc::new(Inner {
                config,
                figures: RwLock::new(BTreeMap::new()),
                next_id: AtomicU64::new(1),
                tokens: RwLock::new(HashMap::new()),
                open_lock: Mutex::new(()),
                metrics: Metrics::default(),
                flusher: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// Starts, once, the task that sends the updates figures have gathered
    /// for longer than [`Config::update_interval`]; it ends with the viewer.
    /// Needs a tokio runtime; without one (or with a zero interval) updates
    /// go out as they are applied, and the tail waits for the next write.
    pub(crate) fn start_flusher(&self) {
        let interval = self.inner.config.update_interval;
        if interval.is_zero() || self.inner.flusher.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.inner.flusher.store(false, Ordering::Release);
            return;
        };
        let viewer = Arc::downgrade(&self.inner);
        runtime.spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(inner) = viewer.upgrade() else {
                    return;
                };
                let figures: Vec<Arc<FigureEntry>> = inner
                    .figures
                    .read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .values()
                    .cloned()
                    .collect();
                for f in figures {
                    f.flush();
                }
            }
        });
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Adds a figure; the tokens of its traces' `stream` attributes start
    /// feeding them. Refuses a `maxpoints` outside 1 to 1,000,000 and a
    /// token that cannot travel in an HTTP header.
    pub fn add_figure(&self, figure: Figure) -> Result<u64, Error> {
        let mut traces = Vec::with_capacity(figure.data.len());
        for (i, trace) in figure.data.iter().enumerate() {
            let maxpoints = match &trace.stream {
                Some(spec) => check_stream(i, spec)?,
                None => 0,
            };
            traces.push(TraceData::new(maxpoints));
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let title = title_of(&figure).unwrap_or_else(|| format!("figure {id}"));
        let entry = Arc::new(FigureEntry {
            id,
            title,
            state: Mutex::new(FigureState {
                traces,
                layout: figure.layout.clone().unwrap_or_default(),
                pending: None,
                last_sent: Instant::now(),
            }),
            template: figure,
            updates: broadcast::channel(self.inner.config.subscriber_buffer.max(1)).0,
            update_interval: self.inner.config.update_interval,
        });
        // Group the traces by token, then register them.
        let mut by_token: Vec<(&str, Vec<usize>)> = Vec::new();
        for (i, trace) in entry.template.data.iter().enumerate() {
            if let Some(spec) = &trace.stream {
                match by_token.iter_mut().find(|(t, _)| *t == spec.token) {
                    Some((_, indices)) => indices.push(i),
                    None => by_token.push((&spec.token, vec![i])),
                }
            }
        }
        {
            let mut tokens = self
                .inner
                .tokens
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            for (token, indices) in by_token {
                let t = tokens
                    .entry(token.to_owned())
                    .or_insert_with(|| Arc::new(TokenEntry::new(token)));
                t.targets
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((Arc::clone(&entry), indices));
            }
        }
        self.inner
            .figures
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, entry);
        Ok(id)
    }

    /// The token's entry; under [`Config::open`], an unknown token gets a
    /// default scatter figure of its own.
    pub(crate) fn token(&self, token: &str) -> Option<Arc<TokenEntry>> {
        let known = || {
            self.inner
                .tokens
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(token)
                .cloned()
        };
        if let Some(t) = known() {
            return Some(t);
        }
        if !self.inner.config.open {
            return None;
        }
        let _creating = self
            .inner
            .open_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = known() {
            return Some(t);
        }
        self.add_figure(default_figure(token)).ok()?;
        known()
    }

    pub(crate) fn figure(&self, id: u64) -> Option<Arc<FigureEntry>> {
        self.inner
            .figures
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
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

    /// Applies `writes` to every trace `token` feeds, as if they had arrived
    /// on a stream: for programs that produce data in the viewer's own
    /// process. Returns whether the token is known (or was made, under
    /// [`Config::open`]).
    ///
    /// ```
    /// use plotstream_protocol::{Figure, StreamSpec, Trace, Write};
    /// use plotstream_viewer::{Config, Viewer};
    ///
    /// let viewer = Viewer::new(Config::default());
    /// let id = viewer.add_figure(Figure {
    ///     data: vec![Trace::streamed("scatter", StreamSpec::new("t", 500))],
    ///     ..Figure::default()
    /// })?;
    /// assert!(viewer.apply("t", &[Write::xy(1, 2), Write::xy(2, 4)]));
    /// assert_eq!(viewer.figure_json(id).unwrap()["data"][0]["y"], serde_json::json!([2, 4]));
    /// assert!(!viewer.apply("unknown", &[Write::xy(1, 2)]));
    /// # Ok::<(), plotstream_viewer::Error>(())
    /// ```
    pub fn apply(&self, token: &str, writes: &[Write]) -> bool {
        match self.token(token) {
            Some(entry) => {
                entry.apply(writes);
                self.inner
                    .metrics
                    .writes
                    .fetch_add(writes.len() as u64, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// How many writes the viewer has applied since it started (the
    /// `plotstream_writes_total` of `/metrics`).
    pub fn writes_applied(&self) -> u64 {
        self.inner.metrics.writes.load(Ordering::Relaxed)
    }

    /// The figure with the data it holds now, as Plotly figure JSON.
    pub fn figure_json(&self, id: u64) -> Option<Value> {
        self.figure(id).map(|f| f.snapshot())
    }

    /// `{"token", "traces": [<data>], "writes", "errors", "connected"}`.
    pub fn stream_json(&self, token: &str) -> Option<Value> {
        let t = Arc::clone(
            self.inner
                .tokens
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(token)?,
        );
        Some(json!({
            "token": t.token,
            "traces": t.traces_json(),
            "writes": t.writes.load(Ordering::Relaxed),
            "errors": t.errors.load(Ordering::Relaxed),
            "connected": t.connections.load(Ordering::Relaxed) > 0,
        }))
    }

    /// The counters in the Prometheus text format.
    pub fn metrics_text(&self) -> String {
        let m = &self.inner.metrics;
        let figures = self
            .inner
            .figures
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let mut out = String::new();
        let load = |v: &AtomicU64| v.load(Ordering::Relaxed).to_string();
        let gauges_and_counters = [
            (
                "open_streams",
                "gauge",
                "Streams connected now.",
                m.open_streams.load(Ordering::Relaxed).to_string(),
            ),
            (
                "subscribers",
                "gauge",
                "Browser subscriptions open now.",
                m.subscribers.load(Ordering::Relaxed).to_string(),
            ),
            ("figures", "gauge", "Figures held.", figures.to_string()),
            (
                "writes_total",
                "counter",
                "Writes applied.",
                load(&m.writes),
            ),
            (
                "heartbeats_total",
                "counter",
                "Heartbeats received.",
                load(&m.heartbeats),
            ),
            (
                "bytes_total",
                "counter",
                "Stream body bytes received.",
                load(&m.bytes),
            ),
        ];
        for (name, kind, help, value) in gauges_and_counters {
            let _ = writeln!(
                out,
                "# HELP plotstream_{name} {help}\n# TYPE plotstream_{name} {kind}\nplotstream_{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP plotstream_errors_total Streams refused or ended by an error, by kind.\n# TYPE plotstream_errors_total counter"
        );
        for kind in ErrorKind::ALL {
            let n = m.errors[kind as usize].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "plotstream_errors_total{{kind=\"{}\"}} {n}",
                kind.label()
            );
        }
        out
    }
}

fn check_stream(index: usize, spec: &StreamSpec) -> Result<u64, Error> {
    let invalid = |reason: String| Error::InvalidFigure {
        reason: format!("trace {index}: {reason}"),
    };
    if spec.token.is_empty() || !spec.token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(format!(
            "stream token {:?} must be non-empty visible ASCII",
            spec.token
        )));
    }
    let maxpoints = spec.maxpoints();
    if !(1..=MAX_MAXPOINTS).contains(&maxpoints) {
        return Err(invalid(format!(
            "maxpoints {maxpoints} is outside 1 to {MAX_MAXPOINTS}"
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
