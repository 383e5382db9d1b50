//! A real Prometheus (and optionally Alertmanager) on loopback ports with temporary storage, scraping the exporter
//! and evaluating the rule files, for the dashboard proof and the lab.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const PROMETHEUS: &str = "/usr/bin/prometheus";
pub const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local addr").port()
}

/// A child process that is killed when dropped; its output goes to a log file.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn spawn(program: &str, args: &[String], log: PathBuf) -> Result<Daemon, String> {
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {program} (scripts/install-deps.sh installs it): {e}"))?;
        Ok(Daemon { child, log })
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most `within`) until `GET url` answers 200.
    fn wait_ready(&mut self, url: &str, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}; log:\n{}", self.log_text()));
            }
            if get_ok(url) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("{url} not ready after {within:?}; log:\n{}", self.log_text()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when `url` (`http://host:port/path`) answers status 200: a minimal blocking GET over std, so that readiness
/// waits need no async runtime.
fn get_ok(url: &str) -> bool {
    use std::io::{Read, Write};
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let Ok(mut stream) = std::net::TcpStream::connect(host) else { return false };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
}

/// A running Prometheus.
pub struct Prometheus {
    daemon: Daemon,
    pub addr: SocketAddr,
    pub config_file: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

/// What Prometheus scrapes and evaluates.
pub struct PrometheusSetup<'a> {
    /// The exporter's address (job `writeback_exporter`).
    pub exporter: SocketAddr,
    pub rule_files: Vec<PathBuf>,
    pub alertmanager: Option<SocketAddr>,
    pub scrape_interval: &'a str,
    /// Where config, data and log go; a temporary directory when `None`.
    pub dir: Option<PathBuf>,
    pub port: Option<u16>,
}

impl Prometheus {
    /// Writes the configuration, starts Prometheus and waits (at most 30 s) for `/-/ready`.
    ///
    /// # Errors
    /// When Prometheus cannot be started or does not become ready; the message carries its log.
    pub fn start(setup: &PrometheusSetup) -> Result<Prometheus, String> {
        let rules: String = setup.rule_files.iter().map(|r| format!("  - \"{}\"\n", r.display())).collect();
        let alerting = match setup.alertmanager {
            Some(am) => format!("alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"{am}\"]\n"),
            None => String::new(),
        };
        let config = format!(
            "# Written by tests/support/prometheus.rs.\nglobal:\n  scrape_interval: {i}\n  evaluation_interval: {i}\n  scrape_timeout: {i}\nrule_files:\n{rules}{alerting}scrape_configs:\n  - job_name: writeback_exporter\n    static_configs:\n      - targets: [\"{exporter}\"]\n",
            i = setup.scrape_interval,
            exporter = setup.exporter,
        );
        Prometheus::start_config(&config, setup.dir.clone(), setup.port)
    }

    /// Starts Prometheus with the configuration `config` (written to `dir`, a temporary directory when `None`)
    /// and waits (at most 30 s) for `/-/ready`.
    ///
    /// # Errors
    /// When Prometheus cannot be started or does not become ready; the message carries its log.
    pub fn start_config(config: &str, dir: Option<PathBuf>, port: Option<u16>) -> Result<Prometheus, String> {
        let (dir, tmp) = match dir {
            Some(d) => (d, None),
            None => {
                let t = tempfile::tempdir().map_err(|e| e.to_string())?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config).map_err(|e| e.to_string())?;
        let port = port.unwrap_or_else(free_port);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("a loopback address parses");
        let args = vec![
            format!("--config.file={}", config_file.display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address={addr}"),
            "--web.enable-lifecycle".to_string(),
            "--log.level=warn".to_string(),
        ];
        let mut daemon = Daemon::spawn(PROMETHEUS, &args, dir.join("prometheus.log"))?;
        daemon.wait_ready(&format!("http://{addr}/-/ready"), Duration::from_secs(30))?;
        Ok(Prometheus { daemon, addr, config_file, _dir: tmp })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log(&self) -> String {
        self.daemon.log_text()
    }

    /// `GET /api/v1/query?query=expr`: `Ok(result)` for a successful query (the `data.result` array),
    /// `Err(error text)` when Prometheus refuses it (parse or evaluation error).
    pub async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let resp = reqwest::Client::new()
            .get(self.url("/api/v1/query"))
            .query(&[("query", expr)])
            .send()
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let body: Value = resp.json().await.map_err(|e| format!("JSON: {e}"))?;
        if body["status"] != "success" {
            return Err(format!("{}: {}", body["errorType"], body["error"]));
        }
        match &body["data"]["result"] {
            Value::Array(items) => Ok(items.clone()),
            // Scalars and strings: one value.
            other => Ok(vec![other.clone()]),
        }
    }

    /// `GET path` (an API path) as JSON.
    pub async fn api(&self, path: &str) -> Value {
        let resp = reqwest::get(self.url(path)).await.expect("HTTP request to Prometheus");
        resp.json().await.expect("JSON from Prometheus")
    }

    /// Polls `expr` until it returns at least one sample; panics with the Prometheus log after `within`.
    pub async fn wait_for(&self, expr: &str, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let last = self.query(expr).await;
            if let Ok(result) = &last {
                if !result.is_empty() {
                    return result.clone();
                }
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for `{expr}` (last: {last:?})\n--- Prometheus log:\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// A running Alertmanager.
pub struct Alertmanager {
    _daemon: Daemon,
    pub addr: SocketAddr,
}

impl Alertmanager {
    /// Starts Alertmanager on loopback with a configuration that only collects alerts (no receiver sends
    /// anything), followed by `extra` (top-level keys, e.g. the `inhibit_rules:` of
    /// alerts/alertmanager-inhibit.yml), clustering off, and waits (at most 30 s) for `/-/ready`. The
    /// configuration is `config_file()` of `dir`.
    ///
    /// # Errors
    /// When it cannot be started or does not become ready.
    pub fn start(dir: &Path, port: Option<u16>, extra: &str) -> Result<Alertmanager, String> {
        std::fs::create_dir_all(dir.join("data")).map_err(|e| e.to_string())?;
        let config_file = Alertmanager::config_file(dir);
        let config = format!(
            "# Written by tests/support/prometheus.rs: alerts are only shown in the UI, never sent.\n\
             route:\n  receiver: lab\n  group_by: [alertname, target]\n  group_wait: 5s\n  group_interval: 1m\n  repeat_interval: 4h\n\
             receivers:\n  - name: lab\n{extra}"
        );
        std::fs::write(&config_file, config).map_err(|e| e.to_string())?;
        let port = port.unwrap_or_else(free_port);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("a loopback address parses");
        let args = vec![
            format!("--config.file={}", config_file.display()),
            format!("--storage.path={}", dir.join("data").display()),
            format!("--web.listen-address={addr}"),
            "--cluster.listen-address=".to_string(),
            "--log.level=warn".to_string(),
        ];
        let mut daemon = Daemon::spawn(ALERTMANAGER, &args, dir.join("alertmanager.log"))?;
        daemon.wait_ready(&format!("http://{addr}/-/ready"), Duration::from_secs(30))?;
        Ok(Alertmanager { _daemon: daemon, addr })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Where `start` writes the configuration in `dir`.
    pub fn config_file(dir: &Path) -> PathBuf {
        dir.join("alertmanager.yml")
    }
}
