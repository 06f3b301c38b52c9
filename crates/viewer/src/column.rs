//! The data a trace holds: one ring-buffered column per streamed attribute,
//! each keeping at most `maxpoints` values; and the layout's dotted paths.

use std::collections::{HashMap, VecDeque};

use plotstream_protocol::{
    Attribute, Change, Field, MAX_PATH_DEPTH, PathTooDeep, Scalar, TraceUpdate, Write,
};
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};
use serde_json::{Map, Value};

use crate::event;

/// Integers up to this size print exactly from an `f64`.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// A value a column holds, and the bytes it owns beyond its own slot.
trait Held {
    fn heap(&self) -> usize;
}

impl Held for f64 {
    fn heap(&self) -> usize {
        0
    }
}

impl Held for Value {
    fn heap(&self) -> usize {
        crate::memory::heap_bytes(self)
    }
}

/// At most `max` values, oldest dropped first; O(1) per push. Knows the
/// bytes its values hold ([`Ring::bytes`]).
#[derive(Debug, Clone)]
struct Ring<T> {
    buf: VecDeque<T>,
    max: usize,
    /// What the values own beyond their slots (a string's bytes, …).
    heap: usize,
}

impl<T: Held> Ring<T> {
    fn new(max: usize) -> Self {
        Ring {
            buf: VecDeque::new(),
            max,
            heap: 0,
        }
    }

    fn push(&mut self, v: T) {
        if self.buf.len() == self.max {
            self.pop_front();
        } else if self.buf.len() == self.buf.capacity() {
            // Grow by doubling, but never past `max`: memory stays bounded by it.
            let want = (self.buf.capacity() * 2).max(16).min(self.max);
            self.buf.reserve_exact(want - self.buf.len());
        }
        self.heap += v.heap();
        self.buf.push_back(v);
    }

    fn pop_front(&mut self) {
        if let Some(old) = self.buf.pop_front() {
            self.heap -= old.heap();
        }
    }

    /// Drops the `n` oldest values, and spare room past twice what is left.
    fn drop_oldest(&mut self, n: usize) {
        for _ in 0..n.min(self.buf.len()) {
            self.pop_front();
        }
        if self.buf.capacity() > 2 * self.buf.len() + 16 {
            self.buf.shrink_to(self.buf.len());
        }
    }

    /// Replaces the contents with `values` (at most `max` of them).
    fn replace(&mut self, values: impl ExactSizeIterator<Item = T>) {
        self.buf.clear();
        self.buf.extend(values);
        self.buf.shrink_to(self.max);
        self.heap = self.buf.iter().map(Held::heap).sum();
    }

    fn len(&self) -> usize {
        self.buf.len()
    }

    /// The bytes the values hold: their slots and what they own.
    fn bytes(&self) -> usize {
        self.buf.len() * std::mem::size_of::<T>() + self.heap
    }
}

/// One streamed attribute's values: numbers and gaps (`null`, held as NaN)
/// packed as `f64` (8 bytes a point) until something else arrives.
#[derive(Debug, Clone)]
enum Column {
    Num(Ring<f64>),
    Any(Ring<Value>),
}

impl Column {
    fn new(max: usize) -> Self {
        Column::Num(Ring::new(max))
    }

    fn len(&self) -> usize {
        match self {
            Column::Num(r) => r.len(),
            Column::Any(r) => r.len(),
        }
    }

    fn max(&self) -> usize {
        match self {
            Column::Num(r) => r.max,
            Column::Any(r) => r.max,
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Column::Num(r) => r.bytes(),
            Column::Any(r) => r.bytes(),
        }
    }

    fn drop_oldest(&mut self, n: usize) {
        match self {
            Column::Num(r) => r.drop_oldest(n),
            Column::Any(r) => r.drop_oldest(n),
        }
    }

    /// The general form of the column, keeping its values.
    fn general(&mut self) -> &mut Ring<Value> {
        if let Column::Num(r) = self {
            let mut any = Ring::new(r.max);
            any.replace(r.buf.iter().map(|&v| number_value(v)));
            *self = Column::Any(any);
        }
        match self {
            Column::Any(r) => r,
            Column::Num(_) => unreachable!("just made general"),
        }
    }

    fn apply(&mut self, change: Change<'_>) {
        match change {
            Change::Append(Scalar::Number(n)) | Change::AppendValue(Value::Number(n)) => {
                let v = n.as_f64().unwrap_or(f64::NAN);
                match self {
                    Column::Num(r) => r.push(v),
                    Column::Any(r) => r.push(Value::Number(n.clone())),
                }
            }
            // A gap (`null`) stays packed, as NaN, which JSON writes as
            // `null` again: a trail with a gap costs 8 bytes a point still.
            Change::Append(Scalar::Null) | Change::AppendValue(Value::Null) => match self {
                Column::Num(r) => r.push(f64::NAN),
                Column::Any(r) => r.push(Value::Null),
            },
            Change::Append(s) => self.general().push(s.to_value()),
            Change::AppendValue(v) => self.general().push(v.clone()),
            Change::Overwrite(values) => {
                // Only the last `max` values are kept; only they are looked at.
                let max = self.max();
                let kept = event::tail(values, max);
                if kept.iter().all(|v| v.is_number() || v.is_null()) {
                    let mut r = Ring::new(max);
                    r.replace(kept.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)));
                    *self = Column::Num(r);
                } else {
                    let mut r = Ring::new(max);
                    r.replace(kept.iter().cloned());
                    *self = Column::Any(r);
                }
            }
        }
    }
}

/// The value as an integer, when it is one that an `f64` holds exactly:
/// such values print as integers (`3`, not `3.0`), as they were sent.
fn exact_int(v: f64) -> Option<i64> {
    (v.fract() == 0.0 && v.abs() < EXACT_INT).then_some(v as i64)
}

/// A number as JSON, integral values as integers.
fn number_value(v: f64) -> Value {
    exact_int(v).map_or_else(|| Value::from(v), Value::from)
}

impl Serialize for Column {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        match self {
            Column::Num(r) => {
                for &v in &r.buf {
                    match exact_int(v) {
                        Some(i) => seq.serialize_element(&i)?,
                        None => seq.serialize_element(&v)?,
                    }
                }
            }
            Column::Any(r) => {
                for v in &r.buf {
                    seq.serialize_element(v)?;
                }
            }
        }
        seq.end()
    }
}

/// One trace's streamed data: the protocol's [`Field`]s in fixed slots,
/// other attributes by path (a hash lookup, however many there are; how
/// many there may be is the token's limit, see `figure::Columns`).
#[derive(Debug, Clone)]
pub(crate) struct TraceData {
    maxpoints: usize,
    fields: [Option<Column>; Field::ALL.len()],
    others: HashMap<Box<str>, Column>,
    /// The bytes its columns' values hold, kept as they change.
    bytes: usize,
    /// Whether points were dropped to stay within memory: then it keeps
    /// fewer than `maxpoints`, and its updates say how many.
    trimmed: bool,
}

impl TraceData {
    pub(crate) fn new(maxpoints: u64) -> Self {
        TraceData {
            maxpoints: usize::try_from(maxpoints).unwrap_or(usize::MAX),
            fields: Default::default(),
            others: HashMap::new(),
            bytes: 0,
            trimmed: false,
        }
    }

    pub(crate) fn maxpoints(&self) -> usize {
        self.maxpoints
    }

    /// The bytes its values hold (numbers 8 each, other values their JSON
    /// form in memory, strings included).
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// How many points it keeps, when memory made that fewer than its
    /// `maxpoints` (for subscribers, who trim to it).
    pub(crate) fn kept(&self) -> Option<usize> {
        let points = self.points();
        (self.trimmed && points < self.maxpoints).then_some(points)
    }

    /// Drops the oldest points until `need` bytes are freed, keeping the
    /// newest point always; returns the points and bytes dropped.
    ///
    /// Columns are aligned at their newest value, so the oldest point is
    /// the first value of each longest column.
    pub(crate) fn drop_oldest(&mut self, need: usize) -> (u64, usize) {
        let start = self.bytes;
        let mut dropped = 0;
        loop {
            let freed = start - self.bytes;
            let points = self.points();
            if freed >= need || points <= 1 {
                break;
            }
            // As many points as the average point's bytes say, in one step.
            let per_point = (self.bytes / points).max(1);
            let n = (need - freed).div_ceil(per_point).clamp(1, points - 1);
            let keep = points - n;
            for column in self.columns_mut() {
                let over = column.len().saturating_sub(keep);
                column.drop_oldest(over);
            }
            self.bytes = self.columns().map(|(_, c)| c.bytes()).sum();
            dropped += n as u64;
        }
        self.trimmed |= dropped > 0;
        (dropped, start - self.bytes)
    }

    fn columns_mut(&mut self) -> impl Iterator<Item = &mut Column> {
        self.fields
            .iter_mut()
            .flatten()
            .chain(self.others.values_mut())
    }

    /// Applies a write's attributes, noting them in `pending` if given.
    ///
    /// Writes reach here validated (`Write::validate`), so the walk's depth
    /// limit cannot stop it; if it did, the rest of the write would be left
    /// unapplied, never half-walked into unbounded recursion.
    pub(crate) fn apply(&mut self, w: &Write, mut pending: Option<&mut TraceUpdate>) {
        let max = self.maxpoints;
        let walked = w.for_each_attribute(|a| {
            let column = self.column(&a);
            let before = column.bytes();
            column.apply(a.change);
            let after = column.bytes();
            self.bytes = self.bytes - before + after;
            if let Some(p) = pending.as_deref_mut() {
                event::note(p, a.path, a.change, max);
            }
            Ok::<_, PathTooDeep>(())
        });
        if let Err(e) = walked {
            tracing::warn!("a write was not validated before it was applied: {e}");
        }
    }

    /// The column of attribute `a`, made empty if the trace has none yet.
    fn column(&mut self, a: &Attribute<'_>) -> &mut Column {
        let max = self.maxpoints;
        match a.field {
            Some(f) => self.fields[f.index()].get_or_insert_with(|| Column::new(max)),
            None => {
                // Looked up by `&str`: a path is copied only for a new column.
                if !self.others.contains_key(a.path) {
                    self.others.insert(a.path.into(), Column::new(max));
                }
                self.others
                    .get_mut(a.path)
                    .expect("the column was just made if it was missing")
            }
        }
    }

    /// Puts back columns as [`TraceData::saved`] wrote them: each one's
    /// values overwrite the column at its path, which keeps the last
    /// `maxpoints` of them, as any write's arrays do.
    pub(crate) fn restore(&mut self, columns: &[(String, Vec<Value>)]) {
        for a in restored_attributes(columns) {
            self.column(&a).apply(a.change);
        }
        self.bytes = self.columns().map(|(_, c)| c.bytes()).sum();
    }

    /// The columns as `[[path, [values…]], …]`, for the store: serialized
    /// straight from the rings, read back by [`TraceData::restore`].
    pub(crate) fn saved(&self) -> impl Serialize + '_ {
        Saved(self)
    }

    fn columns(&self) -> impl Iterator<Item = (&str, &Column)> {
        let fields = Field::ALL
            .iter()
            .zip(&self.fields)
            .filter_map(|(f, c)| Some((f.path(), c.as_ref()?)));
        fields.chain(self.others.iter().map(|(p, c)| (&**p, c)))
    }

    /// Points held: the longest column's length.
    pub(crate) fn points(&self) -> usize {
        self.columns().map(|(_, c)| c.len()).max().unwrap_or(0)
    }

    /// The data as a JSON object, nested by path (`marker.color` under `marker`).
    pub(crate) fn to_json(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for (path, column) in self.columns() {
            let value = serde_json::to_value(column).unwrap_or(Value::Null);
            set_path(&mut out, path, value);
        }
        out
    }
}

/// One value of a point, as a column holds it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Cell<'a> {
    Num(f64),
    Any(&'a Value),
}

impl Cell<'_> {
    /// As JSON: integral numbers as integers, as they were sent.
    pub(crate) fn to_value(self) -> Value {
        match self {
            Cell::Num(v) => number_value(v),
            Cell::Any(v) => v.clone(),
        }
    }
}

impl Column {
    /// The value `k` places from its oldest.
    fn cell(&self, k: usize) -> Option<Cell<'_>> {
        match self {
            Column::Num(r) => r.buf.get(k).map(|&v| Cell::Num(v)),
            Column::Any(r) => r.buf.get(k).map(Cell::Any),
        }
    }
}

impl TraceData {
    /// Its attributes' dotted paths, in its columns' order.
    pub(crate) fn paths(&self) -> Vec<&str> {
        self.columns().map(|(p, _)| p).collect()
    }

    /// Calls `f` with each point, oldest first: its index and one cell per
    /// path of [`TraceData::paths`], `None` where that column does not reach
    /// back so far (columns are aligned at their newest value).
    pub(crate) fn for_each_point(&self, mut f: impl FnMut(usize, &[Option<Cell<'_>>])) {
        let columns: Vec<&Column> = self.columns().map(|(_, c)| c).collect();
        let points = self.points();
        let mut row = Vec::with_capacity(columns.len());
        for j in 0..points {
            row.clear();
            for c in &columns {
                let missing = points - c.len();
                row.push(j.checked_sub(missing).and_then(|k| c.cell(k)));
            }
            f(j, &row);
        }
    }
}

/// [`TraceData::saved`]'s form.
struct Saved<'a>(&'a TraceData);

impl Serialize for Saved<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.columns())
    }
}

/// Stored columns as the attributes a write of them would touch: each
/// path's values overwrite it. A path deeper than the protocol allows
/// (which no viewer saved) is left out.
pub(crate) fn restored_attributes(
    columns: &[(String, Vec<Value>)],
) -> impl Iterator<Item = Attribute<'_>> {
    columns
        .iter()
        .filter(|(path, _)| path.split('.').count() <= MAX_PATH_DEPTH)
        .map(|(path, values)| Attribute {
            field: Field::ALL.iter().copied().find(|f| f.path() == path),
            path,
            change: Change::Overwrite(values),
        })
}

/// Sets `path` (dotted) in `obj` to `value`, making objects on the way.
/// A loop, not recursion: the path's depth is the sender's choice.
pub(crate) fn set_path(obj: &mut Map<String, Value>, path: &str, value: Value) {
    let mut here = obj;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            here.insert(part.to_owned(), value);
            return;
        }
        let next = here
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        let Value::Object(inner) = next else {
            return;
        };
        here = inner;
    }
}

/// Applies a layout update: dotted keys set nested attributes, plain keys
/// replace (as `Plotly.relayout` does).
pub(crate) fn relayout(layout: &mut Map<String, Value>, update: &Map<String, Value>) {
    for (k, v) in update {
        set_path(layout, k, v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(v: Value) -> Write {
        serde_json::from_value(v).expect("a write")
    }

    #[test]
    fn a_ring_keeps_the_last_max_and_never_grows_past_it() {
        let mut r = Ring::new(5);
        for i in 0..100 {
            r.push(f64::from(i));
            assert!(r.buf.capacity() <= 5, "capacity {}", r.buf.capacity());
        }
        assert_eq!(
            r.buf.iter().copied().collect::<Vec<_>>(),
            [95.0, 96.0, 97.0, 98.0, 99.0]
        );
        let mut big = Ring::new(1000);
        for i in 0..1000 {
            big.push(f64::from(i));
        }
        assert_eq!(big.buf.capacity(), 1000, "grows to max exactly");
    }

    #[test]
    fn scalars_append_up_to_maxpoints_and_arrays_overwrite() {
        let mut t = TraceData::new(3);
        for i in 0..5 {
            t.apply(&Write::xy(i, f64::from(i) * 0.5), None);
        }
        assert_eq!(
            Value::Object(t.to_json()),
            json!({"x": [2, 3, 4], "y": [1, 1.5, 2]})
        );
        t.apply(&write(json!({"x": [0, 1, 2, 3, 4], "y": [9]})), None);
        assert_eq!(
            Value::Object(t.to_json()),
            json!({"x": [2, 3, 4], "y": [9]})
        );
        assert_eq!(t.points(), 3);
    }

    #[test]
    fn strings_turn_a_packed_column_into_a_general_one() {
        let mut t = TraceData::new(10);
        t.apply(&Write::xy(1, 1), None);
        t.apply(&Write::xy("2026-11-23 16:34:15.000000", 2), None);
        assert_eq!(
            Value::Object(t.to_json()),
            json!({"x": [1, "2026-11-23 16:34:15.000000"], "y": [1, 2]})
        );
    }

    /// A gap keeps a column packed: it is NaN there, and `null` in every
    /// form the column is read in (JSON, the store and back, a cell).
    #[test]
    fn a_gap_stays_in_a_packed_column_and_reads_as_null() {
        let mut t = TraceData::new(10);
        t.apply(&Write::xy(1, 1.5), None);
        t.apply(&Write::gap(), None);
        t.apply(&Write::xy(2, 2.5), None);
        let want = json!({"x": [1, null, 2], "y": [1.5, null, 2.5]});
        assert_eq!(Value::Object(t.to_json()), want);
        assert!(matches!(t.fields[Field::X.index()], Some(Column::Num(_))));
        assert_eq!(t.bytes, 2 * 3 * 8, "8 bytes a value, the gap too");
        let saved = serde_json::to_string(&t.saved()).expect("serializes");
        let columns: Vec<(String, Vec<Value>)> = serde_json::from_str(&saved).expect("reads");
        let mut back = TraceData::new(10);
        back.restore(&columns);
        assert_eq!(Value::Object(back.to_json()), want);
        assert!(matches!(
            back.fields[Field::Y.index()],
            Some(Column::Num(_))
        ));
        let cell = back.fields[Field::X.index()]
            .as_ref()
            .and_then(|c| c.cell(1));
        assert_eq!(cell.map(Cell::to_value), Some(Value::Null));
        // An array with a gap overwrites packed too.
        t.apply(&write(json!({"x": [3, null, 4]})), None);
        assert_eq!(t.to_json()["x"], json!([3, null, 4]));
        assert!(matches!(t.fields[Field::X.index()], Some(Column::Num(_))));
    }

    #[test]
    fn nested_and_unknown_attributes_are_columns_by_path() {
        let mut t = TraceData::new(10);
        t.apply(
            &write(json!({"x": 1, "marker": {"color": "red", "size": [4, 5], "line": {"width": 2}},
                          "line": {"color": "blue"}, "opacity": [0.5], "error_y": {"array": [1, 2]}})),
            None,
        );
        assert_eq!(
            Value::Object(t.to_json()),
            json!({"x": [1], "marker": {"color": ["red"], "size": [4, 5], "line": {"width": [2]}},
                   "line": {"color": ["blue"]}, "opacity": [0.5], "error_y": {"array": [1, 2]}})
        );
    }

    #[test]
    fn saved_columns_restore_to_the_same_data() {
        let mut t = TraceData::new(3);
        for i in 0..5 {
            t.apply(&Write::xy(i, f64::from(i) * 0.5), None);
        }
        t.apply(
            &write(
                json!({"text": "a", "marker": {"color": ["red", "blue"], "line": {"width": 2}},
                          "error_y": {"array": [1, 2, 3, 4]}}),
            ),
            None,
        );
        let saved = serde_json::to_string(&t.saved()).expect("serializes");
        let columns: Vec<(String, Vec<Value>)> = serde_json::from_str(&saved).expect("reads");
        let mut back = TraceData::new(3);
        back.restore(&columns);
        assert_eq!(Value::Object(back.to_json()), Value::Object(t.to_json()));
        assert_eq!(
            back.to_json()["x"],
            json!([2, 3, 4]),
            "integers stay integers"
        );
        assert!(
            matches!(
                back.fields[Field::MarkerColor.index()],
                Some(Column::Any(_))
            ),
            "a field comes back into its own slot"
        );
        assert!(
            matches!(back.fields[Field::Y.index()], Some(Column::Num(_))),
            "numbers come back packed"
        );
        // Appends after a restore go on from it, within maxpoints.
        back.apply(&Write::xy(5, 9), None);
        assert_eq!(back.to_json()["x"], json!([3, 4, 5]));
        // More values than maxpoints keep the last ones; a path deeper than
        // the protocol allows is left out.
        let mut small = TraceData::new(2);
        let deep = ["a"; MAX_PATH_DEPTH + 1].join(".");
        small.restore(&[
            ("x".to_owned(), vec![json!(1), json!(2), json!(3)]),
            (deep, vec![json!(1)]),
        ]);
        assert_eq!(Value::Object(small.to_json()), json!({"x": [2, 3]}));
    }

    #[test]
    fn bytes_follow_every_change_and_strings_count_whole() {
        let mut t = TraceData::new(3);
        t.apply(&Write::xy(1, 2), None);
        assert_eq!(t.bytes(), 16, "two packed numbers");
        t.apply(&write(json!({"text": "x".repeat(1000)})), None);
        assert_eq!(t.bytes(), 16 + std::mem::size_of::<Value>() + 1000);
        // Past maxpoints the oldest go, and their bytes with them.
        for _ in 0..3 {
            t.apply(&write(json!({"text": "y".repeat(10)})), None);
        }
        assert_eq!(t.bytes(), 16 + 3 * (std::mem::size_of::<Value>() + 10));
        t.apply(&write(json!({"text": ["a", "b"]})), None);
        assert_eq!(t.bytes(), 16 + 2 * (std::mem::size_of::<Value>() + 1));
        let fresh: usize = t.columns().map(|(_, c)| c.bytes()).sum();
        assert_eq!(t.bytes(), fresh, "kept as it changes = counted afresh");
    }

    #[test]
    fn dropping_for_memory_takes_the_oldest_and_keeps_the_newest() {
        let mut t = TraceData::new(100);
        for i in 0..10 {
            t.apply(
                &write(json!({"x": i, "text": format!("{i}{}", "s".repeat(99))})),
                None,
            );
        }
        // One marker colour for the whole trace: not a point of its own.
        t.apply(&write(json!({"marker": {"color": ["red"]}})), None);
        assert_eq!(t.kept(), None, "nothing dropped yet");
        let per_point = 8 + std::mem::size_of::<Value>() + 100;
        let before = t.bytes();
        let (points, freed) = t.drop_oldest(3 * per_point);
        assert_eq!((points, freed), (3, 3 * per_point));
        assert_eq!(t.bytes(), before - freed);
        assert_eq!(t.to_json()["x"], json!([3, 4, 5, 6, 7, 8, 9]));
        assert_eq!(t.to_json()["marker"]["color"], json!(["red"]));
        assert_eq!(t.kept(), Some(7));
        // However much is asked, the newest point stays.
        let (points, _) = t.drop_oldest(usize::MAX);
        assert_eq!(points, 6);
        assert_eq!(t.to_json()["x"], json!([9]));
        assert_eq!(t.to_json()["text"][0].as_str().map(|s| &s[..1]), Some("9"));
        assert_eq!(t.drop_oldest(usize::MAX), (0, 0));
    }

    #[test]
    fn relayout_sets_dotted_paths_and_replaces_plain_keys() {
        let mut layout =
            json!({"xaxis": {"range": [0, 1], "title": "t"}, "title": {"text": "a", "x": 0.5}})
                .as_object()
                .cloned()
                .unwrap_or_default();
        let update = json!({"xaxis.range": [2, 3], "title": {"text": "b"}});
        relayout(&mut layout, update.as_object().expect("an object"));
        assert_eq!(
            Value::Object(layout),
            json!({"xaxis": {"range": [2, 3], "title": "t"}, "title": {"text": "b"}})
        );
    }

    #[test]
    fn set_path_takes_any_depth_without_recursion() {
        let mut obj = Map::new();
        let path = vec!["a"; 200_000].join(".");
        set_path(&mut obj, &path, json!(1));
        // Dropping a value this deep would overflow serde_json's recursive
        // drop; take it apart level by level instead.
        let mut v = Value::Object(obj);
        let mut depth = 0;
        while let Value::Object(mut m) = v {
            v = m.remove("a").unwrap_or(Value::Null);
            depth += 1;
        }
        assert_eq!((depth, v), (200_000, json!(1)));
    }
}
