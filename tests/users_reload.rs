//! `ad_users` state across reloads of the real daemon: a reload that leaves the target as it was keeps the state
//! (cycles stay incremental, no new full scan); a reload that changes the scopes throws every scope's state away
//! (the next cycle is a full scan, never a patch of a state read for other settings).

mod support;

use std::time::Duration;

use support::directory::{cmdlet_grants, Seed};
use support::exporter::{write_file, Exporter, Metrics};
use support::samba::{self, SambaDc};

const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=test";
const OTHER: &str = "OU=Other,DC=corp,DC=example,DC=test";
const CONNECTOR: &str = "MSOL_0123456789ab";
const WAIT: Duration = Duration::from_secs(60);
const READ: &str = "writeback_ad_users_objects_read";
const LAST_FULL: &str = "writeback_ad_users_last_full_scan_timestamp_seconds";

fn mode(m: &Metrics, scope: &str, mode: &str) -> bool {
    m.has(READ, &[("scope", scope), ("mode", mode)])
}

fn last_success(m: &Metrics) -> f64 {
    m.value("writeback_probe_last_success_timestamp_seconds", &[("probe", "ad_users")]).unwrap_or(0.0)
}

#[tokio::test]
async fn a_reload_keeps_the_state_unless_the_target_changed() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    let mut seed = Seed::default().user(CONNECTOR, "C0nnector-Pw-9!", None).ou(STAFF).ou(OTHER);
    for i in 0..5 {
        seed = seed.user(&format!("staff{i}"), "Us3r-Start-Pw-1!", Some(STAFF));
        seed = seed.user(&format!("other{i}"), "Us3r-Start-Pw-1!", Some(OTHER));
    }
    cmdlet_grants(seed, STAFF, CONNECTOR).apply(&dc);

    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", samba::MONITOR_PASSWORD);
    let config = |scopes: &str| {
        format!(
            "global:\n  interval: 1h\n  timeout: 30s\n  intervals:\n    ad_users: 2s\ntargets:\n  - name: corp\n    ad:\n      servers: [\"{}\"]\n      bind:\n        user: \"{}\"\n        password_file: \"{}\"\n      tls:\n        ca_file: \"{}\"\n      scopes: [{scopes}]\n      gpo: false\n",
            dc.ldaps_url(),
            samba::MONITOR_UPN,
            pw.display(),
            dc.ca_pem_path().display(),
        )
    };
    let file = write_file(dir.path(), "writeback_exporter.yml", &config(&format!("\"{STAFF}\"")));
    let exporter = Exporter::start(&file, &["--web.enable-lifecycle"]);

    let m =
        exporter.wait_for_metrics(WAIT, "an incremental cycle of OU=Staff", |m| mode(m, STAFF, "incremental")).await;
    let full_at = m.value(LAST_FULL, &[("scope", STAFF)]).expect("last full scan of OU=Staff");
    assert_eq!(m.value("writeback_ad_users", &[("scope", STAFF)]), Some(5.0), "{}", m.text);
    assert_eq!(m.value("writeback_ad_users_ready", &[("scope", STAFF)]), Some(5.0), "{}", m.text);

    // The same configuration again: the target's context, and so the state, survive.
    assert_eq!(exporter.post("/-/reload").await.0, 200);
    let before = last_success(&m);
    let m = exporter.wait_for_metrics(WAIT, "two more ad_users cycles", |m| last_success(m) >= before + 3.0).await;
    assert!(mode(&m, STAFF, "incremental"), "an unchanged reload keeps the state: {}", m.text);
    assert_eq!(m.value(LAST_FULL, &[("scope", STAFF)]), Some(full_at), "no full scan since: {}", m.text);

    // A second scope: the target changed, so its new context starts from nothing, OU=Staff included.
    std::fs::write(&file, config(&format!("\"{STAFF}\", \"{OTHER}\""))).unwrap();
    assert_eq!(exporter.post("/-/reload").await.0, 200);
    let m =
        exporter.wait_for_metrics(WAIT, "the first cycle with OU=Other", |m| m.has(READ, &[("scope", OTHER)])).await;
    assert!(mode(&m, OTHER, "full"), "{}", m.text);
    assert!(mode(&m, STAFF, "full"), "a changed target's scopes are read in full again: {}", m.text);
    assert!(m.value(LAST_FULL, &[("scope", STAFF)]).unwrap() > full_at, "{}", m.text);
    assert_eq!(m.value("writeback_ad_users", &[("scope", OTHER)]), Some(5.0), "{}", m.text);
    assert_eq!(m.value("writeback_ad_users_ready", &[("scope", OTHER)]), Some(0.0), "{}", m.text);
    exporter
        .wait_for_metrics(WAIT, "incremental cycles again", |m| {
            mode(m, STAFF, "incremental") && mode(m, OTHER, "incremental")
        })
        .await;
}
