//! The `gapminder` demo.

use std::sync::Arc;
use std::time::Duration;

use plotstream_gapminder::{Continent, Dataset, Timeline, Values};
use plotstream_protocol::{Figure, Marker, StreamSpec, Trace, Update, Write, encode_line};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::{Clock, Demo, Error, Frame, TokenWrite};

/// Years of data per frame.
const STEP: f64 = 0.1;
/// Simulated time per frame: 55 years of data in 55 s.
const PERIOD: Duration = Duration::from_millis(100);

/// The continents in the order of their traces, with the seed's colours.
const TRACES: [(Continent, &str); 5] = [
    (Continent::Asia, "#1f77b4"),
    (Continent::Europe, "#ff7f0e"),
    (Continent::Africa, "#2ca02c"),
    (Continent::Americas, "#d62728"),
    (Continent::Oceania, "#9467bd"),
];

/// The x axis: log scale (the default), or the seed's linear one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XAxis {
    /// GDP per capita on a log scale, about 200 to 60,000 dollars.
    #[default]
    Log,
    /// GDP per capita on a linear scale, 0 to 60,000 dollars.
    Linear,
}

/// Hans Rosling's bubbles: one trace per continent, x = GDP per capita,
/// y = life expectancy, bubble area ∝ population (marker size
/// `sqrt(pop / sizeref)`, `sizeref = max pop / 100²`), hover text = country,
/// a "Year: N" annotation; every frame (0.1 year of data) overwrites each
/// trace's x, y and sizes, 1952 → 2007, then again.
#[derive(Debug)]
pub struct GapminderDemo {
    /// The data, shared by every stream of a load test (it is the same).
    data: Arc<Dataset>,
    timeline: Timeline,
    axis: XAxis,
    tokens: Vec<String>,
    /// For each trace, the indices of its countries, in file order.
    members: Vec<Vec<usize>>,
    sizeref: f64,
    index: u64,
    year: f64,
    values: Vec<Values>,
}

impl GapminderDemo {
    /// The demo over the shipped data, with tokens `<prefix>-asia`,
    /// `<prefix>-europe`, `<prefix>-africa`, `<prefix>-americas`,
    /// `<prefix>-oceania`.
    pub fn new(prefix: &str, axis: XAxis) -> Result<Self, Error> {
        Self::with_data(prefix, axis, Arc::new(Dataset::embedded()?))
    }

    /// The same demo over `data`, which other demos share: many streams
    /// of it parse and keep the data once.
    pub fn with_data(prefix: &str, axis: XAxis, data: Arc<Dataset>) -> Result<Self, Error> {
        let members = TRACES
            .iter()
            .map(|(continent, _)| {
                data.countries()
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.continent == *continent)
                    .map(|(i, _)| i)
                    .collect()
            })
            .collect();
        Ok(GapminderDemo {
            sizeref: data.max_pop() / 100.0_f64.powi(2),
            tokens: TRACES
                .iter()
                .map(|(c, _)| format!("{prefix}-{}", c.name().to_lowercase()))
                .collect(),
            members,
            timeline: Timeline::new(STEP)?,
            values: Vec::with_capacity(data.countries().len()),
            data,
            axis,
            index: 0,
            year: plotstream_gapminder::FIRST_YEAR,
        })
    }

    fn annotation(year: f64) -> Value {
        json!([{
            "text": format!("Year: {}", year.floor()),
            "xref": "paper", "yref": "paper", "x": 0.98, "y": 0.04,
            "xanchor": "right", "yanchor": "bottom", "showarrow": false,
            "font": {"size": 40, "color": "#bbbbbb"}
        }])
    }
}

impl Demo for GapminderDemo {
    fn name(&self) -> &'static str {
        "gapminder"
    }

    fn tokens(&self) -> &[String] {
        &self.tokens
    }

    fn figure(&self) -> Figure {
        let data = TRACES
            .iter()
            .zip(&self.tokens)
            .zip(&self.members)
            .map(|(((continent, colour), token), members)| {
                let names: Vec<&str> = members.iter().map(|&i| self.data.countries()[i].name.as_str()).collect();
                let mut t = Trace::streamed("scatter", StreamSpec::new(token.as_str(), 200))
                    .with("mode", json!("markers"))
                    .with("text", json!(names))
                    .with("hovertemplate", json!("%{text}<br>GDP per capita %{x:$,.0f}<br>life expectancy %{y:.1f}<extra></extra>"))
                    .with("marker", json!({"color": colour, "opacity": 0.8, "line": {"width": 0.5, "color": "white"}}))
                    .with("x", json!([]))
                    .with("y", json!([]));
                t.name = Some(continent.name().to_owned());
                t
            })
            .collect();
        let xaxis = match self.axis {
            XAxis::Log => {
                json!({"type": "log", "range": [200f64.log10(), 60_000f64.log10()], "title": {"text": "GDP per capita (US$, log scale)"}})
            }
            XAxis::Linear => {
                json!({"range": [0, 60_000], "title": {"text": "GDP per capita (US$)"}})
            }
        };
        let layout = json!({
            "title": {"text": "Life expectancy and wealth, 1952–2007"},
            "xaxis": xaxis,
            "yaxis": {"range": [20, 90], "title": {"text": "life expectancy (years)"}},
            "annotations": GapminderDemo::annotation(plotstream_gapminder::FIRST_YEAR),
            "hovermode": "closest",
            "font": {"size": 13},
        });
        Figure {
            data,
            layout: layout.as_object().cloned(),
            extra: {
                let mut m = Map::new();
                m.insert(
                    "credit".into(),
                    json!(
                        "Data: Gapminder.org, via the gapminder teaching dataset by Jennifer Bryan"
                    ),
                );
                m
            },
        }
    }

    fn period(&self) -> Duration {
        PERIOD
    }

    fn next_frame(&mut self, _clock: Clock, frame: &mut Frame) {
        let Some(year) = self.timeline.next() else {
            unreachable!("the timeline never ends")
        };
        self.year = year;
        self.data.frame_at(year, &mut self.values);
        frame.start(self.index, PERIOD);
        self.index += 1;
        for (token, members) in self.members.iter().enumerate() {
            let pick = |f: fn(&Values) -> f64| {
                Update::overwrite(members.iter().map(|&i| f(&self.values[i])))
            };
            let sizeref = self.sizeref;
            let write = Write {
                x: Some(pick(|v| v.gdp_percap)),
                y: Some(pick(|v| v.life_exp)),
                marker: Some(Box::new(Marker {
                    size: Some(Update::overwrite(
                        members
                            .iter()
                            .map(|&i| (self.values[i].pop / sizeref).sqrt()),
                    )),
                    ..Marker::default()
                })),
                layout: (token == 0).then(|| {
                    let mut m = Map::new();
                    m.insert("annotations".into(), GapminderDemo::annotation(year));
                    Box::new(m)
                }),
                ..Write::default()
            };
            frame.writes.push(TokenWrite { token, write });
        }
    }

    fn write_samples(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        #[derive(Serialize)]
        struct Sample<'a> {
            year: f64,
            country: &'a str,
            continent: &'static str,
            #[serde(rename = "gdpPercap")]
            gdp_percap: f64,
            #[serde(rename = "lifeExp")]
            life_exp: f64,
            pop: f64,
        }
        if self.index == 0 {
            return Ok(());
        }
        for v in &self.values {
            let c = &self.data.countries()[v.country];
            let sample = Sample {
                year: (self.year * 10.0).round() / 10.0,
                country: &c.name,
                continent: c.continent.name(),
                gdp_percap: v.gdp_percap,
                life_exp: v.life_exp,
                pop: v.pop,
            };
            encode_line(&sample, out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotstream_protocol::Mode;

    #[test]
    fn one_trace_per_continent_with_the_seeds_colours() {
        let demo = GapminderDemo::new("g", XAxis::Log).expect("valid");
        assert_eq!(
            demo.tokens(),
            ["g-asia", "g-europe", "g-africa", "g-americas", "g-oceania"]
        );
        let fig = serde_json::to_value(demo.figure()).expect("serialises");
        let colours: Vec<&str> = (0..5)
            .map(|i| {
                fig["data"][i]["marker"]["color"]
                    .as_str()
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            colours,
            ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
        );
        assert_eq!(fig["data"][0]["name"], "Asia");
        assert_eq!(fig["data"][4]["text"], json!(["Australia", "New Zealand"]));
        assert_eq!(fig["layout"]["xaxis"]["type"], "log");
        assert_eq!(fig["layout"]["yaxis"]["range"], json!([20, 90]));
        let linear = serde_json::to_value(
            GapminderDemo::new("g", XAxis::Linear)
                .expect("valid")
                .figure(),
        )
        .expect("serialises");
        assert_eq!(linear["layout"]["xaxis"]["range"], json!([0, 60_000]));
    }

    #[test]
    fn each_frame_overwrites_each_trace_and_moves_the_year() {
        let mut demo = GapminderDemo::new("g", XAxis::Log).expect("valid");
        let mut frame = Frame::default();
        demo.next_frame(Clock::Simulated, &mut frame);
        assert_eq!(frame.writes.len(), 5);
        let oceania = &frame.writes[4].write;
        assert_eq!(oceania.mode("x"), Some(Mode::Overwrite));
        assert_eq!(oceania.mode("marker.size"), Some(Mode::Overwrite));
        // Australia, 1952: GDP per capita 10039.59564, life expectancy 69.12.
        let Some(Update::Overwrite(x)) = &oceania.x else {
            panic!("x overwrites")
        };
        assert_eq!(x[0], json!(10039.59564));
        let Some(Update::Overwrite(y)) = &oceania.y else {
            panic!("y overwrites")
        };
        assert_eq!(y[0], json!(69.12));
        let layout = frame.writes[0]
            .write
            .layout
            .as_ref()
            .expect("the first write carries the year");
        assert_eq!(layout["annotations"][0]["text"], "Year: 1952");
        assert!(frame.writes[1].write.layout.is_none());
        // The largest population (China, 2007) is a bubble 100 wide.
        for _ in 0..550 {
            demo.next_frame(Clock::Simulated, &mut frame);
        }
        let Some(Update::Overwrite(sizes)) = frame.writes[0]
            .write
            .marker
            .as_ref()
            .and_then(|m| m.size.clone())
        else {
            panic!("sizes overwrite")
        };
        let biggest = sizes.iter().filter_map(Value::as_f64).fold(0.0, f64::max);
        assert!((biggest - 100.0).abs() < 1e-9, "{biggest}");
        assert_eq!(
            frame.writes[0]
                .write
                .layout
                .as_ref()
                .map(|l| l["annotations"][0]["text"].clone()),
            Some(json!("Year: 2007"))
        );
    }

    #[test]
    fn samples_are_one_line_per_country() {
        let mut demo = GapminderDemo::new("g", XAxis::Log).expect("valid");
        demo.next_frame(Clock::Simulated, &mut Frame::default());
        let mut out = Vec::new();
        demo.write_samples(&mut out).expect("encodes");
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(text.lines().count(), 142);
        assert_eq!(
            text.lines().next(),
            Some(
                r#"{"year":1952.0,"country":"Afghanistan","continent":"Asia","gdpPercap":779.4453145,"lifeExp":28.801,"pop":8425333.0}"#
            )
        );
    }
}
