//! The walk over what a [`Write`] changes: one [`Attribute`] per dotted
//! path, with what happens there ([`Change`]).
//!
//! This is the one place that lists a write's attributes (`x`, `y`, `z`,
//! `text`, `customdata`, `marker.*`, `line.*` and the keys kept as sent), and
//! the one place that bounds how deep a path may go: input decides the depth,
//! so nothing that walks it may recurse without a limit.

use std::fmt;

use serde_json::{Map, Value};

use crate::{Marker, Scalar, Update, Write};

/// The most segments an attribute path may have, counting the dots inside
/// keys: `marker.line.color` has 3, Plotly's deepest paths a handful
/// (`marker.colorbar.tickfont.size`). Deeper paths are refused.
pub const MAX_PATH_DEPTH: usize = 10;

/// An attribute the protocol names, with a fixed place in every trace.
///
/// The walk reports these with `field: Some(..)`, so a consumer can keep
/// them in a fixed slot and look up only the other paths by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// `x`.
    X,
    /// `y`.
    Y,
    /// `z`.
    Z,
    /// `text`.
    Text,
    /// `customdata`.
    Customdata,
    /// `marker.color`.
    MarkerColor,
    /// `marker.size`.
    MarkerSize,
    /// `marker.line.color`.
    MarkerLineColor,
    /// `marker.line.width`.
    MarkerLineWidth,
    /// `line.color`.
    LineColor,
    /// `line.width`.
    LineWidth,
}

impl Field {
    /// Every field, in the order the walk reports them.
    pub const ALL: [Field; 11] = [
        Field::X,
        Field::Y,
        Field::Z,
        Field::Text,
        Field::Customdata,
        Field::MarkerColor,
        Field::MarkerSize,
        Field::MarkerLineColor,
        Field::MarkerLineWidth,
        Field::LineColor,
        Field::LineWidth,
    ];

    /// The field's dotted path.
    pub fn path(self) -> &'static str {
        match self {
            Field::X => "x",
            Field::Y => "y",
            Field::Z => "z",
            Field::Text => "text",
            Field::Customdata => "customdata",
            Field::MarkerColor => "marker.color",
            Field::MarkerSize => "marker.size",
            Field::MarkerLineColor => "marker.line.color",
            Field::MarkerLineWidth => "marker.line.width",
            Field::LineColor => "line.color",
            Field::LineWidth => "line.width",
        }
    }

    /// The field's position in [`Field::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Which [`Field`]s a write carries, and whether it carries other
/// attributes too ([`Write::fields`]): enough to tell, without walking
/// paths, that a write names nothing new.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    bits: u16,
    others: bool,
}

impl Fields {
    /// The fields as bits, bit [`Field::index`] for each.
    pub fn bits(self) -> u16 {
        self.bits
    }

    /// Whether the write carries attributes other than the [`Field`]s.
    pub fn has_others(self) -> bool {
        self.others
    }

    /// Whether `field` is among them.
    pub fn contains(self, field: Field) -> bool {
        self.bits & (1 << field.index()) != 0
    }
}

/// What a write does to one attribute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Change<'a> {
    /// A scalar of a known field: append it.
    Append(&'a Scalar),
    /// A value kept as sent that is neither array nor object: append it.
    AppendValue(&'a Value),
    /// An array: it replaces the attribute's values.
    Overwrite(&'a [Value]),
}

impl<'a> From<&'a Update> for Change<'a> {
    fn from(u: &'a Update) -> Self {
        match u {
            Update::Append(s) => Change::Append(s),
            Update::Overwrite(v) => Change::Overwrite(v),
        }
    }
}

/// One attribute a write touches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Attribute<'a> {
    /// The field, when it is one of the protocol's own.
    pub field: Option<Field>,
    /// The dotted path (`"y"`, `"marker.color"`, `"error_y.array"`).
    pub path: &'a str,
    /// What happens there.
    pub change: Change<'a>,
}

/// A path deeper than [`MAX_PATH_DEPTH`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathTooDeep {
    /// The path's beginning (at most 64 bytes of it, then `…`).
    pub path: String,
    /// Where it was: `"layout"` for a layout update, else `"trace"`.
    pub place: &'static str,
}

impl fmt::Display for PathTooDeep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} attribute \"{}\" is more than {MAX_PATH_DEPTH} levels deep (the limit)",
            self.place, self.path
        )
    }
}

impl std::error::Error for PathTooDeep {}

/// How many segments a dotted path has.
fn depth(path: &str) -> usize {
    path.bytes().filter(|&b| b == b'.').count() + 1
}

/// The start of `path` for a message: 64 bytes at most, cut on a char boundary.
fn shorten(path: &str) -> String {
    const SHOWN: usize = 64;
    if path.len() <= SHOWN {
        return path.to_owned();
    }
    let mut end = SHOWN;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &path[..end])
}

fn too_deep(path: &str, place: &'static str) -> PathTooDeep {
    PathTooDeep {
        path: shorten(path),
        place,
    }
}

impl Write {
    /// Calls `f` with each attribute the write changes, in a fixed order:
    /// the [`Field`]s, then the keys kept as sent (objects walked into,
    /// their paths joined with dots). The layout update is not an attribute
    /// of the traces: see [`Write::layout`].
    ///
    /// A path deeper than [`MAX_PATH_DEPTH`] stops the walk with
    /// [`PathTooDeep`]; so does an error from `f`.
    ///
    /// ```
    /// use plotstream_protocol::{Change, Write};
    ///
    /// let w: Write = serde_json::from_str(r#"{"x": 1, "marker": {"color": ["red"]}, "error_y": {"array": [2]}}"#)?;
    /// let mut paths = Vec::new();
    /// w.for_each_attribute(|a| {
    ///     paths.push((a.path.to_owned(), matches!(a.change, Change::Overwrite(_))));
    ///     Ok::<_, plotstream_protocol::PathTooDeep>(())
    /// })?;
    /// assert_eq!(paths, [("x".into(), false), ("marker.color".into(), true), ("error_y.array".into(), true)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_each_attribute<E, F>(&self, mut f: F) -> Result<(), E>
    where
        E: From<PathTooDeep>,
        F: FnMut(Attribute<'_>) -> Result<(), E>,
    {
        let mut field = |field: Field, update: &Option<Update>| match update {
            Some(u) => f(Attribute {
                field: Some(field),
                path: field.path(),
                change: u.into(),
            }),
            None => Ok(()),
        };
        field(Field::X, &self.x)?;
        field(Field::Y, &self.y)?;
        field(Field::Z, &self.z)?;
        field(Field::Text, &self.text)?;
        field(Field::Customdata, &self.customdata)?;
        let marker = self.marker.as_deref();
        let marker_line = marker.and_then(|m| m.line.as_deref());
        let line = self.line.as_deref();
        field(Field::MarkerColor, marker.map_or(&None, |m| &m.color))?;
        field(Field::MarkerSize, marker.map_or(&None, |m| &m.size))?;
        field(
            Field::MarkerLineColor,
            marker_line.map_or(&None, |l| &l.color),
        )?;
        field(
            Field::MarkerLineWidth,
            marker_line.map_or(&None, |l| &l.width),
        )?;
        field(Field::LineColor, line.map_or(&None, |l| &l.color))?;
        field(Field::LineWidth, line.map_or(&None, |l| &l.width))?;
        // The keys kept as sent are rare; only they need a path built.
        if !self.fields().has_others() {
            return Ok(());
        }
        let mut path = String::new();
        walk_extra(&mut path, &self.extra, &mut f)?;
        if let Some(m) = marker {
            path.push_str("marker.");
            walk_extra(&mut path, &m.extra, &mut f)?;
            if let Some(l) = &m.line {
                path.push_str("line.");
                walk_extra(&mut path, &l.extra, &mut f)?;
            }
            path.clear();
        }
        if let Some(l) = line {
            path.push_str("line.");
            walk_extra(&mut path, &l.extra, &mut f)?;
        }
        Ok(())
    }

    /// Which [`Field`]s the write carries, and whether it has other
    /// attributes: a few comparisons, no walk.
    ///
    /// ```
    /// use plotstream_protocol::{Field, Write};
    ///
    /// let f = Write::xy(1, 2).fields();
    /// assert!(f.contains(Field::X) && f.contains(Field::Y) && !f.contains(Field::Z));
    /// assert!(!f.has_others());
    /// ```
    pub fn fields(&self) -> Fields {
        let mut bits = 0u16;
        let mut set = |field: Field, present: bool| {
            if present {
                bits |= 1 << field.index();
            }
        };
        set(Field::X, self.x.is_some());
        set(Field::Y, self.y.is_some());
        set(Field::Z, self.z.is_some());
        set(Field::Text, self.text.is_some());
        set(Field::Customdata, self.customdata.is_some());
        let marker = self.marker.as_deref();
        let marker_line = marker.and_then(|m| m.line.as_deref());
        let line = self.line.as_deref();
        set(
            Field::MarkerColor,
            marker.is_some_and(|m| m.color.is_some()),
        );
        set(Field::MarkerSize, marker.is_some_and(|m| m.size.is_some()));
        set(
            Field::MarkerLineColor,
            marker_line.is_some_and(|l| l.color.is_some()),
        );
        set(
            Field::MarkerLineWidth,
            marker_line.is_some_and(|l| l.width.is_some()),
        );
        set(Field::LineColor, line.is_some_and(|l| l.color.is_some()));
        set(Field::LineWidth, line.is_some_and(|l| l.width.is_some()));
        let others = !self.extra.is_empty()
            || marker.is_some_and(|m| !m.has_no_extra())
            || line.is_some_and(|l| !l.extra.is_empty());
        Fields { bits, others }
    }

    /// Checks what input decides and nothing else bounds: every attribute
    /// path, and every key of the layout update, is at most
    /// [`MAX_PATH_DEPTH`] segments deep. [`Line::parse_write`](crate::Line::parse_write)
    /// checks it for every line it parses.
    pub fn validate(&self) -> Result<(), PathTooDeep> {
        self.for_each_attribute(|_| Ok::<_, PathTooDeep>(()))?;
        if let Some(layout) = &self.layout {
            for key in layout.keys() {
                if depth(key) > MAX_PATH_DEPTH {
                    return Err(too_deep(key, "layout"));
                }
            }
        }
        Ok(())
    }
}

impl Marker {
    fn has_no_extra(&self) -> bool {
        self.extra.is_empty() && self.line.as_deref().is_none_or(|l| l.extra.is_empty())
    }
}

/// Walks the keys kept as sent under `path` (which ends in `.` or is empty):
/// arrays overwrite, objects are walked into, anything else appends. Each
/// level adds at least one segment and the depth is checked before going
/// deeper, so the recursion is bounded by [`MAX_PATH_DEPTH`]. `path` is
/// left as it was found.
fn walk_extra<E, F>(path: &mut String, extra: &Map<String, Value>, f: &mut F) -> Result<(), E>
where
    E: From<PathTooDeep>,
    F: FnMut(Attribute<'_>) -> Result<(), E>,
{
    let base = path.len();
    for (key, value) in extra {
        path.truncate(base);
        path.push_str(key);
        if depth(path) > MAX_PATH_DEPTH {
            return Err(too_deep(path, "trace").into());
        }
        let change = match value {
            Value::Array(a) => Change::Overwrite(a),
            Value::Object(m) => {
                path.push('.');
                walk_extra(path, m, f)?;
                continue;
            }
            v => Change::AppendValue(v),
        };
        f(Attribute {
            field: None,
            path,
            change,
        })?;
    }
    path.truncate(base);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(v: Value) -> Write {
        serde_json::from_value(v).expect("a write")
    }

    fn paths(w: &Write) -> Result<Vec<(Option<Field>, String)>, PathTooDeep> {
        let mut out = Vec::new();
        w.for_each_attribute(|a| {
            out.push((a.field, a.path.to_owned()));
            Ok::<_, PathTooDeep>(())
        })?;
        Ok(out)
    }

    #[test]
    fn the_walk_names_fields_then_kept_keys_by_path() {
        let w = write(json!({
            "y": 1, "x": 2, "opacity": [0.5],
            "marker": {"size": 3, "symbol": "x", "line": {"width": 1, "dash": "dot"}},
            "line": {"color": "red", "shape": {"a": {"b": 1}}},
        }));
        let got = paths(&w).expect("shallow");
        let want: Vec<(Option<Field>, String)> = vec![
            (Some(Field::X), "x".into()),
            (Some(Field::Y), "y".into()),
            (Some(Field::MarkerSize), "marker.size".into()),
            (Some(Field::MarkerLineWidth), "marker.line.width".into()),
            (Some(Field::LineColor), "line.color".into()),
            (None, "opacity".into()),
            (None, "marker.symbol".into()),
            (None, "marker.line.dash".into()),
            (None, "line.shape.a.b".into()),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn every_field_has_its_own_path_and_index() {
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
        }
        let w = write(json!({"x": 1, "y": 1, "z": 1, "text": 1, "customdata": 1,
            "marker": {"color": 1, "size": 1, "line": {"color": 1, "width": 1}},
            "line": {"color": 1, "width": 1}}));
        let got: Vec<_> = paths(&w).expect("shallow").into_iter().collect();
        let want: Vec<_> = Field::ALL
            .iter()
            .map(|f| (Some(*f), f.path().to_owned()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn dotted_keys_count_toward_the_depth() {
        let ok = format!("a{}", ".a".repeat(MAX_PATH_DEPTH - 1));
        assert!(write(json!({ &ok: 1 })).validate().is_ok());
        let deep = format!("a{}", ".a".repeat(MAX_PATH_DEPTH));
        let err = write(json!({ &deep: 1 })).validate().expect_err("too deep");
        assert_eq!(err.place, "trace");
        let huge = format!("a{}", ".a".repeat(10_000));
        let err = write(json!({ "x": 1, &huge: 1 }))
            .validate()
            .expect_err("too deep");
        assert!(err.path.len() <= 64 + '…'.len_utf8(), "{}", err.path);
        assert!(err.to_string().contains("more than 10 levels"), "{err}");
    }

    #[test]
    fn nesting_counts_toward_the_depth_too() {
        let mut v = json!(1);
        for _ in 0..MAX_PATH_DEPTH {
            v = json!({ "k": v });
        }
        let err = write(json!({ "marker": { "deep": v } }))
            .validate()
            .expect_err("too deep");
        assert!(err.path.starts_with("marker.deep.k.k"), "{}", err.path);
    }

    #[test]
    fn layout_keys_are_checked() {
        let deep = format!("a{}", ".a".repeat(MAX_PATH_DEPTH));
        let err = write(json!({ "layout": { &deep: 1 } }))
            .validate()
            .expect_err("too deep");
        assert_eq!(err.place, "layout");
        assert!(
            write(json!({"layout": {"xaxis.range": [0, 1]}}))
                .validate()
                .is_ok()
        );
    }
}
