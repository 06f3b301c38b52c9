//! [`Figure`], [`Trace`] and [`StreamSpec`]: the Plotly figure a stream draws into.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Plotly's default `maxpoints`: how many points a streamed trace keeps.
pub const DEFAULT_MAXPOINTS: u64 = 500;

/// A Plotly figure: traces, layout, and any other attribute kept as sent.
///
/// Real Plotly figure JSON round-trips: every attribute plotstream does not
/// model lives in the `extra` maps and is written back unchanged.
///
/// ```
/// use plotstream_protocol::Figure;
///
/// let fig: Figure = serde_json::from_str(
///     r#"{"data": [{"type": "scatter", "mode": "lines", "stream": {"token": "abc", "maxpoints": 80}}],
///         "layout": {"title": {"text": "live"}}}"#,
/// )?;
/// assert_eq!(fig.tokens().collect::<Vec<_>>(), ["abc"]);
/// assert_eq!(fig.data[0].stream.as_ref().map(|s| s.maxpoints()), Some(80));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// The traces.
    #[serde(default)]
    pub data: Vec<Trace>,
    /// The layout, kept as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Map<String, Value>>,
    /// Any other attribute (`frames`, `config`, …), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Figure {
    /// The distinct stream tokens of the figure's traces, in trace order.
    pub fn tokens(&self) -> impl Iterator<Item = &str> {
        let mut seen: Vec<&str> = Vec::new();
        self.data.iter().filter_map(move |t| {
            let token = t.stream.as_ref()?.token.as_str();
            if seen.contains(&token) {
                None
            } else {
                seen.push(token);
                Some(token)
            }
        })
    }
}

/// One trace of a figure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The trace type (`"scatter"`, `"bar"`, …); Plotly's default is scatter.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The trace's name, shown in the legend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The stream that feeds this trace, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamSpec>,
    /// Every other attribute (`x`, `y`, `mode`, `marker`, …), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Trace {
    /// A trace of the given type fed by `stream`.
    pub fn streamed(kind: &str, stream: StreamSpec) -> Self {
        Trace {
            kind: Some(kind.to_owned()),
            stream: Some(stream),
            ..Trace::default()
        }
    }

    /// Sets an attribute kept in `extra` (`"mode"`, `"marker"`, …), builder
    /// style. `type`, `name` and `stream` are fields of their own: set those.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_owned(), value);
        self
    }
}

/// A trace's `stream` attribute: which token feeds it and how many points it keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamSpec {
    /// The stream token. A viewer that hides tokens (a write credential)
    /// from its readers leaves it out: then it reads as empty, which no
    /// figure may be created with (`check_token` refuses it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// How many points the trace keeps; Plotly's default, 500, when absent.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole_number"
    )]
    pub maxpoints: Option<u64>,
    /// Any other attribute, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StreamSpec {
    /// A stream spec for `token` keeping `maxpoints` points.
    pub fn new(token: impl Into<String>, maxpoints: u64) -> Self {
        StreamSpec {
            token: token.into(),
            maxpoints: Some(maxpoints),
            extra: Map::new(),
        }
    }

    /// How many points the trace keeps: `maxpoints`, or Plotly's default of 500.
    pub fn maxpoints(&self) -> u64 {
        self.maxpoints.unwrap_or(DEFAULT_MAXPOINTS)
    }
}

/// Reads `maxpoints` as a whole number, accepting `80.0` as Python may send it.
fn whole_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(v) = n.as_u64() {
        return Ok(Some(v));
    }
    match n.as_f64() {
        Some(f) if f >= 0.0 && f.fract() == 0.0 && f <= 9.0e15 => Ok(Some(f as u64)),
        _ => Err(serde::de::Error::custom(format_args!(
            "maxpoints must be a whole number of points, not {n}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A figure as Plotly's Python library serialises it for a streaming plot,
    /// with attributes plotstream does not model.
    fn real_figure() -> Value {
        json!({
            "data": [
                {"type": "scatter", "mode": "lines+markers", "x": [], "y": [],
                 "stream": {"token": "k3n9", "maxpoints": 80},
                 "marker": {"size": 12, "color": "#1f77b4"}, "hoverinfo": "x+y"},
                {"type": "scatter", "name": "trail", "x": [0, 1], "y": [0, 1],
                 "stream": {"token": "p0q1"}, "line": {"dash": "dot"}},
                {"type": "bar", "x": ["a"], "y": [1]}
            ],
            "layout": {"title": {"text": "Streaming"}, "xaxis": {"range": [-2, 2]},
                       "template": {"data": {"scatter": [{"type": "scatter"}]}}},
            "frames": [],
            "config": {"responsive": true}
        })
    }

    #[test]
    fn real_plotly_json_round_trips() {
        let src = real_figure();
        let fig: Figure = serde_json::from_value(src.clone()).expect("valid figure");
        assert_eq!(fig.data.len(), 3);
        assert_eq!(fig.data[0].kind.as_deref(), Some("scatter"));
        assert_eq!(fig.data[1].name.as_deref(), Some("trail"));
        assert_eq!(fig.extra.len(), 2);
        assert_eq!(serde_json::to_value(&fig).expect("serialises"), src);
    }

    #[test]
    fn stream_spec_defaults_and_tokens() {
        let fig: Figure = serde_json::from_value(real_figure()).expect("valid figure");
        let specs: Vec<_> = fig.data.iter().filter_map(|t| t.stream.as_ref()).collect();
        assert_eq!(specs[0].maxpoints(), 80);
        assert_eq!(specs[1].maxpoints(), DEFAULT_MAXPOINTS);
        assert_eq!(specs[1].maxpoints, None);
        assert_eq!(fig.tokens().collect::<Vec<_>>(), ["k3n9", "p0q1"]);
    }

    #[test]
    fn one_token_feeding_two_traces_is_listed_once() {
        let fig = Figure {
            data: vec![
                Trace::streamed("scatter", StreamSpec::new("t", 10)),
                Trace::streamed("scatter", StreamSpec::new("t", 20)),
            ],
            ..Figure::default()
        };
        assert_eq!(fig.tokens().collect::<Vec<_>>(), ["t"]);
    }

    #[test]
    fn maxpoints_accepts_whole_floats_only() {
        let s: StreamSpec =
            serde_json::from_str(r#"{"token": "a", "maxpoints": 80.0}"#).expect("whole");
        assert_eq!(s.maxpoints(), 80);
        for bad in [
            r#"{"token": "a", "maxpoints": 1.5}"#,
            r#"{"token": "a", "maxpoints": -3}"#,
        ] {
            let err = serde_json::from_str::<StreamSpec>(bad).expect_err("rejected");
            assert!(
                err.to_string().contains("maxpoints must be a whole number"),
                "{err}"
            );
        }
        // A viewer that hides tokens sends none: it reads as empty (and
        // round-trips so), which `check_token` refuses for a new figure.
        let hidden: StreamSpec = serde_json::from_str(r#"{"maxpoints": 5}"#).expect("no token");
        assert_eq!(hidden.token, "");
        assert!(crate::check_token(&hidden.token).is_err());
        assert_eq!(
            serde_json::to_string(&hidden).expect("serialises"),
            r#"{"maxpoints":5}"#
        );
    }
}
