//! The counters behind `GET /metrics`, in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use axum::response::Response;

use crate::memory::Memory;
use crate::{Error, Viewer};

/// One metric: name, type, help, value.
type Row = (&'static str, &'static str, &'static str, String);

/// The memory budget's gauges and the points it dropped.
fn memory_rows(memory: &Memory) -> [Row; 3] {
    [
        (
            "memory_bytes",
            "gauge",
            "Bytes the traces' points hold now (strings included), counted against the memory limit.",
            memory.used().to_string(),
        ),
        (
            "memory_limit_bytes",
            "gauge",
            "The points' memory budget (Config::memory_limit).",
            memory.limit.to_string(),
        ),
        (
            "points_dropped_total",
            "counter",
            "Oldest points dropped to stay within the memory limit or a token's share.",
            memory.dropped().to_string(),
        ),
    ]
}

/// Counts one of something open (a connection, a stream, a subscriber) in a
/// gauge for as long as it lives, however it ends.
pub(crate) struct Open {
    viewer: Viewer,
    gauge: fn(&Metrics) -> &AtomicI64,
}

impl Open {
    pub(crate) fn new(viewer: &Viewer, gauge: fn(&Metrics) -> &AtomicI64) -> Self {
        gauge(viewer.metrics()).fetch_add(1, Ordering::Relaxed);
        Open {
            viewer: viewer.clone(),
            gauge,
        }
    }

    pub(crate) fn viewer(&self) -> &Viewer {
        &self.viewer
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        (self.gauge)(self.viewer.metrics()).fetch_sub(1, Ordering::Relaxed);
    }
}

/// The response extension an [`Error`] answer carries when it is a counted
/// refusal: [`Metrics::count_answer`] reads it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Refusal(pub(crate) ErrorKind);

/// The kinds of refusal the viewer counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    InvalidWrite,
    LineTooLong,
    MissingToken,
    UnknownToken,
    IdleTimeout,
    TakenOver,
    TooManyColumns,
    MalformedBody,
    TooManyFigures,
    FigureDeleted,
    HostRefused,
    NotJson,
    OverMemory,
    InvalidFigure,
    FigureTooLarge,
    BadAckHeaders,
}

impl ErrorKind {
    const ALL: [ErrorKind; 16] = [
        ErrorKind::InvalidWrite,
        ErrorKind::LineTooLong,
        ErrorKind::MissingToken,
        ErrorKind::UnknownToken,
        ErrorKind::IdleTimeout,
        ErrorKind::TakenOver,
        ErrorKind::TooManyColumns,
        ErrorKind::MalformedBody,
        ErrorKind::TooManyFigures,
        ErrorKind::FigureDeleted,
        ErrorKind::HostRefused,
        ErrorKind::NotJson,
        ErrorKind::OverMemory,
        ErrorKind::InvalidFigure,
        ErrorKind::FigureTooLarge,
        ErrorKind::BadAckHeaders,
    ];

    fn label(self) -> &'static str {
        match self {
            ErrorKind::InvalidWrite => "invalid_write",
            ErrorKind::LineTooLong => "line_too_long",
            ErrorKind::MissingToken => "missing_token",
            ErrorKind::UnknownToken => "unknown_token",
            ErrorKind::IdleTimeout => "idle_timeout",
            ErrorKind::TakenOver => "taken_over",
            ErrorKind::TooManyColumns => "too_many_columns",
            ErrorKind::MalformedBody => "malformed_body",
            ErrorKind::TooManyFigures => "too_many_figures",
            ErrorKind::FigureDeleted => "figure_deleted",
            ErrorKind::HostRefused => "host_refused",
            ErrorKind::NotJson => "not_json",
            ErrorKind::OverMemory => "over_memory",
            ErrorKind::InvalidFigure => "invalid_figure",
            ErrorKind::FigureTooLarge => "figure_too_large",
            ErrorKind::BadAckHeaders => "bad_ack_headers",
        }
    }

    /// The kind an error answer is counted as: every refusal of what a
    /// client sent, and not the viewer's own failures or a lookup of what
    /// is not there. The match names every variant, so a new one is
    /// counted or not on purpose.
    pub(crate) fn of(e: &Error) -> Option<ErrorKind> {
        Some(match e {
            Error::InvalidWrite { source, .. } => match source {
                plotstream_protocol::Error::LineTooLong { .. } => ErrorKind::LineTooLong,
                _ => ErrorKind::InvalidWrite,
            },
            Error::MissingToken | Error::InvalidToken(_) => ErrorKind::MissingToken,
            Error::UnknownToken { .. } => ErrorKind::UnknownToken,
            Error::IdleTimeout { .. } => ErrorKind::IdleTimeout,
            Error::TakenOver { .. } => ErrorKind::TakenOver,
            Error::TooManyColumns { .. } => ErrorKind::TooManyColumns,
            Error::MalformedBody { .. } => ErrorKind::MalformedBody,
            Error::TooManyFigures { .. } => ErrorKind::TooManyFigures,
            Error::FigureDeleted { .. } => ErrorKind::FigureDeleted,
            Error::HostRefused { .. } => ErrorKind::HostRefused,
            Error::NotJson { .. } => ErrorKind::NotJson,
            Error::OverMemory { .. } => ErrorKind::OverMemory,
            Error::InvalidFigure { .. } => ErrorKind::InvalidFigure,
            Error::FigureTooLarge { .. } => ErrorKind::FigureTooLarge,
            Error::BadAckHeaders { .. } => ErrorKind::BadAckHeaders,
            Error::InvalidConfig { .. }
            | Error::Bind { .. }
            | Error::Store(_)
            | Error::Serve(_)
            | Error::NoSuchFigure { .. }
            | Error::NotFound { .. } => return None,
        })
    }
}

/// A counter or gauge of [`Metrics`]: name, type, help, and how to read it.
type Counter = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Metrics) -> String,
);

fn load(v: &AtomicU64) -> String {
    v.load(Ordering::Relaxed).to_string()
}

fn gauge(v: &AtomicI64) -> String {
    v.load(Ordering::Relaxed).to_string()
}

/// Every counter and gauge of [`Metrics`] (the figures held, the memory
/// budget's and the errors' are added to them).
const COUNTERS: [Counter; 15] = [
    ("open_streams", "gauge", "Streams connected now.", |m| {
        gauge(&m.open_streams)
    }),
    (
        "streams_total",
        "counter",
        "Streams accepted (reconnects count again).",
        |m| load(&m.streams),
    ),
    (
        "subscribers",
        "gauge",
        "Browser subscriptions open now.",
        |m| gauge(&m.subscribers),
    ),
    ("connections", "gauge", "Connections open now.", |m| {
        gauge(&m.connections)
    }),
    (
        "connections_refused_total",
        "counter",
        "Connections refused over the connection limit.",
        |m| load(&m.connections_refused),
    ),
    ("writes_total", "counter", "Writes applied.", |m| {
        load(&m.writes)
    }),
    ("heartbeats_total", "counter", "Heartbeats received.", |m| {
        load(&m.heartbeats)
    }),
    (
        "resumed_lines_skipped_total",
        "counter",
        "Lines resumed acknowledged streams sent again, taken before and passed over.",
        |m| load(&m.lines_skipped),
    ),
    (
        "bytes_total",
        "counter",
        "Stream body bytes received.",
        |m| load(&m.bytes),
    ),
    (
        "subscriber_resyncs_total",
        "counter",
        "Fresh snapshots sent to subscribers that fell behind.",
        |m| load(&m.resyncs),
    ),
    (
        "figures_deleted_total",
        "counter",
        "Figures deleted through the API.",
        |m| load(&m.figures_deleted),
    ),
    (
        "figures_expired_total",
        "counter",
        "Figures made for unknown tokens, dropped after the open figures' idle time.",
        |m| load(&m.figures_expired),
    ),
    (
        "store_saves_total",
        "counter",
        "Saves of figures' points to the store that committed.",
        |m| load(&m.saves),
    ),
    (
        "store_errors_total",
        "counter",
        "Writes to the store that failed (the points are kept in memory and saved again).",
        |m| load(&m.store_errors),
    ),
    (
        "writes_saved",
        "gauge",
        "Writes applied before the last committed save began: all of them are on disk.",
        |m| load(&m.writes_saved),
    ),
];

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) open_streams: AtomicI64,
    pub(crate) streams: AtomicU64,
    pub(crate) subscribers: AtomicI64,
    pub(crate) connections: AtomicI64,
    pub(crate) connections_refused: AtomicU64,
    pub(crate) writes: AtomicU64,
    pub(crate) heartbeats: AtomicU64,
    /// Lines a resumed acknowledged stream sent again, passed over.
    pub(crate) lines_skipped: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) resyncs: AtomicU64,
    pub(crate) figures_deleted: AtomicU64,
    pub(crate) figures_expired: AtomicU64,
    /// Saves of figures' points to the store that committed.
    pub(crate) saves: AtomicU64,
    /// Saves (or figure writes) to the store that failed.
    pub(crate) store_errors: AtomicU64,
    /// `writes` as it was when the last committed save began: every write
    /// counted here is on disk.
    pub(crate) writes_saved: AtomicU64,
    errors: [AtomicU64; ErrorKind::ALL.len()],
}

impl Metrics {
    /// Counts the refusal an answer carries ([`Refusal`], which every
    /// [`Error`] answer has when [`ErrorKind::of`] counts it). The guard
    /// every request passes calls it, so each refusal is counted once.
    pub(crate) fn count_answer(&self, response: &Response) {
        if let Some(Refusal(kind)) = response.extensions().get() {
            self.count(*kind);
        }
    }

    /// Counts a refusal told inside an answer already under way (an acked
    /// stream's last ack line), which no [`Refusal`] can carry.
    pub(crate) fn count_in_band(&self, e: &Error) {
        if let Some(kind) = ErrorKind::of(e) {
            self.count(kind);
        }
    }

    fn count(&self, kind: ErrorKind) {
        self.errors[kind as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The counters in the Prometheus text format; `figures` is the number
    /// of figures held, `memory` their points' budget.
    pub(crate) fn text(&self, figures: usize, memory: &Memory) -> String {
        let mut out = String::new();
        for (name, kind, help, value) in self.rows(figures).into_iter().chain(memory_rows(memory)) {
            let _ = writeln!(
                out,
                "# HELP plotstream_{name} {help}\n# TYPE plotstream_{name} {kind}\nplotstream_{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP plotstream_errors_total Requests refused or streams ended by an error, by kind.\n# TYPE plotstream_errors_total counter"
        );
        for kind in ErrorKind::ALL {
            let n = self.errors[kind as usize].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "plotstream_errors_total{{kind=\"{}\"}} {n}",
                kind.label()
            );
        }
        out
    }

    /// Every counter and gauge but the memory budget's and the errors'.
    fn rows(&self, figures: usize) -> Vec<Row> {
        let mut rows: Vec<Row> = COUNTERS
            .iter()
            .map(|&(name, kind, help, read)| (name, kind, help, read(self)))
            .collect();
        rows.insert(
            4,
            ("figures", "gauge", "Figures held.", figures.to_string()),
        );
        rows
    }
}
