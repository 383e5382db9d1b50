//! Graph authentication end to end: client secret, certificate assertion (verified by the fake), federated token
//! file, token caching and refresh, AADSTS errors; and that no secret or token ever reaches the log.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use support::exporter::{Exporter, Metrics};
use support::graph_fake::{
    entra_target, probe, run_check, secret_credential, sku, sync_object, write_config, Credential, GraphFake, Reply,
    SECRET, SKUS, SYNC, TOKEN_PATH,
};

const P1: (&str, &str) = ("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM");
const WAIT: Duration = Duration::from_secs(30);

async fn licensed_fake(credential: Credential) -> GraphFake {
    let fake = GraphFake::start(credential).await;
    fake.set_collection(SKUS, vec![sku("AAD_PREMIUM", &[P1], 10, 1, "Enabled")]);
    fake.set_collection(SYNC, vec![sync_object("2.5.79.0", "CONNECT01", true)]);
    fake
}

fn failures(m: &Metrics) -> f64 {
    m.text
        .lines()
        .filter(|l| l.starts_with("writeback_probe_failures_total{"))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

fn success(m: &Metrics, probe: &str) -> bool {
    m.value("writeback_probe_success", &[("target", "cloud"), ("probe", probe)]) == Some(1.0)
}

/// One daemon run through every path that logs: a refused token request, a 403 on the beta endpoint, token
/// refreshes, a revoked token; at debug level no line holds the secret or any token the fake issued.
#[tokio::test(flavor = "multi_thread")]
async fn secret_flow_never_logs_the_secret_or_a_token() {
    let fake = licensed_fake(Credential::Secret(SECRET.to_string())).await;
    fake.set_token_lifetime(4);
    fake.script(TOKEN_PATH, Reply::aadsts(401, "invalid_client", 7_000_215, "Invalid client secret provided."));
    fake.always(
        SYNC,
        Some(Reply::graph_error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )),
    );
    let dir = tempfile::tempdir().unwrap();
    let cred = secret_credential(dir.path(), SECRET);
    let cfg = write_config(dir.path(), "  interval: 1s\n  timeout: 5s\n", &[entra_target("cloud", &fake, &cred, "")]);
    let exporter = Exporter::start(&cfg, &[]);
    exporter
        .wait_for_metrics(WAIT, "all Entra probes succeed", |m| {
            ["entra_licenses", "entra_sync", "entra_sspr"].iter().all(|p| success(m, p))
        })
        .await;
    exporter.wait_for_metrics(WAIT, "token refreshes", |_| fake.issued_tokens().len() >= 3).await;
    fake.revoke_tokens();
    let before = fake.issued_tokens().len();
    exporter.wait_for_metrics(WAIT, "a token after revocation", |_| fake.issued_tokens().len() > before).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let log = exporter.log();
    assert!(log.contains("AADSTS7000215: Invalid client secret provided."), "the refusal is logged:\n{log}");
    assert!(log.contains("OnPremDirectorySynchronization.Read.All"), "the 403 names the permission:\n{log}");
    let tokens = fake.issued_tokens();
    assert!(tokens.len() >= 4);
    for line in log.lines() {
        assert!(!line.contains(SECRET), "the secret is in the log: {line}");
        for token in &tokens {
            assert!(!line.contains(token.as_str()), "a token is in the log: {line}");
        }
        assert!(!line.to_ascii_lowercase().contains("bearer "), "an Authorization header is in the log: {line}");
    }
}

/// Tokens are reused until shortly before they expire; a 401 (revoked token) fetches a new one and retries once,
/// so no run fails.
#[tokio::test(flavor = "multi_thread")]
async fn tokens_are_cached_refreshed_and_renewed_after_a_401() {
    let fake = licensed_fake(Credential::Secret(SECRET.to_string())).await;
    fake.set_token_lifetime(6);
    let dir = tempfile::tempdir().unwrap();
    let cred = secret_credential(dir.path(), SECRET);
    let target = entra_target("cloud", &fake, &cred, "      sspr_audit: false\n");
    let cfg = write_config(dir.path(), "  interval: 1s\n  timeout: 5s\n", &[target]);
    let exporter = Exporter::start(&cfg, &[]);
    exporter.wait_for_metrics(WAIT, "first runs", |m| success(m, "entra_licenses") && success(m, "entra_sync")).await;
    tokio::time::sleep(Duration::from_secs(7)).await;
    let graph_requests = fake.seen().iter().filter(|r| r.path != TOKEN_PATH).count();
    let tokens = fake.issued_tokens().len();
    assert!(graph_requests >= 12, "{graph_requests} Graph requests");
    assert!((2..=5).contains(&tokens), "a 6 s token is refreshed about every 3 s: {tokens} tokens");
    let m = Metrics::parse(&exporter.metrics().await);
    assert_eq!(failures(&m), 0.0, "{}", m.text);

    fake.revoke_tokens();
    let revoked_at = fake.seen().len();
    exporter.wait_for_metrics(WAIT, "renewal after 401", |_| fake.issued_tokens().len() > tokens).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let m = Metrics::parse(&exporter.metrics().await);
    assert_eq!(failures(&m), 0.0, "a 401 is retried with a new token, not a failure:\n{}", m.text);
    let after: Vec<_> = fake.seen().into_iter().skip(revoked_at).collect();
    assert!(after.iter().any(|r| r.path == TOKEN_PATH), "a new token was requested");
}

/// Writes the app certificate (self-signed over the test RSA key) and the key in PKCS#8 or PKCS#1 form.
fn app_certificate(dir: &Path, pkcs1: bool) -> (PathBuf, PathBuf, Credential) {
    let key = rcgen::KeyPair::from_pem(APP_KEY_PKCS8).expect("test RSA key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(rcgen::DnType::CommonName, "writeback-exporter test app");
    let cert = params.self_signed(&key).expect("app certificate");
    let (cert_file, key_file) = (dir.join("app.crt"), dir.join("app.key"));
    std::fs::write(&cert_file, cert.pem()).expect("write certificate");
    std::fs::write(&key_file, if pkcs1 { APP_KEY_PKCS1 } else { APP_KEY_PKCS8 }).expect("write key");
    let der = PrivateKeyDer::from_pem_slice(APP_KEY_PKCS8.as_bytes()).expect("key DER");
    let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_der()).expect("RSA key");
    let public_key = ring::signature::KeyPair::public_key(&pair).as_ref().to_vec();
    let thumbprint_s256 = URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, cert.der()).as_ref());
    (cert_file, key_file, Credential::Certificate { public_key, thumbprint_s256 })
}

/// The assertion is checked like Entra does (signature with the registered certificate's key, x5t#S256, aud,
/// iss, sub, validity, jti); both key encodings work; an unregistered certificate gets AADSTS700027.
#[tokio::test(flavor = "multi_thread")]
async fn certificate_credential_sends_a_verified_assertion() {
    for pkcs1 in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, credential) = app_certificate(dir.path(), pkcs1);
        let fake = licensed_fake(credential.clone()).await;
        let lines =
            format!("      certificate_file: \"{}\"\n      private_key_file: \"{}\"\n", cert.display(), key.display());
        let cfg = write_config(
            dir.path(),
            "  timeout: 10s\n",
            &[entra_target("cloud", &fake, &lines, "      sspr_audit: false\n")],
        );
        let (_, report, log) = run_check(&cfg).await;
        let p = probe(&report, "entra_licenses");
        assert_eq!(p["state"], "ok", "pkcs1={pkcs1}: {p:#}\nrejections: {:?}\n{log}", fake.rejections());
        assert!(fake.rejections().is_empty(), "{:?}", fake.rejections());
        assert_eq!(fake.issued_tokens().len(), 1, "one token serves both probes");

        let Credential::Certificate { public_key, .. } = credential else { unreachable!() };
        fake.set_credential(Credential::Certificate { public_key, thumbprint_s256: "someOtherCertificate".into() });
        let (code, report, _) = run_check(&cfg).await;
        let p = probe(&report, "entra_licenses");
        assert_eq!((code, p["reason"].as_str()), (3, Some("auth")), "{p:#}");
        let error = p["error"].as_str().unwrap_or_default();
        assert!(error.contains("AADSTS700027") && error.contains("upload this certificate"), "{error}");
    }
}

/// Workload identity: the token file is read again for every token request, so a rotated file is used.
#[tokio::test(flavor = "multi_thread")]
async fn federated_token_file_is_reread_on_every_token_request() {
    let fake = licensed_fake(Credential::Federated("federated-token-1".into())).await;
    fake.set_token_lifetime(2);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("azure-identity-token");
    std::fs::write(&file, "federated-token-1\n").unwrap();
    let lines = format!("      federated_token_file: \"{}\"\n", file.display());
    let cfg = write_config(
        dir.path(),
        "  interval: 1s\n  timeout: 5s\n",
        &[entra_target("cloud", &fake, &lines, "      sspr_audit: false\n")],
    );
    let exporter = Exporter::start(&cfg, &[]);
    exporter.wait_for_metrics(WAIT, "first run", |m| success(m, "entra_licenses")).await;

    std::fs::write(&file, "federated-token-2\n").unwrap();
    fake.set_credential(Credential::Federated("federated-token-2".into()));
    let issued = fake.issued_tokens().len();
    exporter.wait_for_metrics(WAIT, "a token from the rotated file", |_| fake.issued_tokens().len() > issued + 1).await;
    assert!(fake.rejections().is_empty(), "a stale federated token was sent: {:?}", fake.rejections());
    assert!(!exporter.log().contains("federated-token-"), "the federated token is in the log");
}

/// A wrong client secret: the probes fail with reason `auth` and the AADSTS code and what to do about it.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_secret_is_an_auth_failure_naming_aadsts7000215() {
    let fake = licensed_fake(Credential::Secret(SECRET.to_string())).await;
    let dir = tempfile::tempdir().unwrap();
    let cred = secret_credential(dir.path(), "not-the-secret-value");
    let cfg = write_config(dir.path(), "  timeout: 10s\n", &[entra_target("cloud", &fake, &cred, "")]);
    let (code, report, log) = run_check(&cfg).await;
    assert_eq!(code, 3, "{report:#}");
    for name in ["entra_licenses", "entra_sync", "entra_sspr"] {
        let p = probe(&report, name);
        assert_eq!(p["reason"], "auth", "{p:#}");
        let error = p["error"].as_str().unwrap_or_default();
        assert!(error.contains("HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided."), "{error}");
        assert!(error.contains("use the secret's Value, not its Secret ID"), "{error}");
    }
    assert!(!log.contains("not-the-secret-value") && !report.to_string().contains("not-the-secret-value"));
}
/// Test-only RSA key (generated for these tests, protects nothing).
const APP_KEY_PKCS8: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC8VwUuWAgTT+Wi\n\
Hfy5vs1aHgMFyL1yWieiGP65ODsyishPP+EmU5FU82mVhPhj+8sLPcICQrm6CV63\n\
KbdNRwg8e0DoN9410OsDPz3lQddyRdBDFmHr0iYr2pl3xLIRs3vv55W8FNFRXOe3\n\
47HCJjmP+fMnavq0hOGa8iV8B87V+xygh0AFe3e60gB/FHesYKBMbH1YHrqZgOlT\n\
ealwStX88/JgOgDa17MdiHHHQ2wfo/P7Sx8Bi2pdR9A2Ox2cfrZBhgIyXocwqOnG\n\
qbowIByfA2wehPTDlIXq7hmhO2g94bPC9EbZW0tMHx7b0dZvt3pcQqTkxh89Y7l7\n\
ux6ei0SFAgMBAAECggEAGJhqoks3vsHj1KCC5QTgT2D09xfoeZsBav9FoI2R2X9b\n\
OlI2xmkKZSQmiTKkt3Xl5bFqeR4aoAtiNZw6hlp83l0gNFM7bx652iIzpJFNH+yz\n\
DlfJcODwQDDbctMaiAo+6Kz/FmFHlo8B6bdP+vE/+ifjk6W6WMGzrqbps0FXxwS7\n\
Lc8CBu4ccWSLe4lrjkFXtGZ/CMPyoLyeYk2r+uQ3KMvWm4JBp28YVJWImqm188CC\n\
A4KxKNFewK2dHifsVccixNL4XOz+rWX4qDvkMMyd4Qqg8TJIKuwJBXIYsUCs0THT\n\
jM4UgnHLH5ut99IJBmn/T5/LUXfv8srbAU6Ao6PrPwKBgQDjDZjjl/ALULlMBYAN\n\
CQjs+EtlMLqh6rJgt3qWyGdGG7QWH94T1r1fQTAOSVv8/kiQVvxdBUw2KFTEvJD2\n\
5HxiaP4N50nxjC36WkjgX7n77wWylgLGOiCMQUkUmZmnVh4sTCmSsL4KBAmKCXWq\n\
rx3HI4Sz7IucHlhCX1NVHnbxFwKBgQDUWe25DTWnvo2DpDjPF27pymyjdc4m3tZ0\n\
5lr7uf6hc+Rc85CM/lZeGaN5/pri64CESjyzbtaKXcSc5fWDphAZuno/w4oXA6AK\n\
BhQdShIlH+fjvnZyCq5KOwrR/WfulaL+Jmo6lNsgIJd4ke4R/B/Jslww+Rae24ot\n\
em7RaF9gwwKBgGp/sjruxXVJQ+DYo5t5pWohfJvWI3RXNZwP87xN+8Lys6G9CNmd\n\
W+4WEYhh+HfOfhLV+kFXfsvYVwqAuC5WNdGjFadH2XMnIVnQh2ZXAFGfZ7jAjESW\n\
dzXSWYkEEwJeboCwqL9Zj4n7Is5QaZTJ1tnVWyVZypJL2XIobFn8lCW5AoGBAMP7\n\
X2hLpbp0Jl1Zgki3ItlIxm0yO5oqTZlERLJQnY3azOdwr3dBAOsGFJdyAPbvTQRL\n\
E6yy3fSDyALaRXZEHFXyggM5b8f/w4OcypGhnA+BW94YGW71JphB16Gok3RhzDVt\n\
tNruKTKEged4H1Wf8KKRJ37XVSY2DlgcyAwinOxLAoGBALG7IPCoI0q70kyTRYOo\n\
OaWdQ5m1G8TEC0XosBBysy1yqiiBTmWVxK8dWeLg9iwsBH18ucT/qHijCS5Xs4zL\n\
GACHH1CJD25r4Fw/D0JpIJGZq7rPllwlgBCEbgncwh0CA+HTbWQFiK07bVT8a9ZN\n\
4C5AB/W3xY775cj5liP1LxP1\n\
-----END PRIVATE KEY-----\n\
";
/// The same key in PKCS#1 form.
const APP_KEY_PKCS1: &str = "\
-----BEGIN RSA PRIVATE KEY-----\n\
MIIEpAIBAAKCAQEAvFcFLlgIE0/loh38ub7NWh4DBci9clonohj+uTg7MorITz/h\n\
JlORVPNplYT4Y/vLCz3CAkK5ugletym3TUcIPHtA6DfeNdDrAz895UHXckXQQxZh\n\
69ImK9qZd8SyEbN77+eVvBTRUVznt+OxwiY5j/nzJ2r6tIThmvIlfAfO1fscoIdA\n\
BXt3utIAfxR3rGCgTGx9WB66mYDpU3mpcErV/PPyYDoA2tezHYhxx0NsH6Pz+0sf\n\
AYtqXUfQNjsdnH62QYYCMl6HMKjpxqm6MCAcnwNsHoT0w5SF6u4ZoTtoPeGzwvRG\n\
2VtLTB8e29HWb7d6XEKk5MYfPWO5e7senotEhQIDAQABAoIBABiYaqJLN77B49Sg\n\
guUE4E9g9PcX6HmbAWr/RaCNkdl/WzpSNsZpCmUkJokypLd15eWxankeGqALYjWc\n\
OoZafN5dIDRTO28eudoiM6SRTR/ssw5XyXDg8EAw23LTGogKPuis/xZhR5aPAem3\n\
T/rxP/on45OluljBs66m6bNBV8cEuy3PAgbuHHFki3uJa45BV7RmfwjD8qC8nmJN\n\
q/rkNyjL1puCQadvGFSViJqptfPAggOCsSjRXsCtnR4n7FXHIsTS+Fzs/q1l+Kg7\n\
5DDMneEKoPEySCrsCQVyGLFArNEx04zOFIJxyx+brffSCQZp/0+fy1F37/LK2wFO\n\
gKOj6z8CgYEA4w2Y45fwC1C5TAWADQkI7PhLZTC6oeqyYLd6lshnRhu0Fh/eE9a9\n\
X0EwDklb/P5IkFb8XQVMNihUxLyQ9uR8Ymj+DedJ8Ywt+lpI4F+5++8FspYCxjog\n\
jEFJFJmZp1YeLEwpkrC+CgQJigl1qq8dxyOEs+yLnB5YQl9TVR528RcCgYEA1Fnt\n\
uQ01p76Ng6Q4zxdu6cpso3XOJt7WdOZa+7n+oXPkXPOQjP5WXhmjef6a4uuAhEo8\n\
s27Wil3EnOX1g6YQGbp6P8OKFwOgCgYUHUoSJR/n4752cgquSjsK0f1n7pWi/iZq\n\
OpTbICCXeJHuEfwfybJcMPkWntuKLXpu0WhfYMMCgYBqf7I67sV1SUPg2KObeaVq\n\
IXyb1iN0VzWcD/O8TfvC8rOhvQjZnVvuFhGIYfh3zn4S1fpBV37L2FcKgLguVjXR\n\
oxWnR9lzJyFZ0IdmVwBRn2e4wIxElnc10lmJBBMCXm6AsKi/WY+J+yLOUGmUydbZ\n\
1VslWcqSS9lyKGxZ/JQluQKBgQDD+19oS6W6dCZdWYJItyLZSMZtMjuaKk2ZRESy\n\
UJ2N2szncK93QQDrBhSXcgD2700ESxOsst30g8gC2kV2RBxV8oIDOW/H/8ODnMqR\n\
oZwPgVveGBlu9SaYQdehqJN0Ycw1bbTa7ikyhIHneB9Vn/CikSd+11UmNg5YHMgM\n\
IpzsSwKBgQCxuyDwqCNKu9JMk0WDqDmlnUOZtRvExAtF6LAQcrMtcqoogU5llcSv\n\
HVni4PYsLAR9fLnE/6h4owkuV7OMyxgAhx9QiQ9ua+BcPw9CaSCRmau6z5ZcJYAQ\n\
hG4J3MIdAgPh021kBYitO21U/GvWTeAuQAf1t8WO++XI+ZYj9S8T9Q==\n\
-----END RSA PRIVATE KEY-----\n\
";
