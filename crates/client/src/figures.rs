//! Creating a figure on a plotstream viewer (`POST /api/figures`).

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use plotstream_protocol::{Figure, paths};
use serde::Deserialize;

use crate::conn;
use crate::target::Target;
use crate::{Error, StreamOptions};

/// What a plotstream viewer answers to a new figure.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct CreatedFigure {
    /// The figure's id.
    pub id: u64,
    /// The page that draws it live.
    pub url: String,
}

/// Creates `figure` on the plotstream viewer at `url` (its base URL, such as
/// `http://127.0.0.1:8080`), so that streams to its tokens draw into it.
///
/// This is the viewer's own API, not part of the Plotly streaming protocol;
/// other stream servers do not have it.
pub async fn create_figure(
    url: &str,
    figure: &Figure,
    opts: &StreamOptions,
) -> Result<CreatedFigure, Error> {
    create(url, figure, paths::FIGURES, opts).await
}

/// Creates `figure` as [`create_figure`] does, but held in the viewer's
/// memory only: never saved in its store, and dropped by the viewer once
/// idle (its open-figure TTL, 10 minutes by default) if nobody deletes it
/// first. For figures made to be thrown away, such as a load test's.
pub async fn create_temporary_figure(
    url: &str,
    figure: &Figure,
    opts: &StreamOptions,
) -> Result<CreatedFigure, Error> {
    create(url, figure, paths::TEMPORARY_FIGURES, opts).await
}

async fn create(
    url: &str,
    figure: &Figure,
    path: &str,
    opts: &StreamOptions,
) -> Result<CreatedFigure, Error> {
    let body = serde_json::to_vec(figure)
        .map_err(|source| plotstream_protocol::Error::Encode { source })?;
    let (addr, status, text) = call(url, Method::POST, path, Some(body), opts).await?;
    if status != 201 {
        return Err(Error::Status {
            addr,
            status,
            body: text,
        });
    }
    serde_json::from_str(&text).map_err(|e| Error::Status {
        addr,
        status,
        body: format!("not a created figure ({e}): {text}"),
    })
}

/// Whether the server at `url` is a plotstream viewer: whether it answers
/// `GET /api/figures` with a JSON list. Another Plotly-protocol server has
/// no such API. An error only when the server cannot be reached.
pub async fn is_viewer(url: &str, opts: &StreamOptions) -> Result<bool, Error> {
    let (_, status, body) = call(url, Method::GET, paths::FIGURES, None, opts).await?;
    Ok(status == 200 && serde_json::from_str::<Vec<serde_json::Value>>(&body).is_ok())
}

/// The figures that `token` feeds on the plotstream viewer at `url` (not
/// counting a stand-in the viewer made for the token on its own, which a
/// real figure replaces); `None` when `url` is not a plotstream viewer (it
/// has no `GET /api/figures`), such as another Plotly-protocol server.
/// The viewer's own API, as [`create_figure`].
pub async fn figures_fed_by(
    url: &str,
    token: &str,
    opts: &StreamOptions,
) -> Result<Option<Vec<u64>>, Error> {
    if !is_viewer(url, opts).await? {
        return Ok(None);
    }
    plotstream_protocol::check_token(token).map_err(|reason| Error::InvalidToken {
        token: token.to_owned(),
        reason,
    })?;
    let (addr, status, body) = call(url, Method::GET, &paths::stream(token), None, opts).await?;
    match status {
        404 => Ok(Some(Vec::new())),
        200 => {
            #[derive(Deserialize)]
            struct Fed {
                figures: Vec<u64>,
            }
            serde_json::from_str::<Fed>(&body)
                .map(|f| Some(f.figures))
                .map_err(|e| Error::Status {
                    addr,
                    status,
                    body: format!("not a stream's figures ({e}): {body}"),
                })
        }
        _ => Err(Error::Status { addr, status, body }),
    }
}

/// Deletes figure `id` from the plotstream viewer at `url`; its streams and
/// event streams end. The viewer's own API, as [`create_figure`].
pub async fn delete_figure(url: &str, id: u64, opts: &StreamOptions) -> Result<(), Error> {
    let (addr, status, body) = call(url, Method::DELETE, &paths::figure(id), None, opts).await?;
    match status {
        204 => Ok(()),
        _ => Err(Error::Status { addr, status, body }),
    }
}

/// One request to the viewer's API under `url` (`path` from [`paths`]): its `host:port`, the
/// answer's status and body.
async fn call(
    url: &str,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
    opts: &StreamOptions,
) -> Result<(String, u16, String), Error> {
    let target = Target::parse(url)?;
    let mut sender = conn::open::<Full<Bytes>>(&target, opts).await?;
    let path = format!("{}{path}", target.path.trim_end_matches('/'));
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, &target.host_header);
    if body.is_some() {
        request = request.header(CONTENT_TYPE, "application/json");
    }
    let body = body.unwrap_or_default();
    let request = request
        .header(CONTENT_LENGTH, body.len())
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| Error::InvalidUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    let http = |source| Error::Http {
        addr: target.addr.clone(),
        source,
    };
    let response = sender.send_request(request).await.map_err(http)?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(http)?
        .to_bytes();
    Ok((
        target.addr.clone(),
        status,
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}
