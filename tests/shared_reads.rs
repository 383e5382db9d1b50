//! Probes await what they need from the target's shared per-cycle reads (the DC list, the connector accounts, the
//! forest's domains) instead of reading what another probe left behind: `ad_acl` run before `ad_topology` has ever
//! run yields the same series as after it, including those of a DC that only the directory lists.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::directory::{cmdlet_grants, Seed};
use support::dns::{FakeDns, Record};
use support::exporter::write_file;
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
