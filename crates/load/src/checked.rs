//! [`Checked`]: a run's options, checked as a whole before anything
//! connects. Each flag's own value is checked by its parser ([`crate::Opts`]);
//! here are the rules between flags, and what needs a look at the machine
//! (a CA file). A refusal is an [`Error::Options`], exit 2.

use std::sync::Arc;

use crate::{Error, Opts, Payload, Target};

/// Options that make a run.
#[derive(Debug)]
pub(crate) struct Checked<'a> {
    pub(crate) opts: &'a Opts,
    pub(crate) target: Target,
    /// What each write carries (the plotly target always sends Plotly writes).
    pub(crate) payload: Payload,
    /// The test's streams this run drives (its shard's).
    pub(crate) positions: Vec<u64>,
    /// `--ca-cert`'s certificates.
    pub(crate) ca_certs: Option<Arc<[u8]>>,
    /// The broker's host and port (mqtt target).
    #[cfg_attr(not(feature = "mqtt"), allow(dead_code))]
    pub(crate) broker: Option<(String, u16)>,
}

fn refuse(reason: impl Into<String>) -> Error {
    Error::Options(reason.into())
}

impl<'a> Checked<'a> {
    /// Checks `opts`; the first rule broken, by name.
    pub(crate) fn new(opts: &'a Opts) -> Result<Self, Error> {
        let target = target(opts)?;
        let scheme = opts
            .url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        if opts.acks && target != Target::Plotly {
            return Err(refuse(format!(
                "--acks asks a plotstream viewer to acknowledge writes (--target plotly), not a {} server",
                format!("{target:?}").to_lowercase()
            )));
        }
        if let Some(ago) = opts
            .start_at
            .and_then(|at| std::time::SystemTime::now().duration_since(at).ok())
            .filter(|ago| *ago > std::time::Duration::from_secs(1))
        {
            return Err(refuse(format!(
                "--start-at is {:.1} s in the past: give a time to come (or +D from now, such as +30s)",
                ago.as_secs_f64()
            )));
        }
        crate::flags::tls_available(&opts.url).map_err(refuse)?;
        if scheme.as_deref() == Some("wss") {
            return Err(refuse(format!(
                "{:?}: the ws target speaks plain ws://; put a TLS proxy's plain side in front, \
                 or test it over ws://",
                opts.url
            )));
        }
        let broker = match target {
            Target::Mqtt => Some(broker(&opts.url).map_err(refuse)?),
            _ => None,
        };
        plotstream_demos::check_token_prefix(&format!("{}-0", opts.token_prefix))
            .map_err(|e| refuse(format!("--token-prefix {:?}: {e}", opts.token_prefix)))?;
        if opts.subscribers > 1 && !opts.subscribed() {
            return Err(refuse(
                "--subscribers counts receivers per stream: add --subscribe or --subscribe-url",
            ));
        }
        if opts.max_loss.is_some() && !opts.subscribed() {
            return Err(refuse(
                "--max-loss needs subscribers to count loss: add --subscribe or --subscribe-url",
            ));
        }
        if opts.subscribe {
            crate::viewer_addr(&opts.url)?;
        }
        if let Some(url) = &opts.subscribe_url {
            subscribe_scheme(url)?;
        }
        let ca_certs = match &opts.ca_cert {
            Some(path) => Some(Arc::from(std::fs::read(path).map_err(|e| {
                refuse(format!("--ca-cert {}: cannot read it: {e}", path.display()))
            })?)),
            None => None,
        };
        let positions = (opts.shard.index..opts.total_streams())
            .step_by(usize::try_from(opts.shard.count).unwrap_or(usize::MAX))
            .collect();
        Ok(Checked {
            opts,
            target,
            payload: if target == Target::Plotly {
                Payload::Plotly
            } else {
                opts.payload
            },
            positions,
            ca_certs,
            broker,
        })
    }

    /// Streams this run drives.
    pub(crate) fn here(&self) -> usize {
        self.positions.len()
    }

    /// The token of the test's stream `i`.
    pub(crate) fn token(&self, i: u64) -> String {
        format!("{}-{i}", self.opts.token_prefix)
    }

    /// Whether the plotly and http targets go through plotstream's client
    /// (`https://`, `--acks`) rather than the plain writer.
    pub(crate) fn via_client(&self) -> bool {
        self.opts.acks || self.opts.url.to_ascii_lowercase().starts_with("https://")
    }
}

/// The target: `--target`, or the URL's scheme; one this build has.
fn target(opts: &Opts) -> Result<Target, Error> {
    let target = opts.target.or_else(|| Target::of_url(&opts.url)).ok_or_else(|| {
        refuse(format!(
            "--url {:?}: give an http://, https://, ws:// or mqtt:// URL, or name the kind with --target",
            opts.url
        ))
    })?;
    let built = match target {
        Target::Plotly | Target::Http => true,
        Target::Ws => cfg!(feature = "ws"),
        Target::Mqtt => cfg!(feature = "mqtt"),
    };
    if !built {
        let name = format!("{target:?}").to_lowercase();
        return Err(refuse(format!(
            "the {name} target needs plotstream-load's `{name}` feature"
        )));
    }
    Ok(target)
}

/// `--subscribe-url`'s scheme: one this build subscribes with.
fn subscribe_scheme(url: &str) -> Result<(), Error> {
    let ok = match url.split_once("://").map(|(s, _)| s) {
        Some("ws") => cfg!(feature = "ws"),
        Some("mqtt") => cfg!(feature = "mqtt"),
        scheme => scheme == Some("http"),
    };
    if ok {
        Ok(())
    } else {
        Err(refuse(format!(
            "--subscribe-url {url:?}: give a ws://, http:// (EventSource) or mqtt:// URL \
             (ws and mqtt need plotstream-load's features of those names)"
        )))
    }
}

/// The host and port of an `mqtt://host[:port]` URL.
pub(crate) fn broker(url: &str) -> Result<(String, u16), String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("{url:?} is not a URL"))?;
    if uri.scheme_str() != Some("mqtt") {
        return Err(format!(
            "{url:?}: an MQTT broker's URL is mqtt://host[:port]"
        ));
    }
    let host = uri.host().ok_or_else(|| format!("{url:?} has no host"))?;
    Ok((host.to_owned(), uri.port_u16().unwrap_or(1883)))
}
