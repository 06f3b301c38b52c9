//! `plotstream serve`: the live viewer.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use plotstream_viewer::{AllowedHosts, Config, Setting, Store, StoreError, Viewer};

use super::Error;
use crate::flags;
use crate::pace::block_on;

/// Open files the server keeps for itself besides connections (listener,
/// stdio, the runtime's own).
const RESERVED_FILES: u64 = 64;

/// Options of `plotstream serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeOpts {
    /// Where to listen: IP:PORT or NAME:PORT (`localhost:9000`; port 0 picks
    /// a free one). Anything but a loopback address makes the viewer
    /// reachable from other machines.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080", value_parser = flags::listen_addr)]
    pub addr: SocketAddr,
    /// Give an unknown token a default scatter figure of its own instead of
    /// answering 404 (the default on a loopback address).
    #[arg(long, conflicts_with = "closed")]
    pub open: bool,
    /// Answer 404 to unknown tokens (the default on other addresses).
    #[arg(long)]
    pub closed: bool,
    /// Close a stream idle (no write, no heartbeat) this long, with 408.
    #[arg(long, allow_hyphen_values = true, value_name = "DURATION", default_value = "60s", value_parser = flags::duration)]
    pub idle_timeout: Duration,
    /// The most figures held; a new one over it (or an unknown token under
    /// --open) is refused with 429.
    #[arg(long, allow_negative_numbers = true, value_name = "N", default_value = "1000", value_parser = flags::count::<usize>)]
    pub max_figures: usize,
    /// The most traces in one figure.
    #[arg(long, allow_negative_numbers = true, value_name = "N", default_value = "1000", value_parser = flags::count::<usize>)]
    pub max_traces: usize,
    /// The most distinct attributes one token may stream (x, y, marker.color, …);
    /// a write naming one more is refused with 400.
    #[arg(long, allow_negative_numbers = true, value_name = "N", default_value = "64", value_parser = flags::count::<usize>)]
    pub max_columns: usize,
    /// The longest line a stream may send; a longer one is refused with 413.
    #[arg(long, allow_negative_numbers = true, value_name = "BYTES", default_value = "1MiB", value_parser = flags::bytes)]
    pub max_line_bytes: usize,
    /// The most bytes all traces' points may hold together (strings
    /// included). Past it the oldest points of the largest figure go first;
    /// each trace keeps its newest point, and the page and /metrics count
    /// what was dropped. 512MiB suits a laptop: a sixteenth of 8 GiB.
    #[arg(long, allow_negative_numbers = true, value_name = "BYTES", default_value = "512MiB", value_parser = flags::bytes)]
    pub memory_limit: usize,
    /// The most bytes one token's traces may hold; past it the oldest points
    /// of its own traces go, so one stream cannot take the whole budget.
    #[arg(long, allow_negative_numbers = true, value_name = "BYTES", default_value = "16MiB", value_parser = flags::bytes)]
    pub max_token_bytes: usize,
    /// The largest maxpoints a trace may ask for (each point it keeps costs
    /// 16 bytes as an (x, y) pair); a figure asking more is refused with 400.
    #[arg(long, allow_negative_numbers = true, value_name = "N", default_value = "1000000", value_parser = flags::count::<usize>)]
    pub max_points: usize,
    /// The largest figure POST /api/figures takes.
    #[arg(long, allow_negative_numbers = true, value_name = "BYTES", default_value = "2MiB", value_parser = flags::bytes)]
    pub max_figure_bytes: usize,
    /// How far a browser may fall behind, in bytes of updates, before it is
    /// sent a fresh snapshot instead.
    #[arg(long, allow_negative_numbers = true, value_name = "BYTES", default_value = "4MiB", value_parser = flags::bytes)]
    pub subscriber_backlog: usize,
    /// Drop a figure made for an unknown token (under --open) after this
    /// long with no stream and no write; `never` keeps them.
    #[arg(long, allow_hyphen_values = true, value_name = "DURATION", default_value = "10m", value_parser = flags::duration_or_never)]
    pub open_figure_ttl: flags::OrNever,
    /// Close a connection that has not sent a whole request head this long
    /// after it opened or after its last answer (streams that write or send
    /// heartbeats are not affected).
    #[arg(long, allow_hyphen_values = true, value_name = "DURATION", default_value = "5s", value_parser = flags::duration)]
    pub header_timeout: Duration,
    /// The most connections open at once; one more is answered 503. Lowered
    /// to fit the open-file limit, with a warning.
    #[arg(long, allow_negative_numbers = true, value_name = "N", default_value = "16384", value_parser = flags::count::<usize>)]
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
    /// Keep figures, their stream tokens, their points and their Chart
    /// Studio names in DIR (one file, figures.redb), so that plots and their
    /// URLs outlive a restart. One viewer a directory. Default: the user's
    /// data directory, $XDG_DATA_HOME/plotstream or ~/.local/share/plotstream.
    #[arg(long, value_name = "DIR", conflicts_with = "in_memory")]
    pub data_dir: Option<PathBuf>,
    /// Keep figures in memory only: they are gone when the viewer stops.
    #[arg(long)]
    pub in_memory: bool,
    /// How often the points of figures written to are saved in the data
    /// directory; a crash (kill -9, power loss) loses at most this long of
    /// points. A figure itself is saved before it is answered, and
    /// everything is saved when the viewer stops (Ctrl-C, SIGTERM).
    #[arg(long, allow_hyphen_values = true, value_name = "DURATION", default_value = "1s", value_parser = flags::duration)]
    pub save_interval: Duration,
}

/// What the viewer's messages call its settings here: the flags that set
/// them, so that a refusal names the flag to change.
const FLAG_NAMES: &[(Setting, &str)] = &[
    (Setting::Open, "plotstream serve --open"),
    (Setting::MaxFigures, "--max-figures"),
    (Setting::MaxTraces, "--max-traces"),
    (Setting::MaxColumns, "--max-columns"),
    (Setting::MaxFigureBytes, "--max-figure-bytes"),
    (Setting::MaxPoints, "--max-points"),
    (Setting::MaxConnections, "--max-connections"),
    (Setting::MemoryLimit, "--memory-limit"),
    (Setting::AllowedHosts, "--allow-host"),
];

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
            max_points: u64::try_from(self.max_points).unwrap_or(u64::MAX),
            open_figure_ttl: self.open_figure_ttl.0,
            header_timeout: self.header_timeout,
            max_connections: self.max_connections,
            allowed_hosts: if loopback {
                AllowedHosts::Loopback(self.allow_hosts.clone())
            } else {
                AllowedHosts::Any
            },
            show_tokens: self.show_tokens || loopback,
            save_interval: self.save_interval,
            memory_limit: self.memory_limit,
            max_token_bytes: self.max_token_bytes,
            setting_names: FLAG_NAMES,
            ..Config::default()
        }
    }

    /// Where figures are kept: `None` under `--in-memory`, else
    /// `--data-dir` or the user's data directory.
    pub fn data_dir(&self) -> Result<Option<PathBuf>, Error> {
        if self.in_memory {
            return Ok(None);
        }
        if let Some(dir) = &self.data_dir {
            return Ok(Some(dir.clone()));
        }
        user_data_dir().map(Some).ok_or_else(|| {
            Error::Usage(
                "no data directory to keep figures in (neither XDG_DATA_HOME nor HOME is set): \
                 give --data-dir DIR, or --in-memory"
                    .to_owned(),
            )
        })
    }
}

/// The user's data directory for plotstream: `$XDG_DATA_HOME/plotstream`,
/// else the platform's (`~/.local/share/plotstream`,
/// `~/Library/Application Support/plotstream`, `%APPDATA%\plotstream`).
fn user_data_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if let Some(xdg) = var("XDG_DATA_HOME") {
        return Some(xdg.join("plotstream"));
    }
    if cfg!(windows) {
        return var("APPDATA").map(|d| d.join("plotstream"));
    }
    let home = var("HOME")?;
    Some(if cfg!(target_os = "macos") {
        home.join("Library/Application Support/plotstream")
    } else {
        home.join(".local/share/plotstream")
    })
}

/// The viewer, over its store if it has one, saying where its figures are
/// kept and what came back.
fn open_viewer(
    config: Config,
    dir: Option<PathBuf>,
    out: &mut dyn io::Write,
) -> Result<Viewer, Error> {
    let Some(dir) = dir else {
        writeln!(
            out,
            "figures are kept in memory only (--in-memory): they go when the viewer stops"
        )
        .map_err(Error::Output)?;
        return Ok(Viewer::new(config)?);
    };
    let store = Store::open(&dir).map_err(|e| match e {
        StoreError::InUse { .. } => Error::Usage(format!(
            "{}: give this one its own --data-dir DIR, or --in-memory",
            crate::ErrorChain(&e)
        )),
        e => plotstream_viewer::Error::from(e).into(),
    })?;
    let path = store.path().display().to_string();
    let viewer = Viewer::with_store(config, store)?;
    let restored = viewer.restored();
    writeln!(
        out,
        "figures are kept in {path}: {} restored, with {}",
        plotstream_protocol::plural(restored.figures as u64, "figure", "figures"),
        plotstream_protocol::plural(restored.points as u64, "point", "points")
    )
    .map_err(Error::Output)?;
    for refused in &restored.refused {
        writeln!(out, "warning: left in the store, not restored: {refused}")
            .map_err(Error::Output)?;
    }
    Ok(viewer)
}

/// Serves until SIGINT or SIGTERM, then stops cleanly (streams answered,
/// the store saved); the exit code is then the signal's, 130 or 143.
pub(crate) fn run(opts: &ServeOpts, out: &mut (dyn io::Write + Send)) -> Result<u8, Error> {
    let mut config = opts.config();
    if !opts.addr.ip().is_loopback() {
        warn_reachable(out, opts.addr, &config)?;
    }
    config.max_connections = fit_file_limit(config.max_connections, out)?;
    let viewer = open_viewer(config, opts.data_dir()?, out)?;
    block_on(async {
        let signals = crate::signal::Signals::listen().map_err(Error::Runtime)?;
        let listener = plotstream_viewer::bind(opts.addr)
            .await
            .map_err(|e| match e {
                plotstream_viewer::Error::Bind { source, .. } => {
                    Error::Listen(flags::cannot_listen("--addr", opts.addr, &source))
                }
                e => e.into(),
            })?;
        let addr = listener.local_addr().map_err(Error::Output)?;
        writeln!(out, "listening on http://{addr}").map_err(Error::Output)?;
        out.flush().map_err(Error::Output)?;
        plotstream_viewer::serve(listener, viewer, signals.stopped()).await?;
        Ok(signals.exit_code(0))
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
