//! The shipped data, through the interpolation and the animation.

use plotstream_gapminder::{Continent, Dataset, LAST_YEAR, Timeline, Values, YEARS};

/// The CSV read naively, row by row, to compare against.
fn csv_rows() -> Vec<(String, u16, f64, f64, f64)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/gapminder.csv"))
        .expect("the data file");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| {
            let r = r.expect("a record");
            let num = |i: usize| r[i].parse::<f64>().expect("a number");
            (
                r[0].to_owned(),
                r[2].parse().expect("a year"),
                num(3),
                num(4),
                num(5),
            )
        })
        .collect()
}

#[test]
fn the_shipped_data_is_142_countries_over_12_years() {
    let data = Dataset::embedded().expect("parses");
    assert_eq!(data.countries().len(), 142);
    let count = |c: Continent| data.countries().iter().filter(|x| x.continent == c).count();
    assert_eq!(
        Continent::ALL.map(count),
        [52, 25, 33, 30, 2],
        "Africa, Americas, Asia, Europe, Oceania"
    );
    assert_eq!(csv_rows().len(), 1704);
}

/// At each of the 12 years every country's three values are the CSV's, to the bit.
#[test]
fn at_each_year_the_values_are_the_csvs_exactly() {
    let data = Dataset::embedded().expect("parses");
    let mut frame = Vec::new();
    let rows = csv_rows();
    for year in YEARS {
        data.frame_at(f64::from(year), &mut frame);
        assert_eq!(frame.len(), 142);
        for v in &frame {
            let name = &data.countries()[v.country].name;
            let (_, _, life, pop, gdp) = rows
                .iter()
                .find(|(n, y, ..)| n == name && *y == year)
                .expect("a row");
            assert_eq!(
                (v.life_exp, v.pop, v.gdp_percap),
                (*life, *pop, *gdp),
                "{name} {year}"
            );
        }
    }
}

/// Between two years every value lies between its neighbouring rows
/// (interpolation never overshoots), and moves monotonically from one to the
/// other.
#[test]
fn between_years_each_value_lies_between_its_neighbours() {
    let data = Dataset::embedded().expect("parses");
    let mut frame = Vec::new();
    let mut previous: Vec<Values> = Vec::new();
    for pair in YEARS.windows(2) {
        let (y0, y1) = (f64::from(pair[0]), f64::from(pair[1]));
        previous.clear();
        for tenth in 0..=50 {
            let year = y0 + f64::from(tenth) * 0.1;
            data.frame_at(year.min(y1), &mut frame);
            for (i, v) in frame.iter().enumerate() {
                let c = &data.countries()[v.country];
                let at =
                    |year: u16| &c.rows[YEARS.iter().position(|y| *y == year).expect("a year")];
                let (a, b) = (at(pair[0]), at(pair[1]));
                for (value, lo, hi, what) in [
                    (v.life_exp, a.life_exp, b.life_exp, "lifeExp"),
                    (v.pop, a.pop, b.pop, "pop"),
                    (v.gdp_percap, a.gdp_percap, b.gdp_percap, "gdpPercap"),
                ] {
                    let (lo, hi) = (lo.min(hi), lo.max(hi));
                    // Rounding may put an endpoint a few ulps outside.
                    let slack = hi * 1e-12;
                    assert!(
                        value >= lo - slack && value <= hi + slack,
                        "{} {what} {value} at {year} not in [{lo}, {hi}]",
                        c.name
                    );
                }
                if let Some(p) = previous.get(i) {
                    // Each step goes the way from a to b, never back.
                    assert!(
                        (v.pop - p.pop) * (b.pop - a.pop) >= 0.0,
                        "{} pop turns back at {year}",
                        c.name
                    );
                    assert!(
                        (v.life_exp - p.life_exp) * (b.life_exp - a.life_exp) >= 0.0,
                        "{} lifeExp turns back",
                        c.name
                    );
                }
            }
            previous.clone_from(&frame);
        }
    }
}

/// After 2007 the animation starts again at 1952, frame for frame.
#[test]
fn after_2007_the_animation_starts_again() {
    let years: Vec<f64> = Timeline::new(0.1)
        .expect("valid")
        .take(551 * 2 + 1)
        .collect();
    assert_eq!(years[0], 1952.0);
    assert!((years[550] - LAST_YEAR).abs() < 1e-9);
    assert_eq!(
        &years[551..1102],
        &years[..551],
        "the second pass is the first"
    );
    assert_eq!(years[1102], 1952.0);
}
