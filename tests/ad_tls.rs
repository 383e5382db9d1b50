//! The LDAP transport options against a real Samba DC: StartTLS, a certificate name override, skipping
//! verification, and plaintext (which AD, and Samba, refuse for a simple bind).

mod support;

use std::path::Path;
use std::time::Duration;

use support::exporter::{write_file, Exporter, Metrics};
use support::samba::{self, SambaDc};

fn target(name: &str, url: &str, pw: &Path, extra: &str) -> String {
    format!(
        "  - name: {name}\n    ad:\n      servers: [\"{url}\"]\n      bind:\n        user: \"{}\"\n        password_file: \"{}\"\n{extra}",
        samba::MONITOR_UPN,
        pw.display()
    )
}

fn succeeded(m: &Metrics, target: &str) -> bool {
    m.value("writeback_probe_success", &[("target", target), ("probe", "ad_policy")]) == Some(1.0)
}

fn failed_with(m: &Metrics, target: &str, reason: &str) -> bool {
    m.value("writeback_probe_failures_total", &[("target", target), ("probe", "ad_policy"), ("reason", reason)])
        .is_some_and(|v| v >= 1.0)
}

#[tokio::test]
async fn starttls_server_name_insecure_and_plaintext() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", samba::MONITOR_PASSWORD);
    let ca = dc.ca_pem_path().display().to_string();
    let foreign = samba::foreign_ca_pem(dir.path()).unwrap().display().to_string();
    let ldaps = dc.ldaps_url();
    let ldap = dc.ldap_url();
    let targets = [
        target("starttls", &ldap, &pw, &format!("      tls:\n        start_tls: true\n        ca_file: \"{ca}\"\n")),
        target(
            "name-ok",
            &ldaps,
            &pw,
            &format!("      tls:\n        ca_file: \"{ca}\"\n        server_name: {}\n", samba::DC_HOST_NAME),
        ),
        target(
            "name-wrong",
            &ldaps,
            &pw,
            &format!("      tls:\n        ca_file: \"{ca}\"\n        server_name: other.example.test\n"),
        ),
        target(
            "insecure",
            &ldaps,
            &pw,
            &format!("      tls:\n        ca_file: \"{foreign}\"\n        insecure_skip_verify: true\n"),
        ),
        target("plaintext", &ldap, &pw, "      allow_plaintext: true\n"),
        // One DC reached through two URLs: its series must appear once (duplicates break the exposition).
        format!(
            "  - name: twice\n    ad:\n      servers: [\"{ldaps}\", \"ldaps://{}\"]\n      bind:\n        user: \"{}\"\n        password_file: \"{}\"\n      tls:\n        ca_file: \"{ca}\"\n",
            dc.ip(),
            samba::MONITOR_UPN,
            pw.display()
        ),
    ];
    let text = format!("global:\n  interval: 2s\n  timeout: 20s\ntargets:\n{}", targets.concat());
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);
    let m = exporter
        .wait_for_metrics(Duration::from_secs(60), "every target probed", |m| {
            succeeded(m, "starttls")
                && succeeded(m, "name-ok")
                && succeeded(m, "insecure")
                && failed_with(m, "name-wrong", "tls")
                && failed_with(m, "plaintext", "config")
                && m.value("writeback_probe_success", &[("target", "twice"), ("probe", "ad_topology")]) == Some(1.0)
                && m.value("writeback_probe_success", &[("target", "twice"), ("probe", "ad_acl")]) == Some(1.0)
        })
        .await;
    let twice =
        m.text.lines().filter(|l| l.starts_with("writeback_ad_dc_up{") && l.contains("target=\"twice\"")).count();
    assert_eq!(twice, 1, "one DC, one series:\n{}", m.text);
    assert_eq!(
        m.value("writeback_ad_domain_min_password_age_seconds", &[("target", "starttls")]),
        Some(86_400.0),
        "StartTLS session reads data"
    );
    let log = exporter.log();
    assert!(log.contains("tls.insecure_skip_verify is set"), "the insecure setting is logged:\n{log}");
    assert!(log.contains("strongerAuthRequired"), "the plaintext refusal is explained:\n{log}");
}
