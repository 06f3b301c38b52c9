//! Every value parser of plotstream's command line, in one place: `load`'s
//! [`Opts`](crate::Opts) and the `plotstream` binary's other commands
//! (`serve`, `stream`, `replay`, `generate`) use these. Each turns a flag's
//! text into a checked value, or into a message naming what is valid (clap
//! prints it and exits 2), so a flag means the same everywhere.
//!
//! ```
//! use std::time::Duration;
//! use plotstream_load::flags;
//!
//! assert_eq!(flags::duration("500ms"), Ok(Duration::from_millis(500)));
//! assert_eq!(flags::count::<u64>("1_000"), Ok(1000));
//! assert_eq!(flags::bytes("64KiB"), Ok(65536));
//! assert!(flags::hurst("1.2").unwrap_err().contains("(0.5, 1)"));
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Args;

/// `--seed S`, one declaration for every command that plays a demo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Args)]
pub struct Seed {
    /// The random seed: the same seed gives the same writes (in `load`,
    /// stream i plays its demo with seed S + i).
    #[arg(
        long = "seed",
        allow_negative_numbers = true,
        value_name = "S",
        default_value_t = 0
    )]
    pub value: u64,
}

/// A duration of zero or more: `500ms`, `5s`, `2m`, `1h`, or plain
/// seconds (`0.5`).
pub fn duration_or_zero(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 500ms, 5s or 2m"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{s:?}: the unit must be ms, s, m or h")),
    };
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("{s:?} is not a duration of zero or more"))
}

/// A duration above zero, as [`duration_or_zero`] reads it.
pub fn duration(s: &str) -> Result<Duration, String> {
    match duration_or_zero(s)? {
        d if d.is_zero() => Err(format!(
            "{s:?} is zero: give a duration above zero, such as 500ms, 5s or 2m"
        )),
        d => Ok(d),
    }
}

/// A duration, or never (`None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrNever(pub Option<Duration>);

/// A duration above zero, or `never`.
pub fn duration_or_never(s: &str) -> Result<OrNever, String> {
    if s.trim().eq_ignore_ascii_case("never") {
        return Ok(OrNever(None));
    }
    duration(s).map(|d| OrNever(Some(d)))
}

/// An instant: RFC 3339 (`2026-12-04T10:00:00Z`), unix seconds
/// (`1796378400`, fractions allowed), or `+D` from now (`+30s`), resolved
/// when the flag is parsed (`--start-at`).
///
/// ```
/// use plotstream_load::flags::start_at;
///
/// let at = start_at("2026-12-04T10:00:00.5Z")?;
/// let unix = at.duration_since(std::time::UNIX_EPOCH).unwrap();
/// assert_eq!(unix.as_millis(), 1_796_378_400_500);
/// assert_eq!(start_at("1796378400.5")?, at);
/// assert!(start_at("+10s")? > std::time::SystemTime::now());
/// assert!(start_at("tomorrow").is_err());
/// # Ok::<(), String>(())
/// ```
pub fn start_at(s: &str) -> Result<SystemTime, String> {
    let t = s.trim();
    if let Some(d) = t.strip_prefix('+') {
        return Ok(SystemTime::now() + duration_or_zero(d)?);
    }
    if let Ok(secs) = t.parse::<f64>() {
        return Duration::try_from_secs_f64(secs)
            .map(|d| UNIX_EPOCH + d)
            .map_err(|_| format!("{s:?} is not a time after 1970"));
    }
    let at = chrono::DateTime::parse_from_rfc3339(t).map_err(|e| {
        format!(
            "{s:?} is not a start time ({e}): give RFC 3339 (2026-12-04T10:00:00Z), unix seconds, or +D from now (+30s)"
        )
    })?;
    let nanos = at.timestamp_nanos_opt().unwrap_or(0);
    u64::try_from(nanos)
        .map(|n| UNIX_EPOCH + Duration::from_nanos(n))
        .map_err(|_| format!("{s:?} is not a time after 1970"))
}

/// A whole number of at least 1 (`1_000` allowed): a count of streams,
/// frames, figures, receivers.
pub fn count<T: TryFrom<u64>>(s: &str) -> Result<T, String> {
    let bad = || format!("{s:?} is not a whole number of at least 1");
    match s.trim().replace('_', "").parse::<u64>() {
        Ok(n) if n >= 1 => T::try_from(n).map_err(|_| bad()),
        _ => Err(bad()),
    }
}

/// A finite number above zero (`--rate`, `--speed`).
pub fn positive(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a number above 0, such as 0.5, 1 or 10"
        )),
    }
}

/// A share from 0 to 1 (`--max-error-rate`).
pub fn fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?} is not a share from 0 to 1, such as 0.01")),
    }
}

/// A Hurst exponent (`--hurst`), by the rule of [`plotstream_ppbp`].
pub fn hurst(s: &str) -> Result<f64, String> {
    let h: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number, such as 0.8"))?;
    plotstream_ppbp::check_hurst(h).map_err(|e| format!("{e}, such as 0.8"))
}

/// A size in bytes of at least 1: `1048576`, `64KiB`, `4MiB`, `1GiB` (also
/// `K`, `M`, `G`, as binary units).
pub fn bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: usize = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1 << 10,
        "m" | "mib" | "mb" => 1 << 20,
        "g" | "gib" | "gb" => 1 << 30,
        _ => return Err(format!("{s:?}: the unit must be B, KiB, MiB or GiB")),
    };
    match number.trim().parse::<usize>() {
        Ok(n) if n >= 1 => n
            .checked_mul(scale)
            .ok_or_else(|| format!("{s:?} is too large")),
        _ => Err(format!(
            "{s:?} is not a size of at least 1 byte, such as 65536, 64KiB or 4MiB"
        )),
    }
}

/// An address to listen on: `IP:PORT` (`127.0.0.1:8080`, `[::1]:8080`)
/// or `NAME:PORT` (`localhost:9000`), a name resolved now; of its
/// addresses, a loopback one first, then IPv4.
pub fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let usage = || {
        format!(
            "{s:?} is not an address to listen on: give IP:PORT or NAME:PORT, such as \
             127.0.0.1:8080, [::1]:8080 or localhost:8080 (port 0 picks a free one)"
        )
    };
    let (host, port) = s.rsplit_once(':').ok_or_else(usage)?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(usage());
    }
    let mut found: Vec<SocketAddr> = s
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host:?}: {e}"))?
        .collect();
    found.sort_by_key(|a| (!a.ip().is_loopback(), !a.is_ipv4()));
    found
        .first()
        .copied()
        .ok_or_else(|| format!("{host:?} resolves to no address"))
}

/// What to say when `flag`'s address `addr` cannot be listened on: the
/// system's reason and, where there is one, the fix.
///
/// ```
/// use std::io;
/// let e = io::Error::from(io::ErrorKind::AddrInUse);
/// let said = plotstream_load::flags::cannot_listen("--addr", "127.0.0.1:8080".parse().unwrap(), &e);
/// assert!(said.starts_with("--addr 127.0.0.1:8080: cannot listen there: "), "{said}");
/// assert!(said.ends_with("pick another port, or --addr 127.0.0.1:0 for a free one"), "{said}");
/// ```
pub fn cannot_listen(flag: &str, addr: SocketAddr, e: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let fix = match e.kind() {
        ErrorKind::AddrInUse => format!(
            "; another program is listening there: pick another port, or {flag} {} for a free one",
            SocketAddr::new(addr.ip(), 0)
        ),
        ErrorKind::AddrNotAvailable => format!(
            "; {} is not an address of this machine (127.0.0.1 is)",
            addr.ip()
        ),
        ErrorKind::PermissionDenied if addr.port() < 1024 => {
            "; ports under 1024 need privileges: pick one of 1024 or over".to_owned()
        }
        _ => String::new(),
    };
    format!("{flag} {addr}: cannot listen there: {e}{fix}")
}

/// Source addresses (`--bind`): at most this many.
pub const MAX_BIND: u32 = 65_536;

/// The addresses of `--bind`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindAddrs(pub Vec<IpAddr>);

/// Source addresses (`--bind`): `A-B` (IPv4, every address from A to B) or
/// `A,B,…`; at most [`MAX_BIND`].
pub fn bind_addrs(s: &str) -> Result<BindAddrs, String> {
    let usage = || {
        format!(
            "{s:?} is not a set of source addresses: give a range such as 127.0.0.1-127.0.0.8 \
             or a list such as 127.0.0.2,127.0.0.3"
        )
    };
    if let Some((a, b)) = s.split_once('-') {
        let (a, b): (Ipv4Addr, Ipv4Addr) = (
            a.trim().parse().map_err(|_| usage())?,
            b.trim().parse().map_err(|_| usage())?,
        );
        let (a, b) = (u32::from(a), u32::from(b));
        if b < a || b - a >= MAX_BIND {
            return Err(format!(
                "{s:?}: the range must go upwards and hold at most {MAX_BIND} addresses"
            ));
        }
        return Ok(BindAddrs(
            (a..=b).map(|n| IpAddr::from(Ipv4Addr::from(n))).collect(),
        ));
    }
    let addrs = s
        .split(',')
        .map(|a| a.trim().parse::<IpAddr>().map_err(|_| usage()))
        .collect::<Result<Vec<_>, _>>()?;
    if addrs.len() > MAX_BIND as usize {
        return Err(format!("{s:?}: at most {MAX_BIND} addresses"));
    }
    Ok(BindAddrs(addrs))
}

/// A Plotly-protocol server's URL (`stream --url`, `replay --url`):
/// `http://` or `https://` (with the tls feature), as
/// [`plotstream_client`] takes it. A page of a plotstream viewer, such as a
/// figure's URL pasted from the browser, is refused with the server's root
/// to give instead: streams go to the root.
///
/// ```
/// use plotstream_load::flags::server_url;
///
/// assert!(server_url("http://127.0.0.1:8080").is_ok());
/// let err = server_url("http://127.0.0.1:8080/plot/1").unwrap_err();
/// assert!(err.contains("--url http://127.0.0.1:8080"), "{err}");
/// assert!(server_url("127.0.0.1:8080").is_err());
/// ```
pub fn server_url(s: &str) -> Result<String, String> {
    tls_available(s)?;
    plotstream_client::check_url(s).map_err(|e| e.to_string())?;
    let uri: http::Uri = s.parse().map_err(|e| format!("{s:?}: {e}"))?;
    if let Some(id) = plotstream_protocol::paths::figure_id(uri.path()) {
        let root = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("http"),
            uri.authority().map_or("", |a| a.as_str())
        );
        return Err(format!(
            "{s} is figure {id}'s page, not where streams go: give the server's root, --url {root}"
        ));
    }
    Ok(s.to_owned())
}

/// Refuses an `https://` URL when this build has no TLS, naming the
/// feature, before anything connects.
pub fn tls_available(url: &str) -> Result<(), String> {
    let https = url
        .split_once("://")
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("https"));
    if https && !plotstream_client::TLS {
        return Err(format!(
            "{url}: https needs the tls feature (build plotstream with `--features tls`, \
             such as cargo install --path . --features tls)"
        ));
    }
    Ok(())
}

/// A request header (`--header 'Name: value'`).
pub fn header(s: &str) -> Result<(http::HeaderName, http::HeaderValue), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: give a header as 'Name: value'"))?;
    let name = http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|e| format!("{s:?}: bad header name: {e}"))?;
    let value = http::HeaderValue::from_str(value.trim())
        .map_err(|e| format!("{s:?}: bad header value: {e}"))?;
    Ok((name, value))
}

/// A stream's request method (`--method`): POST or PUT.
pub fn method(s: &str) -> Result<http::Method, String> {
    match s.trim().to_ascii_uppercase().as_str() {
        "POST" => Ok(http::Method::POST),
        "PUT" => Ok(http::Method::PUT),
        _ => Err(format!("{s:?}: a stream is sent with POST or PUT")),
    }
}

/// An MQTT QoS (`--qos`): 0, 1 or 2.
pub fn qos(s: &str) -> Result<u8, String> {
    match s.trim() {
        "0" => Ok(0),
        "1" => Ok(1),
        "2" => Ok(2),
        _ => Err(format!("{s:?}: the MQTT QoS is 0, 1 or 2")),
    }
}

/// A stream tokens' prefix (`--token-prefix`), by the demos' rule.
pub fn token_prefix(s: &str) -> Result<String, plotstream_demos::Error> {
    plotstream_demos::check_token_prefix(s).map(|()| s.to_owned())
}

/// Certificates to trust (`--ca-cert FILE`): the file's PEM, read now.
pub fn ca_cert(s: &str) -> Result<std::sync::Arc<[u8]>, String> {
    let pem = std::fs::read(s).map_err(|e| format!("cannot read {s:?}: {e}"))?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(format!(
            "{s:?} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(std::sync::Arc::from(pem))
}

/// A host name (`--allow-host`): letters, digits, `-` and `.`.
pub fn host_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'));
    if ok {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!(
            "{s:?} is not a host name (letters, digits, '-' and '.', without a port)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration_or_zero("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration_or_zero("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(duration_or_zero("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration_or_zero("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(duration_or_zero("0s"), Ok(Duration::ZERO));
        assert!(duration_or_zero("5 days").is_err());
        assert!(duration_or_zero("-1s").is_err());
        assert_eq!(duration("60"), Ok(Duration::from_secs(60)));
        assert!(duration("0").is_err());
        assert!(duration("0s").is_err());
        assert!(duration("-5s").is_err());
        assert_eq!(duration_or_never("never"), Ok(OrNever(None)));
        assert_eq!(
            duration_or_never("2m"),
            Ok(OrNever(Some(Duration::from_secs(120))))
        );
    }

    #[test]
    fn sizes_counts_and_numbers() {
        assert_eq!(bytes("65536"), Ok(65536));
        assert_eq!(bytes("64KiB"), Ok(65536));
        assert_eq!(bytes("4MiB"), Ok(4 << 20));
        assert_eq!(bytes("1g"), Ok(1 << 30));
        assert!(bytes("0").is_err());
        assert!(bytes("4 parsecs").is_err());
        assert_eq!(count::<usize>("1_000"), Ok(1000));
        assert!(count::<u64>("0").is_err());
        assert!(count::<u64>("-1").is_err());
        assert!(count::<u8>("300").is_err());
        assert_eq!(positive("0.5"), Ok(0.5));
        for bad in ["0", "-1", "inf", "NaN", "x"] {
            assert!(positive(bad).is_err(), "{bad}");
        }
        assert_eq!(fraction("1"), Ok(1.0));
        assert!(fraction("1.5").is_err());
        assert_eq!(hurst("0.8"), Ok(0.8));
        for bad in ["0.5", "1", "x"] {
            assert!(hurst(bad).is_err(), "{bad}");
        }
        assert_eq!(qos("1"), Ok(1));
        assert!(qos("3").is_err());
        assert_eq!(method("put"), Ok(http::Method::PUT));
        assert!(method("GET").is_err());
    }

    #[test]
    fn addresses_are_ips_or_names_with_a_port() {
        assert_eq!(
            listen_addr("127.0.0.1:8080"),
            Ok(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
        assert_eq!(listen_addr("[::1]:0").map(|a| a.port()), Ok(0));
        let local = listen_addr("localhost:9000").expect("localhost resolves");
        assert!(local.ip().is_loopback() && local.port() == 9000, "{local}");
        for bad in [
            "localhost",
            "localhost:",
            ":80",
            "localhost:99999",
            "127.0.0.1",
        ] {
            let err = listen_addr(bad).expect_err(bad);
            assert!(err.contains("IP:PORT or NAME:PORT"), "{bad}: {err}");
        }
        assert!(listen_addr("no-such-host.invalid:80").is_err());
    }

    #[test]
    fn server_urls_are_roots() {
        assert_eq!(
            server_url("http://[::1]:9000/"),
            Ok("http://[::1]:9000/".to_owned())
        );
        for page in [
            "http://h:1/plot/3",
            "http://h:1/plot/3/events",
            "http://h:1/api/figures/3",
        ] {
            let err = server_url(page).expect_err(page);
            assert!(
                err.contains("figure 3's page") && err.contains("--url http://h:1"),
                "{err}"
            );
        }
        assert!(server_url("ftp://h").is_err());
        let https = server_url("https://h");
        assert_eq!(https.is_ok(), plotstream_client::TLS, "{https:?}");
        if !plotstream_client::TLS {
            assert!(
                https
                    .expect_err("https without tls is refused")
                    .contains("--features tls")
            );
        }
    }

    #[test]
    fn host_names_take_no_port() {
        assert_eq!(host_name("Plots.LAN"), Ok("plots.lan".to_owned()));
        assert!(host_name("plots.lan:8080").is_err());
        assert!(host_name("").is_err());
    }

    #[test]
    fn source_addresses_are_a_range_or_a_list() {
        let r = bind_addrs("127.0.0.1-127.0.0.3").expect("a range");
        let want: Vec<IpAddr> = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
            .iter()
            .map(|a| a.parse().expect("an address"))
            .collect();
        assert_eq!(r.0, want);
        let l = bind_addrs("127.0.0.2, ::1").expect("a list");
        assert_eq!(l.0.len(), 2);
        for bad in [
            "",
            "127.0.0.3-127.0.0.1",
            "10.0.0.0-10.2.0.0",
            "127.0.0.1-",
            "x",
        ] {
            assert!(bind_addrs(bad).is_err(), "{bad}");
        }
    }
}
