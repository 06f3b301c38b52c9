//! The events a figure's subscribers receive: a snapshot of the figure, then
//! updates gathered from the writes applied since ([`Pending`]). Their wire
//! types live in `plotstream_protocol` ([`FigureUpdate`], [`TraceUpdate`]).
//!
//! No event carries more than a trace's `maxpoints` values per attribute:
//! a subscriber never receives what the trace would not keep.

use plotstream_protocol::{Change, Figure, FigureUpdate, TraceUpdate};
use serde_json::{Map, Value};

use crate::column::{TraceData, set_path};

/// The last `max` of `values`.
pub(crate) fn tail(values: &[Value], max: usize) -> &[Value] {
    &values[values.len().saturating_sub(max)..]
}

/// Notes one change to `path` in `t`, keeping at most about `max` values
/// per attribute while gathering (twice that before a trim, so the trim is
/// amortised) and exactly `max` once [`Pending::take`] trims.
pub(crate) fn note(t: &mut TraceUpdate, path: &str, change: Change<'_>, max: usize) {
    let value = match change {
        Change::Append(s) => s.to_value(),
        Change::AppendValue(v) => v.clone(),
        Change::Overwrite(values) => {
            // An overwrite cancels the appends before it.
            t.append.remove(path);
            let kept = tail(values, max).to_vec();
            match t.overwrite.get_mut(path) {
                Some(old) => *old = kept,
                None => {
                    t.overwrite.insert(path.to_owned(), kept);
                }
            }
            return;
        }
    };
    match t.append.get_mut(path) {
        Some(values) => {
            values.push(value);
            if values.len() >= max.saturating_mul(2).max(2) {
                values.drain(..values.len() - max);
            }
        }
        None => {
            t.append.insert(path.to_owned(), vec![value]);
        }
    }
}

/// Updates applied but not yet sent, per trace by index.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    traces: Vec<Option<TraceUpdate>>,
    layout: Option<Map<String, Value>>,
}

impl Pending {
    /// The gathered update of trace `index`.
    pub(crate) fn trace(&mut self, index: usize) -> &mut TraceUpdate {
        if self.traces.len() <= index {
            self.traces.resize_with(index + 1, || None);
        }
        self.traces[index].get_or_insert_with(|| TraceUpdate {
            index,
            ..TraceUpdate::default()
        })
    }

    pub(crate) fn relayout(&mut self, update: &Map<String, Value>) {
        let layout = self.layout.get_or_insert_with(Map::new);
        for (k, v) in update {
            layout.insert(k.clone(), v.clone());
        }
    }

    /// The update event, each list trimmed to its trace's maxpoints, each
    /// trace saying how many points it keeps if memory made that fewer;
    /// `None` when nothing changed. `dropped` is the figure's count of
    /// points dropped for memory.
    pub(crate) fn take(self, traces: &[TraceData], dropped: u64) -> Option<FigureUpdate> {
        let mut update = FigureUpdate {
            traces: Vec::new(),
            layout: self.layout,
            dropped,
        };
        for mut t in self.traces.into_iter().flatten() {
            t.keep = traces.get(t.index).and_then(TraceData::kept);
            if t.is_empty() {
                continue;
            }
            let max = traces.get(t.index).map_or(0, TraceData::maxpoints);
            for values in t.append.values_mut() {
                if values.len() > max {
                    values.drain(..values.len() - max);
                }
            }
            update.traces.push(t);
        }
        (!update.traces.is_empty() || update.layout.is_some()).then_some(update)
    }
}

/// The figure with the data it holds now, as Plotly figure JSON: the
/// template each trace was created with, its streamed columns set over it.
/// Without `show_tokens` the traces' `stream.token` is left out (a token
/// is a write credential); `stream.maxpoints` stays. A figure that dropped
/// points to stay within memory says how many, as `dropped`.
pub(crate) fn snapshot(
    template: &Figure,
    traces: &[TraceData],
    layout: &Map<String, Value>,
    show_tokens: bool,
    dropped: u64,
) -> Value {
    let mut data = Vec::with_capacity(template.data.len());
    for (trace, held) in template.data.iter().zip(traces) {
        let mut t = match serde_json::to_value(trace) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if let (false, Some(Value::Object(stream))) = (show_tokens, t.get_mut("stream")) {
            stream.remove("token");
        }
        for (path, values) in held.to_json() {
            set_path(&mut t, &path, values);
        }
        data.push(Value::Object(t));
    }
    let mut fig = match serde_json::to_value(template) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    fig.insert("data".into(), Value::Array(data));
    fig.insert("layout".into(), Value::Object(layout.clone()));
    if dropped > 0 {
        fig.insert("dropped".into(), Value::from(dropped));
    }
    Value::Object(fig)
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotstream_protocol::Write;
    use serde_json::json;

    fn write(v: Value) -> Write {
        serde_json::from_value(v).expect("a write")
    }

    #[test]
    fn pending_updates_record_appends_and_overwrites_in_order() {
        let mut traces = vec![TraceData::new(10)];
        let mut p = Pending::default();
        for w in [
            Write::xy(1, 1),
            Write::xy(2, 2),
            write(json!({"x": [7, 8]})),
            write(json!({"x": 9})),
        ] {
            traces[0].apply(&w, Some(p.trace(0)));
        }
        p.relayout(
            json!({"title": {"text": "t"}})
                .as_object()
                .expect("an object"),
        );
        let update = p.take(&traces, 0).expect("something changed");
        assert_eq!(
            serde_json::to_value(&update).expect("serialises"),
            json!({"traces": [{"index": 0, "append": {"y": [1, 2], "x": [9]}, "overwrite": {"x": [7, 8]}}],
                   "layout": {"title": {"text": "t"}}})
        );
    }

    #[test]
    fn no_event_carries_more_than_maxpoints_per_attribute() {
        let mut traces = vec![TraceData::new(5)];
        let mut p = Pending::default();
        traces[0].apply(
            &write(json!({"y": (0..5000).collect::<Vec<_>>()})),
            Some(p.trace(0)),
        );
        for i in 0..1000 {
            traces[0].apply(&Write::xy(i, i), Some(p.trace(0)));
        }
        let update = p.take(&traces, 0).expect("changed");
        let t = &update.traces[0];
        assert_eq!(t.overwrite["y"].len(), 5, "the overwrite, trimmed");
        assert_eq!(
            t.append["x"],
            (995..1000).map(Value::from).collect::<Vec<_>>()
        );
        assert_eq!(t.append["y"].len(), 5);

        let mut p = Pending::default();
        traces[0].apply(
            &write(json!({"y": (0..5000).collect::<Vec<_>>()})),
            Some(p.trace(0)),
        );
        let update = p.take(&traces, 0).expect("changed");
        assert_eq!(
            update.traces[0].overwrite["y"],
            (4995..5000).map(Value::from).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_snapshot_hides_tokens_when_asked_and_keeps_maxpoints() {
        let fig: Figure = serde_json::from_value(json!({
            "data": [{"type": "scatter", "stream": {"token": "secret", "maxpoints": 7}}],
            "layout": {}
        }))
        .expect("a figure");
        let mut traces = vec![TraceData::new(7)];
        traces[0].apply(&Write::xy(1, 2), None);
        let shown = snapshot(&fig, &traces, &Map::new(), true, 0);
        assert_eq!(shown["data"][0]["stream"]["token"], "secret");
        let hidden = snapshot(&fig, &traces, &Map::new(), false, 0);
        assert_eq!(hidden["data"][0]["stream"], json!({"maxpoints": 7}));
        assert_eq!(hidden["data"][0]["x"], json!([1]));
    }
}
