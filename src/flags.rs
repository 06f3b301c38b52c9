//! Every value parser of the command line, in one place: each turns a
//! flag's text into a checked value, or into a message naming what is valid
//! (clap prints it and exits 2).

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// A speed: a finite number above zero (`--speed`).
pub(crate) fn speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "{s:?} is not a speed: give a number above 0, such as 0.5, 1 or 10"
        )),
    }
}

/// A stream tokens' prefix (`--token-prefix`).
pub(crate) fn token_prefix(s: &str) -> Result<String, plotstream_demos::Error> {
    plotstream_demos::check_token_prefix(s).map(|()| s.to_owned())
}

/// A duration above zero: `500ms`, `5s`, `2m`, `1h`, or plain seconds.
pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    let d = plotstream_load::parse_duration(s)?;
    if d.is_zero() {
        return Err(format!(
            "{s:?} is zero: give a duration above zero, such as 500ms, 5s or 2m"
        ));
    }
    Ok(d)
}

/// A duration, or never (`None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrNever(pub Option<Duration>);

/// A duration above zero, or `never`.
pub(crate) fn duration_or_never(s: &str) -> Result<OrNever, String> {
    if s.trim().eq_ignore_ascii_case("never") {
        return Ok(OrNever(None));
    }
    duration(s).map(|d| OrNever(Some(d)))
}

/// A whole number of at least 1.
pub(crate) fn count(s: &str) -> Result<usize, String> {
    match s.trim().replace('_', "").parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("{s:?} is not a whole number of at least 1")),
    }
}

/// How many frames or writes (`--count`): a whole number of at least 1.
pub(crate) fn frames(s: &str) -> Result<u64, String> {
    count(s).map(|n| n as u64)
}

/// A size in bytes of at least 1: `1048576`, `64KiB`, `4MiB`, `1GiB` (also
/// `K`, `M`, `G`, as binary units).
pub(crate) fn bytes(s: &str) -> Result<usize, String> {
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
pub(crate) fn listen_addr(s: &str) -> Result<SocketAddr, String> {
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

/// Certificates to trust (`--ca-cert FILE`): the file's PEM, read now.
pub(crate) fn ca_cert(s: &str) -> Result<std::sync::Arc<[u8]>, String> {
    let pem = std::fs::read(s).map_err(|e| format!("cannot read {s:?}: {e}"))?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(format!(
            "{s:?} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(std::sync::Arc::from(pem))
}

/// A host name for `--allow-host`: letters, digits, `-` and `.`.
pub(crate) fn host_name(s: &str) -> Result<String, String> {
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
    fn durations_are_above_zero_or_never() {
        assert_eq!(duration("60"), Ok(Duration::from_secs(60)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
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
    fn sizes_and_counts() {
        assert_eq!(bytes("65536"), Ok(65536));
        assert_eq!(bytes("64KiB"), Ok(65536));
        assert_eq!(bytes("4MiB"), Ok(4 << 20));
        assert_eq!(bytes("1g"), Ok(1 << 30));
        assert!(bytes("0").is_err());
        assert!(bytes("4 parsecs").is_err());
        assert_eq!(count("1_000"), Ok(1000));
        assert!(count("0").is_err());
        assert!(count("-1").is_err());
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
    fn host_names_take_no_port() {
        assert_eq!(host_name("Plots.LAN"), Ok("plots.lan".to_owned()));
        assert!(host_name("plots.lan:8080").is_err());
        assert!(host_name("").is_err());
    }
}
