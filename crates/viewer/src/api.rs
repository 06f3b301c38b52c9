//! The JSON API: figures, streams, metrics.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use plotstream_protocol::Figure;
use serde_json::{Value, json};

use crate::Viewer;

/// `POST /api/figures`: 201 `{"id", "url"}`.
pub(crate) async fn create_figure(
    State(viewer): State<Viewer>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let figure: Figure = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": format!("not a Plotly figure: {e}")})),
            )
                .into_response();
        }
    };
    match viewer.add_figure(figure) {
        Ok(id) => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            let url = format!("http://{host}/plot/{id}");
            (StatusCode::CREATED, Json(json!({"id": id, "url": url}))).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

/// `GET /api/figures`: every figure's id, title, tokens and points held.
pub(crate) async fn list_figures(State(viewer): State<Viewer>) -> Json<Value> {
    let list: Vec<Value> = viewer
        .figures()
        .iter()
        .map(|f| json!({"id": f.id, "title": f.title, "url": format!("/plot/{}", f.id), "points": f.points()}))
        .collect();
    Json(Value::Array(list))
}

/// `GET /api/figures/{id}`: the figure with the points it holds now.
pub(crate) async fn get_figure(State(viewer): State<Viewer>, Path(id): Path<u64>) -> Response {
    match viewer.figure_json(id) {
        Some(fig) => Json(fig).into_response(),
        None => not_found(&format!("no figure {id}")),
    }
}

/// `GET /api/streams/{token}`.
pub(crate) async fn get_stream(
    State(viewer): State<Viewer>,
    Path(token): Path<String>,
) -> Response {
    match viewer.stream_json(&token) {
        Some(s) => Json(s).into_response(),
        None => not_found(&format!("unknown stream token \"{token}\"")),
    }
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(viewer): State<Viewer>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        viewer.metrics_text(),
    )
        .into_response()
}

fn not_found(error: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": error}))).into_response()
}
