//! MQTT 3.1.1: one connection per stream, each write one `PUBLISH` to the
//! stream's topic at the chosen QoS, framed into the worker's buffer and
//! written with one call. A small task reads the broker's packets: at QoS
//! 1 and 2 the acknowledgement (`PUBACK`, `PUBCOMP`) gives an ack latency
//! per write, and at QoS 2 it answers each `PUBREC` with the `PUBREL`.
//!
//! The keep-alive is the largest MQTT allows (65,535 s), so that a stream
//! silent for a while (`--stages`, bursty arrivals) is not taken for dead;
//! a broker that caps it lower refuses the connection by name.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use plotstream_client::Counts;
use rumqttc::MqttOptions;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::socket::{self, CLOSE_TIMEOUT, Socket};
use super::{Closed, Message, Publish, PublishError, Sent, fill};
use crate::engine::Sharded;

/// The broker, the topic template and the QoS.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// `plotstream/{token}` by default.
    pub(crate) topic: String,
    /// 0, 1 or 2.
    pub(crate) qos: u8,
    /// Broker acknowledgement latency of every write (QoS 1 and 2).
    pub(crate) acks: Arc<Sharded>,
}

/// The options of a subscriber's client: client id, broker, keep-alive,
/// 1 MiB packets.
pub(crate) fn options(host: &str, port: u16, id: &str) -> MqttOptions {
    let mut options = MqttOptions::new(id, host, port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(1 << 20, 1 << 20);
    options
}

const CONNACK: u8 = 0x20;
const PUBACK: u8 = 0x40;
const PUBREC: u8 = 0x50;
const PUBCOMP: u8 = 0x70;

/// Appends MQTT's variable-length "remaining length".
fn remaining_length(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            return;
        }
    }
}

/// The CONNECT packet of client `id`: clean session, keep-alive 65,535 s.
pub(crate) fn connect_packet(id: &str) -> Vec<u8> {
    let mut body = vec![0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0xFF, 0xFF];
    body.extend_from_slice(&(id.len() as u16).to_be_bytes());
    body.extend_from_slice(id.as_bytes());
    let mut packet = vec![0x10];
    remaining_length(body.len(), &mut packet);
    packet.extend_from_slice(&body);
    packet
}

/// Frames one PUBLISH of `payload` to `topic` at `qos` (packet `id` at QoS
/// 1 and 2) into `out`.
pub(crate) fn publish_packet(topic: &str, qos: u8, id: u16, payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.push(0x30 | (qos << 1));
    let id_len = if qos > 0 { 2 } else { 0 };
    remaining_length(2 + topic.len() + id_len + payload.len(), out);
    out.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    out.extend_from_slice(topic.as_bytes());
    if qos > 0 {
        out.extend_from_slice(&id.to_be_bytes());
    }
    out.extend_from_slice(payload);
}

/// One packet of the broker's, whole at the front of `buf`: its type
/// byte, its body's range, and its length in all; `None` until it is whole.
fn packet(buf: &[u8]) -> Result<Option<(u8, std::ops::Range<usize>)>, String> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let (mut len, mut shift, mut at) = (0usize, 0, 1);
    loop {
        let Some(&byte) = buf.get(at) else {
            return Ok(None);
        };
        len |= usize::from(byte & 0x7F) << shift;
        at += 1;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 21 {
            return Err("a packet length over four bytes".to_owned());
        }
    }
    Ok((buf.len() >= at + len).then(|| (kind, at..at + len)))
}

/// What the broker's reader and the worker share of one connection.
#[derive(Debug)]
struct Shared {
    /// The socket: the worker writes PUBLISHes, the reader PUBRELs (QoS 2).
    socket: Mutex<Socket>,
    /// When each write not yet acknowledged was handed over, oldest first
    /// (the broker acknowledges in order on one connection).
    pending: Mutex<VecDeque<Instant>>,
}

/// One stream's MQTT connection.
pub(crate) struct Mqtt {
    shared: Arc<Shared>,
    reader: JoinHandle<Result<u64, String>>,
    topic: String,
    qos: u8,
    next_id: u16,
    counts: Counts,
}

/// Reads the broker's packets until it closes: acknowledgements are timed
/// into `acks` (shard `shard`), PUBRECs answered. How many writes were
/// acknowledged, or why the connection failed.
async fn read_packets(
    mut tcp: tokio::net::tcp::OwnedReadHalf,
    shared: Arc<Shared>,
    qos: u8,
    acks: Arc<Sharded>,
    mut buf: Vec<u8>,
) -> Result<u64, String> {
    let shard = acks.pick();
    let mut acked = 0;
    let mut error = None;
    let mut take = |buf: &mut Vec<u8>| -> Result<(), String> {
        while let Some((kind, body)) = packet(buf)? {
            let done = match kind & 0xF0 {
                PUBACK => qos == 1,
                PUBCOMP => qos == 2,
                PUBREC => {
                    let mut rel = vec![0x62, 0x02];
                    rel.extend_from_slice(
                        buf.get(body.clone())
                            .and_then(|b| b.get(..2))
                            .unwrap_or(&[0, 0]),
                    );
                    let mut socket = shared.socket.lock().unwrap_or_else(PoisonError::into_inner);
                    socket.send(&rel).map_err(|e| e.to_string())?;
                    false
                }
                _ => false,
            };
            if done {
                let sent = shared
                    .pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop_front();
                if let Some(sent) = sent {
                    acks.record(shard, sent.elapsed());
                    acked += 1;
                }
            }
            buf.drain(..body.end);
        }
        Ok(())
    };
    take(&mut buf)?;
    let read = socket::read_all(&mut tcp, |bytes| {
        buf.extend_from_slice(bytes);
        match take(&mut buf) {
            Ok(()) => true,
            Err(e) => {
                error = Some(e);
                false
            }
        }
    })
    .await;
    match (error, read) {
        (Some(e), _) => Err(e),
        (None, Err(e)) => Err(e.to_string()),
        (None, Ok(())) => Ok(acked),
    }
}

impl Publish for Mqtt {
    type Config = Config;

    async fn connect(
        config: &Config,
        token: &str,
        local: Option<std::net::IpAddr>,
    ) -> Result<Self, PublishError> {
        let server = format!("mqtt://{}:{}", config.host, config.port);
        let mut tcp = socket::connect(&config.host, config.port, local, &server).await?;
        socket::write_all(&mut tcp, &connect_packet(token)).await?;
        let mut buf = Vec::new();
        let n = socket::read_opening(&mut tcp, &mut buf, 1024, &server, |b| match packet(b) {
            Ok(Some((kind, body))) if kind == CONNACK && body.len() == 2 => match b[body.start + 1]
            {
                0 => Ok(Some(body.end)),
                code => Err(PublishError::Refused {
                    server: server.clone(),
                    reason: format!("CONNACK return code {code}"),
                }),
            },
            Ok(Some((kind, _))) => Err(PublishError::Protocol(format!(
                "a packet of type {} before the CONNACK",
                kind >> 4
            ))),
            Ok(None) => Ok(None),
            Err(e) => Err(PublishError::Protocol(e)),
        })
        .await?;

        buf.drain(..n);
        let (socket, read_half) = Socket::new(tcp);
        let shared = Arc::new(Shared {
            socket: Mutex::new(socket),
            pending: Mutex::new(VecDeque::new()),
        });
        let reader = tokio::spawn(read_packets(
            read_half,
            Arc::clone(&shared),
            config.qos,
            Arc::clone(&config.acks),
            buf,
        ));
        Ok(Mqtt {
            shared,
            reader,
            topic: fill(&config.topic, token),
            qos: config.qos,
            next_id: 1,
            counts: Counts::default(),
        })
    }

    fn try_send(
        &mut self,
        message: &Message<'_>,
        scratch: &mut Vec<u8>,
    ) -> Result<Sent, PublishError> {
        if self.reader.is_finished() {
            return Err(PublishError::Ended {
                answer: "the broker closed the connection".to_owned(),
            });
        }
        let id = self.next_id;
        // Packet ids are 1 to 65,535.
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        publish_packet(&self.topic, self.qos, id, message.payload, scratch);
        if self.qos > 0 {
            self.shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push_back(Instant::now());
        }
        let sent = self
            .shared
            .socket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(scratch)?;
        self.counts.writes += 1;
        self.counts.bytes += message.payload.len() as u64;
        Ok(sent)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), PublishError>> {
        self.shared
            .socket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .poll_flush(cx)
    }

    async fn close(mut self) -> Closed {
        let mut closed = Closed {
            counts: self.counts,
            ..Closed::default()
        };
        let flushed = std::future::poll_fn(|cx| self.poll_flush(cx)).await;
        // At QoS 1 and 2, wait (5 s at most) for the last acknowledgements.
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        let waiting = |m: &Mqtt| {
            !m.shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_empty()
        };
        while flushed.is_ok()
            && Instant::now() < deadline
            && !self.reader.is_finished()
            && waiting(&self)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        closed.counts.unconfirmed = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len() as u64;
        // DISCONNECT; the broker then closes the connection.
        let disconnect = {
            let mut socket = self
                .shared
                .socket
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            socket.send(&[0xE0, 0x00])
        };
        let disconnected = match disconnect {
            Ok(Sent::Out) => Ok(()),
            Ok(Sent::Held) => std::future::poll_fn(|cx| self.poll_flush(cx)).await,
            Err(e) => Err(e),
        };
        match (
            flushed.and(disconnected),
            tokio::time::timeout(CLOSE_TIMEOUT, &mut self.reader).await,
        ) {
            (Ok(()), Ok(Ok(Ok(acked)))) => {
                closed.status = Some("disconnected".to_owned());
                closed.counts.acked = acked;
            }
            (sent, answer) => {
                self.reader.abort();
                closed.status = Some("error".to_owned());
                closed.error = Some(match (sent, answer) {
                    (Err(e), _) => e,
                    (_, Ok(Ok(Err(e)))) => {
                        PublishError::Protocol(format!("the MQTT connection: {e}"))
                    }
                    _ => PublishError::Protocol(
                        "the broker did not close after DISCONNECT".to_owned(),
                    ),
                });
                // At QoS 0 nothing is acknowledged: after a connection that
                // did not end cleanly, every write on it is unconfirmed.
                if self.qos == 0 {
                    closed.counts.unconfirmed = closed.counts.writes;
                }
            }
        }
        closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_framed_as_mqtt_3_1_1_has_them() {
        assert_eq!(
            connect_packet("a"),
            [
                0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0xFF, 0xFF, 0, 1, b'a'
            ]
        );
        let mut out = Vec::new();
        publish_packet("t/1", 0, 9, b"{}", &mut out);
        assert_eq!(out, [0x30, 7, 0, 3, b't', b'/', b'1', b'{', b'}']);
        publish_packet("t", 1, 0x0102, b"x", &mut out);
        assert_eq!(out, [0x32, 6, 0, 1, b't', 1, 2, b'x']);
        let mut long = Vec::new();
        remaining_length(321, &mut long);
        assert_eq!(long, [0xC1, 0x02], "MQTT 3.1.1 2.2.3's encoding");
    }

    #[test]
    fn a_broker_packet_is_taken_only_when_whole() {
        assert_eq!(packet(&[0x40, 0x02, 0, 1]), Ok(Some((0x40, 2..4))));
        assert_eq!(packet(&[0x40, 0x02, 0]), Ok(None));
        assert_eq!(packet(&[0x30, 0xC1]), Ok(None));
        assert!(packet(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]).is_err());
    }
}
