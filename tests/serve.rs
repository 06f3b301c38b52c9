//! `plotstream serve`, run as a user runs it.

mod common;

use std::time::Duration;

use common::Served;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

async fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connects");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .expect("asks");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("reads");
    out
}

/// Streams `{"x":1}` on `token` and returns the raw answer.
async fn stream_one_point(addr: &str, token: &str) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connects");
    let request = format!(
        "POST / HTTP/1.1\r\nhost: localhost\r\nplotly-streamtoken: {token}\r\ntransfer-encoding: chunked\r\n\r\n8\r\n{{\"x\":1}}\n\r\n0\r\n\r\n"
    );
    s.write_all(request.as_bytes()).await.expect("streams");
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.expect("answered");
    answer
}

#[tokio::test]
async fn serve_says_where_it_listens_takes_streams_and_stops_on_ctrl_c() {
    let Served { child, lines, addr } = Served::start(&["--addr", "127.0.0.1:0"]).await;
    assert_eq!(lines.len(), 1, "no warning on loopback: {lines:?}");
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );

    // Open on loopback: a new token gets a figure.
    let answer = stream_one_point(&addr, "new").await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        get(&addr, "/api/figures")
            .await
            .contains("\"title\":\"new\"")
    );

    let pid = child.id().expect("running").to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .await
            .expect("kill")
            .success()
    );
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("stops after Ctrl-C")
        .expect("waits");
    assert!(out.status.success(), "{out:?}");
}

#[tokio::test]
async fn serve_warns_on_a_reachable_address_and_is_closed_there() {
    // Talked to over loopback only.
    let Served {
        lines,
        addr,
        child: _running,
    } = Served::start(&["--addr", "0.0.0.0:0"]).await;
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("warning: 0.0.0.0:0 is not a loopback address: the viewer is reachable from other machines"),
        "{lines:?}"
    );
    let answer = stream_one_point(&addr, "new").await;
    assert!(
        answer.starts_with("HTTP/1.1 404"),
        "closed unless asked: {answer}"
    );
}
