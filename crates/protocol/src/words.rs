//! [`plural`]: a count and its noun in the form the count takes, the one
//! way every plotstream message says how many.

use std::fmt;

/// `n` and the noun's form for it: `one` for exactly 1, else `many`
/// (`1 write`, `0 writes`, `2 writes`). Both forms are given, so that an
/// irregular noun reads right (`1 try`, `3 tries`).
///
/// ```
/// use plotstream_protocol::plural;
///
/// assert_eq!(plural(1, "write", "writes").to_string(), "1 write");
/// assert_eq!(plural(0, "write", "writes").to_string(), "0 writes");
/// assert_eq!(plural(3, "reconnect try", "reconnect tries").to_string(), "3 reconnect tries");
/// ```
pub fn plural<'a>(n: u64, one: &'a str, many: &'a str) -> Plural<'a> {
    Plural {
        n: Number::Count(n),
        one,
        many,
    }
}

/// A rate and its unit in the form the rate takes, as [`plural`]: `1
/// write/s`, `0.5 writes/s`, `20 writes/s`.
///
/// ```
/// use plotstream_protocol::plural_rate;
///
/// assert_eq!(plural_rate(1.0, "write/s", "writes/s").to_string(), "1 write/s");
/// assert_eq!(plural_rate(2.5, "write/s", "writes/s").to_string(), "2.5 writes/s");
/// ```
pub fn plural_rate<'a>(rate: f64, one: &'a str, many: &'a str) -> Plural<'a> {
    Plural {
        n: Number::Rate(rate),
        one,
        many,
    }
}

/// What [`plural`] and [`plural_rate`] make: shown as `n noun`.
#[derive(Clone, Copy, Debug)]
pub struct Plural<'a> {
    n: Number,
    one: &'a str,
    many: &'a str,
}

#[derive(Clone, Copy, Debug)]
enum Number {
    Count(u64),
    Rate(f64),
}

impl fmt::Display for Plural<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let noun = |is_one| if is_one { self.one } else { self.many };
        match self.n {
            Number::Count(n) => write!(f, "{n} {}", noun(n == 1)),
            Number::Rate(r) => write!(f, "{r} {}", noun(r == 1.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_is_singular_and_everything_else_plural() {
        for (n, want) in [
            (0, "0 figures"),
            (1, "1 figure"),
            (2, "2 figures"),
            (11, "11 figures"),
        ] {
            assert_eq!(plural(n, "figure", "figures").to_string(), want);
        }
        assert_eq!(
            plural_rate(0.0, "write/s", "writes/s").to_string(),
            "0 writes/s"
        );
        assert_eq!(
            plural_rate(1.5, "write/s", "writes/s").to_string(),
            "1.5 writes/s"
        );
    }
}
