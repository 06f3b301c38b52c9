//! `--html FILE`: the report as one self-contained page (plotly.js inside).

use std::fmt::Write as _;

use plotstream_protocol::plural;

use crate::{Error, Report};

/// plotly.js's basic bundle: scatter, bar and pie, all a report draws, in
/// 1.1 MB where the full bundle is 4.9 MB.
static PLOTLY_JS: &str = plotstream_plotly::BASIC;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The percentile spectrum of a histogram: x is 1/(1 − q), so p99 sits at
/// 100 and p99.9 at 1000 on a log axis; y in ms.
fn spectrum(p: &crate::Percentiles) -> Result<(Vec<f64>, Vec<f64>), Error> {
    let h = p.histogram()?;
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        if q >= 1.0 {
            break;
        }
        xs.push(1.0 / (1.0 - q));
        ys.push(v.value_iterated_to() as f64 / 1000.0);
    }
    // The iteration ends before the last quantile: end each curve at its
    // maximum, one value short of all of them (x = count), so that no
    // curve stops short of its tail.
    if !h.is_empty() {
        let last = (h.len() as f64).max(xs.last().copied().unwrap_or(1.0));
        xs.push(last);
        ys.push(h.max() as f64 / 1000.0);
    }
    Ok((xs, ys))
}

/// The page: the summary, the latency (or lateness) percentile spectrum,
/// and the achieved rate over time.
pub fn render(report: &Report) -> Result<String, Error> {
    let mut traces = Vec::new();
    for (name, p) in [
        ("lateness", Some(&report.lateness_ms)),
        ("end-to-end latency", report.latency_ms.as_ref()),
    ] {
        if let Some(p) = p {
            let (x, y) = spectrum(p)?;
            traces.push(serde_json::json!({"type": "scatter", "mode": "lines", "name": name, "x": x, "y": y}));
        }
    }
    let spectrum_fig = serde_json::json!({
        "data": traces,
        "layout": {
            "title": {"text": "Percentile spectrum"},
            "xaxis": {"type": "log", "title": {"text": "percentile"},
                      "tickvals": [1, 2, 10, 100, 1000, 10000, 100000],
                      "ticktext": ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"]},
            "yaxis": {"title": {"text": "ms"}, "rangemode": "tozero"}
        }
    });
    let seconds: Vec<usize> = (1..=report.rate_over_time.len()).collect();
    // The schedule's own rate (as the summary's writes line states it),
    // which each second of the steady part is to be read against.
    let offered = report.offered_rate();
    let mut rate_data = vec![
        serde_json::json!({"type": "scatter", "mode": "lines+markers", "name": "achieved", "x": seconds, "y": report.rate_over_time}),
        serde_json::json!({"type": "scatter", "mode": "lines", "name": "offered (mean)", "line": {"dash": "dot"},
             "x": [1, report.rate_over_time.len().max(1)], "y": [offered, offered]}),
    ];
    if !report.open_over_time.is_empty() {
        rate_data.push(
            serde_json::json!({"type": "scatter", "mode": "lines", "name": "open connections",
            "yaxis": "y2", "line": {"shape": "hv"}, "x": seconds, "y": report.open_over_time}),
        );
    }
    let rate_fig = serde_json::json!({
        "data": rate_data,
        "layout": {"title": {"text": "Writes per second, and connections open"}, "xaxis": {"title": {"text": "s"}},
                   "yaxis": {"title": {"text": "writes/s"}, "rangemode": "tozero"},
                   "yaxis2": {"title": {"text": "connections"}, "overlaying": "y", "side": "right", "rangemode": "tozero"}}
    });
    let column = |rows: &[[f64; 2]], i: usize| -> Vec<f64> { rows.iter().map(|v| v[i]).collect() };
    let line = |name: &str, rows: &[[f64; 2]], i: usize| serde_json::json!({"type": "scatter", "mode": "lines+markers", "name": name, "x": seconds, "y": column(rows, i)});
    let mut over_time = vec![
        line("lateness p50", &report.lateness_over_time, 0),
        line("lateness p99", &report.lateness_over_time, 1),
    ];
    if !report.latency_over_time.is_empty() {
        over_time.push(line("end-to-end p50", &report.latency_over_time, 0));
        over_time.push(line("end-to-end p99", &report.latency_over_time, 1));
    }
    let lateness_fig = serde_json::json!({
        "data": over_time,
        "layout": {"title": {"text": "Lateness and end-to-end latency each second"}, "xaxis": {"title": {"text": "s"}},
                   "yaxis": {"title": {"text": "ms"}, "rangemode": "tozero"}}
    });
    Ok(page(
        "plotstream load report",
        &format!("<pre>{}</pre>", escape(&report.to_string())),
        &[
            ("spectrum", &spectrum_fig),
            ("rate", &rate_fig),
            ("lateness", &lateness_fig),
        ],
    ))
}

/// The page of a capacity search: latency against offered load, achieved
/// against offered, and the table.
pub(crate) fn render_capacity(c: &crate::Capacity) -> String {
    let mut steps: Vec<&crate::capacity::Step> = c.steps.iter().collect();
    steps.sort_by(|a, b| a.offered.total_cmp(&b.offered));
    let xs: Vec<f64> = steps.iter().map(|s| s.offered).collect();
    let colors: Vec<&str> = steps
        .iter()
        .map(|s| if s.held() { "#2ca02c" } else { "#d62728" })
        .collect();
    let verdicts: Vec<String> = steps
        .iter()
        .map(|s| {
            if s.held() {
                "held".to_owned()
            } else {
                s.failures.join("; ")
            }
        })
        .collect();
    let mut shapes = Vec::new();
    if let Some(a) = &c.answer {
        shapes.push(serde_json::json!({"type": "line", "xref": "x", "yref": "paper", "x0": a.offered, "x1": a.offered,
            "y0": 0, "y1": 1, "line": {"dash": "dot", "color": "#2ca02c"}}));
    }
    let latency = serde_json::json!({
        "data": [
            {"type": "scatter", "mode": "lines+markers", "name": "p50", "x": xs, "y": steps.iter().map(|s| s.p50_ms).collect::<Vec<_>>(),
             "text": verdicts, "marker": {"color": colors, "size": 9}},
            {"type": "scatter", "mode": "lines+markers", "name": "p99", "x": xs, "y": steps.iter().map(|s| s.p99_ms).collect::<Vec<_>>(),
             "text": verdicts, "marker": {"color": colors, "size": 9, "symbol": "diamond"}}
        ],
        "layout": {"title": {"text": format!("Latency against offered load (green: held {}; red: failed)", c.thresholds)},
                   "xaxis": {"title": {"text": "offered writes/s"}},
                   "yaxis": {"title": {"text": "ms"}, "type": "log"}, "shapes": shapes}
    });
    let achieved = serde_json::json!({
        "data": [
            {"type": "scatter", "mode": "lines+markers", "name": "achieved", "x": xs,
             "y": steps.iter().map(|s| s.achieved).collect::<Vec<_>>(), "marker": {"color": colors, "size": 9}},
            {"type": "scatter", "mode": "lines", "name": "offered", "line": {"dash": "dot"}, "x": xs, "y": xs}
        ],
        "layout": {"title": {"text": "Achieved against offered"}, "xaxis": {"title": {"text": "offered writes/s"}},
                   "yaxis": {"title": {"text": "achieved writes/s"}, "rangemode": "tozero"}}
    });
    let answer = match &c.answer {
        Some(a) => format!(
            "capacity: {:.0} writes/s ({} × {:.2} writes/s)",
            a.offered,
            plural(a.streams, "stream", "streams"),
            a.rate
        ),
        None => "no capacity found: even the first step failed".to_owned(),
    };
    page(
        "plotstream capacity search",
        &format!(
            "<p>{}, holding {}</p><pre>{}</pre>",
            escape(&answer),
            escape(&c.thresholds),
            escape(&c.to_string())
        ),
        &[("latency", &latency), ("achieved", &achieved)],
    )
}

/// One self-contained page: `title`, the `intro` HTML, then each figure,
/// drawn by the plotly.js inside it.
fn page(title: &str, intro: &str, figures: &[(&str, &serde_json::Value)]) -> String {
    let mut divs = String::new();
    let mut scripts = String::new();
    for (id, figure) in figures {
        let _ = write!(divs, "<div id=\"{id}\" class=\"plot\"></div>");
        let _ = writeln!(
            scripts,
            "Plotly.newPlot('{id}', {data}, {layout});",
            data = figure["data"],
            layout = figure["layout"]
        );
    }
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2em}}pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}\
         .plot{{width:100%;height:420px}}</style>\n<script>{PLOTLY_JS}</script></head>\n<body>\
         <h1>{title}</h1>{intro}{divs}\n<script>\n{scripts}</script></body></html>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{histogram, record};

    #[test]
    fn a_spectrum_ends_at_the_maximum() {
        let mut h = histogram();
        for ms in 1..=1000u64 {
            record(&mut h, std::time::Duration::from_millis(ms));
        }
        record(&mut h, std::time::Duration::from_secs(5));
        let p = crate::Percentiles::of(&h).expect("serialises");
        let (x, y) = spectrum(&p).expect("a spectrum");
        assert_eq!(y.last().copied(), Some(p.max), "the tail is drawn");
        assert!(x.windows(2).all(|w| w[0] <= w[1]), "x rises");
    }
}
