//! The forest's domains (crossRef objects with systemFlags & 2) on a real Samba DC. Samba hosts one domain here, so
//! a second domain is a crossRef added to the configuration partition for a domain no DC serves
//! (`ghost.example.test`): with `scopes` empty, every domain root is a scope (and every domain's password policy is
//! read), the real domain is evaluated as before,
//! and the ghost domain is reported on its own (a FAIL check naming it, a log line, a counted failure reason) while
//! the probes still succeed.

mod support;

use std::process::Command;
use std::time::Duration;

use support::directory::Seed;
use support::dns::{FakeDns, Record};
use support::exporter::{write_file, Exporter, BIN};
use support::samba::{self, SambaDc};

const GHOST_NC: &str = "DC=ghost,DC=example,DC=test";

#[tokio::test]
async fn every_domain_root_is_a_scope_and_an_unreachable_domain_is_reported_alone() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    Seed::default()
        .user("MSOL_0123456789ab", "C0nnector-Pw-9!", None)
        .add(
            &format!(
                "dn: CN=GHOST,CN=Partitions,CN=Configuration,{dn}\nobjectClass: crossRef\nnCName: {GHOST_NC}\n\
             dnsRoot: ghost.example.test\nnETBIOSName: GHOST\nsystemFlags: 3\n",
                dn = samba::DOMAIN_DN
            ),
            &["relax:0"],
        )
        .apply(&dc);
    // The target's DNS knows the real DC only: the ghost domain has neither SRV nor address records.
    let dns = FakeDns::start(vec![Record::a(dc.host_name(), dc.ip())]);
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", samba::MONITOR_PASSWORD);
    let text = format!(
        "global:\n  interval: 3s\n  timeout: 30s\ntargets:\n  - name: corp\n    ad:\n      servers: [\"ldaps://{host}:636\"]\n      dns_servers: [\"{dns}\"]\n      bind:\n        user: \"{upn}\"\n        password_file: \"{pw}\"\n      tls:\n        ca_file: \"{ca}\"\n",
        host = dc.host_name(),
        dns = dns.addr,
        upn = samba::MONITOR_UPN,
        pw = pw.display(),
        ca = dc.ca_pem_path().display(),
    );
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);
    let failed = |probe: &'static str| [("target", "corp"), ("probe", probe), ("reason", "connect")];
    let m = exporter
        .wait_for_metrics(Duration::from_secs(60), "both probes succeed, the ghost domain counted", |m| {
            ["ad_policy", "ad_acl", "ad_users"].iter().all(|p| {
                m.value("writeback_probe_success", &[("target", "corp"), ("probe", p)]) == Some(1.0)
                    && m.value("writeback_probe_failures_total", &failed(p)).is_some_and(|v| v >= 1.0)
            })
        })
        .await;
    let scope = [("domain", samba::DNS_DOMAIN), ("scope", samba::DOMAIN_DN), ("account", "MSOL_0123456789ab")];
    assert!(m.has("writeback_ad_scope_permission", &scope), "{}", m.text);
    assert!(m.has("writeback_ad_domain_unexpire_password", &[("domain", samba::DNS_DOMAIN)]), "{}", m.text);
    assert!(m.has("writeback_ad_users_ready", &scope), "{}", m.text);
    assert!(!m.has("writeback_ad_users", &[("domain", "ghost.example.test")]), "{}", m.text);
    assert_eq!(
        m.value("writeback_ad_domain_min_password_age_seconds", &[("domain", samba::DNS_DOMAIN)]),
        Some(86_400.0)
    );
    assert!(!m.has("writeback_ad_domain_min_password_age_seconds", &[("domain", "ghost.example.test")]));
    assert!(!m.has("writeback_ad_scope_permission", &[("scope", GHOST_NC)]), "{}", m.text);
    let log = exporter.log();
    assert!(log.contains("forest domain not reachable") && log.contains("domain=ghost.example.test"), "{log}");
    assert!(dns.queries_for("_ldap._tcp.dc._msdcs.ghost.example.test", "SRV") >= 1, "SRV of the ghost domain asked");

    let out = Command::new(BIN).arg("check").arg(format!("--config.file={}", cfg.display())).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{report}");
    let ghost: Vec<&str> = report.lines().filter(|l| l.contains("ghost.example.test")).collect();
    for part in [
        "ad_policy      A DC of forest domain ghost.example.test answers (password policy)",
        "ad_acl         A DC of forest domain ghost.example.test answers (scope permissions)",
        "ad_users       A DC of forest domain ghost.example.test answers (user scan)",
    ] {
        assert!(ghost.iter().any(|l| l.trim_start().starts_with(&format!("FAIL  {part}"))), "{part}:\n{report}");
    }
    // The real domain is still judged in the same report.
    assert!(report.contains("Unexpire Password on the domain root DC=corp,DC=example,DC=test"), "{report}");
    assert!(report.contains(&format!("[{} for MSOL_0123456789ab]", samba::DOMAIN_DN)), "{report}");
}
