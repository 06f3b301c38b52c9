//! Encoding and decoding throughput of protocol lines.
//!
//! Run with: `cargo bench -p plotstream-benches --bench encoding`
//!
//! - `encode/xy`: encode `{"x":<int>,"y":<float>}` with its newline into a
//!   reused buffer, setting x and y of one reused `Write` (the encoder alone).
//! - `encode/build_xy`: the same, building a fresh `Write` each time
//!   (`Write::xy`) and dropping it: what a naive producer pays.
//! - `encode/tape_line`: the write wrapped as a tape line.
//!
//! The y values are the noisy cosine's: full-precision doubles of 16–17
//! digits, the costliest kind of float to print.
//! - `decode/xy`: split those lines out of 64 KiB pieces and parse each into a
//!   `Write` (what a server does per write).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use plotstream_cosine::{NoisyCosine, Params};
use plotstream_protocol::{Error, LineDecoder, TapeLine, Update, Write};

/// Writes per iteration.
const BATCH: usize = 100_000;

/// Realistic y values: the noisy cosine's, so float formatting does real work.
fn ys() -> Vec<f64> {
    NoisyCosine::seeded(Params::default(), 7)
        .expect("default parameters are valid")
        .take(BATCH)
        .map(|s| s.y)
        .collect()
}

fn encode(c: &mut Criterion) {
    let ys = ys();
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut buf = Vec::with_capacity(BATCH * 64);
    group.bench_function("xy", |b| {
        let mut write = Write::xy(0, 0.0);
        b.iter(|| {
            buf.clear();
            for (i, &y) in ys.iter().enumerate() {
                write.x = Some(Update::append(i));
                write.y = Some(Update::append(y));
                write.encode_line(&mut buf).expect("encodes");
            }
            black_box(buf.len())
        });
    });
    group.bench_function("build_xy", |b| {
        b.iter(|| {
            buf.clear();
            for (i, &y) in ys.iter().enumerate() {
                Write::xy(i, y).encode_line(&mut buf).expect("encodes");
            }
            black_box(buf.len())
        });
    });
    group.bench_function("tape_line", |b| {
        b.iter(|| {
            buf.clear();
            let mut write = Write::xy(0, 0.0);
            for (i, &y) in ys.iter().enumerate() {
                write.x = Some(Update::append(i));
                write.y = Some(Update::append(y));
                let line = TapeLine {
                    t: i as f64 * 0.08,
                    token: "noisy-cosine",
                    write: &write,
                };
                line.encode_line(&mut buf).expect("encodes");
            }
            black_box(buf.len())
        });
    });
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut wire = Vec::new();
    for (i, y) in ys().into_iter().enumerate() {
        Write::xy(i, y).encode_line(&mut wire).expect("encodes");
    }
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("xy", |b| {
        b.iter(|| {
            let mut decoder = LineDecoder::new();
            let mut n = 0usize;
            for piece in wire.chunks(64 * 1024) {
                decoder
                    .feed(piece, |line| {
                        if let Some(w) = line.parse_write() {
                            black_box(w?);
                            n += 1;
                        }
                        Ok::<_, Error>(())
                    })
                    .expect("decodes");
            }
            assert_eq!(n, BATCH);
            n
        });
    });
    group.finish();
}

criterion_group!(benches, encode, decode);
criterion_main!(benches);
