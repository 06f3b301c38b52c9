//! WebSocket: each text (or binary) frame is one message.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::Subscribe;
use crate::Error;

pub(crate) struct Ws(SplitStream<WebSocketStream<MaybeTlsStream<TcpStream>>>);

impl Subscribe for Ws {
    async fn connect(url: &str, _topic: &str) -> Result<Self, Error> {
        let request = url
            .into_client_request()
            .map_err(|e| Error::Subscribe(format!("{url}: {e}")))?;
        let (socket, _) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(request),
        )
        .await
        .map_err(|_| Error::Subscribe(format!("cannot connect to {url}: no answer within 10 s")))?
        .map_err(|e| Error::Subscribe(format!("cannot connect to {url}: {e}")))?;
        Ok(Ws(socket.split().1))
    }

    async fn next(&mut self) -> Option<Vec<u8>> {
        loop {
            match self.0.next().await? {
                Ok(Frame::Text(text)) => return Some(text.as_bytes().to_vec()),
                Ok(Frame::Binary(bytes)) => return Some(bytes.to_vec()),
                Ok(Frame::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}
