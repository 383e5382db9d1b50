//! Probes await what they need from the target's shared per-cycle reads (the DC list, the connector accounts, the
//! forest's domains, the Group Policy) instead of reading what another probe left behind: `ad_acl` run before
//! `ad_topology` has ever run yields the same series as after it, including those of a DC that only the directory
//! lists; `ad_gpo` and `ad_monitoring_read` share one SMB logon to SYSVOL per cycle.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use support::directory::{cmdlet_grants, Seed};
use support::dns::{FakeDns, Record};
use support::exporter::write_file;
use support::proxy::CuttingProxy;
use support::samba::{self, SambaDc};
use writeback_exporter::app::load_config;
use writeback_exporter::base::ProbeOutput;
use writeback_exporter::config::Config;
use writeback_exporter::probe::{probes_for, run_probe, TargetContext};

const CONNECTOR: &str = "MSOL_0123456789ab";
const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=test";

/// Runs the named probes of the first target, in that order, on one fresh context; returns the last one's series.
async fn run_in_order(config: &Config, order: &[&str]) -> BTreeSet<String> {
    let target = &config.targets[0];
    let ctx = TargetContext::new(target.clone(), config);
    let mut last = ProbeOutput::default();
    for name in order {
        let probe = probes_for(target).into_iter().find(|p| p.name.as_str() == *name).expect("probe enabled");
        last = run_probe(probe, &ctx, Duration::from_secs(30)).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    last.samples.iter().map(|s| format!("{}{:?} {}", s.metric.name, s.labels, s.value)).collect()
}

#[tokio::test]
async fn ad_acl_before_ad_topology_sees_every_dc() {
    let dc1 = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    let seed = Seed::default().user(CONNECTOR, "C0nnector-Pw-9!", None).ou(STAFF);
    cmdlet_grants(seed, STAFF, CONNECTOR).apply(&dc1);
    let dc2 = SambaDc::join(&dc1).unwrap_or_else(|e| panic!("second DC: {e}"));
    // Only dc1 is configured: dc2 is known from the directory's own list of DCs (its name resolves here).
    let dns = FakeDns::start(vec![Record::a(dc1.host_name(), dc1.ip()), Record::a(dc2.host_name(), dc2.ip())]);
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", samba::MONITOR_PASSWORD);
    let text = format!(
        "targets:\n  - name: corp\n    ad:\n      servers: [\"ldaps://{}:636\"]\n      dns_servers: [\"{}\"]\n      bind:\n        user: \"{}\"\n        password_file: \"{}\"\n      tls:\n        ca_file: \"{}\"\n      scopes: [\"{STAFF}\"]\n",
        dc1.host_name(),
        dns.addr,
        samba::MONITOR_UPN,
        pw.display(),
        dc1.ca_pem_path().display(),
    );
    let config = load_config(&write_file(dir.path(), "writeback_exporter.yml", &text)).expect("valid config");

    let alone = run_in_order(&config, &["ad_acl"]).await;
    let after_topology = run_in_order(&config, &["ad_topology", "ad_acl"]).await;
    assert_eq!(alone, after_topology, "ad_acl's series must not depend on whether ad_topology ran first");
    for dc in [dc1.host_name(), dc2.host_name()] {
        let reset = format!(
            "writeback_ad_scope_permission[\"corp.example.test\", \"{dc}\", \"{STAFF}\", \"{CONNECTOR}\", \"reset_password\"] 1"
        );
        assert!(alone.contains(&reset), "{reset} missing from {alone:#?}");
    }
    drop(dc2);
}

#[tokio::test]
async fn one_sysvol_logon_serves_ad_gpo_and_ad_monitoring_read() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    assert!(dc.smb_auth_available(), "this rig needs SMB sessions (private /run/samba per DC)");
    Seed::default().user(CONNECTOR, "C0nnector-Pw-9!", None).apply(&dc);
    // SMB goes to the LDAP URL's address on smb.port: a proxy on the DC's address counts the logons.
    let smb = CuttingProxy::counting(dc.ip().into(), SocketAddr::new(dc.ip().into(), 445)).await;
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", samba::MONITOR_PASSWORD);
    let text = format!(
        "global:\n  interval: 1h\ntargets:\n  - name: corp\n    ad:\n      servers: [\"ldaps://{}:636\"]\n      bind:\n        user: \"{}\"\n        password_file: \"{}\"\n      tls:\n        ca_file: \"{}\"\n      user_scan: false\n      smb:\n        port: {}\n",
        dc.ip(),
        samba::MONITOR_UPN,
        pw.display(),
        dc.ca_pem_path().display(),
        smb.addr.port(),
    );
    let config = load_config(&write_file(dir.path(), "writeback_exporter.yml", &text)).expect("valid config");
    let target = &config.targets[0];
    let probe = |name: &str| probes_for(target).into_iter().find(|p| p.name.as_str() == name).expect("probe enabled");
    let timeout = Duration::from_secs(60);
    let sysvol = |out: &ProbeOutput| {
        out.samples
            .iter()
            .find(|s| s.metric.name == "writeback_ad_monitoring_read" && s.labels.iter().any(|l| l == "sysvol"))
            .map(|s| s.value)
    };

    // As `check` runs them: at the same time, on one context for the run.
    let ctx = TargetContext::single_run(target.clone(), &config);
    let (gpo, monitoring) =
        tokio::join!(run_probe(probe("ad_gpo"), &ctx, timeout), run_probe(probe("ad_monitoring_read"), &ctx, timeout));
    gpo.unwrap_or_else(|e| panic!("ad_gpo: {e}"));
    let monitoring = monitoring.unwrap_or_else(|e| panic!("ad_monitoring_read: {e}"));
    assert_eq!(sysvol(&monitoring), Some(1.0), "{:?}", monitoring.checks);
    assert_eq!(smb.connections(), 1, "one SMB connection for both probes");

    // As the daemon runs them: one after the other, within the reuse window (90% of the 1h interval).
    let ctx = TargetContext::new(target.clone(), &config);
    let monitoring = run_probe(probe("ad_monitoring_read"), &ctx, timeout).await.expect("ad_monitoring_read");
    run_probe(probe("ad_gpo"), &ctx, timeout).await.expect("ad_gpo");
    assert_eq!(sysvol(&monitoring), Some(1.0), "{:?}", monitoring.checks);
    assert_eq!(smb.connections(), 2, "one more SMB connection for the daemon's cycle");
}
