//! The JSON API: figures, streams, metrics.

use crate::config::Setting;
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use plotstream_protocol::{Figure, paths};
use serde_json::{Value, json};

use crate::{Error, Viewer};

/// `POST /api/figures`: 201 `{"id", "url"}`. The body is at most
/// [`Config::max_figure_bytes`](crate::Config::max_figure_bytes) (413 over it).
/// With `?temporary=true` the figure is held in memory only
/// ([`Viewer::add_temporary_figure`]).
pub(crate) async fn create_figure(
    State(viewer): State<Viewer>,
    query: Result<Query<CreateQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    let Query(query) = query.map_err(|e| Error::InvalidFigure {
        reason: format!(
            "the query takes only temporary=true or false: {}",
            e.body_text()
        ),
    })?;
    let body = figure_body(&viewer, body).await?;
    let figure: Figure = serde_json::from_slice(&body).map_err(|e| not_a_figure(&e))?;
    let id = if query.temporary {
        viewer.add_temporary_figure(figure)?
    } else {
        viewer.add_figure(figure)?
    };
    let url = format!("{}{}", origin(&headers), paths::plot(id));
    Ok((StatusCode::CREATED, Json(json!({"id": id, "url": url}))).into_response())
}

/// `POST /api/figures`'s query.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateQuery {
    /// Held in memory only, never saved.
    #[serde(default)]
    temporary: bool,
}

/// A body that carries a figure: at most
/// [`Config::max_figure_bytes`](crate::Config::max_figure_bytes) (413 over it).
pub(crate) async fn figure_body(viewer: &Viewer, body: Body) -> Result<bytes::Bytes, Error> {
    let config = viewer.config();
    let limit = config.max_figure_bytes;
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| Error::FigureTooLarge {
            limit,
            setting: config.setting_name(Setting::MaxFigureBytes),
        })
}

/// JSON that does not make a figure, said as a 400.
pub(crate) fn not_a_figure(e: &serde_json::Error) -> Error {
    Error::InvalidFigure {
        reason: format!("not a Plotly figure: {e}"),
    }
}

/// `http://host` of the request, for the URLs the API answers with.
pub(crate) fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// `GET /api/figures`: every figure's id, title, page, points held (per
/// trace) and the streams feeding it now.
pub(crate) async fn list_figures(State(viewer): State<Viewer>) -> Json<Value> {
    let list: Vec<Value> = viewer
        .figures()
        .iter()
        .map(|f| {
            json!({"id": f.id, "title": f.title, "url": paths::plot(f.id),
                   "points": f.points(), "streams": viewer.streams_feeding(f)})
        })
        .collect();
    Json(Value::Array(list))
}

/// `GET /api/figures/{id}`: the figure with the points it holds now.
pub(crate) async fn get_figure(
    State(viewer): State<Viewer>,
    Path(id): Path<u64>,
) -> Result<Json<Value>, Error> {
    Ok(Json(viewer.figure(id)?.snapshot()))
}

/// `GET /api/figures/{id}/data.csv` and `data.ndjson`: the points it holds
/// ([`crate::export`]), as a download.
pub(crate) async fn figure_data(
    State(viewer): State<Viewer>,
    Path((id, file)): Path<(u64, String)>,
    uri: Uri,
) -> Result<Response, Error> {
    let Some(format) = crate::export::Format::of(&file) else {
        return Err(not_found(uri).await);
    };
    let body = viewer.figure(id)?.export(format);
    let disposition = format!(
        "attachment; filename=\"figure-{id}.{}\"",
        format.extension()
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// `DELETE /api/figures/{id}`: 204.
pub(crate) async fn delete_figure(
    State(viewer): State<Viewer>,
    Path(id): Path<u64>,
) -> Result<StatusCode, Error> {
    viewer.delete_figure(id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/streams/{token}`.
pub(crate) async fn get_stream(
    State(viewer): State<Viewer>,
    Path(token): Path<String>,
) -> Result<Json<Value>, Error> {
    viewer
        .stream_json(&token)
        .map(Json)
        .ok_or(Error::UnknownToken {
            token,
            setting: viewer.config().setting_name(Setting::Open),
        })
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(viewer): State<Viewer>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        viewer.metrics_text(),
    )
        .into_response()
}

/// Any other path: 404 naming it.
pub(crate) async fn not_found(uri: Uri) -> Error {
    Error::NotFound {
        path: uri.path().chars().take(200).collect(),
    }
}
