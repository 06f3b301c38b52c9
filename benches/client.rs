//! Client throughput: writes per second from one `Stream` over loopback.
//!
//! Run with: `cargo bench -p plotstream-benches --bench client`
//!
//! A hyper HTTP/1.1 server on 127.0.0.1 reads the chunked body and only
//! counts its lines; one `Stream` writes a million `{"x":<int>,"y":<float>}`
//! writes and closes. The time runs from the first write to the server's
//! answer to `close()`, so every write has crossed the socket. Client and
//! sink share this machine's cores, as they would in a local test.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use plotstream_client::{Stream, StreamOptions};
use plotstream_cosine::{NoisyCosine, Params};
use plotstream_protocol::{Update, Write};
use tokio::net::TcpListener;

const WRITES: u64 = 1_000_000;

/// Counts the lines of each request body into `lines`, then answers 200.
async fn sink(listener: TcpListener, lines: Arc<AtomicU64>) {
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            return;
        };
        let lines = Arc::clone(&lines);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let lines = Arc::clone(&lines);
                async move {
                    let mut body = req.into_body();
                    while let Some(Ok(frame)) = body.frame().await {
                        if let Some(data) = frame.data_ref() {
                            let n = memchr_count(data);
                            lines.fetch_add(n, Ordering::Relaxed);
                        }
                    }
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(socket), service)
                .await;
        });
    }
}

fn memchr_count(data: &[u8]) -> u64 {
    data.iter().filter(|&&b| b == b'\n').count() as u64
}

fn one_stream(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let lines = Arc::new(AtomicU64::new(0));
    let url = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(sink(listener, Arc::clone(&lines)));
        url
    });
    let ys: Vec<f64> = NoisyCosine::seeded(Params::default(), 7)
        .expect("valid")
        .take(WRITES as usize)
        .map(|s| s.y)
        .collect();

    let mut group = c.benchmark_group("client");
    group.throughput(Throughput::Elements(WRITES));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("one_stream_loopback", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let before = lines.load(Ordering::Relaxed);
                    let stream = Stream::connect(&url, "bench", StreamOptions::default())
                        .await
                        .expect("connects");
                    let start = Instant::now();
                    let mut w = Write::xy(0, 0.0);
                    for (i, &y) in ys.iter().enumerate() {
                        w.x = Some(Update::append(i));
                        w.y = Some(Update::append(y));
                        stream.write(&w).await.expect("writes");
                    }
                    let summary = stream.close().await.expect("closes");
                    total += start.elapsed();
                    assert_eq!(summary.stats.sent, WRITES);
                    assert_eq!(
                        lines.load(Ordering::Relaxed) - before,
                        WRITES,
                        "the sink got every line"
                    );
                }
                total
            })
        });
    });
    group.finish();
}

criterion_group!(benches, one_stream);
criterion_main!(benches);
