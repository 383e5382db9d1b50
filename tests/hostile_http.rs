//! Hostile clients, loopback only: idle HTTP/1 and HTTP/2 (TLS, ALPN h2) connections held up to the cap while a
//! fresh scrape still answers, idle connections closed, a bcrypt flood held to its verifiers with the cached user
//! still answered, 429 beyond the queue and per address, and EMFILE in the real binary. Every loop is bounded.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use futures_util::future::join_all;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;
use writeback_exporter::http::auth::{default_verifiers, BasicAuth, Verdict, FAILURE_BURST};
use writeback_exporter::http::serve::{serve_with_limits, Limits};
use writeback_exporter::http::web_config::{self, WebConfig};

/// Every network wait in this file is bounded by this.
const WAIT: Duration = Duration::from_secs(10);

fn app() -> Router {
    Router::new().route("/metrics", get(|| async { "ok" })).route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            "slow"
        }),
    )
}

async fn start(web: Option<WebConfig>, limits: Limits) -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(serve_with_limits(listener, app(), web.map(Arc::new), limits, stop.clone()));
    (addr, stop)
}

/// A server certificate for 127.0.0.1 and the client TLS settings that trust it.
struct Tls {
    dir: tempfile::TempDir,
    ca_pem: String,
    ca_der: rustls::pki_types::CertificateDer<'static>,
}

impl Tls {
    fn new() -> Tls {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, "hostile test CA");
        let ca = CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap();
        let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        leaf.distinguished_name.push(DnType::CommonName, "127.0.0.1");
        let key = KeyPair::generate().unwrap();
        let cert = leaf.signed_by(&key, &ca).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("server.crt"), cert.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), key.serialize_pem()).unwrap();
        Tls { dir, ca_pem: ca.pem(), ca_der: ca.der().clone() }
    }

    fn web_config(&self, extra: &str) -> WebConfig {
        let path = self.dir.path().join("web.yml");
        std::fs::write(&path, format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n{extra}"))
            .unwrap();
        web_config::load(&path).unwrap()
    }

    /// A raw TLS client offering only `h2`, as an attacker holding HTTP/2 connections would.
    fn h2_connector(&self) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        cfg.alpn_protocols = vec![b"h2".to_vec()];
        TlsConnector::from(Arc::new(cfg))
    }

    fn https_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .use_rustls_tls()
            .timeout(WAIT)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap())
            .build()
            .unwrap()
    }
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(WAIT).build().unwrap()
}

// --- a minimal HTTP/2 client: the connection preface, SETTINGS, one GET -----------------------------------------

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const SETTINGS: u8 = 0x4;
const HEADERS: u8 = 0x1;

fn h2_frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut f = vec![len[1], len[2], len[3], kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// Opens an HTTP/2 connection and leaves it idle: what 4,084 attackers did before connections were bounded.
async fn h2_idle(tls: &TlsConnector, addr: SocketAddr) -> Option<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await.ok()?;
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut s = tokio::time::timeout(WAIT, tls.connect(name, tcp)).await.ok()?.ok()?;
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "the server offers h2");
    let mut hello = H2_PREFACE.to_vec();
    hello.extend(h2_frame(SETTINGS, 0, 0, &[]));
    s.write_all(&hello).await.ok()?;
    Some(s)
}

/// `GET path` over a fresh HTTP/2 connection; the response's `:status`, when it is one of the static table's.
async fn h2_get_status(tls: &TlsConnector, addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = h2_idle(tls, addr).await?;
    // HPACK, no Huffman: :method GET, :scheme https (indexed), :path and :authority (literal, indexed name).
    let mut block = vec![0x82, 0x87, 0x04, u8::try_from(path.len()).unwrap()];
    block.extend_from_slice(path.as_bytes());
    block.extend_from_slice(&[0x01, 9]);
    block.extend_from_slice(b"127.0.0.1");
    s.write_all(&h2_frame(HEADERS, 0x5, 1, &block)).await.ok()?;
    tokio::time::timeout(WAIT, async {
        for _ in 0..32 {
            let mut head = [0u8; 9];
            s.read_exact(&mut head).await.ok()?;
            let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
            let mut payload = vec![0u8; len];
            s.read_exact(&mut payload).await.ok()?;
            let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
            if head[3] == SETTINGS && head[4] & 1 == 0 {
                s.write_all(&h2_frame(SETTINGS, 1, 0, &[])).await.ok()?;
            } else if head[3] == HEADERS && stream == 1 {
                // Static table entries 8..=14 are :status 200, 204, 206, 304, 400, 404, 500.
                return [200, 204, 206, 304, 400, 404, 500]
                    .get(usize::from(payload.first()? & 0x7f).checked_sub(8)?)
                    .copied();
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

/// True once the peer closed `s` (EOF or error); reads and discards what the server sends first (HTTP/2 SETTINGS,
/// GOAWAY). False if it is still open after `within`.
async fn closed_within<S: AsyncRead + Unpin>(s: &mut S, within: Duration) -> bool {
    tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        for _ in 0..1000 {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
        // A server that keeps talking is not closing: let the timeout speak.
        std::future::pending::<()>().await;
    })
    .await
    .is_ok()
}

// --- connections ---------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_http1_connections_beyond_the_cap_do_not_lock_out_a_fresh_scrape() {
    const CAP: usize = 16;
    const HELD: usize = 48;
    let limits = Limits::new(CAP);
    let (addr, stop) = start(None, limits.clone()).await;

    // Half idle, half "half-open" requests that never finish their headers (slow loris).
    let mut held = Vec::new();
    for i in 0..HELD {
        let mut s = TcpStream::connect(addr).await.unwrap();
        if i % 2 == 0 {
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
        }
        held.push(s);
    }
    let resp = plain_client().get(format!("http://{addr}/metrics")).send().await.expect("a fresh scrape answers");
    assert_eq!((resp.status().as_u16(), resp.text().await.unwrap()), (200, "ok".to_string()));
    assert!(limits.open_connections() <= CAP, "{} open", limits.open_connections());

    // The longest-idle ones were closed to make room: at least HELD + 1 - CAP of them.
    let closed = join_all(held.iter_mut().map(|s| closed_within(s, Duration::from_secs(3)))).await;
    let n_closed = closed.iter().filter(|c| **c).count();
    assert!(n_closed > HELD - CAP, "only {n_closed} of {HELD} held connections closed");
    // Eviction goes by idle age: the first connections are the ones gone.
    assert!(closed[..HELD - CAP].iter().all(|c| *c), "{closed:?}");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_h2_connections_over_tls_beyond_the_cap_do_not_lock_out_a_fresh_scrape() {
    const CAP: usize = 8;
    const HELD: usize = 24;
    let tls = Tls::new();
    let limits = Limits::new(CAP);
    let (addr, stop) = start(Some(tls.web_config("")), limits.clone()).await;
    let connector = tls.h2_connector();

    let mut held = Vec::new();
    for _ in 0..HELD {
        // Some handshakes may meet an eviction already; the rest are held.
        if let Some(s) = h2_idle(&connector, addr).await {
            held.push(s);
        }
    }
    assert!(held.len() >= CAP, "only {} h2 connections established", held.len());
    assert_eq!(h2_get_status(&connector, addr, "/metrics").await, Some(200), "a fresh h2 scrape answers");
    let resp = tls.https_client().get(format!("https://127.0.0.1:{}/metrics", addr.port())).send().await.unwrap();
    assert_eq!(resp.status(), 200, "a fresh HTTP/1.1 scrape over TLS answers");
    assert!(limits.open_connections() <= CAP);
    let closed = join_all(held.iter_mut().map(|s| closed_within(s, Duration::from_secs(3)))).await;
    assert!(closed.iter().filter(|c| **c).count() >= held.len() + 1 - CAP, "{closed:?}");
    stop.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_are_closed_but_busy_ones_are_not() {
    let tls = Tls::new();
    let idle = Duration::from_millis(500);
    let limits = Limits::new(8).with_idle_timeout(idle);
    let (plain, stop_plain) = start(None, limits.clone()).await;
    let (secure, stop_tls) = start(Some(tls.web_config("")), Limits::new(8).with_idle_timeout(idle)).await;

    // HTTP/1: never a request; and one request, then idle on keep-alive.
    let mut silent = TcpStream::connect(plain).await.unwrap();
    let mut kept = TcpStream::connect(plain).await.unwrap();
    kept.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let mut h2 = h2_idle(&tls.h2_connector(), secure).await.expect("h2 connection");
    assert!(closed_within(&mut silent, WAIT).await, "silent HTTP/1 connection closed");
    assert!(closed_within(&mut kept, WAIT).await, "idle keep-alive HTTP/1 connection closed");
    assert!(closed_within(&mut h2, WAIT).await, "idle HTTP/2 connection closed");
    assert_eq!(limits.open_connections(), 0);

    // A request that runs 3x the idle timeout keeps its connection.
    let body = plain_client().get(format!("http://{plain}/slow")).send().await.unwrap().text().await.unwrap();
    assert_eq!(body, "slow");
    stop_plain.cancel();
    stop_tls.cancel();
}

// --- authentication ------------------------------------------------------------------------------------------------

fn users(cost: u32) -> BTreeMap<String, String> {
    [("alice", "right"), ("bob", "bobs")]
        .map(|(u, p)| (u.to_string(), bcrypt::hash(p, cost).unwrap()))
        .into_iter()
        .collect()
}

fn basic(user: &str, pass: &str) -> axum::http::HeaderValue {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    axum::http::HeaderValue::from_str(&format!("Basic {token}")).unwrap()
}

fn addr_n(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, (i / 250) as u8, (i % 250) as u8 + 1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_flood_runs_one_verification_at_a_time() {
    let auth = BasicAuth::with_bounds(users(8), 1, 2);
    let alice = basic("alice", "right");
    assert_eq!(auth.check(Some(&alice), Some(addr_n(0))).await, Verdict::Allowed);

    // 40 guesses from 40 addresses, all polled before the first bcrypt can finish; bob (not cached yet) is third.
    let wrong = basic("alice", "guess");
    let bob = basic("bob", "bobs");
    let flood = (1..=40).map(|i| {
        let auth = auth.clone();
        let header = if i == 3 { bob.clone() } else { wrong.clone() };
        async move { auth.check(Some(&header), Some(addr_n(i))).await }
    });
    let during = async {
        // The cached user is answered at once, whatever the flood does.
        auth.check(Some(&alice), Some(addr_n(0))).await
    };
    let (verdicts, cached) = tokio::join!(join_all(flood), during);
    assert_eq!(cached, Verdict::Allowed);
    assert_eq!(verdicts[2], Verdict::Allowed, "bob made the queue and got in");
    let busy = verdicts.iter().filter(|v| **v == Verdict::Busy).count();
    let denied = verdicts.iter().filter(|v| **v == Verdict::Denied).count();
    assert_eq!(busy + denied + 1, 40, "{verdicts:?}");
    // One running and two waiting are verified; the rest are turned away without bcrypt (a few more only if a
    // verification ended before every guess was first polled).
    assert!(busy >= 30, "{verdicts:?}");
    let stats = auth.stats();
    assert_eq!(stats.peak_in_flight, 1, "{stats:?}");
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.rejected_busy, busy as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_bound_leaves_a_core_free() {
    let auth = BasicAuth::new(users(6));
    let wrong = basic("alice", "guess");
    let flood = (0..60).map(|i| {
        let (auth, wrong) = (auth.clone(), wrong.clone());
        async move { auth.check(Some(&wrong), Some(addr_n(i))).await }
    });
    let verdicts = join_all(flood).await;
    assert!(verdicts.iter().all(|v| matches!(v, Verdict::Denied | Verdict::Busy)));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(default_verifiers(), cores.saturating_sub(1).max(1));
    assert!(auth.stats().peak_in_flight <= default_verifiers(), "{:?}", auth.stats());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_are_limited_per_address() {
    let auth = BasicAuth::with_bounds(users(4), 1, 4);
    let me = addr_n(7);
    assert_eq!(auth.check(Some(&basic("alice", "right")), Some(me)).await, Verdict::Allowed);
    let wrong = basic("alice", "guess");
    let mut verdicts = Vec::new();
    for _ in 0..(FAILURE_BURST as usize + 5) {
        verdicts.push(auth.check(Some(&wrong), Some(me)).await);
    }
    assert!(verdicts[..FAILURE_BURST as usize].iter().all(|v| *v == Verdict::Denied), "{verdicts:?}");
    assert!(verdicts.contains(&Verdict::RateLimited), "{verdicts:?}");
    assert_eq!(auth.check(Some(&wrong), Some(addr_n(8))).await, Verdict::Denied, "another address is not limited");
    assert_eq!(auth.check(Some(&basic("alice", "right")), Some(me)).await, Verdict::Allowed, "cached: not limited");
    assert_eq!(auth.check(None, Some(me)).await, Verdict::Denied, "no credentials: a challenge, not a 429");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_a_flood_gets_429_and_the_scraper_gets_200() {
    let dir = tempfile::tempdir().unwrap();
    let hash = bcrypt::hash("right", 10).unwrap();
    let path = dir.path().join("web.yml");
    std::fs::write(&path, format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
    let (addr, stop) = start(Some(web_config::load(&path).unwrap()), Limits::new(64)).await;
    let url = format!("http://{addr}/metrics");
    let scraper = plain_client();
    let scrape = || scraper.get(&url).basic_auth("alice", Some("right")).send();
    assert_eq!(scrape().await.unwrap().status(), 200);

    // 24 guessing clients, each from its own loopback address so that only the global queue stops them.
    let flood = (0..24u8).map(|i| {
        let url = url.clone();
        async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 1, i + 1)))
                .build()
                .unwrap();
            client.get(&url).basic_auth("alice", Some("guess")).send().await.map(|r| r.status().as_u16()).ok()
        }
    });
    let (statuses, during) = tokio::join!(join_all(flood), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        scrape().await.map(|r| r.status().as_u16()).ok()
    });
    assert_eq!(during, Some(200), "the cached scraper is answered during the flood");
    assert!(statuses.iter().all(|s| matches!(s, Some(401 | 429))), "{statuses:?}");
    assert!(statuses.contains(&Some(429)), "beyond the queue: 429 {statuses:?}");
    stop.cancel();
}

// --- file descriptors ----------------------------------------------------------------------------------------------

/// The real binary with a low `ulimit -n`: the accept loop must neither spin nor die, and must give a descriptor
/// back by closing an idle connection so that a fresh request is still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emfile_in_the_accept_loop_is_survived() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_minimal_config(dir.path());
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 96 && exec \"$0\" \"$@\"")
        .arg(support::exporter::BIN)
        .arg(format!("--config.file={}", cfg.display()))
        .args(["--web.listen-address=127.0.0.1:0", "--log.level=debug"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(a) = line.contains("listening").then(|| listening_address(&line)).flatten() {
                let _ = tx.send(a);
            }
            sink.lock().unwrap().push(line);
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(20)).expect("exporter listening");

    let mut held = Vec::new();
    for _ in 0..200 {
        if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr)).await {
            held.push(s);
        }
    }
    let client = plain_client();
    let mut answered = false;
    for _ in 0..3 {
        if client.get(format!("http://{addr}/-/healthy")).send().await.is_ok_and(|r| r.status() == 200) {
            answered = true;
            break;
        }
    }
    let text = log.lock().unwrap().join("\n");
    let alive = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(alive, "the exporter died:\n{text}");
    assert!(answered, "no answer while out of descriptors:\n{text}");
    assert!(text.contains("too many open files") && text.contains("accept failed"), "{text}");
    let accept_warnings = text.lines().filter(|l| l.contains("accept failed")).count();
    assert!(accept_warnings <= 10, "accept errors are logged sparingly, got {accept_warnings}");
}

fn listening_address(line: &str) -> Option<SocketAddr> {
    line.split_whitespace().find_map(|kv| kv.strip_prefix("address=")).and_then(|a| a.trim_matches('"').parse().ok())
}

fn write_minimal_config(dir: &Path) -> std::path::PathBuf {
    let pw = support::exporter::write_file(dir, "pw", "secret\n");
    let text = format!(
        "global:\n  interval: 1h\n  timeout: 5s\ntargets:\n  - name: a\n    ad:\n      servers: [\"ldaps://127.0.0.1:1\"]\n      bind:\n        user: svc@corp.example.test\n        password_file: \"{}\"\n",
        pw.display()
    );
    support::exporter::write_file(dir, "config.yml", &text)
}

/// The real binary with `--web.max-connections=4`: 12 held idle
/// connections leave a fresh scrape answered, and at least 8 of them are closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_max_connections_flag_caps_the_real_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let pw = support::exporter::write_file(dir.path(), "pw", "secret\n");
    let text = format!(
        "targets:\n  - name: a\n    ad:\n      servers: [\"ldaps://127.0.0.1:1\"]\n      bind:\n        user: svc@corp.example.test\n        password_file: \"{}\"\n",
        pw.display()
    );
    let cfg = support::exporter::write_file(dir.path(), "config.yml", &text);
    let exporter = support::exporter::Exporter::start(&cfg, &["--web.max-connections=4"]);
    assert_eq!(exporter.get("/-/healthy").await.0, 200);
    let mut held = Vec::new();
    for _ in 0..12 {
        held.push(TcpStream::connect(exporter.addr).await.unwrap());
    }
    let (status, _) = exporter.get("/metrics").await;
    assert_eq!(status, 200, "a fresh scrape answers at the cap");
    let closed = join_all(held.iter_mut().map(|s| closed_within(s, Duration::from_secs(3)))).await;
    let n_closed = closed.iter().filter(|c| **c).count();
    assert!(n_closed >= 12 - 4, "only {n_closed} of 12 held connections closed: {closed:?}");
}
