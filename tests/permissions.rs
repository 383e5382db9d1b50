//! The permission analysis (probes `ad_acl` and `ad_users`) against a real Samba AD DC, checked against the DC's
//! own access check: for every user and every scope, the connector account binds and tries the writeback
//! operations, and the exporter's verdicts must agree with what the DC allowed.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use support::directory::guids::{
    CHANGE_PASSWORD as CHANGE, LOCKOUT_TIME, PWD_LAST_SET, RESET_PASSWORD as RESET, USER_ACCOUNT_RESTRICTIONS,
};
use support::directory::{cmdlet_grants, grant, try_writeback, user_dn, Seed};
use support::exporter::{write_file, Exporter, Metrics};
use support::samba::{self, SambaDc, DOMAIN_DN};

const WAIT: Duration = Duration::from_secs(90);
const CONNECTOR: &str = "MSOL_0123456789ab";
const CONNECTOR_PW: &str = "C0nnector-Pw-9!";
const USER_PW: &str = "Us3r-Start-Pw-1!";
const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=test";
const PERMISSIONS: [&str; 4] = ["reset_password", "change_password", "write_lockout_time", "write_pwd_last_set"];

fn start_dc() -> SambaDc {
    SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"))
}

/// Minimum age and history 0, so that a password change is refused only for want of the right; and the
/// connector account, described the way an express install describes it.
fn base_seed() -> Seed {
    Seed::default()
        .modify(&format!(
            "dn: {DOMAIN_DN}\nchangetype: modify\nreplace: minPwdAge\nminPwdAge: 0\n-\nreplace: pwdHistoryLength\npwdHistoryLength: 0\n-\n"
        ))
        .user_with_description(
            CONNECTOR,
            CONNECTOR_PW,
            "Account created by Microsoft Azure Active Directory Connect with installation identifier \
             0123456789ab4cdef0123456789abcde running on computer CONNECT01 configured to synchronize to tenant \
             contoso.onmicrosoft.com. This account must have directory replication permissions in the local Active \
             Directory and write permission on certain attributes to enable Hybrid Deployment.",
        )
        .ou(STAFF)
}

fn config(dir: &Path, dc: &SambaDc, scopes: &[&str], accounts: &[&str]) -> PathBuf {
    let pw = write_file(dir, "ad.password", samba::MONITOR_PASSWORD);
    let list =
        |items: &[&str]| format!("[{}]", items.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", "));
    let text = format!(
        "global:\n  interval: 5s\n  timeout: 60s\ntargets:\n  - name: corp\n    ad:\n      servers: [\"{}\"]\n      bind:\n        user: \"{}\"\n        password_file: \"{}\"\n      tls:\n        ca_file: \"{}\"\n      scopes: {}\n      connector_accounts: {}\n",
        dc.ldaps_url(),
        samba::MONITOR_UPN,
        pw.display(),
        dc.ca_pem_path().display(),
        list(scopes),
        list(accounts),
    );
    write_file(dir, "writeback_exporter.yml", &text)
}

async fn scrape_when_probed(exporter: &Exporter) -> Metrics {
    exporter
        .wait_for_metrics(WAIT, "ad_acl and ad_users ran", |m| {
            ["ad_acl", "ad_users"].iter().all(|p| m.has("writeback_probe_success", &[("target", "corp"), ("probe", p)]))
        })
        .await
}

fn assert_probes_succeeded(m: &Metrics, exporter: &Exporter) {
    for probe in ["ad_acl", "ad_users"] {
        assert_eq!(
            m.value("writeback_probe_success", &[("target", "corp"), ("probe", probe)]),
            Some(1.0),
            "{probe} failed:\n{}\n{}",
            m.text,
            exporter.log()
        );
    }
}

fn scope_rights(m: &Metrics, scope: &str, account: &str) -> [bool; 4] {
    PERMISSIONS.map(|p| {
        let labels = [("scope", scope), ("account", account), ("permission", p)];
        m.value("writeback_ad_scope_permission", &labels).unwrap_or_else(|| panic!("no {p} for {scope}:\n{}", m.text))
            == 1.0
    })
}

fn users_metric(m: &Metrics, name: &str, scope: &str, extra: &[(&str, &str)]) -> f64 {
    let mut labels = vec![("scope", scope)];
    labels.extend_from_slice(extra);
    m.value(name, &labels).unwrap_or_else(|| panic!("no {name} {labels:?}:\n{}", m.text))
}

/// The Microsoft way: grant on the domain root without Change Password. Scope verdicts and every user's
/// verdict are compared with the DC's own answer; each cause of not-ready is represented once.
#[tokio::test]
async fn cmdlet_grant_on_domain_root_agrees_with_the_dc() {
    let dc = start_dc();
    let users = ["alice", "bob", "dave", "erin", "frank"];
    let mut seed = cmdlet_grants(base_seed(), DOMAIN_DN, CONNECTOR);
    for u in users {
        seed = seed.user(u, USER_PW, Some(STAFF));
    }
    let bob = user_dn("bob", Some(STAFF));
    let dave = user_dn("dave", Some(STAFF));
    let erin = user_dn("erin", Some(STAFF));
    let frank = user_dn("frank", Some(STAFF));
    seed.inet_org_person("carol", USER_PW, Some(STAFF))
        // "User cannot change password", as ADUC writes it.
        .ace(&bob, &format!("(OD;;CR;{CHANGE};;WD)"))
        .ace(&bob, &format!("(OD;;CR;{CHANGE};;PS)"))
        .sdprop(&dave)
        .protect(&erin)
        .modify(&format!("dn: {frank}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n-\n"))
        .user("newroot", USER_PW, None)
        .user("newstaff", USER_PW, Some(STAFF))
        .apply(&dc);

    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &dc, &[DOMAIN_DN, STAFF], &[]);
    let exporter = Exporter::start(&cfg, &[]);
    let m = scrape_when_probed(&exporter).await;
    assert_probes_succeeded(&m, &exporter);

    // Scope verdicts: a new user in each scope, tried by the DC (each user is tried once: a change alters it).
    let mut truths = BTreeMap::new();
    for (scope, probe_user) in [(DOMAIN_DN, user_dn("newroot", None)), (STAFF, user_dn("newstaff", Some(STAFF)))] {
        let truth =
            try_writeback(&dc, &format!("{CONNECTOR}@corp.example.test"), CONNECTOR_PW, &probe_user, USER_PW).await;
        assert_eq!(scope_rights(&m, scope, CONNECTOR), truth.as_array(), "scope {scope}");
        assert!(truth.ready(), "the cmdlet grant plus the schema default must suffice: {truth:?}");
        if scope == STAFF {
            truths.insert("newstaff", truth);
        }
    }

    // Per user: the DC's answer decides ready / missing; the exporter's counts must match.
    for u in ["alice", "bob", "carol", "dave", "erin"] {
        let dn = user_dn(u, Some(STAFF));
        truths
            .insert(u, try_writeback(&dc, &format!("{CONNECTOR}@corp.example.test"), CONNECTOR_PW, &dn, USER_PW).await);
    }
    let ready: Vec<&str> = truths.iter().filter(|(_, o)| o.ready()).map(|(u, _)| *u).collect();
    assert_eq!(ready, ["alice", "newstaff"], "ground truth: {truths:?}");
    assert!(!truths["bob"].change_password && truths["bob"].reset_password, "{:?}", truths["bob"]);
    assert!(!truths["carol"].reset_password, "inetOrgPerson gets the user-scoped grant inherit-only");

    let acct = [("account", CONNECTOR)];
    assert_eq!(users_metric(&m, "writeback_ad_users", STAFF, &[]), 6.0, "frank is disabled");
    assert_eq!(users_metric(&m, "writeback_ad_users_ready", STAFF, &acct), ready.len() as f64);
    for (i, p) in PERMISSIONS.iter().enumerate() {
        let missing = truths.values().filter(|o| !o.as_array()[i]).count() as f64;
        let labels = [("account", CONNECTOR), ("permission", *p)];
        assert_eq!(users_metric(&m, "writeback_ad_users_missing_permission", STAFF, &labels), missing, "{p}");
    }
    for (reason, n) in [
        ("protected", 1.0),
        ("inheritance_disabled", 1.0),
        ("object_class", 1.0),
        ("denied", 1.0),
        ("not_granted", 0.0),
    ] {
        let labels = [("account", CONNECTOR), ("reason", reason)];
        assert_eq!(users_metric(&m, "writeback_ad_users_not_ready", STAFF, &labels), n, "{reason}");
    }
    assert_eq!(users_metric(&m, "writeback_ad_users_protected", STAFF, &[]), 1.0);
    assert_eq!(users_metric(&m, "writeback_ad_users_inheritance_disabled", STAFF, &[]), 2.0, "dave and erin");
    assert!(m.has("writeback_ad_domain_unexpire_password", &acct));
    // DNs never reach labels.
    assert!(!m.text.contains("CN=bob"), "a user DN leaked into a label");
}

/// The grant on an OU only: the root scope lacks the granted rights, the OU has them; a deny ACE for a group
/// the connector is in removes Reset on one user; WP on the property set User-Account-Restrictions grants
/// pwdLastSet but not lockoutTime. Two connector accounts are judged separately.
#[tokio::test]
async fn ou_grant_property_set_group_deny_and_two_accounts_agree_with_the_dc() {
    let dc = start_dc();
    let other = "MSOL_fedcba987654";
    let gus = user_dn("gus", Some(STAFF));
    base_seed()
        .user(other, CONNECTOR_PW, None)
        .group("WritebackDenied")
        .member("WritebackDenied", CONNECTOR)
        .ace(STAFF, &grant("CR", RESET, CONNECTOR))
        .ace(STAFF, &grant("WP", USER_ACCOUNT_RESTRICTIONS, CONNECTOR))
        .ace(STAFF, &grant("CR", RESET, other))
        .ace(STAFF, &grant("WP", LOCKOUT_TIME, other))
        .ace(STAFF, &grant("WP", PWD_LAST_SET, other))
        .user("gus", USER_PW, Some(STAFF))
        .user("hana", USER_PW, Some(STAFF))
        .ace(&gus, &format!("(OD;;CR;{RESET};;{{sid:WritebackDenied}})"))
        // One fresh user per scope and account: trying a password change alters the password.
        .user("newroot1", USER_PW, None)
        .user("newroot2", USER_PW, None)
        .user("newstaff1", USER_PW, Some(STAFF))
        .user("newstaff2", USER_PW, Some(STAFF))
        .apply(&dc);

    let dir = tempfile::tempdir().unwrap();
    let cfg =
        config(dir.path(), &dc, &[DOMAIN_DN, STAFF, "OU=Nowhere,DC=corp,DC=example,DC=test"], &[CONNECTOR, other]);
    let exporter = Exporter::start(&cfg, &[]);
    let m = scrape_when_probed(&exporter).await;
    assert_probes_succeeded(&m, &exporter);

    for (n, account) in [(1, CONNECTOR), (2, other)] {
        let upn = format!("{account}@corp.example.test");
        let root_user = user_dn(&format!("newroot{n}"), None);
        let staff_user = user_dn(&format!("newstaff{n}"), Some(STAFF));
        for (scope, probe_user) in [(DOMAIN_DN, root_user), (STAFF, staff_user)] {
            let truth = try_writeback(&dc, &upn, CONNECTOR_PW, &probe_user, USER_PW).await;
            assert_eq!(scope_rights(&m, scope, account), truth.as_array(), "scope {scope}, account {account}");
        }
    }
    // The OU grant does not reach the domain root; the property set grants pwdLastSet, not lockoutTime.
    assert_eq!(scope_rights(&m, DOMAIN_DN, CONNECTOR), [false, true, false, false]);
    assert_eq!(scope_rights(&m, STAFF, CONNECTOR), [true, true, false, true]);
    assert_eq!(scope_rights(&m, STAFF, other), [true, true, true, true]);

    let upn = format!("{CONNECTOR}@corp.example.test");
    let gus_truth = try_writeback(&dc, &upn, CONNECTOR_PW, &gus, USER_PW).await;
    assert!(!gus_truth.reset_password, "the group's deny ACE must deny reset: {gus_truth:?}");
    let labels = [("account", CONNECTOR), ("reason", "denied")];
    assert_eq!(users_metric(&m, "writeback_ad_users_not_ready", STAFF, &labels), 1.0, "gus, denied through the group");
    let labels = [("account", CONNECTOR), ("reason", "not_granted")];
    assert_eq!(
        users_metric(&m, "writeback_ad_users_not_ready", STAFF, &labels),
        3.0,
        "hana, newstaff1, newstaff2 lack lockoutTime"
    );
    assert_eq!(users_metric(&m, "writeback_ad_users_ready", STAFF, &[("account", other)]), 4.0);

    // The missing scope is a clear failure in `check`; the other scopes are still reported.
    assert!(!m.text.contains("OU=Nowhere"), "no series for a scope that does not exist");
    let out = std::process::Command::new(support::exporter::BIN)
        .args(["check", "--target", "corp"])
        .arg(format!("--config.file={}", cfg.display()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("OU=Nowhere,DC=corp,DC=example,DC=test on dc1.corp.example.test]: no such object"), "{text}");
    assert!(text.contains("write_lockout_time: no ACE grants it"), "{text}");
    assert!(text.contains("dsacls \"OU=Staff,DC=corp,DC=example,DC=test\" /I:S /G"), "{text}");
    assert!(text.contains("Set-ADSyncPasswordWritebackPermissions"), "{text}");
}
