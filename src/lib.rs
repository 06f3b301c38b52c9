//! plotstream brings back Plotly's retired Streaming API, locally and fast.
//!
//! This crate is the facade: it re-exports the workspace's crates under short
//! names and holds the `plotstream` command line ([`cli`]).
//!
//! - [`protocol`]: the wire protocol: [`protocol::Write`], [`protocol::Figure`],
//!   the NDJSON line codec.
//! - the simulations: [`cosine`] (noisy cosine), [`pendulum`] (double
//!   pendulum, RK4), [`gapminder`] (Gapminder bubbles), [`ppbp`]
//!   (Poisson–Pareto bursts).
//! - [`demos`]: each demo as a figure, the writes of each frame, and a period.
//! - [`client`]: the streaming client, [`client::Stream`], and
//!   [`client::NdjsonSink`].
//! - [`viewer`]: the live viewer: [`viewer::Viewer`], [`viewer::app`].
//! - [`load`]: the load generator: [`load::run`], [`load::Report`].
//! - [`live`]: run a demo live, with a viewer here or at `--url`: what the
//!   examples do.
//!
//! # Example
//!
//! The first lines of the noisy cosine's tape, as `plotstream generate
//! noisy-cosine --count 2` prints them:
//!
//! ```
//! use plotstream::demos::{Clock, DemoKind, Frame};
//! use plotstream::protocol::{TapeLine, encode_line};
//!
//! let mut demo = DemoKind::NoisyCosine.build(7)?;
//! let mut frame = Frame::default();
//! let mut tape = Vec::new();
//! for _ in 0..2 {
//!     demo.next_frame(Clock::Simulated, &mut frame);
//!     for w in &frame.writes {
//!         let token = &demo.tokens()[w.token];
//!         encode_line(&TapeLine { t: frame.t, token, write: &w.write }, &mut tape)?;
//!     }
//! }
//! let tape = String::from_utf8(tape)?;
//! assert!(tape.starts_with(r#"{"t":0.0,"token":"noisy-cosine","write":{"x":0,"y":-0.826"#));
//! assert_eq!(tape.lines().count(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

pub mod cli;
mod error;
pub mod live;
mod pace;
mod signal;

pub use error::{Error, ErrorChain};

pub use plotstream_client as client;
pub use plotstream_cosine as cosine;
pub use plotstream_demos as demos;
pub use plotstream_gapminder as gapminder;
pub use plotstream_load as load;
use plotstream_load::flags;
pub use plotstream_pendulum as pendulum;
pub use plotstream_ppbp as ppbp;
pub use plotstream_protocol as protocol;
pub use plotstream_viewer as viewer;
