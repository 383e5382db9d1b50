//! `--config.check` on every file of tests/testdata/config: valid files pass; each `invalid-*.yml` fails with
//! exit status 1 and exactly the one-line error its first line (`# expect: ...`) states after the file name.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::exporter::BIN;

fn config_check(file: &std::path::Path) -> (i32, String, String) {
    let out =
        Command::new(BIN).arg("--config.check").arg(format!("--config.file={}", file.display())).output().unwrap();
    let code = out.status.code().unwrap_or(-1);
    (code, String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn fixtures(prefix: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/config");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
        .collect();
    files.sort();
    files
}

#[test]
fn invalid_configs_fail_with_their_exact_error() {
    let files = fixtures("invalid-");
    assert!(files.len() >= 10, "fixtures missing");
    for file in files {
        // Bytes: a fixture may be invalid UTF-8 after its first line.
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        let expected = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{} lacks its `# expect:` line", file.display()));
        let (code, _, stderr) = config_check(&file);
        assert_eq!(code, 1, "{}: exit status", file.display());
        assert_eq!(stderr.trim_end(), format!("{}{expected}", file.display()), "{}", file.display());
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn valid_configs_pass() {
    for file in fixtures("valid-") {
        let (code, stdout, stderr) = config_check(&file);
        assert_eq!(code, 0, "{}: {stderr}", file.display());
        assert!(stdout.contains("OK"), "{stdout}");
    }
}

#[test]
fn missing_config_file_is_a_clear_error() {
    let (code, _, stderr) = config_check(std::path::Path::new("/nonexistent/writeback_exporter.yml"));
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim_end(),
        "/nonexistent/writeback_exporter.yml: cannot read the configuration file: No such file or directory (os error 2)"
    );
}

#[test]
fn check_subcommand_exits_3_on_config_error() {
    let file = fixtures("invalid-unknown-key").remove(0);
    let out = Command::new(BIN).arg("check").arg(format!("--config.file={}", file.display())).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn daemon_refuses_to_start_on_a_bad_config() {
    let file = fixtures("invalid-bad-duration").remove(0);
    let out = Command::new(BIN)
        .arg(format!("--config.file={}", file.display()))
        .arg("--web.listen-address=127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("global.interval: invalid duration"));
}
