//! criterion benchmarks of every stage of plotstream; this library is
//! empty, the benchmarks are its bench targets.
//!
//! ```text
//! cargo bench -p plotstream-benches                  # all of them
//! cargo bench -p plotstream-benches --bench viewer   # simulations, encoding, client, viewer
//! ```
//!
//! The figures measured, with the machine, are in the README's Performance
//! section.
