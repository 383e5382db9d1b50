//! Kerberos binds against a real Samba DC: a keytab exported with `samba-tool domain exportkeytab`, a krb5.conf
//! naming the DC's KDC, and `ldap://<DC host name>:389` without TLS, where a simple bind is refused
//! (strongerAuthRequired) and a GSSAPI bind with a sealed session works, as with real AD: from a client keytab
//! (`KRB5_CLIENT_KTNAME`), from a credential cache filled by kinit, and failing clearly with neither.
#![cfg(feature = "gssapi")]

mod support;

use std::path::Path;
use std::time::Duration;

use support::dns::{FakeDns, Record};
use support::exporter::{write_file, Exporter};
use support::samba::{self, SambaDc};

/// A krb5.conf for the test domain whose KDC is the DC's address (no DNS, no reverse lookups: the service name
/// stays `ldap/<the host name in the URL>`).
fn krb5_conf(dir: &Path, kdc: std::net::Ipv4Addr) -> std::path::PathBuf {
    let realm = samba::REALM;
    let domain = samba::DNS_DOMAIN;
    write_file(
        dir,
        "krb5.conf",
        &format!(
            "[libdefaults]\n  default_realm = {realm}\n  dns_lookup_realm = false\n  dns_lookup_kdc = false\n  rdns = false\n  dns_canonicalize_hostname = false\n  udp_preference_limit = 1\n\n[realms]\n  {realm} = {{\n    kdc = {kdc}\n  }}\n\n[domain_realm]\n  .{domain} = {realm}\n  {domain} = {realm}\n"
        ),
    )
}

#[tokio::test]
async fn gssapi_bind_with_a_keytab_on_plain_ldap() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let keytab = dir.path().join("svc-wbmon.keytab");
    let principal = format!("--principal={}", samba::MONITOR_USER);
    dc.samba_tool_conf(&["domain", "exportkeytab", keytab.to_str().unwrap(), &principal])
        .unwrap_or_else(|e| panic!("exportkeytab: {e}"));
    // A Windows DC registers ldap/<its host name> itself; the rig's template never ran Samba's SPN update, so its
    // DC1$ has only host/ SPNs (and the KDC maps host/ to many services, but not to ldap/).
    let spn = format!("ldap/{}", dc.host_name());
    dc.samba_tool(&["spn", "add", &spn, &format!("{}$", dc.netbios_name())]).unwrap_or_else(|e| panic!("spn add: {e}"));
    let krb5 = krb5_conf(dir.path(), dc.ip());
    let ccache = format!("FILE:{}", dir.path().join("ccache").display());
    // The DC's host name resolves through the target's own DNS server, to the DC's loopback address.
    let dns = FakeDns::start(vec![Record::a(dc.host_name(), dc.ip())]);
    let url = format!("ldap://{}:389", dc.host_name());
    let pw = write_file(dir.path(), "pw", samba::MONITOR_PASSWORD);
    let (dns, upn, pw, realm) = (dns.addr, samba::MONITOR_UPN, pw.display(), samba::REALM);
    let target = |name: &str, bind: &str, extra: &str| {
        format!(
            "  - name: {name}\n    ad:\n      servers: [\"{url}\"]\n      dns_servers: [\"{dns}\"]\n{extra}      bind:\n{bind}"
        )
    };
    let text = [
        "global:\n  interval: 3s\n  timeout: 30s\ntargets:\n".to_string(),
        target("krb", "        mechanism: gssapi\n", ""),
        target(
            "simple",
            &format!("        user: \"{upn}\"\n        password_file: \"{pw}\"\n"),
            "      allow_plaintext: true\n",
        ),
        target("stranger", &format!("        mechanism: gssapi\n        user: nobody@{realm}\n"), ""),
    ]
    .concat();
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let env = [
        ("KRB5_CONFIG", krb5.to_str().unwrap()),
        ("KRB5_CLIENT_KTNAME", keytab.to_str().unwrap()),
        ("KRB5CCNAME", ccache.as_str()),
    ];
    let exporter = Exporter::start_with_env(&cfg, &[], &env);
    let ok = |probe: &'static str| [("target", "krb"), ("probe", probe)];
    let failed =
        |target: &'static str, reason: &'static str| [("target", target), ("probe", "ad_topology"), ("reason", reason)];
    let m = exporter
        .wait_for_metrics(Duration::from_secs(90), "Kerberos probes succeed, simple bind refused", |m| {
            ["ad_topology", "ad_policy", "ad_connector", "ad_acl", "ad_users"]
                .iter()
                .all(|p| m.value("writeback_probe_success", &ok(p)) == Some(1.0))
                && m.value("writeback_probe_failures_total", &failed("simple", "config")).is_some_and(|v| v >= 1.0)
                && m.value("writeback_probe_failures_total", &failed("stranger", "auth")).is_some_and(|v| v >= 1.0)
        })
        .await;
    assert_eq!(m.value("writeback_ad_dc_up", &[("target", "krb"), ("dc", samba::DC_HOST_NAME)]), Some(1.0));
    assert_eq!(m.value("writeback_ad_domain_min_password_age_seconds", &[("target", "krb")]), Some(86_400.0));
    assert!(m.has("writeback_ad_users", &[("target", "krb"), ("scope", samba::DOMAIN_DN)]), "{}", m.text);
    assert_eq!(m.value("writeback_probe_success", &[("target", "simple"), ("probe", "ad_topology")]), Some(0.0));
    let log = exporter.log();
    assert!(log.contains("strongerAuthRequired"), "{log}");
    assert!(!log.contains(samba::MONITOR_PASSWORD), "the password reached the log");
    // The ticket came from the keytab, into the process' credential cache.
    assert!(dir.path().join("ccache").exists(), "no credential cache written");

    // `check` with a credential cache only, filled by kinit (as a sidecar or an operator would), no keytab.
    let cache = format!("FILE:{}", dir.path().join("ccache-kinit").display());
    let kinit = std::process::Command::new("kinit")
        .args(["-k", "-t", keytab.to_str().unwrap(), &format!("{}@{}", samba::MONITOR_USER, samba::REALM)])
        .envs([env[0], ("KRB5CCNAME", cache.as_str())])
        .output()
        .unwrap();
    assert!(kinit.status.success(), "kinit: {}", String::from_utf8_lossy(&kinit.stderr));
    let out = std::process::Command::new(support::exporter::BIN)
        .args(["check", "--target", "krb"])
        .arg(format!("--config.file={}", cfg.display()))
        .env_remove("KRB5_CLIENT_KTNAME")
        .envs([env[0], ("KRB5CCNAME", cache.as_str())])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert_ne!(out.status.code(), Some(3), "{report}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("PASS  ad_topology    Domain controller answers LDAP [dc1.corp.example.test]"), "{report}");
    assert!(
        report.contains("FAIL  ad_acl         An Entra Connect connector account exists [corp.example.test]"),
        "{report}"
    );

    // No credentials at all: `check` cannot connect (exit 3) and says what to set.
    let empty = format!("FILE:{}", dir.path().join("ccache-empty").display());
    let out = std::process::Command::new(support::exporter::BIN)
        .args(["check", "--target", "krb"])
        .arg(format!("--config.file={}", cfg.display()))
        .env_remove("KRB5_CLIENT_KTNAME")
        .envs([env[0], ("KRB5CCNAME", empty.as_str())])
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("probes could not run (auth)") && text.contains("No Kerberos credentials available"),
        "{text}"
    );
    assert!(text.contains("set KRB5_CLIENT_KTNAME to a keytab"), "{text}");
}
