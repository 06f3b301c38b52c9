//! `plotstream stream`: a demo, live, to a Plotly-protocol server.

use std::io;

use clap::Args;
use plotstream_demos::DemoKind;

use super::{Connect, Error, Pacing};
use crate::pace::{Pacer, Streams, block_on, demo_figure, stream_demo, until_stopped};
use crate::signal::{GRACE, Signals};

/// Options of `plotstream stream`.
#[derive(Debug, Clone, Args)]
pub struct StreamOpts {
    /// The demo to stream.
    #[arg(value_enum)]
    pub demo: DemoKind,
    /// The server's root URL, such as http://127.0.0.1:8080 (https needs the tls feature).
    #[arg(long, value_name = "URL", value_parser = crate::flags::server_url)]
    pub url: String,
    /// The random seed.
    #[command(flatten)]
    pub seed: crate::flags::Seed,
    /// How many frames to stream; without it the stream never ends (Ctrl-C ends it cleanly).
    #[arg(long, allow_negative_numbers = true, value_name = "N", value_parser = crate::flags::count::<u64>)]
    pub count: Option<u64>,
    /// The stream tokens' prefix (default: the demo's name).
    #[arg(long, value_name = "P", value_parser = crate::flags::token_prefix)]
    pub token_prefix: Option<String>,
    /// How fast to send.
    #[command(flatten)]
    pub pacing: Pacing,
    /// How to connect.
    #[command(flatten)]
    pub connect: Connect,
}

/// Streams until `--count` frames or a signal; the exit code is 0, or the
/// signal's (130, 143) after the summary.
pub(crate) fn run(opts: &StreamOpts, out: &mut (dyn io::Write + Send)) -> Result<u8, Error> {
    let prefix = opts.token_prefix.as_deref().unwrap_or(opts.demo.name());
    let mut demo = opts.demo.build_with_prefix(opts.seed.value, prefix)?;
    block_on(async {
        let signals = Signals::listen().map_err(Error::Runtime)?;
        let client = opts.connect.options();
        let figure = demo_figure(&opts.url, &demo.figure(), &client).await?;
        match &figure {
            Some(figure) => writeln!(out, "{}", figure.line()),
            None => writeln!(
                out,
                "{} has no plotstream figure API: streaming to the tokens only, drawn as that server draws them",
                opts.url
            ),
        }
        .map_err(Error::Output)?;
        let acks = opts.connect.acks_for(figure.is_some());
        writeln!(out, "{}", acks.line()).map_err(Error::Output)?;
        out.flush().map_err(Error::Output)?;
        let mut streams = Streams::new(&opts.url, client, acks);
        let pacer = Pacer::new(opts.pacing.speed, opts.pacing.max_rate);
        let mut frames = 0;
        let resumed = figure.as_ref().is_some_and(|f| !f.made);
        let work = stream_demo(
            demo.as_mut(),
            &mut streams,
            &pacer,
            opts.count,
            &mut frames,
            resumed,
        );
        let result = until_stopped(work, &signals).await;
        let grace = signals.received().map(|_| GRACE);
        let closed = streams.close(out, grace).await;
        result.and(closed).map(|()| signals.exit_code(0))
    })
}
