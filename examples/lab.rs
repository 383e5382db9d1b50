//! The lab: a real Samba AD DC and a fake Entra tenant seeded with the breakage writeback meets in real ones, the
//! exporter watching both, Prometheus evaluating alerts/writeback.rules.yml, and Alertmanager receiving the alerts,
//! all on loopback addresses, in one command.
//!
//! `scripts/lab.sh [LISTEN]` (installs the Debian packages first) or `cargo run --example lab -- [LISTEN]`; LISTEN
//! is the exporter's address (default 127.0.0.1:9862). Ctrl-C stops everything and removes the DC. The scenario is
//! tests/support/scenario.rs, the one the dashboard test runs every query against; docs/lab.md lists what fires
//! and how each fix clears it.

#[path = "../tests/support/samba/mod.rs"]
#[allow(dead_code)]
mod samba;

#[path = "../tests/support/directory.rs"]
#[allow(dead_code)]
mod directory;

#[path = "../tests/support/graph_fake.rs"]
#[allow(dead_code)]
mod graph_fake;

#[path = "../tests/support/prometheus.rs"]
#[allow(dead_code)]
mod prometheus;

#[path = "../tests/support/sysvol.rs"]
#[allow(dead_code)]
mod sysvol;

#[path = "../tests/support/scenario.rs"]
#[allow(dead_code)]
mod scenario;

/// graph_fake's `run_check` names the binary; the lab does not use it.
#[allow(dead_code)]
mod exporter {
    pub const BIN: &str = "target/debug/writeback_exporter";
}

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use writeback_exporter::{app, logging};

/// `preferred` when it is free on 127.0.0.1, else any free port.
fn port(preferred: u16) -> u16 {
    match std::net::TcpListener::bind(("127.0.0.1", preferred)) {
        Ok(_) => preferred,
        Err(_) => prometheus::free_port(),
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab: {e}");
            ExitCode::from(1)
        }
    }
}

fn run() -> Result<(), String> {
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9862".to_string());
    logging::init(logging::Level::Info, logging::Format::Logfmt);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lab_dir = root.join("target/lab");
    // A previous run's Prometheus data would carry its alerts over: start clean.
    let _ = std::fs::remove_dir_all(&lab_dir);
    std::fs::create_dir_all(&lab_dir).map_err(|e| format!("cannot create {}: {e}", lab_dir.display()))?;

    eprintln!("lab: starting a Samba AD DC (provisioning takes about 10 s the first time)...");
    let dc = samba::SambaDc::start()
        .map_err(|e| format!("cannot start the Samba DC: {e}\nlab: run scripts/install-deps.sh as root first"))?;
    scenario::seed_domain(&dc);

    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let fake =
        runtime.block_on(graph_fake::GraphFake::start(graph_fake::Credential::Secret(graph_fake::SECRET.to_string())));
    scenario::seed_tenant(&fake);

    let password_file = lab_dir.join("ad.password");
    let secret_file = lab_dir.join("graph.secret");
    let config_file = lab_dir.join("writeback_exporter.yml");
    std::fs::write(&password_file, samba::MONITOR_PASSWORD).map_err(|e| e.to_string())?;
    std::fs::write(&secret_file, graph_fake::SECRET).map_err(|e| e.to_string())?;
    let config = scenario::exporter_config(&dc, samba::MONITOR_UPN, &password_file, &fake, &secret_file, "30s");
    std::fs::write(&config_file, format!("# Written by examples/lab.rs.\n{config}")).map_err(|e| e.to_string())?;

    let exporter_addr: std::net::SocketAddr =
        listen.parse().map_err(|e| format!("listen address {listen}: {e} (give host:port, e.g. 127.0.0.1:9862)"))?;
    let inhibit_file = root.join("alerts/alertmanager-inhibit.yml");
    let inhibit = std::fs::read_to_string(&inhibit_file).map_err(|e| format!("{}: {e}", inhibit_file.display()))?;
    let alertmanager = prometheus::Alertmanager::start(&lab_dir.join("alertmanager"), Some(port(9093)), &inhibit)
        .map_err(|e| format!("Alertmanager: {e}"))?;
    let prom = prometheus::Prometheus::start(&prometheus::PrometheusSetup {
        exporter: exporter_addr,
        rule_files: vec![absolute(&root.join("alerts/writeback.rules.yml"))],
        alertmanager: Some(alertmanager.addr),
        scrape_interval: "15s",
        dir: Some(lab_dir.join("prometheus")),
        port: Some(port(9090)),
    })
    .map_err(|e| format!("Prometheus: {e}"))?;

    println!(
        "\nlab: Samba AD DC {dc_name} at {url} (domain corp.example.test; Administrator / {admin_pw})\n\
         lab: fake Microsoft Graph at {graph}\n\
         lab: exporter      http://{exporter_addr}/  (metrics: http://{exporter_addr}/metrics)\n\
         lab: Prometheus    {prom_url}  (alerts: {prom_url}alerts)\n\
         lab: Alertmanager  {am_url}\n\
         lab: config {config}\n\
         lab: try, in another terminal:\n\
         \x20   target/debug/writeback_exporter check --config.file {config}\n\
         \x20   export LAB=\"-H {sam} -s {conf}\" LAB_DIR={dc_dir}\n\
         \x20   samba-tool domain passwordsettings set --min-pwd-age=0 $LAB\n\
         lab: docs/lab.md lists what fires and the fix for each. Ctrl-C stops everything.\n",
        dc_name = samba::DC_HOST_NAME,
        url = dc.ldaps_url(),
        admin_pw = samba::ADMIN_PASSWORD,
        graph = fake.url(),
        prom_url = prom.url("/"),
        am_url = alertmanager.url("/"),
        config = config_file.display(),
        sam = dc.dir().join("private/sam.ldb").display(),
        conf = dc.smb_conf_path().display(),
        dc_dir = dc.dir().display(),
    );

    let opts = app::Options {
        config_file,
        listen_addresses: vec![listen],
        telemetry_path: "/metrics".to_string(),
        web_config_file: None,
    };
    let result = runtime.block_on(async {
        // Users at work: a few self-service resets and changes, one failed, once a minute has passed and then
        // every 30 minutes (WritebackSSPRFailures fires on each burst and clears an hour later).
        let users = async {
            let mut n = 0;
            tokio::time::sleep(Duration::from_secs(60)).await;
            loop {
                n += 1;
                scenario::sspr_events(&fake, &format!("lab-{n}"));
                tokio::time::sleep(Duration::from_secs(1800)).await;
            }
        };
        tokio::select! {
            r = app::run(opts, async { let _ = tokio::signal::ctrl_c().await; }) => r,
            () = users => Ok(()),
        }
    });
    eprintln!("lab: stopping Prometheus, Alertmanager and the DC");
    drop(prom);
    drop(alertmanager);
    drop(fake);
    drop(dc);
    result.map_err(|e| e.to_string())
}
