//! The plotstream viewer's HTTP paths, in one place: the patterns its router
//! serves (axum's `{name}` captures) and builders for the paths a client
//! asks for.
//!
//! The Plotly streaming protocol itself has one path, `/`. The rest is the
//! viewer's own API, its pages, and the part of Chart Studio's v2 API that
//! Plotly's Python client calls.
//!
//! ```
//! use plotstream_protocol::paths;
//!
//! assert_eq!(paths::plot(7), "/plot/7");
//! assert_eq!(paths::plot_events(7), "/plot/7/events");
//! assert_eq!(paths::figure(7), "/api/figures/7");
//! assert_eq!(paths::stream("abc"), "/api/streams/abc");
//! assert_eq!(paths::TEMPORARY_FIGURES, "/api/figures?temporary=true");
//! ```

/// Where streams are posted, and the index page.
pub const ROOT: &str = "/";
/// A figure's live page.
pub const PLOT: &str = "/plot/{id}";
/// A figure's event stream (`snapshot`, then updates).
pub const PLOT_EVENTS: &str = "/plot/{id}/events";
/// The page's script, style sheet and icon.
pub const STATIC: &str = "/static/{file}";
/// The browser's icon request.
pub const FAVICON: &str = "/favicon.ico";
/// `POST` makes a figure, `GET` lists them.
pub const FIGURES: &str = "/api/figures";
/// `POST` makes a figure held in memory only.
pub const TEMPORARY_FIGURES: &str = "/api/figures?temporary=true";
/// `GET` one figure with its points, `DELETE` it.
pub const FIGURE: &str = "/api/figures/{id}";
/// `GET` a figure's points as a file (`data.csv`, `data.ndjson`).
pub const FIGURE_FILE: &str = "/api/figures/{id}/{file}";
/// `GET` the figures a stream token feeds.
pub const STREAM: &str = "/api/streams/{token}";
/// Prometheus metrics.
pub const METRICS: &str = "/metrics";

/// Chart Studio's v2 API, as Plotly's Python client calls it.
pub mod chart_studio {
    /// `GET ?path=…`: a file by its name.
    pub const LOOKUP: &str = "/v2/files/lookup";
    /// `POST` a plot.
    pub const PLOTS: &str = "/v2/plots";
    /// `PUT` a plot again.
    pub const PLOT: &str = "/v2/plots/{fid}";
    /// `POST` a grid.
    pub const GRIDS: &str = "/v2/grids";
    /// `DELETE` a grid.
    pub const GRID: &str = "/v2/grids/{fid}";
    /// A plot's page under its owner, as Chart Studio links it.
    pub const OWNER_PAGE: &str = "/{owner}/{file}";
}

/// Figure `id`'s live page.
pub fn plot(id: u64) -> String {
    format!("/plot/{id}")
}

/// Figure `id`'s event stream.
pub fn plot_events(id: u64) -> String {
    format!("/plot/{id}/events")
}

/// Figure `id` in the API.
pub fn figure(id: u64) -> String {
    format!("{FIGURES}/{id}")
}

/// Figure `id`'s points as `file` (`data.csv`, `data.ndjson`).
pub fn figure_file(id: u64, file: &str) -> String {
    format!("{FIGURES}/{id}/{file}")
}

/// The figures `token` feeds. The caller checks the token first
/// ([`check_token`](crate::check_token)), so it needs no escaping.
pub fn stream(token: &str) -> String {
    format!("/api/streams/{token}")
}

/// The figure id in a path of the viewer's pages or API (`/plot/7`,
/// `/plot/7/events`, `/api/figures/7`, …), if it is one.
///
/// ```
/// use plotstream_protocol::paths;
///
/// assert_eq!(paths::figure_id("/plot/7"), Some(7));
/// assert_eq!(paths::figure_id("/api/figures/7/data.csv"), Some(7));
/// assert_eq!(paths::figure_id("/"), None);
/// ```
pub fn figure_id(path: &str) -> Option<u64> {
    let rest = path
        .strip_prefix("/plot/")
        .or_else(|| path.strip_prefix("/api/figures/"))?;
    rest.split('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each builder fills its pattern's capture, and nothing else.
    #[test]
    fn builders_fill_their_patterns() {
        assert_eq!(plot(3), PLOT.replace("{id}", "3"));
        assert_eq!(plot_events(3), PLOT_EVENTS.replace("{id}", "3"));
        assert_eq!(figure(3), FIGURE.replace("{id}", "3"));
        assert_eq!(
            figure_file(3, "data.csv"),
            FIGURE_FILE
                .replace("{id}", "3")
                .replace("{file}", "data.csv")
        );
        assert_eq!(stream("t"), STREAM.replace("{token}", "t"));
        assert!(TEMPORARY_FIGURES.starts_with(FIGURES));
    }

    #[test]
    fn figure_id_reads_only_viewer_paths() {
        assert_eq!(figure_id(&plot_events(12)), Some(12));
        assert_eq!(figure_id(&figure(12)), Some(12));
        assert_eq!(figure_id("/plot/"), None);
        assert_eq!(figure_id("/plot/x"), None);
        assert_eq!(figure_id("/v2/plots/1"), None);
    }
}
