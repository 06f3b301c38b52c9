//! The data a figure holds: per trace, one ring-buffered column per streamed
//! attribute, and the layout; and the update events subscribers receive.

use std::collections::VecDeque;

use plotstream_protocol::{LineStyle, Marker, Scalar, Update, Write};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

/// The most points a trace may keep.
pub const MAX_MAXPOINTS: u64 = 1_000_000;

/// Integers up to this size print exactly from an `f64`.
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// At most `max` values, oldest dropped first; O(1) per push.
#[derive(Debug, Clone)]
struct Ring<T> {
    buf: VecDeque<T>,
    max: usize,
}

impl<T> Ring<T> {
    fn new(max: usize) -> Self {
        Ring {
            buf: VecDeque::new(),
            max,
        }
    }

    fn push(&mut self, v: T) {
        if self.buf.len() == self.max {
            self.buf.pop_front();
        } else if self.buf.len() == self.buf.capacity() {
            // Grow by doubling, but never past `max`: memory stays bounded by it.
            let want = (self.buf.capacity() * 2).max(16).min(self.max);
            self.buf.reserve_exact(want - self.buf.len());
        }
        self.buf.push_back(v);
    }

    /// Replaces the contents with the last `max` of `values`.
    fn replace(&mut self, values: impl ExactSizeIterator<Item = T>) {
        let skip = values.len().saturating_sub(self.max);
        self.buf.clear();
        self.buf.extend(values.skip(skip));
        self.buf.shrink_to(self.max);
    }

    fn len(&self) -> usize {
        self.buf.len()
    }
}

/// One streamed attribute's values: numbers packed as `f64` (8 bytes a
/// point) until something that is not a number arrives.
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

    /// Turns a packed column into a general one, keeping its values.
    fn generalise(&mut self) -> &mut Ring<Value> {
        if let Column::Num(r) = self {
            let mut any = Ring::new(r.max);
            any.buf.extend(r.buf.iter().map(|&v| number_value(v)));
            *self = Column::Any(any);
        }
        match self {
            Column::Any(r) => r,
            Column::Num(_) => unreachable!("just generalised"),
        }
    }

    fn append(&mut self, v: &Scalar) {
        match (&mut *self, v) {
            (Column::Num(r), Scalar::Number(n)) => r.push(n.as_f64().unwrap_or(f64::NAN)),
            (Column::Any(r), v) => r.push(v.to_value()),
            (Column::Num(_), v) => self.generalise().push(v.to_value()),
        }
    }

    fn append_value(&mut self, v: &Value) {
        match (&mut *self, v) {
            (Column::Num(r), Value::Number(n)) => r.push(n.as_f64().unwrap_or(f64::NAN)),
            (Column::Any(r), v) => r.push(v.clone()),
            (Column::Num(_), v) => self.generalise().push(v.clone()),
        }
    }

    fn overwrite(&mut self, values: &[Value]) {
        let max = match self {
            Column::Num(r) => r.max,
            Column::Any(r) => r.max,
        };
        if values.iter().all(Value::is_number) {
            let mut r = Ring::new(max);
            r.replace(values.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)));
            *self = Column::Num(r);
        } else {
            let mut r = Ring::new(max);
            r.replace(values.iter().cloned());
            *self = Column::Any(r);
        }
    }
}

/// The value as an integer, when it is one that an `f64` holds exactly:
/// such values print as integers (`3`, not `3.0`), as they were sent.
fn exact_int(v: f64) -> Option<i64> {
    #[allow(clippy::cast_possible_truncation)]
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

/// What one write does to one attribute.
enum Op<'a> {
    Append(&'a Scalar),
    AppendValue(&'a Value),
    Overwrite(&'a [Value]),
}

impl<'a> From<&'a Update> for Op<'a> {
    fn from(u: &'a Update) -> Self {
        match u {
            Update::Append(s) => Op::Append(s),
            Update::Overwrite(v) => Op::Overwrite(v),
        }
    }
}

/// Calls `f` with each attribute path a write touches and what it does there.
fn for_each_op(w: &Write, f: &mut dyn FnMut(&str, Op<'_>)) {
    for (path, update) in [
        ("x", &w.x),
        ("y", &w.y),
        ("z", &w.z),
        ("text", &w.text),
        ("customdata", &w.customdata),
    ] {
        if let Some(u) = update {
            f(path, u.into());
        }
    }
    if let Some(m) = &w.marker {
        marker_ops(m, f);
    }
    if let Some(l) = &w.line {
        style_ops("line", l, f);
    }
    extra_ops("", &w.extra, f);
}

fn marker_ops(m: &Marker, f: &mut dyn FnMut(&str, Op<'_>)) {
    if let Some(u) = &m.color {
        f("marker.color", u.into());
    }
    if let Some(u) = &m.size {
        f("marker.size", u.into());
    }
    if let Some(l) = &m.line {
        style_ops("marker.line", l, f);
    }
    extra_ops("marker.", &m.extra, f);
}

fn style_ops(prefix: &str, l: &LineStyle, f: &mut dyn FnMut(&str, Op<'_>)) {
    if let Some(u) = &l.color {
        f(&format!("{prefix}.color"), u.into());
    }
    if let Some(u) = &l.width {
        f(&format!("{prefix}.width"), u.into());
    }
    extra_ops(&format!("{prefix}."), &l.extra, f);
}

/// Keys kept as sent follow the same rule: arrays overwrite, objects are
/// walked into, anything else appends.
fn extra_ops(prefix: &str, extra: &Map<String, Value>, f: &mut dyn FnMut(&str, Op<'_>)) {
    for (k, v) in extra {
        let path = format!("{prefix}{k}");
        match v {
            Value::Array(a) => f(&path, Op::Overwrite(a)),
            Value::Object(m) => extra_ops(&format!("{path}."), m, f),
            v => f(&path, Op::AppendValue(v)),
        }
    }
}

/// One trace's streamed data.
#[derive(Debug, Clone)]
pub(crate) struct TraceData {
    maxpoints: usize,
    columns: Vec<(Box<str>, Column)>,
}

impl TraceData {
    pub(crate) fn new(maxpoints: u64) -> Self {
        TraceData {
            maxpoints: usize::try_from(maxpoints).unwrap_or(usize::MAX),
            columns: Vec::new(),
        }
    }

    fn column(&mut self, path: &str) -> &mut Column {
        let i = match self.columns.iter().position(|(p, _)| &**p == path) {
            Some(i) => i,
            None => {
                self.columns
                    .push((path.into(), Column::new(self.maxpoints)));
                self.columns.len() - 1
            }
        };
        &mut self.columns[i].1
    }

    /// Applies a write's trace attributes, noting them in `batch` if given.
    pub(crate) fn apply(&mut self, w: &Write, mut batch: Option<&mut TraceBatch>) {
        for_each_op(w, &mut |path, op| {
            let column = self.column(path);
            match op {
                Op::Append(s) => {
                    column.append(s);
                    if let Some(b) = batch.as_deref_mut() {
                        b.append(path, s.to_value());
                    }
                }
                Op::AppendValue(v) => {
                    column.append_value(v);
                    if let Some(b) = batch.as_deref_mut() {
                        b.append(path, v.clone());
                    }
                }
                Op::Overwrite(values) => {
                    column.overwrite(values);
                    if let Some(b) = batch.as_deref_mut() {
                        b.overwrite(path, values);
                    }
                }
            }
        });
    }

    /// Points held: the longest column's length.
    pub(crate) fn points(&self) -> usize {
        self.columns.iter().map(|(_, c)| c.len()).max().unwrap_or(0)
    }

    /// The data as a JSON object, nested by path (`marker.color` under `marker`).
    pub(crate) fn to_json(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for (path, column) in &self.columns {
            let value = serde_json::to_value(column).unwrap_or(Value::Null);
            set_path(&mut out, path, value);
        }
        out
    }
}

/// Sets `path` (dotted) in `obj` to `value`, making objects on the way.
pub(crate) fn set_path(obj: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            obj.insert(path.to_owned(), value);
        }
        Some((head, rest)) => {
            let entry = obj
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                set_path(inner, rest, value);
            }
        }
    }
}

/// Applies a layout update: dotted keys set nested attributes, plain keys
/// replace (as `Plotly.relayout` does).
pub(crate) fn relayout(layout: &mut Map<String, Value>, update: &Map<String, Value>) {
    for (k, v) in update {
        set_path(layout, k, v.clone());
    }
}

/// What one trace received in one batch, for subscribers. Overwrites are
/// applied before appends; an overwrite cancels earlier appends to its path.
#[derive(Debug, Default)]
pub(crate) struct TraceBatch {
    append: Vec<(Box<str>, Vec<Value>)>,
    overwrite: Vec<(Box<str>, Vec<Value>)>,
}

impl TraceBatch {
    fn append(&mut self, path: &str, v: Value) {
        match self.append.iter_mut().find(|(p, _)| &**p == path) {
            Some((_, values)) => values.push(v),
            None => self.append.push((path.into(), vec![v])),
        }
    }

    fn overwrite(&mut self, path: &str, values: &[Value]) {
        self.append.retain(|(p, _)| &**p != path);
        match self.overwrite.iter_mut().find(|(p, _)| &**p == path) {
            Some((_, old)) => *old = values.to_vec(),
            None => self.overwrite.push((path.into(), values.to_vec())),
        }
    }

    fn is_empty(&self) -> bool {
        self.append.is_empty() && self.overwrite.is_empty()
    }
}

/// What a figure received in one batch: the `update` event's data.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) traces: Vec<(usize, TraceBatch)>,
    pub(crate) layout: Option<Map<String, Value>>,
}

impl Batch {
    pub(crate) fn trace(&mut self, index: usize) -> &mut TraceBatch {
        let i = match self.traces.iter().position(|(t, _)| *t == index) {
            Some(i) => i,
            None => {
                self.traces.push((index, TraceBatch::default()));
                self.traces.len() - 1
            }
        };
        &mut self.traces[i].1
    }

    pub(crate) fn relayout(&mut self, update: &Map<String, Value>) {
        let layout = self.layout.get_or_insert_with(Map::new);
        for (k, v) in update {
            layout.insert(k.clone(), v.clone());
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.layout.is_none() && self.traces.iter().all(|(_, t)| t.is_empty())
    }
}

impl Serialize for Batch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Pairs<'a>(&'a [(Box<str>, Vec<Value>)]);
        impl Serialize for Pairs<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(&**k, v)?;
                }
                m.end()
            }
        }
        struct Traces<'a>(&'a [(usize, TraceBatch)]);
        impl Serialize for Traces<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(None)?;
                for (index, t) in self.0.iter().filter(|(_, t)| !t.is_empty()) {
                    seq.serialize_element(&serde_json::json!({
                        "index": index,
                        "append": Pairs(&t.append),
                        "overwrite": Pairs(&t.overwrite),
                    }))?;
                }
                seq.end()
            }
        }
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("traces", &Traces(&self.traces))?;
        if let Some(layout) = &self.layout {
            m.serialize_entry("layout", layout)?;
        }
        m.end()
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
            r.push(i);
            assert!(r.buf.capacity() <= 5, "capacity {}", r.buf.capacity());
        }
        assert_eq!(
            r.buf.iter().copied().collect::<Vec<_>>(),
            [95, 96, 97, 98, 99]
        );
        let mut big = Ring::new(1000);
        for i in 0..1000 {
            big.push(i);
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
    fn a_batch_records_appends_and_overwrites_in_order() {
        let mut t = TraceData::new(10);
        let mut b = Batch::default();
        t.apply(&Write::xy(1, 1), Some(b.trace(0)));
        t.apply(&Write::xy(2, 2), Some(b.trace(0)));
        t.apply(&write(json!({"x": [7, 8]})), Some(b.trace(0)));
        t.apply(&write(json!({"x": 9})), Some(b.trace(0)));
        b.relayout(
            &json!({"title": {"text": "t"}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert_eq!(
            serde_json::to_value(&b).expect("serialises"),
            json!({"traces": [{"index": 0, "append": {"y": [1, 2], "x": [9]}, "overwrite": {"x": [7, 8]}}],
                   "layout": {"title": {"text": "t"}}})
        );
        assert_eq!(
            Value::Object(t.to_json()),
            json!({"x": [7, 8, 9], "y": [1, 2]})
        );
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
}
