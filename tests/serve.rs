//! `plotstream serve`, run as a user runs it.

mod common;

use common::Served;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
    let served = Served::start(&["--addr", "127.0.0.1:0"]).await;
    let (lines, addr) = (&served.lines, served.addr.clone());
    assert_eq!(
        lines[..lines.len() - 1],
        ["figures are kept in memory only (--in-memory): they go when the viewer stops"],
        "no warning on loopback"
    );
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

    // Stops after Ctrl-C, cleanly, with 130.
    served.stop("-INT").await;
}

#[tokio::test]
async fn serve_warns_on_a_reachable_address_and_is_closed_there() {
    // Talked to over loopback only.
    let Served {
        lines,
        addr,
        child: _running,
    } = Served::start(&["--addr", "0.0.0.0:0"]).await;
    assert_eq!(lines.len(), 3, "{lines:?}");
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

/// A port another program holds: the second server fails at run time
/// (exit 1) and says how to get a port that is free.
#[tokio::test]
async fn serve_on_a_port_in_use_says_how_to_pick_another() {
    let (taken, busy) = common::taken_port();
    let out = tokio::process::Command::new(common::plotstream_bin())
        .args(["serve", "--in-memory", "--addr", &busy])
        .output()
        .await
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: --addr "),
        "{out:?}"
    );
    common::assert_says_taken(&out.stderr, "--addr", &busy);
    drop(taken);
}

/// Addresses by name, and flags that contradict each other refused.
#[tokio::test]
async fn serve_takes_a_host_name_and_refuses_open_with_closed() {
    let served = Served::start(&["--addr", "localhost:0"]).await;
    let last = served.lines.last().expect("a line");
    assert!(
        last.starts_with("listening on http://127.0.0.1:")
            || last.starts_with("listening on http://[::1]:"),
        "{last}"
    );
    drop(served);
    // Refused as bad arguments (exit 2), saying why.
    let refused = async |args: &[&str]| {
        let out = tokio::process::Command::new(common::plotstream_bin())
            .arg("serve")
            .args(args)
            .arg("--in-memory")
            .output()
            .await
            .expect("runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refused(&["--open", "--closed"]).await;
    assert!(
        err.contains("'--open' cannot be used with '--closed'"),
        "{err}"
    );
    let err = refused(&["--addr", "localhost"]).await;
    assert!(err.contains("give IP:PORT or NAME:PORT"), "{err}");
}

/// `--max-points` bounds the `maxpoints` a figure may ask for.
#[tokio::test]
async fn max_points_bounds_what_a_figure_may_keep() {
    let served = Served::start(&["--addr", "127.0.0.1:0", "--max-points", "100"]).await;
    let figure = |maxpoints: u64| serde_json::json!({"data": [{"type": "scatter", "stream": {"token": "p", "maxpoints": maxpoints}}]});
    let (status, body) = common::post_json(&served.addr, "/api/figures", &figure(101)).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("maxpoints 101 is outside 1 to 100 (--max-points)"),
        "{body}"
    );
    let (status, body) = common::post_json(&served.addr, "/api/figures", &figure(100)).await;
    assert_eq!(status, 201, "{body}");
}
