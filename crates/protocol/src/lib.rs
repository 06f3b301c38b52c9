//! The Plotly streaming protocol, pure: no I/O, no clock.
//!
//! A program streams to a Plotly-protocol server by opening a long chunked
//! `POST /` with a `plotly-streamtoken` header and writing one JSON object per
//! line. This crate holds the pieces every other plotstream crate shares:
//!
//! - [`Write`]: one line, one trace update. Scalars append, arrays overwrite
//!   ([`Update`], [`Mode`]); `marker` and `line` follow the same rule; a
//!   `layout` key carries a layout update; unknown keys are kept.
//! - [`Figure`], [`Trace`], [`StreamSpec`]: the figure a stream draws into,
//!   round-tripping real Plotly figure JSON.
//! - [`encode_line`]: appends `json + "\n"` to a caller's buffer.
//! - [`LineDecoder`]: splits bytes arriving in pieces of any size into
//!   [`Line`]s, heartbeats included, with a line-length limit.
//! - [`TapeLine`] / [`TapeRecord`]: the NDJSON tape `plotstream generate` prints.
//! - [`Write::for_each_attribute`]: the one walk over what a write changes,
//!   bounded by [`MAX_PATH_DEPTH`]; [`check_token`]: the one token rule.
//! - [`Ack`], [`Resume`]: plotstream's acknowledgement extension (acked
//!   streams that resume after a drop without a line sent twice).
//! - [`paths`]: the viewer's HTTP paths, as patterns and builders.
//! - [`ErrorChain`]: an error and its causes in one line, the one way
//!   plotstream prints them; [`plural`]: a count and its noun (`1 write`,
//!   `2 writes`), the one way it says how many.
//! - [`ViewerEvent`]: the viewer's event stream (`snapshot`, then
//!   [`FigureUpdate`]s), written by the viewer and read by subscribers.
//!
//! # Example
//!
//! Encode writes the way a client sends them, then decode them the way a
//! server receives them, in arbitrary pieces:
//!
//! ```
//! use plotstream_protocol::{encode_heartbeat, encode_line, LineDecoder, Mode, Write};
//!
//! let mut wire = Vec::new();
//! for i in 0..3 {
//!     encode_line(&Write::xy(i, f64::from(i) * 0.5), &mut wire)?;
//! }
//! encode_heartbeat(&mut wire);
//!
//! let mut decoder = LineDecoder::new();
//! let mut writes = Vec::new();
//! let mut heartbeats = 0;
//! for piece in wire.chunks(5) {
//!     decoder.feed(piece, |line| {
//!         match line.parse_write() {
//!             Some(write) => writes.push(write?),
//!             None => heartbeats += 1,
//!         }
//!         Ok::<_, plotstream_protocol::Error>(())
//!     })?;
//! }
//! assert_eq!(writes.len(), 3);
//! assert_eq!(writes[2], Write::xy(2, 1.0));
//! assert_eq!(writes[2].mode("y"), Some(Mode::Append));
//! assert_eq!(heartbeats, 1);
//! # Ok::<(), plotstream_protocol::Error>(())
//! ```
#![deny(missing_docs)]

mod ack;
mod attribute;
mod codec;
mod error;
mod event;
mod figure;
pub mod paths;
mod tape;
mod token;
mod words;
mod write;

pub use ack::{
    ACK_BYTES, ACK_HEADER, ACK_INTERVAL, Ack, MAX_STREAM_ID_LEN, RESUME_HEADER, Resume, ResumeError,
};
pub use attribute::{Attribute, Change, Field, Fields, MAX_PATH_DEPTH, PathTooDeep};
pub use codec::{Line, LineDecoder, encode_heartbeat, encode_line};
pub use error::{Error, ErrorChain};
pub use event::{FigureUpdate, StreamsEvent, TraceUpdate, ViewerEvent};
pub use figure::{DEFAULT_MAXPOINTS, Figure, StreamSpec, Trace};
pub use tape::{TapeLine, TapeRecord};
pub use token::{MAX_TOKEN_LEN, TokenError, check_token};
pub use words::{Plural, plural, plural_rate};
pub use write::{LineStyle, Marker, Mode, Scalar, Update, Write};

/// The HTTP header that carries a stream's token.
pub const TOKEN_HEADER: &str = "plotly-streamtoken";
