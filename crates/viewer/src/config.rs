//! [`Config`]: how the viewer behaves, and every limit it keeps.

use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use crate::Error;

/// The most points a trace may keep by default ([`Config::max_points`]).
pub const MAX_MAXPOINTS: u64 = 1_000_000;

/// Which `Host` header values the viewer answers.
///
/// A server on loopback is still reachable from every web page the user
/// opens: a page can make its own name resolve to 127.0.0.1 (DNS rebinding)
/// and then read and write as if it were same-origin. Checking `Host` stops
/// that: such a request names the attacker's host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllowedHosts {
    /// Any host: for a viewer bound to a non-loopback address, reached by
    /// whatever name the network gives it.
    Any,
    /// Names of the loopback (`localhost`, `*.localhost`, `127.x.y.z`,
    /// `[::1]`, with any port), and these names too (case does not matter).
    Loopback(Vec<String>),
}

impl Default for AllowedHosts {
    fn default() -> Self {
        AllowedHosts::Loopback(Vec::new())
    }
}

impl AllowedHosts {
    /// Whether a request with this `Host` header value is answered.
    ///
    /// ```
    /// use plotstream_viewer::AllowedHosts;
    ///
    /// let hosts = AllowedHosts::Loopback(vec!["plots.lan".into()]);
    /// assert!(hosts.allows("127.0.0.1:8080"));
    /// assert!(hosts.allows("localhost"));
    /// assert!(hosts.allows("[::1]:9000"));
    /// assert!(hosts.allows("PLOTS.lan:8080"));
    /// assert!(!hosts.allows("evil.example"));
    /// assert!(!hosts.allows("127.0.0.1.evil.example"));
    /// ```
    pub fn allows(&self, host: &str) -> bool {
        let extra = match self {
            AllowedHosts::Any => return true,
            AllowedHosts::Loopback(extra) => extra,
        };
        let Some(name) = host_name(host) else {
            return false;
        };
        let lower = name.to_ascii_lowercase();
        if lower == "localhost" || lower.ends_with(".localhost") {
            return true;
        }
        if let Some(v6) = lower.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            return v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback());
        }
        if let Ok(ip) = lower.parse::<IpAddr>() {
            return ip.is_loopback();
        }
        extra.iter().any(|e| e.eq_ignore_ascii_case(&lower))
    }
}

/// The host part of a `Host` header value (`name`, `name:port`,
/// `[v6]:port`); `None` when the port is not a number.
fn host_name(host: &str) -> Option<&str> {
    let (name, port) = if host.starts_with('[') {
        match host.find(']') {
            Some(end) => (&host[..=end], &host[end + 1..]),
            None => return None,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, _)) => (name, &host[name.len()..]),
            None => (host, ""),
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (port_ok && !name.is_empty()).then_some(name)
}

/// A [`Config`] setting, as an error names it when the setting refused
/// something ("the limit (Config::max_figures)"): [`Config::setting_name`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// [`Config::open`].
    Open,
    /// [`Config::max_figures`].
    MaxFigures,
    /// [`Config::max_traces`].
    MaxTraces,
    /// [`Config::max_columns`].
    MaxColumns,
    /// [`Config::max_figure_bytes`].
    MaxFigureBytes,
    /// [`Config::max_points`].
    MaxPoints,
    /// [`Config::max_connections`].
    MaxConnections,
    /// [`Config::memory_limit`].
    MemoryLimit,
    /// [`Config::allowed_hosts`].
    AllowedHosts,
}

impl Setting {
    /// The field's name, `Config::max_figures`: what a message names by
    /// default.
    pub fn field(self) -> &'static str {
        match self {
            Setting::Open => "Config::open",
            Setting::MaxFigures => "Config::max_figures",
            Setting::MaxTraces => "Config::max_traces",
            Setting::MaxColumns => "Config::max_columns",
            Setting::MaxFigureBytes => "Config::max_figure_bytes",
            Setting::MaxPoints => "Config::max_points",
            Setting::MaxConnections => "Config::max_connections",
            Setting::MemoryLimit => "Config::memory_limit",
            Setting::AllowedHosts => "Config::allowed_hosts",
        }
    }
}

/// How the viewer behaves, and its limits. Every limit has a flag in
/// `plotstream serve`; [`Config::validate`] checks them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Whether an unknown token gets a default scatter figure of its own
    /// (titled by the token) instead of a 404.
    pub open: bool,
    /// A stream with no write and no heartbeat for this long is closed with
    /// 408. Default 60 s, as Plotly's server.
    pub idle_timeout: Duration,
    /// The longest line taken, in bytes; a longer one gets 413. Default 1 MiB.
    pub max_line_len: usize,
    /// How many update events a subscriber may fall behind before it is sent
    /// a fresh snapshot instead. Default 256.
    pub subscriber_buffer: usize,
    /// How many bytes of update events a subscriber may fall behind before
    /// it is sent a fresh snapshot instead. Default 4 MiB.
    pub subscriber_backlog_bytes: usize,
    /// How long a figure gathers updates before sending them to its
    /// subscribers as one event. Default 10 ms; zero sends each chunk's
    /// updates at once.
    pub update_interval: Duration,
    /// The most figures held. A new figure over it, or an unknown token on
    /// an open viewer, is refused with 429 naming the limit. Default 1,000.
    pub max_figures: usize,
    /// The most traces in one figure. Default 1,000.
    pub max_traces: usize,
    /// The most distinct attributes one token may stream (each is a column
    /// of maxpoints values in every trace it feeds). A write naming one more
    /// is refused with 400 naming it. Default 64.
    pub max_columns: usize,
    /// The largest figure (`POST /api/figures` body) taken, in bytes.
    /// Default 2 MiB.
    pub max_figure_bytes: usize,
    /// The largest `maxpoints` a trace may ask for: each point it keeps
    /// costs 16 bytes as an `(x, y)` pair. A figure asking more is refused
    /// with 400 naming the limit. Default [`MAX_MAXPOINTS`] (1,000,000).
    pub max_points: u64,
    /// A figure made for an unknown token (under [`Config::open`]) is
    /// dropped once it has had no stream and no write for this long; `None`
    /// keeps them. Default 10 minutes.
    pub open_figure_ttl: Option<Duration>,
    /// A connection that has not sent a whole request head this long after
    /// it opened (or after its last answer) is closed. Streams that write or
    /// send heartbeats are past their head and not affected. Default 5 s.
    pub header_timeout: Duration,
    /// The most connections open at once; one more is answered 503 and
    /// closed. Default 16,384.
    pub max_connections: usize,
    /// With a store ([`Viewer::with_store`](crate::Viewer::with_store)),
    /// how often the points of figures written to are saved: a crash loses
    /// at most this long of points. Default 1 s.
    pub save_interval: Duration,
    /// The most bytes every trace's points may hold together: past it, the
    /// oldest points of the largest figure go first (each trace keeps its
    /// newest point). Points dropped are counted in `/metrics` and shown on
    /// the figure's page. If the newest points alone pass it, writes are
    /// refused with 429 until figures are deleted. Default 512 MiB: on a
    /// laptop with 8 GiB this is a sixteenth of its memory, next to the
    /// browsers drawing the plots; it holds 32 tokens at their cap, or about
    /// 33 million (x, y) points.
    pub memory_limit: usize,
    /// The most bytes one token's traces may hold (shared equally among the
    /// figures it feeds): past it, the oldest points of its own traces go,
    /// so that one stream cannot take the budget from the others. Default
    /// 16 MiB: a million (x, y) points, or 500 of them with a 32 KiB string
    /// each.
    pub max_token_bytes: usize,
    /// The `Host` values answered; others get 403. Default: the loopback's.
    pub allowed_hosts: AllowedHosts,
    /// Whether readers of the API and the event stream see the figures'
    /// stream tokens. A token is a write credential: whoever knows it can
    /// write into the figure, or take its stream over. Default true, for a
    /// viewer on loopback; `plotstream serve` turns it off elsewhere.
    pub show_tokens: bool,
    /// What messages call a setting, where it is not the field's name
    /// ([`Setting::field`]): a program that sets the limits its own way
    /// names that way here. `plotstream serve` names its flags, so that a
    /// refusal says `(--max-figures)`. Default empty.
    pub setting_names: &'static [(Setting, &'static str)],
}

impl Default for Config {
    fn default() -> Self {
        Config {
            open: false,
            idle_timeout: Duration::from_secs(60),
            max_line_len: plotstream_protocol::LineDecoder::DEFAULT_MAX_LINE_LEN,
            subscriber_buffer: 256,
            subscriber_backlog_bytes: 4 << 20,
            update_interval: Duration::from_millis(10),
            max_figures: 1_000,
            max_traces: 1_000,
            max_columns: 64,
            max_figure_bytes: 2 << 20,
            max_points: MAX_MAXPOINTS,
            open_figure_ttl: Some(Duration::from_secs(600)),
            header_timeout: Duration::from_secs(5),
            max_connections: 16_384,
            save_interval: Duration::from_secs(1),
            memory_limit: 512 << 20,
            max_token_bytes: 16 << 20,
            allowed_hosts: AllowedHosts::default(),
            show_tokens: true,
            setting_names: &[],
        }
    }
}

impl Config {
    /// What messages call `setting`: its name in
    /// [`Config::setting_names`], or else its field's.
    ///
    /// ```
    /// use plotstream_viewer::{Config, Setting};
    ///
    /// assert_eq!(Config::default().setting_name(Setting::MaxFigures), "Config::max_figures");
    /// let cli = Config {
    ///     setting_names: &[(Setting::MaxFigures, "--max-figures")],
    ///     ..Config::default()
    /// };
    /// assert_eq!(cli.setting_name(Setting::MaxFigures), "--max-figures");
    /// assert_eq!(cli.setting_name(Setting::MaxTraces), "Config::max_traces");
    /// ```
    pub fn setting_name(&self, setting: Setting) -> &'static str {
        self.setting_names
            .iter()
            .find(|(s, _)| *s == setting)
            .map_or_else(|| setting.field(), |(_, name)| name)
    }

    /// Checks that every limit is usable: counts and sizes at least 1,
    /// durations above zero (but [`Config::update_interval`], where zero
    /// means "at once").
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Err(Error::InvalidConfig { reason });
        for (name, value) in [
            ("max_line_len", self.max_line_len),
            ("subscriber_buffer", self.subscriber_buffer),
            ("subscriber_backlog_bytes", self.subscriber_backlog_bytes),
            ("max_figures", self.max_figures),
            ("max_traces", self.max_traces),
            ("max_columns", self.max_columns),
            ("max_figure_bytes", self.max_figure_bytes),
            ("max_connections", self.max_connections),
            ("memory_limit", self.memory_limit),
            ("max_token_bytes", self.max_token_bytes),
        ] {
            if value == 0 {
                return invalid(format!("{name} must be at least 1"));
            }
        }
        if self.max_token_bytes > self.memory_limit {
            return invalid(format!(
                "max_token_bytes ({}) must be at most memory_limit ({})",
                self.max_token_bytes, self.memory_limit
            ));
        }
        if self.max_points == 0 {
            return invalid("max_points must be at least 1".to_owned());
        }
        for (name, value) in [
            ("idle_timeout", Some(self.idle_timeout)),
            ("header_timeout", Some(self.header_timeout)),
            ("save_interval", Some(self.save_interval)),
            ("open_figure_ttl", self.open_figure_ttl),
        ] {
            if value.is_some_and(|d| d.is_zero()) {
                return invalid(format!("{name} must be above zero"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_name_the_loopback_and_those_given() {
        let h = AllowedHosts::Loopback(vec!["box.lan".into()]);
        for ok in [
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.9.8.7:1",
            "localhost:80",
            "LocalHost",
            "app.localhost:3000",
            "[::1]",
            "[::1]:8080",
            "box.lan",
            "BOX.LAN:9",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example",
            "evil.example:8080",
            "localhost.evil.example",
            "127.0.0.1.nip.io",
            "10.0.0.1",
            "[::2]:80",
            "[::1",
            "127.0.0.1:",
            "127.0.0.1:80x",
            "box.lan.evil",
        ] {
            assert!(!h.allows(bad), "{bad}");
        }
        assert!(AllowedHosts::Any.allows("evil.example"));
    }

    #[test]
    fn zero_limits_are_refused_by_name() {
        assert!(Config::default().validate().is_ok());
        let err = Config {
            max_figures: 0,
            ..Config::default()
        }
        .validate()
        .expect_err("zero figures");
        assert!(err.to_string().contains("max_figures"), "{err}");
        let err = Config {
            header_timeout: Duration::ZERO,
            ..Config::default()
        }
        .validate()
        .expect_err("zero timeout");
        assert!(err.to_string().contains("header_timeout"), "{err}");
    }
}
