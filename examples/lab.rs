//! The lab: a real Samba AD DC on a loopback address and the exporter watching it, in one process.
//!
//! `cargo run --example lab` (or `scripts/lab.sh`, which installs the Debian packages first). Ctrl-C stops both
//! and removes the DC. A fresh domain has a minimum password age of 1 day, so `check` FAILs until it is fixed.

#[path = "../tests/support/samba.rs"]
#[allow(dead_code)]
mod samba;

use std::path::PathBuf;
use std::process::ExitCode;

use writeback_exporter::{app, logging};

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
