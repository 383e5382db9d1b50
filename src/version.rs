//! Entra Connect version numbers: four dotted integers, compared numerically (never as strings).

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnectVersion(pub [u32; 4]);

impl FromStr for ConnectVersion {
    type Err = String;

    /// Accepts `a.b.c.d`; missing trailing parts (`2.5`) count as 0, as Windows' version comparison does.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("invalid version {text:?} (expected four dotted numbers such as 2.5.79.0)");
        let mut parts = [0u32; 4];
        let mut count = 0;
        for piece in text.trim().split('.') {
            let slot = parts.get_mut(count).ok_or_else(bad)?;
            if piece.is_empty() || !piece.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            *slot = piece.parse().map_err(|_| bad())?;
            count += 1;
        }
        if count < 2 {
            return Err(bad());
        }
        Ok(ConnectVersion(parts))
    }
}

impl fmt::Display for ConnectVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

impl<'de> Deserialize<'de> for ConnectVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_numerically() {
        let v = |s: &str| s.parse::<ConnectVersion>().unwrap();
        assert!(v("2.5.79.0") > v("2.4.131.0"));
        assert!(v("2.10.0.0") > v("2.9.99.0"));
        assert!(v("1.0.8641.0") < v("1.0.8667.0"));
        assert_eq!(v("2.5"), v("2.5.0.0"));
    }

    #[test]
    fn rejects_garbage() {
        for text in ["", "2", "2..1.0", "a.b.c.d", "1.2.3.4.5", "1.-2.3.4", "99999999999.0.0.0"] {
            assert!(text.parse::<ConnectVersion>().is_err(), "{text:?}");
        }
    }
}
