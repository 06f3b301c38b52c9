//! [`Store`]: where a viewer keeps its figures across restarts, an embedded
//! [redb](https://docs.rs/redb) database in a data directory.
//!
//! What is kept, and when:
//! - a figure as it was made (its traces, layout and stream tokens), and
//!   each Chart Studio plot name, committed to disk before the request that
//!   made it is answered; a deleted figure goes the same way (a figure an
//!   open viewer made for an unknown token, which no request was answered
//!   for, goes with the next save instead: no stream waits for the disk);
//! - each trace's points (the last `maxpoints` of every column) and the
//!   layout as writes changed it, saved for every figure written to since
//!   the last save, all in one transaction, every
//!   [`Config::save_interval`](crate::Config::save_interval) and once more
//!   when the server stops.
//!
//! A commit is all or nothing (redb's copy-on-write B-trees with a
//! checksummed root), so a crash (`kill -9`, power loss) leaves the store
//! as of the last commit: every figure that was answered, and the points as
//! they were at the last save, at most one save interval old.

use std::io;
use std::path::{Path, PathBuf};

use plotstream_protocol::Figure;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A figure as it was made: id → JSON of [`StoredFigure`].
const FIGURES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("figures");
/// A figure's data at the last save: id → JSON of [`StoredData`].
const DATA: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("data");
/// Chart Studio's plot names: name → figure id.
const NAMES: TableDefinition<'_, &str, u64> = TableDefinition::new("names");
/// `schema` and `next_id`.
const META: TableDefinition<'_, &str, u64> = TableDefinition::new("meta");

/// The layout of the tables above; a store of another is refused.
const SCHEMA: u64 = 1;

/// The store's file inside the data directory.
pub const STORE_FILE: &str = "figures.redb";

/// Why the store could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The data directory could not be made.
    #[error("cannot make the data directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The system's reason.
        #[source]
        source: io::Error,
    },
    /// Another process has the store open.
    #[error(
        "the figure store {} is in use by another process (another plotstream serve?)",
        path.display()
    )]
    InUse {
        /// The store's file.
        path: PathBuf,
    },
    /// The file is not a store this viewer can open.
    #[error("cannot open the figure store {}", path.display())]
    Open {
        /// The store's file.
        path: PathBuf,
        /// redb's reason.
        #[source]
        source: redb::Error,
    },
    /// The store was written by a plotstream with another layout.
    #[error(
        "the figure store {} has schema {found}; this plotstream reads schema {SCHEMA} \
         (move the file away to start afresh)",
        path.display()
    )]
    Schema {
        /// The store's file.
        path: PathBuf,
        /// The schema found.
        found: u64,
    },
    /// A read or a write failed.
    #[error("the figure store failed while {action}")]
    Io {
        /// What it was doing ("saving figure 3").
        action: String,
        /// redb's reason.
        #[source]
        source: redb::Error,
    },
}

/// A figure as it was made, as kept in the store.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredFigure {
    pub(crate) figure: Figure,
    /// Made for an unknown token on an open viewer.
    pub(crate) auto: bool,
}

/// A figure's data as kept in the store: per trace, each column as its
/// dotted path and its values (at most the trace's `maxpoints`); the
/// layout as writes have changed it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct StoredData {
    pub(crate) traces: Vec<Vec<(String, Vec<Value>)>>,
    pub(crate) layout: Map<String, Value>,
    /// The acknowledged streams whose lines these points hold (absent in
    /// rows saved before acknowledgements).
    #[serde(default)]
    pub(crate) streams: Vec<StreamMark>,
}

/// How far an acknowledged stream's lines reached a figure: saved with
/// its points, in the same row, so that a viewer started again resumes
/// the stream exactly where the points it restored end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StreamMark {
    pub(crate) token: String,
    pub(crate) stream_id: String,
    /// Lines taken on the stream, over all its connections, when its last
    /// writes reached the figure.
    pub(crate) lines: u64,
}

/// [`StoredData`] as it is written, borrowed from a figure.
#[derive(Serialize)]
struct DataRow<'a, T> {
    traces: &'a [T],
    layout: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    streams: &'a [StreamMark],
}

/// The JSON of a figure's data row: each trace's columns (as
/// `TraceData::saved` serializes them), its layout and its streams' marks.
pub(crate) fn data_row<T: Serialize>(
    traces: &[T],
    layout: &Map<String, Value>,
    streams: &[StreamMark],
) -> Option<Vec<u8>> {
    serde_json::to_vec(&DataRow {
        traces,
        layout,
        streams,
    })
    .ok()
}

/// [`StoredFigure`] as it is written, borrowed from a figure.
#[derive(Serialize)]
struct FigureRow<'a> {
    figure: &'a Figure,
    auto: bool,
}

/// The JSON of a figure's row ([`StoredFigure`]).
pub(crate) fn figure_row(figure: &Figure, auto: bool) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&FigureRow { figure, auto })
}

/// What one save writes for one figure.
#[derive(Debug)]
pub(crate) struct SaveRow {
    pub(crate) id: u64,
    /// The figure's own row, when the store does not have it yet.
    pub(crate) figure: Option<Vec<u8>>,
    /// Its data row ([`data_row`]).
    pub(crate) data: Vec<u8>,
}

/// One figure read back from the store.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) id: u64,
    /// The figure, or why its row could not be read.
    pub(crate) figure: Result<StoredFigure, String>,
    /// Its data at the last save; `None` if it had none (or it was unreadable).
    pub(crate) data: Option<StoredData>,
}

/// Everything the store holds, in id order.
#[derive(Debug, Default)]
pub(crate) struct Contents {
    pub(crate) figures: Vec<Loaded>,
    pub(crate) names: Vec<(String, u64)>,
    pub(crate) next_id: u64,
}

/// The figure store: one redb file in a data directory, opened by one
/// process at a time.
///
/// ```
/// use plotstream_protocol::{Figure, StreamSpec, Trace, Write};
/// use plotstream_viewer::{Config, Store, Viewer};
///
/// let dir = std::env::temp_dir().join(format!("plotstream-store-doc-{}", std::process::id()));
/// let viewer = Viewer::with_store(Config::default(), Store::open(&dir)?)?;
/// let id = viewer.add_figure(Figure {
///     data: vec![Trace::streamed("scatter", StreamSpec::new("tok", 100))],
///     ..Figure::default()
/// })?;
/// viewer.apply("tok", &[Write::xy(1, 2)])?;
/// viewer.save()?;
/// drop(viewer);
///
/// // A new viewer over the same directory has the figure and its point.
/// let again = Viewer::with_store(Config::default(), Store::open(&dir)?)?;
/// assert_eq!(again.figure_json(id).unwrap()["data"][0]["y"], serde_json::json!([2]));
/// # drop(again);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), plotstream_viewer::Error>(())
/// ```
#[derive(Debug)]
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens the store in `dir` (its file [`STORE_FILE`]), making the
    /// directory and an empty store if there are none.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(STORE_FILE);
        let db = Database::create(&path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse { path: path.clone() },
            other => StoreError::Open {
                path: path.clone(),
                source: other.into(),
            },
        })?;
        let store = Store { db, path };
        store.prepare()?;
        Ok(store)
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the tables of a new store, or checks an old one's schema.
    fn prepare(&self) -> Result<(), StoreError> {
        let found = self.write(
            || "opening the store".to_owned(),
            |txn| {
                txn.open_table(FIGURES)?;
                txn.open_table(DATA)?;
                txn.open_table(NAMES)?;
                let mut meta = txn.open_table(META)?;
                let found = meta.get("schema")?.map(|v| v.value());
                if found.is_none() {
                    meta.insert("schema", SCHEMA)?;
                }
                Ok(found.unwrap_or(SCHEMA))
            },
        )?;
        if found != SCHEMA {
            return Err(StoreError::Schema {
                path: self.path.clone(),
                found,
            });
        }
        Ok(())
    }

    /// Runs `f` in one write transaction and commits it (durably: the
    /// commit is on disk when this returns).
    fn write<T>(
        &self,
        action: impl Fn() -> String,
        f: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let failed = |source: redb::Error| StoreError::Io {
            action: action(),
            source,
        };
        let txn = self.db.begin_write().map_err(|e| failed(e.into()))?;
        let out = f(&txn).map_err(failed)?;
        txn.commit().map_err(|e| failed(e.into()))?;
        Ok(out)
    }

    /// Everything the store holds.
    pub(crate) fn load(&self) -> Result<Contents, StoreError> {
        let failed = |source: redb::Error| StoreError::Io {
            action: "reading the figures".to_owned(),
            source,
        };
        let read = || -> Result<Contents, redb::Error> {
            let txn = self.db.begin_read()?;
            let figures = txn.open_table(FIGURES)?;
            let data = txn.open_table(DATA)?;
            let mut contents = Contents::default();
            for row in figures.iter()? {
                let (id, bytes) = row?;
                let id = id.value();
                let figure = serde_json::from_slice::<StoredFigure>(bytes.value())
                    .map_err(|e| e.to_string());
                let data = match (&figure, data.get(id)?) {
                    (Ok(_), Some(d)) => serde_json::from_slice::<StoredData>(d.value()).ok(),
                    _ => None,
                };
                contents.next_id = contents.next_id.max(id + 1);
                contents.figures.push(Loaded { id, figure, data });
            }
            for row in txn.open_table(NAMES)?.iter()? {
                let (name, id) = row?;
                contents.names.push((name.value().to_owned(), id.value()));
            }
            let next = txn.open_table(META)?.get("next_id")?.map(|v| v.value());
            contents.next_id = contents.next_id.max(next.unwrap_or(1)).max(1);
            Ok(contents)
        };
        read().map_err(failed)
    }

    /// Keeps figure `id` as made (its data, if it had any, goes: a figure
    /// made again starts empty), and the next id to give out.
    pub(crate) fn put_figure(
        &self,
        id: u64,
        figure: &Figure,
        auto: bool,
        next_id: u64,
    ) -> Result<(), StoreError> {
        let bytes = figure_row(figure, auto).map_err(|e| StoreError::Io {
            action: format!("saving figure {id}"),
            source: redb::Error::Io(io::Error::other(e)),
        })?;
        self.write(
            || format!("saving figure {id}"),
            |txn| {
                txn.open_table(FIGURES)?.insert(id, bytes.as_slice())?;
                txn.open_table(DATA)?.remove(id)?;
                raise_next_id(txn, next_id)
            },
        )
    }

    /// Forgets figure `id`: the figure, its data, and the names that led to it.
    pub(crate) fn delete_figure(&self, id: u64) -> Result<(), StoreError> {
        self.write(
            || format!("deleting figure {id}"),
            |txn| {
                txn.open_table(FIGURES)?.remove(id)?;
                txn.open_table(DATA)?.remove(id)?;
                txn.open_table(NAMES)?.retain(|_, v| v != id)?;
                Ok(())
            },
        )
    }

    /// Names figure `id` `name` (Chart Studio's plot names).
    pub(crate) fn put_name(&self, name: &str, id: u64) -> Result<(), StoreError> {
        self.write(
            || format!("naming figure {id}"),
            |txn| {
                txn.open_table(NAMES)?.insert(name, id)?;
                Ok(())
            },
        )
    }

    /// Saves figures' rows in one transaction: each one's data, and its
    /// figure where the row brings it; the data of a figure that is not in
    /// the store (and not brought) is skipped. `next_id` as in
    /// [`Store::put_figure`].
    pub(crate) fn put_data(&self, rows: &[SaveRow], next_id: u64) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.write(
            || {
                format!(
                    "saving the points of {}",
                    plotstream_protocol::plural(rows.len() as u64, "figure", "figures")
                )
            },
            |txn| {
                let mut figures = txn.open_table(FIGURES)?;
                let mut data = txn.open_table(DATA)?;
                for row in rows {
                    match &row.figure {
                        Some(figure) => {
                            figures.insert(row.id, figure.as_slice())?;
                        }
                        None if figures.get(row.id)?.is_none() => continue,
                        None => {}
                    }
                    data.insert(row.id, row.data.as_slice())?;
                }
                raise_next_id(txn, next_id)
            },
        )
    }
}

/// Keeps `next_id` as the next id to give out, unless a higher one is kept
/// already: ids are never given out twice.
fn raise_next_id(txn: &redb::WriteTransaction, next_id: u64) -> Result<(), redb::Error> {
    let mut meta = txn.open_table(META)?;
    let old = meta.get("next_id")?.map_or(0, |v| v.value());
    if next_id > old {
        meta.insert("next_id", next_id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotstream_protocol::{StreamSpec, Trace};

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "plotstream-store-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn figure(token: &str) -> Figure {
        Figure {
            data: vec![Trace::streamed("scatter", StreamSpec::new(token, 10))],
            ..Figure::default()
        }
    }

    #[test]
    fn figures_names_and_data_come_back_in_id_order() {
        let dir = temp_dir("roundtrip");
        {
            let store = Store::open(&dir).expect("opens");
            store.put_figure(7, &figure("b"), false, 8).expect("saves");
            store.put_figure(3, &figure("a"), true, 4).expect("saves");
            store.put_name("folder/plot", 3).expect("names");
            let data = br#"{"traces": [[["x", [1, 2]], ["marker.color", ["red", "blue"]]]], "layout": {"title": "t"}}"#;
            let auto = figure_row(&figure("c"), true).expect("serializes");
            let rows = [
                SaveRow {
                    id: 3,
                    figure: None,
                    data: data.to_vec(),
                },
                SaveRow {
                    id: 99,
                    figure: None,
                    data: b"{}".to_vec(),
                },
                SaveRow {
                    id: 12,
                    figure: Some(auto),
                    data: br#"{"traces": [], "layout": {}}"#.to_vec(),
                },
            ];
            store.put_data(&rows, 13).expect("saves data");
        }
        let store = Store::open(&dir).expect("opens again");
        let contents = store.load().expect("reads");
        let ids: Vec<u64> = contents.figures.iter().map(|f| f.id).collect();
        assert_eq!(
            ids,
            [3, 7, 12],
            "99 was not a figure; 12 came with its save"
        );
        let first = contents.figures[0].figure.as_ref().expect("readable");
        assert_eq!((first.auto, first.figure.clone()), (true, figure("a")));
        assert_eq!(contents.next_id, 13);
        assert_eq!(contents.names, [("folder/plot".to_owned(), 3)]);
        let data = contents.figures[0].data.as_ref().expect("data for 3");
        assert_eq!(data.traces[0][1].0, "marker.color");
        assert_eq!(data.layout["title"], "t");
        assert!(contents.figures[1].data.is_none(), "7 was never saved");

        // Deleting takes the figure's data and names with it; 99 (not a
        // figure) was never written.
        store.delete_figure(3).expect("deletes");
        let contents = store.load().expect("reads");
        assert_eq!(contents.figures.len(), 2);
        assert!(contents.names.is_empty());
        assert_eq!(contents.next_id, 13, "ids are never given out twice");
        drop(store);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_second_opener_is_told_the_store_is_in_use() {
        let dir = temp_dir("in-use");
        let first = Store::open(&dir).expect("opens");
        let err = Store::open(&dir).expect_err("one process a store");
        assert!(matches!(err, StoreError::InUse { .. }), "{err}");
        assert!(
            err.to_string().contains("in use by another process"),
            "{err}"
        );
        drop(first);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_file_that_is_not_a_store_is_refused_by_name() {
        let dir = temp_dir("garbage");
        std::fs::create_dir_all(&dir).expect("a dir");
        std::fs::write(dir.join(STORE_FILE), vec![0x42; 4096]).expect("writes");
        let err = Store::open(&dir).expect_err("not a store");
        assert!(matches!(err, StoreError::Open { .. }), "{err}");
        assert!(err.to_string().contains(STORE_FILE), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn an_unreadable_figure_row_is_reported_not_fatal() {
        let dir = temp_dir("bad-row");
        let store = Store::open(&dir).expect("opens");
        store.put_figure(1, &figure("a"), false, 2).expect("saves");
        store
            .write(
                || "test".to_owned(),
                |txn| {
                    txn.open_table(FIGURES)?.insert(2, b"not json".as_slice())?;
                    Ok(())
                },
            )
            .expect("writes a bad row");
        let contents = store.load().expect("reads");
        assert!(contents.figures[0].figure.is_ok());
        assert!(contents.figures[1].figure.is_err());
        assert_eq!(contents.next_id, 3);
        drop(store);
        std::fs::remove_dir_all(&dir).ok();
    }
}
