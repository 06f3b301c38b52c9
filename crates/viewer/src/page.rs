//! The pages: the list of figures and a live plot, and the static files
//! (plotly.js is compiled in).

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use crate::{Error, Viewer};

/// The vendored plotly.js (`plotly.js-dist-min`, MIT): see `assets/plotly/README.md`.
pub(crate) const PLOTLY_VERSION: &str = "3.7.0";
static PLOTLY_JS: &[u8] = include_bytes!("../assets/plotly/plotly.min.js");
static PLOT_JS: &str = include_str!("../assets/plot.js");

/// Escapes text for HTML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Deletes a figure from the index page. `DELETE` is not a method a page
/// of another origin may send without asking, and this server grants no
/// preflight: only this page's own script can.
const DELETE_SCRIPT: &str = "<script>for(const b of document.querySelectorAll('button[data-id]'))\
b.onclick=async()=>{if(!confirm('Delete '+b.dataset.title+'?'))return;\
const r=await fetch('/api/figures/'+b.dataset.id,{method:'DELETE'});\
if(r.ok)b.closest('tr').remove();else alert(await r.text());};</script>";

/// `GET /`: the live figures, each with a delete button.
pub(crate) async fn index(State(viewer): State<Viewer>) -> Html<String> {
    let mut rows = String::new();
    for f in viewer.figures() {
        let held = f.points();
        let _ = writeln!(
            rows,
            "<tr><td><a href=\"/plot/{id}\">{title}</a></td><td>{traces}</td><td>{points}</td>\
             <td><button data-id=\"{id}\" data-title=\"{title}\">delete</button></td></tr>",
            id = f.id,
            title = escape(&f.title),
            traces = held.len(),
            points = held.iter().sum::<usize>(),
        );
    }
    if rows.is_empty() {
        rows = "<tr><td colspan=\"4\">No figures yet: stream to this server, or POST a figure to /api/figures.</td></tr>".into();
    }
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>plotstream</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:2em}}td,th{{padding:.3em 1em;text-align:left}}</style></head>\
         <body><h1>plotstream</h1><p>Live figures on this viewer (plotly.js {PLOTLY_VERSION}).</p>\
         <table><tr><th>figure</th><th>traces</th><th>points held</th><th></th></tr>\n{rows}</table>\
         <p><a href=\"/metrics\">metrics</a> · <a href=\"/api/figures\">figures as JSON</a></p>{DELETE_SCRIPT}</body></html>\n"
    ))
}

/// `GET /plot/{id}`: one live plot.
pub(crate) async fn plot(
    State(viewer): State<Viewer>,
    Path(id): Path<u64>,
) -> Result<Html<String>, Error> {
    Ok(Html(plot_page(&viewer, id, false)?))
}

/// The bare page of figure `id` for an iframe (`/~{owner}/{id}.embed`):
/// the plot filling the frame, its status kept out of sight.
pub(crate) fn embed(viewer: &Viewer, id: u64) -> Result<Html<String>, Error> {
    Ok(Html(plot_page(viewer, id, true)?))
}

fn plot_page(viewer: &Viewer, id: u64, embed: bool) -> Result<String, Error> {
    let f = viewer.figure(id)?;
    let (plot_height, status) = if embed {
        ("100%", "display:none")
    } else {
        (
            "calc(100% - 2em)",
            "height:2em;line-height:2em;padding:0 1em;font:12px monospace;color:#555",
        )
    };
    Ok(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title} · plotstream</title>\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <style>html,body{{margin:0;height:100%;font-family:system-ui,sans-serif}}\
         #plot{{width:100%;height:{plot_height}}}\
         #status{{{status}}}</style>\
         <script src=\"/static/plotly.min.js\"></script></head>\
         <body><div id=\"plot\"></div>\
         <div id=\"status\" data-state=\"connecting\" data-points=\"0\" data-updates=\"0\">connecting…</div>\
         <script src=\"/static/plot.js\" data-figure=\"{id}\"></script></body></html>\n",
        title = escape(&f.title),
    ))
}

/// `GET /static/plotly.min.js`.
pub(crate) async fn plotly_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        PLOTLY_JS,
    )
        .into_response()
}

/// `GET /static/plot.js`: the page's script.
pub(crate) async fn plot_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        PLOT_JS,
    )
        .into_response()
}
