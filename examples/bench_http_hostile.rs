//! Benchmark: the real binary under hostile clients on loopback (figures in docs/benchmarks.md).
//!
//! `cargo run --release --features gssapi --example bench_http_hostile -- [BINARY] [HELD]` (default
//! `target/release/writeback_exporter`, 4200 held connections; needs `ulimit -n` above 2×HELD):
//! 1. Plain HTTP: HELD half-open connections (request headers never finished), then 20 fresh scrapes, each on a
//!    new connection: status and latency (median, max), the exporter's open descriptors.
//! 2. TLS with h2 (ALPN): HELD idle HTTP/2 connections (preface and SETTINGS sent, nothing else), then 20 fresh
//!    HTTPS scrapes: the same figures.
//! 3. Basic auth (bcrypt cost 10): 32 clients, each from its own loopback address, send wrong passwords back to
//!    back for 20 s; the exporter's CPU over that window (from /proc/PID/stat), the answers by status, the
//!    latency of a cached user's scrape every 200 ms and of a correct login not cached yet at about 1 s and
//!    10 s, each retried on 429 every second, at most 5 times. Then the same flood from one address (the per-address budget).
//!
//! Every connection is on 127.0.0.0/8; every loop is bounded in count and time.

use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::ServerName;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const TIMEOUT: Duration = Duration::from_secs(30);

struct Exporter {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &Path, dir: &Path, web: Option<&Path>) -> Exporter {
    let pw = dir.join("pw");
    std::fs::write(&pw, "secret\n").unwrap();
    let cfg = dir.join("config.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  interval: 1h\n  timeout: 5s\ntargets:\n  - name: a\n    ad:\n      servers: [\"ldaps://127.0.0.1:1\"]\n      bind:\n        user: svc@corp.example.test\n        password_file: \"{}\"\n",
            pw.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--config.file={}", cfg.display())).arg("--web.listen-address=127.0.0.1:0");
    if let Some(w) = web {
        cmd.arg(format!("--web.config.file={}", w.display()));
    }
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("binary");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let addr = line
                .contains("listening")
                .then(|| line.split_whitespace().find_map(|kv| kv.strip_prefix("address=")))
                .flatten()
                .and_then(|a| a.trim_matches('"').parse::<SocketAddr>().ok());
            if let Some(a) = addr {
                let _ = tx.send(a);
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(20)).expect("exporter listening");
    Exporter { child, addr }
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// utime + stime of the process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state: utime, stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    let hz = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    ticks / hz
}

fn summary(mut ms: Vec<f64>) -> String {
    if ms.is_empty() {
        return "no samples".into();
    }
    ms.sort_by(f64::total_cmp);
    format!("median {:.1} ms, max {:.1} ms (n={})", ms[ms.len() / 2], ms[ms.len() - 1], ms.len())
}

/// 20 fresh scrapes, one new client (connection) each: (statuses, latencies in ms).
async fn fresh_scrapes(url: &str, make: impl Fn() -> reqwest::Client) -> (Vec<u16>, Vec<f64>) {
    let (mut statuses, mut lat) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        let t0 = Instant::now();
        let status = make().get(url).send().await.map_or(0, |r| r.status().as_u16());
        lat.push(t0.elapsed().as_secs_f64() * 1e3);
        statuses.push(status);
    }
    (statuses, lat)
}

/// Writes server.crt/server.key for 127.0.0.1; returns the CA as PEM and DER.
fn pki(dir: &Path) -> (String, rustls::pki_types::CertificateDer<'static>) {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, "bench CA");
    let ca = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
    let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
    leaf.distinguished_name.push(DnType::CommonName, "127.0.0.1");
    let key = KeyPair::generate().unwrap();
    let cert = leaf.signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("server.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    (ca.pem(), ca.der().clone())
}

fn h2_connector(ca: rustls::pki_types::CertificateDer<'static>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    TlsConnector::from(Arc::new(cfg))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = PathBuf::from(args.get(1).cloned().unwrap_or_else(|| "target/release/writeback_exporter".into()));
    let held_n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(4200);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "binary {} | {cores} cores | load {}",
        bin.display(),
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );
    let dir = tempfile::tempdir().unwrap();

    // 1. Plain HTTP, half-open connections.
    {
        let ex = start(&bin, dir.path(), None);
        let t0 = Instant::now();
        let mut held = Vec::new();
        for _ in 0..held_n {
            match tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(ex.addr)).await {
                Ok(Ok(mut s)) => {
                    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n").await;
                    held.push(s);
                }
                _ => break,
            }
        }
        println!("plain: {} half-open connections opened in {:.1} s", held.len(), t0.elapsed().as_secs_f64());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let url = format!("http://{}/metrics", ex.addr);
        let (st, lat) =
            fresh_scrapes(&url, || reqwest::Client::builder().no_proxy().timeout(TIMEOUT).build().unwrap()).await;
        let ok = st.iter().filter(|s| **s == 200).count();
        println!(
            "plain: fresh scrapes {ok}/20 answered 200, {}; exporter fds {}",
            summary(lat),
            open_fds(ex.child.id())
        );
    }

    // 2. TLS, idle h2 connections.
    let (ca, ca_der) = pki(dir.path());
    let web = dir.path().join("web-tls.yml");
    std::fs::write(&web, "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n").unwrap();
    let https = || {
        reqwest::Client::builder()
            .no_proxy()
            .use_rustls_tls()
            .timeout(TIMEOUT)
            .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
            .build()
            .unwrap()
    };
    {
        let ex = start(&bin, dir.path(), Some(&web));
        let connector = h2_connector(ca_der);
        let t0 = Instant::now();
        let mut held = Vec::new();
        for _ in 0..held_n {
            let Ok(Ok(tcp)) = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(ex.addr)).await else {
                break;
            };
            let name = ServerName::try_from("127.0.0.1").unwrap();
            if let Ok(Ok(mut s)) = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp)).await {
                let _ = s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0").await;
                held.push(s);
            }
        }
        println!("h2/TLS: {} idle h2 connections opened in {:.1} s", held.len(), t0.elapsed().as_secs_f64());
        tokio::time::sleep(Duration::from_secs(2)).await;
        let url = format!("https://127.0.0.1:{}/metrics", ex.addr.port());
        let (st, lat) = fresh_scrapes(&url, https).await;
        let ok = st.iter().filter(|s| **s == 200).count();
        println!(
            "h2/TLS: fresh scrapes {ok}/20 answered 200, {}; exporter fds {}",
            summary(lat),
            open_fds(ex.child.id())
        );
    }

    // 3. Basic auth flood.
    let web = dir.path().join("web-auth.yml");
    let (alice, bob) = (bcrypt::hash("right", 10).unwrap(), bcrypt::hash("bobs", 10).unwrap());
    let carol = bcrypt::hash("carols", 10).unwrap();
    std::fs::write(&web, format!("basic_auth_users:\n  alice: '{alice}'\n  bob: '{bob}'\n  carol: '{carol}'\n"))
        .unwrap();
    let t0 = Instant::now();
    let _ = bcrypt::verify("x", &alice);
    println!("auth: one bcrypt verification at cost 10 here: {:.0} ms", t0.elapsed().as_secs_f64() * 1e3);
    for spread in [true, false] {
        let ex = start(&bin, dir.path(), Some(&web));
        let url = format!("http://{}/metrics", ex.addr);
        let scraper = reqwest::Client::builder().no_proxy().timeout(TIMEOUT).build().unwrap();
        let _ = scraper.get(&url).basic_auth("alice", Some("right")).send().await;
        let deadline = Instant::now() + Duration::from_secs(20);
        let (cpu0, wall0) = (cpu_seconds(ex.child.id()), Instant::now());
        let flood = (0..32u8).map(|i| {
            let url = url.clone();
            tokio::spawn(async move {
                let source = if spread { Ipv4Addr::new(127, 0, 2, i + 1) } else { Ipv4Addr::new(127, 0, 3, 1) };
                let c = reqwest::Client::builder()
                    .no_proxy()
                    .timeout(TIMEOUT)
                    .local_address(IpAddr::V4(source))
                    .build()
                    .unwrap();
                let mut counts = [0u32; 3]; // 401, 429, other
                for _ in 0..100_000 {
                    if Instant::now() >= deadline {
                        break;
                    }
                    match c.get(&url).basic_auth("alice", Some("guess")).send().await.map(|r| r.status().as_u16()) {
                        Ok(401) => counts[0] += 1,
                        Ok(429) => counts[1] += 1,
                        _ => counts[2] += 1,
                    }
                }
                counts
            })
        });
        let flood: Vec<_> = flood.collect();
        let mut cached = Vec::new();
        let mut uncached = Vec::new();
        for round in 0..100 {
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            let t = Instant::now();
            let ok = scraper.get(&url).basic_auth("alice", Some("right")).send().await.is_ok_and(|r| r.status() == 200);
            if ok {
                cached.push(t.elapsed().as_secs_f64() * 1e3);
            }
            if let Some((user, pass)) = [(5, ("bob", "bobs")), (40, ("carol", "carols"))]
                .iter()
                .find_map(|(r, up)| (*r == round).then_some(*up))
            {
                // A correct login not cached yet, retried on 429 as a scraper would on its next interval (bounded).
                let t = Instant::now();
                let mut tries = 0;
                let mut status = 0;
                while tries < 5 && status != 200 {
                    tries += 1;
                    status =
                        scraper.get(&url).basic_auth(user, Some(pass)).send().await.map_or(0, |r| r.status().as_u16());
                    if status == 429 {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                uncached.push((user, status, tries, format!("{:.0} ms", t.elapsed().as_secs_f64() * 1e3)));
            }
        }
        let mut totals = [0u32; 3];
        for h in flood {
            if let Ok(c) = h.await {
                for k in 0..3 {
                    totals[k] += c[k];
                }
            }
        }
        let (cpu, wall) = (cpu_seconds(ex.child.id()) - cpu0, wall0.elapsed().as_secs_f64());
        let who = if spread { "32 addresses" } else { "one address" };
        println!(
            "auth flood from {who}: {:.1} s, exporter CPU {:.2} cores; answers 401={} 429={} other={}; cached scrape {}; uncached correct logins {:?} (user, status, tries, time)",
            wall, cpu / wall, totals[0], totals[1], totals[2], summary(cached), uncached
        );
    }
}
