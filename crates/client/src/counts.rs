//! [`Counts`]: what a stream did, in the one set of counters that every
//! layer above it (a publisher, a load stream, a run's report) adds up.

use std::iter::Sum;
use std::ops::AddAssign;

use serde::{Deserialize, Serialize};

/// What one or many streams did: bytes and writes sent, and every way a
/// write can fail to be confirmed. Counts of several streams add up
/// (`+=`, [`Iterator::sum`]).
///
/// ```
/// use plotstream_client::Counts;
///
/// let a = Counts { writes: 10, bytes: 400, ..Counts::default() };
/// let b = Counts { writes: 5, bytes: 200, unconfirmed: 5, ..Counts::default() };
/// let total: Counts = [a, b].into_iter().sum();
/// assert_eq!((total.writes, total.bytes, total.may_be_lost()), (15, 600, 5));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Bytes handed to connections.
    pub bytes: u64,
    /// Writes handed to connections.
    pub writes: u64,
    /// Reconnects that succeeded.
    pub reconnects: u64,
    /// Writes dropped from a full queue.
    pub drops: u64,
    /// Writes sent on connections that ended without the server's answer:
    /// they may be lost.
    pub unconfirmed: u64,
    /// Writes never sent (the stream failed, or ended with them queued).
    pub unsent: u64,
    /// Writes the server acknowledged (plotstream's acknowledgements, MQTT
    /// at QoS 1 and 2).
    pub acked: u64,
}

impl Counts {
    /// Writes that may not have reached the server: dropped, unconfirmed
    /// or never sent.
    pub fn may_be_lost(&self) -> u64 {
        self.drops + self.unconfirmed + self.unsent
    }
}

impl AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        let Counts {
            bytes,
            writes,
            reconnects,
            drops,
            unconfirmed,
            unsent,
            acked,
        } = other;
        self.bytes += bytes;
        self.writes += writes;
        self.reconnects += reconnects;
        self.drops += drops;
        self.unconfirmed += unconfirmed;
        self.unsent += unsent;
        self.acked += acked;
    }
}

impl Sum for Counts {
    fn sum<I: Iterator<Item = Counts>>(iter: I) -> Counts {
        iter.fold(Counts::default(), |mut total, c| {
            total += c;
            total
        })
    }
}

impl<'a> Sum<&'a Counts> for Counts {
    fn sum<I: Iterator<Item = &'a Counts>>(iter: I) -> Counts {
        iter.copied().sum()
    }
}
