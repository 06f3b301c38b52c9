//! plotly.js, vendored for plotstream and compiled in, so that nothing is
//! fetched from the network at run time.
//!
//! Two bundles of plotly.js [`VERSION`], each as it is and gzipped ahead of
//! time (for a server to send to a browser that accepts gzip):
//! - [`FULL`]: every trace type (4.9 MB; 1.5 MB gzipped);
//! - [`BASIC`]: only [`BASIC_TRACE_TYPES`] (1.1 MB; 0.4 MB gzipped). A
//!   browser evaluates it in a quarter of the time, which is most of the
//!   time to a page's first plot.
//!
//! [`Bundle::for_types`] picks the smaller bundle that draws a figure's
//! trace types.
//!
//! # Example
//!
//! ```
//! use plotstream_plotly::Bundle;
//!
//! let bundle = Bundle::for_types(["scatter", "bar"]);
//! assert_eq!(bundle, Bundle::Basic);
//! assert!(bundle.js().starts_with("/**\n* plotly.js (basic - minified) v3.7.0"));
//! assert_eq!(&bundle.gzip()[..2], b"\x1f\x8b", "gzip's magic");
//! assert_eq!(Bundle::for_types(["scatter", "heatmap"]), Bundle::Full);
//! ```
#![deny(missing_docs)]

/// The plotly.js version of both bundles.
pub const VERSION: &str = "3.7.0";

/// The full bundle (`plotly.js-dist-min`, MIT).
pub static FULL: &str = include_str!("../assets/plotly.min.js");
/// [`FULL`], gzipped.
pub static FULL_GZIP: &[u8] = include_bytes!("../assets/plotly.min.js.gz");
/// The basic bundle (`plotly.js-basic-dist-min`, MIT).
pub static BASIC: &str = include_str!("../assets/plotly-basic.min.js");
/// [`BASIC`], gzipped.
pub static BASIC_GZIP: &[u8] = include_bytes!("../assets/plotly-basic.min.js.gz");

/// The trace types the basic bundle draws (a trace without a type is a
/// scatter, as in Plotly).
pub const BASIC_TRACE_TYPES: [&str; 3] = ["scatter", "bar", "pie"];

/// A plotly.js bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Bundle {
    /// Every trace type.
    Full,
    /// [`BASIC_TRACE_TYPES`] only.
    Basic,
}

impl Bundle {
    /// The smallest bundle that draws all of `types`.
    pub fn for_types<'a>(types: impl IntoIterator<Item = &'a str>) -> Bundle {
        if types.into_iter().all(|t| BASIC_TRACE_TYPES.contains(&t)) {
            Bundle::Basic
        } else {
            Bundle::Full
        }
    }

    /// The script.
    pub fn js(self) -> &'static str {
        match self {
            Bundle::Full => FULL,
            Bundle::Basic => BASIC,
        }
    }

    /// The script, gzipped.
    pub fn gzip(self) -> &'static [u8] {
        match self {
            Bundle::Full => FULL_GZIP,
            Bundle::Basic => BASIC_GZIP,
        }
    }

    /// Its file name, with the version in it (`plotly-basic-3.7.0.min.js`):
    /// a URL that names it never changes content, so it may be cached for
    /// good.
    pub fn file_name(self) -> String {
        match self {
            Bundle::Full => format!("plotly-{VERSION}.min.js"),
            Bundle::Basic => format!("plotly-basic-{VERSION}.min.js"),
        }
    }

    /// `"full"` or `"basic"`.
    pub fn name(self) -> &'static str {
        match self {
            Bundle::Full => "full",
            Bundle::Basic => "basic",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn each_gzipped_bundle_unpacks_to_its_bundle() {
        for bundle in [Bundle::Full, Bundle::Basic] {
            let mut unpacked = Vec::new();
            flate2::read::GzDecoder::new(bundle.gzip())
                .read_to_end(&mut unpacked)
                .expect("gzip");
            assert!(
                unpacked == bundle.js().as_bytes(),
                "{bundle:?}: the .gz is stale"
            );
            let head = &bundle.js()[..200];
            assert!(head.contains(&format!("v{VERSION}")), "{head}");
        }
    }

    #[test]
    fn a_type_outside_the_basic_bundle_needs_the_full_one() {
        assert_eq!(Bundle::for_types([]), Bundle::Basic);
        assert_eq!(Bundle::for_types(["pie", "scatter"]), Bundle::Basic);
        for other in ["scattergl", "scatter3d", "heatmap", "Scatter"] {
            assert_eq!(
                Bundle::for_types(["scatter", other]),
                Bundle::Full,
                "{other}"
            );
        }
        assert_eq!(Bundle::Basic.file_name(), "plotly-basic-3.7.0.min.js");
    }
}
