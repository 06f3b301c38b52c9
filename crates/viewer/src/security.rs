//! What keeps other web pages out. A viewer on loopback is reachable from
//! every page the user's browser opens, so:
//!
//! - every request must name an allowed host ([`AllowedHosts`]), which
//!   defeats DNS rebinding;
//! - a `POST` must be JSON, or a stream with its token header (`POST /`
//!   without one is refused by the stream route): a page of another origin
//!   cannot send either without a CORS preflight, and this server grants
//!   none (other state-changing methods are preflighted anyway);
//! - every answer says `X-Content-Type-Options: nosniff`.
//!
//! [`AllowedHosts`]: crate::AllowedHosts

use crate::config::Setting;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use plotstream_protocol::TOKEN_HEADER;

use crate::{Error, Viewer};

/// The guard every request passes.
pub(crate) async fn guard(State(viewer): State<Viewer>, request: Request, next: Next) -> Response {
    let mut response = match check(&viewer, &request) {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    };
    viewer.metrics().count_answer(&response);
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn check(viewer: &Viewer, request: &Request) -> Result<(), Error> {
    let headers = request.headers();
    let allowed = &viewer.config().allowed_hosts;
    let setting = viewer.config().setting_name(Setting::AllowedHosts);
    // Plotly's Python client sends Host twice: every copy must pass.
    let mut hosts = headers.get_all(header::HOST).iter().peekable();
    if hosts.peek().is_none() {
        return Err(Error::HostRefused {
            host: String::new(),
            setting,
        });
    }
    for host in hosts {
        let text = host.to_str().unwrap_or_default();
        if !allowed.allows(text) {
            return Err(Error::HostRefused {
                host: String::from_utf8_lossy(host.as_bytes())
                    .chars()
                    .take(100)
                    .collect(),
                setting,
            });
        }
    }
    // `POST /` is the stream route: without its token header it is refused
    // (400) before it changes anything.
    if request.method() == Method::POST
        && request.uri().path() != "/"
        && !headers.contains_key(TOKEN_HEADER)
        && !is_json(request)
    {
        return Err(Error::NotJson {
            method: request.method().to_string(),
            path: request.uri().path().chars().take(200).collect(),
        });
    }
    Ok(())
}

/// Whether the request says its body is JSON (`application/json`, any
/// parameters).
fn is_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}
