//! [`Opts`]: a run's options, as the `plotstream load` command line takes
//! them; their value parsers are the shared ones of [`flags`](crate::flags).

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use plotstream_demos::DemoKind;

use crate::Thresholds;
use crate::flags::{self, BindAddrs};

/// `--shard I/N`: run streams I, I+N, I+2N, …
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, from 0.
    pub index: u64,
    /// How many shards.
    pub count: u64,
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a shard: give I/N with 0 <= I < N, such as 0/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u64, u64) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// What kind of server is load-tested.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// The Plotly streaming protocol: a chunked POST per stream (http://, https://).
    Plotly,
    /// Any NDJSON stream server: a chunked POST or PUT per stream to a URL
    /// with {token}, with --header (no Plotly token header).
    Http,
    /// A WebSocket per stream, a text frame per write (ws://).
    Ws,
    /// An MQTT client per stream, a PUBLISH per write (mqtt://).
    Mqtt,
}

impl Target {
    /// The target a URL's scheme names.
    pub fn of_url(url: &str) -> Option<Target> {
        let scheme = url.split_once("://")?.0.to_ascii_lowercase();
        match scheme.as_str() {
            "http" | "https" => Some(Target::Plotly),
            "ws" | "wss" => Some(Target::Ws),
            "mqtt" => Some(Target::Mqtt),
            _ => None,
        }
    }
}

/// What each write carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Payload {
    /// The Plotly write the demo makes, its sequence number in `customdata`.
    Plotly,
    /// A flat JSON point: `{"run", "stream", "seq", "x", "y"}`; subscribers
    /// ignore points of other runs (a server may replay old messages).
    Point,
}

/// The options of a load run (`plotstream load …`).
#[derive(Clone, Debug, Args)]
pub struct Opts {
    /// The server: http://host:port (Plotly protocol), ws://host:port/path/{token}
    /// (WebSocket), or mqtt://host:port (MQTT). `{token}` is each stream's token.
    // The group: clap leaves a struct's own group empty when it flattens
    // another (`seed`), so `Option<Opts>` would never be filled without it
    // (clap-rs/clap#4697).
    #[arg(long, value_name = "URL", group = "Opts")]
    pub url: String,
    /// What to load-test; by default the URL's scheme says (http → plotly,
    /// ws → ws, mqtt → mqtt).
    #[arg(long, value_enum)]
    pub target: Option<Target>,
    /// What each write carries: the demo's Plotly write, or a flat point.
    #[arg(long, value_enum, default_value = "plotly")]
    pub payload: Payload,
    /// An extra request header for http and ws streams, 'Name: value'
    /// (repeatable; {token} in the value is each stream's token).
    #[arg(long = "header", value_name = "NAME: VALUE", value_parser = flags::header)]
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Trust the certificates (PEM) in FILE for https:// URLs, besides the
    /// public roots: a private CA's, or a test server's own (plotly and http
    /// targets; needs the tls feature).
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<std::path::PathBuf>,
    /// Connect from these source addresses, stream i from the i-th (round
    /// robin): a range `127.0.0.1-127.0.0.8` or a list `127.0.0.2,127.0.0.3`.
    /// One source address has only the ephemeral ports (about 28,000) for
    /// one server; on a loopback target of more than 20,000 streams the
    /// default spreads them over 127.0.0.1-127.0.0.8 (plotly and http
    /// targets).
    #[arg(long, value_name = "ADDRS", value_parser = flags::bind_addrs)]
    pub bind: Option<BindAddrs>,
    /// Ask the server to acknowledge each write (plotstream's extension of
    /// the Plotly protocol, which plotstream's viewer speaks): the report
    /// gives each write's ack latency (sent to applied, no --subscribe
    /// needed), and a stream that drops resumes without losing or repeating
    /// a write, so the loss count stays exact across server restarts
    /// (plotly target).
    #[arg(long)]
    pub acks: bool,
    /// The request method of --target http: POST or PUT.
    #[arg(long, value_name = "METHOD", default_value = "POST", value_parser = flags::method)]
    pub method: http::Method,
    /// The MQTT topic of each stream.
    #[arg(long, value_name = "TEMPLATE", default_value = "plotstream/{token}")]
    pub topic: String,
    /// The MQTT QoS of each write: 0, 1 or 2 (1 and 2 give the broker's ack latency).
    #[arg(long, value_name = "Q", default_value = "0", value_parser = flags::qos)]
    pub qos: u8,
    /// Read every write back from the server's own subscribe side, one
    /// connection per stream: a ws:// or http:// (EventSource) URL with
    /// {token}, such as Nchan's /sub/{token}, or mqtt://host:port for the
    /// streams' topics.
    #[arg(long, value_name = "URL", conflicts_with = "subscribe")]
    pub subscribe_url: Option<String>,
    /// Receivers per stream, with --subscribe or --subscribe-url: K event
    /// streams per figure, K connections per stream, K MQTT clients per
    /// topic. Each write is counted per receiver (loss, duplicates); the
    /// report adds the fan-out spread, first to last receiver, per write.
    #[arg(long, allow_negative_numbers = true, value_name = "K", default_value_t = 1, value_parser = flags::count::<u64>)]
    pub subscribers: u64,
    /// The demo each stream plays (a stream sends the writes of its first trace).
    #[arg(long, value_enum, default_value = "noisy-cosine")]
    pub demo: DemoKind,
    /// Streams in the test (all shards together), at least 1.
    #[arg(long, allow_negative_numbers = true, value_name = "N", default_value_t = 1, value_parser = flags::count::<u64>)]
    pub streams: u64,
    /// Writes per second per stream.
    #[arg(long, allow_negative_numbers = true, value_name = "R", default_value_t = 10.0, value_parser = flags::positive)]
    pub rate: f64,
    /// How long each stream writes, above zero: 500ms, 10s, 2m. Each
    /// stream sends the writes its arrivals schedule within that time:
    /// rate × duration of them evenly paced, about as many otherwise.
    #[arg(long, allow_hyphen_values = true, value_name = "D", default_value = "10s", value_parser = flags::duration)]
    pub duration: Duration,
    /// How each stream's writes are spaced: evenly (constant), a Poisson
    /// process of rate R, Poisson–Pareto bursts (ppbp) or Pareto ON/OFF
    /// periods (onoff), the last two self-similar with --hurst; all seeded
    /// by --seed, all with mean rate R.
    #[arg(long, value_enum, default_value = "constant")]
    pub arrivals: crate::Arrivals,
    /// The Hurst exponent of ppbp and onoff arrivals, above 0.5 and below 1.
    #[arg(long, allow_negative_numbers = true, value_name = "H", default_value_t = 0.8, value_parser = flags::hurst)]
    pub hurst: f64,
    /// Start every stream at the same phase of its write period: N streams
    /// write together, a herd every 1/R. By default the phases are spread
    /// over the period (seeded), so that the aggregate is an even N·R a second.
    #[arg(long)]
    pub in_phase: bool,
    /// Start the streams evenly over this long.
    #[arg(long, allow_hyphen_values = true, value_name = "D", default_value = "0s", value_parser = flags::duration_or_zero)]
    pub ramp_up: Duration,
    /// Ramp the number of open streams through stages, DURATION:STREAMS
    /// each, from 0, opening and closing connections to match:
    /// 30s:100,2m:1000,30s:0 opens 100 streams over 30 s, goes on to 1,000
    /// over 2 min, then closes them all over 30 s. The run lasts as long as
    /// the stages (instead of --streams, --duration and --ramp-up).
    #[arg(long, value_name = "STAGES", value_parser = crate::stages::stream_stages,
          conflicts_with_all = ["streams", "duration", "ramp_up"])]
    pub stages: Option<crate::Stages>,
    /// Ramp each stream's rate through stages, DURATION:RATE each, from
    /// --rate: --rate 1 --rate-stages 1m:50,1m:50,10s:1 ramps from 1 to 50
    /// writes/s over a minute, holds it for one, and falls back. The run
    /// lasts as long as the stages (instead of --duration), or as --stages
    /// if they are longer (the last rate holds).
    #[arg(long, value_name = "STAGES", conflicts_with = "duration")]
    pub rate_stages: Option<crate::Stages>,
    /// Close and reopen each stream every D, the streams at spread phases
    /// of D, so the server sees a steady storm of reconnects (N/D a second).
    #[arg(long, allow_hyphen_values = true, value_name = "D", value_parser = flags::duration)]
    pub churn: Option<Duration>,
    /// The seed.
    #[command(flatten)]
    pub seed: flags::Seed,
    /// The tokens' prefix: stream i streams to token P-i.
    #[arg(long, value_name = "P", default_value = "load")]
    pub token_prefix: String,
    /// Write the JSON report here; `-` writes it to stdout as one line (the
    /// summary then goes to stderr), so a pod's log carries it and `load
    /// merge` reads it back from `kubectl logs`.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Run streams I, I+N, I+2N, … of the test, so that N machines run it together.
    #[arg(long, value_name = "I/N", default_value = "0/1")]
    pub shard: Shard,
    /// Against a plotstream viewer: create figures for the tokens and read
    /// their event streams, measuring end-to-end latency and loss.
    #[arg(long)]
    pub subscribe: bool,
    /// Exit 99 if the p99 (end-to-end latency with --subscribe, else lateness) is over this.
    #[arg(long, allow_hyphen_values = true, value_name = "D", value_parser = flags::duration_or_zero)]
    pub max_p99: Option<Duration>,
    /// Exit 99 if more writes than this are lost (needs --subscribe).
    #[arg(long, allow_negative_numbers = true, value_name = "N")]
    pub max_loss: Option<u64>,
    /// Exit 99 if more than this share (0 to 1) of the streams fail.
    #[arg(long, allow_negative_numbers = true, value_name = "F", value_parser = flags::fraction)]
    pub max_error_rate: Option<f64>,
    /// Also write the report as a self-contained HTML page: the percentile
    /// spectrum and the achieved rate over time.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Plot the run itself live (writes/s, p99 lateness, errors) on the
    /// plotstream viewer at this URL.
    #[arg(long, value_name = "URL")]
    pub live: Option<String>,
    /// Find the largest load the server holds within --max-p99, --max-loss
    /// and --max-error-rate: step each stream's rate (or the number of
    /// streams) up from --rate (--streams), doubling, until a step fails,
    /// then bisect to within 5%. Each step runs --duration; a step also
    /// fails when it achieves under 90% of the rate it offers. Prints a
    /// table and the answer; --html plots latency against offered load.
    /// Exits 0 with an answer, 1 when even the first step failed.
    #[arg(long, value_name = "KNOB", value_enum, num_args = 0..=1, default_missing_value = "rate",
          conflicts_with_all = ["stages", "rate_stages", "shard"])]
    pub find_capacity: Option<crate::Knob>,
    /// Keep the figures the run made on a plotstream viewer, and save them
    /// in its store. By default they are temporary: held in the viewer's
    /// memory only, never saved, and deleted when the run ends (also when
    /// it is interrupted).
    #[arg(long)]
    pub keep_figures: bool,
    /// Start the schedule at this instant, so that shards on several
    /// machines start together: RFC 3339 (2026-12-04T10:00:00Z), unix
    /// seconds, or +D from now (+30s). The run connects its subscribers and
    /// waits; the report records when each shard started and first wrote.
    #[arg(long, value_name = "TIME", value_parser = flags::start_at)]
    pub start_at: Option<std::time::SystemTime>,
    /// The test this run belongs to, which `load merge` checks shards
    /// against. Default: derived from the test's own options (demo,
    /// streams, rate, duration, arrivals, seed, token prefix, shard count,
    /// start; not the URL, which shards on other hosts may spell
    /// otherwise), so the shards of one command line agree.
    #[arg(long, value_name = "ID")]
    pub test_id: Option<String>,
    /// Serve the run's live counters and latency histograms (fixed buckets,
    /// which add up across shards) for Prometheus at http://ADDR/metrics
    /// while the test runs; the names are in the crate docs and the README.
    #[arg(long, value_name = "ADDR", value_parser = flags::listen_addr)]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

impl Opts {
    /// The test's id: `--test-id`, or one derived from the options every
    /// shard of a test shares (FNV-1a, stable across builds).
    pub fn test_id(&self) -> String {
        if let Some(id) = &self.test_id {
            return id.clone();
        }
        let start = self.start_at.map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis()
        });
        // Not the URL: shards on other hosts may reach one server by other
        // addresses.
        let key = format!(
            "{}|{}|{}|{:?}|{:?}|{}|{}|{}|{:?}|{:?}",
            self.demo.name(),
            self.total_streams(),
            self.rate,
            self.duration,
            self.arrivals,
            self.hurst,
            self.seed.value,
            self.token_prefix,
            self.shard.count,
            start
        );
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        format!("{hash:016x}")
    }

    /// The thresholds the options set.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            max_p99: self.max_p99,
            max_loss: self.max_loss,
            max_error_rate: self.max_error_rate,
        }
    }

    /// Streams in the test (all shards together): `--streams`, or the
    /// most `--stages` open.
    pub fn total_streams(&self) -> u64 {
        match &self.stages {
            Some(s) => s.max() as u64,
            None => self.streams,
        }
    }

    /// Whether subscribers read the writes back (`--subscribe` or
    /// `--subscribe-url`): end-to-end latency and loss are measured.
    pub fn subscribed(&self) -> bool {
        self.subscribe || self.subscribe_url.is_some()
    }

    /// Whether stages, not `--duration`, set how long the run lasts.
    pub fn staged(&self) -> bool {
        self.stages.is_some() || self.rate_stages.is_some()
    }
}
