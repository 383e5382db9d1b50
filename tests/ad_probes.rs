//! The AD probes end to end: the real binary against a real Samba AD DC over LDAPS.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::exporter::{ad_target, write_file, Exporter, BIN};
use support::samba::{self, SambaDc};

const WAIT: Duration = Duration::from_secs(60);

fn start_dc() -> SambaDc {
    SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"))
}

fn config(dir: &Path, targets: &[String]) -> std::path::PathBuf {
    let text = format!("global:\n  interval: 2s\n  timeout: 20s\ntargets:\n{}", targets.concat());
    write_file(dir, "writeback_exporter.yml", &text)
}

fn monitor_password(dir: &Path) -> std::path::PathBuf {
    write_file(dir, "ad.password", &format!("{}\n", samba::MONITOR_PASSWORD))
}

fn run_check(config: &Path, output: &str) -> (i32, String) {
    let out = Command::new(BIN)
        .args(["check", "--output", output])
        .arg(format!("--config.file={}", config.display()))
        .output()
        .expect("run check");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// LDAPS with the right CA: DC up, the domain policy read exactly (a fresh domain has minPwdAge 1 day), then
/// 0 after the administrator fixes it; `check` says FAIL (exit 2) with the fix, then PASS (exit 0).
#[tokio::test]
async fn reads_domain_policy_and_follows_min_password_age_changes() {
    let dc = start_dc();
    let dir = tempfile::tempdir().unwrap();
    let pw = monitor_password(dir.path());
    let cfg = config(dir.path(), &[ad_target("corp", &dc.ldaps_url(), dc.ca_pem_path(), samba::MONITOR_UPN, &pw)]);

    let (code, text) = run_check(&cfg, "text");
    assert_eq!(code, 2, "check must FAIL on a fresh domain:\n{text}");
    assert!(
        text.contains("FAIL  ad_policy      Domain minimum password age is 0 [corp.example.test]: minPwdAge = 1 day"),
        "{text}"
    );
    assert!(text.contains("Account Policies > Password Policy > Minimum password age = 0"), "{text}");
    assert!(text.contains("Set-ADDefaultDomainPasswordPolicy -Identity corp.example.test -MinPasswordAge 0"), "{text}");

    let exporter = Exporter::start(&cfg, &[]);
    let domain = [("target", "corp"), ("domain", "corp.example.test")];
    let m = exporter
        .wait_for_metrics(WAIT, "min password age", |m| m.has("writeback_ad_domain_min_password_age_seconds", &domain))
        .await;
    assert_eq!(m.value("writeback_ad_domain_min_password_age_seconds", &domain), Some(86_400.0));
    assert_eq!(m.value("writeback_ad_domain_max_password_age_seconds", &domain), Some(3_628_800.0));
    assert_eq!(m.value("writeback_ad_domain_min_password_length", &domain), Some(7.0));
    assert_eq!(m.value("writeback_ad_domain_password_history_length", &domain), Some(24.0));
    assert_eq!(m.value("writeback_ad_domain_password_complexity_enabled", &domain), Some(1.0));
    assert_eq!(m.value("writeback_ad_domain_lockout_threshold", &domain), Some(0.0));
    let dc_labels = [("target", "corp"), ("domain", "corp.example.test"), ("dc", samba::DC_HOST_NAME)];
    let m = exporter.wait_for_metrics(WAIT, "dc up", |m| m.has("writeback_ad_dc_up", &dc_labels)).await;
    assert_eq!(m.value("writeback_ad_dc_up", &dc_labels), Some(1.0));
    assert!(m.has("writeback_ad_dc_policy_hints_supported", &dc_labels));
    assert_eq!(m.value("writeback_probe_success", &[("target", "corp"), ("probe", "ad_policy")]), Some(1.0));

    dc.set_min_pwd_age_days(0).unwrap();
    exporter
        .wait_for_metrics(WAIT, "min password age 0", |m| {
            m.value("writeback_ad_domain_min_password_age_seconds", &domain) == Some(0.0)
        })
        .await;
    let (code, text) = run_check(&cfg, "text");
    assert!(
        text.contains(
            "PASS  ad_policy      Domain minimum password age is 0 [corp.example.test]: minPwdAge = 0 seconds"
        ),
        "{text}"
    );
    // Samba 4.17 does not offer LDAP_SERVER_POLICY_HINTS_OID, so its DC rightly keeps that FAIL (a Windows Server
    // 2016+ DC offers it), and this bare domain has no connector account; the policy FAIL is gone.
    let m = exporter.metrics().await;
    assert_eq!(
        support::exporter::Metrics::parse(&m).value("writeback_ad_dc_policy_hints_supported", &dc_labels),
        Some(0.0)
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("FAIL  ad_topology    DC supports the LDAP password policy hints control"), "{text}");
    assert!(!text.contains("FAIL  ad_policy"), "{text}");
    assert!(text.contains(" 0 probe errors"), "{text}");

    let (_, json) = run_check(&cfg, "json");
    let doc: serde_json::Value = serde_json::from_str(&json).expect("check --output json is JSON");
    let check = doc["targets"][0]["probes"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["probe"] == "ad_policy"))
        .and_then(|p| p["checks"].as_array())
        .and_then(|c| c.iter().find(|c| c["id"] == "ad_domain_min_password_age"))
        .cloned()
        .expect("ad_domain_min_password_age in the JSON report");
    assert_eq!(check["status"], "PASS");
    assert_eq!(check["subject"], "corp.example.test");
}

/// A wrong CA is a TLS failure; a wrong password an auth failure. Neither publishes data series.
#[tokio::test]
async fn wrong_ca_and_wrong_password_are_classified() {
    let dc = start_dc();
    let dir = tempfile::tempdir().unwrap();
    let pw = monitor_password(dir.path());
    let bad_pw = write_file(dir.path(), "wrong.password", "not-the-password\n");
    let foreign = samba::foreign_ca_pem(dir.path()).unwrap();
    let cfg = config(
        dir.path(),
        &[
            ad_target("wrongca", &dc.ldaps_url(), &foreign, samba::MONITOR_UPN, &pw),
            ad_target("wrongpw", &dc.ldaps_url(), dc.ca_pem_path(), samba::MONITOR_UPN, &bad_pw),
        ],
    );
    let exporter = Exporter::start(&cfg, &[]);
    let m = exporter
        .wait_for_metrics(WAIT, "both failures", |m| {
            m.value(
                "writeback_probe_failures_total",
                &[("target", "wrongca"), ("probe", "ad_policy"), ("reason", "tls")],
            )
            .is_some_and(|v| v >= 1.0)
                && m.value(
                    "writeback_probe_failures_total",
                    &[("target", "wrongpw"), ("probe", "ad_policy"), ("reason", "auth")],
                )
                .is_some_and(|v| v >= 1.0)
        })
        .await;
    for target in ["wrongca", "wrongpw"] {
        assert_eq!(m.value("writeback_probe_success", &[("target", target), ("probe", "ad_policy")]), Some(0.0));
        assert!(!m.has("writeback_ad_domain_min_password_age_seconds", &[("target", target)]));
        assert!(!m.has("writeback_probe_last_success_timestamp_seconds", &[("target", target)]));
    }
    // The password never reaches the log, even at debug level.
    assert!(!exporter.log().contains(samba::MONITOR_PASSWORD));
    assert!(!exporter.log().contains("not-the-password"));
}

/// A DC that stops: its target's probes fail and its series vanish; a target on another DC is unaffected.
#[tokio::test]
async fn stopped_dc_fails_its_target_only() {
    let mut doomed = start_dc();
    let healthy = start_dc();
    let dir = tempfile::tempdir().unwrap();
    let pw = monitor_password(dir.path());
    let cfg = config(
        dir.path(),
        &[
            ad_target("doomed", &doomed.ldaps_url(), doomed.ca_pem_path(), samba::MONITOR_UPN, &pw),
            ad_target("healthy", &healthy.ldaps_url(), healthy.ca_pem_path(), samba::MONITOR_UPN, &pw),
        ],
    );
    let exporter = Exporter::start(&cfg, &[]);
    let series = |t: &'static str| [("target", t), ("domain", "corp.example.test")];
    exporter
        .wait_for_metrics(WAIT, "both targets up", |m| {
            m.has("writeback_ad_domain_min_password_age_seconds", &series("doomed"))
                && m.has("writeback_ad_domain_min_password_age_seconds", &series("healthy"))
        })
        .await;

    doomed.stop();
    let m = exporter
        .wait_for_metrics(WAIT, "doomed target failing", |m| {
            m.value("writeback_probe_success", &[("target", "doomed"), ("probe", "ad_policy")]) == Some(0.0)
                && m.value("writeback_probe_success", &[("target", "doomed"), ("probe", "ad_topology")]) == Some(0.0)
        })
        .await;
    assert!(!m.has("writeback_ad_domain_min_password_age_seconds", &series("doomed")), "stale series kept");
    assert!(!m.has("writeback_ad_dc_up", &[("target", "doomed")]), "stale series kept");
    let connect = m.value(
        "writeback_probe_failures_total",
        &[("target", "doomed"), ("probe", "ad_policy"), ("reason", "connect")],
    );
    assert!(connect.is_some_and(|v| v >= 1.0), "{}", m.text);
    assert!(m.has("writeback_probe_last_success_timestamp_seconds", &[("target", "doomed"), ("probe", "ad_policy")]));
    assert_eq!(m.value("writeback_probe_success", &[("target", "healthy"), ("probe", "ad_policy")]), Some(1.0));
    assert_eq!(m.value("writeback_ad_domain_min_password_age_seconds", &series("healthy")), Some(86_400.0));

    // The DC comes back: so do its series.
    doomed.restart().unwrap();
    exporter
        .wait_for_metrics(WAIT, "doomed target back", |m| {
            m.has("writeback_ad_domain_min_password_age_seconds", &series("doomed"))
        })
        .await;
}
