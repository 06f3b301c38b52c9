//! WebSocket: one connection per stream, one text frame per write; pings
//! are answered, and the server's close code is kept.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::SinkExt;
use futures_util::stream::{SplitSink, StreamExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Closed, Message, Publish, PublishError, fill};

/// Where the streams go, and the headers they send.
#[derive(Debug)]
pub(crate) struct Config {
    /// `ws://host:port/path`, `{token}` filled per stream.
    pub(crate) url: String,
    /// Extra request headers (auth, routing).
    pub(crate) headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(crate) struct Ws {
    sink: SplitSink<Socket, Frame>,
    /// Reads the server's frames (answering pings); ends with its close code.
    reader: JoinHandle<Option<String>>,
    /// The server closed first, with this code.
    closed_by_server: Arc<Mutex<Option<String>>>,
    bytes: u64,
    /// Writes sent: a WebSocket confirms none of them, so if the connection
    /// does not close cleanly they are all unconfirmed.
    sent: u64,
}

/// Opens a WebSocket to `url` with `headers`.
pub(crate) async fn open(
    url: &str,
    headers: &[(http::HeaderName, http::HeaderValue)],
) -> Result<Socket, PublishError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| PublishError(format!("{url}: {e}")))?;
    for (name, value) in headers {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    let (socket, _) = tokio::time::timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(request),
    )
    .await
    .map_err(|_| PublishError(format!("cannot connect to {url}: no answer within 10 s")))?
    .map_err(|e| PublishError(format!("cannot connect to {url}: {e}")))?;
    Ok(socket)
}

impl Publish for Ws {
    type Config = Config;

    async fn connect(
        config: &Config,
        token: &str,
        _local: Option<std::net::IpAddr>,
    ) -> Result<Self, PublishError> {
        let socket = open(&fill(&config.url, token), &config.headers).await?;
        let (sink, mut stream) = socket.split();
        let closed_by_server = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&closed_by_server);
        let reader = tokio::spawn(async move {
            while let Some(frame) = stream.next().await {
                match frame {
                    Ok(Frame::Close(frame)) => {
                        let code = frame.map_or_else(
                            || "close without a code".to_owned(),
                            |f| u16::from(f.code).to_string(),
                        );
                        *seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(code.clone());
                        return Some(code);
                    }
                    Ok(_) => {}
                    Err(e) => return Some(format!("error: {e}")),
                }
            }
            None
        });
        Ok(Ws {
            sink,
            reader,
            closed_by_server,
            bytes: 0,
            sent: 0,
        })
    }

    async fn send(&mut self, message: &Message<'_>) -> Result<(), PublishError> {
        if let Some(code) = self
            .closed_by_server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Err(PublishError(format!(
                "the server closed the WebSocket ({code})"
            )));
        }
        let text = String::from_utf8_lossy(message.payload).into_owned();
        self.bytes += text.len() as u64;
        self.sent += 1;
        self.sink
            .send(Frame::text(text))
            .await
            .map_err(|e| PublishError(format!("WebSocket send: {e}")))
    }

    async fn close(mut self) -> Closed {
        let mut closed = Closed {
            bytes: self.bytes,
            ..Closed::default()
        };
        let server_first = self
            .closed_by_server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(code) = server_first {
            closed.error = Some(format!("the server closed the WebSocket ({code})"));
            closed.status = Some(code);
            closed.unconfirmed = self.sent;
            return closed;
        }
        let normal = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        let _ = self.sink.send(Frame::Close(Some(normal))).await;
        closed.status = match tokio::time::timeout(Duration::from_secs(5), self.reader).await {
            Ok(Ok(Some(code))) => Some(code),
            _ => {
                closed.error = Some("the server did not answer the close".to_owned());
                closed.unconfirmed = self.sent;
                Some("no close".to_owned())
            }
        };
        closed
    }
}
