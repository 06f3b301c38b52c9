//! `plotstream serve`: the live viewer.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use plotstream_viewer::{Config, Viewer};

use super::Error;
use crate::pace::runtime;

/// Options of `plotstream serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeOpts {
    /// Where to listen. Anything but a loopback address makes the viewer
    /// reachable from other machines.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Give an unknown token a default scatter figure of its own instead of
    /// answering 404 (the default on a loopback address).
    #[arg(long, overrides_with = "closed")]
    pub open: bool,
    /// Answer 404 to unknown tokens (the default on other addresses).
    #[arg(long, overrides_with = "open")]
    pub closed: bool,
    /// Close a stream idle (no write, no heartbeat) for this many seconds, with 408.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub idle_timeout: u64,
}

pub(crate) fn run(opts: &ServeOpts, out: &mut (dyn io::Write + Send)) -> Result<(), Error> {
    let loopback = opts.addr.ip().is_loopback();
    let open = opts.open || (loopback && !opts.closed);
    if !loopback {
        tracing_warn(out, opts.addr, open)?;
    }
    let viewer = Viewer::new(Config {
        open,
        idle_timeout: Duration::from_secs(opts.idle_timeout.max(1)),
        ..Config::default()
    });
    runtime()?.block_on(async {
        let listener = plotstream_viewer::bind(opts.addr).await?;
        let addr = listener.local_addr().map_err(Error::Output)?;
        writeln!(out, "listening on http://{addr}").map_err(Error::Output)?;
        out.flush().map_err(Error::Output)?;
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        plotstream_viewer::serve(listener, viewer, shutdown).await?;
        Ok(())
    })
}

/// Says plainly that a non-loopback viewer is reachable.
fn tracing_warn(out: &mut dyn io::Write, addr: SocketAddr, open: bool) -> Result<(), Error> {
    writeln!(
        out,
        "warning: {addr} is not a loopback address: the viewer is reachable from other machines, \
         and anyone who reaches it can read every plot{}",
        if open {
            " and stream to any token (--open)"
        } else {
            ""
        }
    )
    .map_err(Error::Output)
}
