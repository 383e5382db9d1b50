//! Probe `ad_gpo` against a real Samba DC: GPOs created and linked with `samba-tool gpo`, security templates
//! written into the DC's SYSVOL as Windows writes them (UTF-16LE with BOM) and read back by the exporter over SMB
//! as the unprivileged monitoring account. One DC walks through the scenarios in order: the Default Domain Policy
//! setting 1 day, a second GPO setting 0 with lower then higher precedence, drift against the domain object,
//! RestrictRemoteSAM blocking then allowing the connector, a GPO without a template, a malformed template, and a
//! SYSVOL that cannot be reached.

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::directory::Seed;
use support::exporter::{write_file, Exporter, BIN};
use support::samba::{self, SambaDc, DOMAIN_DN};
use support::sysvol::{
    password_policy, template, template_file, utf16, write_template, DEFAULT_DOMAIN_POLICY, RESTRICT_REMOTE_SAM,
};

const CONNECTOR: &str = "MSOL_0123456789ab";

/// `ldap://IP` without a port: `samba-tool gpo` takes the host part of `-H` as the address of its CLDAP lookup.
fn ldap(dc: &SambaDc) -> String {
    format!("ldap://{}", dc.ip())
}

fn admin() -> String {
    format!("{}%{}", samba::ADMIN_USER, samba::ADMIN_PASSWORD)
}

/// `samba-tool gpo create NAME` over LDAP; returns the new GPO's `{GUID}`.
fn create_gpo(dc: &SambaDc, name: &str) -> String {
    let out =
        dc.samba_tool_conf(&["gpo", "create", name, "-H", &ldap(dc), "-U", &admin(), "--use-kerberos=off"]).unwrap();
    let start = out.find('{').unwrap_or_else(|| panic!("no GUID in {out}"));
    out[start..start + 38].to_ascii_uppercase()
}

fn set_link(dc: &SambaDc, container: &str, guid: &str) {
    dc.samba_tool_conf(&["gpo", "setlink", container, guid, "-H", &ldap(dc), "-U", &admin(), "--use-kerberos=off"])
        .unwrap();
}

fn link(guid: &str) -> String {
    format!("[LDAP://cn={guid},cn=policies,cn=system,{DOMAIN_DN};0]")
}

fn config(dc: &SambaDc, dir: &std::path::Path, smb_port: u16) -> PathBuf {
    let pw = write_file(dir, "monitor.pw", samba::MONITOR_PASSWORD);
    let text = format!(
        "global:\n  interval: 1h\n  timeout: 60s\ntargets:\n  - name: corp\n    ad:\n      servers: [\"{}\"]\n      bind:\n        user: \"{}\"\n        password_file: \"{}\"\n      tls:\n        ca_file: \"{}\"\n      user_scan: false\n      smb:\n        port: {smb_port}\n",
        dc.ldaps_url(),
        samba::MONITOR_UPN,
        pw.display(),
        dc.ca_pem_path().display(),
    );
    write_file(dir, &format!("exporter-{smb_port}.yml"), &text)
}

/// `check --output json` and the `ad_gpo` part of its report.
fn check(cfg: &std::path::Path) -> Value {
    probe_of(&report(cfg), "ad_gpo")
}

/// `check --output json`.
fn report(cfg: &std::path::Path) -> Value {
    let out = Command::new(BIN)
        .args(["check", "--output", "json"])
        .arg(format!("--config.file={}", cfg.display()))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

fn probe_of(report: &Value, name: &str) -> Value {
    report["targets"][0]["probes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["probe"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

/// `ad_monitoring_read`'s SYSVOL check in the same report: it judges the read `ad_gpo` made (one logon for both),
/// as (status, observed, remediation).
fn monitoring_sysvol(report: &Value) -> (String, String, String) {
    let probe = probe_of(report, "ad_monitoring_read");
    let found = checks(&probe, "ad_monitoring_read");
    let mut sysvol: Vec<_> = found.into_iter().filter(|c| c.1 == "corp.example.test: sysvol").collect();
    assert_eq!(sysvol.len(), 1, "{probe:#}");
    let (status, _, observed, fix) = sysvol.remove(0);
    (status, observed, fix)
}

/// The checks with this id, as (status, subject, observed, remediation).
fn checks(probe: &Value, id: &str) -> Vec<(String, String, String, String)> {
    assert_eq!(probe["state"], "ok", "{probe:#}");
    probe["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] == id)
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (s("status"), s("subject"), s("observed"), s("remediation"))
        })
        .collect()
}

fn one(probe: &Value, id: &str) -> (String, String, String, String) {
    let mut found = checks(probe, id);
    assert_eq!(found.len(), 1, "{id}: {probe:#}");
    found.remove(0)
}

#[tokio::test]
async fn gpo_values_are_read_from_sysvol_and_judged() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    assert!(dc.smb_auth_available(), "this rig needs SMB sessions (private /run/samba per DC)");
    Seed::default()
        .user(CONNECTOR, "C0nnector-Pw-9!", None)
        .group("Writeback Sync")
        .member("Writeback Sync", CONNECTOR)
        .apply(&dc);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dc, dir.path(), 445);

    // A: the Default Domain Policy sets 1 day (Samba provisions it without a template: write one).
    write_template(&dc, DEFAULT_DOMAIN_POLICY, &utf16(&password_policy(1)));
    let probe = check(&cfg);
    let (status, subject, observed, fix) = one(&probe, "ad_gpo_min_password_age");
    assert_eq!((status.as_str(), subject.as_str()), ("FAIL", "Default Domain Policy"), "{observed}");
    assert!(
        observed.contains(&format!(
            "GPO \"Default Domain Policy\" {DEFAULT_DOMAIN_POLICY} (link order 1 at the domain root) sets Minimum password age = 1 day"
        )),
        "{observed}"
    );
    assert!(fix.contains("Account Policies > Password Policy > Minimum password age = 0 days"), "{fix}");
    assert_eq!(one(&probe, "ad_gpo_password_policy_drift").0, "PASS");
    assert_eq!(one(&probe, "ad_gpo_restrict_remote_sam").0, "PASS");

    // B: a second domain GPO sets 0, linked after the default one (samba-tool prepends: link order 2, loses);
    // an empty GPO (no template) is linked too; a GPO on the Domain Controllers OU restricts remote SAM to
    // Administrators.
    let writeback = create_gpo(&dc, "Writeback Policy");
    write_template(&dc, &writeback, &utf16(&template("[System Access]\r\nMinimumPasswordAge = 0\r\n", "")));
    set_link(&dc, DOMAIN_DN, &writeback);
    let empty = create_gpo(&dc, "Empty GPO");
    let dc_ou = format!("OU=Domain Controllers,{DOMAIN_DN}");
    let sam = create_gpo(&dc, "DC Hardening");
    set_link(&dc, &dc_ou, &sam);
    let admins_only = format!("[Registry Values]\r\n{RESTRICT_REMOTE_SAM}=1,\"O:BAG:BAD:(A;;RC;;;BA)\"\r\n");
    write_template(&dc, &sam, &utf16(&template("", &admins_only)));
    let probe = check(&cfg);
    let (status, subject, ..) = one(&probe, "ad_gpo_min_password_age");
    assert_eq!((status.as_str(), subject.as_str()), ("FAIL", "Default Domain Policy"));
    let (status, subject, observed, fix) = one(&probe, "ad_gpo_restrict_remote_sam");
    assert_eq!((status.as_str(), subject.as_str()), ("FAIL", CONNECTOR), "{observed}");
    assert!(observed.contains("\"DC Hardening\"") && observed.contains("O:BAG:BAD:(A;;RC;;;BA)"), "{observed}");
    assert!(fix.contains("Restrict clients allowed to make remote calls to SAM") && fix.contains(CONNECTOR), "{fix}");

    // C: the second GPO moved to link order 1 wins with 0 (PASS), but the domain object still holds 1 day: drift.
    let gplink = format!("{}{}{}", link(&empty), link(DEFAULT_DOMAIN_POLICY), link(&writeback));
    Seed::default()
        .modify(&format!("dn: {DOMAIN_DN}\nchangetype: modify\nreplace: gPLink\ngPLink: {gplink}\n-\n"))
        .apply(&dc);
    let probe = check(&cfg);
    let (status, subject, observed, _) = one(&probe, "ad_gpo_min_password_age");
    assert_eq!((status.as_str(), subject.as_str()), ("PASS", "Writeback Policy"), "{observed}");
    let (status, _, observed, fix) = one(&probe, "ad_gpo_password_policy_drift");
    assert_eq!(status, "WARN");
    assert_eq!(
        observed,
        "GPO \"Writeback Policy\" says MinimumPasswordAge = 0 seconds, the domain still enforces minPwdAge = 1 day"
    );
    assert!(fix.contains("gpupdate /force"), "{fix}");

    // The same state on /metrics.
    let exporter = Exporter::start(&cfg, &[]);
    let m = exporter
        .wait_for_metrics(Duration::from_secs(90), "ad_gpo ran", |m| {
            m.has("writeback_probe_success", &[("probe", "ad_gpo")])
        })
        .await;
    assert_eq!(m.value("writeback_probe_success", &[("probe", "ad_gpo")]), Some(1.0), "{}", exporter.log());
    let d = ("domain", "corp.example.test");
    let info = |gpo: &str, guid: &str, at: &str| {
        m.value("writeback_ad_gpo_info", &[d, ("gpo", gpo), ("guid", guid), ("linked_at", at)])
    };
    assert_eq!(info("Default Domain Policy", DEFAULT_DOMAIN_POLICY, "domain"), Some(1.0));
    assert_eq!(info("Writeback Policy", &writeback, "domain"), Some(1.0));
    assert_eq!(info("Empty GPO", &empty, "domain"), Some(1.0));
    assert_eq!(info("DC Hardening", &sam, "domain_controllers"), Some(1.0));
    let order = |gpo: &str, at: &str| m.value("writeback_ad_gpo_link_order", &[d, ("gpo", gpo), ("linked_at", at)]);
    assert_eq!(order("Writeback Policy", "domain"), Some(1.0));
    assert_eq!(order("Default Domain Policy", "domain"), Some(2.0));
    assert_eq!(order("Empty GPO", "domain"), Some(3.0));
    // samba-tool prepends: the provisioned Default Domain Controllers Policy keeps link order 1.
    assert_eq!(order("DC Hardening", "domain_controllers"), Some(2.0));
    assert_eq!(order("Default Domain Controllers Policy", "domain_controllers"), Some(1.0));
    let age = |gpo: &str| m.value("writeback_ad_gpo_min_password_age_seconds", &[d, ("gpo", gpo)]);
    assert_eq!(age("Default Domain Policy"), Some(86_400.0));
    assert_eq!(age("Writeback Policy"), Some(0.0));
    assert_eq!(age("Empty GPO"), None, "a GPO without a template sets nothing");
    assert_eq!(m.value("writeback_ad_gpo_template_readable", &[d, ("gpo", "Empty GPO")]), Some(1.0));
    let drift = |setting: &str| m.value("writeback_ad_gpo_password_policy_drift", &[d, ("setting", setting)]);
    assert_eq!(drift("min_password_age"), Some(1.0));
    assert_eq!(drift("max_password_age"), Some(0.0));
    assert_eq!(drift("complexity"), Some(0.0));
    let sam_labels = [d, ("gpo", "DC Hardening")];
    assert_eq!(m.value("writeback_ad_restrict_remote_sam_configured", &sam_labels), Some(1.0));
    assert_eq!(m.value("writeback_ad_restrict_remote_sam_configured", &[d, ("gpo", "Writeback Policy")]), Some(0.0));
    assert_eq!(m.value("writeback_ad_restrict_remote_sam_configured", &[d, ("gpo", "Empty GPO")]), Some(0.0));
    let allows = [d, ("gpo", "DC Hardening"), ("account", CONNECTOR)];
    assert_eq!(m.value("writeback_ad_restrict_remote_sam_allows_connector", &allows), Some(0.0));
    drop(exporter);

    // D: the policy allows a group the connector is in; the domain object catches up with the GPO.
    let group_sid = dc.samba_tool(&["group", "show", "Writeback Sync", "--attributes=objectSid"]).unwrap();
    let group_sid = group_sid.lines().find_map(|l| l.strip_prefix("objectSid: ")).unwrap().trim().to_string();
    let with_group =
        format!("[Registry Values]\r\n{RESTRICT_REMOTE_SAM}=1,\"O:BAG:BAD:(A;;RC;;;BA)(A;;RC;;;{group_sid})\"\r\n");
    write_template(&dc, &sam, &utf16(&template("", &with_group)));
    dc.set_min_pwd_age_days(0).unwrap();
    let probe = check(&cfg);
    let (status, _, observed, _) = one(&probe, "ad_gpo_restrict_remote_sam");
    assert_eq!(status, "PASS", "{observed}");
    assert!(observed.contains(&format!("which allows {CONNECTOR}")), "{observed}");
    assert_eq!(one(&probe, "ad_gpo_password_policy_drift").0, "PASS");
    assert_eq!(one(&probe, "ad_gpo_min_password_age").0, "PASS");

    // E: a malformed template: named with its GPO and line; the next GPO in precedence decides, and says so.
    write_template(
        &dc,
        &writeback,
        &utf16("[Unicode]\r\nUnicode=yes\r\n[System Access]\r\nMinimumPasswordAge = soon\r\n"),
    );
    let probe = check(&cfg);
    let (status, subject, observed, _) = one(&probe, "ad_gpo_template");
    assert_eq!((status.as_str(), subject.as_str()), ("WARN", "Writeback Policy"));
    assert!(observed.contains(&format!("GptTmpl.inf of GPO \"Writeback Policy\" {writeback}")), "{observed}");
    assert!(observed.contains("line 4: MinimumPasswordAge is not an integer: \"soon\""), "{observed}");
    let (status, subject, observed, _) = one(&probe, "ad_gpo_min_password_age");
    assert_eq!((status.as_str(), subject.as_str()), ("FAIL", "Default Domain Policy"));
    assert!(observed.contains("higher precedence could not be read: Writeback Policy"), "{observed}");

    // F: SYSVOL unreachable (nothing listens on port 1): the probe fails with reason connect, never a pass.
    let unreachable = report(&config(&dc, dir.path(), 1));
    let probe = probe_of(&unreachable, "ad_gpo");
    assert_eq!(probe["state"], "failed", "{probe:#}");
    assert_eq!(probe["reason"], "connect", "{probe:#}");
    assert!(probe["error"].as_str().unwrap().contains("cannot reach SYSVOL over SMB"), "{probe:#}");
    assert_eq!(probe["checks"].as_array().map(Vec::len), Some(0));
    let (status, observed, fix) = monitoring_sysvol(&unreachable);
    assert_eq!(status, "WARN", "{observed}");
    assert!(observed.contains("cannot reach SYSVOL over SMB"), "{observed}");
    assert!(fix.contains("Let the exporter reach SMB (TCP 1)"), "{fix}");

    // G: SYSVOL reachable but the template is not readable by the monitoring account: reason permission.
    let ddp = template_file(&dc, DEFAULT_DOMAIN_POLICY);
    let only_admins = "O:BAG:SYD:PAI(A;;FA;;;BA)(A;;FA;;;SY)";
    dc.samba_tool_conf(&["ntacl", "set", only_admins, ddp.to_str().unwrap(), "--service=sysvol"]).unwrap();
    let denied = report(&cfg);
    let probe = probe_of(&denied, "ad_gpo");
    assert_eq!(probe["state"], "failed", "{probe:#}");
    assert_eq!(probe["reason"], "permission", "{probe:#}");
    assert!(probe["error"].as_str().unwrap().contains("access denied"), "{probe:#}");
    // The share itself is readable; what the monitoring account lacks is the template ad_gpo needs, and
    // ad_monitoring_read says so.
    let (status, observed, fix) = monitoring_sysvol(&denied);
    assert_eq!(status, "WARN", "{observed}");
    assert!(observed.contains("access denied"), "{observed}");
    assert!(fix.contains("icacls"), "{fix}");
}
