//! MQTT: one client per stream, each write one `PUBLISH` to the stream's
//! topic at the chosen QoS. At QoS 1 and 2 the broker's acknowledgement
//! (`PUBACK`, `PUBCOMP`) gives an ack latency per write.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{Closed, Message, Publish, PublishError, fill};
use crate::report;

/// The broker, the topic template and the QoS.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `plotstream/{token}` by default.
    pub(crate) topic: String,
    pub(crate) qos: QoS,
    /// Broker acknowledgement latency of every write (QoS 1 and 2).
    pub(crate) acks: Arc<Mutex<hdrhistogram::Histogram<u64>>>,
}

/// The host and port of an `mqtt://host[:port]` URL.
pub(crate) fn broker(url: &str) -> Result<(String, u16), String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    if uri.scheme_str() != Some("mqtt") {
        return Err(format!(
            "{url:?}: an MQTT broker's URL is mqtt://host[:port]"
        ));
    }
    let host = uri.host().ok_or_else(|| format!("{url:?} has no host"))?;
    Ok((host.to_owned(), uri.port_u16().unwrap_or(1883)))
}

/// The options of every client: client id, broker, keep-alive, 1 MiB packets.
pub(crate) fn options(host: &str, port: u16, id: &str) -> MqttOptions {
    let mut options = MqttOptions::new(id, host, port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(1 << 20, 1 << 20);
    options
}

/// Connects a client with its own event loop task; `on_event` sees every
/// event. The client is connected (CONNACK) when this returns.
pub(crate) async fn client(
    host: &str,
    port: u16,
    id: &str,
    mut on_event: impl FnMut(&Event) + Send + 'static,
) -> Result<(AsyncClient, JoinHandle<Option<String>>), PublishError> {
    let (client, mut events): (AsyncClient, EventLoop) =
        AsyncClient::new(options(host, port, id), 64);
    // Wait for the CONNACK before the stream counts as open.
    let connected = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .map_err(|_| {
        PublishError(format!(
            "cannot connect to mqtt://{host}:{port}: no CONNACK within 10 s"
        ))
    })?;
    connected.map_err(|e| PublishError(format!("cannot connect to mqtt://{host}:{port}: {e}")))?;
    let task = tokio::spawn(async move {
        loop {
            match events.poll().await {
                Ok(event) => {
                    let end = matches!(event, Event::Outgoing(Outgoing::Disconnect));
                    on_event(&event);
                    if end {
                        return None;
                    }
                }
                Err(e) => return Some(e.to_string()),
            }
        }
    });
    Ok((client, task))
}

pub(crate) struct Mqtt {
    client: AsyncClient,
    events: JoinHandle<Option<String>>,
    topic: String,
    qos: QoS,
    /// When each write not yet acknowledged was handed over, oldest first.
    pending: Arc<Mutex<VecDeque<Instant>>>,
    bytes: u64,
    /// Writes published (at QoS 0 none is confirmed).
    sent: u64,
}

impl Publish for Mqtt {
    type Config = Config;

    async fn connect(
        config: &Config,
        token: &str,
        _local: Option<std::net::IpAddr>,
    ) -> Result<Self, PublishError> {
        let pending: Arc<Mutex<VecDeque<Instant>>> = Arc::default();
        let (qos, acks, waiting) = (config.qos, Arc::clone(&config.acks), Arc::clone(&pending));
        let on_event = move |event: &Event| {
            // The broker acknowledges in order on one connection.
            let done = matches!(
                (qos, event),
                (QoS::AtLeastOnce, Event::Incoming(Packet::PubAck(_)))
                    | (QoS::ExactlyOnce, Event::Incoming(Packet::PubComp(_)))
            );
            if done {
                let sent = waiting
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop_front();
                if let Some(sent) = sent {
                    report::record(
                        &mut acks.lock().unwrap_or_else(PoisonError::into_inner),
                        sent.elapsed(),
                    );
                }
            }
        };
        let (client, events) = client(&config.host, config.port, token, on_event).await?;
        Ok(Mqtt {
            client,
            events,
            topic: fill(&config.topic, token),
            qos: config.qos,
            pending,
            bytes: 0,
            sent: 0,
        })
    }

    async fn send(&mut self, message: &Message<'_>) -> Result<(), PublishError> {
        if self.events.is_finished() {
            return Err(PublishError("the MQTT connection ended".to_owned()));
        }
        if self.qos != QoS::AtMostOnce {
            self.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push_back(Instant::now());
        }
        self.bytes += message.payload.len() as u64;
        self.sent += 1;
        self.client
            .publish(
                self.topic.as_str(),
                self.qos,
                false,
                message.payload.to_vec(),
            )
            .await
            .map_err(|e| PublishError(format!("MQTT publish: {e}")))
    }

    async fn close(self) -> Closed {
        let mut closed = Closed {
            bytes: self.bytes,
            ..Closed::default()
        };
        // At QoS 1 and 2, wait (5 s at most) for the last acknowledgements.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline
            && !self.events.is_finished()
            && !self
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let unacked = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len() as u64;
        closed.unconfirmed = unacked;
        let _ = self.client.disconnect().await;
        match tokio::time::timeout(Duration::from_secs(5), self.events).await {
            Ok(Ok(None)) => closed.status = Some("disconnected".to_owned()),
            Ok(Ok(Some(e))) => {
                closed.status = Some("error".to_owned());
                closed.error = Some(format!("MQTT connection: {e}"));
            }
            _ => {
                closed.status = Some("no disconnect".to_owned());
                closed.error = Some("the MQTT event loop did not end".to_owned());
            }
        }
        // At QoS 0 nothing is acknowledged: after a connection that did not
        // end cleanly, every write on it is unconfirmed.
        if closed.error.is_some() && self.qos == QoS::AtMostOnce {
            closed.unconfirmed = self.sent;
        }
        closed
    }
}
