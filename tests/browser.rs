//! The live page in a real browser: Debian's Chromium, headless, driven by
//! chromedriver over WebDriver with fantoccini, while a demo streams.
//!
//! The page keeps a status element (`#status`, with `data-state`,
//! `data-points` and `data-updates`) that it updates after each drawn frame;
//! the test reads it, and saves a screenshot to
//! `target/tmp/screenshots/` (the README shows them). Without Chromium and
//! chromedriver the tests are ignored and say why, except under `CI=true` (where
//! `.ci/run` installs them), where it fails.

mod common;

use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use plotstream::demos::{Demo, DemoKind};
use plotstream::live::LiveArgs;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver with one headless Chromium session, driven with
/// fantoccini.
struct Browser {
    driver: Child,
    client: fantoccini::Client,
    profile: PathBuf,
}

impl Browser {
    async fn start() -> Browser {
        let port = common::free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let profile =
            std::env::temp_dir().join(format!("plotstream-chromium-{}", std::process::id()));
        let options = json!({"binary": CHROMIUM, "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            // Animation frames at the display's rate, as on a screen:
            // headless Chromium otherwise throttles an unseen page.
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows",
            "--window-size=1000,650", format!("--user-data-dir={}", profile.display()),
        ]});
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert("goog:chromeOptions".into(), options);
        let mut builder = fantoccini::ClientBuilder::new(
            hyper_util::client::legacy::connect::HttpConnector::new(),
        );
        builder.capabilities(caps);
        let url = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        // chromedriver takes a moment to listen.
        let client = loop {
            match builder.connect(&url).await {
                Ok(client) => break client,
                Err(e) => assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "no chromedriver session: {e}"
                ),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        Browser {
            driver,
            client,
            profile,
        }
    }

    async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("navigates");
    }

    async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .expect("the script runs")
    }

    async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("a screenshot")
    }

    async fn quit(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill().await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A viewer with `config`, served here on 127.0.0.1:0; its address.
async fn viewer_here(config: plotstream::viewer::Config) -> (plotstream::viewer::Viewer, String) {
    let viewer = plotstream::viewer::Viewer::new(config).expect("a valid config");
    let addr = common::serve_here(&viewer).await;
    (viewer, addr)
}

/// Sends each line written to it down a channel.
struct Lines(tokio::sync::mpsc::UnboundedSender<String>, Vec<u8>);

impl io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.1.extend_from_slice(buf);
        while let Some(pos) = self.1.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.1.drain(..=pos).collect();
            let _ = self
                .0
                .send(String::from_utf8_lossy(&line).trim_end().to_owned());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The browser, which the build saw (see `build.rs`: without it these
/// tests are ignored, and say why); missing now, the test fails saying so.
fn require_browser() {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !std::path::Path::new(p).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "{missing:?} missing: `.ci/run` installs them (apt-get install chromium chromium-driver)"
    );
}

/// Why a browser test is ignored: written once, shown in the test summary.
macro_rules! browser_test {
    ($(#[$meta:meta])* async fn $name:ident() $body:block) => {
        $(#[$meta])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[cfg_attr(
            not(have_chromium),
            ignore = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )]
        async fn $name() {
            require_browser();
            $body
        }
    };
}

/// Says how long the page took to draw its first plot, from the start of
/// the navigation (measured by the page, `performance.now()`). Reported,
/// not asserted: speed is the benchmarks' to hold.
#[allow(clippy::print_stderr)]
fn report_first_plot(page: &str, status: &Value) {
    let ms = status["firstPlotMs"].as_str().unwrap_or("?");
    eprintln!("{page}: first plot drawn {ms} ms after navigation start");
}

/// One browser at a time: two headless Chromiums side by side on two cores
/// lose their sessions.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Streams `demo` at ten times real time into a viewer started here, waits
/// until `token` has had more than `enough` writes, opens the plot in
/// Chromium, and checks that the page is live and that plotly.js holds
/// `points` x values per trace; saves a screenshot as `shot`.
async fn live_page(demo: Box<dyn Demo>, token: &str, enough: u64, points: Value, shot: &str) {
    let _turn = ONE_BROWSER.lock().await;
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let live = tokio::spawn(async move {
        let args = LiveArgs {
            speed: 10.0,
            ..LiveArgs::default()
        };
        let mut out = Lines(lines_tx, Vec::new());
        plotstream::live::stream(demo, &args, &mut out, async move {
            let _ = stop_rx.await;
        })
        .await
    });
    let first = lines.recv().await.expect("the plot's URL is printed");
    let plot_url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    let addr = plot_url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("host:port")
        .to_owned();

    // Wait until more has streamed than the traces keep.
    let start = Instant::now();
    loop {
        let s = common::try_get(&addr, &format!("/api/streams/{token}"))
            .await
            .and_then(|(_, body)| serde_json::from_str::<Value>(&body).ok())
            .unwrap_or(Value::Null);
        if s["writes"].as_u64().unwrap_or(0) > enough {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the demo is not streaming: {s}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let total: u64 = points
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    let browser = Browser::start().await;
    browser.open(&plot_url).await;
    let status = "const s = document.getElementById('status'); return s ? Object.assign({}, s.dataset) : null;";
    let start = Instant::now();
    let seen = loop {
        let s = browser.eval(status).await;
        if s["state"] == "live"
            && s["points"].as_str().and_then(|p| p.parse::<u64>().ok()) == Some(total)
            && s["updates"].as_str().is_some_and(|u| u != "0")
        {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the page never showed {total} live points: {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    report_first_plot(shot, &seen);
    // Still live: updates keep arriving while the demo streams, and the
    // traces keep what they should.
    let updates = |s: &Value| {
        s["updates"]
            .as_str()
            .and_then(|u| u.parse::<u64>().ok())
            .unwrap_or(0)
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = browser.eval(status).await;
    assert!(
        updates(&later) > updates(&seen),
        "no updates drawn: {seen} then {later}"
    );
    let drawn = browser
        .eval("return document.getElementById('plot').data.map(t => t.x.length);")
        .await;
    assert_eq!(drawn, points, "plotly.js holds what the traces keep");

    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).expect("a screenshot folder");
    std::fs::write(dir.join(shot), &png).expect("saves the screenshot");
    browser.quit().await;

    let _ = stop_tx.send(());
    let done = live
        .await
        .expect("the live task ends")
        .expect("streamed cleanly");
    assert!(done.frames > enough, "{done:?}");
}

browser_test! {
    async fn the_live_page_draws_the_noisy_cosine() {
        let demo = DemoKind::NoisyCosine.build(7).expect("a demo");
        live_page(
            demo,
            "noisy-cosine",
            100,
            json!([80]),
            "noisy_cosine_live.png",
        )
        .await;
    }
}

browser_test! {
    /// The rods trace holds its three points (pivot, upper bob, lower bob),
    /// overwritten each frame; the trail the last 100 positions.
    async fn the_live_page_draws_the_double_pendulum() {
        let demo = DemoKind::DoublePendulum.build(0).expect("a demo");
        live_page(
            demo,
            "double-pendulum-trail",
            120,
            json!([3, 100]),
            "double_pendulum_live.png",
        )
        .await;
    }
}

browser_test! {
    /// Five continents, each trace holding its countries, overwritten each frame.
    async fn the_live_page_draws_the_gapminder_bubbles() {
        let demo = DemoKind::Gapminder.build(0).expect("a demo");
        let counts = json!([33, 30, 52, 25, 2]); // Asia, Europe, Africa, Americas, Oceania
        live_page(demo, "gapminder-asia", 150, counts, "gapminder_live.png").await;
    }
}

browser_test! {
    /// The count and its moving average, 1,000 points each.
    async fn the_live_page_draws_the_ppbp() {
        let demo = DemoKind::Ppbp.build(7).expect("a demo");
        live_page(
            demo,
            "ppbp-active",
            1100,
            json!([1000, 1000]),
            "ppbp_live.png",
        )
        .await;
    }
}

browser_test! {
    /// A figure made as chart_studio's `py.plot` makes it (`POST /v2/plots`),
    /// streamed to, then opened at the embed URL `tls.embed` puts in its
    /// iframe: the bare page draws the last maxpoints points.
    async fn the_embed_page_draws_a_chart_studio_plot() {
        let _turn = ONE_BROWSER.lock().await;
        let viewer = plotstream::viewer::Viewer::new(plotstream::viewer::Config::default())
            .expect("a valid config");
        let addr = common::serve_here(&viewer).await;
        let plot = json!({
            "figure": {
                "data": [{"type": "scatter", "x": [], "y": [], "mode": "lines+markers",
                          "stream": {"token": "embed-token", "maxpoints": 80}}],
                "layout": {"title": {"text": "Time Series"}}
            },
            "filename": "python-streaming",
            "world_readable": true
        });
        let (_, created) = common::post_json(&addr, "/v2/plots", &plot).await;
        let created: Value = serde_json::from_str(&created).expect("JSON");
        let web_url = created["file"]["web_url"]
            .as_str()
            .unwrap_or_else(|| panic!("no web_url: {created}"))
            .to_owned();
        let writes: Vec<plotstream::protocol::Write> = (0..200)
            .map(|i| plotstream::protocol::Write::xy(i, i * i))
            .collect();
        viewer.apply("embed-token", &writes).expect("applied");

        let browser = Browser::start().await;
        browser
            .open(&format!("{}.embed", web_url.trim_end_matches('/')))
            .await;
        let status = "const s = document.getElementById('status'); return s ? Object.assign({}, s.dataset) : null;";
        let start = Instant::now();
        loop {
            let s = browser.eval(status).await;
            // Applied in the viewer's process: no stream feeds it.
            if s["state"] == "idle" && s["points"] == "80" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the embed page never drew 80 points: {s}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let drawn = browser
            .eval("const d = document.getElementById('plot').data[0]; return [d.x[0], d.x.length, d.mode];")
            .await;
        assert_eq!(
            drawn,
            json!([120, 80, "lines+markers"]),
            "the last 80 points, drawn"
        );
        let title = browser
            .eval("return document.getElementById('plot').layout.title.text;")
            .await;
        assert_eq!(title, "Time Series");
        browser.quit().await;
    }
}

browser_test! {
    /// The page says whether streams feed its figure: "live · 1 stream" while
    /// one writes, "idle" once it ends. The index page lists figures made
    /// after it was opened, on its own.
    async fn the_pages_follow_streams_and_figures_as_they_come_and_go() {
        use plotstream::viewer::Config;
        let _turn = ONE_BROWSER.lock().await;
        let (viewer, addr) = viewer_here(Config::default()).await;
        let figure = |token: &str| plotstream::protocol::Figure {
            data: vec![plotstream::protocol::Trace::streamed(
                "scatter",
                plotstream::protocol::StreamSpec::new(token, 100),
            )],
            ..Default::default()
        };
        let id = viewer.add_figure(figure("follow")).expect("valid");
        let url = format!("http://{addr}");
        let stream = plotstream::client::Stream::connect(&url, "follow", Default::default())
            .await
            .expect("connects");
        for i in 0..10 {
            stream
                .write(&plotstream::protocol::Write::xy(i, i))
                .await
                .expect("writes");
        }

        let browser = Browser::start().await;
        browser.open(&format!("{url}/plot/{id}")).await;
        let status =
            "const s = document.getElementById('status'); return [s.dataset.state, s.textContent];";
        let wait_for = async |state: &str| {
            let start = Instant::now();
            loop {
                let s = browser.eval(status).await;
                if s[0] == state {
                    return s[1].as_str().unwrap_or_default().to_owned();
                }
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "the page never said {state}: {s}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let live = wait_for("live").await;
        assert!(
            live.starts_with("live · 1 stream · 10 points held"),
            "{live}"
        );
        assert_eq!(stream.close().await.expect("closes").status, 200);
        let idle = wait_for("idle").await;
        assert!(
            idle.starts_with("idle: no stream connected · 10 points held"),
            "{idle}"
        );

        browser.open(&url).await;
        let rows = "return [...document.querySelectorAll('#figures tr[data-figure]')].map(r => r.dataset.figure);";
        assert_eq!(browser.eval(rows).await, json!([id.to_string()]));
        let later = viewer.add_figure(figure("later")).expect("valid");
        let start = Instant::now();
        loop {
            if browser.eval(rows).await == json!([id.to_string(), later.to_string()]) {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the index page never listed figure {later}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        browser.quit().await;
    }
}

browser_test! {
    /// A figure whose oldest points the viewer dropped to stay within its
    /// memory budget says so on its page, and the page holds what the
    /// viewer holds: no more, also as new points arrive.
    async fn the_page_says_what_memory_dropped_and_keeps_what_the_viewer_keeps() {
        use plotstream::protocol::{Figure, StreamSpec, Trace, Write};
        use plotstream::viewer::{Config, Viewer};
        let _turn = ONE_BROWSER.lock().await;
        let viewer = Viewer::new(Config {
            max_token_bytes: 20_000,
            ..Config::default()
        })
        .expect("a valid config");
        let addr = common::serve_here(&viewer).await;
        let id = viewer
            .add_figure(Figure {
                data: vec![Trace::streamed("scatter", StreamSpec::new("mem", 100))],
                ..Default::default()
            })
            .expect("valid");
        let write = |i: u64| -> Write {
            serde_json::from_value(json!({"x": i, "y": i, "text": "s".repeat(1000)}))
                .expect("a write")
        };
        for i in 0..50 {
            viewer.apply("mem", &[write(i)]).expect("applies");
        }
        let held = |viewer: &Viewer| viewer.figure_json(id).expect("a figure")["data"][0]["x"].clone();
        let browser = Browser::start().await;
        browser.open(&format!("http://{addr}/plot/{id}")).await;
        let page = "const s = document.getElementById('status'); \
                    return [s.textContent, document.getElementById('plot').data[0].x];";
        let until = async |want: &Value| {
            let start = Instant::now();
            loop {
                let s = browser.eval(page).await;
                if s[0].as_str().unwrap_or_default().contains("points dropped to stay within memory")
                    && &s[1] == want
                {
                    return s[0].as_str().unwrap_or_default().to_owned();
                }
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "the page never showed {want}: {s}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let kept = held(&viewer);
        let n = kept.as_array().map_or(0, Vec::len);
        assert!(n < 50, "{n} points kept of 50");
        let words = until(&kept).await;
        assert!(
            words.contains(&format!("{} points dropped to stay within memory", 50 - n)),
            "{words}"
        );
        // New points on the open page: it trims as the viewer does.
        for i in 50..70 {
            viewer.apply("mem", &[write(i)]).expect("applies");
        }
        until(&held(&viewer)).await;
        browser.quit().await;
    }
}

browser_test! {
    /// The live page's controls: pause freezes the drawn points while the
    /// viewer's count grows and the status counts what arrived, resume
    /// catches up with all of it; the CSV and NDJSON downloads hold what
    /// `/api` holds.
    async fn pause_freezes_the_view_resume_catches_up_and_downloads_match_the_api() {
        use plotstream::protocol::{Figure, StreamSpec, Trace, Write};
        use plotstream::viewer::{Config, Viewer};
        let _turn = ONE_BROWSER.lock().await;
        let (viewer, addr) = viewer_here(Config::default()).await;
        let id = viewer
            .add_figure(Figure {
                data: vec![Trace::streamed("scatter", StreamSpec::new("paused", 5000))],
                ..Default::default()
            })
            .expect("valid");
        let held = |viewer: &Viewer| {
            viewer.figure_json(id).expect("a figure")["data"][0]["x"]
                .as_array()
                .map_or(0, Vec::len)
        };
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let writer = {
            let viewer = viewer.clone();
            tokio::spawn(async move {
                let mut i = 0u64;
                while !*stop_rx.borrow_and_update() {
                    viewer.apply("paused", &[Write::xy(i, i * 2)]).expect("applies");
                    i += 1;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        };
        let browser = Browser::start().await;
        browser.open(&format!("http://{addr}/plot/{id}")).await;
        let drawn = "return (document.getElementById('plot').data || [{}])[0].x?.length || 0;";
        let start = Instant::now();
        while browser.eval(drawn).await.as_u64().unwrap_or(0) < 10 {
            assert!(start.elapsed() < Duration::from_secs(20), "nothing drawn");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Space pauses (the button's shortcut).
        browser
            .eval("document.body.dispatchEvent(new KeyboardEvent('keydown', {code: 'Space', bubbles: true})); return 1;")
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let frozen = browser.eval(drawn).await.as_u64().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let status = browser
            .eval("const s = document.getElementById('status'); return [s.textContent, Number(s.dataset.unseen)];")
            .await;
        assert_eq!(browser.eval(drawn).await.as_u64(), Some(frozen), "frozen while paused");
        assert!(held(&viewer) as u64 > frozen + 20, "the viewer kept taking writes");
        assert!(
            status[0].as_str().unwrap_or_default().starts_with("paused · ")
                && status[1].as_u64().unwrap_or(0) > 20,
            "{status}"
        );
        // Resume with the button: everything held is drawn.
        let _ = stop_tx.send(true);
        writer.await.expect("the writer");
        browser.eval("document.getElementById('pause').click(); return 1;").await;
        let all = held(&viewer) as u64;
        let start = Instant::now();
        while browser.eval(drawn).await.as_u64() != Some(all) {
            assert!(start.elapsed() < Duration::from_secs(20), "resume did not catch up to {all}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The downloads, fetched by the page, against /api.
        let csv = browser
            .eval(&format!(
                "return fetch('/api/figures/{id}/data.csv').then(r => r.text());"
            ))
            .await;
        let csv = csv.as_str().expect("the CSV").to_owned();
        let api = viewer.figure_json(id).expect("a figure");
        let xs: Vec<String> = api["data"][0]["x"]
            .as_array()
            .expect("x")
            .iter()
            .map(ToString::to_string)
            .collect();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(rows[0], "trace,x,y");
        assert_eq!(rows.len() - 1, xs.len());
        for (row, x) in rows[1..].iter().zip(&xs) {
            assert_eq!(row.split(',').nth(1), Some(x.as_str()), "{row}");
        }
        let ndjson = common::get(&addr, &format!("/api/figures/{id}/data.ndjson")).await;
        assert_eq!(ndjson.0, 200);
        assert_eq!(ndjson.1.lines().count(), xs.len());
        browser.quit().await;
    }
}

browser_test! {
    /// The lessons, each drawn: 30 s of each pendulum lesson (600 frames),
    /// and 165 s of PPBP's (its variance–time plot needs 164 s), put into a
    /// viewer at once, then its page opened. The chaos page shows
    /// two pendulums that have parted and a separation grown by more than
    /// eight orders of magnitude, with the fitted λ in its title; the energy
    /// and phase pages draw their right-hand plots. A screenshot of each is
    /// saved (the README's are these).
    async fn the_lessons_draw_chaos_energy_phase_and_self_similarity() {
        use plotstream::demos::{Clock, Demo, Frame, Lesson, PendulumLessonDemo, PpbpVarianceDemo};
        use plotstream::viewer::Config;
        let _turn = ONE_BROWSER.lock().await;
        let (viewer, addr) = viewer_here(Config::default()).await;
        let browser = Browser::start().await;
        let lesson = |l: Lesson, name: &str| -> Box<dyn Demo> {
            Box::new(PendulumLessonDemo::new(name, l).expect("a lesson"))
        };
        let ppbp = PpbpVarianceDemo::new("ppbp-variance", Default::default(), 0).expect("a demo");
        for (mut demo, shot, frames, chaos) in [
            (lesson(Lesson::Chaos, "pendulum-chaos"), "pendulum-chaos.png", 600, true),
            (lesson(Lesson::Energy { dt: 0.01 }, "pendulum-energy"), "pendulum-energy.png", 600, false),
            (lesson(Lesson::Phase, "pendulum-phase"), "pendulum-phase.png", 600, false),
            // 3 min of traffic, the least its variance–time plot is drawn from.
            (Box::new(ppbp) as Box<dyn Demo>, "ppbp-variance.png", 16_500, false),
        ] {
            let id = viewer.add_figure(demo.figure()).expect("valid");
            let mut frame = Frame::default();
            for _ in 0..frames {
                demo.next_frame(Clock::Simulated, &mut frame);
                for w in &frame.writes {
                    viewer
                        .apply(&demo.tokens()[w.token], std::slice::from_ref(&w.write))
                        .expect("applies");
                }
            }
            browser.open(&format!("http://{addr}/plot/{id}")).await;
            let data = "const g = document.getElementById('plot'); \
                        return g.data ? [g.data.map(t => (t.x || []).length), g.data, (g.layout.title || {}).text] : null;";
            let start = Instant::now();
            let seen = loop {
                let s = browser.eval(data).await;
                if s[0].as_array().is_some_and(|l| l.iter().all(|n| n.as_u64() > Some(0))) {
                    break s;
                }
                assert!(start.elapsed() < Duration::from_secs(20), "{shot}: nothing drawn: {s}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            if chaos {
                assert_ne!(seen[1][0]["x"], seen[1][1]["x"], "two pendulums, apart by now");
                let d: Vec<f64> = seen[1][2]["y"]
                    .as_array()
                    .expect("the separation")
                    .iter()
                    .filter_map(Value::as_f64)
                    .collect();
                let (first, last) = (d[0], d[d.len() - 1]);
                assert!(last / first > 1e8, "diverged: {first} to {last}");
                assert!(
                    seen[2].as_str().is_some_and(|t| t.contains("λ ≈")),
                    "the fitted λ in the title: {}",
                    seen[2]
                );
            }
            let png = browser.screenshot().await;
            assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
            std::fs::create_dir_all(&dir).expect("a screenshot folder");
            std::fs::write(dir.join(shot), &png).expect("saves the screenshot");
        }
        browser.quit().await;
    }
}

browser_test! {
    /// The page keeps up with the data rate: 100 streams × 20 writes/s
    /// into one figure of 100 traces for 5 s, drawn at most once an
    /// animation frame. Measured, not asserted (speed is the benchmarks'
    /// to hold): the intervals between animation frames and the long tasks
    /// (over 50 ms) the page ran, reported on stderr and in the README. It
    /// must draw the updates, and hold every trace's points.
    async fn the_page_keeps_up_with_a_hundred_streams_of_twenty_writes_a_second() {
        use plotstream::protocol::{Figure, StreamSpec, Trace, Write};
        use plotstream::viewer::Config;
        const STREAMS: usize = 100;
        let _turn = ONE_BROWSER.lock().await;
        let (viewer, addr) = viewer_here(Config::default()).await;
        let tokens: Vec<String> = (0..STREAMS).map(|i| format!("busy-{i}")).collect();
        let id = viewer
            .add_figure(Figure {
                data: tokens
                    .iter()
                    .map(|t| Trace::streamed("scatter", StreamSpec::new(t.as_str(), 200)))
                    .collect(),
                ..Default::default()
            })
            .expect("valid");
        let browser = Browser::start().await;
        browser.open(&format!("http://{addr}/plot/{id}")).await;
        let start = Instant::now();
        while browser.eval("return document.getElementById('status').dataset.state;").await != "idle" {
            assert!(start.elapsed() < Duration::from_secs(20), "the page never drew");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        browser
            .eval(
                "window.__frames = []; let last = performance.now(); \
                 const tick = (t) => { window.__frames.push(t - last); last = t; requestAnimationFrame(tick); }; \
                 requestAnimationFrame(tick); window.__long = []; \
                 new PerformanceObserver((l) => l.getEntries().forEach((e) => window.__long.push(e.duration))) \
                   .observe({type: 'longtask'}); return 1;",
            )
            .await;
        // 20 writes a second on each of 100 tokens: a tick of 100 every 50 ms.
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        for k in 0..100u64 {
            tick.tick().await;
            for t in &tokens {
                viewer.apply(t, &[Write::xy(k, (k as f64).sin())]).expect("applies");
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let seen = browser
            .eval(
                "const s = document.getElementById('status'); \
                 return [window.__frames, window.__long, Number(s.dataset.updates), \
                         document.getElementById('plot').data.map((t) => t.x.length)];",
            )
            .await;
        let mut frames: Vec<f64> = seen[0]
            .as_array()
            .expect("frame intervals")
            .iter()
            .filter_map(Value::as_f64)
            .collect();
        let long: Vec<f64> = seen[1].as_array().expect("long tasks").iter().filter_map(Value::as_f64).collect();
        assert!(seen[2].as_u64().unwrap_or(0) > 10, "updates drawn: {}", seen[2]);
        assert_eq!(seen[3], json!(vec![100; STREAMS]), "every write of every trace drawn");
        assert!(frames.len() >= 2, "animation frames ran: {}", frames.len());
        frames.sort_by(f64::total_cmp);
        let q = |p: f64| frames[((frames.len() - 1) as f64 * p).round() as usize];
        report_frames(frames.len(), q(0.5), q(0.95), q(1.0), &long);
        browser.quit().await;
    }
}

/// Says what the busy page's animation frames and long tasks were.
#[allow(clippy::print_stderr)]
fn report_frames(n: usize, p50: f64, p95: f64, max: f64, long: &[f64]) {
    eprintln!(
        "100 streams × 20 writes/s: {n} animation frames, interval p50 {p50:.1} ms, p95 {p95:.1} ms, max {max:.1} ms; {} long tasks, {:.0} ms in all",
        long.len(),
        long.iter().sum::<f64>()
    );
}
