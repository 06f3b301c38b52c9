//! WebSocket: each text (or binary) frame is one message.

use futures_util::StreamExt;
use futures_util::stream::SplitStream;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::Subscribe;
use crate::Error;

pub(crate) struct Ws(SplitStream<WebSocketStream<MaybeTlsStream<TcpStream>>>);

impl Subscribe for Ws {
    async fn connect(url: &str, _topic: &str) -> Result<Self, Error> {
        let socket = crate::publish::ws::open(url, &[])
            .await
            .map_err(|e| Error::Subscribe(e.to_string()))?;
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
