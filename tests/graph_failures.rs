//! The Graph client's transport and failure handling, end to end: the real binary's `check` against the HTTPS
//! fake, through an HTTP CONNECT proxy, and one misbehaviour at a time (throttling, 503, 403, malformed JSON,
//! oversized body, stall, foreign nextLink).

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::graph_fake::{
    check, entra_target, probe, run_check, secret_credential, sku, write_config, Credential, GraphFake, Reply, SECRET,
    SKUS,
};

const P1: (&str, &str) = ("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM");

struct Rig {
    fake: GraphFake,
    config: PathBuf,
    _dir: tempfile::TempDir,
}

/// A fake with one licensed SKU and a config with the given probe timeout.
async fn rig(timeout: &str) -> Rig {
    rig_with(timeout, "").await
}

async fn rig_with(timeout: &str, extra: &str) -> Rig {
    let fake = GraphFake::start(Credential::Secret(SECRET.to_string())).await;
    fake.set_collection(SKUS, vec![sku("AAD_PREMIUM", &[P1], 10, 1, "Enabled")]);
    let dir = tempfile::tempdir().unwrap();
    let cred = secret_credential(dir.path(), SECRET);
    let target = entra_target("cloud", &fake, &cred, &format!("      sspr_audit: false\n{extra}"));
    let config = write_config(dir.path(), &format!("  timeout: {timeout}\n"), &[target]);
    Rig { fake, config, _dir: dir }
}

async fn licences(rig: &Rig) -> (Value, Duration) {
    let started = Instant::now();
    let (_, report, log) = run_check(&rig.config).await;
    assert!(report.is_object(), "no JSON report; log:\n{log}");
    (probe(&report, "entra_licenses").clone(), started.elapsed())
}

fn assert_failed(p: &Value, reason: &str, text: &str) {
    assert_eq!(p["state"], "failed", "{p:#}");
    assert_eq!(p["reason"], reason, "{p:#}");
    assert!(p["error"].as_str().unwrap_or_default().contains(text), "error should contain {text:?}: {p:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn honours_retry_after_then_succeeds() {
    let rig = rig("20s").await;
    let throttled = json!({"error": {"code": "TooManyRequests", "message": "Too many requests"}});
    rig.fake.script(SKUS, Reply::Json { status: 429, body: throttled, retry_after: Some(2) });
    let (p, _) = licences(&rig).await;
    assert_eq!(p["state"], "ok", "{p:#}");
    assert_eq!(check(&p, "entra_license_writeback_capable")["status"], "PASS");
    let seen = rig.fake.requests_to(SKUS);
    assert_eq!(seen.len(), 2, "one 429, one retry");
    let gap = seen[1].at - seen[0].at;
    assert!(gap >= Duration::from_millis(1900), "Retry-After: 2 was honoured, waited {gap:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn backs_off_on_503_without_retry_after() {
    let rig = rig("20s").await;
    rig.fake.script(SKUS, Reply::graph_error(503, "serviceNotAvailable", "Service unavailable"));
    rig.fake.script(SKUS, Reply::graph_error(504, "gatewayTimeout", "Gateway timeout"));
    let (p, _) = licences(&rig).await;
    assert_eq!(p["state"], "ok", "{p:#}");
    let seen = rig.fake.requests_to(SKUS);
    assert_eq!(seen.len(), 3);
    assert!(seen[1].at - seen[0].at >= Duration::from_millis(240), "backoff before the first retry");
    assert!(seen[2].at - seen[1].at >= Duration::from_millis(490), "longer backoff before the second");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_beyond_the_timeout_fails_fast_as_throttled() {
    let rig = rig("10s").await;
    let body = json!({"error": {"code": "TooManyRequests", "message": "Too many requests"}});
    rig.fake.always(SKUS, Some(Reply::Json { status: 429, body, retry_after: Some(120) }));
    let (p, took) = licences(&rig).await;
    assert_failed(&p, "throttled", "asked to wait 120.0 s, past this run's deadline");
    assert!(took < Duration::from_secs(8), "did not sleep past the timeout: {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn permission_denied_names_the_application_permission() {
    let rig = rig("10s").await;
    rig.fake.always(
        SKUS,
        Some(Reply::graph_error(
            403,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )),
    );
    let (p, _) = licences(&rig).await;
    assert_failed(&p, "permission", "GET /v1.0/subscribedSkus: HTTP 403 Authorization_RequestDenied");
    assert_failed(&p, "permission", "needs the application permission Organization.Read.All");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_a_protocol_error() {
    let rig = rig("10s").await;
    rig.fake
        .script(SKUS, Reply::Raw { status: 200, body: b"{\"value\": [{\"skuPartNumber\": ".to_vec(), chunked: false });
    let (p, _) = licences(&rig).await;
    assert_failed(&p, "protocol", "malformed JSON");
    rig.fake.script(SKUS, Reply::json(200, json!({"value": "not a list"})));
    let (p, _) = licences(&rig).await;
    assert_failed(&p, "protocol", "malformed JSON");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_are_refused() {
    let rig = rig("20s").await;
    let big = vec![b' '; 9 * 1024 * 1024];
    rig.fake.script(SKUS, Reply::Raw { status: 200, body: big.clone(), chunked: false });
    let (p, _) = licences(&rig).await;
    assert_failed(&p, "protocol", "response body larger than the limit of 8388608 bytes");
    // Without a Content-Length the limit applies while reading.
    rig.fake.script(SKUS, Reply::Raw { status: 200, body: big, chunked: true });
    let (p, _) = licences(&rig).await;
    assert_failed(&p, "protocol", "response body larger than the limit");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_response_times_out_within_the_probe_timeout() {
    let rig = rig("3s").await;
    rig.fake.script(SKUS, Reply::Stall);
    let (p, took) = licences(&rig).await;
    assert_failed(&p, "timeout", "GET /v1.0/subscribedSkus timed out");
    assert!(p["duration_seconds"].as_f64().is_some_and(|d| d < 3.0), "within the 3 s timeout: {p:#}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_next_link_to_another_host_is_not_followed() {
    let rig = rig("10s").await;
    let other = GraphFake::start(Credential::Secret(SECRET.to_string())).await;
    let page = json!({
        "value": [sku("AAD_PREMIUM", &[P1], 10, 1, "Enabled")],
        "@odata.nextLink": format!("{}/v1.0/subscribedSkus?$skiptoken=abc", other.url()),
    });
    rig.fake.script(SKUS, Reply::json(200, page));
    let (p, _) = licences(&rig).await;
    assert_failed(&p, "protocol", "@odata.nextLink points to another host (127.0.0.1:");
    assert!(other.seen().is_empty(), "the foreign host got a request: {:?}", other.seen());
}

/// A minimal HTTP CONNECT proxy that records the targets it was asked for.
async fn connect_proxy() -> (std::net::SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let targets = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = targets.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut client = BufReader::new(client);
                let mut line = String::new();
                let _ = client.read_line(&mut line).await;
                let target = line.split_whitespace().nth(1).unwrap_or_default().to_string();
                loop {
                    let mut header = String::new();
                    if client.read_line(&mut header).await.unwrap_or(0) <= 2 {
                        break;
                    }
                }
                seen.lock().unwrap().push(target.clone());
                let Ok(mut upstream) = tokio::net::TcpStream::connect(&target).await else { return };
                let mut client = client.into_inner();
                let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await;
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    });
    (addr, targets)
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_go_through_the_configured_proxy() {
    let (proxy, targets) = connect_proxy().await;
    let rig = rig_with("10s", &format!("      proxy_url: http://{proxy}\n")).await;
    let (p, _) = licences(&rig).await;
    assert_eq!(p["state"], "ok", "{p:#}");
    let fake = rig.fake.addr.to_string();
    let targets = targets.lock().unwrap().clone();
    assert!(!targets.is_empty() && targets.iter().all(|t| *t == fake), "CONNECT targets: {targets:?}");
}
