//! Simulation throughput: samples per second from each never-ending stream.
//!
//! Run with: `cargo bench -p plotstream-benches --bench simulations`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use plotstream_cosine::{NoisyCosine, Params};
use plotstream_pendulum::{DoublePendulum, Frames, Rk4, State, Steps};

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

fn pendulum(c: &mut Criterion) {
    let mut group = c.benchmark_group("pendulum");
    group.throughput(Throughput::Elements(BATCH));
    let start = State::from_degrees(120.0, -10.0).expect("finite");
    let system = DoublePendulum::new(plotstream_pendulum::Params::default()).expect("valid");
    let mut rk4 = Rk4::new(system, 0.0, start.to_vector(), 0.001).expect("valid");
    group.bench_function("rk4_steps", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                rk4.step();
            }
            black_box(rk4.state()[0])
        });
    });
    // Frames of 0.05 s, 50 internal steps each, plus positions and energy.
    group.throughput(Throughput::Elements(BATCH / 50));
    let mut frames = Frames::new(
        plotstream_pendulum::Params::default(),
        start,
        Steps::default(),
    )
    .expect("valid");
    group.bench_function("frames", |b| {
        b.iter(|| {
            let mut acc = 0.0;
            for s in frames.by_ref().take((BATCH / 50) as usize) {
                acc += s.x2;
            }
            black_box(acc)
        });
    });
    group.finish();
}

/// The pendulum as a load source: 1,000 streams' demos, each taking its
/// next frame in turn, as a load test's paced streams do; with their own
/// integrators, or all reading one shared trajectory
/// (`DemoKind::for_many`). Throughput is frames (writes).
fn pendulum_load(c: &mut Criterion) {
    use plotstream_demos::{Clock, Demo, DemoKind, Frame};
    const STREAMS: usize = 1_000;
    const ROUNDS: u64 = 20;
    let mut group = c.benchmark_group("pendulum_load");
    group.throughput(Throughput::Elements(STREAMS as u64 * ROUNDS));
    group.sample_size(20);
    let shared = DemoKind::DoublePendulum.for_many().expect("valid");
    let mut cases: [(&str, Vec<Box<dyn Demo>>); 2] = [
        (
            "own",
            (0..STREAMS)
                .map(|i| DemoKind::DoublePendulum.build_with_prefix(0, &format!("s{i}")))
                .collect::<Result<_, _>>()
                .expect("valid"),
        ),
        (
            "shared",
            (0..STREAMS)
                .map(|i| shared.build(0, &format!("s{i}")))
                .collect::<Result<_, _>>()
                .expect("valid"),
        ),
    ];
    let mut frame = Frame::default();
    for (name, demos) in &mut cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                for _ in 0..ROUNDS {
                    for demo in demos.iter_mut() {
                        demo.next_frame(Clock::Simulated, &mut frame);
                    }
                }
                black_box(frame.writes.len())
            });
        });
    }
    group.finish();
}

fn gapminder(c: &mut Criterion) {
    use plotstream_demos::{Clock, Demo, Frame, GapminderDemo, XAxis};
    use plotstream_gapminder::{Dataset, Timeline};

    let mut group = c.benchmark_group("gapminder");
    let data = Dataset::embedded().expect("the shipped data");
    let mut years = Timeline::new(0.1).expect("valid");
    let mut values = Vec::new();
    // Frames of data: every country's three values at the next time.
    group.throughput(Throughput::Elements(1));
    group.bench_function("frames", |b| {
        b.iter(|| {
            data.frame_at(years.next().unwrap_or(1952.0), &mut values);
            black_box(values.len())
        });
    });
    // The demo's frames: the data plus the five writes it streams.
    let mut demo = GapminderDemo::new("g", XAxis::Log).expect("valid");
    let mut frame = Frame::default();
    group.bench_function("demo_frames", |b| {
        b.iter(|| {
            demo.next_frame(Clock::Simulated, &mut frame);
            black_box(frame.writes.len())
        });
    });
    group.finish();
}

fn ppbp(c: &mut Criterion) {
    use plotstream_ppbp::{Params, Ppbp};

    let mut group = c.benchmark_group("ppbp");
    group.throughput(Throughput::Elements(BATCH));
    let mut traffic = Ppbp::seeded(Params::default(), 7).expect("valid");
    group.bench_function("slots", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for s in traffic.by_ref().take(BATCH as usize) {
                acc += u64::from(s.active);
            }
            black_box(acc)
        });
    });
    // Arrivals: λ·slot = 0.1 per slot by default; at λ = 1000 (10 a slot)
    // the heap work dominates.
    let mut busy = Ppbp::seeded(
        Params {
            lambda: 1000.0,
            ..Params::default()
        },
        7,
    )
    .expect("valid");
    group.throughput(Throughput::Elements(BATCH / 10 * 10));
    group.bench_function("arrivals_at_10_per_slot", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for s in busy.by_ref().take((BATCH / 10) as usize) {
                acc += u64::from(s.active);
            }
            black_box(acc)
        });
    });
    group.finish();
}

criterion_group!(benches, cosine, pendulum, pendulum_load, gapminder, ppbp);
criterion_main!(benches);
