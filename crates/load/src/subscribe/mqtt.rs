//! MQTT: a subscription of its own to the stream's topic (QoS 1); each
//! `PUBLISH` it receives is one message.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, Packet, QoS};

use super::Subscribe;
use crate::Error;

pub(crate) struct Mqtt {
    client: AsyncClient,
    events: EventLoop,
}

impl Subscribe for Mqtt {
    async fn connect(url: &str, topic: &str) -> Result<Self, Error> {
        let (host, port) = crate::checked::broker(url).map_err(Error::Subscribe)?;
        // One client id each: a broker drops a client whose id another
        // takes, and a topic may have many receivers (--subscribers).
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("sub-{}-{n}", topic.replace('/', "-"));
        let options = crate::publish::mqtt::options(&host, port, &id);
        let (client, mut events) = AsyncClient::new(options, 64);
        client
            .subscribe(topic, QoS::AtLeastOnce)
            .await
            .map_err(|e| Error::Subscribe(format!("MQTT subscribe {topic}: {e}")))?;
        // In place once the broker says so.
        let subscribed = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
        })
        .await
        .map_err(|_| {
            Error::Subscribe(format!(
                "no SUBACK for {topic} from mqtt://{host}:{port} within 10 s"
            ))
        })?;
        subscribed.map_err(|e| {
            Error::Subscribe(format!("cannot subscribe at mqtt://{host}:{port}: {e}"))
        })?;
        Ok(Mqtt { client, events })
    }

    async fn next(&mut self) -> Option<Vec<u8>> {
        loop {
            match self.events.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => return Some(p.payload.to_vec()),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    async fn close(mut self) {
        let _ = self.client.disconnect().await;
        // Let the event loop send the DISCONNECT.
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while self.events.poll().await.is_ok() {}
        })
        .await;
    }
}
