//! Two DCs of one domain, found the way Connect finds them: DNS SRV (through the target's own DNS server) and the
//! directory's own list. Both are reported; with one stopped, it is reported down and the domain-wide probes fail
//! over to the other.

mod support;

use std::time::Duration;

use support::dns::{FakeDns, Record};
use support::exporter::{write_file, Exporter};
use support::samba::{self, SambaDc};

#[tokio::test]
async fn srv_discovery_lists_every_dc_and_fails_over() {
    let dc1 = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    let mut dc2 = SambaDc::join(&dc1).unwrap_or_else(|e| panic!("second DC: {e}"));
    // SRV names only dc1: dc2 must come from the directory's own list of DCs.
    let dns = FakeDns::start(vec![
        Record::srv("_ldap._tcp.dc._msdcs.corp.example.test", 0, 100, 389, dc1.host_name()),
        Record::a(dc1.host_name(), dc1.ip()),
        Record::a(dc2.host_name(), dc2.ip()),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", samba::MONITOR_PASSWORD);
    let text = format!(
        "global:\n  interval: 2s\n  timeout: 20s\ntargets:\n  - name: corp\n    ad:\n      domain: corp.example.test\n      dns_servers: [\"{}\"]\n      bind:\n        user: \"{}\"\n        password_file: \"{}\"\n      tls:\n        ca_file: \"{}\"\n",
        dns.addr,
        samba::MONITOR_UPN,
        pw.display(),
        dc1.ca_pem_path().display(),
    );
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);
    let up = |dc: &'static str| [("target", "corp"), ("dc", dc)];
    exporter
        .wait_for_metrics(Duration::from_secs(90), "both DCs up", |m| {
            m.value("writeback_ad_dc_up", &up("dc1.corp.example.test")) == Some(1.0)
                && m.value("writeback_ad_dc_up", &up("dc2.corp.example.test")) == Some(1.0)
        })
        .await;
    assert!(dns.queries_for("_ldap._tcp.dc._msdcs.corp.example.test", "SRV") >= 1, "SRV was asked");

    // dc1 down: reported down by name, and the domain probes carry on through dc2.
    let mut dc1 = dc1;
    dc1.stop();
    let m = exporter
        .wait_for_metrics(Duration::from_secs(90), "dc1 down, policy still read", |m| {
            m.value("writeback_ad_dc_up", &up("dc1.corp.example.test")) == Some(0.0)
                && m.value("writeback_ad_dc_up", &up("dc2.corp.example.test")) == Some(1.0)
                && m.value("writeback_probe_success", &[("probe", "ad_policy")]) == Some(1.0)
                && m.value("writeback_probe_success", &[("probe", "ad_topology")]) == Some(1.0)
        })
        .await;
    assert_eq!(m.value("writeback_ad_domain_min_password_age_seconds", &[("target", "corp")]), Some(86_400.0));
    dc2.stop();
}
