//! Wall-clock time as metrics and checks state it.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix seconds now (0 on a clock before 1970, which only a broken host has).
pub fn unix_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}
