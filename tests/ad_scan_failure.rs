//! A DC that drops the connection in the middle of the user scan: the run fails with reason `connect` and
//! publishes nothing partial, while the probes whose traffic fits in the budget still succeed.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use support::directory::Seed;
use support::exporter::{write_file, Exporter};
use support::proxy::CuttingProxy;
use support::samba::{self, SambaDc};

#[tokio::test]
async fn connection_cut_mid_scan_fails_the_run_without_partial_data() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    let mut seed =
        Seed::default().user("MSOL_0123456789ab", "C0nnector-Pw-9!", None).ou("OU=Many,DC=corp,DC=example,DC=test");
    for i in 0..150 {
        seed = seed.user(&format!("user{i:03}"), "Us3r-Start-Pw-1!", Some("OU=Many,DC=corp,DC=example,DC=test"));
    }
    seed.apply(&dc);

    // About 2 KB of security descriptor per user: 150 users are far more than 120 KB, one probe's rootDSE,
    // policy or scope reads far less.
    let proxy = CuttingProxy::start(format!("{}:636", dc.ip()).parse().unwrap(), 120_000).await;
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", samba::MONITOR_PASSWORD);
    let text = format!(
        "global:\n  interval: 3s\n  timeout: 30s\ntargets:\n  - name: corp\n    ad:\n      servers: [\"ldaps://127.0.0.1:{}\"]\n      bind:\n        user: \"{}\"\n        password_file: \"{}\"\n      tls:\n        ca_file: \"{}\"\n        server_name: {}\n      scopes: [\"OU=Many,DC=corp,DC=example,DC=test\"]\n      page_size: 10\n",
        proxy.addr.port(),
        samba::MONITOR_UPN,
        pw.display(),
        dc.ca_pem_path().display(),
        samba::DC_HOST_NAME,
    );
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);
    let m = exporter
        .wait_for_metrics(Duration::from_secs(60), "a failed user scan and a successful ACL probe", |m| {
            m.value("writeback_probe_failures_total", &[("probe", "ad_users"), ("reason", "connect")])
                .is_some_and(|v| v >= 1.0)
                && m.value("writeback_probe_success", &[("probe", "ad_acl")]) == Some(1.0)
        })
        .await;
    assert_eq!(m.value("writeback_probe_success", &[("probe", "ad_users")]), Some(0.0));
    for name in ["writeback_ad_users", "writeback_ad_users_ready", "writeback_ad_users_not_ready"] {
        assert!(!m.has(name, &[]), "{name} published from a scan that failed part-way:\n{}", m.text);
    }
    assert!(m.has("writeback_ad_scope_permission", &[("account", "MSOL_0123456789ab")]));
    assert!(proxy.cuts.load(Ordering::SeqCst) >= 1, "the proxy never cut a connection");
    assert!(
        exporter.log().contains("the connection was closed by the server") || exporter.log().contains("cannot connect"),
        "{}",
        exporter.log()
    );
}

/// A DC that accepts TCP and then never says a word: every probe gives up within its bounds with reason
/// `timeout` (the TLS handshake and the bind are bounded), and the exporter keeps serving.
#[tokio::test]
async fn silent_dc_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket); // keep the connection, answer nothing
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", "irrelevant\n");
    let text = format!(
        "global:\n  interval: 2s\n  timeout: 3s\ntargets:\n  - name: silent\n    ad:\n      servers: [\"ldaps://127.0.0.1:{port}\"]\n      bind:\n        user: svc@corp.example.test\n        password_file: \"{}\"\n",
        pw.display()
    );
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);
    let m = exporter
        .wait_for_metrics(Duration::from_secs(30), "timeouts", |m| {
            m.value("writeback_probe_failures_total", &[("probe", "ad_policy"), ("reason", "timeout")])
                .is_some_and(|v| v >= 1.0)
        })
        .await;
    assert_eq!(m.value("writeback_probe_success", &[("probe", "ad_policy")]), Some(0.0));
    let duration = m.value("writeback_probe_duration_seconds", &[("probe", "ad_policy")]).unwrap();
    assert!(duration <= 3.5, "the run must end at its timeout, took {duration}s");
    assert_eq!(exporter.get("/-/healthy").await.0, 200);
    held.abort();
}
