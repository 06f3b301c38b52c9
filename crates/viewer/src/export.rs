//! `GET /api/figures/{id}/data.csv` and `data.ndjson`: the points a figure
//! holds, for a spreadsheet or a script.
//!
//! One row per point, oldest first, trace by trace. A point's attributes are
//! its traces' streamed columns by dotted path (`x`, `y`, `marker.color`);
//! a column that does not reach back to a point leaves it empty (columns
//! are aligned at their newest value, as the plot draws them).
//!
//! - CSV (RFC 4180): a header `trace,<path>,…` over every trace's paths;
//!   numbers as sent (integers stay integers), strings quoted when they hold
//!   a comma, a quote or a line break, other JSON values as JSON, quoted.
//! - NDJSON: `{"trace": i, "<path>": value, …}` a line.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::column::{Cell, TraceData};

/// The two forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    Ndjson,
}

impl Format {
    /// The form a file name asks for: `data.csv` or `data.ndjson`.
    pub(crate) fn of(file: &str) -> Option<Format> {
        match file {
            "data.csv" => Some(Format::Csv),
            "data.ndjson" => Some(Format::Ndjson),
            _ => None,
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Ndjson => "application/x-ndjson",
        }
    }

    pub(crate) fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
        }
    }
}

/// The traces' points in `format`.
pub(crate) fn render(traces: &[TraceData], format: Format) -> String {
    match format {
        Format::Csv => csv(traces),
        Format::Ndjson => ndjson(traces),
    }
}

fn csv(traces: &[TraceData]) -> String {
    // Every trace's paths, each once, in the order they first appear.
    let mut header: Vec<&str> = Vec::new();
    for t in traces {
        for p in t.paths() {
            if !header.contains(&p) {
                header.push(p);
            }
        }
    }
    let mut out = String::from("trace");
    for p in &header {
        out.push(',');
        field(&mut out, p);
    }
    out.push_str("\r\n");
    for (i, t) in traces.iter().enumerate() {
        let at: Vec<usize> = t
            .paths()
            .iter()
            .map(|p| header.iter().position(|h| h == p).unwrap_or(0))
            .collect();
        let mut cells: Vec<String> = vec![String::new(); header.len()];
        t.for_each_point(|_, row| {
            for c in &mut cells {
                c.clear();
            }
            for (cell, &k) in row.iter().zip(&at) {
                if let Some(cell) = cell {
                    cells[k] = text(*cell);
                }
            }
            let _ = write!(out, "{i}");
            for c in &cells {
                out.push(',');
                field(&mut out, c);
            }
            out.push_str("\r\n");
        });
    }
    out
}

/// A cell's text: a string as it is, anything else as JSON.
fn text(cell: Cell<'_>) -> String {
    match cell.to_value() {
        Value::String(s) => s,
        v => v.to_string(),
    }
}

/// One CSV field, quoted when it must be.
fn field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn ndjson(traces: &[TraceData]) -> String {
    let mut out = String::new();
    for (i, t) in traces.iter().enumerate() {
        let paths = t.paths();
        t.for_each_point(|_, row| {
            let mut line = Map::new();
            line.insert("trace".into(), Value::from(i));
            for (cell, p) in row.iter().zip(&paths) {
                if let Some(cell) = cell {
                    line.insert((*p).to_owned(), cell.to_value());
                }
            }
            out.push_str(&Value::Object(line).to_string());
            out.push('\n');
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotstream_protocol::Write;
    use serde_json::json;

    fn traces() -> Vec<TraceData> {
        let mut a = TraceData::new(10);
        for i in 0..3 {
            a.apply(&Write::xy(i, f64::from(i) * 0.5), None);
        }
        // A label for the last point only.
        a.apply(
            &serde_json::from_value(json!({"text": "a, \"b\""})).expect("a write"),
            None,
        );
        let mut b = TraceData::new(10);
        b.apply(&Write::xy("2026-12-04", 7), None);
        vec![a, b]
    }

    #[test]
    fn csv_aligns_columns_at_their_newest_and_quotes_what_it_must() {
        assert_eq!(
            render(&traces(), Format::Csv),
            "trace,x,y,text\r\n0,0,0,\r\n0,1,0.5,\r\n0,2,1,\"a, \"\"b\"\"\"\r\n1,2026-12-04,7,\r\n"
        );
    }

    #[test]
    fn ndjson_gives_each_point_its_present_attributes() {
        let text = render(&traces(), Format::Ndjson);
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        assert_eq!(
            lines,
            [
                json!({"trace": 0, "x": 0, "y": 0}),
                json!({"trace": 0, "x": 1, "y": 0.5}),
                json!({"trace": 0, "x": 2, "y": 1, "text": "a, \"b\""}),
                json!({"trace": 1, "x": "2026-12-04", "y": 7}),
            ]
        );
    }
}
