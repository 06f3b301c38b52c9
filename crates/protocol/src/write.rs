//! [`Write`]: one streamed trace update, as the Python client sends it.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

/// What a write does to one attribute of the traces its token feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A scalar was sent: the value is appended as one more point.
    Append,
    /// An array was sent: it replaces the attribute's values.
    Overwrite,
}

/// A JSON value that is neither an array nor an object: what an append carries.
///
/// JSON has no NaN or infinity; [`Scalar::from`] turns a non-finite float into
/// [`Scalar::Null`], which Plotly draws as a gap.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// `null`: a gap in the trace.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A JSON number.
    Number(Number),
    /// A string: a category, a date such as `2026-11-23 16:34:15.000000`, a label.
    String(String),
}

impl Scalar {
    /// The scalar as a `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Number(n) => Value::Number(n.clone()),
            Scalar::String(s) => Value::String(s.clone()),
        }
    }

    /// The scalar as a float, when it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Scalar::Number(n) => n.as_f64(),
            _ => None,
        }
    }
}

impl From<f64> for Scalar {
    fn from(v: f64) -> Self {
        Number::from_f64(v).map_or(Scalar::Null, Scalar::Number)
    }
}

impl From<f32> for Scalar {
    fn from(v: f32) -> Self {
        Scalar::from(f64::from(v))
    }
}

macro_rules! scalar_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Scalar {
            fn from(v: $t) -> Self {
                Scalar::Number(Number::from(v))
            }
        }
    )*};
}
scalar_from_int!(i8, i16, i32, i64, u8, u16, u32, u64, usize, isize);

impl From<bool> for Scalar {
    fn from(v: bool) -> Self {
        Scalar::Bool(v)
    }
}

impl From<&str> for Scalar {
    fn from(v: &str) -> Self {
        Scalar::String(v.to_owned())
    }
}

impl From<String> for Scalar {
    fn from(v: String) -> Self {
        Scalar::String(v)
    }
}

impl Serialize for Scalar {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Scalar::Null => s.serialize_unit(),
            Scalar::Bool(b) => s.serialize_bool(*b),
            Scalar::Number(n) => n.serialize(s),
            Scalar::String(v) => s.serialize_str(v),
        }
    }
}

/// The value one attribute of a write carries: a scalar to append, or an
/// array that overwrites.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// `{"y": 2}`: append one point.
    Append(Scalar),
    /// `{"y": [0, 2]}`: replace the attribute's values. Elements may be any
    /// JSON value (rows of a heatmap's `z`, per-point `customdata` arrays).
    Overwrite(Vec<Value>),
}

impl Update {
    /// An append of one scalar.
    pub fn append(v: impl Into<Scalar>) -> Self {
        Update::Append(v.into())
    }

    /// An overwrite with the given values.
    pub fn overwrite<I, T>(values: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<Value>,
    {
        Update::Overwrite(values.into_iter().map(Into::into).collect())
    }

    /// Whether this update appends or overwrites.
    pub fn mode(&self) -> Mode {
        match self {
            Update::Append(_) => Mode::Append,
            Update::Overwrite(_) => Mode::Overwrite,
        }
    }
}

impl Serialize for Update {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Update::Append(v) => v.serialize(s),
            Update::Overwrite(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Update {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct UpdateVisitor;

        impl<'de> Visitor<'de> for UpdateVisitor {
            type Value = Update;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar (to append) or an array (to overwrite)")
            }

            fn visit_unit<E: de::Error>(self) -> Result<Update, E> {
                Ok(Update::Append(Scalar::Null))
            }

            fn visit_none<E: de::Error>(self) -> Result<Update, E> {
                Ok(Update::Append(Scalar::Null))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Update, E> {
                Ok(Update::Append(Scalar::Bool(v)))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Update, E> {
                Ok(Update::Append(Scalar::Number(v.into())))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Update, E> {
                Ok(Update::Append(Scalar::Number(v.into())))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Update, E> {
                Ok(Update::Append(Scalar::from(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Update, E> {
                Ok(Update::Append(Scalar::String(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Update, E> {
                Ok(Update::Append(Scalar::String(v)))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Update, A::Error> {
                let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(v) = seq.next_element()? {
                    values.push(v);
                }
                Ok(Update::Overwrite(values))
            }
        }

        d.deserialize_any(UpdateVisitor)
    }
}

/// The `line` attribute of a write (and `marker.line`): its `color` and
/// `width` follow the append/overwrite rule; other keys are kept in `extra`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineStyle {
    /// `line.color`.
    pub color: Option<Update>,
    /// `line.width`.
    pub width: Option<Update>,
    /// Any other key, kept as sent.
    pub extra: Map<String, Value>,
}

/// The `marker` attribute of a write.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Marker {
    /// `marker.color`.
    pub color: Option<Update>,
    /// `marker.size`.
    pub size: Option<Update>,
    /// `marker.line`.
    pub line: Option<Box<LineStyle>>,
    /// Any other key, kept as sent.
    pub extra: Map<String, Value>,
}

/// One streamed trace update: a line of the Plotly streaming protocol.
///
/// Scalars append (`{"x": 1, "y": 2}`), arrays overwrite
/// (`{"x": [0, 1], "y": [0, 2]}`); `marker` and `line` follow the same rule
/// key by key, and `layout` carries a layout update in the same line. Keys
/// plotstream does not know are kept in [`Write::extra`] and sent on as they
/// came. [`Write::mode`] tells, key by key, what a write does.
///
/// Serialised, the known keys come first in a fixed order (`x`, `y`, `z`,
/// `text`, `customdata`, `marker`, `line`), then `extra`, then `layout`.
///
/// ```
/// use plotstream_protocol::{Mode, Write};
///
/// let w: Write = serde_json::from_str(r#"{"x": 1, "y": [2, 3], "marker": {"color": "red"}}"#)?;
/// assert_eq!(w.mode("x"), Some(Mode::Append));
/// assert_eq!(w.mode("y"), Some(Mode::Overwrite));
/// assert_eq!(w.mode("marker.color"), Some(Mode::Append));
/// assert_eq!(w.mode("z"), None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Write {
    /// `x`.
    pub x: Option<Update>,
    /// `y`.
    pub y: Option<Update>,
    /// `z`.
    pub z: Option<Update>,
    /// `text`: hover text or labels.
    pub text: Option<Update>,
    /// `customdata`.
    pub customdata: Option<Update>,
    /// `marker` (boxed: most writes have none, and a small write is cheap to move).
    pub marker: Option<Box<Marker>>,
    /// `line` (boxed, as `marker`).
    pub line: Option<Box<LineStyle>>,
    /// `layout`: a layout update (a relayout), applied with this write.
    pub layout: Option<Box<Map<String, Value>>>,
    /// Any other key, kept as sent. Do not put the keys above here.
    pub extra: Map<String, Value>,
}

impl Write {
    /// A write that appends the point `(x, y)`.
    ///
    /// ```
    /// let w = plotstream_protocol::Write::xy(1, 0.5);
    /// assert_eq!(serde_json::to_string(&w).unwrap(), r#"{"x":1,"y":0.5}"#);
    /// ```
    pub fn xy(x: impl Into<Scalar>, y: impl Into<Scalar>) -> Self {
        Write {
            x: Some(Update::append(x)),
            y: Some(Update::append(y)),
            ..Write::default()
        }
    }

    /// A write that appends a gap, `(null, null)`: Plotly breaks a trace's
    /// line there (`connectgaps` is off unless a trace turns it on), so the
    /// points after it start a new segment.
    ///
    /// ```
    /// let w = plotstream_protocol::Write::gap();
    /// assert_eq!(serde_json::to_string(&w).unwrap(), r#"{"x":null,"y":null}"#);
    /// ```
    pub fn gap() -> Self {
        Write::xy(Scalar::Null, Scalar::Null)
    }

    /// Parses one line of the protocol (without its newline).
    pub fn from_slice(line: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(line)
    }

    /// Whether the write appends to or overwrites the attribute at `path`
    /// (`"x"`, `"marker.color"`, `"marker.line.width"`, or a key kept in
    /// `extra`); `None` when the write does not carry it, or when it names an
    /// object rather than a value (`"marker"`, `"layout"`).
    pub fn mode(&self, path: &str) -> Option<Mode> {
        let (head, rest) = match path.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (path, None),
        };
        match (head, rest) {
            ("x", None) => self.x.as_ref().map(Update::mode),
            ("y", None) => self.y.as_ref().map(Update::mode),
            ("z", None) => self.z.as_ref().map(Update::mode),
            ("text", None) => self.text.as_ref().map(Update::mode),
            ("customdata", None) => self.customdata.as_ref().map(Update::mode),
            ("marker", Some(rest)) => self.marker.as_ref()?.mode(rest),
            ("line", Some(rest)) => self.line.as_ref()?.mode(rest),
            ("layout" | "marker" | "line", _) => None,
            _ => value_mode(self.extra.get(head)?, rest),
        }
    }

    /// Appends the write as one protocol line, `json + "\n"`, to `buf`.
    ///
    /// The bytes are those of [`encode_line`](crate::encode_line)`(self, buf)`,
    /// written more directly: each known key goes in as one constant slice
    /// and only values pass through serde_json, which makes the common
    /// `{"x":…,"y":…}` write about twice as fast. On error `buf` is left as it was.
    ///
    /// ```
    /// let mut buf = Vec::new();
    /// plotstream_protocol::Write::xy(3, 0.25).encode_line(&mut buf)?;
    /// assert_eq!(buf, b"{\"x\":3,\"y\":0.25}\n");
    /// # Ok::<(), plotstream_protocol::Error>(())
    /// ```
    pub fn encode_line(&self, buf: &mut Vec<u8>) -> Result<(), crate::Error> {
        let start = buf.len();
        match self.write_json(buf) {
            Ok(()) => {
                buf.push(b'\n');
                Ok(())
            }
            Err(source) => {
                buf.truncate(start);
                Err(crate::Error::Encode { source })
            }
        }
    }

    /// Appends the write's JSON, without a newline, to `buf`.
    pub(crate) fn write_json(&self, buf: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        // `{` before the first key, `,` before the others. The keys are
        // literals, so each is copied as a constant-length slice (no call).
        let mut sep = b'{';
        macro_rules! key {
            ($key:literal) => {{
                buf.push(sep);
                sep = b',';
                buf.extend_from_slice($key);
            }};
        }
        macro_rules! update {
            ($key:literal, $field:expr) => {
                if let Some(update) = &$field {
                    key!($key);
                    match update {
                        Update::Append(Scalar::Number(n)) => serde_json::to_writer(&mut *buf, n)?,
                        other => serde_json::to_writer(&mut *buf, other)?,
                    }
                }
            };
        }
        update!(b"\"x\":", self.x);
        update!(b"\"y\":", self.y);
        update!(b"\"z\":", self.z);
        update!(b"\"text\":", self.text);
        update!(b"\"customdata\":", self.customdata);
        if let Some(marker) = &self.marker {
            key!(b"\"marker\":");
            serde_json::to_writer(&mut *buf, marker)?;
        }
        if let Some(line) = &self.line {
            key!(b"\"line\":");
            serde_json::to_writer(&mut *buf, line)?;
        }
        for (k, v) in &self.extra {
            key!(b"");
            serde_json::to_writer(&mut *buf, k)?;
            buf.push(b':');
            serde_json::to_writer(&mut *buf, v)?;
        }
        if let Some(layout) = &self.layout {
            key!(b"\"layout\":");
            serde_json::to_writer(&mut *buf, layout)?;
        }
        if sep == b'{' {
            buf.push(b'{');
        }
        buf.push(b'}');
        Ok(())
    }

    /// Whether the write carries no trace data and no layout: a no-op.
    pub fn is_empty(&self) -> bool {
        *self == Write::default()
    }
}

impl Marker {
    fn mode(&self, path: &str) -> Option<Mode> {
        match path.split_once('.') {
            None if path == "color" => self.color.as_ref().map(Update::mode),
            None if path == "size" => self.size.as_ref().map(Update::mode),
            Some(("line", rest)) => self.line.as_ref()?.mode(rest),
            None if path == "line" => None,
            Some((head, rest)) => value_mode(self.extra.get(head)?, Some(rest)),
            None => value_mode(self.extra.get(path)?, None),
        }
    }
}

impl LineStyle {
    fn mode(&self, path: &str) -> Option<Mode> {
        match path {
            "color" => self.color.as_ref().map(Update::mode),
            "width" => self.width.as_ref().map(Update::mode),
            _ => match path.split_once('.') {
                Some((head, rest)) => value_mode(self.extra.get(head)?, Some(rest)),
                None => value_mode(self.extra.get(path)?, None),
            },
        }
    }
}

/// The mode of a value kept as sent: arrays overwrite, objects are walked
/// into, anything else appends.
fn value_mode(v: &Value, rest: Option<&str>) -> Option<Mode> {
    match (v, rest) {
        (Value::Object(m), Some(rest)) => {
            let (head, rest) = match rest.split_once('.') {
                Some((h, r)) => (h, Some(r)),
                None => (rest, None),
            };
            value_mode(m.get(head)?, rest)
        }
        (Value::Object(_), None) | (_, Some(_)) => None,
        (Value::Array(_), None) => Some(Mode::Overwrite),
        (_, None) => Some(Mode::Append),
    }
}

// ---- serialisation --------------------------------------------------------

fn entry<M: SerializeMap, T: Serialize>(
    m: &mut M,
    key: &str,
    v: Option<&T>,
) -> Result<(), M::Error> {
    match v {
        Some(v) => m.serialize_entry(key, v),
        None => Ok(()),
    }
}

impl Serialize for Write {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        entry(&mut m, "x", self.x.as_ref())?;
        entry(&mut m, "y", self.y.as_ref())?;
        entry(&mut m, "z", self.z.as_ref())?;
        entry(&mut m, "text", self.text.as_ref())?;
        entry(&mut m, "customdata", self.customdata.as_ref())?;
        entry(&mut m, "marker", self.marker.as_ref())?;
        entry(&mut m, "line", self.line.as_ref())?;
        for (k, v) in &self.extra {
            m.serialize_entry(k, v)?;
        }
        entry(&mut m, "layout", self.layout.as_ref())?;
        m.end()
    }
}

impl Serialize for Marker {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        entry(&mut m, "color", self.color.as_ref())?;
        entry(&mut m, "size", self.size.as_ref())?;
        entry(&mut m, "line", self.line.as_ref())?;
        for (k, v) in &self.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Serialize for LineStyle {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        entry(&mut m, "color", self.color.as_ref())?;
        entry(&mut m, "width", self.width.as_ref())?;
        for (k, v) in &self.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

// ---- deserialisation ------------------------------------------------------

/// A key of a write, matched without allocating for the known ones.
enum Key {
    X,
    Y,
    Z,
    Text,
    Customdata,
    Marker,
    Line,
    Layout,
    Color,
    Size,
    Width,
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl Visitor<'_> for KeyVisitor {
            type Value = Key;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "x" => Key::X,
                    "y" => Key::Y,
                    "z" => Key::Z,
                    "text" => Key::Text,
                    "customdata" => Key::Customdata,
                    "marker" => Key::Marker,
                    "line" => Key::Line,
                    "layout" => Key::Layout,
                    "color" => Key::Color,
                    "size" => Key::Size,
                    "width" => Key::Width,
                    other => Key::Other(other.to_owned()),
                })
            }
        }

        d.deserialize_identifier(KeyVisitor)
    }
}

impl Key {
    /// The key's text, for keys kept in an `extra` map.
    fn into_string(self) -> String {
        match self {
            Key::X => "x".into(),
            Key::Y => "y".into(),
            Key::Z => "z".into(),
            Key::Text => "text".into(),
            Key::Customdata => "customdata".into(),
            Key::Marker => "marker".into(),
            Key::Line => "line".into(),
            Key::Layout => "layout".into(),
            Key::Color => "color".into(),
            Key::Size => "size".into(),
            Key::Width => "width".into(),
            Key::Other(s) => s,
        }
    }
}

/// Implements `Deserialize` for a struct read from a JSON object, with one
/// arm per known key and everything else kept in `extra`.
macro_rules! deserialize_object {
    ($ty:ident, $expecting:literal, { $($key:ident => $field:ident),* $(,)? }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;

                impl<'de> Visitor<'de> for V {
                    type Value = $ty;

                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        let mut out = $ty::default();
                        while let Some(key) = map.next_key::<Key>()? {
                            match key {
                                $(Key::$key => out.$field = Some(map.next_value()?),)*
                                other => {
                                    let v: Value = map.next_value()?;
                                    out.extra.insert(other.into_string(), v);
                                }
                            }
                        }
                        Ok(out)
                    }
                }

                d.deserialize_map(V)
            }
        }
    };
}

deserialize_object!(Write, "a Plotly stream write (a JSON object)", {
    X => x, Y => y, Z => z, Text => text, Customdata => customdata,
    Marker => marker, Line => line, Layout => layout,
});
deserialize_object!(Marker, "a marker object", {
    Color => color, Size => size, Line => line,
});
deserialize_object!(LineStyle, "a line object", {
    Color => color, Width => width,
});

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> Write {
        serde_json::from_str(s).expect("valid write")
    }

    #[test]
    fn scalars_append_and_arrays_overwrite() {
        let w = parse(r#"{"x": 1, "y": [0, 2], "text": "a", "customdata": null}"#);
        assert_eq!(w.x, Some(Update::append(1)));
        assert_eq!(w.y, Some(Update::overwrite([0, 2])));
        assert_eq!(w.mode("x"), Some(Mode::Append));
        assert_eq!(w.mode("y"), Some(Mode::Overwrite));
        assert_eq!(w.mode("text"), Some(Mode::Append));
        assert_eq!(w.mode("customdata"), Some(Mode::Append));
        assert_eq!(w.mode("z"), None);
    }

    #[test]
    fn nested_marker_and_line_follow_the_rule() {
        let w = parse(
            r#"{"marker": {"color": ["red", "blue"], "size": 12, "line": {"width": 2, "color": [1]},
                "opacity": [0.5], "symbol": "circle", "colorbar": {"x": [1]}},
                "line": {"color": "red", "dash": "dot", "width": [1, 2]}}"#,
        );
        assert_eq!(w.mode("marker.color"), Some(Mode::Overwrite));
        assert_eq!(w.mode("marker.size"), Some(Mode::Append));
        assert_eq!(w.mode("marker.line.width"), Some(Mode::Append));
        assert_eq!(w.mode("marker.line.color"), Some(Mode::Overwrite));
        assert_eq!(w.mode("marker.opacity"), Some(Mode::Overwrite));
        assert_eq!(w.mode("marker.symbol"), Some(Mode::Append));
        assert_eq!(w.mode("marker.colorbar.x"), Some(Mode::Overwrite));
        assert_eq!(w.mode("marker.colorbar"), None);
        assert_eq!(w.mode("marker"), None);
        assert_eq!(w.mode("marker.line"), None);
        assert_eq!(w.mode("line.color"), Some(Mode::Append));
        assert_eq!(w.mode("line.width"), Some(Mode::Overwrite));
        assert_eq!(w.mode("line.dash"), Some(Mode::Append));
        assert_eq!(w.mode("line.nothing"), None);
    }

    #[test]
    fn unknown_keys_are_kept_and_sent_on() {
        let src = json!({"x": 1, "name": "n", "opacity": [0.1], "hovertemplate": {"a": 1}});
        let w: Write = serde_json::from_value(src.clone()).expect("valid");
        assert_eq!(w.extra.len(), 3);
        assert_eq!(w.mode("opacity"), Some(Mode::Overwrite));
        assert_eq!(w.mode("name"), Some(Mode::Append));
        assert_eq!(serde_json::to_value(&w).expect("serialises"), src);
    }

    #[test]
    fn layout_rides_along() {
        let w = parse(r#"{"x": [1], "layout": {"title": {"text": "Year: 1952"}}}"#);
        let layout = w.layout.as_ref().expect("layout");
        assert_eq!(layout["title"]["text"], "Year: 1952");
        assert_eq!(w.mode("layout"), None);
        assert_eq!(
            serde_json::to_string(&w).expect("serialises"),
            r#"{"x":[1],"layout":{"title":{"text":"Year: 1952"}}}"#
        );
    }

    #[test]
    fn round_trips_byte_for_byte_in_canonical_order() {
        let src = r#"{"x":"2026-11-23 16:34:15.000000","y":-0.25,"z":[[1,2],[3,4]],"text":"a","customdata":[7],"marker":{"color":"red","size":[1,2],"line":{"color":"black","width":1}},"line":{"color":"blue","width":2,"dash":"dot"},"name":"n","layout":{"xaxis":{"range":[0,1]}}}"#;
        let w = parse(src);
        assert_eq!(serde_json::to_string(&w).expect("serialises"), src);
    }

    #[test]
    fn rejects_what_is_not_a_write() {
        for bad in [
            "5",
            "[1,2]",
            r#""x""#,
            r#"{"x": {"a": 1}}"#,
            r#"{"marker": 3}"#,
        ] {
            assert!(
                serde_json::from_str::<Write>(bad).is_err(),
                "{bad} should be rejected"
            );
        }
        let err = serde_json::from_str::<Write>("5").expect_err("not an object");
        assert!(err.to_string().contains("a Plotly stream write"), "{err}");
        let err = serde_json::from_str::<Write>(r#"{"x": {"a": 1}}"#).expect_err("object as x");
        assert!(
            err.to_string().contains("a scalar (to append) or an array"),
            "{err}"
        );
    }

    #[test]
    fn non_finite_floats_become_gaps() {
        assert_eq!(Scalar::from(f64::NAN), Scalar::Null);
        assert_eq!(Scalar::from(f64::INFINITY), Scalar::Null);
        assert_eq!(
            serde_json::to_string(&Write::xy(1, f64::NAN)).expect("serialises"),
            r#"{"x":1,"y":null}"#
        );
    }

    #[test]
    fn empty_write() {
        assert!(parse("{}").is_empty());
        assert!(!Write::xy(1, 2).is_empty());
    }
}
