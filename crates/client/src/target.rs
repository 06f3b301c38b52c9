//! Where a stream goes: the URL, parsed once.

use http::Uri;

use crate::Error;

/// A parsed stream URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// `https://`?
    pub(crate) tls: bool,
    /// The host to connect to (no brackets around an IPv6 address).
    pub(crate) host: String,
    /// The port; 80 or 443 when the URL has none.
    pub(crate) port: u16,
    /// The `Host` header: `host`, or `host:port` for a port that is not the default.
    pub(crate) host_header: String,
    /// The request target: the URL's path and query, `/` when empty.
    pub(crate) path: String,
    /// `host:port`, for messages.
    pub(crate) addr: String,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(_) => return Err(invalid("the scheme must be http or https")),
            None => return Err(invalid("it needs a scheme: http:// or https://")),
        };
        if tls && !crate::TLS {
            return Err(Error::TlsDisabled {
                url: url.to_owned(),
            });
        }
        let authority_host = uri.host().ok_or_else(|| invalid("it has no host"))?;
        let default_port = if tls { 443 } else { 80 };
        let port = uri.port_u16().unwrap_or(default_port);
        let host_header = if port == default_port {
            authority_host.to_owned()
        } else {
            format!("{authority_host}:{port}")
        };
        let host = authority_host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let path = match uri.path_and_query().map(http::uri::PathAndQuery::as_str) {
            None | Some("") => "/".to_owned(),
            Some(p) => p.to_owned(),
        };
        Ok(Target {
            tls,
            addr: format!("{authority_host}:{port}"),
            host,
            port,
            host_header,
            path,
        })
    }
}

/// Checks a stream URL as [`Stream::connect`](crate::Stream::connect)
/// would, without connecting: `http://` or `https://` (the latter only
/// with the `tls` feature, [`TLS`](crate::TLS)), with a host.
pub fn check_url(url: &str) -> Result<(), Error> {
    Target::parse(url).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_python_client() {
        let t = Target::parse("http://stream.plot.ly").expect("valid");
        assert_eq!((t.tls, t.port, t.path.as_str()), (false, 80, "/"));
        assert_eq!(t.host_header, "stream.plot.ly");
        if crate::TLS {
            let t = Target::parse("https://stream.plot.ly/").expect("valid");
            assert_eq!((t.tls, t.port), (true, 443));
            assert_eq!(t.addr, "stream.plot.ly:443");
        } else {
            let err = Target::parse("https://stream.plot.ly/").expect_err("no tls");
            assert!(matches!(err, Error::TlsDisabled { .. }), "{err}");
        }
    }

    #[test]
    fn ports_paths_and_ipv6() {
        let t = Target::parse("http://127.0.0.1:8080/ingest?x=1").expect("valid");
        assert_eq!(t.host_header, "127.0.0.1:8080");
        assert_eq!(t.path, "/ingest?x=1");
        let t = Target::parse("http://[::1]:9000").expect("valid");
        assert_eq!(t.host, "::1");
        assert_eq!(t.host_header, "[::1]:9000");
    }

    #[test]
    fn bad_urls_say_why() {
        for (url, why) in [
            ("ftp://x", "the scheme must be http or https"),
            ("127.0.0.1:8080", "it needs a scheme"),
            ("http://", "invalid"),
            ("not a url", "invalid"),
        ] {
            let err = Target::parse(url).expect_err(url).to_string();
            assert!(err.contains(why), "{url}: {err}");
            assert!(err.starts_with("invalid stream url"), "{err}");
        }
    }
}
