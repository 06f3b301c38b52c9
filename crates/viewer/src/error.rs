//! The viewer's one error type: what its library functions fail with, and
//! every error answer its server gives ([`IntoResponse`]), in one format:
//! the status, and the message as one line of plain text.

use std::io;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// What the viewer can fail with, and how it answers each.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A [`Config`](crate::Config) limit that cannot work.
    #[error("invalid viewer config: {reason}")]
    InvalidConfig {
        /// Which limit, and why.
        reason: String,
    },
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The system's reason.
        #[source]
        source: io::Error,
    },
    /// The figure store could not be opened, read or written (500 when a
    /// request needed it).
    #[error(transparent)]
    Store(#[from] crate::StoreError),
    /// The server stopped on an I/O error.
    #[error("the viewer's server failed")]
    Serve(#[source] io::Error),
    /// A `plotstream-ack` or `plotstream-resume` header the viewer cannot
    /// take (400).
    #[error("{reason}")]
    BadAckHeaders {
        /// Which header, and why.
        reason: String,
    },
    /// A figure the viewer cannot stream into (400).
    #[error("invalid figure: {reason}")]
    InvalidFigure {
        /// What is wrong, naming the trace.
        reason: String,
    },
    /// A figure body over [`Config::max_figure_bytes`](crate::Config::max_figure_bytes) (413).
    #[error("figure is larger than the limit of {limit} bytes ({setting})")]
    FigureTooLarge {
        /// The limit.
        limit: usize,
        /// The limit's name ([`Config::setting_name`](crate::Config::setting_name)).
        setting: &'static str,
    },
    /// The viewer holds [`Config::max_figures`](crate::Config::max_figures) figures already (429).
    #[error(
        "the viewer holds {limit} figures, its limit ({setting}): delete one (DELETE /api/figures/ID) or raise the limit"
    )]
    TooManyFigures {
        /// The limit.
        limit: usize,
        /// The limit's name ([`Config::setting_name`](crate::Config::setting_name)).
        setting: &'static str,
    },
    /// The traces' newest points alone hold more than
    /// [`Config::memory_limit`](crate::Config::memory_limit): nothing old is
    /// left to drop for a new write (429).
    #[error(
        "the viewer's figures hold {used} bytes in their newest points alone, over the memory limit of {limit} bytes ({setting}): delete figures or raise the limit"
    )]
    OverMemory {
        /// The bytes held.
        used: usize,
        /// The limit.
        limit: usize,
        /// The limit's name ([`Config::setting_name`](crate::Config::setting_name)).
        setting: &'static str,
    },
    /// No figure has this id (404).
    #[error("no figure {id}")]
    NoSuchFigure {
        /// The id asked for.
        id: u64,
    },
    /// No route has this path (404).
    #[error("nothing at {path}")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// A stream without the `plotly-streamtoken` header (400).
    #[error("missing the plotly-streamtoken header: a stream needs a token")]
    MissingToken,
    /// A token that breaks the token rule (400).
    #[error(transparent)]
    InvalidToken(#[from] plotstream_protocol::TokenError),
    /// A token no figure streams from, on a closed viewer (404).
    #[error(
        "unknown stream token \"{token}\": create a figure whose trace has stream.token \"{token}\" \
         (POST /api/figures), or run the viewer open ({setting})"
    )]
    UnknownToken {
        /// The token.
        token: String,
        /// The name of the setting that opens the viewer
        /// ([`Config::setting_name`](crate::Config::setting_name)).
        setting: &'static str,
    },
    /// A line that is not a write, or is too long (400, or 413).
    #[error("stream \"{token}\"")]
    InvalidWrite {
        /// The stream's token.
        token: String,
        /// The line's number and what is wrong with it.
        #[source]
        source: plotstream_protocol::Error,
    },
    /// A write naming one more attribute than a token may stream (400).
    #[error(
        "stream \"{token}\": line {line}: attribute \"{path}\" would be column {} of this token's, over the limit of {limit} ({setting})",
        limit + 1
    )]
    TooManyColumns {
        /// The stream's token.
        token: String,
        /// The line's number.
        line: u64,
        /// The attribute over the limit (its first 64 bytes).
        path: String,
        /// The limit.
        limit: usize,
        /// The limit's name ([`Config::setting_name`](crate::Config::setting_name)).
        setting: &'static str,
    },
    /// A request body whose HTTP framing is broken (400).
    #[error(
        "stream \"{token}\": malformed request body after {lines} complete lines (all of them kept): {reason}"
    )]
    MalformedBody {
        /// The stream's token.
        token: String,
        /// Lines taken before the fault.
        lines: u64,
        /// What the HTTP parser said.
        reason: String,
    },
    /// A newer connection with the same token ended this stream (409).
    #[error("stream token \"{token}\" was taken over by a newer connection")]
    TakenOver {
        /// The token.
        token: String,
    },
    /// No write and no heartbeat for the idle timeout (408).
    #[error("stream \"{token}\" closed: idle for {} s (no write, no heartbeat)", timeout.as_secs_f64())]
    IdleTimeout {
        /// The token.
        token: String,
        /// The idle timeout.
        timeout: Duration,
    },
    /// Every figure this token fed was deleted while it streamed (410).
    #[error("stream \"{token}\" closed: its figure was deleted")]
    FigureDeleted {
        /// The token.
        token: String,
    },
    /// A `Host` header that names no allowed host (403).
    #[error(
        "host {host:?} is not served here: this viewer answers its loopback names (localhost, 127.0.0.1, [::1]) and those given in {setting}"
    )]
    HostRefused {
        /// The `Host` header's value (empty when there was none).
        host: String,
        /// The name of the setting that allows more hosts
        /// ([`Config::setting_name`](crate::Config::setting_name)).
        setting: &'static str,
    },
    /// A state-changing request that a web page could send without asking (415).
    #[error(
        "{method} {path} needs content-type: application/json (or the plotly-streamtoken header for a stream)"
    )]
    NotJson {
        /// The method.
        method: String,
        /// The path.
        path: String,
    },
}

impl Error {
    /// The message an answer carries: this error's words and those of its
    /// sources that it does not already say.
    pub fn message(&self) -> String {
        plotstream_protocol::ErrorChain(self).to_string()
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::InvalidConfig { .. }
            | Error::Bind { .. }
            | Error::Serve(_)
            | Error::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Error::InvalidFigure { .. }
            | Error::MissingToken
            | Error::InvalidToken(_)
            | Error::TooManyColumns { .. }
            | Error::BadAckHeaders { .. }
            | Error::MalformedBody { .. } => StatusCode::BAD_REQUEST,
            Error::InvalidWrite { source, .. } => match source {
                plotstream_protocol::Error::LineTooLong { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            },
            Error::FigureTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::TooManyFigures { .. } | Error::OverMemory { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            Error::NoSuchFigure { .. } | Error::NotFound { .. } | Error::UnknownToken { .. } => {
                StatusCode::NOT_FOUND
            }
            Error::TakenOver { .. } => StatusCode::CONFLICT,
            Error::IdleTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Error::FigureDeleted { .. } => StatusCode::GONE,
            Error::HostRefused { .. } => StatusCode::FORBIDDEN,
            Error::NotJson { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }
}

impl IntoResponse for Error {
    /// The status and the message, one line of text. The connection closes
    /// after it: a refused stream is over, and Plotly's Python client reads
    /// its answer until the server closes.
    fn into_response(self) -> Response {
        let mut message = self.message();
        message.push('\n');
        let mut response = (
            self.status(),
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::CONNECTION, "close"),
            ],
            message,
        )
            .into_response();
        if let Some(kind) = crate::metrics::ErrorKind::of(&self) {
            response
                .extensions_mut()
                .insert(crate::metrics::Refusal(kind));
        }
        response
    }
}
