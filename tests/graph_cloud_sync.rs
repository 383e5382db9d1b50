//! Probe `entra_cloud_sync` end to end against the Graph fake, with Microsoft's documented payloads: Cloud Sync
//! configurations found by the AD2AAD template over several pages, job states judged (active, quarantined with a
//! documented error code, paused), a refused permission as a WARN that hides nothing else, throttling retried, and
//! a service principal id that is not a GUID refused before it reaches a URL.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use support::exporter::Exporter;
use support::graph_fake::{
    check, entra_target, jobs_path, now_unix, probe, run_check, secret_credential, service_principal, sku, sync_job,
    sync_object, write_config, Credential, GraphFake, Reply, AD2AAD_TEMPLATE, SECRET, SERVICE_PRINCIPALS, SKUS, SYNC,
};

const P1: (&str, &str) = ("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM");
const CORP: &str = "614ac0e9-a59b-481f-bd8f-79a73d167e1c";
const BRANCH: &str = "8895955e-2e6c-4d79-8943-4d72ca36878f";
const LAB: &str = "d583d090-9cd3-4d0a-aee6-8d666658c3e9";
/// An ordinary app: same listing, no template, so the filter leaves it out.
const OTHER_APP: &str = "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb";

struct Rig {
    fake: GraphFake,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

/// A licensed, synced tenant (Connect 2.5.79.0 side by side) with three Cloud Sync configurations: corp (healthy),
/// branch (quarantined: no active agent), lab (paused), plus an unrelated service principal.
async fn rig() -> Rig {
    let fake = GraphFake::start(Credential::Secret(SECRET.to_string())).await;
    fake.set_collection(SKUS, vec![sku("AAD_PREMIUM", &[P1], 10, 1, "Enabled")]);
    fake.set_collection(SYNC, vec![sync_object("2.5.79.0", "CONNECT01.corp.example.test", true)]);
    fake.set_collection(
        SERVICE_PRINCIPALS,
        vec![
            service_principal(CORP, "corp.example.test", Some(AD2AAD_TEMPLATE)),
            service_principal(OTHER_APP, "Payroll", None),
            service_principal(BRANCH, "branch.example.test", Some(AD2AAD_TEMPLATE)),
            service_principal(LAB, "lab.example.test", Some(AD2AAD_TEMPLATE)),
        ],
    );
    let recent = now_unix() - 120.0;
    fake.set_collection(
        &jobs_path(CORP),
        vec![
            sync_job("AD2AADProvisioning", "Active", "Active", Some(("Succeeded", recent)), None),
            sync_job("AD2AADPasswordHash", "Active", "Active", Some(("Succeeded", recent)), None),
        ],
    );
    let no_agent = (
        "EncounteredQuarantineException",
        "HybridIdentityServiceNoActiveAgents",
        "We're unable to find an active agent for the domain you're trying to sync.",
    );
    fake.set_collection(
        &jobs_path(BRANCH),
        vec![sync_job("AD2AADProvisioning", "Quarantine", "Active", Some(("Failed", recent)), Some(no_agent))],
    );
    fake.set_collection(&jobs_path(LAB), vec![sync_job("AD2AADProvisioning", "Paused", "Disabled", None, None)]);
    let dir = tempfile::tempdir().unwrap();
    let cred = secret_credential(dir.path(), SECRET);
    let target = entra_target("cloud", &fake, &cred, "      sspr_audit: false\n");
    let config = write_config(dir.path(), "  interval: 1s\n  timeout: 10s\n", &[target]);
    Rig { fake, config, _dir: dir }
}

fn job<'a>(p: &'a Value, subject: &str) -> &'a Value {
    let checks = p["checks"].as_array().expect("checks");
    checks
        .iter()
        .find(|c| c["id"] == "entra_cloud_sync_job" && c["subject"] == subject)
        .unwrap_or_else(|| panic!("no job check for {subject} in {p:#}"))
}

fn job_checks(p: &Value) -> usize {
    p["checks"].as_array().expect("checks").iter().filter(|c| c["id"] == "entra_cloud_sync_job").count()
}

#[tokio::test(flavor = "multi_thread")]
async fn configurations_and_jobs_are_judged_over_pages() {
    let rig = rig().await;
    rig.fake.set_page_size(1);
    let (code, report, log) = run_check(&rig.config).await;
    let p = probe(&report, "entra_cloud_sync");
    assert_eq!(p["state"], "ok", "{p:#}\n{log}");
    assert_eq!(code, 2, "the quarantined configuration is a FAIL: {report:#}");

    let summary = check(p, "entra_cloud_sync_configurations");
    assert_eq!(summary["status"], "PASS", "{summary:#}");
    let observed = summary["observed"].as_str().unwrap();
    assert!(
        observed.starts_with("3 configuration(s): branch.example.test, corp.example.test, lab.example.test. "),
        "{observed}"
    );
    assert!(!observed.contains("Payroll"), "{observed}");

    let corp = job(p, "corp.example.test: AD2AADProvisioning (AD to Entra ID provisioning)");
    assert_eq!(corp["status"], "PASS", "{corp:#}");
    assert!(corp["observed"].as_str().unwrap().starts_with("status Active; schedule Active; last run ended "));
    assert_eq!(job(p, "corp.example.test: AD2AADPasswordHash (password hash sync)")["status"], "PASS");

    let branch = job(p, "branch.example.test: AD2AADProvisioning (AD to Entra ID provisioning)");
    assert_eq!(branch["status"], "FAIL", "{branch:#}");
    let observed = branch["observed"].as_str().unwrap();
    assert!(
        observed.contains(
            "quarantined since 2025-01-01T00:00:00Z (reason EncounteredQuarantineException): \
             HybridIdentityServiceNoActiveAgents: We're unable to find an active agent"
        ),
        "{observed}"
    );
    assert!(observed.contains("3 successive complete failure(s)"), "{observed}");
    assert!(branch["remediation"].as_str().unwrap().contains("AADConnectProvisioningAgent"), "{branch:#}");

    let lab = job(p, "lab.example.test: AD2AADProvisioning (AD to Entra ID provisioning)");
    assert_eq!(lab["status"], "WARN", "{lab:#}");
    assert!(lab["observed"].as_str().unwrap().starts_with("status Paused; schedule Disabled"), "{lab:#}");
    assert_eq!(job_checks(p), 4);

    // Three configurations on pages of one, read with the documented filter; each configuration's jobs on pages of
    // one too (corp has two).
    let listing = rig.fake.requests_to(SERVICE_PRINCIPALS);
    assert_eq!(listing.len(), 3, "{listing:?}");
    assert!(listing[0].query.contains("applicationTemplateId+eq+%271a4721b3-e57f-4451-ae87-ef078703ec94%27"));
    for (sp, pages) in [(CORP, 2), (BRANCH, 1), (LAB, 1)] {
        assert_eq!(rig.fake.requests_to(&jobs_path(sp)).len(), pages, "{sp}");
    }
    assert!(rig.fake.requests_to(&jobs_path(OTHER_APP)).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tenant_without_cloud_sync_passes() {
    let rig = rig().await;
    rig.fake.set_collection(SERVICE_PRINCIPALS, vec![service_principal(OTHER_APP, "Payroll", None)]);
    let (code, report, _) = run_check(&rig.config).await;
    let p = probe(&report, "entra_cloud_sync");
    let c = check(p, "entra_cloud_sync_configurations");
    assert_eq!(c["status"], "PASS", "{c:#}");
    assert!(c["observed"].as_str().unwrap().starts_with("no Entra Cloud Sync configuration"), "{c:#}");
    assert_eq!(job_checks(p), 0);
    assert_eq!(code, 0, "{report:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_permissions_warn_by_name_and_hide_nothing_else() {
    let rig = rig().await;
    let denied =
        || Reply::graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.");

    // Without Application.Read.All nothing can be listed.
    rig.fake.always(SERVICE_PRINCIPALS, Some(denied()));
    let (code, report, log) = run_check(&rig.config).await;
    let p = probe(&report, "entra_cloud_sync");
    assert_eq!(p["state"], "ok", "a missing permission is not a probe failure: {p:#}");
    let c = check(p, "entra_cloud_sync_configurations");
    assert_eq!(c["status"], "WARN", "{c:#}");
    assert!(c["observed"].as_str().unwrap().contains("HTTP 403 Authorization_RequestDenied"), "{c:#}");
    assert!(c["remediation"].as_str().unwrap().contains("application permission Application.Read.All"), "{c:#}");
    assert_eq!(job_checks(p), 0);
    assert_eq!(code, 1, "WARN, and the other Entra probes still PASS: {report:#}");
    assert_eq!(check(probe(&report, "entra_sync"), "entra_connect_version")["status"], "PASS");
    assert!(log.contains("Application.Read.All"), "the log names the permission:\n{log}");

    // Without Synchronization.Read.All the configurations are listed, their jobs are not; one refusal is enough.
    rig.fake.always(SERVICE_PRINCIPALS, None);
    rig.fake.always(&jobs_path(CORP), Some(denied()));
    rig.fake.always(&jobs_path(BRANCH), Some(denied()));
    rig.fake.always(&jobs_path(LAB), Some(denied()));
    let (code, report, _) = run_check(&rig.config).await;
    let p = probe(&report, "entra_cloud_sync");
    assert_eq!(p["state"], "ok", "{p:#}");
    let c = check(p, "entra_cloud_sync_configurations");
    assert_eq!(c["status"], "WARN", "{c:#}");
    assert!(
        c["observed"].as_str().unwrap().starts_with(
            "3 configuration(s) (branch.example.test, corp.example.test, lab.example.test), but their \
             synchronization jobs cannot be read"
        ),
        "{c:#}"
    );
    assert!(c["remediation"].as_str().unwrap().contains("application permission Synchronization.Read.All"));
    assert_eq!(job_checks(p), 0);
    assert_eq!(code, 1, "{report:#}");
    let jobs_reads: usize = [CORP, BRANCH, LAB].iter().map(|sp| rig.fake.requests_to(&jobs_path(sp)).len()).sum();
    assert_eq!(jobs_reads, 1, "the refusal is tenant-wide: no further jobs reads");
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried_after_retry_after() {
    let rig = rig().await;
    let throttled = || Reply::Json {
        status: 429,
        body: json!({"error": {"code": "TooManyRequests", "message": "Too many requests"}}),
        retry_after: Some(1),
    };
    rig.fake.script(SERVICE_PRINCIPALS, throttled());
    rig.fake.script(&jobs_path(CORP), throttled());
    let (_, report, _) = run_check(&rig.config).await;
    let p = probe(&report, "entra_cloud_sync");
    assert_eq!(p["state"], "ok", "{p:#}");
    assert_eq!(job(p, "corp.example.test: AD2AADProvisioning (AD to Entra ID provisioning)")["status"], "PASS");
    for path in [SERVICE_PRINCIPALS.to_string(), jobs_path(CORP)] {
        let seen = rig.fake.requests_to(&path);
        assert_eq!(seen.len(), 2, "{path}: one 429, one retry");
        assert!(seen[1].at - seen[0].at >= Duration::from_millis(900), "{path}: Retry-After honoured");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_id_that_is_not_a_guid_never_reaches_a_url() {
    let rig = rig().await;
    let hostile = service_principal("../../users", "evil.example.test", Some(AD2AAD_TEMPLATE));
    rig.fake.set_collection(SERVICE_PRINCIPALS, vec![hostile]);
    let (_, report, _) = run_check(&rig.config).await;
    let p = probe(&report, "entra_cloud_sync");
    assert_eq!(p["state"], "failed", "{p:#}");
    assert_eq!(p["reason"], "protocol", "{p:#}");
    assert!(p["error"].as_str().unwrap().contains("not a GUID"), "{p:#}");
    let after_listing: Vec<_> = rig
        .fake
        .seen()
        .into_iter()
        .filter(|r| r.path.contains("synchronization") || r.path.contains("users"))
        .collect();
    assert!(after_listing.is_empty(), "{after_listing:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_runs_the_probe() {
    let rig = rig().await;
    let exporter = Exporter::start(&rig.config, &[]);
    let m = exporter
        .wait_for_metrics(Duration::from_secs(60), "entra_cloud_sync ran", |m| {
            m.has("writeback_probe_success", &[("probe", "entra_cloud_sync")])
        })
        .await;
    let labels = [("target", "cloud"), ("probe", "entra_cloud_sync")];
    assert_eq!(m.value("writeback_probe_success", &labels), Some(1.0));
}
