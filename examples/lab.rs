//! The lab: a real Samba AD DC on a loopback address and the exporter watching it, in one process.
//!
//! `cargo run --example lab` (or `scripts/lab.sh`, which installs the Debian packages first). Ctrl-C stops both
//! and removes the DC. A fresh domain has a minimum password age of 1 day, so `check` FAILs until it is fixed.

#[path = "../tests/support/samba.rs"]
#[allow(dead_code)]
mod samba;

#[path = "../tests/support/directory.rs"]
#[allow(dead_code)]
mod directory;

use std::path::PathBuf;
use std::process::ExitCode;

use writeback_exporter::{app, logging};

const USER_CLASS: &str = "bf967aba-0de6-11d0-a285-00aa003049e2";
const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=test";
const LEGACY: &str = "OU=Legacy,DC=corp,DC=example,DC=test";

/// A small domain with the breakage writeback meets in real ones: the connector account holds Microsoft's grant on
/// the domain root (Reset, Write lockoutTime, Write pwdLastSet for descendant users), and among the users are one
/// with "User cannot change password", an inetOrgPerson, an AdminSDHolder-protected admin, one with inheritance
/// disabled, and an OU with inheritance disabled. The minimum password age stays at the default 1 day.
fn seed(dc: &samba::SambaDc) {
    let grant = |guid: &str, right: &str| format!("(OA;CIIO;{right};{guid};{USER_CLASS};{{sid:MSOL_0123456789ab}})");
    let pw = "Lab-User-Passw0rd!";
    let dn = |name: &str, ou: &str| format!("CN={name},{ou}");
    directory::Seed::default()
        .user_with_description(
            "MSOL_0123456789ab",
            "Lab-Connector-Passw0rd!",
            "Account created by Microsoft Azure Active Directory Connect with installation identifier \
             0123456789ab4cdef0123456789abcde running on computer CONNECT01 configured to synchronize to tenant \
             contoso.onmicrosoft.com. This account must have directory replication permissions in the local Active \
             Directory and write permission on certain attributes to enable Hybrid Deployment.",
        )
        .ace(samba::DOMAIN_DN, &grant("00299570-246d-11d0-a768-00aa006e0529", "CR"))
        .ace(samba::DOMAIN_DN, &grant("28630ebf-41d5-11d1-a9c1-0000f80367c1", "WP"))
        .ace(samba::DOMAIN_DN, &grant("bf967a0a-0de6-11d0-a285-00aa003049e2", "WP"))
        .ou(STAFF)
        .ou(LEGACY)
        .user("alice", pw, Some(STAFF))
        .user("bob", pw, Some(STAFF))
        .ace(&dn("bob", STAFF), "(OD;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)")
        .ace(&dn("bob", STAFF), "(OD;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)")
        .inet_org_person("carol", pw, Some(STAFF))
        .user("dave", pw, Some(STAFF))
        .sdprop(&dn("dave", STAFF))
        .user("erin", pw, Some(STAFF))
        .protect(&dn("erin", STAFF))
        .protect(LEGACY)
        .user("frank", pw, Some(LEGACY))
        .apply(dc);
}

fn main() -> ExitCode {
    let listen = std::env::args().nth(1).unwrap_or_else(|| ":9862".to_string());
    logging::init(logging::Level::Info, logging::Format::Logfmt);
    let _ = rustls::crypto::ring::default_provider().install_default();

    eprintln!("lab: starting a Samba AD DC (provisioning takes about 10 s the first time)...");
    let dc = match samba::SambaDc::start() {
        Ok(dc) => dc,
        Err(e) => {
            eprintln!("lab: cannot start the Samba DC: {e}\nlab: run scripts/install-deps.sh as root first");
            return ExitCode::from(1);
        }
    };
    seed(&dc);
    let lab_dir = PathBuf::from("target/lab");
    if let Err(e) = std::fs::create_dir_all(&lab_dir) {
        eprintln!("lab: cannot create {}: {e}", lab_dir.display());
        return ExitCode::from(1);
    }
    let password_file = lab_dir.join("ad.password");
    let config_file = lab_dir.join("writeback_exporter.yml");
    let config = format!(
        "# Written by examples/lab.rs for the lab DC at {url}.\nglobal:\n  interval: 30s\n  timeout: 20s\ntargets:\n  - name: lab\n    ad:\n      servers: [\"{url}\"]\n      bind:\n        user: {user}\n        password_file: ad.password\n      tls:\n        ca_file: \"{ca}\"\n",
        url = dc.ldaps_url(),
        user = samba::MONITOR_UPN,
        ca = std::fs::canonicalize(dc.ca_pem_path()).unwrap_or_else(|_| dc.ca_pem_path().to_path_buf()).display(),
    );
    let written =
        std::fs::write(&password_file, samba::MONITOR_PASSWORD).and_then(|()| std::fs::write(&config_file, config));
    if let Err(e) = written {
        eprintln!("lab: cannot write the lab config: {e}");
        return ExitCode::from(1);
    }
    let port = listen.rsplit(':').next().unwrap_or("9862");
    println!(
        "\nlab: Samba AD DC {dc_name} at {url}\n\
         lab: exporter on http://127.0.0.1:{port}/  (metrics: http://127.0.0.1:{port}/metrics)\n\
         lab: config {config}\n\
         lab: try, in another terminal:\n\
         \x20   target/debug/writeback_exporter check --config.file {config}\n\
         \x20   samba-tool domain passwordsettings set --min-pwd-age=0 -H {sam} -s {conf}\n\
         lab: Ctrl-C stops the exporter and the DC.\n",
        dc_name = samba::DC_HOST_NAME,
        url = dc.ldaps_url(),
        config = config_file.display(),
        sam = dc.dir().join("private/sam.ldb").display(),
        conf = dc.smb_conf_path().display(),
    );

    let opts = app::Options {
        config_file,
        listen_addresses: vec![listen],
        telemetry_path: "/metrics".to_string(),
        web_config_file: None,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lab: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(app::run(opts, async {
        let _ = tokio::signal::ctrl_c().await;
    }));
    drop(dc);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab: {e}");
            ExitCode::from(1)
        }
    }
}
