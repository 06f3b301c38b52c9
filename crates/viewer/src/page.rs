//! The pages: the list of figures and a live plot, and the static files
//! (plotly.js, compiled in from plotstream-plotly; the page's script; the
//! icon), sent gzipped to browsers that take it, with caching headers.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use plotstream_plotly::{Bundle, VERSION as PLOTLY_VERSION};
use plotstream_protocol::paths;

use crate::{Error, Viewer};

static PLOT_JS: &str = include_str!("../assets/plot.js");
static FAVICON_SVG: &str = include_str!("../assets/favicon.svg");

/// The icon every page names (`/static/favicon.svg`).
const ICON_LINK: &str = "<link rel=\"icon\" href=\"/static/favicon.svg\" type=\"image/svg+xml\">";

/// Escapes text for HTML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The index page's script: it lists the figures again every 2 s (new
/// ones appear, streams come and go), and deletes a figure when asked.
/// `DELETE` is not a method a page of another origin may send without
/// asking, and this server grants no preflight: only this page's own
/// script can.
const INDEX_SCRIPT: &str = r#"<script>(function () {
  const rows = document.getElementById("figures");
  const text = (s) => { const d = document.createElement("div"); d.textContent = s; return d.innerHTML; };
  rows.addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-id]");
    if (!b || !confirm("Delete " + b.dataset.title + "?")) return;
    const r = await fetch("/api/figures/" + b.dataset.id, { method: "DELETE" });
    if (r.ok) b.closest("tr").remove(); else alert(await r.text());
  });
  async function refresh() {
    try {
      const r = await fetch("/api/figures");
      if (!r.ok) return;
      const list = await r.json();
      rows.innerHTML = list.length ? list.map((f) =>
        "<tr data-figure=\"" + f.id + "\"><td><a href=\"/plot/" + f.id + "\">" + text(f.title) + "</a></td><td>" +
        f.points.length + "</td><td>" + f.points.reduce((a, b) => a + b, 0) + "</td><td>" +
        (f.streams > 0 ? "live · " + f.streams : "idle") + "</td><td><button data-id=\"" + f.id +
        "\" data-title=\"" + text(f.title) + "\">delete</button></td></tr>").join("") : EMPTY;
      document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
    } catch (e) { /* the viewer is restarting: try again */ }
  }
  const EMPTY = rows.dataset.empty;
  setInterval(refresh, 2000);
})();</script>"#;

/// What the list says without figures.
const NO_FIGURES: &str = "No figures yet: stream to this server, or POST a figure to /api/figures.";

/// `GET /`: the live figures, each with a delete button.
pub(crate) async fn index(State(viewer): State<Viewer>) -> Html<String> {
    let mut rows = String::new();
    for f in viewer.figures() {
        let held = f.points();
        let streams = viewer.streams_feeding(&f);
        let _ = writeln!(
            rows,
            "<tr data-figure=\"{id}\"><td><a href=\"{page}\">{title}</a></td><td>{traces}</td><td>{points}</td>\
             <td>{state}</td><td><button data-id=\"{id}\" data-title=\"{title}\">delete</button></td></tr>",
            id = f.id,
            page = paths::plot(f.id),
            title = escape(&f.title),
            traces = held.len(),
            points = held.iter().sum::<usize>(),
            state = if streams > 0 {
                format!("live · {streams}")
            } else {
                "idle".to_owned()
            },
        );
    }
    let empty = format!("<tr><td colspan=\"5\">{NO_FIGURES}</td></tr>");
    if rows.is_empty() {
        rows.clone_from(&empty);
    }
    Html(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>plotstream</title>{ICON_LINK}\
         <style>body{{font-family:system-ui,sans-serif;margin:2em}}td,th{{padding:.3em 1em;text-align:left}}</style></head>\
         <body><h1>plotstream</h1><p>Live figures on this viewer (plotly.js {PLOTLY_VERSION}).</p>\
         <table><thead><tr><th>figure</th><th>traces</th><th>points held</th><th>streams</th><th></th></tr></thead>\
         <tbody id=\"figures\" data-empty=\"{empty_attr}\">\n{rows}</tbody></table>\
         <p><a href=\"{metrics}\">metrics</a> · <a href=\"{figures}\">figures as JSON</a></p>{INDEX_SCRIPT}</body></html>\n",
        empty_attr = escape(&empty),
        metrics = paths::METRICS,
        figures = paths::FIGURES,
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
    // The smaller bundle when it draws every trace: the browser evaluates
    // it in a quarter of the time, most of the wait for the first plot.
    let bundle = Bundle::for_types(
        f.template()
            .data
            .iter()
            .map(|t| t.kind.as_deref().unwrap_or("scatter")),
    );
    let (plot_height, status, controls) = if embed {
        ("100%", "display:none", String::new())
    } else {
        (
            "calc(100% - 4em)",
            "height:2em;line-height:2em;padding:0 1em;font:12px monospace;color:#555",
            format!(
                "<div id=\"controls\"><button id=\"pause\" title=\"space\">pause</button> \
                 <label>window <select id=\"window\"><option value=\"10\">last 10 s</option>\
                 <option value=\"60\">last minute</option><option value=\"all\" selected>all retained</option>\
                 </select></label> <a href=\"{csv}\" download>CSV</a> \
                 <a href=\"{ndjson}\" download>NDJSON</a> \
                 <button id=\"png\">PNG</button></div>",
                csv = paths::figure_file(id, "data.csv"),
                ndjson = paths::figure_file(id, "data.ndjson"),
            ),
        )
    };
    Ok(format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title} · plotstream</title>\
         <meta name=\"viewport\" content=\"width=device-width\">{ICON_LINK}\
         <style>html,body{{margin:0;height:100%;font-family:system-ui,sans-serif}}\
         #plot{{width:100%;height:{plot_height}}}\
         #status{{{status}}}\
         #controls{{height:2em;line-height:2em;padding:0 1em;font:12px system-ui,sans-serif}}</style>\
         <script defer src=\"/static/{file}\"></script></head>\
         <body>{controls}<div id=\"plot\"></div>\
         <div id=\"status\" data-state=\"connecting\" data-points=\"0\" data-updates=\"0\">connecting…</div>\
         <script src=\"/static/plot.js\" data-figure=\"{id}\" data-bundle=\"{bundle}\"></script></body></html>\n",
        title = escape(&f.title),
        file = bundle.file_name(),
        bundle = bundle.name(),
    ))
}

/// How long a browser may keep a static file.
#[derive(Clone, Copy)]
enum Caching {
    /// For good: the URL names the version, so its content never changes.
    Immutable,
    /// A day: the URL stays while the content may change with the viewer.
    Day,
    /// Asks each time; the ETag makes the answer a 304 when nothing changed.
    Revalidate,
}

/// `GET /static/{file}`: plotly.js (both bundles, by their versioned
/// names; `plotly.min.js`, the full bundle, under its old name too), the
/// page's script and the icon.
pub(crate) async fn static_file(
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    const JS: &str = "text/javascript; charset=utf-8";
    let bundle = [Bundle::Full, Bundle::Basic]
        .into_iter()
        .find(|b| b.file_name() == file);
    Ok(match (bundle, file.as_str()) {
        (Some(b), _) => asset(
            &headers,
            JS,
            b.js().as_bytes(),
            Some(b.gzip()),
            Caching::Immutable,
        ),
        (None, "plotly.min.js") => asset(
            &headers,
            JS,
            Bundle::Full.js().as_bytes(),
            Some(Bundle::Full.gzip()),
            Caching::Day,
        ),
        (None, "plot.js") => asset(&headers, JS, PLOT_JS.as_bytes(), None, Caching::Revalidate),
        (None, "favicon.svg") => favicon(headers).await,
        _ => {
            return Err(Error::NotFound {
                path: format!("/static/{}", file.chars().take(64).collect::<String>()),
            });
        }
    })
}

/// `GET /favicon.ico` (which browsers ask for whatever a page names) and
/// `/static/favicon.svg`: the icon.
pub(crate) async fn favicon(headers: HeaderMap) -> Response {
    asset(
        &headers,
        "image/svg+xml",
        FAVICON_SVG.as_bytes(),
        None,
        Caching::Revalidate,
    )
}

/// A static file's answer: gzipped when the browser accepts it and there
/// is a gzipped copy, 304 when the browser's copy (`If-None-Match`) is
/// this one.
fn asset(
    headers: &HeaderMap,
    content_type: &'static str,
    body: &'static [u8],
    gzipped: Option<&'static [u8]>,
    caching: Caching,
) -> Response {
    // Versioned files are named by their version; small ones by a hash.
    let etag = match caching {
        Caching::Immutable | Caching::Day => format!("\"plotly-{PLOTLY_VERSION}-{}\"", body.len()),
        Caching::Revalidate => format!("\"{:016x}\"", fnv1a(body)),
    };
    let cache = match caching {
        Caching::Immutable => "public, max-age=31536000, immutable",
        Caching::Day => "public, max-age=86400",
        Caching::Revalidate => "no-cache",
    };
    let mut response = if if_none_match(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match gzipped.filter(|_| accepts_gzip(headers)) {
            Some(gz) => ([(header::CONTENT_ENCODING, "gzip")], gz).into_response(),
            None => body.into_response(),
        }
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if gzipped.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// Whether `Accept-Encoding` takes gzip (and does not refuse it, `;q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// FNV-1a, 64 bits: a small static file's ETag.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn gzip_is_sent_to_browsers_that_take_it() {
        for yes in [
            "gzip",
            "gzip, deflate, br",
            "br;q=1, gzip;q=0.5",
            "*",
            "GZIP",
        ] {
            assert!(accepts_gzip(&headers(&[("accept-encoding", yes)])), "{yes}");
        }
        for no in ["", "br", "identity", "gzip;q=0", "deflate, gzip ; q=0"] {
            assert!(!accepts_gzip(&headers(&[("accept-encoding", no)])), "{no}");
        }
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn a_browser_with_this_copy_gets_304() {
        let etag = format!("\"{:016x}\"", fnv1a(PLOT_JS.as_bytes()));
        let r = asset(
            &headers(&[("if-none-match", "\"0000000000000000\"")]),
            "text/javascript",
            PLOT_JS.as_bytes(),
            None,
            Caching::Revalidate,
        );
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::ETAG], etag.as_str());
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&etag).expect("a header"),
        );
        let r = asset(
            &h,
            "text/javascript",
            PLOT_JS.as_bytes(),
            None,
            Caching::Revalidate,
        );
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
    }
}
