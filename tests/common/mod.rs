//! A recording Plotly-protocol server for tests: real hyper on 127.0.0.1:0,
//! keeping every stream's lines. Like Plotly's own, it has no other routes:
//! anything but a stream (a `POST` with a token) gets 404.

#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// One stream as the server saw it.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub token: String,
    /// Where the connection came from.
    pub peer: Option<std::net::SocketAddr>,
    pub lines: Vec<String>,
    /// The body ended with its zero chunk (not a reset).
    pub ended_cleanly: bool,
}

#[derive(Debug, Clone)]
pub struct Recorder {
    pub url: String,
    streams: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    pub async fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let streams = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&streams);
        tokio::spawn(async move {
            loop {
                let Ok((socket, peer)) = listener.accept().await else {
                    return;
                };
                let streams = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        record(req, peer, Arc::clone(&streams))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service)
                        .await;
                });
            }
        });
        Recorder { url, streams }
    }

    pub fn streams(&self) -> Vec<Recorded> {
        self.streams.lock().expect("not poisoned").clone()
    }

    /// Lines received so far on all streams.
    pub fn line_count(&self) -> usize {
        self.streams().iter().map(|s| s.lines.len()).sum()
    }
}

async fn record(
    req: Request<Incoming>,
    peer: std::net::SocketAddr,
    streams: Arc<Mutex<Vec<Recorded>>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(token) = req
        .headers()
        .get("plotly-streamtoken")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        let mut not_found = Response::new(Full::new(Bytes::from_static(b"not found")));
        *not_found.status_mut() = hyper::StatusCode::NOT_FOUND;
        return Ok(not_found);
    };
    let index = {
        let mut s = streams.lock().expect("not poisoned");
        s.push(Recorded {
            token,
            peer: Some(peer),
            ..Recorded::default()
        });
        s.len() - 1
    };
    let mut body = req.into_body();
    let mut partial = Vec::new();
    let ended_cleanly = loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    partial.extend_from_slice(data);
                    let mut s = streams.lock().expect("not poisoned");
                    while let Some(pos) = partial.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = partial.drain(..=pos).collect();
                        s[index]
                            .lines
                            .push(String::from_utf8_lossy(&line[..pos]).into_owned());
                    }
                }
            }
            Some(Err(_)) => break false,
            None => break true,
        }
    };
    streams.lock().expect("not poisoned")[index].ended_cleanly = ended_cleanly;
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

/// Serves `viewer` in this process on a free loopback port, until the
/// test ends; its `host:port`.
pub async fn serve_here(viewer: &plotstream::viewer::Viewer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("an address").to_string();
    tokio::spawn(plotstream::viewer::serve(
        listener,
        viewer.clone(),
        std::future::pending(),
    ));
    addr
}

/// The `plotstream` binary under test: `PLOTSTREAM_BIN` if set (to run
/// these tests against another build, such as an older commit's), else
/// this package's.
pub fn plotstream_bin() -> String {
    std::env::var("PLOTSTREAM_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_plotstream").to_owned())
}

/// Sends `signal` (such as `-TERM`) to `child` with kill(1), and waits
/// (30 s at most) for it to exit; what it printed.
pub async fn signal_and_wait(child: tokio::process::Child, signal: &str) -> std::process::Output {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} {pid}");
    tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("no exit within 30 s of {signal}"))
        .expect("waits")
}

/// A subscribed shard's load options: `streams` streams of the test at
/// 20 writes/s for 2 s, shard `shard` (`I/N`), tokens `prefix-…`.
pub fn shard_args(url: &str, streams: u64, shard: &str, prefix: &str) -> Vec<String> {
    [
        "--url",
        url,
        "--streams",
        &streams.to_string(),
        "--rate",
        "20",
        "--duration",
        "2s",
        "--shard",
        shard,
        "--subscribe",
        "--token-prefix",
        prefix,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// The exit code of a command that stopped cleanly on `signal`: 130 after
/// `-INT`, 143 after `-TERM` (128 + the signal's number); `None` for others.
pub fn signal_exit_code(signal: &str) -> Option<i32> {
    match signal {
        "-INT" => Some(130),
        "-TERM" => Some(143),
        _ => None,
    }
}

/// A running `plotstream serve`.
pub struct Served {
    pub child: tokio::process::Child,
    /// `127.0.0.1:port`.
    pub addr: String,
    /// What it printed up to and including `listening on …`.
    pub lines: Vec<String>,
}

impl Served {
    /// Starts `plotstream serve ARGS` (through `sh -c` when `shell_prefix`
    /// is given, such as `ulimit -Hn 300;`) and waits for its address.
    /// Without `--data-dir` in ARGS it serves `--in-memory`: a test never
    /// touches the user's data directory, and tests do not share a store.
    pub async fn start_with(shell_prefix: Option<&str>, args: &[&str]) -> Served {
        use tokio::io::AsyncBufReadExt;
        let mut args = args.to_vec();
        if !args.contains(&"--data-dir") {
            args.push("--in-memory");
        }
        let args = args.as_slice();
        let mut command = match shell_prefix {
            Some(prefix) => {
                let mut c = tokio::process::Command::new("sh");
                c.arg("-c")
                    .arg(format!("{prefix} exec \"$0\" serve \"$@\""))
                    .arg(plotstream_bin())
                    .args(args);
                c
            }
            None => {
                let mut c = tokio::process::Command::new(plotstream_bin());
                c.arg("serve").args(args);
                c
            }
        };
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("serve starts");
        let mut out = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
        let mut lines = Vec::new();
        loop {
            let line = tokio::time::timeout(std::time::Duration::from_secs(20), out.next_line())
                .await
                .expect("serve prints in time")
                .expect("reads")
                .expect("a line before serve exits");
            let done = line.starts_with("listening on http://");
            lines.push(line);
            if done {
                break;
            }
        }
        let port = lines[lines.len() - 1]
            .rsplit(':')
            .next()
            .expect("a port")
            .to_owned();
        Served {
            child,
            addr: format!("127.0.0.1:{port}"),
            lines,
        }
    }

    pub async fn start(args: &[&str]) -> Served {
        Served::start_with(None, args).await
    }

    /// Sends `signal` (such as `-TERM`) and waits (20 s at most) for the
    /// process to exit; what it printed after its address. After `-INT`
    /// and `-TERM` it must have stopped cleanly, with the signal's exit
    /// code ([`signal_exit_code`]).
    pub async fn stop(self, signal: &str) -> std::process::Output {
        let out = signal_and_wait(self.child, signal).await;
        if let Some(code) = signal_exit_code(signal) {
            assert_eq!(
                out.status.code(),
                Some(code),
                "a clean stop on {signal} exits {code}: {out:?}"
            );
        }
        out
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

/// `program`, which the build saw (see `build.rs`: without it the tests
/// that need it are ignored, and say why); missing now, the test fails
/// saying what installs it.
pub fn require(program: &str, package: &str) {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "command -v {program} || test -x /usr/sbin/{program}"
        ))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{program} is missing: `.ci/run` installs it (apt-get install {package})"
    );
}

/// Why Plotly's Python client cannot be used now, if it cannot: it needs
/// the `python3` on PATH with chart_studio 1.1.0 and a plotly that still has
/// `go.Stream` (5.x: plotly 6 dropped streaming). Asked at run time.
pub fn python_client_missing() -> Option<String> {
    let found = std::process::Command::new("python3")
        .args([
            "-c",
            "import importlib.metadata as m, sys; \
             sys.exit(not (m.version('chart-studio') == '1.1.0' and m.version('plotly').startswith('5.')))",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!found).then(|| {
        "needs python3 with chart-studio 1.1.0 and plotly 5.x \
         (pip install chart-studio==1.1.0 plotly==5.24.1)"
            .to_owned()
    })
}

/// A free port on 127.0.0.1 (free when asked; the server takes it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A port on 127.0.0.1 that this listener holds (until it is dropped),
/// and its address: for a test of what a command says when it is taken.
pub fn taken_port() -> (std::net::TcpListener, String) {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let addr = taken.local_addr().expect("an address").to_string();
    (taken, addr)
}

/// Asserts that `stderr` says `flag`'s address `busy` is taken, and the
/// fix: another port, or `flag 127.0.0.1:0`.
pub fn assert_says_taken(stderr: &[u8], flag: &str, busy: &str) {
    let err = String::from_utf8_lossy(stderr);
    assert!(
        err.contains(&format!("{flag} {busy}: cannot listen there: "))
            && err.contains(&format!(
                "pick another port, or {flag} 127.0.0.1:0 for a free one"
            )),
        "{err}"
    );
}

/// A server process started by a test from a config it wrote into a temp
/// dir; killed when dropped.
pub struct Server {
    pub child: tokio::process::Child,
    pub port: u16,
    pub dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Server {
    fn dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "plotstream-{name}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        dir
    }

    /// Waits (10 s at most) until the server accepts connections.
    async fn wait(self) -> Server {
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return self;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the server on port {} did not start", self.port);
    }

    /// nginx with the Nchan module in the foreground, its pid, logs and temp
    /// paths in a temp dir: a publisher (WebSocket or HTTP POST) at
    /// `/pub/{id}`, subscribers (WebSocket, EventSource, …) at `/sub/{id}`
    /// that get only messages published after they connect.
    pub async fn nchan() -> Server {
        require("nginx", "nginx-light libnginx-mod-nchan");
        let module = "/usr/lib/nginx/modules/ngx_nchan_module.so";
        assert!(
            std::path::Path::new(module).exists(),
            "the Nchan module is missing: `.ci/run` installs it (apt-get install libnginx-mod-nchan)"
        );
        Server::nginx(
            "nchan",
            &format!("load_module {module};\n"),
            |port, _| {
                format!(
                    "listen 127.0.0.1:{port};\n\
                     location ~ ^/pub/([^/]+)$ {{ nchan_publisher websocket http; nchan_channel_id $1; }}\n\
                     location ~ ^/sub/([^/]+)$ {{ nchan_subscriber; nchan_channel_id $1; nchan_subscriber_first_message newest; }}\n"
                )
            },
        )
        .await
    }

    /// nginx terminating TLS on a free loopback port, and passing every
    /// request on to `upstream` (`host:port`), streamed, request bodies
    /// unbuffered. Its certificate, for `localhost` and 127.0.0.1, is signed
    /// by a private CA made here by openssl: `ca.pem` in its temp dir is
    /// what a client must trust.
    pub async fn tls_proxy(upstream: &str) -> Server {
        require("nginx", "nginx-light");
        require("openssl", "openssl");
        Server::nginx("tls", "", |port, dir| {
            let openssl = |args: &[&str]| {
                let ok = std::process::Command::new("openssl")
                    .args(args)
                    .current_dir(dir)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(ok, "openssl {args:?} failed");
            };
            openssl(&[
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                "/CN=plotstream test CA", "-keyout", "ca.key", "-out", "ca.pem",
            ]);
            openssl(&[
                "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
                "key.pem", "-out", "leaf.csr",
            ]);
            std::fs::write(
                dir.join("leaf.ext"),
                "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
                 keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
            )
            .expect("writes the extensions");
            openssl(&[
                "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-extfile", "leaf.ext", "-out", "cert.pem",
            ]);
            let d = dir.display();
            format!(
                "listen 127.0.0.1:{port} ssl;\n\
                 ssl_certificate {d}/cert.pem;\n  ssl_certificate_key {d}/key.pem;\n\
                 location / {{ proxy_pass http://{upstream}; proxy_http_version 1.1;\n\
                 proxy_request_buffering off; proxy_buffering off; proxy_set_header Host $host; }}\n"
            )
        })
        .await
    }

    /// nginx in the foreground, its pid, logs and temp paths in a temp dir
    /// of its own; `prelude` goes before `http`, `server(port, dir)` makes
    /// the one server block's directives.
    async fn nginx(
        name: &str,
        prelude: &str,
        server: impl FnOnce(u16, &std::path::Path) -> String,
    ) -> Server {
        let dir = Server::dir(name);
        let port = free_port();
        let block = server(port, &dir);
        let d = dir.display();
        let conf = format!(
            "{prelude}daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\nevents {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             server {{\n{block}}}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).expect("writes the config");
        let child = tokio::process::Command::new("nginx")
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-p")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nginx starts");
        Server { child, port, dir }.wait().await
    }

    /// Mosquitto on a free loopback port, anonymous, without persistence.
    pub async fn mosquitto() -> Server {
        require("mosquitto", "mosquitto");
        let dir = Server::dir("mosquitto");
        let port = free_port();
        std::fs::write(
            dir.join("mosquitto.conf"),
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\n"),
        )
        .expect("writes the config");
        let program = if std::path::Path::new("/usr/sbin/mosquitto").exists() {
            "/usr/sbin/mosquitto"
        } else {
            "mosquitto"
        };
        let child = tokio::process::Command::new(program)
            .arg("-c")
            .arg(dir.join("mosquitto.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("mosquitto starts");
        Server { child, port, dir }.wait().await
    }
}

/// Waits (30 s at most) until the viewer at `addr` has applied `writes`
/// writes (its `plotstream_writes_total`).
pub async fn wait_for_writes(addr: &str, writes: f64) {
    let start = std::time::Instant::now();
    while metric(addr, "plotstream_writes_total").await.unwrap_or(0.0) < writes {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "the viewer at {addr} did not take {writes} writes within 30 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The value of metric `name` in the viewer's `/metrics`, if it has it.
pub async fn metric(addr: &str, name: &str) -> Option<f64> {
    let (_, text) = try_get(addr, "/metrics").await?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|n| n.trim().parse().ok())
}

/// `GET path` on the viewer at `addr`, as JSON.
#[allow(dead_code)]
pub async fn get_json(addr: &str, path: &str) -> serde_json::Value {
    let (_, body) = get(addr, path).await;
    serde_json::from_str(&body).expect("JSON")
}

/// `GET path` on the server at `addr`: the status and the body.
#[allow(dead_code)]
pub async fn get(addr: &str, path: &str) -> (u16, String) {
    try_get(addr, path)
        .await
        .unwrap_or_else(|| panic!("no answer to GET {path} from {addr}"))
}

/// `GET path` on the server at `addr`: the status and the body; `None`
/// when it does not answer.
#[allow(dead_code)]
pub async fn try_get(addr: &str, path: &str) -> Option<(u16, String)> {
    request(addr, "GET", path, None).await
}

/// `POST path` of the JSON `body` to the server at `addr`: the status and
/// the body.
#[allow(dead_code)]
pub async fn post_json(addr: &str, path: &str, body: &serde_json::Value) -> (u16, String) {
    request(addr, "POST", path, Some(body))
        .await
        .unwrap_or_else(|| panic!("no answer to POST {path} from {addr}"))
}

/// One request on a new connection, with a JSON body if given: the status
/// and the body; `None` when the server does not answer.
#[allow(dead_code)]
pub async fn request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let body = body.map(ToString::to_string);
    let head = match &body {
        Some(b) => format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            b.len()
        ),
        None => String::new(),
    };
    s.write_all(
        format!(
            "{method} {path} HTTP/1.1\r\nhost: {addr}\r\n{head}connection: close\r\n\r\n{}",
            body.unwrap_or_default()
        )
        .as_bytes(),
    )
    .await
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).await.ok()?;
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_owned()))
}
