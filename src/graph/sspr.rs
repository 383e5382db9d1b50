//! Probe `entra_sspr`: self-service password management audit events since the last run, added to a counter that
//! lives as long as the target's context. No event is counted twice, across runs or pages.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Deserialize;

use super::client::Endpoint;
use super::time::{format_rfc3339, parse_rfc3339};
use super::EntraContext;
use crate::base::{counter, unix_now, Check, MetricDef, Probe, ProbeError, ProbeOutput, Status};
use crate::config::EntraTarget;

// --- metrics served by this probe
pub static ENTRA_SSPR_EVENTS_TOTAL: MetricDef = counter(
    "writeback_entra_sspr_events_total",
    &["activity", "result"],
    "Self-service Password Management audit events seen since the exporter (re)loaded its configuration; activity is the snake_case of the documented activity name or other, result is success, failure, timeout or other.",
);

/// First-run look-back when the probe's interval was not passed in (the default interval).
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(300);
/// Audit events can appear minutes after they happened: every run re-reads this much before the newest event it
/// counted, and the remembered ids keep those from being counted again.
const OVERLAP_SECONDS: f64 = 15.0 * 60.0;
/// Pages per run (500 events each); with the audit budget this takes about 40 s.
const MAX_PAGES: usize = 20;
const PAGE_SIZE: &str = "500";

const DIRECTORY_AUDITS: Endpoint =
    Endpoint { path: "v1.0/auditLogs/directoryAudits", permission: "AuditLog.Read.All", audit: true };

/// The documented activities of the `Self-service Password Management` service and their label values.
pub const ACTIVITIES: [(&str, &str); 10] = [
    ("Blocked from self-service password reset", "blocked_from_self_service_password_reset"),
    ("Change password (self-service)", "change_password_self_service"),
    ("Disable password writeback for directory", "disable_password_writeback_for_directory"),
    ("Enable password writeback for directory", "enable_password_writeback_for_directory"),
    ("Reset password (by admin)", "reset_password_by_admin"),
    ("Reset password (self-service)", "reset_password_self_service"),
    ("Self-service password reset flow activity progress", "self_service_password_reset_flow_activity_progress"),
    // An older spelling of the same activity, still listed by Microsoft.
    ("Self-serve password reset flow activity progress", "self_service_password_reset_flow_activity_progress"),
    ("Unlock user account (self-service)", "unlock_user_account_self_service"),
    ("User registered for self-service password reset", "user_registered_for_self_service_password_reset"),
];
pub const RESULTS: [&str; 4] = ["success", "failure", "timeout", "other"];
/// Activities whose failure means a user could not get a password written back.
const USER_FACING: [&str; 3] =
    ["reset_password_self_service", "change_password_self_service", "unlock_user_account_self_service"];

pub fn activity_label(name: &str) -> &'static str {
    let name = name.trim();
    ACTIVITIES.iter().find(|(shown, _)| shown.eq_ignore_ascii_case(name)).map_or("other", |(_, label)| label)
}

pub fn result_label(result: &str) -> &'static str {
    let result = result.trim();
    RESULTS.iter().find(|r| r.eq_ignore_ascii_case(result)).copied().unwrap_or("other")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub activity_display_name: String,
    #[serde(default)]
    pub activity_date_time: String,
    #[serde(default)]
    pub result: String,
    #[serde(default)]
    pub result_reason: Option<String>,
}

/// Where the event stream stands, and the counter itself.
#[derive(Debug)]
pub struct Cursor {
    lookback: Duration,
    /// activityDateTime of the newest counted event (Unix seconds); `None` before the first successful run.
    newest: Option<f64>,
    /// Counted event ids no older than `newest - OVERLAP`, with their time.
    seen: HashMap<String, f64>,
    /// The last run stopped at the page cap: continue from `newest` itself, or a window fuller than the cap
    /// would be re-read forever.
    catching_up: bool,
    counts: BTreeMap<(&'static str, &'static str), u64>,
}

/// What one run added.
#[derive(Debug, Default)]
pub struct Added {
    pub counts: BTreeMap<(&'static str, &'static str), u64>,
    pub failure_reasons: Vec<String>,
}

impl Cursor {
    pub fn new(lookback: Duration) -> Cursor {
        Cursor { lookback, newest: None, seen: HashMap::new(), catching_up: false, counts: BTreeMap::new() }
    }

    pub fn set_lookback(&mut self, lookback: Duration) {
        self.lookback = lookback;
    }

    /// Continues where `previous` stood (a reload replaced its context): its position, the ids it counted and the
    /// counter itself, so that nothing is counted twice and the counter does not restart. Keeps this lookback;
    /// `previous` is left with this cursor's fresh state.
    pub fn take_over(&mut self, previous: &mut Cursor) {
        let lookback = self.lookback;
        std::mem::swap(self, previous);
        self.lookback = lookback;
    }

    /// The earliest activityDateTime the next query asks for.
    pub fn since(&self, now: f64) -> f64 {
        match self.newest {
            Some(t) if self.catching_up => t,
            Some(t) => t - OVERLAP_SECONDS,
            None => now - self.lookback.as_secs_f64(),
        }
    }

    /// Counts the events not counted before that lie at or after `since`, and moves the cursor. `complete` is
    /// false when the page cap cut the listing (the events are in ascending time order).
    pub fn absorb(&mut self, since: f64, events: &[AuditEvent], complete: bool) -> Added {
        self.catching_up = !complete;
        let mut added = Added::default();
        for event in events {
            let Some(at) = parse_rfc3339(&event.activity_date_time) else {
                tracing::debug!(id = %event.id, "audit event without a readable activityDateTime; skipped");
                continue;
            };
            if event.id.is_empty() || at < since || self.seen.contains_key(&event.id) {
                continue;
            }
            self.seen.insert(event.id.clone(), at);
            self.newest = Some(self.newest.map_or(at, |n| n.max(at)));
            let key = (activity_label(&event.activity_display_name), result_label(&event.result));
            *self.counts.entry(key).or_default() += 1;
            *added.counts.entry(key).or_default() += 1;
            if key.1 == "failure" && USER_FACING.contains(&key.0) {
                if let Some(reason) = event.result_reason.as_deref().map(|r| super::error::clean(r, 120)) {
                    if !reason.is_empty() && added.failure_reasons.len() < 3 && !added.failure_reasons.contains(&reason)
                    {
                        added.failure_reasons.push(reason);
                    }
                }
            }
        }
        if let Some(newest) = self.newest {
            self.seen.retain(|_, at| *at >= newest - OVERLAP_SECONDS);
        }
        added
    }

    /// Every (activity, result) pair from 0, so that `increase()` sees the first event of each.
    pub fn samples(&self, out: &mut ProbeOutput) {
        let mut labels: Vec<&str> = ACTIVITIES.iter().map(|(_, l)| *l).collect();
        labels.dedup();
        labels.push("other");
        for activity in labels {
            for result in RESULTS {
                let value = self.counts.get(&(activity, result)).copied().unwrap_or_default();
                out.sample(&ENTRA_SSPR_EVENTS_TOTAL, &[activity, result], value as f64);
            }
        }
    }
}

/// The probe: SSPR audit events, each counted once (needs AuditLog.Read.All).
pub static PROBE: Probe<EntraContext, EntraTarget> = Probe {
    name: "entra_sspr",
    metrics: &[&ENTRA_SSPR_EVENTS_TOTAL],
    needs: &[],
    default_interval: None,
    enabled: |entra| entra.sspr_audit,
    run: |ctx| Box::pin(run(ctx)),
};

/// # Errors
/// Token and Graph failures (403 names AuditLog.Read.All, or the missing P1/P2 licence); the cursor does not move.
pub async fn run(ctx: &EntraContext) -> Result<ProbeOutput, ProbeError> {
    let now = unix_now();
    let since = ctx.sspr.lock().map(|c| c.since(now)).map_err(|_| poisoned())?;
    let filter = format!(
        "loggedByService eq 'Self-service Password Management' and activityDateTime ge {}",
        format_rfc3339(since)
    );
    let query = [("$filter", filter.as_str()), ("$orderby", "activityDateTime asc"), ("$top", PAGE_SIZE)];
    let listing = ctx.run().list::<AuditEvent>(&DIRECTORY_AUDITS, &query, MAX_PAGES).await?;
    if !listing.complete {
        tracing::warn!(
            target = %ctx.name,
            pages = MAX_PAGES,
            "more SSPR audit events than one run reads; the rest are counted by the next runs"
        );
    }
    let mut cursor = ctx.sspr.lock().map_err(|_| poisoned())?;
    let added = cursor.absorb(since, &listing.items, listing.complete);
    let mut out = ProbeOutput::default();
    cursor.samples(&mut out);
    out.checks.push(check(&added, since));
    Ok(out)
}

fn poisoned() -> ProbeError {
    ProbeError::Other("the SSPR event cursor is unusable after a panic".to_string())
}

fn check(added: &Added, since: f64) -> Check {
    let failures: u64 =
        added.counts.iter().filter(|((a, r), _)| *r == "failure" && USER_FACING.contains(a)).map(|(_, n)| n).sum();
    let summary: Vec<String> = added
        .counts
        .iter()
        .filter(|((a, _), _)| USER_FACING.contains(a))
        .map(|((a, r), n)| format!("{a} {r} {n}"))
        .collect();
    let total: u64 = added.counts.values().sum();
    let mut observed = format!("{total} new SSPR audit events since {}", format_rfc3339(since));
    if !summary.is_empty() {
        observed.push_str(&format!(": {}", summary.join(", ")));
    }
    if !added.failure_reasons.is_empty() {
        observed.push_str(&format!("; failure reasons: {}", added.failure_reasons.join(" | ")));
    }
    Check {
        id: "entra_sspr_failures",
        subject: "tenant".to_string(),
        title: "Self-service resets, changes and unlocks succeed".to_string(),
        status: if failures > 0 { Status::Warn } else { Status::Pass },
        observed,
        remediation: (failures > 0).then(|| {
            "Open Entra admin center > Audit logs, service Self-service Password Management, and read each failure's \
             reason. Writeback failures (SSPR_0029: on-premises permissions or policy; SSPR_0030: connectivity) are \
             also logged by PasswordResetService on the Connect server (events 33004, 33008, 32002)."
                .to_string()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, at: &str, activity: &str, result: &str) -> AuditEvent {
        AuditEvent {
            id: id.to_string(),
            activity_display_name: activity.to_string(),
            activity_date_time: at.to_string(),
            result: result.to_string(),
            result_reason: Some("reason".to_string()),
        }
    }

    #[test]
    fn labels_are_bounded() {
        assert_eq!(activity_label("Reset password (self-service)"), "reset_password_self_service");
        assert_eq!(activity_label(" reset PASSWORD (self-service) "), "reset_password_self_service");
        assert_eq!(activity_label("Self-serve password reset flow activity progress"), ACTIVITIES[6].1);
        assert_eq!(activity_label("Something new"), "other");
        assert_eq!(result_label("Failure"), "failure");
        assert_eq!(result_label("unknownFutureValue"), "other");
    }

    #[test]
    fn no_event_counted_twice_across_runs() {
        let mut cursor = Cursor::new(Duration::from_secs(600));
        let now = parse_rfc3339("2025-01-01T12:00:00Z").unwrap();
        let since = cursor.since(now);
        assert_eq!(format_rfc3339(since), "2025-01-01T11:50:00Z", "first run looks back one interval");
        let first = [
            event("old", "2025-01-01T11:40:00Z", "Reset password (self-service)", "success"),
            event("a", "2025-01-01T11:55:00Z", "Reset password (self-service)", "success"),
            event("b", "2025-01-01T11:59:00Z", "Reset password (self-service)", "failure"),
        ];
        let added = cursor.absorb(since, &first, true);
        assert_eq!(added.counts.values().sum::<u64>(), 2, "the event before the look-back is not counted");
        assert_eq!(added.failure_reasons, ["reason"]);
        // The next run overlaps: a and b come again, plus a late-arriving event older than b, plus a new one.
        let since = cursor.since(now + 300.0);
        assert_eq!(format_rfc3339(since), "2025-01-01T11:44:00Z");
        let second = [
            event("a", "2025-01-01T11:55:00Z", "Reset password (self-service)", "success"),
            event("late", "2025-01-01T11:58:00Z", "Unlock user account (self-service)", "success"),
            event("b", "2025-01-01T11:59:00Z", "Reset password (self-service)", "failure"),
            event("c", "2025-01-01T12:04:00Z", "Something undocumented", "weird"),
        ];
        let added = cursor.absorb(since, &second, true);
        assert_eq!(added.counts.values().sum::<u64>(), 2);
        let mut out = ProbeOutput::default();
        cursor.samples(&mut out);
        let value = |a: &str, r: &str| out.samples.iter().find(|s| s.labels == [a, r]).map(|s| s.value);
        assert_eq!(value("reset_password_self_service", "success"), Some(1.0));
        assert_eq!(value("reset_password_self_service", "failure"), Some(1.0));
        assert_eq!(value("unlock_user_account_self_service", "success"), Some(1.0));
        assert_eq!(value("other", "other"), Some(1.0));
        assert_eq!(value("change_password_self_service", "timeout"), Some(0.0), "exported from 0");
        assert_eq!(out.samples.len(), 10 * 4, "9 distinct activities + other, 4 results");
    }

    #[test]
    fn a_reload_continues_the_stream_and_the_counter() {
        let now = parse_rfc3339("2025-01-01T12:00:00Z").unwrap();
        let mut old = Cursor::new(Duration::from_secs(600));
        let since = old.since(now);
        old.absorb(since, &[event("a", "2025-01-01T11:55:00Z", "Reset password (self-service)", "failure")], true);
        // The reload's new context, with another interval.
        let mut cursor = Cursor::new(Duration::from_secs(3600));
        cursor.take_over(&mut old);
        let since = cursor.since(now + 60.0);
        assert_eq!(format_rfc3339(since), "2025-01-01T11:40:00Z", "continues from the last event, not an hour back");
        let again = [
            event("a", "2025-01-01T11:55:00Z", "Reset password (self-service)", "failure"),
            event("b", "2025-01-01T12:00:30Z", "Reset password (self-service)", "failure"),
        ];
        let added = cursor.absorb(since, &again, true);
        assert_eq!(added.counts.values().sum::<u64>(), 1, "a was counted before the reload");
        let mut out = ProbeOutput::default();
        cursor.samples(&mut out);
        let value = out.samples.iter().find(|s| s.labels == ["reset_password_self_service", "failure"]);
        assert_eq!(value.map(|s| s.value), Some(2.0), "the counter goes on from where it stood");
        assert_eq!(cursor.lookback, Duration::from_secs(3600), "the new interval applies");
    }

    #[test]
    fn a_cut_listing_continues_from_the_newest_event() {
        let mut cursor = Cursor::new(Duration::from_secs(600));
        let now = parse_rfc3339("2025-01-01T12:00:00Z").unwrap();
        let since = cursor.since(now);
        cursor.absorb(since, &[event("a", "2025-01-01T11:55:00Z", "Reset password (self-service)", "success")], false);
        assert_eq!(format_rfc3339(cursor.since(now)), "2025-01-01T11:55:00Z", "no overlap while catching up");
        cursor.absorb(cursor.since(now), &[], true);
        assert_eq!(format_rfc3339(cursor.since(now)), "2025-01-01T11:40:00Z", "overlap again once caught up");
    }

    #[test]
    fn check_warns_on_user_facing_failures_only() {
        let mut added = Added::default();
        added.counts.insert(("self_service_password_reset_flow_activity_progress", "failure"), 4);
        assert_eq!(check(&added, 0.0).status, Status::Pass);
        added.counts.insert(("reset_password_self_service", "failure"), 1);
        added.failure_reasons.push("User's account is locked".to_string());
        let c = check(&added, 0.0);
        assert_eq!(c.status, Status::Warn);
        assert!(c
            .observed
            .contains("reset_password_self_service failure 1; failure reasons: User's account is locked"));
    }
}
