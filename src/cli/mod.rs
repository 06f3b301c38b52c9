//! The `plotstream` command line: options ([`Opts`]) and [`run`].
//!
//! `main` only parses and calls [`run`], so tests drive the whole command with
//! `run(Opts::parse_from([...]), &mut out)`.

use std::io;

use clap::{Args, Parser, Subcommand};

mod generate;
mod load;
mod replay;
mod serve;
mod stream;

pub use generate::GenerateOpts;
pub use load::{LoadAction, LoadCommand};
pub use replay::ReplayOpts;
pub use serve::ServeOpts;
pub use stream::StreamOpts;

pub use crate::Error;
use crate::flags;
pub use plotstream_load::flags::OrNever;

/// What `stream --help` and `replay --help` say of acks, retries and signals.
macro_rules! streaming_notes {
    () => {
        "A plotstream viewer is asked to acknowledge every write (--no-acks turns it off), so the
summary's loss count is exact; for other servers it is a bound, and the summary says which.
A dropped stream reconnects for ever, waiting 1, 2, 4, 8, 16, then 30 s, one line per failed
try on stderr (--max-retries N gives up after N).

Exit codes: 0 done; 1 a failure; 2 refused options; 130 after SIGINT (Ctrl-C) and 143 after
SIGTERM, which both stop writing, close the streams (waiting 2 s at most for their answers)
and print the summary first."
    };
}

/// plotstream: Plotly's streaming API, brought back locally.
///
/// Never-ending simulated streams (noisy cosine, …) in the Plotly streaming
/// protocol: one JSON write per line, to stdout or to a server.
#[derive(Debug, Parser)]
#[command(name = "plotstream", version, about, long_about = None)]
pub struct Opts {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a demo's writes as an NDJSON tape on stdout, as fast as it can.
    #[command(
        long_about = GENERATE_LONG_ABOUT,
        after_help = "Examples:\n  plotstream generate noisy-cosine --count 1000 --seed 7 > cosine.ndjson\n  plotstream generate noisy-cosine --samples | head -5"
    )]
    Generate(GenerateOpts),
    /// Stream a demo to a Plotly-protocol server, one stream per token, paced by its frame period.
    #[command(
        after_help = concat!(
            "Examples:\n  plotstream stream noisy-cosine --url http://127.0.0.1:8080\n  plotstream stream noisy-cosine --url http://127.0.0.1:8080 --count 500 --speed 10\n\n",
            streaming_notes!()
        )
    )]
    Stream(StreamOpts),
    /// Stream a tape made by `plotstream generate` back to a server, paced by its t.
    #[command(
        after_help = concat!(
            "Examples:\n  plotstream generate noisy-cosine --count 100 > cos.ndjson\n  plotstream replay cos.ndjson --url http://127.0.0.1:8080 --speed 2\n\n",
            streaming_notes!()
        )
    )]
    Replay(ReplayOpts),
    /// Run the live viewer: it takes Plotly-protocol streams and draws them in the browser.
    #[command(
        after_help = "Examples:\n  plotstream serve\n  plotstream serve --addr 127.0.0.1:9000 --closed\n  plotstream serve --data-dir ./plots --save-interval 200ms\n  plotstream serve --in-memory\n\nFigures, their tokens, points and Chart Studio names are kept in the data directory\nand come back when the viewer starts again (a figure is saved before it is answered,\npoints every --save-interval, everything on Ctrl-C or SIGTERM, after which it exits 130 or 143).\n\nThen stream to it:\n  plotstream stream noisy-cosine --url http://127.0.0.1:8080\nand open http://127.0.0.1:8080 in a browser."
    )]
    Serve(ServeOpts),
    /// Load-test a stream server (Plotly protocol, WebSocket, MQTT): many never-ending streams, open-loop, measured write by write.
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        after_help = LOAD_AFTER_HELP
    )]
    Load(Box<LoadCommand>),
}

/// How `stream` and `replay` connect.
#[derive(Debug, Clone, Args)]
pub struct Connect {
    /// Trust the certificates (PEM) in FILE for https:// URLs, besides the
    /// public roots: a private CA's, or a test server's own (needs the tls
    /// feature: cargo build --release --features tls).
    #[arg(long = "ca-cert", value_name = "FILE", value_parser = flags::ca_cert)]
    pub ca_cert: Option<std::sync::Arc<[u8]>>,
    /// Require acknowledgements, and stop if the server does not give
    /// them. They are on anyway when the server is a plotstream viewer: a
    /// stream that drops resumes without losing or repeating a write, and
    /// the summary's loss count is exact.
    #[arg(long, conflicts_with = "no_acks")]
    pub acks: bool,
    /// Do not ask a plotstream viewer to acknowledge writes: a write sent on
    /// a connection that ends without an answer then counts as "may be
    /// lost", a bound instead of an exact count.
    #[arg(long)]
    pub no_acks: bool,
    /// Give up after N reconnect tries in a row. By default a stream never
    /// gives up: it waits 1, 2, 4, 8, 16, then 30 s between tries, saying
    /// each time why and how long, and goes on when the server is back.
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,
}

impl Connect {
    /// The client's options for these flags (acknowledgements are chosen
    /// once the server is known).
    pub fn options(&self) -> plotstream_client::StreamOptions {
        plotstream_client::StreamOptions {
            ca_certs_pem: self.ca_cert.clone(),
            reconnect_tries: self.max_retries,
            ..plotstream_client::StreamOptions::default()
        }
    }

    /// Whether writes are acknowledged, for a server that is a plotstream
    /// viewer or not.
    pub(crate) fn acks_for(&self, viewer: bool) -> crate::pace::Acks {
        crate::pace::Acks::choose(self.acks, self.no_acks, viewer)
    }
}

/// How fast `stream` and `replay` send: real time, faster, or flat out.
#[derive(Debug, Clone, Args)]
pub struct Pacing {
    /// Play this many times faster than simulated time (real time is 1).
    #[arg(long, allow_negative_numbers = true, value_name = "X", default_value_t = 1.0, value_parser = flags::positive, conflicts_with = "max_rate")]
    pub speed: f64,
    /// Send as fast as the server takes it, ignoring simulated time.
    #[arg(long)]
    pub max_rate: bool,
}

const LOAD_AFTER_HELP: &str = "\
Targets (by the URL's scheme, or --target):
  plotly  a chunked POST per stream, one JSON write per line (http://, https://)
  http    any NDJSON stream server: a chunked POST or PUT (--method) per stream to a URL
          with {token}, with --header; no Plotly token header (--target http)
  ws      a WebSocket per stream, one text frame per write (ws://…/{token})
  mqtt    an MQTT client per stream, one PUBLISH per write to --topic (mqtt://host:port)

Examples:
  # The Plotly protocol, read back from a plotstream viewer's event streams:
  plotstream load --url http://127.0.0.1:8080 --streams 1000 --rate 10 --duration 60s --subscribe --report run.json
  # WebSockets into Nchan, read back from its WebSocket (or EventSource: http://) subscribers:
  plotstream load --url 'ws://127.0.0.1:8081/pub/{token}' --header 'Authorization: Bearer T' --streams 1000 --subscribe-url 'ws://127.0.0.1:8081/sub/{token}'
  # Any NDJSON ingest endpoint, token in the path, auth in a header:
  plotstream load --target http --url 'http://127.0.0.1:9000/ingest/{token}' --method PUT --header 'Authorization: Bearer T' --payload point
  # MQTT at QoS 1 (the broker's ack latency per write), read back by MQTT subscribers:
  plotstream load --url mqtt://127.0.0.1:1883 --qos 1 --topic 'sensors/{token}' --payload point --streams 1000 --subscribe-url mqtt://127.0.0.1:1883
  # Writes as Poisson processes (exponential gaps) instead of evenly spaced:
  plotstream load --url http://127.0.0.1:8080 --streams 500 --rate 20 --arrivals poisson --subscribe
  # The thundering herd on purpose: every stream writes at the same instant of its period:
  plotstream load --url http://127.0.0.1:8080 --streams 100 --rate 20 --in-phase
  # Self-similar bursts, as real traffic comes (Poisson-Pareto bursts, or Pareto ON/OFF):
  plotstream load --url mqtt://127.0.0.1:1883 --streams 1000 --rate 10 --arrivals ppbp --hurst 0.8 --duration 10m
  # Ramp the open streams up to 1,000 and down again, as k6's ramping executors do:
  plotstream load --url http://127.0.0.1:8080 --stages 30s:100,2m:1000,30s:0 --subscribe --html stages.html
  # Ramp each stream's rate from 1 to 50 writes/s over a minute, hold it, fall back:
  plotstream load --url http://127.0.0.1:8080 --streams 100 --rate 1 --rate-stages 1m:50,1m:50,10s:1
  # A reconnect storm: each of 1,000 streams closes and reopens every 10 s (100 a second):
  plotstream load --url 'ws://127.0.0.1:8081/pub/{token}' --streams 1000 --churn 10s --duration 5m
  # How much does the server hold? Double the rate, then bisect, within p99 50 ms and no loss:
  plotstream load --url http://127.0.0.1:8080 --streams 100 --rate 10 --subscribe --find-capacity --max-p99 50ms --max-loss 0 --html capacity.html
  # The same, stepping the number of streams instead of the rate:
  plotstream load --url mqtt://127.0.0.1:1883 --streams 100 --subscribe-url mqtt://127.0.0.1:1883 --find-capacity streams --max-p99 50ms
  # Shards on several machines, started together, each report one line on stdout, merged:
  plotstream load --url http://server:8080 --streams 10000 --shard 0/4 --start-at 2026-12-04T10:00:00Z --report - > shard0.log
  cat shard*.log | plotstream load merge - > total.json
  # Fan-out: 10 receivers per stream, each write counted per receiver, with its spread:
  plotstream load --url 'ws://127.0.0.1:8081/pub/{token}' --streams 100 --subscribe-url 'ws://127.0.0.1:8081/sub/{token}' --subscribers 10
  # Live counters and fixed-bucket latency histograms for Prometheus while it runs:
  plotstream load --url http://127.0.0.1:8080 --streams 1000 --subscribe --metrics-addr 0.0.0.0:9464

Every write carries its stream's sequence number, so with --subscribe or --subscribe-url
loss, duplicates and end-to-end latency are measured per write, whatever the protocol.

Exit codes: 0 passed; 99 a threshold (--max-p99, --max-loss, --max-error-rate) was breached;
1 a failure at run time (also: nothing was sent, or every stream failed); 2 refused options,
said in one line before anything connects (a missing --url, an unknown URL scheme, --acks
on a ws or mqtt target, --max-loss without subscribers, --find-capacity without a threshold,
a bad --token-prefix, an unreadable --ca-cert); 130 after SIGINT and 143 after SIGTERM, which
end the run cleanly: the streams close (2 s at most for their answers), and the summary and
--report/--html cover the run up to then, marked as stopped early.

The figures a run makes on a plotstream viewer are temporary (never saved, deleted at the end,
also when interrupted) unless --keep-figures.";

const GENERATE_LONG_ABOUT: &str = "\
Print a demo's writes as an NDJSON tape on stdout, as fast as it can.

One line per write: {\"t\": <simulated seconds>, \"token\": \"<token>\", \"write\": {<the exact wire JSON>}}.
The same seed gives the same bytes. Without --count it never ends; closing the pipe (| head) ends it cleanly.";

/// Runs the command, writing its output to `out`.
///
/// When `out` is a pipe whose reader has gone (`plotstream generate | head`),
/// the command ends with `Ok(())`: that is how a never-ending stream is stopped.
///
/// The result is the process's exit code: 0, or 99 when `load` breached a
/// threshold.
pub fn run(opts: Opts, out: &mut (dyn io::Write + Send)) -> Result<u8, Error> {
    let result = match opts.command {
        Command::Generate(g) => generate::run(&g, out).map(|()| 0),
        Command::Stream(s) => stream::run(&s, out),
        Command::Replay(r) => replay::run(&r, out),
        Command::Serve(s) => serve::run(&s, out),
        Command::Load(l) => load::run(&l, out),
    };
    match result {
        Err(Error::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        other => other,
    }
}
