//! Durations in Prometheus' syntax (`30s`, `5m`, `1h30m`, `1d`), as every Prometheus-world config file writes them.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer};

/// A duration written in Prometheus' syntax: units `y w d h m s ms`, largest first, each at most once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PromDuration(pub Duration);

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
];

impl PromDuration {
    pub fn from_secs(secs: u64) -> Self {
        PromDuration(Duration::from_secs(secs))
    }

    /// Parses `1h30m`-style text; `0` alone is allowed, as in Prometheus.
    ///
    /// # Errors
    /// A message saying what is wrong, for the config error that names file and line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("invalid duration {text:?} (use Prometheus syntax such as 30s, 5m, 1h30m)");
        if text == "0" {
            return Ok(PromDuration(Duration::ZERO));
        }
        if text.is_empty() {
            return Err(bad());
        }
        let mut rest = text;
        let mut millis: u64 = 0;
        // Index of the smallest unit already used: units must come largest first, each once.
        let mut next_unit = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let (number, tail) = rest.split_at(digits);
            let number: u64 = number.parse().map_err(|_| bad())?;
            let unit_len = tail.bytes().take_while(u8::is_ascii_alphabetic).count();
            let (unit, tail) = tail.split_at(unit_len);
            let (index, (_, factor)) =
                UNITS.iter().enumerate().skip(next_unit).find(|(_, (name, _))| *name == unit).ok_or_else(bad)?;
            next_unit = index + 1;
            millis = number.checked_mul(*factor).and_then(|m| millis.checked_add(m)).ok_or_else(bad)?;
            rest = tail;
        }
        Ok(PromDuration(Duration::from_millis(millis)))
    }
}

impl fmt::Display for PromDuration {
    /// Writes the canonical Prometheus form (`1h30m`), used in HELP texts and reports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut millis = u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX);
        if millis == 0 {
            return f.write_str("0s");
        }
        for (name, factor) in UNITS {
            if millis >= factor {
                write!(f, "{}{name}", millis / factor)?;
                millis %= factor;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for PromDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PromDuration::parse(&text).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_durations() {
        let cases = [
            ("0", 0),
            ("30s", 30_000),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("1d", 86_400_000),
            ("1w", 604_800_000),
            ("1y", 31_536_000_000),
            ("100ms", 100),
            ("1m500ms", 60_500),
        ];
        for (text, millis) in cases {
            assert_eq!(PromDuration::parse(text), Ok(PromDuration(Duration::from_millis(millis))), "{text}");
        }
    }

    #[test]
    fn rejects_malformed_durations() {
        for text in ["", "5", "m", "5x", "1m1h", "1h1h", "-5m", "5 m", "1.5h", "99999999999999999999s", "5mm"] {
            assert!(PromDuration::parse(text).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn displays_canonically() {
        for (text, shown) in [("90s", "1m30s"), ("5m", "5m"), ("0", "0s"), ("1d2h", "1d2h")] {
            assert_eq!(PromDuration::parse(text).map(|d| d.to_string()), Ok(shown.to_string()));
        }
    }
}
