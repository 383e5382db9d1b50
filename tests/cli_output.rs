//! What the binary prints about itself: `--version` in the Prometheus exporters' layout, help for every flag, and
//! log lines whose logfmt keys each appear once.

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use support::exporter::{write_file, Exporter, BIN};

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn version_names_revision_build_date_and_compiler() {
    let (code, text) = run(&["--version"]);
    assert_eq!(code, 0);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let prefix = format!("writeback_exporter, version {} (revision: ", env!("CARGO_PKG_VERSION"));
    let rest = first.strip_prefix(&prefix).unwrap_or_else(|| panic!("{first:?} starts with {prefix:?}"));
    let (revision, rest) = rest.split_once(", built: ").unwrap_or_else(|| panic!("{first:?}"));
    assert!(!revision.is_empty(), "{first:?}");
    let date = rest.strip_suffix(')').unwrap_or_else(|| panic!("{first:?}"));
    // RFC 3339 in UTC: 2026-12-03T07:00:00Z.
    let shape: String = date.chars().map(|c| if c.is_ascii_digit() { '0' } else { c }).collect();
    assert_eq!(shape, "0000-00-00T00:00:00Z", "{first:?}");
    let rustc = lines.next().unwrap_or_default();
    assert!(rustc.starts_with("  rustc:") && rustc.contains('.'), "{text}");
    assert!(text.contains("\n  platform: "), "{text}");
    assert_eq!(run(&["-V"]), (0, text), "-V is --version");
}

#[test]
fn every_flag_has_help() {
    let (code, help) = run(&["--help"]);
    assert_eq!(code, 0);
    let is_flag = |l: &&str| l.trim_start().starts_with('-');
    let flags: Vec<&str> = help.lines().filter(is_flag).collect();
    assert!(flags.len() >= 8, "{help}");
    for flag in ["--log.level <", "--log.format <", "--version", "--web.telemetry-path <", "--config.file <"] {
        assert!(flags.iter().any(|l| l.contains(flag)), "{flag} in {help}");
    }
    // clap prints the help on the line after the flag (long help) or after it on the same line.
    let lines: Vec<&str> = help.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if is_flag(line) {
            let same_line = line.trim_start().split_once("  ").is_some_and(|(_, h)| !h.trim().is_empty());
            let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or_default();
            let below = !next.is_empty() && !next.starts_with('-') && !next.starts_with('[');
            assert!(same_line || below, "no help text for {line:?}:\n{help}");
        }
    }
}

/// The keys of one logfmt line: `key=value` or `key="quoted \" value"`, separated by spaces.
fn logfmt_keys(line: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
        if key.is_empty() {
            return keys;
        }
        keys.push(key);
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut escaped = false;
            for c in chars.by_ref() {
                match (escaped, c) {
                    (false, '\\') => escaped = true,
                    (false, '"') => break,
                    _ => escaped = false,
                }
            }
        } else {
            while chars.next().is_some_and(|c| c != ' ') {}
        }
    }
}

#[test]
fn logfmt_parser_reads_quoted_values() {
    assert_eq!(logfmt_keys(r#"a=1 b="x y=\"z\"" c=3"#), ["a", "b", "c"]);
}

#[test]
fn logfmt_lines_name_each_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", "secret\n");
    // A target whose DC refuses connections: every probe logs a warning with the target's name as `target`.
    let cfg = write_file(
        dir.path(),
        "config.yml",
        &format!(
            "global:\n  interval: 1s\n  timeout: 5s\ntargets:\n  - name: corp\n    ad:\n      servers: [\"ldaps://127.0.0.1:1\"]\n      bind:\n        user: svc@corp.example.test\n        password_file: \"{}\"\n",
            pw.display()
        ),
    );
    let exporter = Exporter::start(&cfg, &["--log.format=logfmt"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !exporter.log().contains("probe failed") {
        assert!(Instant::now() < deadline, "no probe failure logged:\n{}", exporter.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = exporter.log();
    let failed = log.lines().find(|l| l.contains("probe failed")).unwrap();
    assert!(failed.contains(" target=corp "), "the target's name is the `target` key: {failed}");
    assert!(failed.contains(" module_path=writeback_exporter::"), "the emitting module: {failed}");
    for line in log.lines() {
        let keys = logfmt_keys(line);
        assert!(keys.iter().any(|k| k == "level"), "not a logfmt line: {line}");
        let unique: BTreeSet<&String> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len(), "a key repeats in {line}");
    }
}
