//! Fine-grained password policies (part of probe `ad_policy`) on a real Samba DC: read as an administrator, who
//! sees the PSO with its minimum age, precedence and subjects; and as a plain account, for which the container
//! must be reported as unreadable rather than empty.

mod support;

use std::process::Command;
use std::time::Duration;

use support::exporter::{ad_target, write_file, Exporter, BIN};
use support::samba::{self, SambaDc};

#[tokio::test]
async fn psos_are_read_and_unreadable_containers_reported() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    dc.create_user("alice", "Us3r-Start-Pw-1!").unwrap();
    dc.samba_tool(&["domain", "passwordsettings", "pso", "create", "strict", "10", "--min-pwd-age=1"]).unwrap();
    dc.samba_tool(&["domain", "passwordsettings", "pso", "apply", "strict", "alice"]).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let monitor_pw = write_file(dir.path(), "monitor.pw", samba::MONITOR_PASSWORD);
    let admin_pw = write_file(dir.path(), "admin.pw", samba::ADMIN_PASSWORD);
    let targets = [
        ad_target("admin", &dc.ldaps_url(), dc.ca_pem_path(), samba::ADMIN_UPN, &admin_pw),
        ad_target("plain", &dc.ldaps_url(), dc.ca_pem_path(), samba::MONITOR_UPN, &monitor_pw),
    ];
    let text = format!("global:\n  interval: 1h\n  timeout: 30s\ntargets:\n{}", targets.concat());
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);
    let m = exporter
        .wait_for_metrics(Duration::from_secs(60), "ad_policy of both targets", |m| {
            ["admin", "plain"].iter().all(|t| m.has("writeback_ad_pso_readable", &[("target", t)]))
        })
        .await;
    let pso = [("target", "admin"), ("domain", "corp.example.test"), ("pso", "strict")];
    assert_eq!(m.value("writeback_ad_pso_readable", &[("target", "admin")]), Some(1.0));
    assert_eq!(m.value("writeback_ad_pso_min_password_age_seconds", &pso), Some(86_400.0));
    assert_eq!(m.value("writeback_ad_pso_precedence", &pso), Some(10.0));
    // Samba, like AD, hides the container from ordinary users: that is "unknown", not "no PSOs".
    assert_eq!(m.value("writeback_ad_pso_readable", &[("target", "plain")]), Some(0.0));
    assert!(!m.has("writeback_ad_pso_min_password_age_seconds", &[("target", "plain")]));

    let out = Command::new(BIN)
        .args(["check", "--target", "admin"])
        .arg(format!("--config.file={}", cfg.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("FAIL  ad_policy      Fine-grained password policy minimum age is 0 [strict]: msDS-MinimumPasswordAge = 1 day, applies to CN=alice,CN=Users,DC=corp,DC=example,DC=test"),
        "{text}"
    );
    let out = Command::new(BIN)
        .args(["check", "--target", "plain"])
        .arg(format!("--config.file={}", cfg.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("WARN  ad_policy      Fine-grained password policies readable"), "{text}");
}
