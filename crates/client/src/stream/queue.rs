//! The stream's queue: encoded lines waiting to be sent, and with acks the
//! lines sent but not yet acknowledged.

use std::collections::VecDeque;

use bytes::Bytes;
use tokio::time::Instant;

use crate::Error;

/// One queued line: its length, whether it is a write (or a heartbeat),
/// and, with an ack hook, when it was queued.
#[derive(Clone, Copy, Debug)]
pub(super) struct Queued {
    pub(super) len: usize,
    pub(super) write: bool,
    pub(super) at: Option<Instant>,
}

/// Encoded lines waiting to be sent: one buffer and each line's length.
///
/// With acknowledgements the lines sent stay at the front, after the last
/// line acknowledged, until the server acknowledges them; a new connection
/// sends them again ([`Queue::rewind`]).
#[derive(Debug, Default)]
pub(super) struct Queue {
    pub(super) buf: Vec<u8>,
    pub(super) head: usize,
    pub(super) lines: VecDeque<Queued>,
    /// Lines at the front sent and kept for acknowledgement.
    pub(super) sent: usize,
    /// Their bytes.
    pub(super) sent_bytes: usize,
    /// The number of the first line kept, counting every line ever queued
    /// from 0: the line a resumed stream starts at.
    pub(super) front: u64,
}

/// Whole lines taken from the queue: one chunk.
pub(super) struct Taken {
    pub(super) chunk: Bytes,
    pub(super) lines: u64,
    pub(super) writes: u64,
}

impl Queue {
    /// Lines waiting to be sent.
    pub(super) fn len(&self) -> usize {
        self.lines.len() - self.sent
    }

    /// Bytes of the lines kept: sent and unacknowledged, and unsent.
    pub(super) fn kept_bytes(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Writes among the lines kept.
    pub(super) fn kept_writes(&self) -> u64 {
        self.lines.iter().map(|q| u64::from(q.write)).sum()
    }

    /// Sends the kept lines again, from the first unacknowledged.
    pub(super) fn rewind(&mut self) {
        self.sent = 0;
        self.sent_bytes = 0;
    }

    /// The server has taken every line before number `upto`: they are
    /// let go, each write's queued time given to `each`. The writes among
    /// them; `None` for an ack of lines not sent.
    pub(super) fn ack(&mut self, upto: u64, mut each: impl FnMut(Instant)) -> Option<u64> {
        if upto > self.front + self.sent as u64 {
            return None;
        }
        let mut writes = 0;
        while self.front < upto {
            let Some(q) = self.lines.pop_front() else {
                break;
            };
            self.front += 1;
            self.sent -= 1;
            self.sent_bytes -= q.len;
            self.head += q.len;
            writes += u64::from(q.write);
            if let (true, Some(at)) = (q.write, q.at) {
                each(at);
            }
        }
        self.reclaim();
        Some(writes)
    }

    /// Appends one line written by `encode`; on error nothing is queued.
    pub(super) fn push(
        &mut self,
        write: bool,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), plotstream_protocol::Error>,
    ) -> Result<(), Error> {
        self.push_at(write, None, encode)
    }

    /// [`Queue::push`], noting when (for the ack latency).
    pub(super) fn push_at(
        &mut self,
        write: bool,
        at: Option<Instant>,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), plotstream_protocol::Error>,
    ) -> Result<(), Error> {
        let start = self.buf.len();
        if let Err(e) = encode(&mut self.buf) {
            // Whatever the encoder wrote before failing is not a line.
            self.buf.truncate(start);
            return Err(e.into());
        }
        self.lines.push_back(Queued {
            len: self.buf.len() - start,
            write,
            at,
        });
        Ok(())
    }

    /// Drops the oldest line not sent yet (with acks the lines before it
    /// are on the wire already: dropping them would free no room to send);
    /// true when it was a write. The lines after it have not been sent,
    /// so their numbers move down with it.
    pub(super) fn drop_oldest_unsent(&mut self) -> bool {
        if self.sent == 0 {
            return self.drop_oldest();
        }
        let Some(q) = self.lines.remove(self.sent) else {
            return false;
        };
        let start = self.head + self.sent_bytes;
        self.buf.drain(start..start + q.len);
        q.write
    }

    /// Drops the oldest line; true when it was a write.
    pub(super) fn drop_oldest(&mut self) -> bool {
        let Some(q) = self.lines.pop_front() else {
            return false;
        };
        if self.sent > 0 {
            self.sent -= 1;
            self.sent_bytes -= q.len;
        }
        self.front += 1;
        self.head += q.len;
        self.reclaim();
        q.write
    }

    /// Takes whole lines not sent yet, at most `max` bytes of them (but at
    /// least one line): the next chunk. With `keep` they stay, sent, until
    /// acknowledged.
    pub(super) fn take(&mut self, max: usize, keep: bool) -> Option<Taken> {
        let mut bytes = 0;
        let mut lines = 0u64;
        let mut writes = 0u64;
        for &q in self.lines.range(self.sent..) {
            if lines > 0 && bytes + q.len > max {
                break;
            }
            bytes += q.len;
            lines += 1;
            writes += u64::from(q.write);
        }
        if lines == 0 {
            return None;
        }
        let start = self.head + self.sent_bytes;
        let chunk = Bytes::copy_from_slice(&self.buf[start..start + bytes]);
        if keep {
            self.sent += lines as usize;
            self.sent_bytes += bytes;
        } else {
            self.lines.drain(..lines as usize);
            self.front += lines;
            self.head += bytes;
            self.reclaim();
        }
        Some(Taken {
            chunk,
            lines,
            writes,
        })
    }

    /// Gives back the space of lines already taken.
    pub(super) fn reclaim(&mut self) {
        if self.lines.is_empty() {
            self.buf.clear();
            self.head = 0;
        } else if self.head >= self.buf.len() / 2 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(buf: &mut Vec<u8>, s: &str) -> Result<(), plotstream_protocol::Error> {
        buf.extend_from_slice(s.as_bytes());
        buf.push(b'\n');
        Ok(())
    }

    #[test]
    fn take_respects_the_chunk_limit_but_always_takes_one_line() {
        let mut q = Queue::default();
        for s in ["aaaa", "bb", "cccccccccc"] {
            q.push(true, |b| line(b, s)).expect("queues");
        }
        let t = q.take(8, false).expect("a chunk");
        assert_eq!((&t.chunk[..], t.lines), (&b"aaaa\nbb\n"[..], 2));
        let t = q.take(8, false).expect("an over-long line alone");
        assert_eq!((&t.chunk[..], t.lines), (&b"cccccccccc\n"[..], 1));
        assert!(q.take(8, false).is_none());
        assert_eq!((q.buf.len(), q.head), (0, 0), "space is given back");
    }

    #[test]
    fn drop_oldest_drops_whole_lines_from_the_front() {
        let mut q = Queue::default();
        for s in ["1", "22", "333"] {
            q.push(true, |b| line(b, s)).expect("queues");
        }
        q.push(false, |b| line(b, "")).expect("a heartbeat");
        assert!(q.drop_oldest(), "a write");
        assert_eq!(q.len(), 3);
        let t = q.take(100, false).expect("a chunk");
        assert_eq!(
            (&t.chunk[..], t.lines, t.writes),
            (&b"22\n333\n\n"[..], 3, 2)
        );
    }

    #[test]
    fn a_failed_encode_queues_nothing() {
        let mut q = Queue::default();
        q.push(true, |b| line(b, "before")).expect("queues");
        let err = q.push(true, |b| {
            b.extend_from_slice(b"{\"half\":");
            Err(plotstream_protocol::Error::LineTooLong { line: 1, limit: 0 })
        });
        assert!(err.is_err());
        q.push(true, |b| line(b, "after")).expect("queues");
        assert_eq!(q.len(), 2);
        let t = q.take(100, false).expect("a chunk");
        assert_eq!(
            &t.chunk[..],
            b"before\nafter\n",
            "nothing of the failed line"
        );
    }

    #[test]
    fn with_acks_sent_lines_stay_until_acknowledged_and_go_again_after_a_rewind() {
        let mut q = Queue::default();
        for s in ["a", "b", "c"] {
            q.push(true, |b| line(b, s)).expect("queues");
        }
        q.push(false, |b| line(b, "")).expect("a heartbeat");
        let t = q.take(4, true).expect("a chunk");
        assert_eq!(&t.chunk[..], b"a\nb\n");
        assert_eq!((q.len(), q.kept_bytes()), (2, 7), "two unsent, all kept");
        assert_eq!(q.ack(3, |_| {}), None, "line 2 was not sent");
        assert_eq!(q.ack(1, |_| {}), Some(1), "line 0 was a write");
        assert_eq!((q.front, q.kept_writes()), (1, 2));
        q.rewind();
        let t = q.take(100, true).expect("a chunk");
        assert_eq!(
            &t.chunk[..],
            b"b\nc\n\n",
            "sent again from the first unacknowledged"
        );
        assert_eq!(q.ack(4, |_| {}), Some(2), "two writes and the heartbeat");
        assert_eq!((q.front, q.kept_bytes(), q.len()), (4, 0, 0));
    }

    #[test]
    fn dropping_the_oldest_moves_the_resume_point_past_it() {
        let mut q = Queue::default();
        for s in ["a", "b", "c"] {
            q.push(true, |b| line(b, s)).expect("queues");
        }
        q.take(2, true).expect("a sent");
        assert!(q.drop_oldest());
        assert_eq!((q.front, q.sent, q.len()), (1, 0, 2));
        let t = q.take(100, true).expect("the rest");
        assert_eq!(&t.chunk[..], b"b\nc\n");
        assert_eq!(
            q.ack(1, |_| {}),
            Some(0),
            "the dropped line was let go already"
        );
        assert_eq!(q.ack(3, |_| {}), Some(2));
    }

    #[test]
    fn with_acks_dropping_for_room_to_send_drops_the_oldest_unsent_line() {
        let mut q = Queue::default();
        for s in ["a", "b", "c", "d"] {
            q.push(true, |b| line(b, s)).expect("queues");
        }
        q.take(4, true).expect("a and b sent");
        assert!(q.drop_oldest_unsent());
        assert_eq!((q.front, q.sent, q.len(), q.kept_bytes()), (0, 2, 1, 6));
        let t = q.take(100, true).expect("the rest");
        assert_eq!(&t.chunk[..], b"d\n", "c went, the sent lines stay");
        assert_eq!(q.ack(3, |_| {}), Some(3));
        assert_eq!(q.kept_bytes(), 0);
    }
}
