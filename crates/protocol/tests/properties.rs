//! Property tests for the line codec and the write codec.

use plotstream_protocol::{Error, Line, LineDecoder, Scalar, Update, Write, encode_line};
use proptest::prelude::*;
use serde_json::Value;

/// A decoded line, owned, for comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owned {
    Data(u64, Vec<u8>),
    Heartbeat(u64),
}

/// Feeds `pieces` in order, then finishes; stops at the first error.
fn decode(max: usize, pieces: &[&[u8]]) -> (Vec<Owned>, Option<u64>) {
    let mut dec = LineDecoder::with_max_line_len(max);
    let mut out = Vec::new();
    let mut push = |line: Line<'_>| {
        out.push(match line {
            Line::Data { number, bytes } => Owned::Data(number, bytes.to_vec()),
            Line::Heartbeat { number } => Owned::Heartbeat(number),
        });
        Ok::<_, Error>(())
    };
    for piece in pieces {
        if let Err(Error::LineTooLong { line, .. }) = dec.feed(piece, &mut push) {
            return (out, Some(line));
        }
        assert!(
            dec.pending() <= max + 1,
            "buffered {} > limit {max} + 1",
            dec.pending()
        );
    }
    match dec.finish(&mut push) {
        Err(Error::LineTooLong { line, .. }) => (out, Some(line)),
        _ => (out, None),
    }
}

/// Cuts `input` at the given (sorted, deduplicated) offsets.
fn split_at<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.sort_unstable();
    points.dedup();
    let mut pieces = Vec::new();
    let mut start = 0;
    for p in points {
        pieces.push(&input[start..p]);
        start = p;
    }
    pieces.push(&input[start..]);
    pieces
}

/// Lines of printable bytes (no newline), some empty, each ended by `\n` or `\r\n`.
fn stream() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (prop::collection::vec(b' '..=b'~', 0..40), any::<bool>()),
        0..30,
    )
    .prop_map(|lines| {
        let mut out = Vec::new();
        for (line, crlf) in lines {
            out.extend_from_slice(&line);
            out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        out
    })
}

fn scalar() -> impl Strategy<Value = Scalar> {
    prop_oneof![
        Just(Scalar::Null),
        any::<bool>().prop_map(Scalar::Bool),
        any::<i64>().prop_map(Scalar::from),
        any::<u64>().prop_map(Scalar::from),
        (-1e300f64..1e300).prop_map(Scalar::from),
        "[ -~]{0,12}".prop_map(Scalar::String),
    ]
}

fn update() -> impl Strategy<Value = Update> {
    prop_oneof![
        scalar().prop_map(Update::Append),
        prop::collection::vec(scalar().prop_map(|s| s.to_value()), 0..6)
            .prop_map(Update::Overwrite),
        prop::collection::vec(prop::collection::vec(any::<i32>(), 0..3), 0..3)
            .prop_map(|rows| Update::overwrite(rows.into_iter().map(Value::from))),
    ]
}

fn write() -> impl Strategy<Value = Write> {
    (
        prop::option::of(update()),
        prop::option::of(update()),
        prop::option::of(update()),
        prop::option::of(update()),
        prop::option::of(update()),
        prop::option::of((prop::option::of(update()), prop::option::of(update()))),
        prop::option::of(prop::option::of(update())),
        prop::option::of("[a-z]{1,8}"),
        prop::option::of("[a-z]{1,8}"),
    )
        .prop_map(|(x, y, z, text, customdata, marker, line, extra, title)| {
            let mut w = Write {
                x,
                y,
                z,
                text,
                customdata,
                ..Write::default()
            };
            if let Some((color, size)) = marker {
                w.marker = Some(Box::new(plotstream_protocol::Marker {
                    color,
                    size,
                    ..Default::default()
                }));
            }
            if let Some(width) = line {
                w.line = Some(Box::new(plotstream_protocol::LineStyle {
                    width,
                    ..Default::default()
                }));
            }
            if let Some(k) = extra {
                w.extra.insert(format!("extra_{k}"), Value::from(k));
            }
            if let Some(t) = title {
                let mut layout = serde_json::Map::new();
                layout.insert("title".into(), Value::from(t));
                w.layout = Some(Box::new(layout));
            }
            w
        })
}

proptest! {
    /// Chunk boundaries mean nothing: every split of a stream yields the lines
    /// of the whole, numbered alike.
    #[test]
    fn every_split_yields_the_same_lines(input in stream(), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        let whole = decode(1 << 20, &[&input]);
        let pieces = split_at(&input, &cuts);
        prop_assert_eq!(decode(1 << 20, &pieces), whole.clone());
        let bytewise: Vec<&[u8]> = input.chunks(1).collect();
        prop_assert_eq!(decode(1 << 20, &bytewise), whole);
    }

    /// With a small limit, the first over-long line is reported with the same
    /// number however the stream is split, and lines before it are all delivered.
    #[test]
    fn the_limit_fails_the_same_line_for_every_split(input in stream(), cuts in prop::collection::vec(any::<usize>(), 0..12), max in 0usize..20) {
        let (whole_lines, whole_err) = decode(max, &[&input]);
        let (lines, err) = decode(max, &split_at(&input, &cuts));
        prop_assert_eq!(err, whole_err);
        prop_assert_eq!(lines, whole_lines);
    }

    /// Arbitrary bytes never panic the decoder, and it never buffers more than the limit.
    #[test]
    fn arbitrary_bytes_are_safe(input in prop::collection::vec(any::<u8>(), 0..400), cuts in prop::collection::vec(any::<usize>(), 0..8), max in 0usize..64) {
        let _ = decode(max, &split_at(&input, &cuts));
    }

    /// Encoding then decoding a write gives it back.
    #[test]
    fn writes_round_trip(w in write()) {
        let mut buf = Vec::new();
        encode_line(&w, &mut buf).expect("encodes");
        prop_assert_eq!(buf.last(), Some(&b'\n'));
        prop_assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 1);
        let back = Write::from_slice(&buf[..buf.len() - 1]).expect("decodes");
        prop_assert_eq!(&back, &w);
    }

    /// The direct encoders give exactly the serde encoders' bytes.
    #[test]
    fn direct_encoding_is_serde_encoding(w in write(), t in -1e9f64..1e9, token in "[ -~]{0,10}") {
        let mut serde = b"kept".to_vec();
        let mut direct = b"kept".to_vec();
        encode_line(&w, &mut serde).expect("encodes");
        w.encode_line(&mut direct).expect("encodes");
        prop_assert_eq!(&direct, &serde);
        let line = plotstream_protocol::TapeLine { t, token: &token, write: &w };
        encode_line(&line, &mut serde).expect("encodes");
        line.encode_line(&mut direct).expect("encodes");
        prop_assert_eq!(direct, serde);
    }
}
