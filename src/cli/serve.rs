//! `plotstream serve`: the live viewer.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use plotstream_viewer::{AllowedHosts, Config, Viewer};

use super::{Error, flags};
use crate::pace::runtime;

/// Open files the server keeps for itself besides connections (listener,
/// stdio, the runtime's own).
const RESERVED_FILES: u64 = 64;

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
    /// Close a stream idle (no write, no heartbeat) this long, with 408.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = flags::duration)]
    pub idle_timeout: Duration,
    /// The most figures held; a new one over it (or an unknown token under
    /// --open) is refused with 429.
    #[arg(long, value_name = "N", default_value = "1000", value_parser = flags::count)]
    pub max_figures: usize,
    /// The most traces in one figure.
    #[arg(long, value_name = "N", default_value = "1000", value_parser = flags::count)]
    pub max_traces: usize,
    /// The most distinct attributes one token may stream (x, y, marker.color, …);
    /// a write naming one more is refused with 400.
    #[arg(long, value_name = "N", default_value = "64", value_parser = flags::count)]
    pub max_columns: usize,
    /// The longest line a stream may send; a longer one is refused with 413.
    #[arg(long, value_name = "BYTES", default_value = "1MiB", value_parser = flags::bytes)]
    pub max_line_bytes: usize,
    /// The largest figure POST /api/figures takes.
    #[arg(long, value_name = "BYTES", default_value = "2MiB", value_parser = flags::bytes)]
    pub max_figure_bytes: usize,
    /// How far a browser may fall behind, in bytes of updates, before it is
    /// sent a fresh snapshot instead.
    #[arg(long, value_name = "BYTES", default_value = "4MiB", value_parser = flags::bytes)]
    pub subscriber_backlog: usize,
    /// Drop a figure made for an unknown token (under --open) after this
    /// long with no stream and no write; `never` keeps them.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = flags::duration_or_never)]
    pub open_figure_ttl: flags::OrNever,
    /// Close a connection that has not sent a whole request head this long
    /// after it opened or after its last answer (streams that write or send
    /// heartbeats are not affected).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = flags::duration)]
    pub header_timeout: Duration,
    /// The most connections open at once; one more is answered 503. Lowered
    /// to fit the open-file limit, with a warning.
    #[arg(long, value_name = "N", default_value = "16384", value_parser = flags::count)]
    pub max_connections: usize,
    /// Also answer requests whose Host is NAME (repeatable). On a loopback
    /// address only the loopback's names are answered (localhost, 127.x.y.z,
    /// `[::1]`): another name means a web page reached the viewer through DNS
    /// rebinding.
    #[arg(long = "allow-host", value_name = "NAME", value_parser = flags::host_name)]
    pub allow_hosts: Vec<String>,
    /// Show figures' stream tokens to anyone who reads them (the default on
    /// a loopback address). A token lets its holder write into a figure.
    #[arg(long)]
    pub show_tokens: bool,
}

impl ServeOpts {
    /// The viewer's configuration for these options; `max_connections` is
    /// as asked, before the open-file limit is looked at.
    pub fn config(&self) -> Config {
        let loopback = self.addr.ip().is_loopback();
        Config {
            open: self.open || (loopback && !self.closed),
            idle_timeout: self.idle_timeout,
            max_line_len: self.max_line_bytes,
            subscriber_backlog_bytes: self.subscriber_backlog,
            max_figures: self.max_figures,
            max_traces: self.max_traces,
            max_columns: self.max_columns,
            max_figure_bytes: self.max_figure_bytes,
            open_figure_ttl: self.open_figure_ttl.0,
            header_timeout: self.header_timeout,
            max_connections: self.max_connections,
            allowed_hosts: if loopback {
                AllowedHosts::Loopback(self.allow_hosts.clone())
            } else {
                AllowedHosts::Any
            },
            show_tokens: self.show_tokens || loopback,
            ..Config::default()
        }
    }
}

pub(crate) fn run(opts: &ServeOpts, out: &mut (dyn io::Write + Send)) -> Result<(), Error> {
    let mut config = opts.config();
    if !opts.addr.ip().is_loopback() {
        warn_reachable(out, opts.addr, &config)?;
    }
    config.max_connections = fit_file_limit(config.max_connections, out)?;
    let viewer = Viewer::new(config)?;
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

/// Raises the open-file limit as far as the system allows, and lowers
/// `wanted` connections to what fits, saying so.
fn fit_file_limit(wanted: usize, out: &mut dyn io::Write) -> Result<usize, Error> {
    let want_files = wanted as u64 + RESERVED_FILES;
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            writeln!(
                out,
                "warning: cannot raise the open-file limit ({e}); --max-connections {wanted} may not fit"
            )
            .map_err(Error::Output)?;
            return Ok(wanted);
        }
    };
    if limit >= want_files {
        return Ok(wanted);
    }
    let fits = usize::try_from(limit.saturating_sub(RESERVED_FILES).max(1)).unwrap_or(1);
    writeln!(
        out,
        "warning: the open-file limit is {limit}: serving at most {fits} connections, not {wanted} \
         (raise the hard limit, `ulimit -Hn`, to serve more)"
    )
    .map_err(Error::Output)?;
    Ok(fits)
}

/// Says plainly that a non-loopback viewer is reachable, and by whom.
fn warn_reachable(out: &mut dyn io::Write, addr: SocketAddr, config: &Config) -> Result<(), Error> {
    writeln!(
        out,
        "warning: {addr} is not a loopback address: the viewer is reachable from other machines, \
         and anyone who reaches it can read every plot{}{}",
        if config.open {
            " and stream to any token (--open)"
        } else {
            ""
        },
        if config.show_tokens {
            ", and see the stream tokens that let them write into figures (--show-tokens)"
        } else {
            ""
        }
    )
    .map_err(Error::Output)
}
