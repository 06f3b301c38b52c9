//! The part of Chart Studio's v2 REST API that Plotly's Python client
//! (chart_studio 1.1.0) calls for `py.plot` and `py.iplot`, and the pages
//! its URLs name, so that Plotly's notebooks run unchanged against the
//! viewer:
//!
//! - `GET /v2/files/lookup?path=P`: the file of that name (404 if none).
//! - `POST /v2/plots`, `PUT /v2/plots/{fid}`: a figure made, or made again
//!   under its name (the same id, so its URL stays).
//! - `POST /v2/grids`, `DELETE /v2/grids/{fid}`: data columns that a figure
//!   names by `xsrc`, `ysrc`, … (`owner:grid:column`); they are put back
//!   into the figure when it is made.
//! - `GET /~{owner}/{id}` (the figure's page) and `GET /~{owner}/{id}.embed`
//!   (a bare page for an iframe, which `tls.embed` and `py.iplot` make).
//!
//! A file id is `owner:N`, the owner the username of the request's basic
//! credentials (any name and key are taken: loopback has no accounts).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::api::{figure_body, not_a_figure, origin};
use crate::{Error, Viewer};

/// The most plot names held, and the longest name kept.
const MAX_FILES: usize = 10_000;
const MAX_NAME_LEN: usize = 1_000;

/// The most grids held, each at most
/// [`Config::max_figure_bytes`](crate::Config::max_figure_bytes): a grid
/// only carries a figure's columns until the figure is made, so past this
/// the oldest goes.
const MAX_GRIDS: usize = 100;

/// How deep a figure's `…src` references are looked for.
const MAX_SRC_DEPTH: usize = 10;

/// What Chart Studio's API keeps beside the figures: names and grids.
#[derive(Debug, Default)]
pub(crate) struct Files {
    inner: Mutex<FilesInner>,
}

#[derive(Debug, Default)]
struct FilesInner {
    /// A file's name (with its folder) → the plot's figure id.
    plots: HashMap<String, u64>,
    /// A grid's name → its id.
    grid_names: HashMap<String, u64>,
    /// A grid's id → its columns by uid.
    grids: HashMap<u64, HashMap<String, Value>>,
    next_grid: u64,
}

impl Files {
    fn lock(&self) -> std::sync::MutexGuard<'_, FilesInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Puts back the plot names a store kept.
    pub(crate) fn restore(&self, names: Vec<(String, u64)>) {
        let mut files = self.lock();
        for (name, id) in names.into_iter().take(MAX_FILES) {
            files.plots.insert(name, id);
        }
    }
}

/// The owner named by the request's basic credentials (`plotstream` if
/// none), kept to letters, digits, `-`, `_` and `.`.
fn owner(headers: &HeaderMap) -> String {
    let name = headers
        .get("plotly-authorization")
        .or_else(|| headers.get(header::AUTHORIZATION))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|pair| pair.split(':').next().map(str::to_owned))
        .unwrap_or_default();
    let clean: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(64)
        .collect();
    if clean.is_empty() {
        "plotstream".to_owned()
    } else {
        clean
    }
}

/// The number of a file id `owner:N`.
fn local_id(fid: &str) -> Result<u64, Error> {
    fid.rsplit(':')
        .next()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error::NotFound {
            path: format!("file {}", fid.chars().take(100).collect::<String>()),
        })
}

/// A file's full name: `parent_path/filename`, or `None` if it has none.
fn full_name(body: &Map<String, Value>) -> Option<String> {
    let name = body.get("filename")?.as_str()?;
    Some(match body.get("parent_path").and_then(Value::as_str) {
        Some(parent) if !parent.is_empty() => format!("{parent}/{name}"),
        _ => name.to_owned(),
    })
}

/// The file's answer, as Chart Studio gives it.
fn file_json(owner: &str, base: &str, id: u64, filetype: &str, name: Option<&str>) -> Value {
    json!({
        "fid": format!("{owner}:{id}"),
        "filetype": filetype,
        "filename": name.unwrap_or_default(),
        "web_url": format!("{base}/~{owner}/{id}/"),
        "share_key": "",
        "share_key_enabled": false,
        "world_readable": true,
    })
}

/// Reads a JSON object body of at most the figure limit.
async fn body_object(viewer: &Viewer, body: axum::body::Body) -> Result<Map<String, Value>, Error> {
    let bytes = figure_body(viewer, body).await?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::InvalidFigure {
            reason: "the body is not a JSON object".to_owned(),
        }),
    }
}

#[derive(Deserialize)]
pub(crate) struct LookupQuery {
    path: String,
}

/// `GET /v2/files/lookup?path=P`.
pub(crate) async fn lookup(
    State(viewer): State<Viewer>,
    headers: HeaderMap,
    Query(q): Query<LookupQuery>,
) -> Result<Json<Value>, Error> {
    let path = q.path.trim_end_matches('/');
    let files = viewer.files().lock();
    let (owner, base) = (owner(&headers), origin(&headers));
    if let Some(&id) = files.plots.get(path)
        && viewer.figure(id).is_ok()
    {
        return Ok(Json(file_json(&owner, &base, id, "plot", Some(path))));
    }
    if let Some(&id) = files.grid_names.get(path) {
        return Ok(Json(file_json(&owner, &base, id, "grid", Some(path))));
    }
    Err(Error::NotFound {
        path: format!("file {}", path.chars().take(100).collect::<String>()),
    })
}

/// Puts the grid columns a figure names (`xsrc: "owner:grid:uid"`) back
/// into it, as `x`, to [`MAX_SRC_DEPTH`].
fn resolve_sources(value: &mut Value, files: &FilesInner, depth: usize) {
    if depth > MAX_SRC_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => {
            let sources: Vec<(String, String)> = map
                .iter()
                .filter_map(|(k, v)| {
                    Some((k.strip_suffix("src")?.to_owned(), v.as_str()?.to_owned()))
                })
                .filter(|(k, _)| !k.is_empty())
                .collect();
            for (key, reference) in sources {
                let mut parts = reference.rsplitn(3, ':');
                let (Some(uid), Some(grid)) = (parts.next(), parts.next()) else {
                    continue;
                };
                let column = grid
                    .parse::<u64>()
                    .ok()
                    .and_then(|g| files.grids.get(&g))
                    .and_then(|cols| cols.get(uid));
                if let Some(data) = column {
                    map.remove(&format!("{key}src"));
                    map.insert(key, data.clone());
                }
            }
            for v in map.values_mut() {
                resolve_sources(v, files, depth + 1);
            }
        }
        Value::Array(items) => {
            for v in items {
                resolve_sources(v, files, depth + 1);
            }
        }
        _ => {}
    }
}

/// A plot body's name and figure, its grid references resolved.
async fn plot_body(
    viewer: &Viewer,
    body: axum::body::Body,
) -> Result<(Option<String>, plotstream_protocol::Figure), Error> {
    let mut body = body_object(viewer, body).await?;
    let name = full_name(&body);
    let mut figure = body.remove("figure").ok_or_else(|| Error::InvalidFigure {
        reason: "the plot has no \"figure\"".to_owned(),
    })?;
    resolve_sources(&mut figure, &viewer.files().lock(), 0);
    let figure = serde_json::from_value(figure).map_err(|e| not_a_figure(&e))?;
    Ok((name, figure))
}

/// The answer about plot `id`: `{"file": …}`.
fn plot_file(headers: &HeaderMap, id: u64, name: Option<&str>) -> Json<Value> {
    let file = file_json(&owner(headers), &origin(headers), id, "plot", name);
    Json(json!({ "file": file }))
}

/// `POST /v2/plots`: 201 with the file.
pub(crate) async fn create_plot(
    State(viewer): State<Viewer>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, Error> {
    let (name, figure) = plot_body(&viewer, body).await?;
    let id = viewer.add_figure(figure)?;
    if let Some(name) = name.as_ref().filter(|n| n.len() <= MAX_NAME_LEN) {
        let named = {
            let mut files = viewer.files().lock();
            let room = files.plots.len() < MAX_FILES || files.plots.contains_key(name);
            if room {
                files.plots.insert(name.clone(), id);
            }
            room
        };
        if let (true, Some(store)) = (named, viewer.store()) {
            store
                .put_name(name, id)
                .map_err(|e| viewer.store_failed(e))?;
        }
    }
    Ok((
        StatusCode::CREATED,
        plot_file(&headers, id, name.as_deref()),
    )
        .into_response())
}

/// `PUT /v2/plots/{fid}`: the figure made again under its id.
pub(crate) async fn update_plot(
    State(viewer): State<Viewer>,
    headers: HeaderMap,
    Path(fid): Path<String>,
    body: axum::body::Body,
) -> Result<Json<Value>, Error> {
    let id = local_id(&fid)?;
    let (name, figure) = plot_body(&viewer, body).await?;
    viewer.replace_figure(id, figure)?;
    Ok(plot_file(&headers, id, name.as_deref()))
}

/// `POST /v2/grids`: 201 with the file and its columns' uids.
pub(crate) async fn create_grid(
    State(viewer): State<Viewer>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, Error> {
    let body = body_object(&viewer, body).await?;
    let name = full_name(&body);
    let cols = body
        .get("data")
        .and_then(|d| d.get("cols"))
        .and_then(Value::as_object)
        .ok_or_else(|| Error::InvalidFigure {
            reason: "the grid has no data.cols".to_owned(),
        })?;
    let mut files = viewer.files().lock();
    while files.grids.len() >= MAX_GRIDS {
        let Some(&oldest) = files.grids.keys().min() else {
            break;
        };
        files.grids.remove(&oldest);
        files.grid_names.retain(|_, g| *g != oldest);
    }
    files.next_grid += 1;
    let id = files.next_grid;
    let mut columns = HashMap::new();
    let mut listed = Vec::new();
    for (i, (col_name, col)) in cols.iter().enumerate() {
        let uid = format!("c{i}");
        columns.insert(
            uid.clone(),
            col.get("data").cloned().unwrap_or(Value::Array(Vec::new())),
        );
        listed.push(json!({"name": col_name, "uid": uid}));
    }
    files.grids.insert(id, columns);
    if let Some(name) = name.as_ref().filter(|n| n.len() <= MAX_NAME_LEN) {
        files.grid_names.insert(name.clone(), id);
    }
    let mut file = file_json(
        &owner(&headers),
        &origin(&headers),
        id,
        "grid",
        name.as_deref(),
    );
    file["cols"] = Value::Array(listed);
    Ok((StatusCode::CREATED, Json(json!({"file": file}))).into_response())
}

/// `DELETE /v2/grids/{fid}`: 204.
pub(crate) async fn delete_grid(
    State(viewer): State<Viewer>,
    Path(fid): Path<String>,
) -> Result<StatusCode, Error> {
    let id = local_id(&fid)?;
    let mut files = viewer.files().lock();
    files.grids.remove(&id).ok_or(Error::NotFound {
        path: format!("grid {id}"),
    })?;
    files.grid_names.retain(|_, g| *g != id);
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /~{owner}/{id}` (the figure's page) and `/~{owner}/{id}.embed` (a
/// bare page for an iframe); `/~{owner}/{id}/` too.
pub(crate) async fn owner_page(
    State(viewer): State<Viewer>,
    Path((who, file)): Path<(String, String)>,
) -> Result<Response, Error> {
    let not_found = || Error::NotFound {
        path: format!(
            "/{}/{}",
            who.chars().take(64).collect::<String>(),
            file.chars().take(64).collect::<String>()
        ),
    };
    if !who.starts_with('~') {
        return Err(not_found());
    }
    let (number, embed) = match file.strip_suffix(".embed") {
        Some(n) => (n, true),
        None => (file.as_str(), false),
    };
    let id: u64 = number.parse().map_err(|_| not_found())?;
    viewer.figure(id)?;
    if embed {
        Ok(crate::page::embed(&viewer, id)?.into_response())
    } else {
        Ok(Redirect::to(&plotstream_protocol::paths::plot(id)).into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_the_basic_credentials_username_kept_clean() {
        let mut h = HeaderMap::new();
        assert_eq!(owner(&h), "plotstream");
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:key");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {basic}").parse().expect("a header"),
        );
        assert_eq!(owner(&h), "alice");
        let odd = base64::engine::general_purpose::STANDARD.encode("<b>x</b>/../y:key");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {odd}").parse().expect("a header"),
        );
        assert_eq!(owner(&h), "bxb..y", "only letters, digits, - _ .");
    }

    #[test]
    fn grid_references_are_put_back_and_unknown_ones_left() {
        let mut files = FilesInner::default();
        files.grids.insert(
            3,
            HashMap::from([
                ("c0".to_owned(), json!([1, 2])),
                ("c1".to_owned(), json!([5])),
            ]),
        );
        let mut fig = json!({"data": [{"xsrc": "alice:3:c0", "marker": {"colorsrc": "alice:3:c1"}, "ysrc": "alice:9:c0"}]});
        resolve_sources(&mut fig, &files, 0);
        assert_eq!(
            fig,
            json!({"data": [{"x": [1, 2], "marker": {"color": [5]}, "ysrc": "alice:9:c0"}]})
        );
        assert_eq!(local_id("alice:12").ok(), Some(12));
        assert!(local_id("alice:x").is_err());
    }
}
