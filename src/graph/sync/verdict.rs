//! The judgements of `entra_sync` as pure functions: Connect version against the dated facts of REFERENCE.md §4
//! and the configured minimum, and the age of the last sync.

use crate::base::{Check, Status};
use crate::config::Cloud;
use crate::version::ConnectVersion;

/// The last sync may be this old (Connect syncs every 30 minutes by default).
pub const MAX_SYNC_AGE_SECONDS: f64 = 3.0 * 3_600.0;

const ACS_LAST: ConnectVersion = ConnectVersion([1, 0, 8641, 0]);
const FIRST_2X: ConnectVersion = ConnectVersion([2, 0, 0, 0]);
const HARDENING: ConnectVersion = ConnectVersion([2, 5, 79, 0]);
/// "All synchronization fails after 2026-09-30": from 2026-10-01T00:00:00Z.
const HARDENING_DEADLINE: f64 = 1_790_812_800.0;
const WIZARD_GLOBAL: ConnectVersion = ConnectVersion([2, 4, 18, 0]);
const WIZARD_OTHER_CLOUDS: ConnectVersion = ConnectVersion([2, 4, 21, 0]);
const UNEXPIRE_FIX: ConnectVersion = ConnectVersion([2, 1, 15, 0]);
const SSPR_0029_FIX: ConnectVersion = ConnectVersion([2, 1, 19, 0]);

#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    /// `writeback_connect_version_supported`: at least the configured minimum.
    pub supported: bool,
    pub status: Status,
    pub why: String,
    /// The reasons to upgrade, when not a PASS.
    pub remediation: Option<String>,
}

/// Judges a Connect version. FAIL for versions that lost writeback (ACS retirement), for 1.x (no sync since
/// 2023-10-01), below the configured minimum (naming the date that applies), and below 2.5.79.0 once
/// 2026-09-30 has passed; WARN when only a dated fact (not the minimum) applies.
pub fn connect_verdict(v: ConnectVersion, min: ConnectVersion, cloud: Cloud, now: f64) -> Verdict {
    let supported = v >= min;
    let fail = |why: String| Verdict { supported, status: Status::Fail, remediation: Some(why.clone()), why };
    if v <= ACS_LAST {
        return fail(
            "versions up to 1.0.8641.0 lost password writeback on 2018-11-07, when Azure Access Control Service \
             (ACS) was retired"
                .to_string(),
        );
    }
    if v < FIRST_2X {
        return fail("every 1.x version stopped synchronizing on 2023-10-01".to_string());
    }
    let mut facts = Vec::new();
    let past_deadline = now >= HARDENING_DEADLINE;
    if v < HARDENING {
        facts.push(if past_deadline {
            "all synchronization of versions below 2.5.79.0 fails since 2026-09-30 (Microsoft's hardening notice)"
        } else {
            "all synchronization of versions below 2.5.79.0 fails after 2026-09-30 (Microsoft's hardening notice)"
        });
    }
    let wizard = if cloud == Cloud::Global { WIZARD_GLOBAL } else { WIZARD_OTHER_CLOUDS };
    if v < wizard {
        facts.push(if cloud == Cloud::Global {
            "the Connect wizard cannot sign in since 2025-04-07 below 2.4.18.0"
        } else {
            "the Connect wizard cannot sign in since 2025-04-07 below 2.4.21.0 (non-commercial clouds)"
        });
    }
    if v < UNEXPIRE_FIX {
        facts.push("versions before 2.1.15.0 do not grant Unexpire Password for writeback");
    }
    if v < SSPR_0029_FIX {
        facts.push("writeback can stop with SSPR_0029 before 2.1.19.0");
    }
    let facts = facts.join("; ");
    if !supported {
        let why = if facts.is_empty() {
            format!("below the configured minimum {min}")
        } else {
            format!("below the configured minimum {min}: {facts}")
        };
        return fail(why);
    }
    if v < HARDENING && past_deadline {
        return fail(facts);
    }
    if !facts.is_empty() {
        return Verdict { supported, status: Status::Warn, remediation: Some(facts.clone()), why: facts };
    }
    Verdict {
        supported,
        status: Status::Pass,
        why: format!("at least the configured minimum {min}"),
        remediation: None,
    }
}

/// PASS when the tenant's last sync is at most 3 hours old.
pub fn sync_age_check(last_sync: Option<f64>, now: f64) -> Check {
    let (status, observed) = match last_sync {
        None => (Status::Fail, "onPremisesLastSyncDateTime is not set: the tenant has never synchronized".to_string()),
        Some(t) => {
            let age = now - t;
            let text = format!("last sync {} ({})", super::when(t), describe_age(age));
            (if age > MAX_SYNC_AGE_SECONDS { Status::Fail } else { Status::Pass }, text)
        }
    };
    Check {
        id: "entra_sync_recent",
        subject: "tenant".to_string(),
        title: "Directory sync ran in the last 3 hours".to_string(),
        status,
        observed,
        remediation: (status != Status::Pass).then(|| {
            "Entra Connect syncs every 30 minutes by default. On the Connect server check the ADSync service and \
             the scheduler (Get-ADSyncScheduler: SyncCycleEnabled, NextSyncCycleStartTimeInUTC), run \
             Start-ADSyncSyncCycle -PolicyType Delta, and read the Synchronization Service Manager's run history; \
             a stopped sync also stops writeback."
                .to_string()
        }),
    }
}

fn describe_age(seconds: f64) -> String {
    if seconds < 0.0 {
        "in the future: check the clocks".to_string()
    } else if seconds < 7_200.0 {
        format!("{:.0} minutes ago", seconds / 60.0)
    } else if seconds < 172_800.0 {
        format!("{:.1} hours ago", seconds / 3_600.0)
    } else {
        format!("{:.1} days ago", seconds / 86_400.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ConnectVersion {
        s.parse().unwrap()
    }

    const BEFORE_DEADLINE: f64 = 1_767_225_600.0; // 2026-01-01
    const AFTER_DEADLINE: f64 = 1_793_491_200.0; // 2026-11-01

    #[test]
    fn versions_compare_numerically() {
        let ordered = ["1.0.8641.0", "1.6.11.3", "2.4.18.0", "2.5.79.0", "2.9.0.0", "2.10.1.0"];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
        }
        assert!(v("2.10.1.0") > v("2.9.0.0"), "not a string comparison");
    }

    #[test]
    fn verdicts() {
        let min = v("2.5.79.0");
        let cases = [
            ("1.0.8641.0", BEFORE_DEADLINE, Status::Fail, "ACS"),
            ("1.0.8667.0", BEFORE_DEADLINE, Status::Fail, "stopped synchronizing on 2023-10-01"),
            ("1.6.11.3", BEFORE_DEADLINE, Status::Fail, "every 1.x version"),
            ("2.4.18.0", BEFORE_DEADLINE, Status::Fail, "below the configured minimum 2.5.79.0: all synchronization"),
            ("2.1.1.0", BEFORE_DEADLINE, Status::Fail, "SSPR_0029"),
            ("2.5.79.0", AFTER_DEADLINE, Status::Pass, "at least the configured minimum 2.5.79.0"),
            ("2.10.1.0", AFTER_DEADLINE, Status::Pass, "at least"),
        ];
        for (version, now, status, text) in cases {
            let verdict = connect_verdict(v(version), min, Cloud::Global, now);
            assert_eq!(verdict.status, status, "{version}: {verdict:?}");
            assert!(verdict.why.contains(text), "{version}: {}", verdict.why);
            assert_eq!(verdict.supported, v(version) >= min);
        }
    }

    #[test]
    fn a_lowered_minimum_still_sees_the_dates() {
        let min = v("2.4.0.0");
        let before = connect_verdict(v("2.4.18.0"), min, Cloud::Global, BEFORE_DEADLINE);
        assert_eq!((before.status, before.supported), (Status::Warn, true));
        assert!(before.why.contains("fails after 2026-09-30"), "{}", before.why);
        let after = connect_verdict(v("2.4.18.0"), min, Cloud::Global, AFTER_DEADLINE);
        assert_eq!((after.status, after.supported), (Status::Fail, true));
        assert!(after.why.contains("fails since 2026-09-30"), "{}", after.why);
        let gov = connect_verdict(v("2.4.18.0"), min, Cloud::Usgov, BEFORE_DEADLINE);
        assert!(gov.why.contains("below 2.4.21.0"), "{}", gov.why);
        let higher_min = connect_verdict(v("2.5.79.0"), v("2.9.0.0"), Cloud::Global, BEFORE_DEADLINE);
        assert_eq!(higher_min.status, Status::Fail);
        assert_eq!(higher_min.why, "below the configured minimum 2.9.0.0");
    }

    #[test]
    fn sync_age() {
        let now = 1_700_000_000.0;
        assert_eq!(sync_age_check(Some(now - 600.0), now).status, Status::Pass);
        let old = sync_age_check(Some(now - MAX_SYNC_AGE_SECONDS - 1.0), now);
        assert_eq!(old.status, Status::Fail);
        assert!(old.observed.contains("3.0 hours ago"), "{}", old.observed);
        assert_eq!(sync_age_check(None, now).status, Status::Fail);
    }
}
