//! Two DCs of one domain, found the way Connect finds them: DNS SRV (through the target's own DNS server) and the
//! directory's own list. Both are reported; with one stopped, it is reported down and the domain-wide probes fail
//! over to the other.

mod support;

use std::time::Duration;

use support::directory::guids::{RESET_PASSWORD, USER_CLASS};
use support::directory::{cmdlet_grants, try_writeback, user_dn, Seed};
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

const CONNECTOR: &str = "MSOL_0123456789ab";
const CONNECTOR_PW: &str = "C0nnector-Pw-9!";
const USER_PW: &str = "Us3r-Start-Pw-1!";
const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=test";
/// NTDSDSA_OPT_DISABLE_INBOUND_REPL of the nTDSDSA `options` (MS-ADTS 6.1.1.2.2.1.2.1.1), what `samba-tool drs
/// options --dsa-option=+DISABLE_INBOUND_REPL` sets: the DC pulls no changes until it is cleared.
const DISABLE_INBOUND_REPL: u32 = 0x2;

/// Sets the `options` of `dc`'s own nTDSDSA object in its local database (its replication settings).
fn set_dsa_options(dc: &SambaDc, options: u32) {
    let ntds = format!(
        "CN=NTDS Settings,CN={},CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,{}",
        dc.netbios_name(),
        samba::DOMAIN_DN
    );
    Seed::default()
        .modify(&format!("dn: {ntds}\nchangetype: modify\nreplace: options\noptions: {options}\n-\n"))
        .apply(dc);
}

/// A permission change reaches one DC and not yet the other (the seed: permissions "might take up to an hour or more
/// to replicate"): with `all_dcs`, each DC's verdict is reported under its own `dc` label, each agrees with that DC's
/// own access check (the connector tries a reset on each), and once replication catches up they agree again.
#[tokio::test]
async fn dcs_that_disagree_on_a_scope_are_each_reported_as_they_answer() {
    let dc1 = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    let seed = Seed::default()
        .modify(&format!(
            "dn: {}\nchangetype: modify\nreplace: minPwdAge\nminPwdAge: 0\n-\nreplace: pwdHistoryLength\npwdHistoryLength: 0\n-\n",
            samba::DOMAIN_DN
        ))
        .user(CONNECTOR, CONNECTOR_PW, None)
        .ou(STAFF);
    cmdlet_grants(seed, STAFF, CONNECTOR)
        .user("anne", USER_PW, Some(STAFF))
        .user("ben", USER_PW, Some(STAFF))
        .apply(&dc1);
    let mut dc2 = SambaDc::join(&dc1).unwrap_or_else(|e| panic!("second DC: {e}"));
    // dc2 stops pulling changes: what dc1 learns next stays on dc1, as while replication is slow or broken.
    set_dsa_options(&dc2, DISABLE_INBOUND_REPL);

    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", samba::MONITOR_PASSWORD);
    let text = format!(
        "global:\n  interval: 2s\n  timeout: 30s\ntargets:\n  - name: corp\n    ad:\n      servers: [\"{}\", \"{}\"]\n      all_dcs: true\n      bind:\n        user: \"{}\"\n        password_file: \"{}\"\n      tls:\n        ca_file: \"{}\"\n      scopes: [\"{STAFF}\"]\n      connector_accounts: [\"{CONNECTOR}\"]\n",
        dc1.ldaps_url(),
        dc2.ldaps_url(),
        samba::MONITOR_UPN,
        pw.display(),
        dc1.ca_pem_path().display(),
    );
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);
    let reset_on =
        |dc: &'static str| [("dc", dc), ("scope", STAFF), ("account", CONNECTOR), ("permission", "reset_password")];
    let (dc1_name, dc2_name) = ("dc1.corp.example.test", "dc2.corp.example.test");
    exporter
        .wait_for_metrics(Duration::from_secs(90), "both DCs grant Reset Password", |m| {
            m.value("writeback_ad_scope_permission", &reset_on(dc1_name)) == Some(1.0)
                && m.value("writeback_ad_scope_permission", &reset_on(dc2_name)) == Some(1.0)
        })
        .await;

    // An administrator denies Reset Password on the OU, on dc1.
    Seed::default().ace(STAFF, &format!("(OD;CI;CR;{RESET_PASSWORD};{USER_CLASS};{{sid:{CONNECTOR}}})")).apply(&dc1);
    let m = exporter
        .wait_for_metrics(Duration::from_secs(60), "dc1 denies, dc2 still grants", |m| {
            m.value("writeback_ad_scope_permission", &reset_on(dc1_name)) == Some(0.0)
                && m.value("writeback_ad_scope_permission", &reset_on(dc2_name)) == Some(1.0)
        })
        .await;
    assert_eq!(m.value("writeback_probe_success", &[("probe", "ad_acl")]), Some(1.0), "{}", exporter.log());
    // Longer than the rig's DCs take to replicate a change when inbound replication is on (a few seconds): the
    // disagreement lasts because dc2 does not pull, not because the probe was quick.
    tokio::time::sleep(Duration::from_secs(20)).await;
    exporter
        .wait_for_metrics(Duration::from_secs(5), "20 s later, dc2 still grants", |m| {
            m.value("writeback_ad_scope_permission", &reset_on(dc1_name)) == Some(0.0)
                && m.value("writeback_ad_scope_permission", &reset_on(dc2_name)) == Some(1.0)
        })
        .await;
    // Each DC's own access check agrees with what was reported for it.
    let upn = format!("{CONNECTOR}@corp.example.test");
    let on_dc1 = try_writeback(&dc1, &upn, CONNECTOR_PW, &user_dn("anne", Some(STAFF)), USER_PW).await;
    let on_dc2 = try_writeback(&dc2, &upn, CONNECTOR_PW, &user_dn("ben", Some(STAFF)), USER_PW).await;
    assert!(!on_dc1.reset_password, "dc1 must refuse the reset: {on_dc1:?}");
    assert!(on_dc2.reset_password, "dc2 has not seen the deny and must allow the reset: {on_dc2:?}");

    // Replication resumes: dc2 pulls the deny, and both DCs agree again.
    set_dsa_options(&dc2, 0);
    dc2.replicate_from(&dc1).unwrap_or_else(|e| panic!("replication: {e}"));
    exporter
        .wait_for_metrics(Duration::from_secs(60), "both DCs deny Reset Password", |m| {
            m.value("writeback_ad_scope_permission", &reset_on(dc1_name)) == Some(0.0)
                && m.value("writeback_ad_scope_permission", &reset_on(dc2_name)) == Some(0.0)
        })
        .await;
    dc2.stop();
}
