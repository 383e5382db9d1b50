//! AdminSDHolder-protected users on a real Samba DC, as a plain monitoring account sees them: a user given
//! AdminSDHolder's DACL and adminCount=1 counts as `protected` both when the account can read its adminCount and
//! when it cannot (then its DACL, protected and equal to AdminSDHolder's, tells). The DC's own access check says
//! the connector cannot reset either user; a direct LDAP read as the monitoring account proves which adminCount
//! it can read. A later change of AdminSDHolder re-judges the cached users in the next (incremental) cycle.

mod support;

use std::sync::Arc;
use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use support::directory::{cmdlet_grants, try_writeback, user_dn, Seed};
use support::exporter::{ad_target, write_file, Exporter, Metrics};
use support::samba::{self, SambaDc, DOMAIN_DN};

const CONNECTOR: &str = "MSOL_0123456789ab";
const CONNECTOR_PW: &str = "C0nnector-Pw-9!";
const USER_PW: &str = "Us3r-Start-Pw-1!";
/// `adminCount` (in no property set).
const ADMIN_COUNT: &str = "bf967918-0de6-11d0-a285-00aa003049e2";

/// The attribute's values as the monitoring account reads them (a BASE search over LDAPS).
async fn read_as_monitor(dc: &SambaDc, dn: &str, attr: &str) -> Vec<String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(dc.ca_der().to_vec())).unwrap();
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let settings = LdapConnSettings::new().set_config(Arc::new(config));
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &dc.ldaps_url()).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(samba::MONITOR_UPN, samba::MONITOR_PASSWORD).await.unwrap().success().unwrap();
    let (entries, _) = ldap.search(dn, Scope::Base, "(objectClass=*)", vec![attr]).await.unwrap().success().unwrap();
    let _ = ldap.unbind().await;
    entries.into_iter().flat_map(|e| SearchEntry::construct(e).attrs.into_values().flatten()).collect()
}

fn users(m: &Metrics, name: &str, extra: &[(&str, &str)]) -> f64 {
    let mut labels = vec![("target", "corp"), ("scope", STAFF)];
    labels.extend_from_slice(extra);
    m.value(name, &labels).unwrap_or_else(|| panic!("no {name} {labels:?}:\n{}", m.text))
}

const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=test";

fn not_ready(m: &Metrics, reason: &str) -> f64 {
    users(m, "writeback_ad_users_not_ready", &[("account", CONNECTOR), ("reason", reason)])
}

#[tokio::test]
async fn adminsdholder_protected_users_count_as_protected_whether_admin_count_is_readable_or_not() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    let holder = format!("CN=AdminSDHolder,CN=System,{DOMAIN_DN}");
    let (readable, hidden, walled) =
        (user_dn("readable", Some(STAFF)), user_dn("hidden", Some(STAFF)), user_dn("walled", Some(STAFF)));
    // Minimum age and history 0: a password change is refused only for want of the right.
    let seed = Seed::default()
        .modify(&format!(
            "dn: {DOMAIN_DN}\nchangetype: modify\nreplace: minPwdAge\nminPwdAge: 0\n-\nreplace: pwdHistoryLength\npwdHistoryLength: 0\n-\n"
        ))
        .ou(STAFF)
        .user(CONNECTOR, CONNECTOR_PW, None);
    cmdlet_grants(seed, DOMAIN_DN, CONNECTOR)
        .user("alice", USER_PW, Some(STAFF))
        .user("readable", USER_PW, Some(STAFF))
        .user("hidden", USER_PW, Some(STAFF))
        .user("walled", USER_PW, Some(STAFF))
        // As SDProp leaves it: AdminSDHolder's DACL (which lets Authenticated Users read every property), adminCount=1.
        .sdprop(&readable)
        // An AdminSDHolder hardened against the monitoring account reading adminCount, and a user SDProp gave
        // that DACL: adminCount=1 is hidden, the DACL is AdminSDHolder's.
        .ace(&holder, &format!("(OD;;RP;{ADMIN_COUNT};;{{sid:{}}})", samba::MONITOR_USER))
        .sdprop(&hidden)
        // The same deny on the built-in Administrator, where the exporter learns whether adminCount is readable.
        .ace(&user_dn("Administrator", None), &format!("(OD;;RP;{ADMIN_COUNT};;{{sid:{}}})", samba::MONITOR_USER))
        // Inheritance off and the inherited grant gone; AdminSDHolder has nothing to do with it.
        .protect(&walled)
        .apply(&dc);

    // What the monitoring account really reads.
    assert_eq!(read_as_monitor(&dc, &readable, "adminCount").await, ["1"], "adminCount readable on {readable}");
    assert!(read_as_monitor(&dc, &hidden, "adminCount").await.is_empty(), "adminCount hidden on {hidden}");
    // The DC's own access check: the connector can reset neither protected user (and can reset alice).
    let upn = format!("{CONNECTOR}@corp.example.test");
    for dn in [&readable, &hidden] {
        let truth = try_writeback(&dc, &upn, CONNECTOR_PW, dn, USER_PW).await;
        assert!(!truth.reset_password && !truth.ready(), "{dn}: {truth:?}");
    }
    assert!(try_writeback(&dc, &upn, CONNECTOR_PW, &user_dn("alice", Some(STAFF)), USER_PW).await.ready());

    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "ad.password", samba::MONITOR_PASSWORD);
    let target = ad_target("corp", &dc.ldaps_url(), dc.ca_pem_path(), samba::MONITOR_UPN, &pw);
    let text = format!(
        "global:\n  interval: 1h\n  timeout: 30s\n  intervals:\n    ad_users: 3s\ntargets:\n{target}      scopes: [\"{STAFF}\"]\n      connector_accounts: [\"{CONNECTOR}\"]\n      gpo: false\n"
    );
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);
    let m = exporter
        .wait_for_metrics(Duration::from_secs(60), "ad_users ran", |m| m.has("writeback_ad_users_protected", &[]))
        .await;
    assert_eq!(users(&m, "writeback_ad_users", &[]), 4.0, "alice, readable, hidden, walled:\n{}", m.text);
    assert_eq!(users(&m, "writeback_ad_users_protected", &[]), 2.0, "readable and hidden:\n{}", m.text);
    assert_eq!(not_ready(&m, "protected"), 2.0);
    assert_eq!(not_ready(&m, "inheritance_disabled"), 1.0, "walled");
    assert_eq!(users(&m, "writeback_ad_users_inheritance_disabled", &[]), 3.0);
    let out = std::process::Command::new(support::exporter::BIN)
        .args(["check", "--target", "corp"])
        .arg(format!("--config.file={}", cfg.display()))
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("1 recognized by their DACL"), "the hidden user, named as such:\n{report}");
    // adminCount hidden on the built-in Administrator too: check says so, with the grant.
    assert!(read_as_monitor(&dc, &user_dn("Administrator", None), "adminCount").await.is_empty());
    assert!(report.contains("adminCount is not readable by the monitoring account"), "{report}");
    assert!(report.contains("RP;adminCount;user"), "{report}");

    // AdminSDHolder changes (the deny goes): the hidden user's DACL is no longer AdminSDHolder's, and with its
    // adminCount still hidden it counts as inheritance disabled, from the cached descriptor, in the next cycle.
    Seed::default().remove_ace(&holder, &format!("(OD;;RP;{ADMIN_COUNT};;{{sid:{}}})", samba::MONITOR_USER)).apply(&dc);
    let m = exporter
        .wait_for_metrics(Duration::from_secs(60), "the next cycle re-judged", |m| {
            m.value("writeback_ad_users_protected", &[("scope", STAFF)]) == Some(1.0)
        })
        .await;
    assert_eq!(not_ready(&m, "protected"), 1.0, "readable");
    assert_eq!(not_ready(&m, "inheritance_disabled"), 2.0, "hidden and walled");
    // An incremental cycle that did not read the scope's users again (it may read a user outside the scope whose
    // uSNChanged moved, e.g. the monitoring account's own logon): the verdict came from the kept descriptors.
    let read = m.value("writeback_ad_users_objects_read", &[("scope", STAFF), ("mode", "incremental")]);
    assert!(read.is_some_and(|n| n < 4.0), "an incremental cycle, not a re-read of the scope: {read:?}\n{}", m.text);
}
