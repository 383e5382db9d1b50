//! Graph's ISO 8601 timestamps (`2024-05-01T12:34:56.1234567Z`) to and from Unix seconds, without a date crate.

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` into Unix seconds; `None` for anything else.
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    let b = text.trim().as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().all(u8::is_ascii_digit).then(|| digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let sep = |at: usize, allowed: &[u8]| b.get(at).is_some_and(|c| allowed.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b"Tt ") && sep(13, b":") && sep(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut fraction = 0.0;
    if b.get(at) == Some(&b'.') {
        let digits = b.get(at + 1..)?.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let mut scale = 0.1;
        for d in b.get(at + 1..at + 1 + digits)? {
            fraction += f64::from(d - b'0') * scale;
            scale /= 10.0;
        }
        at += 1 + digits;
    }
    let offset = match b.get(at..)? {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), ..] if b.len() == at + 6 && sep(at + 3, b":") => {
            let minutes = num(at + 1, 2)? * 60 + num(at + 4, 2)?;
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset;
    Some(seconds as f64 + fraction)
}

/// Formats Unix seconds (whole seconds, rounded down) as `YYYY-MM-DDTHH:MM:SSZ`, the form `$filter` takes.
pub fn format_rfc3339(unix: f64) -> String {
    let secs = unix.floor() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rest / 3_600, rest % 3_600 / 60, rest % 60)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_graph_timestamps() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0.0)),
            ("2018-11-07T00:00:00Z", Some(1_541_548_800.0)),
            ("2024-02-29T12:00:00Z", Some(1_709_208_000.0)),
            ("2024-02-29T12:00:00.5Z", Some(1_709_208_000.5)),
            ("2018-01-09T21:20:02.7215374Z", Some(1_515_532_802.721_537_4)),
            ("2024-02-29T14:00:00+02:00", Some(1_709_208_000.0)),
            ("2024-02-29T11:30:00-00:30", Some(1_709_208_000.0)),
            ("2024-02-29", None),
            ("2024-13-01T00:00:00Z", None),
            ("2024-02-29T12:00:00", None),
            ("2024-02-29T12:00:00.Z", None),
            ("2024-02-29T12:00:00+0200", None),
            ("２０２４-02-29T12:00:00Z", None),
            ("", None),
        ];
        for (text, expected) in cases {
            match (parse_rfc3339(text), expected) {
                (Some(got), Some(want)) => assert!((got - want).abs() < 1e-3, "{text}: {got} != {want}"),
                (got, want) => assert_eq!(got, want, "{text}"),
            }
        }
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format_rfc3339(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(1_709_208_000.9), "2024-02-29T12:00:00Z");
        assert_eq!(format_rfc3339(-1.0), "1969-12-31T23:59:59Z");
        for t in [0.0, 951_782_400.0, 1_541_548_800.0, 4_102_444_799.0, 1_790_000_123.0] {
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
        }
    }
}
