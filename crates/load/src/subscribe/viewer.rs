//! The viewer subscriber: reads a plotstream viewer's event streams and measures, per
//! write, the end-to-end latency and the loss.

use std::sync::{Arc, OnceLock};

use http_body_util::BodyExt;
use plotstream_protocol::{Figure, FigureUpdate, Line, LineDecoder, ViewerEvent};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::report::{histogram, record};
use crate::{Error, Schedule};

/// What one stream's writes looked like to its subscriber.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    /// The next sequence number expected.
    next: u64,
    /// Distinct sequence numbers received.
    pub(crate) received: u64,
    /// Numbers seen again, or out of order.
    pub(crate) duplicates: u64,
}

impl Seen {
    /// Notes `seq` as received; true when it is new.
    pub(crate) fn note(&mut self, seq: u64) -> bool {
        if seq >= self.next {
            self.received += 1;
            self.next = seq + 1;
            true
        } else {
            self.duplicates += 1;
            false
        }
    }
}

/// One figure's subscriber: which streams its traces are, and what it saw.
#[derive(Debug)]
pub(crate) struct Subscriber {
    /// Stream positions (into the run's streams) of the figure's traces.
    pub(crate) positions: Vec<usize>,
    pub(crate) seen: Vec<Seen>,
    pub(crate) latency: hdrhistogram::Histogram<u64>,
    pub(crate) resyncs: u64,
    /// Each stream's due times, once the schedule is known.
    times: Vec<Option<crate::schedule::Times>>,
    /// Latency since the monitor last looked (each second's p50, p99).
    window: Arc<std::sync::Mutex<hdrhistogram::Histogram<u64>>>,
    /// With several receivers per stream, the fan-out spread.
    spread: Option<Arc<super::spread::Spread>>,
}

/// Subscribes to `/plot/{figure}/events` at `addr` and follows it until
/// `stop`; `ready` fires once the first snapshot arrived.
pub(crate) async fn follow(
    addr: String,
    figure: u64,
    mut sub: Subscriber,
    schedule: Arc<OnceLock<Arc<Schedule>>>,
    ready: oneshot::Sender<()>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Subscriber, Error> {
    let mut body =
        super::event_stream(&addr, &plotstream_protocol::paths::plot_events(figure)).await?;
    let mut decoder = LineDecoder::new();
    let mut event = String::new();
    let mut ready = Some(ready);
    loop {
        let frame = tokio::select! {
            f = body.frame() => f,
            _ = stop.wait_for(|s| *s) => return Ok(sub),
        };
        let Some(Ok(frame)) = frame else {
            return Ok(sub);
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let now = Instant::now();
        let fed = decoder.feed(&data, |line| {
            match line {
                Line::Heartbeat { .. } => event.clear(),
                Line::Data { bytes, .. } => {
                    if let Some(name) = bytes.strip_prefix(b"event: ") {
                        event = String::from_utf8_lossy(name).into_owned();
                    } else if let Some(json) = bytes.strip_prefix(b"data: ") {
                        match ViewerEvent::parse(&event, json) {
                            Ok(Some(ViewerEvent::Snapshot(figure))) => {
                                sub.snapshot(&figure);
                                if let Some(r) = ready.take() {
                                    let _ = r.send(());
                                }
                            }
                            Ok(Some(ViewerEvent::Update(update))) => {
                                if let Some(schedule) = schedule.get() {
                                    sub.update(&update, schedule, now);
                                }
                            }
                            // How many streams feed it: the load test counts its own.
                            Ok(Some(ViewerEvent::Streams(_)) | None) => {}
                            Err(e) => tracing::warn!("unreadable {event} event: {e}"),
                        }
                    }
                }
            }
            Ok::<_, plotstream_protocol::Error>(())
        });
        if let Err(e) = fed {
            return Err(Error::Subscribe(format!("event stream: {e}")));
        }
    }
}

fn seqs(values: &[Value]) -> impl Iterator<Item = u64> + '_ {
    values.iter().filter_map(Value::as_u64)
}

impl Subscriber {
    pub(crate) fn new(
        positions: Vec<usize>,
        window: Arc<std::sync::Mutex<hdrhistogram::Histogram<u64>>>,
        spread: Option<Arc<super::spread::Spread>>,
    ) -> Self {
        Subscriber {
            seen: vec![Seen::default(); positions.len()],
            times: vec![None; positions.len()],
            positions,
            latency: histogram(),
            resyncs: 0,
            window,
            spread,
        }
    }

    /// A snapshot: the first is empty; a later one (after falling behind)
    /// holds the last sequence numbers the viewer keeps of each trace; those
    /// past what was seen count as received.
    fn snapshot(&mut self, figure: &Figure) {
        let mut any = false;
        for (trace, seen) in figure.data.iter().zip(&mut self.seen) {
            // Only numbers past those seen are news; the rest the snapshot
            // merely re-states (not duplicates).
            let from = seen.next;
            let held = trace
                .extra
                .get("customdata")
                .and_then(Value::as_array)
                .map_or(&[][..], Vec::as_slice);
            for seq in seqs(held).filter(|&seq| seq >= from) {
                any |= seen.note(seq);
            }
        }
        if any {
            self.resyncs += 1;
        }
    }

    fn update(&mut self, update: &FigureUpdate, schedule: &Schedule, now: Instant) {
        for t in &update.traces {
            let (Some(seen), Some(&position), Some(times)) = (
                self.seen.get_mut(t.index),
                self.positions.get(t.index),
                self.times.get_mut(t.index),
            ) else {
                continue;
            };
            if let Some(values) = t.overwrite.get("customdata") {
                for seq in seqs(values) {
                    seen.note(seq);
                }
            }
            let appended = t.append.get("customdata").map_or(&[][..], Vec::as_slice);
            for seq in seqs(appended) {
                if seen.note(seq) {
                    // New sequence numbers only go up: the times follow as a cursor.
                    let Some(due) = times
                        .get_or_insert_with(|| schedule.times(position))
                        .at(seq)
                    else {
                        continue; // never scheduled: not a write of this run
                    };
                    let took = now.saturating_duration_since(due);
                    record(&mut self.latency, took);
                    record(
                        &mut self
                            .window
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner),
                        took,
                    );
                    if let Some(spread) = &self.spread {
                        spread.arrived(position, seq, now);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn figure(v: Value) -> Figure {
        serde_json::from_value(v).expect("a figure")
    }

    fn update(v: Value) -> FigureUpdate {
        serde_json::from_value(v).expect("an update")
    }

    #[test]
    fn a_resync_snapshot_counts_only_what_is_new() {
        let mut sub = Subscriber::new(vec![0], Arc::new(std::sync::Mutex::new(histogram())), None);
        let schedule = Schedule::for_test();
        sub.snapshot(&figure(json!({"data": [{"customdata": []}]})));
        assert_eq!(sub.resyncs, 0, "the first snapshot is empty");
        let now = Instant::now();
        sub.update(
            &update(json!({"traces": [{"index": 0, "append": {"customdata": [0, 1, 2]}}]})),
            &schedule,
            now,
        );
        // Fell behind: 3 and 4 were missed, the snapshot holds 1..=5.
        sub.snapshot(&figure(json!({"data": [{"customdata": [1, 2, 3, 4, 5]}]})));
        assert_eq!(sub.resyncs, 1);
        sub.update(
            &update(json!({"traces": [{"index": 0, "append": {"customdata": [6]}}]})),
            &schedule,
            now,
        );
        sub.update(
            &update(json!({"traces": [{"index": 0, "append": {"customdata": [6]}}]})),
            &schedule,
            now,
        );
        assert_eq!((sub.seen[0].received, sub.seen[0].duplicates), (7, 1));
        assert_eq!(
            sub.latency.len(),
            4,
            "latency only from updates, once per write"
        );
    }
}
