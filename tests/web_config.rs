//! `--web.config.file`: parsing, TLS, client certificates, basic auth and shutdown on real sockets.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use writeback_exporter::http::serve::serve;
use writeback_exporter::http::web_config::{self, ClientAuthType, TlsVersion, WebConfig, WebConfigError};

type Issuer = CertifiedIssuer<'static, KeyPair>;

fn ca(name: &str) -> Issuer {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
}

/// Returns (certificate PEM, PKCS#8 key PEM).
fn leaf(issuer: &Issuer, sans: &[&str], eku: ExtendedKeyUsagePurpose) -> (String, String) {
    let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, sans.first().copied().unwrap_or("client"));
    p.extended_key_usages = vec![eku];
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A tempdir holding server.crt/server.key (for 127.0.0.1 and localhost) and client_ca.crt.
struct Pki {
    dir: tempfile::TempDir,
    server_ca: Issuer,
    client_ca: Issuer,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let server_ca = ca("test server CA");
        let client_ca = ca("test client CA");
        let (cert, key) = leaf(&server_ca, &["localhost", "127.0.0.1"], ExtendedKeyUsagePurpose::ServerAuth);
        std::fs::write(dir.path().join("server.crt"), cert).unwrap();
        std::fs::write(dir.path().join("server.key"), key).unwrap();
        std::fs::write(dir.path().join("client_ca.crt"), client_ca.pem()).unwrap();
        Pki { dir, server_ca, client_ca }
    }

    fn write_config(&self, yaml: &str) -> PathBuf {
        let path = self.dir.path().join("web.yml");
        std::fs::write(&path, yaml).unwrap();
        path
    }

    fn client(&self, identity: Option<&Issuer>) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .no_proxy()
            .use_rustls_tls()
            .timeout(Duration::from_secs(10))
            .add_root_certificate(reqwest::Certificate::from_pem(self.server_ca.pem().as_bytes()).unwrap());
        if let Some(issuer) = identity {
            let (cert, key) = leaf(issuer, &["client.example"], ExtendedKeyUsagePurpose::ClientAuth);
            b = b.identity(reqwest::Identity::from_pem(format!("{cert}{key}").as_bytes()).unwrap());
        }
        b.build().unwrap()
    }
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().unwrap()
}

fn app() -> Router {
    Router::new().route("/metrics", get(|| async { "ok" })).route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            "slow"
        }),
    )
}

struct Running {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

async fn start(web: Option<WebConfig>) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve(listener, app(), web.map(Arc::new), shutdown.clone()));
    Running { addr, shutdown, task }
}

fn load_err(path: &Path) -> String {
    let err: WebConfigError = web_config::load(path).unwrap_err();
    err.to_string()
}

const TLS_CONFIG: &str = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

#[test]
fn parses_full_config_with_relative_paths() {
    let pki = Pki::new();
    let hash = bcrypt::hash("secret", 4).unwrap();
    let path = pki.write_config(&format!(
        "# comment\n\
         tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: client_ca.crt\n\
         \x20 client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS12\n  max_version: TLS13\n\
         \x20 cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]\n\
         \x20 prefer_server_cipher_suites: false\n  curve_preferences: [X25519, CurveP256]\n\
         http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    Content-Security-Policy: \"default-src 'self'\"\n\
         basic_auth_users:\n  alice: '{hash}'\n"
    ));
    let cfg = web_config::load(&path).unwrap();
    let tls = cfg.tls().unwrap();
    assert_eq!(tls.client_auth_type, ClientAuthType::RequireAndVerifyClientCert);
    assert_eq!((tls.min_version, tls.max_version), (TlsVersion::Tls12, TlsVersion::Tls13));
    assert_eq!(tls.cipher_suites.as_ref().map(Vec::len), Some(1), "TLS 1.3 names are accepted and ignored");
    assert_eq!(tls.curve_preferences.len(), 2);
    assert!(!tls.prefer_server_cipher_suites);
    assert!(format!("{:?}", tls.cert).contains(&pki.dir.path().join("server.crt").display().to_string()));
    assert!(!cfg.http().http2);
    assert_eq!(cfg.http().headers["X-Frame-Options"], "deny");
    assert_eq!(cfg.basic_auth_users().keys().collect::<Vec<_>>(), ["alice"]);
    let rustls = cfg.rustls_server_config().unwrap();
    assert_eq!(rustls.alpn_protocols, vec![b"http/1.1".to_vec()]);
    assert!(!format!("{cfg:?}").contains(&hash), "Debug must not print hashes");
}

#[test]
fn empty_or_comment_only_file_means_plain_http_without_auth() {
    let pki = Pki::new();
    for text in ["", "# nothing\n", "---\n"] {
        let cfg = web_config::load(&pki.write_config(text)).unwrap();
        assert!(cfg.tls().is_none() && cfg.basic_auth_users().is_empty(), "{text:?}");
    }
}

#[test]
fn unknown_keys_are_errors_naming_key_and_line() {
    let pki = Pki::new();
    let msg = load_err(&pki.write_config("basic_auth_users: {}\nbasic_auth_user: {}\n"));
    // Worded as the main configuration's errors: file:line: key: message, no library hints.
    assert!(msg.starts_with("web config ") && msg.contains("web.yml:2: basic_auth_user: unknown field"), "{msg}");
    let msg = load_err(&pki.write_config("tls_server_config:\n  cert_file: server.crt\n  keyfile: server.key\n"));
    assert!(msg.contains("web.yml:3: tls_server_config.keyfile: unknown field `keyfile`"), "{msg}");
    let msg = load_err(&pki.write_config("tls_server_config:\n  cert_file: a\n  cert_file: b\n"));
    assert!(
        msg.ends_with(
            "web.yml:3: tls_server_config.cert_file: duplicate key: each key may appear only once in a mapping"
        ),
        "{msg}"
    );
}

#[test]
fn file_errors_are_clear() {
    let pki = Pki::new();
    let msg = load_err(&pki.dir.path().join("absent.yml"));
    assert!(msg.contains("absent.yml") && msg.contains("cannot read"), "{msg}");
    let msg = load_err(&pki.write_config("tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n"));
    assert!(msg.contains("missing.crt") && msg.contains("certificate"), "{msg}");
    std::fs::write(pki.dir.path().join("junk.key"), "not a key").unwrap();
    let msg = load_err(&pki.write_config("tls_server_config:\n  cert_file: server.crt\n  key_file: junk.key\n"));
    assert!(msg.contains("junk.key") && msg.contains("private key"), "{msg}");
    let msg = load_err(&pki.write_config("tls_server_config:\n  cert_file: server.crt\n  key_file: client_ca.crt\n"));
    assert!(msg.contains("no PEM PRIVATE KEY"), "{msg}");
    let other = leaf(&ca("x"), &["localhost"], ExtendedKeyUsagePurpose::ServerAuth).1;
    std::fs::write(pki.dir.path().join("other.key"), other).unwrap();
    let msg = load_err(&pki.write_config("tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n"));
    assert!(msg.contains("TLS setup failed"), "{msg}");
    let msg = load_err(&pki.write_config("tls_server_config:\n  cert_file: server.crt\n"));
    assert!(msg.contains("missing one of key or key_file"), "{msg}");
}

#[test]
fn invalid_values_are_rejected() {
    let pki = Pki::new();
    let cases = [
        ("basic_auth_users:\n  bob: plaintext\n", "not a bcrypt hash"),
        ("basic_auth_users:\n  bob: $2y$99$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi\n", "cost"),
        ("http_server_config:\n  headers:\n    X-Powered-By: me\n", "can not be configured"),
        ("http_server_config:\n  headers:\n    X-Frame-Options: allow\n", "invalid value"),
        ("rate_limit:\n  interval: 1s\n  burst: 5\n", "not supported"),
        (&format!("{TLS_CONFIG}  min_version: TLS10\n"), "TLS10"),
        (&format!("{TLS_CONFIG}  min_version: TLS13\n  max_version: TLS12\n"), "min_version"),
        (&format!("{TLS_CONFIG}  client_auth_type: Sometimes\n"), "Sometimes"),
        (&format!("{TLS_CONFIG}  client_ca_file: client_ca.crt\n"), "without a client_auth_type"),
        (&format!("{TLS_CONFIG}  client_auth_type: RequireAndVerifyClientCert\n"), "needs client_ca_file"),
        (&format!("{TLS_CONFIG}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n"), "CBC"),
        (&format!("{TLS_CONFIG}  cipher_suites: [TLS_BOGUS]\n"), "unknown cipher suite"),
        (&format!("{TLS_CONFIG}  curve_preferences: [CurveP521]\n"), "CurveP521"),
        (&format!("{TLS_CONFIG}  client_allowed_sans: [a.example]\n"), "client_allowed_sans"),
        (&format!("{TLS_CONFIG}  cert: inline\n"), "not both"),
    ];
    for (yaml, want) in cases {
        let msg = load_err(&pki.write_config(yaml));
        assert!(msg.contains(want), "{yaml:?}: {msg}");
        assert!(!msg.contains("QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ"), "hash leaked: {msg}");
    }
}

#[tokio::test]
async fn tls_serves_and_rejects_plain_http() {
    let pki = Pki::new();
    let cfg = web_config::load(&pki.write_config(TLS_CONFIG)).unwrap();
    let srv = start(Some(cfg)).await;
    let port = srv.addr.port();

    // A client that never speaks must not stall the listener.
    let _silent = tokio::net::TcpStream::connect(srv.addr).await.unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let resp = pki.client(None).get(format!("https://{host}:{port}/metrics")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "ok");
    }
    assert!(plain_client().get(format!("http://127.0.0.1:{port}/metrics")).send().await.is_err());
    let untrusting = reqwest::Client::builder().no_proxy().use_rustls_tls().build().unwrap();
    assert!(untrusting.get(format!("https://127.0.0.1:{port}/metrics")).send().await.is_err());

    srv.shutdown.cancel();
    srv.task.await.unwrap().unwrap();
}

/// A raw rustls client (TLS 1.2 and 1.3, ALPN h2 + http/1.1) for what reqwest does not expose.
async fn tls_connect(pki: &Pki, addr: SocketAddr) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.server_ca.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp).await.unwrap()
}

#[tokio::test]
async fn tls_versions_and_cipher_suites_apply() {
    let pki = Pki::new();
    let suite = "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256";
    let yaml = format!("{TLS_CONFIG}  max_version: TLS12\n  cipher_suites: [{suite}]\n");
    let srv = start(Some(web_config::load(&pki.write_config(&yaml)).unwrap())).await;
    let tls = tls_connect(&pki, srv.addr).await;
    let conn = tls.get_ref().1;
    assert_eq!(conn.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_2));
    assert_eq!(format!("{:?}", conn.negotiated_cipher_suite().unwrap().suite()), suite);
    srv.shutdown.cancel();
    srv.task.await.unwrap().unwrap();

    let srv =
        start(Some(web_config::load(&pki.write_config(&format!("{TLS_CONFIG}  min_version: TLS13\n"))).unwrap())).await;
    assert_eq!(
        tls_connect(&pki, srv.addr).await.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    srv.shutdown.cancel();
    srv.task.await.unwrap().unwrap();

    // Only TLS 1.3 names listed: TLS 1.2 has no suite left, as in Go.
    let yaml = format!("{TLS_CONFIG}  max_version: TLS12\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n");
    let msg = web_config::load(&pki.write_config(&yaml)).map(|_| ()).unwrap_err().to_string();
    assert!(msg.contains("TLS setup failed"), "{msg}");
}

#[tokio::test]
async fn http2_is_offered_over_tls_unless_disabled() {
    let pki = Pki::new();
    for http2 in [true, false] {
        let yaml = format!("{TLS_CONFIG}http_server_config:\n  http2: {http2}\n");
        let srv = start(Some(web_config::load(&pki.write_config(&yaml)).unwrap())).await;
        let tls = tls_connect(&pki, srv.addr).await;
        let want: &[u8] = if http2 { b"h2" } else { b"http/1.1" };
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(want));
        if http2 {
            let io = hyper_util::rt::TokioIo::new(tls);
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io).await.unwrap();
            tokio::spawn(conn);
            let req = hyper::Request::get("https://localhost/metrics").body(axum::body::Body::empty()).unwrap();
            let resp = sender.send_request(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            let body = axum::body::to_bytes(axum::body::Body::new(resp.into_body()), 1024).await.unwrap();
            assert_eq!(&body[..], b"ok");
        }
        srv.shutdown.cancel();
        srv.task.await.unwrap().unwrap();
    }
}

fn client_auth_config(pki: &Pki, auth: &str) -> WebConfig {
    let yaml = format!("{TLS_CONFIG}  client_ca_file: client_ca.crt\n  client_auth_type: {auth}\n");
    web_config::load(&pki.write_config(&yaml)).unwrap()
}

#[tokio::test]
async fn require_and_verify_client_cert() {
    let pki = Pki::new();
    let srv = start(Some(client_auth_config(&pki, "RequireAndVerifyClientCert"))).await;
    let url = format!("https://127.0.0.1:{}/metrics", srv.addr.port());

    assert!(pki.client(None).get(&url).send().await.is_err(), "no client cert must fail");
    let stranger = ca("unrelated CA");
    assert!(pki.client(Some(&stranger)).get(&url).send().await.is_err(), "foreign CA must fail");
    let resp = pki.client(Some(&pki.client_ca)).get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    srv.shutdown.cancel();
    srv.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn other_client_auth_types() {
    let pki = Pki::new();
    let stranger = ca("unrelated CA");
    // (type, without cert ok, foreign cert ok, trusted cert ok)
    let cases = [
        ("VerifyClientCertIfGiven", true, false, true),
        ("RequestClientCert", true, true, true),
        ("RequireAnyClientCert", false, true, true),
    ];
    for (auth, none_ok, foreign_ok, trusted_ok) in cases {
        let srv = start(Some(client_auth_config(&pki, auth))).await;
        let url = format!("https://127.0.0.1:{}/metrics", srv.addr.port());
        for (identity, want) in [(None, none_ok), (Some(&stranger), foreign_ok), (Some(&pki.client_ca), trusted_ok)] {
            let ok = pki.client(identity).get(&url).send().await.is_ok_and(|r| r.status() == 200);
            assert_eq!(ok, want, "{auth} with identity={}", identity.is_some());
        }
        srv.shutdown.cancel();
        srv.task.await.unwrap().unwrap();
    }
}

async fn get_status(client: &reqwest::Client, url: &str, creds: Option<(&str, &str)>) -> (u16, Option<String>, String) {
    let mut req = client.get(url);
    if let Some((u, p)) = creds {
        req = req.basic_auth(u, Some(p));
    }
    let resp = req.send().await.unwrap();
    let www = resp.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_string());
    (resp.status().as_u16(), www, resp.text().await.unwrap())
}

#[tokio::test]
async fn basic_auth_plain_http() {
    let pki = Pki::new();
    let hash = bcrypt::hash("s3cret:with colon", 4).unwrap();
    let yaml = format!(
        "basic_auth_users:\n  alice: '{hash}'\nhttp_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n"
    );
    let srv = start(Some(web_config::load(&pki.write_config(&yaml)).unwrap())).await;
    let url = format!("http://{}/metrics", srv.addr);
    let c = plain_client();

    for _ in 0..2 {
        // Second round hits the verification cache.
        assert_eq!(get_status(&c, &url, Some(("alice", "s3cret:with colon"))).await, (200, None, "ok".into()));
    }
    let denied = (401, Some("Basic".to_string()), String::new());
    assert_eq!(get_status(&c, &url, Some(("alice", "wrong"))).await, denied);
    assert_eq!(get_status(&c, &url, Some(("mallory", "s3cret:with colon"))).await, denied);
    assert_eq!(get_status(&c, &url, None).await, denied);
    let fallback = format!("http://{}/nope", srv.addr);
    assert_eq!(get_status(&c, &fallback, None).await.0, 401, "fallback routes are protected too");
    let resp = c.get(&url).header("Authorization", "Basic !!!").send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff", "configured headers on 401 too");

    srv.shutdown.cancel();
    srv.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn basic_auth_over_tls() {
    let pki = Pki::new();
    let hash = bcrypt::hash("pw", 4).unwrap();
    let cfg =
        web_config::load(&pki.write_config(&format!("{TLS_CONFIG}basic_auth_users:\n  bob: '{hash}'\n"))).unwrap();
    let srv = start(Some(cfg)).await;
    let url = format!("https://localhost:{}/metrics", srv.addr.port());
    let c = pki.client(None);
    assert_eq!(get_status(&c, &url, Some(("bob", "pw"))).await.0, 200);
    assert_eq!(get_status(&c, &url, Some(("bob", "pW"))).await.0, 401);
    srv.shutdown.cancel();
    srv.task.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_is_prompt_and_lets_in_flight_requests_finish() {
    for tls in [false, true] {
        let pki = Pki::new();
        let web = tls.then(|| web_config::load(&pki.write_config(TLS_CONFIG)).unwrap());
        let srv = start(web).await;
        let (scheme, client) = if tls { ("https", pki.client(None)) } else { ("http", plain_client()) };
        let base = format!("{scheme}://localhost:{}", srv.addr.port());

        // An idle keep-alive connection must not hold shutdown up.
        assert_eq!(client.get(format!("{base}/metrics")).send().await.unwrap().status(), 200);
        let slow = tokio::spawn({
            let client = client.clone();
            async move { client.get(format!("{base}/slow")).send().await?.text().await }
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t0 = Instant::now();
        srv.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(3), srv.task).await.expect("serve did not return").unwrap().unwrap();
        assert!(t0.elapsed() < Duration::from_secs(2), "tls={tls}: {:?}", t0.elapsed());
        assert_eq!(slow.await.unwrap().unwrap(), "slow", "tls={tls}");
        assert!(tokio::net::TcpStream::connect(srv.addr).await.is_err(), "listener closed");
    }
}

#[tokio::test]
async fn shutdown_without_connections_returns_immediately() {
    let srv = start(None).await;
    srv.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(1), srv.task).await.unwrap().unwrap().unwrap();
}
