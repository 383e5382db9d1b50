//! The HTTP surface and lifecycle of the real binary: endpoints, reload (SIGHUP and POST), bad reloads keep the
//! running config, graceful shutdown, and the web config (TLS and basic auth).

mod support;

use std::path::Path;
use std::time::Duration;

use support::exporter::{write_file, Exporter};

const WAIT: Duration = Duration::from_secs(30);

/// A target whose DC refuses connections at once: its probes fail fast with reason `connect`.
fn dead_target(name: &str, pw: &Path) -> String {
    format!(
        "  - name: {name}\n    ad:\n      servers: [\"ldaps://127.0.0.1:1\"]\n      bind:\n        user: svc@corp.example.test\n        password_file: \"{}\"\n",
        pw.display()
    )
}

fn write_config(dir: &Path, targets: &[String]) -> std::path::PathBuf {
    let text = format!("global:\n  interval: 1s\n  timeout: 5s\ntargets:\n{}", targets.concat());
    write_file(dir, "config.yml", &text)
}

fn probe_ran(m: &support::exporter::Metrics, target: &str) -> bool {
    m.has("writeback_probe_success", &[("target", target), ("probe", "ad_policy")])
}

#[tokio::test]
async fn endpoints_reload_and_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", "secret\n");
    let cfg = write_config(dir.path(), &[dead_target("a", &pw)]);
    let exporter = Exporter::start(&cfg, &["--web.enable-lifecycle"]);

    assert_eq!(exporter.get("/-/healthy").await.0, 200);
    let m = exporter.wait_for_metrics(WAIT, "target a probed", |m| probe_ran(m, "a")).await;
    assert_eq!(m.value("writeback_probe_success", &[("target", "a"), ("probe", "ad_policy")]), Some(0.0));
    assert_eq!(m.value("writeback_exporter_config_last_reload_successful", &[]), Some(1.0));
    assert!(m.has("writeback_exporter_build_info", &[("version", env!("CARGO_PKG_VERSION"))]));
    assert!(m.has("process_resident_memory_bytes", &[]));
    // Every reason is pre-initialised so that rate() sees the first failure.
    assert_eq!(
        m.value("writeback_probe_failures_total", &[("target", "a"), ("probe", "ad_policy"), ("reason", "auth")]),
        Some(0.0)
    );
    assert!(m.text.contains("# HELP writeback_probe_success"));

    // Ready once every probe ran; the landing page lists the target, the probe and the error in words.
    let deadline = std::time::Instant::now() + WAIT;
    while exporter.get("/-/ready").await.0 != 200 {
        assert!(std::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, page) = exporter.get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("Target a") && page.contains("ad_policy") && page.contains("failed (connect)"), "{page}");
    assert!(page.contains("cannot connect to 127.0.0.1"), "{page}");

    // /probe serves one target; unknown or missing targets are client errors.
    assert_eq!(exporter.get("/probe").await.0, 400);
    assert_eq!(exporter.get("/probe?target=nope").await.0, 404);
    let (status, one) = exporter.get("/probe?target=a").await;
    assert_eq!(status, 200);
    assert!(one.contains("target=\"a\"") && !one.contains("process_resident_memory_bytes"));

    // SIGHUP: target a replaced by b; a's series vanish.
    write_config(dir.path(), &[dead_target("b", &pw)]);
    exporter.signal("HUP");
    let m = exporter
        .wait_for_metrics(WAIT, "target b after SIGHUP", |m| probe_ran(m, "b") && !m.text.contains("target=\"a\""))
        .await;
    assert_eq!(m.value("writeback_exporter_config_last_reload_successful", &[]), Some(1.0));

    // A bad config is rejected: 500 with the error, flag 0, target b still probed.
    write_file(dir.path(), "config.yml", "targets:\n  - name: c\n    bogus: 1\n");
    let (status, body) = exporter.post("/-/reload").await;
    assert_eq!(status, 500);
    assert!(body.contains("config.yml:3: targets[0].bogus: unknown field `bogus`"), "{body}");
    let m = exporter
        .wait_for_metrics(WAIT, "reload flag 0", |m| {
            m.value("writeback_exporter_config_last_reload_successful", &[]) == Some(0.0)
        })
        .await;
    assert!(probe_ran(&m, "b"));
    assert!(exporter.log().contains("configuration reload failed"), "{}", exporter.log());

    // POST with a good config: c replaces b, flag back to 1.
    write_config(dir.path(), &[dead_target("c", &pw)]);
    let (status, _) = exporter.post("/-/reload").await;
    assert_eq!(status, 200);
    exporter
        .wait_for_metrics(WAIT, "target c after POST", |m| {
            probe_ran(m, "c")
                && !m.text.contains("target=\"b\"")
                && m.value("writeback_exporter_config_last_reload_successful", &[]) == Some(1.0)
        })
        .await;

    // Reload only by POST.
    assert_eq!(exporter.get("/-/reload").await.0, 405);
    assert_eq!(exporter.terminate(), Some(0), "SIGTERM ends the process cleanly");
}

#[tokio::test]
async fn web_config_tls_and_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", "secret\n");
    let cfg = write_config(dir.path(), &[dead_target("a", &pw)]);

    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap()).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    write_file(dir.path(), "server.crt", &cert.pem());
    write_file(dir.path(), "server.key", &key.serialize_pem());
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let web = write_file(
        dir.path(),
        "web.yml",
        &format!("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  prom: \"{hash}\"\n"),
    );
    let exporter = Exporter::start(&cfg, &[&format!("--web.config.file={}", web.display())]);
    let url = format!("https://127.0.0.1:{}/metrics", exporter.addr.port());
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .build()
        .unwrap();

    let ok = client.get(&url).basic_auth("prom", Some("s3cret")).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    assert!(ok.text().await.unwrap().contains("writeback_exporter_build_info"));

    for (user, password) in [("prom", Some("wrong")), ("nobody", Some("s3cret"))] {
        let denied = client.get(&url).basic_auth(user, password).send().await.unwrap();
        assert_eq!(denied.status().as_u16(), 401);
        assert!(denied.headers().contains_key("www-authenticate"));
        assert!(denied.text().await.unwrap().is_empty(), "a 401 carries no body data");
    }
    assert_eq!(client.get(&url).send().await.unwrap().status().as_u16(), 401);
    // Plain HTTP to the TLS port gets nothing useful.
    assert!(reqwest::get(exporter.url("/metrics")).await.map(|r| r.status().as_u16() != 200).unwrap_or(true));
}

#[tokio::test]
async fn custom_telemetry_path_is_served_and_linked() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", "secret\n");
    let cfg = write_config(dir.path(), &[dead_target("a", &pw)]);
    let exporter = Exporter::start(&cfg, &["--web.telemetry-path=/custom/metrics"]);

    let (status, body) = exporter.get("/custom/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("writeback_exporter_build_info"), "{body}");
    assert_eq!(exporter.get("/metrics").await.0, 404, "only the configured path serves the metrics");
    let (status, page) = exporter.get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("<a href=\"/custom/metrics\">/custom/metrics</a>"), "{page}");
    assert!(!page.contains("href=\"/metrics\""), "{page}");
}

#[tokio::test]
async fn reload_over_http_needs_the_lifecycle_flag() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", "secret\n");
    let cfg = write_config(dir.path(), &[dead_target("a", &pw)]);
    let exporter = Exporter::start(&cfg, &[]);
    write_config(dir.path(), &[dead_target("b", &pw)]);
    let (status, body) = exporter.post("/-/reload").await;
    assert_eq!((status, body.as_str()), (403, "Lifecycle API is not enabled.\n"));
    // The configuration in force did not change; SIGHUP still reloads.
    exporter.wait_for_metrics(WAIT, "target a still probed", |m| probe_ran(m, "a")).await;
    assert!(!exporter.log().contains("configuration reloaded"), "{}", exporter.log());
    exporter.signal("HUP");
    exporter
        .wait_for_metrics(WAIT, "target b after SIGHUP", |m| probe_ran(m, "b") && !m.text.contains("target=\"a\""))
        .await;
}

/// A flood of reloads that change nothing neither cancels runs in flight nor restarts the start delay: probes keep
/// finishing. The DC here accepts connections and never answers, so every run lasts the whole 1 s timeout; before,
/// each reload cancelled the runs in flight and restarted every probe after a new random delay, so under a reload
/// every 100 ms no run ever finished.
#[tokio::test]
async fn a_reload_flood_does_not_stop_probing() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", "secret\n");
    // A black hole: the kernel completes the TCP handshake (backlog), nobody ever reads.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = dead_target("a", &pw).replace("127.0.0.1:1", &silent.local_addr().unwrap().to_string());
    let text = format!("global:\n  interval: 1s\n  timeout: 1s\ntargets:\n{target}");
    let cfg = write_file(dir.path(), "config.yml", &text);
    let exporter = Exporter::start(&cfg, &["--web.enable-lifecycle"]);
    let timeouts = |m: &support::exporter::Metrics| {
        m.value("writeback_probe_failures_total", &[("target", "a"), ("probe", "ad_policy"), ("reason", "timeout")])
            .unwrap_or(0.0)
    };
    let before = timeouts(&exporter.wait_for_metrics(WAIT, "a first timed-out run", |m| timeouts(m) >= 1.0).await);
    // 60 reloads over 6 s or more: runs of 1 s back to back, so at least 3 more must finish meanwhile.
    for _ in 0..60 {
        assert_eq!(exporter.post("/-/reload").await.0, 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let during = timeouts(&exporter.wait_for_metrics(WAIT, "scrape", |_| true).await);
    assert!(during >= before + 3.0, "probe runs stalled under reloads: {before} -> {during}");
    // Concurrent reloads are all answered (coalesced into as few reloads as arrive together).
    let answers = futures_util::future::join_all((0..20).map(|_| exporter.post("/-/reload"))).await;
    assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
    drop(silent);
}

/// `/explain` reads the directory on request: at most two run at once (a third gets 429 at once, with Retry-After,
/// and the slots come back when they end), behind the same basic auth as every endpoint.
#[tokio::test]
async fn explain_is_bounded_and_behind_basic_auth() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", "secret\n");
    // A black hole: every explanation waits for the DC until the probe timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let target = dead_target("a", &pw).replace("127.0.0.1:1", &silent.local_addr().unwrap().to_string());
    let text = format!("global:\n  interval: 1h\n  timeout: 3s\ntargets:\n{target}");
    let cfg = write_file(dir.path(), "config.yml", &text);
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    let web = write_file(dir.path(), "web.yml", &format!("basic_auth_users:\n  prom: \"{hash}\"\n"));
    let exporter = Exporter::start(&cfg, &[&format!("--web.config.file={}", web.display())]);
    let client = reqwest::Client::new();
    let ask = |user: &str, auth: bool| {
        let mut req =
            client.get(exporter.url(&format!("/explain?target=a&user={user}"))).header("Accept", "application/json");
        if auth {
            req = req.basic_auth("prom", Some("s3cret"));
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
            (status, retry, resp.text().await.unwrap())
        }
    };

    assert_eq!(ask("alice", false).await.0, 401, "no credentials, no explanation");
    let started = std::time::Instant::now();
    let third = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let answer = ask("carol", true).await;
        (answer, started.elapsed())
    };
    let (first, second, ((status, retry, body), refused_after)) =
        tokio::join!(ask("alice", true), ask("bob", true), third);
    assert_eq!((status, retry.as_deref()), (429, Some("5")), "{body}");
    assert!(refused_after < Duration::from_secs(2), "the third is refused at once, not queued: {refused_after:?}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["reason"], "busy");
    for (status, _, body) in [first, second] {
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!([502, 504].contains(&status), "{status} {body}");
        assert_eq!(body["reason"], "timeout", "{body}");
    }
    // The slots are free again.
    let (status, _, body) = ask("dave", true).await;
    assert_ne!(status, 429, "{body}");
    // Missing parameters and unknown targets, before any directory traffic.
    let get = |path: &str| client.get(exporter.url(path)).basic_auth("prom", Some("s3cret")).send();
    assert_eq!(get("/explain?target=a").await.unwrap().status().as_u16(), 400);
    assert_eq!(get("/explain?target=zz&user=x").await.unwrap().status().as_u16(), 404);
    drop(silent);
}
