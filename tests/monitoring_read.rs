//! Probe `ad_monitoring_read` on a real Samba DC: what the plain monitoring account can read (each value proven by
//! a direct LDAP read as that account), what an administrator can, and that each grant the docs name turns its
//! read to 1.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ldap3::controls::RawControl;
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use support::directory::{user_dn, Seed};
use support::exporter::{ad_target, write_file, Exporter, Metrics, BIN};
use support::samba::{self, SambaDc, DOMAIN_DN};

const CONNECTOR: &str = "MSOL_0123456789ab";
const ADMIN_COUNT: &str = "bf967918-0de6-11d0-a285-00aa003049e2";
const WHAT: [&str; 5] = ["token_groups", "admin_count", "password_settings", "sysvol", "tombstones"];

/// Whether the monitoring account gets `attr` of `dn` (a BASE search over LDAPS, with `controls`).
async fn monitor_reads(dc: &SambaDc, dn: &str, attr: &str, controls: Vec<RawControl>) -> bool {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(dc.ca_der().to_vec())).unwrap();
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let settings = LdapConnSettings::new().set_config(Arc::new(config));
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &dc.ldaps_url()).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(samba::MONITOR_UPN, samba::MONITOR_PASSWORD).await.unwrap().success().unwrap();
    let result = ldap.with_controls(controls).search(dn, Scope::Base, "(objectClass=*)", vec![attr]).await.unwrap();
    let _ = ldap.unbind().await;
    result.0.into_iter().any(|e| {
        let e = SearchEntry::construct(e);
        e.attrs.keys().chain(e.bin_attrs.keys()).any(|k| k.eq_ignore_ascii_case(attr))
    })
}

fn show_deleted() -> Vec<RawControl> {
    vec![RawControl { ctype: "1.2.840.113556.1.4.417".to_string(), crit: false, val: None }]
}

/// What the monitoring account reads, by direct LDAP reads (the oracle for the LDAP-side values).
async fn oracle(dc: &SambaDc) -> [(&'static str, bool); 3] {
    let deleted = format!("CN=Deleted Objects,{DOMAIN_DN}");
    [
        ("token_groups", monitor_reads(dc, &user_dn(CONNECTOR, None), "tokenGroups", Vec::new()).await),
        ("admin_count", monitor_reads(dc, &user_dn("Administrator", None), "adminCount", Vec::new()).await),
        ("tombstones", monitor_reads(dc, &deleted, "objectGUID", show_deleted()).await),
    ]
}

fn read(m: &Metrics, target: &str, what: &str) -> Option<f64> {
    m.value("writeback_ad_monitoring_read", &[("target", target), ("domain", "corp.example.test"), ("what", what)])
}

async fn start(dc: &SambaDc, dir: &std::path::Path) -> (Exporter, Metrics) {
    let monitor_pw = write_file(dir, "monitor.pw", samba::MONITOR_PASSWORD);
    let admin_pw = write_file(dir, "admin.pw", samba::ADMIN_PASSWORD);
    let targets = [
        ad_target("admin", &dc.ldaps_url(), dc.ca_pem_path(), samba::ADMIN_UPN, &admin_pw),
        ad_target("plain", &dc.ldaps_url(), dc.ca_pem_path(), samba::MONITOR_UPN, &monitor_pw),
    ];
    let text = format!("global:\n  interval: 1h\n  timeout: 30s\ntargets:\n{}", targets.concat());
    let cfg = write_file(dir, "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);
    let m = exporter
        .wait_for_metrics(Duration::from_secs(150), "ad_monitoring_read of both targets", |m| {
            ["admin", "plain"]
                .iter()
                .all(|t| m.has("writeback_probe_success", &[("target", t), ("probe", "ad_monitoring_read")]))
        })
        .await;
    for t in ["admin", "plain"] {
        let ok = m.value("writeback_probe_success", &[("target", t), ("probe", "ad_monitoring_read")]);
        assert_eq!(ok, Some(1.0), "{t}:\n{}\n{}", m.text, exporter.log());
    }
    (exporter, m)
}

#[tokio::test]
async fn plain_account_reads_less_and_each_grant_fixes_one_read() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    // Samba lets a plain account read adminCount (through Pre-Windows 2000 Compatible Access, which holds Authenticated
    // Users); Windows domains hardened against that look like this deny.
    let administrator = user_dn("Administrator", None);
    let deny_admin_count = format!("(OD;;RP;{ADMIN_COUNT};;{{sid:{}}})", samba::MONITOR_USER);
    Seed::default().user(CONNECTOR, "C0nnector-Pw-9!", None).ace(&administrator, &deny_admin_count).apply(&dc);
    let smb = dc.smb_auth_available();

    let dir = tempfile::tempdir().unwrap();
    let (exporter, m) = start(&dc, dir.path()).await;
    for what in WHAT {
        let expected = if what == "sysvol" && !smb { None } else { Some(1.0) };
        if expected.is_some() {
            assert_eq!(read(&m, "admin", what), expected, "admin reads {what}:\n{}", m.text);
        }
    }
    // The plain account, proven by reading as it.
    let before = oracle(&dc).await;
    for (what, readable) in before {
        assert_eq!(read(&m, "plain", what), Some(f64::from(u8::from(readable))), "plain reads {what}: {before:?}");
    }
    assert_eq!(before[1], ("admin_count", false), "the deny on the Administrator");
    assert_eq!(before[2], ("tombstones", false), "CN=Deleted Objects is for administrators by default");
    assert_eq!(read(&m, "plain", "password_settings"), Some(0.0), "PSOs are for Domain Admins by default");
    if smb {
        assert_eq!(read(&m, "plain", "sysvol"), Some(1.0), "Authenticated Users read SYSVOL");
    }
    let cfg = dir.path().join("writeback_exporter.yml");
    let out = Command::new(BIN)
        .args(["check", "--target", "plain"])
        .arg(format!("--config.file={}", cfg.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("The monitoring account reads tombstones (CN=Deleted Objects)"), "{text}");
    assert!(text.contains("/G \"svc-wbmon@corp.example.test:LCRP\""), "the grant is named:\n{text}");
    drop(exporter);

    // The grants docs/configuration.md names, Samba's way.
    let monitor = samba::MONITOR_USER;
    Seed::default()
        .remove_ace(&administrator, &deny_admin_count)
        .member("Pre-Windows 2000 Compatible Access", monitor)
        .ace(&format!("CN=Deleted Objects,{DOMAIN_DN}"), &format!("(A;;LCRP;;;{{sid:{monitor}}})"))
        .ace(
            &format!("CN=Password Settings Container,CN=System,{DOMAIN_DN}"),
            &format!("(A;CI;GR;;;{{sid:{monitor}}})"),
        )
        .apply(&dc);
    let after = oracle(&dc).await;
    assert!(after.iter().all(|(_, readable)| *readable), "{after:?}");
    let (_exporter, m) = start(&dc, dir.path()).await;
    for what in WHAT {
        if what == "sysvol" && !smb {
            continue;
        }
        assert_eq!(read(&m, "plain", what), Some(1.0), "plain reads {what} after the grants:\n{}", m.text);
    }
}
