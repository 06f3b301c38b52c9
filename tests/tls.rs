//! https for real: nginx terminates TLS, with a certificate that a private
//! CA made here by openssl signed, in front of a real `plotstream serve`;
//! `plotstream stream` streams through it trusting that CA (`--ca-cert`),
//! and refuses the connection without it.
//!
//! Needs the `tls` feature: `cargo test --features tls --test tls` (which
//! `.ci/run` runs); without it the test is ignored and says so.

mod common;

use std::time::Duration;

use common::{Served, Server, get_json, plotstream_bin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(feature = "tls", have_nginx, have_openssl)),
    ignore = "needs the tls feature, nginx and openssl (cargo test --features tls --test tls; apt-get install nginx-light openssl)"
)]
async fn stream_over_https_trusts_the_ca_it_is_given_and_no_other() {
    let viewer = Served::start(&["--addr", "127.0.0.1:0"]).await;
    let proxy = Server::tls_proxy(&viewer.addr).await;
    let url = format!("https://localhost:{}", proxy.port);
    let cert = proxy.dir.join("ca.pem");
    let cert = cert.to_str().expect("a UTF-8 path");
    let stream = async |extra: &[&str]| {
        let run = tokio::process::Command::new(plotstream_bin())
            .args([
                "stream",
                "noisy-cosine",
                "--url",
                &url,
                "--count",
                "20",
                "--max-rate",
            ])
            .args(extra)
            .output();
        tokio::time::timeout(Duration::from_secs(60), run)
            .await
            .expect("stream ends")
            .expect("runs")
    };

    let out = stream(&["--ca-cert", cert]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.starts_with(&format!("live plot: {url}/plot/1")),
        "the page under the https URL: {stdout}"
    );
    assert!(
        stdout.contains("noisy-cosine: 20 writes") && stdout.contains("server answered 200"),
        "{stdout}"
    );
    let fig = get_json(&viewer.addr, "/api/figures/1").await;
    assert_eq!(
        fig["data"][0]["y"].as_array().map(Vec::len),
        Some(20),
        "every write went through TLS: {fig}"
    );

    // Without the certificate, the server is not trusted: said, not sent.
    let out = stream(&[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("tls handshake with localhost:") && err.contains("UnknownIssuer"),
        "{err}"
    );

    // A file that holds no certificate is refused before anything is sent.
    let out = stream(&["--ca-cert", "Cargo.toml"]).await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("holds no PEM certificate"),
        "{out:?}"
    );
}
