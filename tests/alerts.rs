//! The alert rules: real `promtool` checks and unit-tests them, and every alert has a complete runbook section.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool").args(args).current_dir(root()).output().expect("promtool is installed");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

#[test]
fn rules_are_valid() {
    promtool(&["check", "rules", "alerts/writeback.rules.yml"]);
}

#[test]
fn rule_unit_tests_pass() {
    let tests: Vec<String> = std::fs::read_dir(root().join("alerts/tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert!(!tests.is_empty());
    let mut args = vec!["test", "rules"];
    args.extend(tests.iter().map(String::as_str));
    promtool(&args);
}

fn alert_names() -> Vec<String> {
    let rules = std::fs::read_to_string(root().join("alerts/writeback.rules.yml")).unwrap();
    rules.lines().filter_map(|l| l.trim().strip_prefix("- alert: ")).map(|s| s.trim().to_string()).collect()
}

#[test]
fn every_alert_has_a_runbook_and_unit_test() {
    let runbooks = std::fs::read_to_string(root().join("docs/runbooks.md")).unwrap();
    let tests: String = std::fs::read_dir(root().join("alerts/tests"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let rules = std::fs::read_to_string(root().join("alerts/writeback.rules.yml")).unwrap();
    let names = alert_names();
    assert!(names.len() >= 5);
    for name in names {
        let heading = format!("## {name}\n");
        let start = runbooks.find(&heading).unwrap_or_else(|| panic!("docs/runbooks.md lacks `## {name}`"));
        let section = &runbooks[start + heading.len()..];
        let section = &section[..section.find("\n## ").unwrap_or(section.len())];
        for part in ["**Meaning.**", "**Impact.**", "**Diagnosis.**", "**Mitigation.**"] {
            assert!(section.contains(part), "runbook of {name} lacks {part}");
        }
        assert!(rules.contains(&format!("runbooks.md#{}", name.to_lowercase())), "{name}: runbook_url anchor");
        assert!(tests.contains(&format!("alertname: {name}")), "{name} has no promtool unit test");
    }
}
