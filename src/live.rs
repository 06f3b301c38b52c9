//! Run a demo live: to a viewer given by `--url`, or to one started in this
//! process. The examples are built on this.
//!
//! ```no_run
//! use plotstream::demos::DemoKind;
//! use plotstream::live::{LiveArgs, run};
//!
//! // What `cargo run --example noisy_cosine` does: start a viewer on
//! // 127.0.0.1:8080 (or a free port), print the plot's URL, stream for ever.
//! let demo = DemoKind::NoisyCosine.build(7)?;
//! run(demo, &LiveArgs::default())?;
//! # Ok::<(), plotstream::Error>(())
//! ```

use std::io::{self, Write as _};
use std::net::{Ipv4Addr, SocketAddr};

use clap::Args;
use plotstream_demos::Demo;
use plotstream_viewer::{Config, Viewer};
use tokio::net::TcpListener;

use crate::Error;
use crate::pace::{DemoFigure, Pacer, Streams, block_on, demo_figure, stream_demo};

/// Where the embedded viewer listens when it can: the port learners expect.
const DEFAULT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// How a live demo runs: the options every example takes.
#[derive(Debug, Clone, Args)]
pub struct LiveArgs {
    /// Stream to the plotstream viewer at this URL instead of starting one
    /// here (start one with `plotstream serve`).
    #[arg(long, value_name = "URL", value_parser = crate::flags::server_url)]
    pub url: Option<String>,
    /// Play this many times faster than simulated time (real time is 1).
    #[arg(long, allow_negative_numbers = true, value_name = "X", default_value_t = 1.0, value_parser = crate::flags::positive)]
    pub speed: f64,
    /// Stop after this many frames (the plot stays up until Ctrl-C when the
    /// viewer runs here); without it the demo never ends.
    #[arg(long, allow_negative_numbers = true, value_name = "N", value_parser = crate::flags::count::<u64>)]
    pub count: Option<u64>,
    /// Do not ask the viewer to acknowledge writes (they are acknowledged
    /// by default, so that the summary's loss count is exact).
    #[arg(long)]
    pub no_acks: bool,
}

impl Default for LiveArgs {
    fn default() -> Self {
        LiveArgs {
            url: None,
            speed: 1.0,
            count: None,
            no_acks: false,
        }
    }
}

/// What a live run did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Live {
    /// The page that draws the demo.
    pub plot_url: String,
    /// Frames streamed.
    pub frames: u64,
}

/// Runs `demo` live until Ctrl-C or SIGTERM (or `--count` frames, then,
/// with a viewer here, until the signal): prints the plot's URL, streams in
/// real time (or `--speed`), and closes the streams cleanly, waiting 2 s at
/// most for their answers after a signal.
pub fn run(demo: Box<dyn Demo>, args: &LiveArgs) -> Result<(), Error> {
    let mut out = io::stdout();
    block_on(async {
        let signals = crate::signal::Signals::listen().map_err(Error::Runtime)?;
        let live = stream(demo, args, &mut out, signals.stopped()).await?;
        writeln!(
            out,
            "streamed {} to {}",
            plotstream_protocol::plural(live.frames, "frame", "frames"),
            live.plot_url
        )
        .map_err(Error::Output)
    })
}

/// [`run`]'s async core: streams `demo` until `stop` completes (or `--count`
/// frames), writing what it does to `out`. With a viewer here, it keeps
/// serving after `--count` until `stop`.
pub async fn stream(
    mut demo: Box<dyn Demo>,
    args: &LiveArgs,
    out: &mut (dyn io::Write + Send),
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Live, Error> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        stop.await;
        let _ = stop_tx.send(true);
    });
    let stopped = || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };

    let (url, page, server) = match &args.url {
        Some(url) => {
            let figure = demo_figure(url, &demo.figure(), &Default::default())
                .await?
                .ok_or_else(|| {
                Error::Usage(format!(
                    "{url} is not a plotstream viewer (it has no figure API): start one with `plotstream serve`, \
                     or stream to another server with `plotstream stream`"
                ))
            })?;
            (url.clone(), figure, None)
        }
        None => {
            let (url, page, server) = viewer_here(demo.figure(), stopped()).await?;
            (url, page, Some(server))
        }
    };
    writeln!(out, "{}", page.line()).map_err(Error::Output)?;
    out.flush().map_err(Error::Output)?;

    // The server is a plotstream viewer, here or at --url.
    let acks = crate::pace::Acks::choose(false, args.no_acks, true);
    let mut streams = Streams::new(&url, Default::default(), acks);
    let pacer = Pacer::new(args.speed, false);
    let mut frames = 0u64;
    let work = stream_demo(
        demo.as_mut(),
        &mut streams,
        &pacer,
        args.count,
        &mut frames,
        !page.made,
    );
    let result = tokio::select! {
        r = work => r,
        () = stopped() => Ok(()),
    };
    let grace = (*stop_rx.borrow()).then_some(crate::signal::GRACE);
    streams.close(out, grace).await?;
    result?;
    if let Some(server) = server {
        if !*stop_rx.borrow() {
            writeln!(
                out,
                "done streaming; the plot stays up at {} until Ctrl-C",
                page.url
            )
            .map_err(Error::Output)?;
            out.flush().map_err(Error::Output)?;
        }
        // Keep serving until the stop; the viewer's graceful shutdown then
        // lets requests in flight finish.
        stopped().await;
        server.await.map_err(|_| {
            plotstream_viewer::Error::Serve(io::Error::other("the viewer task ended abnormally"))
        })??;
    }
    Ok(Live {
        plot_url: page.url,
        frames,
    })
}

/// A viewer started here with a demo's `figure`, serving until `stop`: on
/// 127.0.0.1:8080 when that port is free, or else on a free one. Returns
/// its URL, the plot's page (made now) and the server's task.
async fn viewer_here(
    figure: plotstream_protocol::Figure,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(String, DemoFigure, Served), Error> {
    let viewer = Viewer::new(Config::default())?;
    let id = viewer.add_figure(figure)?;
    let listener = match TcpListener::bind(DEFAULT_ADDR).await {
        Ok(l) => l,
        Err(_) => plotstream_viewer::bind(SocketAddr::new(DEFAULT_ADDR.ip(), 0)).await?,
    };
    let addr = listener.local_addr().map_err(Error::Output)?;
    let server = tokio::spawn(plotstream_viewer::serve(listener, viewer, stop));
    let page = DemoFigure {
        url: format!("http://{addr}{}", plotstream_protocol::paths::plot(id)),
        made: true,
    };
    Ok((format!("http://{addr}"), page, server))
}

/// The task of a viewer started here.
type Served = tokio::task::JoinHandle<Result<(), plotstream_viewer::Error>>;
