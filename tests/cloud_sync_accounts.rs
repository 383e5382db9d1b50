//! Entra Cloud Sync's provisioning agent gMSA, judged by probes `ad_connector`, `ad_acl` and `ad_users` next to an
//! Entra Connect connector account, against a real Samba DC. The oracle is the DC's own access check, as in
//! tests/permissions.rs: a gMSA's password is the DC's, but Samba 4.17 lets the test set a known one on the gMSA
//! object (as system, through seed.py) and then accepts a simple bind as the gMSA itself, so the test binds as the
//! gMSA and tries each writeback operation. No stand-in account is needed.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use ldap3::{LdapConnAsync, LdapConnSettings, Mod};
use serde_json::Value;
use support::directory::{cmdlet_grants, try_writeback, user_dn, Outcome, Seed};
use support::exporter::{write_file, Exporter, Metrics, BIN};
use support::samba::{self, SambaDc, DOMAIN_DN};
use support::sysvol;

const WAIT: Duration = Duration::from_secs(90);
const CONNECTOR: &str = "MSOL_0123456789ab";
const CONNECTOR_PW: &str = "C0nnector-Pw-9!";
const GMSA: &str = "provAgentgMSA$";
const GMSA_PW: &str = "Gmsa-Rig-Passw0rd-1!";
const USER_PW: &str = "Us3r-Start-Pw-1!";
const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=test";
/// Unexpire Password (control access right on the domain object).
const UNEXPIRE: &str = "ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501";
/// User-Change-Password: "User cannot change password" denies it to Everyone and SELF.
const CHANGE: &str = "ab721a53-1e2f-11d0-9819-00aa0040529b";

fn gmsa_dn() -> String {
    format!("CN=provAgentgMSA,CN=Managed Service Accounts,{DOMAIN_DN}")
}

fn utf16_b64(password: &str) -> String {
    let bytes: Vec<u8> = format!("\"{password}\"").encode_utf16().flat_map(u16::to_le_bytes).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The gMSA as Cloud Sync's installer names it (REFERENCE.md §8: an LDAP add works where samba-tool has no
/// `service-account` command), with a password the test knows.
fn add_gmsa(seed: Seed) -> Seed {
    let dn = gmsa_dn();
    seed.add(
        &format!(
            "dn: {dn}\nobjectClass: msDS-GroupManagedServiceAccount\nsAMAccountName: {GMSA}\n\
             msDS-ManagedPasswordInterval: 30\ndNSHostName: provagentgmsa.corp.example.test\nuserAccountControl: 4096\n"
        ),
        &[],
    )
    .modify(&format!("dn: {dn}\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: {}\n-\n", utf16_b64(GMSA_PW)))
}

/// Microsoft's table for Cloud Sync's PasswordWriteBack (Set-AADCloudSyncPermissions): Reset Password, Write
/// lockoutTime and Write pwdLastSet on descendant User objects of the domain root; Unexpire Password on the root.
fn cloud_sync_grants(seed: Seed) -> Seed {
    cmdlet_grants(seed, DOMAIN_DN, GMSA).ace(DOMAIN_DN, &unexpire_ace("OA"))
}

fn unexpire_ace(kind: &str) -> String {
    format!("({kind};;CR;{UNEXPIRE};;{{sid:{GMSA}}})")
}

/// A domain where Connect (granted on OU=Staff) and Cloud Sync (granted as Microsoft's table says) both serve
/// OU=Staff; `cid` has "User cannot change password", so neither account can change his password.
fn seed() -> Seed {
    let seed = Seed::default()
        .modify(&format!(
            "dn: {DOMAIN_DN}\nchangetype: modify\nreplace: minPwdAge\nminPwdAge: 0\n-\nreplace: pwdHistoryLength\npwdHistoryLength: 0\n-\n"
        ))
        .user(CONNECTOR, CONNECTOR_PW, None)
        .ou(STAFF)
        .user("ann", USER_PW, Some(STAFF))
        .user("ben", USER_PW, Some(STAFF))
        .user("cid", USER_PW, Some(STAFF));
    let cid = user_dn("cid", Some(STAFF));
    let seed = seed.ace(&cid, &format!("(OD;;CR;{CHANGE};;WD)")).ace(&cid, &format!("(OD;;CR;{CHANGE};;PS)"));
    let seed = cmdlet_grants(add_gmsa(seed), STAFF, CONNECTOR);
    cloud_sync_grants(seed)
}

fn config(dir: &std::path::Path, dc: &SambaDc, name: &str, cloud_sync: &str) -> std::path::PathBuf {
    let pw = write_file(dir, "ad.password", samba::MONITOR_PASSWORD);
    let text = format!(
        "global:\n  interval: 1h\n  timeout: 60s\ntargets:\n  - name: corp\n    ad:\n      servers: [\"{}\"]\n      bind:\n        user: \"{}\"\n        password_file: \"{}\"\n      tls:\n        ca_file: \"{}\"\n      scopes: [\"{STAFF}\"]\n      gpo: false\n{cloud_sync}",
        dc.ldaps_url(),
        samba::MONITOR_UPN,
        pw.display(),
        dc.ca_pem_path().display(),
    );
    write_file(dir, name, &text)
}

/// An LDAPS session bound as `upn`.
async fn bind(dc: &SambaDc, upn: &str, password: &str) -> ldap3::Ldap {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(dc.ca_der().to_vec())).unwrap();
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let settings = LdapConnSettings::new().set_config(Arc::new(config));
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &dc.ldaps_url()).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(upn, password).await.unwrap().success().unwrap_or_else(|e| panic!("{upn} binds: {e}"));
    ldap
}

/// The DC's answer to Unexpire Password: as `upn`, set pwdLastSet to -1 on `user` (Samba checks the right on the
/// domain root for exactly that write). True when allowed, false on insufficientAccessRights.
async fn try_unexpire(dc: &SambaDc, upn: &str, password: &str, user: &str) -> bool {
    let mut ldap = bind(dc, upn, password).await;
    let rc = ldap.modify(user, vec![Mod::Replace("pwdLastSet", ["-1"].into_iter().collect())]).await.unwrap().rc;
    let _ = ldap.unbind().await;
    match rc {
        0 => true,
        50 => false,
        other => panic!("unexpire on {user}: unexpected result code {other}"),
    }
}

/// The user's password after [`try_writeback`]: reset beats change beats the start password.
fn password_after(outcome: &Outcome, before: &'static str) -> &'static str {
    if outcome.reset_password {
        "R3set-Pw-2!"
    } else if outcome.change_password {
        "Ch4nged-Pw-1!"
    } else {
        before
    }
}

fn rights(m: &Metrics, account: &str) -> [bool; 4] {
    ["reset_password", "change_password", "write_lockout_time", "write_pwd_last_set"].map(|p| {
        let labels = [("scope", STAFF), ("account", account), ("permission", p)];
        m.value("writeback_ad_scope_permission", &labels).unwrap_or_else(|| panic!("no {p} for {account}:\n{}", m.text))
            == 1.0
    })
}

/// The check with this id and subject; panics naming what there is.
fn find(checks: &[[String; 6]], id: &str, subject: &str) -> [String; 6] {
    checks
        .iter()
        .find(|c| c[1] == id && c[3] == subject)
        .unwrap_or_else(|| panic!("no {id} [{subject}] in {checks:#?}"))
        .clone()
}

/// `check --output json`: every probe's checks as (probe, id, status, subject, observed, remediation).
fn check(cfg: &std::path::Path) -> Vec<[String; 6]> {
    let out =
        Command::new(BIN).args(["check", "--output", "json"]).arg(format!("--config.file={}", cfg.display())).output();
    let out = out.unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    let mut all = Vec::new();
    for probe in report["targets"][0]["probes"].as_array().unwrap() {
        for c in probe["checks"].as_array().into_iter().flatten() {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            all.push([
                probe["probe"].as_str().unwrap_or_default().to_string(),
                s("id"),
                s("status"),
                s("subject"),
                s("observed"),
                s("remediation"),
            ]);
        }
    }
    all
}

#[tokio::test]
async fn cloud_sync_gmsa_is_judged_next_to_the_connector_account_and_agrees_with_the_dc() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    seed().apply(&dc);

    // Discovery: no account configured, so every MSOL_ account and every provAgentgMSA$.
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &dc, "discover.yml", "");
    let exporter = Exporter::start(&cfg, &[]);
    let probes = ["ad_connector", "ad_acl", "ad_users"];
    let m = exporter
        .wait_for_metrics(WAIT, "ad_connector, ad_acl and ad_users ran", |m| {
            probes.iter().all(|p| m.has("writeback_probe_success", &[("probe", p)]))
        })
        .await;
    for p in probes {
        assert_eq!(m.value("writeback_probe_success", &[("probe", p)]), Some(1.0), "{p}:\n{}", exporter.log());
    }
    let info = |account: &str, engine: &str| {
        m.value(
            "writeback_ad_account_info",
            &[("domain", "corp.example.test"), ("account", account), ("engine", engine)],
        )
    };
    assert_eq!(info(GMSA, "cloud_sync"), Some(1.0), "{}", m.text);
    assert_eq!(info(CONNECTOR, "connect"), Some(1.0), "{}", m.text);
    assert_eq!(m.text.matches("writeback_ad_account_info{").count(), 2, "{}", m.text);
    // Health: enabled and unlocked; no password expiry for a gMSA (the DC rotates its password).
    let gmsa = [("account", GMSA)];
    assert_eq!(m.value("writeback_ad_connector_account_enabled", &gmsa), Some(1.0));
    assert_eq!(m.value("writeback_ad_connector_account_locked", &gmsa), Some(0.0));
    assert!(!m.has("writeback_ad_connector_account_password_expiry_timestamp_seconds", &gmsa), "{}", m.text);
    assert!(m.has("writeback_ad_connector_account_password_expiry_timestamp_seconds", &[("account", CONNECTOR)]));

    // The DC's verdicts, user by user, for both accounts (each try changes the password: follow it).
    let connector_upn = format!("{CONNECTOR}@corp.example.test");
    let gmsa_upn = format!("{GMSA}@corp.example.test");
    let mut ready = [0.0, 0.0];
    let mut missing_change = [0.0, 0.0];
    for user in ["ann", "ben", "cid"] {
        let dn = user_dn(user, Some(STAFF));
        let by_connector = try_writeback(&dc, &connector_upn, CONNECTOR_PW, &dn, USER_PW).await;
        let now = password_after(&by_connector, USER_PW);
        let by_gmsa = try_writeback(&dc, &gmsa_upn, GMSA_PW, &dn, now).await;
        for (i, truth) in [by_connector, by_gmsa].iter().enumerate() {
            ready[i] += f64::from(u8::from(truth.ready()));
            missing_change[i] += f64::from(u8::from(!truth.change_password));
        }
        if user == "ann" {
            // ann has exactly the DACL a new user in the scope gets: the scope verdicts must agree with her.
            assert_eq!(rights(&m, CONNECTOR), by_connector.as_array(), "Connect on {STAFF}");
            assert_eq!(rights(&m, GMSA), by_gmsa.as_array(), "Cloud Sync on {STAFF}");
            assert!(by_gmsa.ready(), "Microsoft's grant for the gMSA suffices: {by_gmsa:?}");
        }
    }
    assert_eq!(ready, [2.0, 2.0], "the DC refuses a change of cid's password to both");
    for (i, account) in [CONNECTOR, GMSA].into_iter().enumerate() {
        let scope = [("scope", STAFF), ("account", account)];
        assert_eq!(m.value("writeback_ad_users_ready", &scope), Some(ready[i]), "{account}:\n{}", m.text);
        let change = [("scope", STAFF), ("account", account), ("permission", "change_password")];
        assert_eq!(m.value("writeback_ad_users_missing_permission", &change), Some(missing_change[i]), "{account}");
    }
    // Unexpire Password on the root: granted, and the DC lets the gMSA unexpire ben's password.
    assert_eq!(m.value("writeback_ad_domain_unexpire_password", &gmsa), Some(1.0), "{}", m.text);
    assert!(try_unexpire(&dc, &gmsa_upn, GMSA_PW, &user_dn("ben", Some(STAFF))).await);
    drop(exporter);

    // explain judges the gMSA beside the connector, each as the DC answered for ann above.
    let out = Command::new(BIN)
        .args(["explain", "--output", "json"])
        .arg(format!("--config.file={}", cfg.display()))
        .arg("ann")
        .output()
        .unwrap();
    let explained: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    let accounts = explained["dcs"][0]["accounts"].as_array().expect("accounts");
    let by_name = |name: &str| {
        accounts.iter().find(|a| a["account"] == name).unwrap_or_else(|| panic!("no {name}: {explained:#}"))
    };
    assert_eq!(by_name(GMSA)["engine"], "cloud_sync");
    assert_eq!(by_name(CONNECTOR)["engine"], "connect");
    assert_eq!(by_name(GMSA)["ready"], true, "{explained:#}");
    assert_eq!(by_name(CONNECTOR)["ready"], true, "{explained:#}");

    let checks = check(&cfg);
    let usable = find(&checks, "ad_connector_account_usable", GMSA);
    assert_eq!((usable[2].as_str(), usable[4].as_str()), ("PASS", "enabled, not locked (password rotated by the DC)"));
    assert_eq!(
        find(&checks, "ad_scope_permissions", &format!("{STAFF} for {GMSA} on {}", samba::DC_HOST_NAME))[2],
        "PASS"
    );
    assert_eq!(
        find(&checks, "ad_scope_permissions", &format!("{STAFF} for {CONNECTOR} on {}", samba::DC_HOST_NAME))[2],
        "PASS"
    );

    // The same gMSA without Unexpire Password (the grant gone, and denied, since Authenticated Users may hold it),
    // now configured by name (without its `$`), next to a configured gMSA that does not exist.
    Seed::default().remove_ace(DOMAIN_DN, &unexpire_ace("OA")).ace(DOMAIN_DN, &unexpire_ace("OD")).apply(&dc);
    let cfg = config(dir.path(), &dc, "configured.yml", "      cloud_sync_accounts: [provAgentgMSA, nosuch-gmsa$]\n");
    let checks = check(&cfg);
    let unexpire = find(&checks, "ad_domain_unexpire_password", &format!("{GMSA} on {}", samba::DC_HOST_NAME));
    assert_eq!((unexpire[2].as_str(), unexpire[4].as_str()), ("FAIL", "not granted"), "{unexpire:?}");
    assert!(
        unexpire[5].contains(&format!("dsacls \"{DOMAIN_DN}\" /G \"{GMSA}@corp.example.test:CA;Unexpire Password\""))
            && unexpire[5].contains(
                "Set-AADCloudSyncPermissions -PermissionType PasswordWriteBack -TargetDomain corp.example.test -EACredential (Get-Credential)"
            ),
        "{}",
        unexpire[5]
    );
    assert!(!try_unexpire(&dc, &gmsa_upn, GMSA_PW, &user_dn("ben", Some(STAFF))).await, "the DC refuses it too");
    // Connect's verdict is untouched.
    let connect = find(&checks, "ad_domain_unexpire_password", &format!("{CONNECTOR} on {}", samba::DC_HOST_NAME));
    assert_eq!(connect[2], "PASS", "{connect:?}");
    let missing = find(&checks, "ad_connector_account_found", "nosuch-gmsa$");
    assert_eq!((missing[2].as_str(), missing[4].as_str()), ("FAIL", "not found in the domain"));
    assert!(missing[5].contains("cloud_sync_accounts"), "{}", missing[5]);

    // RestrictRemoteSAM on the DCs (Default Domain Controllers Policy, read from SYSVOL): Administrators and the
    // gMSA by its SID. The gMSA is judged by the same evaluation as the connector: allowed; the connector blocked.
    let mut admin = bind(&dc, samba::ADMIN_UPN, samba::ADMIN_PASSWORD).await;
    let (found, _) = admin
        .search(DOMAIN_DN, ldap3::Scope::Subtree, &format!("(sAMAccountName={GMSA})"), vec!["objectSid"])
        .await
        .unwrap()
        .success()
        .unwrap();
    let entry = ldap3::SearchEntry::construct(found.into_iter().next().expect("the gMSA"));
    let sid_bytes = &entry.bin_attrs["objectSid"][0];
    let (sid, _) = writeback_exporter::ad::security::Sid::from_bytes(sid_bytes).unwrap();
    let _ = admin.unbind().await;
    let policy = sysvol::template("", &sysvol::restrict_remote_sam(&format!("O:BAG:BAD:(A;;RC;;;BA)(A;;RC;;;{sid})")));
    sysvol::write_template(&dc, sysvol::DEFAULT_DC_POLICY, &sysvol::utf16(&policy));
    let text = std::fs::read_to_string(dir.path().join("discover.yml")).unwrap().replace("      gpo: false\n", "");
    let cfg = write_file(dir.path(), "gpo.yml", &text);
    let checks = check(&cfg);
    let sam = |account: &str| {
        checks
            .iter()
            .find(|c| c[1] == "ad_gpo_restrict_remote_sam" && c[3] == account)
            .unwrap_or_else(|| panic!("no RestrictRemoteSAM check for {account} in {checks:#?}"))
            .clone()
    };
    assert_eq!(sam(GMSA)[2], "PASS", "{:?}", sam(GMSA));
    let blocked = sam(CONNECTOR);
    assert_eq!(blocked[2], "FAIL", "{blocked:?}");
    assert!(blocked[4].contains(&sid.to_string()), "the SDDL is shown: {blocked:?}");
}
