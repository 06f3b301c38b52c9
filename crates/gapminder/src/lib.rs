//! Hans Rosling's Gapminder bubbles: 142 countries, 1952–2007, interpolated
//! between the data's five-year rows and animated for ever.
//!
//! - [`Dataset`]: the data, parsed from CSV and checked; [`Dataset::embedded`]
//!   is the copy this crate ships ([`EMBEDDED_CSV`], the workspace's
//!   `data/gapminder.csv`: Gapminder.org
//!   data under CC-BY via Jennifer Bryan's teaching dataset), compiled in.
//! - [`Dataset::frame_at`]: every country's GDP per capita, life expectancy
//!   and population at any time in 1952–2007. GDP per capita and population
//!   are interpolated log-linearly (they grow by rates), life expectancy
//!   linearly; at a row's year the values are the data's, exactly.
//! - [`Timeline`]: the never-ending iterator of years, 1952 → 2007 in steps
//!   of 0.1 year by default, then 1952 again.
//!
//! Pure: no clock, no I/O; a frame fills a buffer the caller keeps, so
//! animating allocates nothing.
//!
//! # Example
//!
//! ```
//! use plotstream_gapminder::{Dataset, Timeline};
//!
//! let data = Dataset::embedded()?;
//! assert_eq!(data.countries().len(), 142);
//!
//! let mut frame = Vec::new();
//! data.frame_at(1952.0, &mut frame);
//! let afghanistan = &frame[0];
//! assert_eq!(data.countries()[afghanistan.country].name, "Afghanistan");
//! assert_eq!(afghanistan.life_exp, 28.801); // the data's row, exactly
//!
//! // Half-way to 1957 the population has grown by the square root of the
//! // five-year factor.
//! data.frame_at(1954.5, &mut frame);
//! let geometric_mean = (8_425_333.0f64 * 9_240_934.0).sqrt();
//! assert!((frame[0].pop - geometric_mean).abs() < 1e-3);
//!
//! let years: Vec<f64> = Timeline::new(27.5)?.take(4).collect();
//! assert_eq!(years, [1952.0, 1979.5, 2007.0, 1952.0]);
//! # Ok::<(), plotstream_gapminder::Error>(())
//! ```
#![deny(missing_docs)]

use std::collections::HashMap;
use std::fmt;
use std::iter::FusedIterator;

use serde::Serialize;

/// The data's years: 1952, 1957, …, 2007.
pub const YEARS: [u16; 12] = [
    1952, 1957, 1962, 1967, 1972, 1977, 1982, 1987, 1992, 1997, 2002, 2007,
];
/// The first year.
pub const FIRST_YEAR: f64 = 1952.0;
/// The last year.
pub const LAST_YEAR: f64 = 2007.0;

/// The shipped data, compiled in: the CSV that [`Dataset::embedded`] parses
/// (this crate's copy of the workspace's `data/gapminder.csv`).
pub const EMBEDDED_CSV: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/gapminder.csv"));

/// What parsing the data or building a timeline can refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The CSV itself is malformed (quoting, field counts).
    #[error("gapminder csv, row {row}: {reason}")]
    Csv {
        /// The data row (1 is the first after the header).
        row: u64,
        /// The parser's words.
        reason: String,
    },
    /// The header lacks a column.
    #[error("gapminder csv: no column {0:?} in the header")]
    MissingColumn(&'static str),
    /// A field that does not parse, or is out of range.
    #[error("gapminder csv, row {row}, column {column}: {value:?} {reason}")]
    Field {
        /// The data row (1 is the first after the header).
        row: u64,
        /// The column's name.
        column: &'static str,
        /// What the field holds.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A country without exactly one row for each of the 12 years.
    #[error(
        "gapminder csv: country {country:?} has years {years:?}, not one row for each of 1952, 1957, …, 2007"
    )]
    Years {
        /// The country.
        country: String,
        /// The years it has.
        years: Vec<u16>,
    },
    /// A country listed under two continents.
    #[error("gapminder csv, row {row}: country {country:?} is in two continents")]
    Continent {
        /// The data row.
        row: u64,
        /// The country.
        country: String,
    },
    /// A timeline step that is not a positive finite number of years.
    #[error("the timeline step must be a positive number of years up to 55, got {0}")]
    Step(f64),
}

/// A continent, as the data names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Continent {
    /// Africa.
    Africa,
    /// The Americas.
    Americas,
    /// Asia.
    Asia,
    /// Europe.
    Europe,
    /// Oceania.
    Oceania,
}

impl Continent {
    /// The five continents.
    pub const ALL: [Continent; 5] = [
        Continent::Africa,
        Continent::Americas,
        Continent::Asia,
        Continent::Europe,
        Continent::Oceania,
    ];

    /// The name, as in the data.
    pub fn name(self) -> &'static str {
        match self {
            Continent::Africa => "Africa",
            Continent::Americas => "Americas",
            Continent::Asia => "Asia",
            Continent::Europe => "Europe",
            Continent::Oceania => "Oceania",
        }
    }

    fn parse(s: &str) -> Option<Continent> {
        Continent::ALL.into_iter().find(|c| c.name() == s)
    }
}

impl fmt::Display for Continent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One country's value for one of the data's years.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    /// Life expectancy at birth, years.
    pub life_exp: f64,
    /// Population.
    pub pop: f64,
    /// GDP per capita, US dollars.
    pub gdp_percap: f64,
}

/// A country and its 12 rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Country {
    /// Its name.
    pub name: String,
    /// Its continent.
    pub continent: Continent,
    /// Its rows, one per year of [`YEARS`], in order.
    pub rows: [Row; 12],
}

/// One country's values at one time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Values {
    /// Index into [`Dataset::countries`].
    pub country: usize,
    /// GDP per capita, US dollars.
    pub gdp_percap: f64,
    /// Life expectancy, years.
    pub life_exp: f64,
    /// Population.
    pub pop: f64,
}

/// The Gapminder data: every country with a row for each of the 12 years.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    countries: Vec<Country>,
    max_pop: f64,
}

/// A row as read, before the years are checked.
type YearRow = (u16, Row);

/// The columns the data must have.
const COLUMNS: [&str; 6] = [
    "country",
    "continent",
    "year",
    "lifeExp",
    "pop",
    "gdpPercap",
];

/// Where each of [`COLUMNS`] is in the header, in that order.
fn column_indices(headers: &csv::StringRecord) -> Result<[usize; 6], Error> {
    let mut index = [0usize; 6];
    for (slot, name) in index.iter_mut().zip(COLUMNS) {
        *slot = headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or(Error::MissingColumn(name))?;
    }
    Ok(index)
}

/// One data row (number `row`): its country, continent, year and values,
/// each checked; an error names the column.
fn parse_record(
    record: &csv::StringRecord,
    row: u64,
    [i_country, i_continent, i_year, i_life, i_pop, i_gdp]: [usize; 6],
) -> Result<(&str, Continent, YearRow), Error> {
    let field = |i: usize| record.get(i).unwrap_or("").trim();
    let bad = |column: &'static str, i: usize, reason: &'static str| Error::Field {
        row,
        column,
        value: field(i).to_owned(),
        reason,
    };
    let name = field(i_country);
    if name.is_empty() {
        return Err(bad("country", i_country, "is empty"));
    }
    let continent = Continent::parse(field(i_continent)).ok_or_else(|| {
        bad(
            "continent",
            i_continent,
            "is not one of Africa, Americas, Asia, Europe, Oceania",
        )
    })?;
    let year: u16 = field(i_year)
        .parse()
        .map_err(|_| bad("year", i_year, "is not a year"))?;
    let number = |column: &'static str, i: usize| -> Result<f64, Error> {
        match field(i).parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
            Ok(_) => Err(bad(column, i, "is not a positive finite number")),
            Err(_) => Err(bad(column, i, "is not a number")),
        }
    };
    let values = Row {
        life_exp: number("lifeExp", i_life)?,
        pop: number("pop", i_pop)?,
        gdp_percap: number("gdpPercap", i_gdp)?,
    };
    Ok((name, continent, (year, values)))
}

/// A country from its rows, which must be one for each of [`YEARS`].
fn country_of(
    name: String,
    continent: Continent,
    mut rows: Vec<YearRow>,
) -> Result<Country, Error> {
    rows.sort_by_key(|(year, _)| *year);
    let years: Vec<u16> = rows.iter().map(|(y, _)| *y).collect();
    if years != YEARS {
        return Err(Error::Years {
            country: name,
            years,
        });
    }
    Ok(Country {
        name,
        continent,
        rows: std::array::from_fn(|i| rows[i].1),
    })
}

impl Dataset {
    /// The data the project ships ([`EMBEDDED_CSV`], the workspace's
    /// `data/gapminder.csv`), parsed.
    pub fn embedded() -> Result<Dataset, Error> {
        Dataset::parse(EMBEDDED_CSV)
    }

    /// Parses CSV with the columns `country, continent, year, lifeExp, pop,
    /// gdpPercap` (in any order, others ignored). Every country needs one row
    /// for each of the 12 years; numbers must be positive and finite. An
    /// error names the row and the column.
    pub fn parse(csv_text: &str) -> Result<Dataset, Error> {
        let mut reader = csv::ReaderBuilder::new().from_reader(csv_text.as_bytes());
        let headers = reader.headers().map_err(|e| Error::Csv {
            row: 0,
            reason: e.to_string(),
        })?;
        let columns = column_indices(headers)?;

        // Each country's name, continent and rows, in the order of the file.
        let mut countries: Vec<(String, Continent, Vec<YearRow>)> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        for (n, record) in reader.records().enumerate() {
            let row = n as u64 + 1;
            let record = record.map_err(|e| Error::Csv {
                row,
                reason: e.to_string(),
            })?;
            let (name, continent, year_row) = parse_record(&record, row, columns)?;
            let slot = *by_name.entry(name.to_owned()).or_insert_with(|| {
                countries.push((name.to_owned(), continent, Vec::new()));
                countries.len() - 1
            });
            if countries[slot].1 != continent {
                return Err(Error::Continent {
                    row,
                    country: name.to_owned(),
                });
            }
            countries[slot].2.push(year_row);
        }

        let countries = countries
            .into_iter()
            .map(|(name, continent, rows)| country_of(name, continent, rows))
            .collect::<Result<Vec<_>, _>>()?;
        let max_pop = countries
            .iter()
            .flat_map(|c| c.rows.iter().map(|r| r.pop))
            .fold(0.0, f64::max);
        Ok(Dataset { countries, max_pop })
    }

    /// The countries, in the order of the file.
    pub fn countries(&self) -> &[Country] {
        &self.countries
    }

    /// The largest population in the data (for bubble sizes).
    pub fn max_pop(&self) -> f64 {
        self.max_pop
    }

    /// Fills `out` with every country's values at `year` (clamped to
    /// 1952–2007), in the order of [`Dataset::countries`]. `out` is cleared
    /// first and its buffer kept.
    pub fn frame_at(&self, year: f64, out: &mut Vec<Values>) {
        out.clear();
        let (segment, f) = segment(year);
        for (i, c) in self.countries.iter().enumerate() {
            let a = &c.rows[segment];
            let v = if f == 0.0 {
                *a
            } else {
                let b = &c.rows[segment + 1];
                Row {
                    life_exp: a.life_exp + f * (b.life_exp - a.life_exp),
                    pop: log_lerp(a.pop, b.pop, f),
                    gdp_percap: log_lerp(a.gdp_percap, b.gdp_percap, f),
                }
            };
            out.push(Values {
                country: i,
                gdp_percap: v.gdp_percap,
                life_exp: v.life_exp,
                pop: v.pop,
            });
        }
    }
}

/// The row before `year` and how far past it `year` is (0 at a row's year).
fn segment(year: f64) -> (usize, f64) {
    let year = if year.is_nan() {
        FIRST_YEAR
    } else {
        year.clamp(FIRST_YEAR, LAST_YEAR)
    };
    let offset = (year - FIRST_YEAR) / 5.0;
    let segment = (offset.floor() as usize).min(YEARS.len() - 1);
    let f = offset - segment as f64;
    if segment == YEARS.len() - 1 || f <= 0.0 {
        (segment, 0.0)
    } else {
        (segment, f)
    }
}

/// Interpolates between `a` and `b` on a log scale: constant growth rate.
fn log_lerp(a: f64, b: f64, f: f64) -> f64 {
    a * (b / a).powf(f)
}

/// The never-ending years of the animation: 1952, 1952 + step, … up to 2007,
/// then 1952 again. Years are counted in steps from 1952, not summed, so
/// they do not drift.
#[derive(Clone, Debug)]
pub struct Timeline {
    step: f64,
    k: u64,
}

impl Timeline {
    /// A timeline with `step` years between frames (0.1 in the demo).
    pub fn new(step: f64) -> Result<Timeline, Error> {
        if !(step.is_finite() && step > 0.0 && step <= LAST_YEAR - FIRST_YEAR) {
            return Err(Error::Step(step));
        }
        Ok(Timeline { step, k: 0 })
    }
}

impl Iterator for Timeline {
    type Item = f64;

    fn next(&mut self) -> Option<f64> {
        let mut year = FIRST_YEAR + self.k as f64 * self.step;
        // A hair of slack so that 1952 + 550 × 0.1 is 2007, not past it.
        if year > LAST_YEAR + 1e-9 {
            self.k = 0;
            year = FIRST_YEAR;
        }
        self.k += 1;
        Some(year.min(LAST_YEAR))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl FusedIterator for Timeline {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_exact_at_the_years() {
        assert_eq!(segment(1952.0), (0, 0.0));
        assert_eq!(segment(1957.0), (1, 0.0));
        assert_eq!(segment(2007.0), (11, 0.0));
        assert_eq!(segment(2100.0), (11, 0.0));
        assert_eq!(segment(1900.0), (0, 0.0));
        let (s, f) = segment(1954.5);
        assert_eq!(s, 0);
        assert!((f - 0.5).abs() < 1e-12);
    }

    #[test]
    fn the_timeline_runs_to_2007_and_starts_again() {
        let years: Vec<f64> = Timeline::new(0.1).expect("valid").take(553).collect();
        assert_eq!(years[0], 1952.0);
        assert!((years[550] - 2007.0).abs() < 1e-9, "{}", years[550]);
        assert_eq!(years[551], 1952.0);
        assert!((years[552] - 1952.1).abs() < 1e-9);
        assert_eq!(Timeline::new(0.0).map(|_| ()), Err(Error::Step(0.0)));
        assert!(Timeline::new(f64::NAN).is_err());
    }

    const HEADER: &str = "country,continent,year,lifeExp,pop,gdpPercap\n";

    fn twelve(country: &str, continent: &str) -> String {
        YEARS
            .iter()
            .map(|y| format!("{country},{continent},{y},50,1000,500\n"))
            .collect()
    }

    #[test]
    fn a_malformed_file_names_the_row_and_the_column() {
        let mut text = format!("{HEADER}{}", twelve("A", "Asia"));
        text = text.replacen("50,1000,500", "50,abc,500", 1);
        let err = Dataset::parse(&text).expect_err("bad pop");
        assert_eq!(
            err.to_string(),
            "gapminder csv, row 1, column pop: \"abc\" is not a number"
        );

        let text = format!("{HEADER}{}", twelve("A", "Atlantis"));
        let err = Dataset::parse(&text).expect_err("bad continent");
        assert!(
            matches!(
                err,
                Error::Field {
                    row: 1,
                    column: "continent",
                    ..
                }
            ),
            "{err}"
        );

        let text =
            format!("{HEADER}{}", twelve("A", "Asia")).replacen("50,1000,500", "-1,1000,500", 1);
        let err = Dataset::parse(&text).expect_err("negative");
        assert_eq!(
            err.to_string(),
            "gapminder csv, row 1, column lifeExp: \"-1\" is not a positive finite number"
        );

        let err = Dataset::parse("country,year\nA,1952\n").expect_err("columns");
        assert_eq!(err, Error::MissingColumn("continent"));

        let text = format!("{HEADER}{}", twelve("A", "Asia")).replace(",1957,", ",1958,");
        let err = Dataset::parse(&text).expect_err("years");
        assert!(
            matches!(err, Error::Years { ref country, .. } if country == "A"),
            "{err}"
        );

        let text = format!("{HEADER}{}{}", twelve("A", "Asia"), "A,Europe,2007,1,1,1\n");
        assert!(matches!(
            Dataset::parse(&text),
            Err(Error::Continent { row: 13, .. })
        ));

        let text = format!("{HEADER}A,Asia,1952\n");
        assert!(matches!(
            Dataset::parse(&text),
            Err(Error::Csv { row: 1, .. })
        ));
    }

    #[test]
    fn quoted_names_with_commas_parse() {
        let text = format!("{HEADER}{}", twelve("\"Korea, Rep.\"", "Asia"));
        let data = Dataset::parse(&text).expect("valid");
        assert_eq!(data.countries()[0].name, "Korea, Rep.");
    }
}
