//! Bounded handling of what a real DC can send back (issue 4, item 6), against a real Samba DC:
//! - a scope outside the domain's naming contexts: reported for that scope, the probes still succeed. Windows DCs
//!   answer such a base with a referral (result code 10); Samba 4.17 answers noSuchObject, which is what the first
//!   test meets; the second plays such a DC (tests/support/referral_dc.rs): reason `config`, the referral named;
//! - subordinate referrals: the user scan's subtree search at the domain root receives a search reference to the
//!   configuration partition (checked with ldapsearch) and steps over it;
//! - a huge multi-valued attribute: a PSO whose `msDS-PSOAppliesTo` holds 1600 DNs (more than AD's MaxValRange of
//!   1500; Samba returns them whole, Windows in ranges, see `Entry::is_ranged`), reported with a bounded list;
//! - a long single value: a connector account whose description (at AD's and Samba's limit of 1024 characters,
//!   rangeUpper) names a "computer" of 800 characters, which must not turn into a `server` label.
//!
//! None may hang or panic. (A DC that accepts TCP and never answers, and one that drops the connection mid-scan,
//! are in tests/ad_scan_failure.rs.)

mod support;

use std::process::Command;
use std::time::Duration;

use support::directory::Seed;
use support::exporter::{ad_target, write_file, Exporter, BIN};
use support::samba::{self, SambaDc};

const FAR_SCOPE: &str = "OU=Far,DC=elsewhere,DC=test";
const SUBJECTS: usize = 1600;

#[tokio::test]
async fn referrals_and_huge_attributes_are_bounded() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    let description = format!(
        "Account created by Microsoft Entra Connect with installation identifier 0123 running on computer {} configured \
         to synchronize to tenant t.onmicrosoft.com.",
        "a".repeat(800)
    );
    let contacts = format!("OU=Contacts,{}", samba::DOMAIN_DN);
    Seed::default()
        .user_with_description("MSOL_0123456789ab", "C0nnector-Pw-9!", &description)
        .ou(&contacts)
        .contacts(&contacts, "c", SUBJECTS)
        .apply(&dc);
    let applies: String = (0..SUBJECTS).map(|i| format!("msDS-PSOAppliesTo: CN=c{i:04},{contacts}\n")).collect();
    dc.samba_tool(&["domain", "passwordsettings", "pso", "create", "wide", "10", "--min-pwd-age=1"]).unwrap();
    let pso_dn = format!("CN=wide,CN=Password Settings Container,CN=System,{}", samba::DOMAIN_DN);
    Seed::default().modify(&format!("dn: {pso_dn}\nchangetype: modify\nadd: msDS-PSOAppliesTo\n{applies}")).apply(&dc);

    let dir = tempfile::tempdir().unwrap();
    let admin_pw = write_file(dir.path(), "admin.pw", samba::ADMIN_PASSWORD);
    let target = ad_target("corp", &dc.ldaps_url(), dc.ca_pem_path(), samba::ADMIN_UPN, &admin_pw);
    let text = format!(
        "global:\n  interval: 1h\n  timeout: 60s\ntargets:\n{target}      scopes: [\"{}\", \"{FAR_SCOPE}\"]\n",
        samba::DOMAIN_DN
    );
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    // The user scan's subtree search at the domain root meets a subordinate reference (to the configuration
    // partition), which the scan must step over.
    let out = Command::new("ldapsearch")
        .env("LDAPTLS_CACERT", dc.ca_pem_path())
        .args(["-H", &dc.ldaps_url(), "-x", "-D", samba::ADMIN_UPN, "-w", samba::ADMIN_PASSWORD])
        .args(["-b", samba::DOMAIN_DN, "-s", "sub", "(objectClass=domain)", "dn"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains("# numReferences: 1") && listing.contains("ref: ldaps://"), "{listing}");
    let exporter = Exporter::start(&cfg, &[]);
    let probes = ["ad_topology", "ad_policy", "ad_connector", "ad_acl", "ad_users"];
    let m = exporter
        .wait_for_metrics(Duration::from_secs(120), "every AD probe ran", |m| {
            probes.iter().all(|p| m.has("writeback_probe_success", &[("probe", p)]))
                && probes.iter().all(|p| {
                    m.value("writeback_probe_success", &[("probe", p)]) == Some(1.0)
                        || m.value("writeback_probe_failures_total", &[("probe", p)]).is_some_and(|v| v > 0.0)
                })
        })
        .await;
    for p in probes {
        assert_eq!(
            m.value("writeback_probe_success", &[("probe", p)]),
            Some(1.0),
            "{p}:\n{}\n{}",
            m.text,
            exporter.log()
        );
    }
    // No 800-character host name reaches a label: a DNS name has at most 253.
    let info = [("account", "MSOL_0123456789ab"), ("server", "")];
    assert_eq!(m.value("writeback_ad_connector_account_info", &info), Some(1.0), "{}", m.text);
    assert!(m.text.lines().all(|l| l.len() < 2_000), "an unbounded line in /metrics");
    // The real scope is evaluated; the far one has no series.
    assert!(m.has("writeback_ad_scope_permission", &[("scope", samba::DOMAIN_DN)]), "{}", m.text);
    assert!(m.has("writeback_ad_users", &[("scope", samba::DOMAIN_DN)]), "{}", m.text);
    assert!(!m.has("writeback_ad_users", &[("scope", FAR_SCOPE)]), "{}", m.text);
    assert_eq!(m.value("writeback_ad_pso_min_password_age_seconds", &[("pso", "wide")]), Some(86_400.0));

    let out = Command::new(BIN).arg("check").arg(format!("--config.file={}", cfg.display())).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    let pso = report
        .lines()
        .find(|l| l.contains("Fine-grained password policy minimum age is 0 [wide]"))
        .unwrap_or_else(|| panic!("{report}"));
    assert!(pso.trim_start().starts_with("FAIL"), "{pso}");
    assert!(pso.ends_with(&format!("and {} more", SUBJECTS - 10)), "{pso}");
    assert!(pso.len() < 2_000, "{pso}");
    let far: Vec<&str> = report.lines().filter(|l| l.contains(FAR_SCOPE)).collect();
    assert!(far.iter().any(|l| l.contains("ad_acl") && l.trim_start().starts_with("FAIL")), "{report}");
    assert!(far.iter().any(|l| l.contains("ad_users") && l.trim_start().starts_with("FAIL")), "{report}");
}

/// A DC that answers every search outside the rootDSE with a referral (as Windows does for a base outside its naming
/// contexts): each probe fails with reason `config` and a message naming the referral, promptly, without a panic.
#[tokio::test]
async fn referrals_are_a_classified_failure() {
    use support::referral_dc::{ReferralDc, REFERRAL_URL};

    let dc = ReferralDc::start().await;
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", "irrelevant");
    let text = format!(
        "global:\n  interval: 2s\n  timeout: 20s\ntargets:\n  - name: corp\n    ad:\n      servers: [\"ldap://{}\"]\n      allow_plaintext: true\n      bind:\n        user: svc\n        password_file: \"{}\"\n",
        dc.addr,
        pw.display(),
    );
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);
    let config = |p: &'static str| [("probe", p), ("reason", "config")];
    let m = exporter
        .wait_for_metrics(Duration::from_secs(30), "referral failures counted", |m| {
            ["ad_policy", "ad_connector", "ad_acl", "ad_users"]
                .iter()
                .all(|p| m.value("writeback_probe_failures_total", &config(p)).is_some_and(|v| v >= 1.0))
                // The rootDSE answered: the DC is up, only what lies outside its naming contexts fails.
                && m.value("writeback_ad_dc_up", &[("dc", "stray.corp.example.test")]) == Some(1.0)
        })
        .await;
    assert_eq!(m.value("writeback_probe_success", &[("probe", "ad_policy")]), Some(0.0));
    let log = exporter.log();
    assert!(log.contains(&format!("naming contexts (referral to {REFERRAL_URL})")), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(dc.referrals.load(std::sync::atomic::Ordering::SeqCst) >= 4);
}
