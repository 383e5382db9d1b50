//! Probe `entra_sspr`: self-service password management audit events since the last run, added to a counter that
//! lives as long as the target's context. No event is counted twice, across runs or pages.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Duration;

use serde::Deserialize;

mod causes;

use super::client::Endpoint;
use super::time::{format_rfc3339, parse_rfc3339};
use super::EntraContext;
use crate::base::{
    counter, unix_now, Check, MetricDef, Probe, ProbeError, ProbeOutput, Status, FAILURE_CAUSES, NO_AD_CAUSE,
};
use crate::config::EntraTarget;

// --- metrics served by this probe
pub static ENTRA_SSPR_EVENTS_TOTAL: MetricDef = counter(
    "writeback_entra_sspr_events_total",
    &["activity", "result"],
    "Self-service Password Management audit events seen since the exporter (re)loaded its configuration; activity is the snake_case of the documented activity name or other, result is success, failure, timeout or other.",
);

pub static ENTRA_SSPR_FAILURES_EXPLAINED_TOTAL: MetricDef = counter(
    "writeback_entra_sspr_failures_explained_total",
    &["cause"],
    "User-facing SSPR failures (reset, change, unlock) judged on the AD side since the exporter (re)loaded its configuration; cause is the first cause of writeback_ad_users_not_ready, min_password_age, restrict_remote_sam, ready (AD would have allowed it), not_found or unknown (not judged).",
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
    Endpoint { path: Cow::Borrowed("v1.0/auditLogs/directoryAudits"), permission: "AuditLog.Read.All", audit: true };

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
    /// The objects the activity acted on; for the user-facing activities, the user (`type` "User").
    #[serde(default)]
    pub target_resources: Vec<TargetResource>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetResource {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

impl AuditEvent {
    /// The user a user-facing activity acted on: the `User` target resource (else the first with a UPN).
    fn user(&self) -> Option<&TargetResource> {
        let is_user = |r: &&TargetResource| r.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case("user"));
        self.target_resources
            .iter()
            .find(is_user)
            .or_else(|| self.target_resources.iter().find(|r| r.user_principal_name.is_some()))
    }
}

/// A user-facing failure counted by this run, to be explained on the AD side.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    /// activityDateTime, Unix seconds.
    pub at: f64,
    /// The user's object id in Entra, when the event names one.
    pub user_id: Option<String>,
    pub upn: Option<String>,
}

/// One explained failure, as `check` and the landing page list them.
#[derive(Debug, Clone, PartialEq)]
pub struct Explained {
    pub at: f64,
    pub user: String,
    pub cause: &'static str,
}

/// Explained failures `check` and the landing page list.
const RECENT: usize = 10;

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
    /// `writeback_entra_sspr_failures_explained_total` per cause.
    explained: BTreeMap<&'static str, u64>,
    /// The last [`RECENT`] explained failures, oldest first.
    recent: VecDeque<Explained>,
    /// What limited the last explaining run (the limit, a missing permission), shown until the next one.
    explain_note: Option<String>,
}

/// What one run added.
#[derive(Debug, Default)]
pub struct Added {
    pub counts: BTreeMap<(&'static str, &'static str), u64>,
    pub failure_reasons: Vec<String>,
    /// The user-facing failures among them, in event order.
    pub failed: Vec<Failed>,
}

impl Cursor {
    pub fn new(lookback: Duration) -> Cursor {
        Cursor {
            lookback,
            newest: None,
            seen: HashMap::new(),
            catching_up: false,
            counts: BTreeMap::new(),
            explained: BTreeMap::new(),
            recent: VecDeque::new(),
            explain_note: None,
        }
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
                let user = event.user();
                added.failed.push(Failed {
                    at,
                    user_id: user.and_then(|u| u.id.clone()),
                    upn: user.and_then(|u| u.user_principal_name.clone()),
                });
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

    /// Counts each failure under its cause (`causes[i]` for `failed[i]`) and keeps the last [`RECENT`].
    pub fn explained(&mut self, failed: &[Failed], causes: &[&'static str], note: Option<String>) {
        if !failed.is_empty() {
            self.explain_note = note;
        }
        for (failure, cause) in failed.iter().zip(causes) {
            *self.explained.entry(cause).or_default() += 1;
            let user = failure.upn.clone().or_else(|| failure.user_id.clone()).unwrap_or_else(|| "(no user)".into());
            self.recent.push_back(Explained { at: failure.at, user: super::error::clean(&user, 120), cause });
            if self.recent.len() > RECENT {
                self.recent.pop_front();
            }
        }
    }

    /// Every (activity, result) pair from 0, so that `increase()` sees the first event of each; every cause too.
    pub fn samples(&self, out: &mut ProbeOutput) {
        for cause in FAILURE_CAUSES {
            let value = self.explained.get(cause).copied().unwrap_or_default();
            out.sample(&ENTRA_SSPR_FAILURES_EXPLAINED_TOTAL, &[cause], value as f64);
        }
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
    metrics: &[&ENTRA_SSPR_EVENTS_TOTAL, &ENTRA_SSPR_FAILURES_EXPLAINED_TOTAL],
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
    let run = ctx.run();
    let listing = run.list::<AuditEvent>(&DIRECTORY_AUDITS, &query, MAX_PAGES).await?;
    if !listing.complete {
        tracing::warn!(
            target = %ctx.name,
            pages = MAX_PAGES,
            "more SSPR audit events than one run reads; the rest are counted by the next runs"
        );
    }
    let added = ctx.sspr.lock().map_err(|_| poisoned())?.absorb(since, &listing.items, listing.complete);
    // Counted now; explained after (the directory is read meanwhile, with no lock held). An event is explained
    // once, by the run that counted it.
    let (causes, note) = causes::failures(ctx, &run, &added.failed).await;
    let mut cursor = ctx.sspr.lock().map_err(|_| poisoned())?;
    cursor.explained(&added.failed, &causes, note);
    let mut out = ProbeOutput::default();
    cursor.samples(&mut out);
    out.checks.push(check(&added, since));
    out.checks.push(explained_check(&cursor.recent, &causes, cursor.explain_note.as_deref()));
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

/// The last explained failures; WARN when this run explained one by an AD cause.
fn explained_check(recent: &VecDeque<Explained>, this_run: &[&'static str], note: Option<&str>) -> Check {
    let by_ad: Vec<&str> = this_run.iter().copied().filter(|c| !NO_AD_CAUSE.contains(c)).collect();
    let mut observed = if recent.is_empty() {
        "no user-facing SSPR failure explained yet".to_string()
    } else {
        let listed: Vec<String> =
            recent.iter().rev().map(|e| format!("{} {}: {}", format_rfc3339(e.at), e.user, e.cause)).collect();
        format!("last {} failures, newest first: {}", recent.len(), listed.join("; "))
    };
    if let Some(note) = note {
        observed.push_str(&format!(" ({note})"));
    }
    Check {
        id: "entra_sspr_failures_explained",
        subject: "tenant".to_string(),
        title: "SSPR failures are not caused on the AD side".to_string(),
        status: if by_ad.is_empty() { Status::Pass } else { Status::Warn },
        observed,
        remediation: (!by_ad.is_empty()).then(|| {
            format!(
                "{} failure(s) of this run had an AD cause ({}): run `writeback_exporter explain --target <target> \
                 <user>` (or the landing page's form) for the user, and apply the fix it names.",
                by_ad.len(),
                by_ad.join(", ")
            )
        }),
    }
}

#[cfg(test)]
mod tests;
