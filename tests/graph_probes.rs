//! The Entra probes end to end against the Graph fake: licences classified by service plan (fixtures from
//! Microsoft's licensing CSV plus Office-only SKUs), sync and Connect version, the beta 403, SSPR event counting.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::exporter::{Exporter, Metrics};
use support::graph_fake::{
    audit, check, entra_target, now_unix, organization, probe, run_check, secret_credential, sku, sync_object,
    write_config, Credential, GraphFake, Reply, AUDITS, SECRET, SKUS, SYNC,
};

const WAIT: Duration = Duration::from_secs(60);
const P1: (&str, &str) = ("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM");
const P2: (&str, &str) = ("eec0eb4f-6444-4f95-aba0-50c24d67f998", "AAD_PREMIUM_P2");
const EXCHANGE: (&str, &str) = ("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE");
const SHAREPOINT: (&str, &str) = ("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE");
const FLOW: (&str, &str) = ("50e68c76-46c6-4674-81f9-75456511b170", "FLOW_P2_VIRAL");

/// Part numbers from `aad_premium_skus.csv` (odd characters included) and Office-only SKUs, with their verdict.
fn sku_fixtures() -> Vec<(Value, bool)> {
    vec![
        (sku("SPE_E3", &[EXCHANGE, P1], 100, 40, "Enabled"), true),
        (sku("SPE_E5", &[EXCHANGE, P1, P2], 20, 5, "Enabled"), true),
        (sku("EMS", &[P1], 10, 10, "Enabled"), true),
        (sku("IDENTITY_THREAT_PROTECTION", &[P2], 5, 0, "Enabled"), true),
        (sku("SPB", &[EXCHANGE, P1], 3, 1, "Enabled"), true),
        (sku("Microsoft_365_ Business_ Premium_(no Teams)", &[P1], 2, 0, "Enabled"), true),
        (sku("O365_w/o Teams Bundle_M3", &[P1, SHAREPOINT], 2, 0, "Enabled"), true),
        (sku("M365_F1", &[P1], 7, 7, "Enabled"), true),
        (sku("ENTERPRISEPACK", &[EXCHANGE, SHAREPOINT], 500, 480, "Enabled"), false),
        (sku("O365_BUSINESS_PREMIUM", &[EXCHANGE, SHAREPOINT], 30, 30, "Enabled"), false),
        (sku("FLOW_FREE", &[FLOW], 10_000, 12, "Enabled"), false),
    ]
}

struct Rig {
    fake: GraphFake,
    dir: tempfile::TempDir,
}

async fn rig() -> Rig {
    let fake = GraphFake::start(Credential::Secret(SECRET.to_string())).await;
    fake.set_collection(SKUS, sku_fixtures().into_iter().map(|(s, _)| s).collect());
    fake.set_collection(SYNC, vec![sync_object("2.5.79.0", "CONNECT01.corp.example.test", true)]);
    Rig { fake, dir: tempfile::tempdir().unwrap() }
}

impl Rig {
    fn config(&self, global: &str, extra: &str) -> std::path::PathBuf {
        let cred = secret_credential(self.dir.path(), SECRET);
        write_config(self.dir.path(), global, &[entra_target("cloud", &self.fake, &cred, extra)])
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn licences_are_classified_by_service_plan_over_several_pages() {
    let rig = rig().await;
    rig.fake.set_page_size(3);
    let cfg = rig.config("  interval: 1s\n  timeout: 10s\n", "      sspr_audit: false\n");
    let (_, report, log) = run_check(&cfg).await;
    let c = check(probe(&report, "entra_licenses"), "entra_license_writeback_capable");
    assert_eq!(c["status"], "PASS", "{c:#}\n{log}");
    let observed = c["observed"].as_str().unwrap();
    assert!(observed.contains("SPE_E5 (Entra ID P1+P2; 20 enabled, 5 consumed)"), "{observed}");
    assert!(observed.contains("IDENTITY_THREAT_PROTECTION (Entra ID P1+P2"), "{observed}");
    assert!(
        observed.ends_with("does not count (no AAD_PREMIUM or AAD_PREMIUM_P2 service plan): ENTERPRISEPACK, FLOW_FREE, O365_BUSINESS_PREMIUM"),
        "{observed}"
    );
    assert_eq!(rig.fake.requests_to(SKUS).len(), 4, "11 SKUs on pages of 3");

    let exporter = Exporter::start(&cfg, &[]);
    let m = exporter
        .wait_for_metrics(WAIT, "licence metrics", |m| m.has("writeback_entra_license_sku_writeback_capable", &[]))
        .await;
    for (sku, capable) in sku_fixtures() {
        let name = sku["skuPartNumber"].as_str().unwrap();
        let labels = [("target", "cloud"), ("sku", name)];
        let want = if capable { 1.0 } else { 0.0 };
        assert_eq!(m.value("writeback_entra_license_sku_writeback_capable", &labels), Some(want), "{name}");
        let units = |state| m.value("writeback_entra_license_units", &[("sku", name), ("state", state)]);
        assert_eq!(units("enabled"), sku["prepaidUnits"]["enabled"].as_f64(), "{name}");
        assert_eq!(units("consumed"), sku["consumedUnits"].as_f64(), "{name}");
        assert_eq!(units("locked_out"), Some(0.0), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn office_only_tenant_fails_and_exhausted_licences_warn() {
    let rig = rig().await;
    let office: Vec<Value> = sku_fixtures().into_iter().filter(|(_, c)| !c).map(|(s, _)| s).collect();
    rig.fake.set_collection(SKUS, office);
    let cfg = rig.config("  timeout: 10s\n", "      sspr_audit: false\n");
    let (code, report, _) = run_check(&cfg).await;
    let c = check(probe(&report, "entra_licenses"), "entra_license_writeback_capable");
    assert_eq!((code, c["status"].as_str()), (2, Some("FAIL")), "{c:#}");
    assert!(c["observed"].as_str().unwrap().starts_with("no SKU includes Entra ID P1 or P2"));
    assert!(c["remediation"].as_str().unwrap().contains("ENTERPRISEPACK is Office 365 E3"));

    rig.fake.set_collection(SKUS, vec![sku("EMS", &[P1], 10, 10, "Enabled"), sku("SPE_E3", &[P1], 5, 1, "Suspended")]);
    let (code, report, _) = run_check(&cfg).await;
    let c = check(probe(&report, "entra_licenses"), "entra_license_writeback_capable");
    assert_eq!((code, c["status"].as_str()), (1, Some("WARN")), "{c:#}");
    assert!(c["observed"].as_str().unwrap().contains("SPE_E3 is Suspended"), "{c:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_state_and_connect_version_metrics() {
    let rig = rig().await;
    let (last_sync, last_password_sync) = ((now_unix() - 600.0).floor(), (now_unix() - 120.0).floor());
    rig.fake.set_organization(organization(Some(true), Some(last_sync), Some(last_password_sync)));
    let cfg = rig.config("  interval: 1s\n  timeout: 10s\n", "      sspr_audit: false\n");
    let exporter = Exporter::start(&cfg, &[]);
    let m = exporter.wait_for_metrics(WAIT, "sync metrics", |m| m.has("writeback_connect_info", &[])).await;
    let t = [("target", "cloud")];
    assert_eq!(m.value("writeback_entra_sync_enabled", &t), Some(1.0));
    assert_eq!(m.value("writeback_entra_last_sync_timestamp_seconds", &t), Some(last_sync));
    assert_eq!(m.value("writeback_entra_last_password_sync_timestamp_seconds", &t), Some(last_password_sync));
    assert_eq!(m.value("writeback_entra_password_writeback_feature_enabled", &t), Some(1.0));
    let server = [("target", "cloud"), ("server", "connect01.corp.example.test")];
    assert_eq!(m.value("writeback_connect_info", &[server[0], server[1], ("version", "2.5.79.0")]), Some(1.0));
    assert_eq!(m.value("writeback_connect_version_supported", &server), Some(1.0));
    let endpoint = ("endpoint", "beta/directory/onPremisesSynchronization");
    assert_eq!(m.value("writeback_entra_api_permission_missing", &[endpoint]), Some(0.0));

    let (code, report, _) = run_check(&cfg).await;
    let p = probe(&report, "entra_sync");
    assert_eq!(code, 0, "{report:#}");
    for id in ["entra_sync_enabled", "entra_sync_recent", "entra_connect_version"] {
        assert_eq!(check(p, id)["status"], "PASS", "{p:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn old_connect_versions_and_stale_sync_fail_with_their_reason() {
    let rig = rig().await;
    let cases = [
        (
            "1.0.8641.0",
            None,
            "lost password writeback on 2018-11-07, when Azure Access Control Service (ACS) was retired",
        ),
        ("1.6.11.3", None, "every 1.x version stopped synchronizing on 2023-10-01"),
        (
            "2.4.18.0",
            None,
            "below the configured minimum 2.5.79.0: all synchronization of versions below 2.5.79.0 fails",
        ),
        ("2.9.0.0", Some("2.10.1.0"), "below the configured minimum 2.10.1.0"),
    ];
    for (version, min, why) in cases {
        rig.fake.set_collection(SYNC, vec![sync_object(version, "CONNECT01", false)]);
        let extra = match min {
            Some(min) => format!("      sspr_audit: false\n      min_connect_version: {min}\n"),
            None => "      sspr_audit: false\n".to_string(),
        };
        let (code, report, _) = run_check(&rig.config("  timeout: 10s\n", &extra)).await;
        let c = check(probe(&report, "entra_sync"), "entra_connect_version");
        assert_eq!((code, c["status"].as_str(), c["subject"].as_str()), (2, Some("FAIL"), Some("connect01")), "{c:#}");
        assert!(c["observed"].as_str().unwrap().contains(why), "{version}: {c:#}");
        assert!(c["remediation"].as_str().unwrap().starts_with("Upgrade Microsoft Entra Connect on connect01"));
    }
    rig.fake.set_collection(SYNC, vec![sync_object("2.10.1.0", "CONNECT01", false)]);
    rig.fake.set_organization(organization(Some(true), Some(now_unix() - 4.0 * 3600.0), None));
    let extra = "      sspr_audit: false\n      min_connect_version: 2.9.0.0\n";
    let (_, report, _) = run_check(&rig.config("  timeout: 10s\n", extra)).await;
    let p = probe(&report, "entra_sync");
    assert_eq!(check(p, "entra_connect_version")["status"], "PASS", "2.10.1.0 >= 2.9.0.0 numerically: {p:#}");
    let c = check(p, "entra_sync_recent");
    assert_eq!(c["status"], "FAIL");
    assert!(c["observed"].as_str().unwrap().contains("(4.0 hours ago)"), "{c:#}");
}

/// Without OnPremDirectorySynchronization.Read.All the organization part is still published, and the missing
/// permission shows as a metric and a WARN that names it.
#[tokio::test(flavor = "multi_thread")]
async fn beta_403_keeps_the_organization_metrics_and_names_the_permission() {
    let rig = rig().await;
    let denied =
        Reply::graph_error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.");
    rig.fake.always(SYNC, Some(denied));
    let cfg = rig.config("  interval: 1s\n  timeout: 10s\n", "      sspr_audit: false\n");
    let exporter = Exporter::start(&cfg, &[]);
    let endpoint = ("endpoint", "beta/directory/onPremisesSynchronization");
    let m = exporter
        .wait_for_metrics(WAIT, "permission metric", |m| m.has("writeback_entra_api_permission_missing", &[endpoint]))
        .await;
    assert_eq!(m.value("writeback_entra_api_permission_missing", &[("target", "cloud"), endpoint]), Some(1.0));
    assert_eq!(m.value("writeback_probe_success", &[("probe", "entra_sync")]), Some(1.0));
    assert_eq!(m.value("writeback_entra_sync_enabled", &[]), Some(1.0));
    assert!(m.has("writeback_entra_last_sync_timestamp_seconds", &[]));
    assert!(!m.has("writeback_connect_info", &[]) && !m.has("writeback_connect_version_supported", &[]));
    assert!(exporter.log().contains("OnPremDirectorySynchronization.Read.All"), "{}", exporter.log());

    let (code, report, _) = run_check(&cfg).await;
    let c = check(probe(&report, "entra_sync"), "entra_connect_version");
    assert_eq!((code, c["status"].as_str()), (1, Some("WARN")), "{c:#}");
    assert!(c["observed"].as_str().unwrap().contains("HTTP 403 Authorization_RequestDenied"), "{c:#}");
    assert!(c["remediation"].as_str().unwrap().contains("OnPremDirectorySynchronization.Read.All"), "{c:#}");
}

fn sspr(m: &Metrics, activity: &str, result: &str) -> Option<f64> {
    m.value("writeback_entra_sspr_events_total", &[("target", "cloud"), ("activity", activity), ("result", result)])
}

fn sspr_sum(m: &Metrics) -> f64 {
    m.text
        .lines()
        .filter(|l| l.starts_with("writeback_entra_sspr_events_total{"))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

/// Events are counted once across pages and runs (Graph re-serves the overlap window every run), an event older
/// than the first look-back is not counted, and audit requests stay within 5 per 10 s.
#[tokio::test(flavor = "multi_thread")]
async fn sspr_events_are_counted_once_across_runs_and_pages() {
    let rig = rig().await;
    rig.fake.set_page_size(2);
    // Timestamps slightly ahead of now stay inside every run's window, whatever the look-back.
    let t = now_unix() + 30.0;
    rig.fake.set_collection(
        AUDITS,
        vec![
            audit("old", now_unix() - 3600.0, "Reset password (self-service)", "success"),
            audit("a", t, "Reset password (self-service)", "success"),
            audit("b", t + 1.0, "Reset password (self-service)", "success"),
            audit("c", t + 1.0, "Reset password (self-service)", "success"),
            audit("d", t + 2.0, "Reset password (self-service)", "failure"),
            audit("e", t + 3.0, "A future activity", "success"),
        ],
    );
    let cfg = rig.config("  interval: 1s\n  timeout: 30s\n", "");
    let exporter = Exporter::start(&cfg, &["--web.enable-lifecycle"]);
    let m = exporter.wait_for_metrics(WAIT, "first SSPR counts", |m| sspr_sum(m) >= 5.0).await;
    assert_eq!(sspr(&m, "reset_password_self_service", "success"), Some(3.0), "{}", m.text);
    assert_eq!(sspr(&m, "reset_password_self_service", "failure"), Some(1.0));
    assert_eq!(sspr(&m, "other", "success"), Some(1.0));
    assert_eq!(sspr(&m, "change_password_self_service", "success"), Some(0.0), "exported from 0");
    assert_eq!(sspr_sum(&m), 5.0, "the hour-old event is outside the first look-back");

    rig.fake.push_items(
        AUDITS,
        vec![
            audit("f", t + 4.0, "Change password (self-service)", "success"),
            audit("g", t + 5.0, "Unlock user account (self-service)", "timeout"),
        ],
    );
    let m = exporter.wait_for_metrics(WAIT, "second SSPR counts", |m| sspr_sum(m) >= 7.0).await;
    let runs = rig.fake.requests_to(AUDITS).iter().filter(|r| !r.query.contains("skiptoken")).count();
    exporter
        .wait_for_metrics(WAIT, "another run", |_| {
            rig.fake.requests_to(AUDITS).iter().filter(|r| !r.query.contains("skiptoken")).count() > runs + 1
        })
        .await;
    let m2 = Metrics::parse(&exporter.metrics().await);
    for m in [&m, &m2] {
        assert_eq!(sspr_sum(m), 7.0, "{}", m.text);
        assert_eq!(sspr(m, "reset_password_self_service", "success"), Some(3.0));
        assert_eq!(sspr(m, "change_password_self_service", "success"), Some(1.0));
        assert_eq!(sspr(m, "unlock_user_account_self_service", "timeout"), Some(1.0));
    }
    let times: Vec<_> = rig.fake.requests_to(AUDITS).iter().map(|r| r.at).collect();
    assert!(times.len() >= 8, "{} audit requests", times.len());
    for window in times.windows(6) {
        let span = window[5] - window[0];
        assert!(span >= Duration::from_millis(9_500), "6 audit requests within {span:?}");
    }
    let first = &rig.fake.requests_to(AUDITS)[0];
    assert!(first.query.contains("%24orderby=activityDateTime+asc"), "{}", first.query);

    // A reload carries the cursor and the counter over: f and g, already counted, come again with a new h; a
    // fresh cursor would count all three again from 0 (a counter reset that rate() would read as 3 new events).
    rig.fake.set_collection(
        AUDITS,
        vec![
            audit("f", t + 4.0, "Change password (self-service)", "success"),
            audit("g", t + 5.0, "Unlock user account (self-service)", "timeout"),
            audit("h", t + 6.0, "Reset password (self-service)", "failure"),
        ],
    );
    // A changed setting of the target: the reload builds it a new context, which must take over the cursor.
    rig.config("  interval: 1s\n  timeout: 30s\n", "      min_connect_version: 2.5.79.1\n");
    assert_eq!(exporter.post("/-/reload").await.0, 200);
    let m = exporter.wait_for_metrics(WAIT, "h counted after the reload", |m| sspr_sum(m) >= 8.0).await;
    assert_eq!(sspr_sum(&m), 8.0, "{}", m.text);
    assert_eq!(sspr(&m, "reset_password_self_service", "failure"), Some(2.0));
    assert_eq!(sspr(&m, "change_password_self_service", "success"), Some(1.0));
}
