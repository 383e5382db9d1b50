//! Runs the real `writeback_exporter` binary for integration tests and talks to it over HTTP.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_writeback_exporter");

/// A running exporter. Its stderr (the log) is collected for assertions and failure messages.
pub struct Exporter {
    child: Child,
    pub addr: SocketAddr,
    pub config_file: PathBuf,
    log: Arc<Mutex<Vec<String>>>,
}

impl Exporter {
    /// Starts the binary on an ephemeral loopback port with `config_file`, plus `extra` flags, and waits (at most
    /// 20 s) for its "listening" log line.
    pub fn start(config_file: &Path, extra: &[&str]) -> Exporter {
        Exporter::start_with_env(config_file, extra, &[])
    }

    /// [`Exporter::start`] with extra environment variables (e.g. `KRB5_CONFIG`, `KRB5_CLIENT_KTNAME`).
    pub fn start_with_env(config_file: &Path, extra: &[&str], env: &[(&str, &str)]) -> Exporter {
        let mut child = Command::new(BIN)
            .envs(env.iter().copied())
            .arg(format!("--config.file={}", config_file.display()))
            .arg("--web.listen-address=127.0.0.1:0")
            .arg("--log.level=debug")
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the exporter binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening") {
                    let addr = line
                        .split_whitespace()
                        .find_map(|kv| kv.strip_prefix("address="))
                        .and_then(|a| a.trim_matches('"').parse::<SocketAddr>().ok());
                    if let Some(addr) = addr {
                        let _ = tx.send(addr);
                    }
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("exporter did not start listening; log:\n{}", log.lock().unwrap().join("\n"));
            }
        };
        Exporter { child, addr, config_file: config_file.to_path_buf(), log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let resp = reqwest::get(self.url(path)).await.expect("HTTP request to the exporter");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    pub async fn post(&self, path: &str) -> (u16, String) {
        let resp = reqwest::Client::new().post(self.url(path)).send().await.expect("HTTP request to the exporter");
        let status = resp.status().as_u16();
        (status, resp.text().await.unwrap_or_default())
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.1
    }

    /// Polls `/metrics` until `pred` holds; panics with the last scrape and the log after `within`.
    pub async fn wait_for_metrics(&self, within: Duration, what: &str, pred: impl Fn(&Metrics) -> bool) -> Metrics {
        let deadline = Instant::now() + within;
        loop {
            let m = Metrics::parse(&self.metrics().await);
            if pred(&m) {
                return m;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}\n--- last scrape:\n{}\n--- log:\n{}", m.text, self.log());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{sig} failed");
    }

    /// Sends SIGTERM and waits for the process to exit; returns its exit code.
    pub fn terminate(mut self) -> Option<i32> {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed scrape: enough of the text format to look up samples by name and labels.
pub struct Metrics {
    pub text: String,
}

impl Metrics {
    pub fn parse(text: &str) -> Metrics {
        Metrics { text: text.to_string() }
    }

    /// The value of the first sample of `name` whose labels include every `label="value"` pair given.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.text.lines().filter(|l| !l.starts_with('#')).find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = match series.split_once('{') {
                Some((m, rest)) => (m, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let all = labels.iter().all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")));
            if !all {
                return None;
            }
            match value {
                "+Inf" => Some(f64::INFINITY),
                "-Inf" => Some(f64::NEG_INFINITY),
                v => v.parse().ok(),
            }
        })
    }

    /// True when any series of `name` carries the given labels.
    pub fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.value(name, labels).is_some()
    }
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    path
}

/// A YAML target for the AD side of a Samba DC.
pub fn ad_target(name: &str, url: &str, ca: &Path, user: &str, password_file: &Path) -> String {
    format!(
        "  - name: {name}\n    ad:\n      servers: [\"{url}\"]\n      bind:\n        user: \"{user}\"\n        password_file: \"{}\"\n      tls:\n        ca_file: \"{}\"\n",
        password_file.display(),
        ca.display()
    )
}
