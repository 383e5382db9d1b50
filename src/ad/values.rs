//! Decoding AD's attribute encodings: large-integer intervals, FILETIMEs, DNs to DNS names.

/// 100-nanosecond intervals per second (AD's time unit).
const TICKS_PER_SECOND: f64 = 10_000_000.0;
/// FILETIME of the Unix epoch (1970-01-01) in 100 ns ticks since 1601-01-01.
const UNIX_EPOCH_FILETIME: i64 = 116_444_736_000_000_000;

/// An interval attribute (`minPwdAge`, `maxPwdAge`, `lockoutDuration`) as positive seconds.
/// AD stores them as a negative count of 100 ns ticks; `i64::MIN` means "never", which becomes `+Inf`.
pub fn interval_seconds(raw: i64) -> f64 {
    if raw == i64::MIN {
        return f64::INFINITY;
    }
    // i128 so that negating any i64 is exact; the division is exact for every whole number of seconds.
    (-(raw as i128)).unsigned_abs() as f64 / TICKS_PER_SECOND
}

/// `maxPwdAge`: `i64::MIN` and `0` both mean "passwords never expire".
pub fn max_age_seconds(raw: i64) -> f64 {
    if raw == 0 {
        f64::INFINITY
    } else {
        interval_seconds(raw)
    }
}

/// A FILETIME attribute as Unix seconds; `0` and `i64::MAX` ("never") give `None`.
pub fn filetime_to_unix(raw: i64) -> Option<f64> {
    if raw <= 0 || raw == i64::MAX {
        return None;
    }
    Some((raw - UNIX_EPOCH_FILETIME) as f64 / TICKS_PER_SECOND)
}

/// `DC=corp,DC=example,DC=test` → `corp.example.test` (the `domain` label: lower case).
pub fn dn_to_dns_name(dn: &str) -> Option<String> {
    let labels: Vec<String> = dn
        .split(',')
        .filter_map(|rdn| {
            let (attr, value) = rdn.trim().split_once('=')?;
            attr.trim().eq_ignore_ascii_case("dc").then(|| value.trim().to_ascii_lowercase())
        })
        .collect();
    (!labels.is_empty()).then(|| labels.join("."))
}

/// Human form of a duration in seconds, for check reports (`1 day`, `0 seconds`, `never`).
pub fn describe_seconds(secs: f64) -> String {
    if secs.is_infinite() {
        return "never".to_string();
    }
    let plural = |n: f64, unit: &str| if n == 1.0 { format!("1 {unit}") } else { format!("{n} {unit}s") };
    if secs >= 86_400.0 && secs % 86_400.0 == 0.0 {
        plural(secs / 86_400.0, "day")
    } else if secs >= 3_600.0 && secs % 3_600.0 == 0.0 {
        plural(secs / 3_600.0, "hour")
    } else if secs >= 60.0 && secs % 60.0 == 0.0 {
        plural(secs / 60.0, "minute")
    } else {
        plural(secs, "second")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_convert_exactly() {
        let cases = [
            (-864_000_000_000, 86_400.0),
            (0, 0.0),
            (-36_288_000_000_000, 3_628_800.0), // 42 days
            (-18_000_000_000, 1_800.0),
            (-1, 0.000_000_1),
        ];
        for (raw, secs) in cases {
            assert_eq!(interval_seconds(raw), secs, "{raw}");
        }
        assert_eq!(interval_seconds(i64::MIN), f64::INFINITY);
        assert_eq!(max_age_seconds(i64::MIN), f64::INFINITY);
        assert_eq!(max_age_seconds(0), f64::INFINITY);
        assert_eq!(max_age_seconds(-36_288_000_000_000), 3_628_800.0);
    }

    #[test]
    fn filetimes_convert_to_unix_seconds() {
        assert_eq!(filetime_to_unix(UNIX_EPOCH_FILETIME + 10_000_000), Some(1.0));
        // 2024-01-01T00:00:00Z
        assert_eq!(filetime_to_unix(133_485_408_000_000_000), Some(1_704_067_200.0));
        assert_eq!(filetime_to_unix(0), None);
        assert_eq!(filetime_to_unix(i64::MAX), None);
    }

    #[test]
    fn dns_names_from_dns() {
        assert_eq!(dn_to_dns_name("DC=Corp,DC=Example,DC=Test").as_deref(), Some("corp.example.test"));
        assert_eq!(dn_to_dns_name("OU=x,dc=a,dc=b").as_deref(), Some("a.b"));
        assert_eq!(dn_to_dns_name("CN=Users"), None);
        assert_eq!(dn_to_dns_name(""), None);
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(describe_seconds(86_400.0), "1 day");
        assert_eq!(describe_seconds(172_800.0), "2 days");
        assert_eq!(describe_seconds(0.0), "0 seconds");
        assert_eq!(describe_seconds(1_800.0), "30 minutes");
        assert_eq!(describe_seconds(f64::INFINITY), "never");
    }
}
