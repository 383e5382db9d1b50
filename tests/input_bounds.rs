//! Input the exporter does not control is bounded (issue 16, items 4 and 5):
//! - server text: a DC that refuses the bind with a 60 KB diagnosticMessage, or with one that echoes the bind
//!   password (tests/support/rejecting_dc.rs). Neither the long text nor the password reaches the log, `check
//!   --output json` or the landing page;
//! - files: a configuration, web config or secret that is a device, a FIFO or too large fails the load with an error
//!   naming the key, promptly (every run here is bounded by a timeout); a secret file others can read is a warning.
//!
//! Fixtures that a committed file can express are in tests/testdata/config (invalid-secret-not-regular.yml,
//! invalid-certificate-not-regular.yml); these create what cannot be committed.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::exporter::{write_file, Exporter, BIN};
use support::rejecting_dc::RejectingDc;

const PASSWORD: &str = "Echo-Me-Pw-4711";

/// Runs the binary with `args`, killing it after `limit`: a hang is a failure, not a stuck test.
fn run_bounded(args: &[String], limit: Duration) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the exporter binary starts");
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    panic!("{args:?} did not finish within {limit:?}; stderr: {}", String::from_utf8_lossy(&out.stderr));
}

fn config_check(file: &Path) -> (i32, String) {
    let out =
        run_bounded(&["--config.check".into(), format!("--config.file={}", file.display())], Duration::from_secs(20));
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).trim_end().to_string())
}

fn ad_config(dir: &Path, server: &str, password_file: &Path) -> std::path::PathBuf {
    let text = format!(
        "global:\n  interval: 2s\n  timeout: 20s\ntargets:\n  - name: corp\n    ad:\n      servers: [\"ldap://{server}\"]\n      allow_plaintext: true\n      gpo: false\n      bind:\n        user: svc@corp.example.test\n        password_file: \"{}\"\n",
        password_file.display()
    );
    write_file(dir, "writeback_exporter.yml", &text)
}

fn assert_clean(what: &str, text: &str) {
    assert!(!text.contains(PASSWORD), "{what} carries the password:\n{text:.2000}");
    assert!(!text.contains(&"Z".repeat(600)), "{what} carries the long diagnosticMessage ({} bytes)", text.len());
}

#[tokio::test]
async fn server_text_is_bounded_and_never_echoes_the_password() {
    let huge: support::rejecting_dc::Diagnostic =
        Arc::new(|_pw: &str| format!("80090308: LdapErr: DSID-0C09044E, comment: {}", "Z".repeat(60_000)));
    let echo: support::rejecting_dc::Diagnostic =
        Arc::new(|pw: &str| format!("80090308: invalid credentials for password '{pw}' (data 52e)"));
    for (name, diagnostic) in [("huge", huge), ("echo", echo)] {
        let dc = RejectingDc::start(diagnostic).await;
        let dir = tempfile::tempdir().unwrap();
        let pw = write_file(dir.path(), "pw", &format!("{PASSWORD}\n"));
        let cfg = ad_config(dir.path(), &dc.addr.to_string(), &pw);

        let args = ["check".to_string(), "--output=json".into(), format!("--config.file={}", cfg.display())];
        let out = tokio::task::spawn_blocking(move || run_bounded(&args, Duration::from_secs(60))).await.unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("rejected the bind"), "{name}: {stdout:.3000}\n{stderr:.3000}");
        assert!(stdout.len() < 60_000, "{name}: check output of {} bytes", stdout.len());
        assert_clean(&format!("{name}: check --output json"), &stdout);
        assert_clean(&format!("{name}: check log"), &stderr);
        if name == "echo" {
            assert!(stdout.contains("<redacted>"), "{stdout:.3000}");
        } else {
            assert!(stdout.contains("… (truncated)"), "{stdout:.3000}");
        }

        let exporter = Exporter::start(&cfg, &[]);
        exporter
            .wait_for_metrics(Duration::from_secs(30), "a bind failure counted", |m| {
                m.value("writeback_probe_failures_total", &[("probe", "ad_topology"), ("reason", "auth")])
                    .is_some_and(|v| v >= 1.0)
            })
            .await;
        let (status, page) = exporter.get("/").await;
        assert_eq!(status, 200);
        assert!(page.contains("rejected the bind"), "{name}: {page:.3000}");
        assert!(page.len() < 100_000, "{name}: landing page of {} bytes", page.len());
        assert_clean(&format!("{name}: landing page"), &page);
        assert_clean(&format!("{name}: log"), &exporter.log());
        exporter.terminate();
    }
}

fn secret_config(dir: &Path, password_file: &Path) -> std::path::PathBuf {
    ad_config(dir, "dc1.corp.example.test", password_file)
}

#[test]
fn devices_fifos_and_oversized_files_fail_the_load_promptly() {
    let dir = tempfile::tempdir().unwrap();
    // /dev/zero once grew the load to gigabytes; a FIFO blocked it for good.
    let cfg = secret_config(dir.path(), Path::new("/dev/zero"));
    let (code, stderr) = config_check(&cfg);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr,
        format!(
            "{}:12: targets[0].ad.bind.password_file: cannot read secret file /dev/zero: not a regular file (a \
             character device)",
            cfg.display()
        )
    );

    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    let cfg = secret_config(dir.path(), &fifo);
    let (code, stderr) = config_check(&cfg);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "targets[0].ad.bind.password_file: cannot read secret file {}: not a regular file (a FIFO)",
            fifo.display()
        )),
        "{stderr}"
    );

    let big = write_file(dir.path(), "big.pw", &"p".repeat(64 * 1024 + 1));
    let cfg = secret_config(dir.path(), &big);
    let (code, stderr) = config_check(&cfg);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.ends_with(&format!("{}: larger than the limit of 64 KiB", big.display())), "{stderr}");

    // The configuration file itself.
    let (code, stderr) = config_check(&fifo);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(stderr, format!("{}: cannot read the configuration file: not a regular file (a FIFO)", fifo.display()));
    let huge = write_file(dir.path(), "huge.yml", &format!("# {}\n", "x".repeat(1024 * 1024)));
    let (code, stderr) = config_check(&huge);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        stderr,
        format!("{}: cannot read the configuration file: larger than the limit of 1 MiB", huge.display())
    );

    // The web config, read at start-up.
    let pw = write_file(dir.path(), "ok.pw", "x");
    let cfg = secret_config(dir.path(), &pw);
    let args = [
        format!("--config.file={}", cfg.display()),
        "--web.listen-address=127.0.0.1:0".into(),
        format!("--web.config.file={}", fifo.display()),
    ];
    let out = run_bounded(&args, Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("web config {}: cannot read: not a regular file (a FIFO)", fifo.display())),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn a_secret_file_others_can_read_is_a_warning() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", "x");
    let cfg = secret_config(dir.path(), &pw);
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, stderr) = config_check(&cfg);
    assert_eq!(code, 0, "{stderr}");
    let warning =
        stderr.lines().find(|l| l.contains("readable by group or others")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(warning.contains(&pw.display().to_string()) && warning.contains("0644"), "{warning}");
    assert!(warning.contains("targets[0].ad.bind.password_file"), "{warning}");

    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, stderr) = config_check(&cfg);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("readable by group or others"), "{stderr}");
}
