//! The judgements of `entra_cloud_sync` as pure functions: whether the configurations could be read, and the state
//! of each configuration's synchronization jobs (status code, schedule, quarantine, last run).

use super::{Configuration, Execution, SyncError, SyncJob, Tenant, JOBS_PERMISSION, SERVICE_PRINCIPALS_PERMISSION};
use crate::base::{Check, Status};
use crate::graph::error::clean;
use crate::graph::time::{format_rfc3339, parse_rfc3339};

/// Job templates Microsoft documents for Cloud Sync, with what they do.
const TEMPLATES: [(&str, &str); 3] = [
    ("AD2AADProvisioning", "AD to Entra ID provisioning"),
    ("AD2AADPasswordHash", "password hash sync"),
    ("AAD2ADExchangeHybridWriteback", "Exchange hybrid writeback"),
];
/// Configuration names listed in one observed text.
const MAX_NAMES: usize = 20;

/// Whether the tenant's Cloud Sync configurations and their jobs could be read. PASS with the list (or "none");
/// WARN naming the permission Graph refused.
pub fn configurations_check(tenant: &Tenant) -> Check {
    let names = name_list(&tenant.configurations);
    let count = tenant.configurations.len();
    let (status, observed, remediation) = match &tenant.refused {
        Some(r) if r.permission == SERVICE_PRINCIPALS_PERMISSION => (
            Status::Warn,
            format!("the Cloud Sync configurations cannot be listed: {}", r.error),
            Some(grant(SERVICE_PRINCIPALS_PERMISSION, "list the Cloud Sync configurations (service principals)")),
        ),
        Some(r) => (
            Status::Warn,
            format!("{count} configuration(s) ({names}), but their synchronization jobs cannot be read: {}", r.error),
            Some(grant(r.permission, "read the Cloud Sync synchronization jobs")),
        ),
        None if count == 0 => (
            Status::Pass,
            "no Entra Cloud Sync configuration (no service principal from the AD2AAD application template): no \
             domain writes passwords back through Cloud Sync"
                .to_string(),
            None,
        ),
        None => {
            let more = if tenant.complete { "" } else { "; the listing stopped at its page cap" };
            (
                Status::Pass,
                format!(
                    "{count} configuration(s): {names}{more}. Whether SSPR writes back through Cloud Sync and the \
                     provisioning agents' versions cannot be read by an application (see docs/entra-setup.md)"
                ),
                None,
            )
        }
    };
    Check {
        id: "entra_cloud_sync_configurations",
        subject: "tenant".to_string(),
        title: "Entra Cloud Sync configurations are readable".to_string(),
        status,
        observed,
        remediation,
    }
}

fn grant(permission: &str, what: &str) -> String {
    let also = if permission == SERVICE_PRINCIPALS_PERMISSION {
        format!(" (and {JOBS_PERMISSION} for the jobs)")
    } else {
        String::new()
    };
    format!(
        "Grant the exporter's app registration the application permission {permission}{also} with admin consent \
         (API permissions > Add a permission > Microsoft Graph > Application permissions, then Grant admin \
         consent), so that it can {what}. Both are read-only."
    )
}

fn name_list(configurations: &[Configuration]) -> String {
    let mut names: Vec<&str> = configurations.iter().map(|c| c.name.as_str()).take(MAX_NAMES).collect();
    names.sort_unstable();
    let mut list = names.join(", ");
    if configurations.len() > MAX_NAMES {
        list.push_str(&format!(" and {} more", configurations.len() - MAX_NAMES));
    }
    list
}

/// One synchronization job of configuration `config`. FAIL when quarantined; WARN when paused, disabled, not
/// configured or not run, when its last run failed, or for a status Graph documents no meaning for; else PASS.
pub fn job_check(config: &str, job: &SyncJob) -> Check {
    let kind = job_kind(job);
    let status = job.status.clone().unwrap_or_default();
    let code = status.code.as_deref().map(|c| clean(c, 40)).unwrap_or_default();
    let schedule = job.schedule.as_ref().and_then(|s| s.state.as_deref()).map(|s| clean(s, 40)).unwrap_or_default();
    let mut facts = vec![format!("status {}", if code.is_empty() { "not reported" } else { &code })];
    if !schedule.is_empty() {
        facts.push(format!("schedule {schedule}"));
    }
    if code == "Quarantine" {
        let q = status.quarantine.clone().unwrap_or_default();
        let since = q.series_began.as_deref().or(q.current_began.as_deref()).and_then(time);
        let mut text = format!("quarantined{}", since.map(|t| format!(" since {t}")).unwrap_or_default());
        if let Some(reason) = q.reason.as_deref() {
            text.push_str(&format!(" (reason {})", clean(reason, 60)));
        }
        if let Some(error) = q.error.as_ref().and_then(error_text) {
            text.push_str(&format!(": {error}"));
        }
        if let Some(next) = q.next_attempt.as_deref().and_then(time) {
            text.push_str(&format!("; next attempt {next}"));
        }
        facts.push(text);
    }
    let failures = status.count_successive_complete_failures.unwrap_or(0);
    if failures > 0 {
        facts.push(format!("{failures} successive complete failure(s)"));
    }
    let last_failed = status.last_execution.as_ref().and_then(|e| e.state.as_deref()) == Some("Failed");
    if let Some(last) = status.last_execution.as_ref().and_then(execution_text) {
        facts.push(format!("last run {last}"));
    }
    if let Some(t) = status.last_successful_execution.as_ref().and_then(ended) {
        facts.push(format!("last run without errors ended {t}"));
    }
    let paused = code == "Paused" || matches!(schedule.as_str(), "Disabled" | "Paused");
    let place = format!(
        "Entra admin center > Identity > Hybrid management > Microsoft Entra Connect > Cloud sync > Configurations > \
         {config}"
    );
    let (verdict, remediation) = match code.as_str() {
        "Quarantine" => (
            Status::Fail,
            Some(format!(
                "{place}: read the quarantine error and fix its cause (HybridIdentityServiceNoActiveAgents and \
                 HybridIdentityServiceNoAgentsAssigned: no provisioning agent answers; check the agent service \
                 AADConnectProvisioningAgent on the agent servers, their outbound HTTPS to Service Bus, and the \
                 agent's gMSA), then restart the job (Restart sync in the portal). Password writeback for this \
                 domain goes through the same agents."
            )),
        ),
        _ if paused => (
            Status::Warn,
            Some(format!("{place}: the configuration does not run; enable it (or delete it if it is retired).")),
        ),
        "NotConfigured" | "NotRun" => (Status::Warn, Some(format!("{place}: finish the configuration and enable it."))),
        "Active" if last_failed || failures > 0 => (
            Status::Warn,
            Some(format!("{place} > Provisioning logs: find the failing run's error and fix its cause.")),
        ),
        "Active" => (Status::Pass, None),
        _ => (
            Status::Warn,
            Some(format!("{place}: Graph reports a status this exporter does not know; check the configuration.")),
        ),
    };
    Check {
        id: "entra_cloud_sync_job",
        subject: format!("{config}: {kind}"),
        title: "Entra Cloud Sync job runs".to_string(),
        status: verdict,
        observed: facts.join("; "),
        remediation,
    }
}

/// The job's template with what it does: the documented `templateId`, else the job id's prefix
/// (`AD2AADProvisioning.<hex>.<guid>`).
fn job_kind(job: &SyncJob) -> String {
    let prefix = job.id.split('.').next().unwrap_or_default();
    let known = |t: &str| TEMPLATES.iter().find(|(id, _)| *id == t).map(|(id, what)| format!("{id} ({what})"));
    job.template_id
        .as_deref()
        .and_then(known)
        .or_else(|| known(prefix))
        .unwrap_or_else(|| clean(job.template_id.as_deref().unwrap_or(prefix), 60))
}

fn execution_text(e: &Execution) -> Option<String> {
    let state = clean(e.state.as_deref()?, 40);
    let mut text = match ended(e) {
        Some(t) => format!("ended {t}: {state}"),
        None => state,
    };
    if let Some(error) = e.error.as_ref().and_then(error_text) {
        text.push_str(&format!(" ({error})"));
    }
    Some(text)
}

fn ended(e: &Execution) -> Option<String> {
    e.time_ended.as_deref().or(e.time_began.as_deref()).and_then(time)
}

fn error_text(e: &SyncError) -> Option<String> {
    let code = e.code.as_deref().map(|c| clean(c, 80)).filter(|c| !c.is_empty());
    let message = e.message.as_deref().map(|m| clean(m, 200)).filter(|m| !m.is_empty());
    match (code, message) {
        (Some(c), Some(m)) => Some(format!("{c}: {m}")),
        (Some(t), None) | (None, Some(t)) => Some(t),
        (None, None) => None,
    }
}

/// Graph's timestamp, normalized; `None` for a missing, malformed or year-1 placeholder one.
fn time(text: &str) -> Option<String> {
    parse_rfc3339(text).filter(|t| *t > 0.0).map(format_rfc3339)
}

#[cfg(test)]
mod tests {
    use super::super::{JobStatus, Quarantine, Refused, Schedule};
    use super::*;

    /// A job id as Graph writes it (a constant: a line `id: "..."` would read as a check id to tests/docs_drift.rs).
    const JOB_ID: &str = "AD2AADProvisioning.fc96887f36da47508c935c28a0c0b6da.614ac0e9-a59b-481f-bd8f-79a73d167e1c";

    fn job(code: &str, schedule: &str, last: Option<&str>) -> SyncJob {
        SyncJob {
            id: JOB_ID.into(),
            template_id: Some("AD2AADProvisioning".into()),
            schedule: Some(Schedule { state: Some(schedule.into()), interval: Some("PT2M".into()) }),
            status: Some(JobStatus {
                code: Some(code.into()),
                last_execution: last.map(|state| Execution {
                    state: Some(state.into()),
                    time_ended: Some("2025-01-01T10:00:00Z".into()),
                    ..Execution::default()
                }),
                ..JobStatus::default()
            }),
        }
    }

    #[test]
    fn job_verdicts() {
        let cases = [
            (
                job("Active", "Active", Some("Succeeded")),
                Status::Pass,
                "status Active; schedule Active; last run ended 2025-01-01T10:00:00Z: Succeeded",
            ),
            (job("Active", "Active", Some("EntryLevelErrors")), Status::Pass, "EntryLevelErrors"),
            (job("Active", "Active", Some("Failed")), Status::Warn, "Failed"),
            (job("Paused", "Paused", None), Status::Warn, "status Paused"),
            (job("Active", "Disabled", None), Status::Warn, "schedule Disabled"),
            (job("NotRun", "Active", None), Status::Warn, "status NotRun"),
            (job("Quarantine", "Active", None), Status::Fail, "quarantined"),
            (job("SomethingNew", "Active", None), Status::Warn, "status SomethingNew"),
        ];
        for (j, status, text) in cases {
            let c = job_check("corp.example.test", &j);
            assert_eq!(c.status, status, "{c:?}");
            assert!(c.observed.contains(text), "{}", c.observed);
            assert_eq!(c.subject, "corp.example.test: AD2AADProvisioning (AD to Entra ID provisioning)");
            assert_eq!(c.remediation.is_some(), status != Status::Pass, "{c:?}");
        }
    }

    #[test]
    fn quarantine_names_reason_error_and_dates() {
        let mut j = job("Quarantine", "Active", Some("Failed"));
        let status = j.status.as_mut().unwrap();
        status.count_successive_complete_failures = Some(3);
        status.quarantine = Some(Quarantine {
            reason: Some("EncounteredQuarantineException".into()),
            current_began: Some("2025-01-02T00:00:00Z".into()),
            series_began: Some("2025-01-01T00:00:00Z".into()),
            next_attempt: Some("2025-01-02T06:00:00.1234567Z".into()),
            error: Some(SyncError {
                code: Some("HybridIdentityServiceNoActiveAgents".into()),
                message: Some("We're unable to find an active agent\nsecond line".into()),
                tenant_actionable: Some(true),
            }),
        });
        let c = job_check("corp.example.test", &j);
        assert_eq!(c.status, Status::Fail);
        assert_eq!(
            c.observed,
            "status Quarantine; schedule Active; quarantined since 2025-01-01T00:00:00Z (reason \
             EncounteredQuarantineException): HybridIdentityServiceNoActiveAgents: We're unable to find \
             an active agent; next attempt 2025-01-02T06:00:00Z; 3 successive complete failure(s); last run ended \
             2025-01-01T10:00:00Z: Failed"
        );
        assert!(c.remediation.unwrap().contains("AADConnectProvisioningAgent"));
    }

    #[test]
    fn kinds_from_template_or_id() {
        let mut j = job("Active", "Active", None);
        j.template_id = Some("ADDCInPassthrough".into());
        assert_eq!(job_kind(&j), "AD2AADProvisioning (AD to Entra ID provisioning)", "the id's prefix");
        j.id = String::from("Other.1");
        assert_eq!(job_kind(&j), "ADDCInPassthrough");
        j.template_id = Some("AD2AADPasswordHash".into());
        assert_eq!(job_kind(&j), "AD2AADPasswordHash (password hash sync)");
    }

    #[test]
    fn placeholder_times_are_dropped() {
        assert_eq!(time("0001-01-01T00:00:00Z"), None);
        assert_eq!(time("garbage"), None);
        assert_eq!(time("2025-01-01T00:00:00+01:00").as_deref(), Some("2024-12-31T23:00:00Z"));
    }

    #[test]
    fn configuration_verdicts() {
        let config = |name: &str| Configuration { name: name.into(), jobs: None };
        let none = Tenant { complete: true, ..Tenant::default() };
        assert_eq!(configurations_check(&none).status, Status::Pass);
        let two = Tenant { configurations: vec![config("b.test"), config("a.test")], complete: false, refused: None };
        let c = configurations_check(&two);
        assert_eq!(c.status, Status::Pass);
        assert!(c.observed.starts_with("2 configuration(s): a.test, b.test; the listing stopped"), "{}", c.observed);
        let refused = |permission| Refused { permission, error: "GET /x: HTTP 403 Authorization_RequestDenied".into() };
        let sp = Tenant { refused: Some(refused(SERVICE_PRINCIPALS_PERMISSION)), ..Tenant::default() };
        let c = configurations_check(&sp);
        assert_eq!(c.status, Status::Warn);
        assert!(c.remediation.unwrap().contains("Application.Read.All (and Synchronization.Read.All for the jobs)"));
        let jobs =
            Tenant { configurations: vec![config("a.test")], complete: true, refused: Some(refused(JOBS_PERMISSION)) };
        let c = configurations_check(&jobs);
        assert_eq!(c.status, Status::Warn);
        assert!(
            c.observed.starts_with("1 configuration(s) (a.test), but their synchronization jobs"),
            "{}",
            c.observed
        );
        assert!(c.remediation.unwrap().contains("application permission Synchronization.Read.All with admin consent"));
        let many = Tenant {
            configurations: (0..25).map(|i| config(&format!("d{i:02}.test"))).collect(),
            complete: true,
            refused: None,
        };
        assert!(configurations_check(&many).observed.contains("d19.test and 5 more"));
    }
}
