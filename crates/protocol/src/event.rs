//! The viewer's event stream, typed: what `GET /plot/{id}/events` sends and
//! what the load generator's subscriber and the page read.
//!
//! The stream is server-sent events: first a `snapshot` (the figure with the
//! data it holds), then `update`s ([`FigureUpdate`]). A subscriber that falls
//! behind gets a fresh `snapshot` instead of the updates it missed. A
//! `streams` event ([`StreamsEvent`]) follows each snapshot and each stream
//! that begins or ends: how many streams feed the figure now.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Figure;

/// What one trace received since the last event. Overwrites apply before
/// appends; each list holds at most the trace's `maxpoints` values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceUpdate {
    /// The trace's index in the figure's `data`.
    pub index: usize,
    /// Values to append, by dotted attribute path.
    #[serde(default)]
    pub append: BTreeMap<String, Vec<Value>>,
    /// Values that replace an attribute's, by dotted attribute path.
    #[serde(default)]
    pub overwrite: BTreeMap<String, Vec<Value>>,
    /// How many points the trace keeps now, when the viewer dropped old
    /// ones to stay within its memory budget (fewer than its `maxpoints`):
    /// a subscriber keeps the last this many of each attribute, after the
    /// appends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<usize>,
}

impl TraceUpdate {
    /// Whether it carries nothing.
    pub fn is_empty(&self) -> bool {
        self.append.is_empty() && self.overwrite.is_empty() && self.keep.is_none()
    }
}

/// An `update` event: what a figure received since the last event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FigureUpdate {
    /// The traces that changed.
    pub traces: Vec<TraceUpdate>,
    /// A layout update (dotted keys set nested attributes), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Map<String, Value>>,
    /// Points the figure has dropped to stay within the viewer's memory
    /// budget since it was made (left out while none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A `streams` event: how many streams feed the figure now (0: none is
/// connected, and nothing new will arrive until one is).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamsEvent {
    /// Streams connected to the figure's tokens.
    pub connected: u64,
}

/// One event of a figure's event stream.
///
/// ```
/// use plotstream_protocol::ViewerEvent;
///
/// let e = ViewerEvent::parse("update", br#"{"traces":[{"index":0,"append":{"x":[1]}}]}"#)?;
/// let Some(ViewerEvent::Update(u)) = e else { panic!("an update") };
/// assert_eq!(u.traces[0].append["x"], [serde_json::json!(1)]);
/// assert!(ViewerEvent::parse("keep-alive", b"")?.is_none());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum ViewerEvent {
    /// `snapshot`: the figure with the data it holds now.
    Snapshot(Figure),
    /// `update`: what arrived since.
    Update(FigureUpdate),
    /// `streams`: how many streams feed the figure now.
    Streams(StreamsEvent),
}

impl ViewerEvent {
    /// The SSE event name of a snapshot.
    pub const SNAPSHOT: &'static str = "snapshot";
    /// The SSE event name of an update.
    pub const UPDATE: &'static str = "update";
    /// The SSE event name of a streams event.
    pub const STREAMS: &'static str = "streams";

    /// The event's SSE name.
    pub fn name(&self) -> &'static str {
        match self {
            ViewerEvent::Snapshot(_) => Self::SNAPSHOT,
            ViewerEvent::Update(_) => Self::UPDATE,
            ViewerEvent::Streams(_) => Self::STREAMS,
        }
    }

    /// Parses an event's data by its SSE name; `None` for names that are
    /// not the viewer's (a reader should skip those).
    pub fn parse(name: &str, data: &[u8]) -> Result<Option<Self>, serde_json::Error> {
        Ok(match name {
            Self::SNAPSHOT => Some(ViewerEvent::Snapshot(serde_json::from_slice(data)?)),
            Self::UPDATE => Some(ViewerEvent::Update(serde_json::from_slice(data)?)),
            Self::STREAMS => Some(ViewerEvent::Streams(serde_json::from_slice(data)?)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_update_round_trips_in_a_fixed_key_order() {
        let mut t = TraceUpdate {
            index: 1,
            ..TraceUpdate::default()
        };
        t.append.insert("y".into(), vec![json!(2)]);
        t.append.insert("x".into(), vec![json!(1)]);
        t.overwrite
            .insert("marker.color".into(), vec![json!("red")]);
        let u = FigureUpdate {
            traces: vec![t],
            layout: None,
            dropped: 0,
        };
        let text = serde_json::to_string(&u).expect("serialises");
        assert_eq!(
            text,
            r#"{"traces":[{"index":1,"append":{"x":[1],"y":[2]},"overwrite":{"marker.color":["red"]}}]}"#
        );
        let back = ViewerEvent::parse("update", text.as_bytes()).expect("parses");
        assert_eq!(back, Some(ViewerEvent::Update(u)));
    }

    #[test]
    fn a_snapshot_is_a_figure() {
        let data = br#"{"data":[{"type":"scatter","stream":{"token":"t","maxpoints":5},"x":[1]}],"layout":{}}"#;
        let Some(ViewerEvent::Snapshot(f)) = ViewerEvent::parse("snapshot", data).expect("parses")
        else {
            panic!("a snapshot")
        };
        assert_eq!(f.data[0].extra["x"], json!([1]));
        assert_eq!(ViewerEvent::Snapshot(f).name(), "snapshot");
    }

    #[test]
    fn a_streams_event_counts_the_streams() {
        let e = ViewerEvent::parse("streams", br#"{"connected":2}"#).expect("parses");
        assert_eq!(e, Some(ViewerEvent::Streams(StreamsEvent { connected: 2 })));
        assert_eq!(
            serde_json::to_string(&StreamsEvent { connected: 0 })
                .ok()
                .as_deref(),
            Some(r#"{"connected":0}"#)
        );
    }
}
