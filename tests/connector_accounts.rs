//! Probe `ad_connector` against a real Samba DC: discovery of every MSOL_ account, the Connect server parsed from
//! the description, disabled / locked (by failed binds) / expired accounts, password expiry, stale installs.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use support::directory::Seed;
use support::exporter::{write_file, Exporter, BIN};
use support::samba::{self, SambaDc, DOMAIN_DN};

const PW: &str = "C0nnector-Pw-9!";
const DESCRIPTION: &str = "Account created by Microsoft Azure Active Directory Connect with installation identifier \
    0123456789ab4cdef0123456789abcde running on computer CONNECT01 configured to synchronize to tenant \
    contoso.onmicrosoft.com. This account must have directory replication permissions in the local Active Directory \
    and write permission on certain attributes to enable Hybrid Deployment.";

/// Fails simple binds as `upn` until the DC locks the account.
async fn lock_out(dc: &SambaDc, upn: &str) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(dc.ca_der().to_vec())).unwrap();
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    for _ in 0..4 {
        let settings = ldap3::LdapConnSettings::new().set_config(Arc::new(config.clone()));
        let (conn, mut ldap) = ldap3::LdapConnAsync::with_settings(settings, &dc.ldaps_url()).await.unwrap();
        ldap3::drive!(conn);
        let rc = ldap.simple_bind(upn, "wrong-password").await.unwrap().rc;
        assert_eq!(rc, 49, "a wrong password is refused");
        let _ = ldap.unbind().await;
    }
}

#[tokio::test]
async fn connector_accounts_are_discovered_and_judged() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dc = start();
    Seed::default()
        .modify(&format!(
            "dn: {DOMAIN_DN}\nchangetype: modify\nreplace: lockoutThreshold\nlockoutThreshold: 3\n-\nreplace: lockoutDuration\nlockoutDuration: -18000000000\n-\nreplace: lockOutObservationWindow\nlockOutObservationWindow: -18000000000\n-\n"
        ))
        .user_with_description("MSOL_0123456789ab", PW, DESCRIPTION)
        .user("MSOL_aaaaaaaaaaaa", PW, None)
        .modify(&format!(
            "dn: CN=MSOL_aaaaaaaaaaaa,CN=Users,{DOMAIN_DN}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n-\n"
        ))
        .user("MSOL_bbbbbbbbbbbb", PW, None)
        .user("MSOL_cccccccccccc", PW, None)
        .modify(&format!("dn: CN=MSOL_cccccccccccc,CN=Users,{DOMAIN_DN}\nchangetype: modify\nreplace: pwdLastSet\npwdLastSet: 0\n-\n"))
        .apply(&dc);
    lock_out(&dc, "MSOL_bbbbbbbbbbbb@corp.example.test").await;

    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", samba::MONITOR_PASSWORD);
    let text = format!(
        "global:\n  interval: 1h\n  timeout: 30s\ntargets:\n  - name: corp\n    ad:\n      servers: [\"{}\"]\n      bind:\n        user: \"{}\"\n        password_file: \"{}\"\n      tls:\n        ca_file: \"{}\"\n",
        dc.ldaps_url(),
        samba::MONITOR_UPN,
        pw.display(),
        dc.ca_pem_path().display(),
    );
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);
    let m = exporter
        .wait_for_metrics(Duration::from_secs(60), "ad_connector ran", |m| {
            m.has("writeback_probe_success", &[("probe", "ad_connector")])
        })
        .await;
    assert_eq!(m.value("writeback_probe_success", &[("probe", "ad_connector")]), Some(1.0), "{}", exporter.log());
    let acct = |a: &'static str| [("domain", "corp.example.test"), ("account", a)];
    assert!(m.has("writeback_ad_connector_account_info", &[("account", "MSOL_0123456789ab"), ("server", "connect01")]));
    assert!(m.has("writeback_ad_connector_account_info", &[("account", "MSOL_aaaaaaaaaaaa"), ("server", "")]));
    assert_eq!(m.value("writeback_ad_connector_account_enabled", &acct("MSOL_0123456789ab")), Some(1.0));
    assert_eq!(m.value("writeback_ad_connector_account_enabled", &acct("MSOL_aaaaaaaaaaaa")), Some(0.0));
    assert_eq!(m.value("writeback_ad_connector_account_locked", &acct("MSOL_0123456789ab")), Some(0.0));
    assert_eq!(m.value("writeback_ad_connector_account_locked", &acct("MSOL_bbbbbbbbbbbb")), Some(1.0), "{}", m.text);
    // Samba's default maxPwdAge is 42 days: expiry = pwdLastSet + 42 days.
    let set = m
        .value("writeback_ad_connector_account_password_last_set_timestamp_seconds", &acct("MSOL_0123456789ab"))
        .unwrap();
    let expiry = m
        .value("writeback_ad_connector_account_password_expiry_timestamp_seconds", &acct("MSOL_0123456789ab"))
        .unwrap();
    assert!((expiry - set - 42.0 * 86_400.0).abs() < 1.0, "expiry {expiry}, set {set}");
    assert!(!m.has("writeback_ad_connector_account_password_last_set_timestamp_seconds", &acct("MSOL_cccccccccccc")));

    let out = Command::new(BIN)
        .arg("check")
        .arg(format!("--config.file={}", cfg.display()))
        .arg("--log.level=debug")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // ad_connector, ad_acl and ad_users all need the accounts and their tokens: one read serves the three.
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(log.matches("connector accounts read").count(), 1, "{log}");
    assert!(text.contains("  ad_users ") && text.contains("  ad_acl "), "ad_acl and ad_users ran too: {text}");
    assert!(text.contains("FAIL  ad_connector   Connector account is enabled, unlocked and its password valid [MSOL_aaaaaaaaaaaa]: disabled"), "{text}");
    assert!(text.contains("[MSOL_bbbbbbbbbbbb]: locked out"), "{text}");
    assert!(text.contains("[MSOL_cccccccccccc]: password expired"), "{text}");
    assert!(
        text.contains(
            "PASS  ad_connector   Connector account is enabled, unlocked and its password valid [MSOL_0123456789ab]"
        ),
        "{text}"
    );
    assert!(
        text.contains("WARN  ad_connector   One enabled MSOL_ account [corp.example.test]: 3 enabled MSOL_ accounts"),
        "{text}"
    );
}

fn start() -> SambaDc {
    SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"))
}
