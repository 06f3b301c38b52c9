//! Viewer ingest over loopback, and the memory each retained point costs.
//!
//! Run with: `cargo bench -p plotstream-benches --bench viewer`
//!
//! - `viewer/ingest/{1,100,1000}`: that many concurrent streams (plotstream
//!   clients, one connection each, opened once) send 1,000,000
//!   `{"x":<int>,"y":<float>}` writes in all to a viewer in this process, each
//!   stream feeding its own figure (maxpoints 500), while one browser-like
//!   subscriber reads the first figure's event stream. Time runs from the
//!   first write until the viewer has applied the last one.
//! - `viewer/acks/{off,on}`: one stream's 1,000,000 writes, from connect
//!   to `close()` answered, without and with acknowledgements
//!   (`StreamOptions::acks`): what the extension costs in throughput.
//! - `viewer/save/{1,100,1000}`: one save to the figure store (a redb file
//!   in a temp dir, committed to disk) of that many figures, each written to
//!   since the last save and holding 500 `(x, y)` points: what the saver
//!   costs each `--save-interval` when that many figures are being streamed.
//! - Before the benchmarks it prints the resident memory per retained
//!   `(x, y)` point: 1,000 traces filled with 10,000 points each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use plotstream_client::{Stream, StreamOptions};
use plotstream_protocol::{Figure, StreamSpec, Trace, Update, Write};
use plotstream_viewer::{Config, Store, Viewer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TOTAL: u64 = 1_000_000;

fn figure(token: &str, maxpoints: u64) -> Figure {
    Figure {
        data: vec![Trace::streamed(
            "scatter",
            StreamSpec::new(token, maxpoints),
        )],
        ..Figure::default()
    }
}

/// Serves `viewer` on a free loopback port, in the background; its
/// `host:port`.
async fn serve(viewer: &Viewer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("address").to_string();
    tokio::spawn(plotstream_viewer::serve(
        listener,
        viewer.clone(),
        std::future::pending(),
    ));
    addr
}

/// Reads `/plot/1/events` and throws it away, as a browser tab would draw it.
async fn subscribe(addr: String) {
    let Ok(mut s) = TcpStream::connect(&addr).await else {
        return;
    };
    if s.write_all(b"GET /plot/1/events HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}

fn ingest(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("viewer/ingest");
    group.throughput(Throughput::Elements(TOTAL));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for streams in [1u64, 100, 1000] {
        let (viewer, open) = rt.block_on(async {
            let viewer = Viewer::new(Config::default()).expect("a valid config");
            for i in 0..streams {
                viewer
                    .add_figure(figure(&format!("s-{i}"), 500))
                    .expect("valid");
            }
            let addr = serve(&viewer).await;
            tokio::spawn(subscribe(addr.clone()));
            let url = format!("http://{addr}");
            let mut open = Vec::new();
            for i in 0..streams {
                let stream = Stream::connect(&url, &format!("s-{i}"), StreamOptions::default())
                    .await
                    .expect("connects");
                open.push(Arc::new(stream));
            }
            (viewer, open)
        });
        group.bench_with_input(
            BenchmarkId::from_parameter(streams),
            &streams,
            |b, &streams| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let target = viewer.writes_applied() + TOTAL;
                            let start = Instant::now();
                            let per_stream = TOTAL / streams;
                            let tasks: Vec<_> = open
                                .iter()
                                .map(|stream| {
                                    let stream = Arc::clone(stream);
                                    tokio::spawn(async move {
                                        let mut w = Write::xy(0, 0.0);
                                        for k in 0..per_stream {
                                            w.x = Some(Update::append(k));
                                            let y = (k as f64 * 0.37).sin();
                                            w.y = Some(Update::append(y));
                                            stream.write(&w).await.expect("writes");
                                        }
                                    })
                                })
                                .collect();
                            for t in tasks {
                                t.await.expect("a stream task");
                            }
                            while viewer.writes_applied() < target {
                                tokio::time::sleep(Duration::from_micros(200)).await;
                            }
                            total += start.elapsed();
                        }
                        total
                    })
                });
            },
        );
        rt.block_on(async {
            for stream in open {
                let stream = Arc::try_unwrap(stream).expect("no other owner");
                let summary = stream.close().await.expect("closes");
                assert_eq!((summary.status, summary.stats.dropped), (200, 0));
            }
        });
    }
    group.finish();
}

/// One stream's writes to applied, without and with acknowledgements, in
/// one run: 1,000,000 writes from `Stream::connect` to `close()` answered
/// (with acks: to the last write acknowledged), a fresh figure each time.
fn acks(c: &mut Criterion) {
    const WRITES: u64 = 1_000_000;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let (viewer, url) = rt.block_on(async {
        let viewer = Viewer::new(Config {
            max_figures: 10_000,
            ..Config::default()
        })
        .expect("a valid config");
        let addr = serve(&viewer).await;
        (viewer, format!("http://{addr}"))
    });
    let mut group = c.benchmark_group("viewer/acks");
    group.throughput(Throughput::Elements(WRITES));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    let mut run = 0u64;
    for acked in [false, true] {
        let name = if acked { "on" } else { "off" };
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        run += 1;
                        let token = format!("acks-{run}");
                        viewer.add_figure(figure(&token, 500)).expect("valid");
                        let opts = StreamOptions {
                            acks: acked,
                            ..StreamOptions::default()
                        };
                        let start = Instant::now();
                        let stream = Stream::connect(&url, &token, opts).await.expect("connects");
                        let mut w = Write::xy(0, 0.0);
                        for k in 0..WRITES {
                            w.x = Some(Update::append(k));
                            w.y = Some(Update::append((k as f64 * 0.37).sin()));
                            stream.write(&w).await.expect("writes");
                        }
                        let summary = stream.close().await.expect("closes");
                        total += start.elapsed();
                        assert_eq!(summary.stats.acked, if acked { WRITES } else { 0 });
                    }
                    total
                })
            });
        });
    }
    group.finish();
}

fn save(c: &mut Criterion) {
    let mut group = c.benchmark_group("viewer/save");
    group.sample_size(20);
    for figures in [1u64, 100, 1000] {
        let dir = std::env::temp_dir().join(format!(
            "plotstream-bench-save-{figures}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir).expect("a store");
        let config = Config {
            max_figures: 1000,
            ..Config::default()
        };
        let viewer = Viewer::with_store(config, store).expect("a viewer");
        let tokens: Vec<String> = (0..figures).map(|i| format!("f-{i}")).collect();
        let mut k = 0u64;
        for token in &tokens {
            viewer.add_figure(figure(token, 500)).expect("valid");
            let points: Vec<Write> = (0..500)
                .map(|k| Write::xy(k, f64::from(k) * 0.37))
                .collect();
            viewer.apply(token, &points).expect("applies");
        }
        group.throughput(Throughput::Elements(figures));
        group.bench_with_input(BenchmarkId::from_parameter(figures), &figures, |b, _| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    // One new point in each: every figure is to be saved.
                    k += 1;
                    let w = Write::xy(500 + k, k as f64);
                    for token in &tokens {
                        viewer
                            .apply(token, std::slice::from_ref(&w))
                            .expect("applies");
                    }
                    let start = Instant::now();
                    let saved = viewer.save().expect("saves");
                    total += start.elapsed();
                    assert_eq!(saved as u64, figures);
                }
                total
            });
        });
        drop(viewer);
        let _ = std::fs::remove_dir_all(&dir);
    }
    group.finish();
}

/// Resident memory, from /proc/self/statm, in bytes.
fn resident() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[allow(clippy::print_stdout)]
fn memory_per_point() {
    const TRACES: u64 = 1_000;
    const POINTS: u64 = 10_000;
    let viewer = Viewer::new(Config::default()).expect("a valid config");
    for i in 0..TRACES {
        viewer
            .add_figure(figure(&format!("m-{i}"), POINTS))
            .expect("valid");
    }
    let before = resident();
    let mut batch = Vec::with_capacity(1000);
    for i in 0..TRACES {
        let token = format!("m-{i}");
        for chunk in 0..POINTS / 1000 {
            batch.clear();
            for k in chunk * 1000..(chunk + 1) * 1000 {
                batch.push(Write::xy(k, (k as f64 * 0.37).sin()));
            }
            viewer.apply(&token, &batch).expect("applies");
        }
    }
    let after = resident();
    let points = TRACES * POINTS;
    println!(
        "viewer memory: {points} (x, y) points retained in {TRACES} traces: {:.1} MiB resident, {:.1} bytes per point",
        (after - before) as f64 / f64::from(1u32 << 20),
        (after - before) as f64 / points as f64
    );
}

criterion_group!(benches, ingest, acks, save);

fn main() {
    memory_per_point();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
