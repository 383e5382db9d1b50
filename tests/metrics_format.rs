//! The `/metrics` page of the real exporter scraping a real Samba DC: `promtool check metrics` is clean, and
//! the page matches the golden file once volatile values (durations, timestamps, process metrics) are masked.
//! Set `UPDATE_GOLDEN=1` to rewrite the golden file after an intended change.

mod support;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::directory::Seed;
use support::exporter::{ad_target, write_file, Exporter};
use support::samba::{self, SambaDc};

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/golden/metrics.txt")
}

/// Masks what changes from run to run so that the rest can be compared byte for byte.
fn normalize(text: &str) -> String {
    let volatile = [
        "writeback_probe_duration_seconds{",
        "writeback_probe_last_success_timestamp_seconds{",
        "writeback_ad_connector_account_password_last_set_timestamp_seconds{",
        "writeback_ad_connector_account_password_expiry_timestamp_seconds{",
        "writeback_ad_users_last_full_scan_timestamp_seconds{",
    ];
    text.lines()
        .filter(|l| !l.contains(" process_") && !l.starts_with("process_"))
        .map(|l| {
            if volatile.iter().any(|v| l.starts_with(v)) {
                let (series, _) = l.rsplit_once(' ').unwrap_or((l, ""));
                format!("{series} <volatile>")
            } else if let Some(start) = l.find("sid=\"S-1-5-21-") {
                // Every provisioned domain has its own SID.
                let end = l[start + 5..].find('"').map_or(l.len(), |e| start + 5 + e + 1);
                format!("{}sid=\"<domain SID>-RID\"{}", &l[..start], &l[end..])
            } else if l.starts_with("writeback_exporter_build_info{") {
                "writeback_exporter_build_info{<build labels>} 1".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[tokio::test]
async fn metrics_page_passes_promtool_and_matches_golden() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    // A connector account holding Reset Password on descendant users, so that permission series are on the page.
    Seed::default()
        .user("MSOL_0123456789ab", "C0nnector-Pw-9!", None)
        .ace(
            samba::DOMAIN_DN,
            "(OA;CIIO;CR;00299570-246d-11d0-a768-00aa006e0529;bf967aba-0de6-11d0-a285-00aa003049e2;{sid:MSOL_0123456789ab})",
        )
        .apply(&dc);
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "ad.password", samba::MONITOR_PASSWORD);
    let targets = [
        ad_target("corp", &dc.ldaps_url(), dc.ca_pem_path(), samba::MONITOR_UPN, &pw),
        // A second target that can never connect: its probe health is on the page, its data series are not.
        ad_target("unreachable", "ldaps://127.0.0.1:1", dc.ca_pem_path(), samba::MONITOR_UPN, &pw),
    ];
    let text = format!("global:\n  interval: 1h\n  timeout: 20s\ntargets:\n{}", targets.concat());
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);
    let m = exporter
        .wait_for_metrics(Duration::from_secs(60), "every probe ran once", |m| {
            ["corp", "unreachable"].iter().all(|t| {
                ["ad_topology", "ad_policy", "ad_connector", "ad_acl", "ad_users", "ad_gpo", "ad_monitoring_read"]
                    .iter()
                    .all(|p| m.has("writeback_probe_success", &[("target", t), ("probe", p)]))
            })
        })
        .await;

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/install-deps.sh)");
    promtool.stdin.take().unwrap().write_all(m.text.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    let findings = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && findings.trim().is_empty(), "promtool check metrics:\n{findings}\n{}", m.text);

    let actual = normalize(&m.text);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_path().parent().unwrap()).unwrap();
        std::fs::write(golden_path(), &actual).unwrap();
    }
    let golden = std::fs::read_to_string(golden_path()).expect("golden file (run with UPDATE_GOLDEN=1 to create)");
    assert_eq!(actual, golden, "the /metrics page changed; if intended, rerun with UPDATE_GOLDEN=1");
}
