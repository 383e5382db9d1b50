//! `writeback_exporter explain` against a real Samba AD DC seeded with the integration scenario
//! (tests/support/scenario.rs), plus a user granted through nested groups. The DC's own access check is the
//! oracle: for every user, the four rights `explain` reports agree with what the DC lets the connector do, and each
//! deciding ACE it names is in that user's DACL, at that position, with that effect.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use ldap3::controls::RawControl;
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use serde_json::Value;
use support::directory::{try_writeback, user_dn, Seed};
use support::exporter::{write_file, Exporter, BIN};
use support::samba::{self, SambaDc, DOMAIN_DN};
use support::scenario::{self, CONNECTOR, LEGACY, PSO, STAFF};
use writeback_exporter::ad::security::SecurityDescriptor;

const USER_PW: &str = "Lab-User-Passw0rd!";
const CONNECTOR_PW: &str = "Lab-Connector-Passw0rd!";
const RIGHTS: [&str; 4] = ["reset_password", "change_password", "write_lockout_time", "write_pwd_last_set"];
const RESET: &str = "00299570-246d-11d0-a768-00aa006e0529";

/// The scenario's users (where they live) and gina, granted Reset Password only through G-Outer > G-Inner.
fn users() -> Vec<(&'static str, String)> {
    let mut users: Vec<(&str, String)> =
        ["alice", "bob", "carol", "dave", "erin", "gina"].iter().map(|u| (*u, user_dn(u, Some(STAFF)))).collect();
    users.push(("frank", user_dn("frank", Some(LEGACY))));
    users
}

fn config(dir: &Path, dc: &SambaDc) -> PathBuf {
    let monitor = write_file(dir, "monitor.pw", samba::MONITOR_PASSWORD);
    let admin = write_file(dir, "admin.pw", samba::ADMIN_PASSWORD);
    let target = |name: &str, upn: &str, pw: &Path, extra: &str| {
        format!(
            "  - name: {name}\n    ad:\n      servers: [\"{}\"]\n      bind:\n        user: \"{upn}\"\n        password_file: \"{}\"\n      tls:\n        ca_file: \"{}\"\n      scopes: [\"{DOMAIN_DN}\", \"{STAFF}\", \"{LEGACY}\"]\n{extra}",
            dc.ldaps_url(),
            pw.display(),
            dc.ca_pem_path().display(),
        )
    };
    let text = format!(
        "global:\n  interval: 1h\n  timeout: 60s\ntargets:\n{}{}{}",
        target("corp", samba::MONITOR_UPN, &monitor, ""),
        target("admin", samba::ADMIN_UPN, &admin, ""),
        target("nogpo", samba::MONITOR_UPN, &monitor, "      gpo: false\n"),
    );
    write_file(dir, "writeback_exporter.yml", &text)
}

/// Runs `explain`; returns the exit code and stdout.
fn explain(cfg: &Path, target: &str, user: &str, json: bool) -> (i32, String) {
    let mut cmd = Command::new(BIN);
    cmd.arg("explain").arg(format!("--config.file={}", cfg.display())).args(["--target", target]);
    if json {
        cmd.args(["--output", "json"]);
    }
    let out = cmd.arg(user).output().expect("run explain");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = out.status.code().unwrap_or(-1);
    assert!((0..=3).contains(&code), "explain {user}: exit {code}\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    (code, stdout)
}

fn explain_json(cfg: &Path, target: &str, user: &str) -> (i32, Value) {
    let (code, out) = explain(cfg, target, user, true);
    let json = serde_json::from_str(&out).unwrap_or_else(|e| panic!("explain {user}: not JSON ({e}):\n{out}"));
    (code, json)
}

/// The connector's entry on the (only) DC.
fn connector_rights(e: &Value) -> &Value {
    let accounts = e["dcs"][0]["accounts"].as_array().unwrap_or_else(|| panic!("no accounts: {e:#}"));
    accounts.iter().find(|a| a["account"] == CONNECTOR).unwrap_or_else(|| panic!("no {CONNECTOR}: {e:#}"))
}

fn allowed(e: &Value) -> [bool; 4] {
    let rights = connector_rights(e)["rights"].as_array().unwrap();
    RIGHTS.map(|name| {
        let r = rights.iter().find(|r| r["right"] == name).unwrap_or_else(|| panic!("no {name}"));
        r["allowed"].as_bool().unwrap()
    })
}

/// Each user's DACL as the DC holds it, read as the administrator: SDDL of every ACE, in order.
async fn dacl(dc: &SambaDc, dn: &str) -> Vec<String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(dc.ca_der().to_vec())).unwrap();
    let tls = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let (conn, mut ldap) =
        LdapConnAsync::with_settings(LdapConnSettings::new().set_config(Arc::new(tls)), &dc.ldaps_url()).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(samba::ADMIN_UPN, samba::ADMIN_PASSWORD).await.unwrap().success().unwrap();
    let control = RawControl {
        ctype: "1.2.840.113556.1.4.801".to_string(),
        crit: true,
        val: Some(vec![0x30, 0x03, 0x02, 0x01, 0x04]),
    };
    let (entries, _) = ldap
        .with_controls(vec![control])
        .search(dn, Scope::Base, "(objectClass=*)", vec!["nTSecurityDescriptor"])
        .await
        .unwrap()
        .success()
        .unwrap();
    let entry = SearchEntry::construct(entries.into_iter().next().expect("the user exists"));
    let bytes = &entry.bin_attrs["nTSecurityDescriptor"][0];
    let sd = SecurityDescriptor::parse(bytes).unwrap();
    let aces = sd.dacl_aces().unwrap().map(|a| a.unwrap().to_sddl()).collect();
    let _ = ldap.unbind().await;
    aces
}

#[tokio::test]
async fn explain_agrees_with_the_dc_for_every_scenario_user() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    scenario::seed_domain(&dc);
    let gina = user_dn("gina", Some(STAFF));
    Seed::default()
        .group("G-Outer")
        .group("G-Inner")
        .member("G-Outer", "G-Inner")
        .member("G-Inner", CONNECTOR)
        .user("gina", USER_PW, Some(STAFF))
        .ace(&gina, &format!("(OA;;CR;{RESET};;{{sid:G-Outer}})"))
        .apply(&dc);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &dc);

    // Every user, judged by explain (as the plain monitoring account), before anything changes them.
    let mut explained = Vec::new();
    for (name, dn) in users() {
        let (code, e) = explain_json(&cfg, "corp", name);
        assert_eq!(code, 1, "{name}: the domain's 1-day minimum age alone makes everyone not ready: {e:#}");
        assert_eq!(e["dn"].as_str().unwrap().to_lowercase(), dn.to_lowercase(), "{name}");
        let causes: Vec<&str> =
            e["verdict"]["causes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
        assert!(causes.contains(&"min_password_age"), "{name}: {causes:?}");
        assert!(causes.contains(&"restrict_remote_sam"), "{name}: the DC policy blocks the connector: {causes:?}");
        if name == "alice" {
            // The DC names her PSO, which the plain monitoring account may not read: said, not guessed.
            assert_eq!(e["policy"]["pso"]["name"], PSO, "{:#}", e["policy"]);
            assert!(e["policy"]["note"].as_str().unwrap().contains("not readable"), "{:#}", e["policy"]);
        } else {
            // Set just now, minimum age 1 day; without inheritance the monitoring account may not see pwdLastSet.
            let hidden = e["policy"]["note"].as_str().is_some_and(|n| n.contains("pwdLastSet is not readable"));
            assert!(e["policy"]["may_change_at"].is_string() || hidden, "{name}: {:#}", e["policy"]);
            assert_eq!(hidden, ["erin", "frank"].contains(&name), "{name}: {:#}", e["policy"]);
        }

        // Each deciding ACE is in the user's DACL at that position with that effect.
        let aces = dacl(&dc, &dn).await;
        for right in connector_rights(&e)["rights"].as_array().unwrap() {
            let Some(ace) = right.get("ace") else {
                assert_eq!(right["decision"], "not_granted", "{name}: {right:#}");
                continue;
            };
            let position = ace["position"].as_u64().unwrap() as usize;
            let sddl = ace["sddl"].as_str().unwrap();
            assert_eq!(aces.get(position - 1).map(String::as_str), Some(sddl), "{name}: {right:#}\n{aces:#?}");
            let deny = sddl.starts_with("(D;") || sddl.starts_with("(OD;");
            assert_eq!(ace["effect"], if deny { "deny" } else { "allow" }, "{name}: {right:#}");
            assert_eq!(right["allowed"].as_bool().unwrap(), !deny, "{name}: {right:#}");
            let source = ace["source"]["kind"].as_str().unwrap();
            assert_eq!(source == "inherited", sddl.contains("ID;"), "{name}: {right:#}");
        }
        explained.push((name, dn, e));
    }
    let by_name = |n: &str| &explained.iter().find(|(u, _, _)| *u == n).unwrap().2;
    let cause = |n: &str| connector_rights(by_name(n))["cause"].as_str().map(str::to_string);
    assert_eq!(cause("alice"), None, "alice's ACL is fine");
    assert_eq!(cause("bob").as_deref(), Some("denied"));
    assert_eq!(by_name("bob")["dcs"][0]["object"]["cannot_change_password"], true);
    assert_eq!(cause("carol").as_deref(), Some("object_class"));
    assert_eq!(by_name("carol")["dcs"][0]["object"]["object_class"], "inetOrgPerson");
    assert_eq!(cause("dave").as_deref(), Some("protected"));
    assert_eq!(cause("erin").as_deref(), Some("inheritance_disabled"));
    assert_eq!(cause("frank").as_deref(), Some("not_granted"));
    assert_eq!(cause("gina"), None);
    // The grant Microsoft's cmdlet writes on the domain root, seen from alice; Change Password from the schema.
    let alice = connector_rights(by_name("alice"))["rights"].as_array().unwrap().clone();
    assert_eq!(alice[0]["ace"]["source"]["from"], DOMAIN_DN, "{:#}", alice[0]);
    assert_eq!(alice[1]["ace"]["source"]["kind"], "schema_default", "{:#}", alice[1]);
    assert_eq!(alice[1]["ace"]["trustee"]["name"], "Everyone");
    // Reset Password through nested groups, outer group first.
    let reset = &connector_rights(by_name("gina"))["rights"][0]["ace"];
    assert_eq!(reset["trustee"]["path"], serde_json::json!(["G-Outer", "G-Inner", CONNECTOR]), "{reset:#}");
    assert_eq!(reset["trustee"]["matched_as"], "group");
    assert_eq!(reset["source"]["kind"], "explicit");
    let fix = by_name("frank")["verdict"]["fixes"][0]["text"].as_str().unwrap();
    assert!(fix.contains(&format!("dsacls \"{LEGACY}\" /I:S /G")), "{fix}");

    // Lookup by sAMAccountName, UPN and DN give the same answer.
    for (name, dn, e) in explained.iter().filter(|(n, _, _)| ["bob", "carol"].contains(n)) {
        for other in [format!("{name}@corp.example.test"), dn.clone()] {
            let (_, again) = explain_json(&cfg, "corp", &other);
            assert_eq!(again["dn"], e["dn"], "{other}");
            assert_eq!(again["dcs"][0]["accounts"], e["dcs"][0]["accounts"], "{other}");
        }
    }
    // A filter in the value is escaped: no match, not an LDAP error, and not every user.
    for hostile in ["*)(cn=*", "*", "*)(|(sAMAccountName=*"] {
        let (code, e) = explain_json(&cfg, "corp", hostile);
        assert_eq!((code, e["reason"].as_str()), (3, Some("not_found")), "{hostile}: {e:#}");
    }

    // As an administrator, the PSO on alice is read: its minimum age and when she may change again.
    let (code, admin_alice) = explain_json(&cfg, "admin", "alice");
    assert_eq!(code, 1);
    let policy = &admin_alice["policy"];
    assert_eq!(policy["pso"]["name"], PSO, "{policy:#}");
    assert_eq!(policy["min_age_seconds"], 86_400.0, "{policy:#}");
    assert_eq!(policy["blocked_now"], true, "{policy:#}");
    let fixes = admin_alice["verdict"]["fixes"].to_string();
    assert!(fixes.contains("Set-ADFineGrainedPasswordPolicy -Identity \\\"helpdesk-strict\\\""), "{fixes}");

    // The text form: the group path, the time, the fix, within 100 columns where words allow.
    let (code, text) = explain(&cfg, "corp", "gina", false);
    assert_eq!(code, 1);
    assert!(text.contains("G-Outer > G-Inner > MSOL_0123456789ab"), "{text}");
    assert!(text.contains("may change again at"), "{text}");
    assert!(text.contains("fix restrict_remote_sam"), "{text}");
    for line in text.lines() {
        assert!(line.chars().count() <= 100 || !line.trim().contains(' '), "too wide: {line:?}\n{text}");
    }

    // The library, as an HTTP endpoint would call it: the HTML fragment escapes every value.
    let config = writeback_exporter::app::load_config(&cfg).unwrap();
    let target = config.targets.iter().find(|t| t.name == "corp").unwrap().clone();
    let ctx = writeback_exporter::probe::TargetContext::single_run(target, &config);
    let query = writeback_exporter::explain::UserQuery::parse("gina").unwrap();
    let related = writeback_exporter::explain::Related::default();
    let e = writeback_exporter::explain::explain(ctx.ad.as_ref().unwrap(), "corp", &query, related, config.timeout())
        .await
        .unwrap();
    let html = writeback_exporter::explain::render::html(&e);
    assert!(html.contains("G-Outer &gt; G-Inner &gt; MSOL_0123456789ab"), "{html}");
    assert!(!html.contains("G-Outer > G-Inner"), "{html}");

    // The oracle: minimum ages and history to 0 (a refused change must mean a refused right), then the connector
    // tries each operation on each user.
    Seed::default()
        .modify(&format!(
            "dn: {DOMAIN_DN}\nchangetype: modify\nreplace: minPwdAge\nminPwdAge: 0\n-\nreplace: pwdHistoryLength\npwdHistoryLength: 0\n-\n"
        ))
        .apply(&dc);
    dc.samba_tool(&["domain", "passwordsettings", "pso", "set", PSO, "--min-pwd-age=0", "--history-length=0"])
        .unwrap_or_else(|e| panic!("PSO: {e}"));
    let upn = format!("{CONNECTOR}@corp.example.test");
    for (name, dn, e) in &explained {
        let truth = try_writeback(&dc, &upn, CONNECTOR_PW, dn, USER_PW).await;
        assert_eq!(allowed(e), truth.as_array(), "{name}: explain against the DC's own answer {truth:?}");
    }

    // Exit codes: with the minimum ages at 0 and no Group Policy read, gina is ready (0), bob is not (1), a user
    // who does not exist cannot be judged (3).
    assert_eq!(explain_json(&cfg, "nogpo", "gina").0, 0);
    assert_eq!(explain_json(&cfg, "nogpo", "bob").0, 1);
    let (code, e) = explain_json(&cfg, "nogpo", "nobody");
    assert_eq!((code, e["reason"].as_str()), (3, Some("not_found")), "{e:#}");
    assert_eq!(explain(&cfg, "nowhere", "gina", false).0, 3, "an unknown target");

    // The same from the daemon's /explain: JSON equal to the CLI's, HTML with every value escaped.
    let exporter = Exporter::start(&cfg, &[]);
    let client = reqwest::Client::new();
    let get = |path: String, json: bool| {
        let req = client.get(exporter.url(&path));
        let req = if json { req.header("Accept", "application/json") } else { req };
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    for (target, user) in [("nogpo", "gina"), ("nogpo", "bob"), ("corp", "carol")] {
        let (status, body) = get(format!("/explain?target={target}&user={user}"), true).await;
        assert_eq!(status, 200, "{target} {user}: {body}");
        let http: Value = serde_json::from_str(&body).unwrap();
        let (_, cli) = explain_json(&cfg, target, user);
        assert_eq!(http["dcs"][0]["accounts"], cli["dcs"][0]["accounts"], "{user}");
        assert_eq!(http["verdict"]["state"], cli["verdict"]["state"], "{user}");
    }
    let gina_dn: String = url::form_urlencoded::byte_serialize(user_dn("gina", Some(STAFF)).as_bytes()).collect();
    let (status, page) = get(format!("/explain?target=nogpo&user={gina_dn}"), false).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("G-Outer &gt; G-Inner &gt; MSOL_0123456789ab"), "{page}");
    let (status, page) = get("/explain?target=corp&user=%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_string(), false).await;
    assert_eq!(status, 404, "{page}");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !page.contains("<script>"), "{page}");
    let (status, body) = get("/explain?target=corp&user=nobody".to_string(), true).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["reason"], "not_found");
}
