//! Simulation throughput: samples per second from each never-ending stream.
//!
//! Run with: `cargo bench --bench simulations`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use plotstream_cosine::{NoisyCosine, Params};

/// Samples drawn per iteration: large enough that the loop, not the call, is measured.
const BATCH: u64 = 100_000;

fn cosine(c: &mut Criterion) {
    let mut group = c.benchmark_group("cosine");
    group.throughput(Throughput::Elements(BATCH));
    let mut stream =
        NoisyCosine::seeded(Params::default(), 7).expect("default parameters are valid");
    group.bench_function("samples", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for s in stream.by_ref().take(BATCH as usize) {
                acc += s.y;
            }
            black_box(acc)
        });
    });
    group.finish();
}

criterion_group!(benches, cosine);
criterion_main!(benches);
