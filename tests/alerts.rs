//! The alert rules: real `promtool` checks and unit-tests them, every alert has a complete runbook section, and
//! alerts/writeback.rules.yml is what alerts/generate.py writes (whose options give valid rules too). The
//! Alertmanager inhibit rules: `amtool check-config` accepts them, they name real alerts, and a real Alertmanager
//! on loopback mutes what they say and nothing else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/promql.rs"]
mod promql;
use promql::selectors;

#[path = "support/prometheus.rs"]
#[allow(dead_code)]
mod prometheus;
use prometheus::Alertmanager;

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

/// Runs alerts/generate.py with `args` into `out` and returns the file.
fn generate(args: &[&str], out: &Path) -> String {
    let result = Command::new("python3")
        .arg(root().join("alerts/generate.py"))
        .args(args)
        .arg(out)
        .output()
        .expect("python3 runs");
    assert!(result.status.success(), "alerts/generate.py {args:?}: {}", String::from_utf8_lossy(&result.stderr));
    std::fs::read_to_string(out).unwrap()
}

fn rules_of(text: &str) -> Vec<Value> {
    let file: Value = serde_saphyr::from_str(text).expect("the generated rules parse");
    file["groups"].as_array().expect("groups").iter().flat_map(|g| g["rules"].as_array().unwrap().clone()).collect()
}

/// Seconds of a `for` as the generator writes it (one unit).
fn seconds(duration: &str) -> u64 {
    let split = duration.find(|c: char| !c.is_ascii_digit()).expect("a unit");
    let n: u64 = duration[..split].parse().unwrap();
    n * match &duration[split..] {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        unit => panic!("unit {unit} in {duration}"),
    }
}

#[test]
fn rule_file_is_what_the_generator_writes() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(&[], &dir.path().join("writeback.rules.yml"));
    let committed = std::fs::read_to_string(root().join("alerts/writeback.rules.yml")).unwrap();
    assert!(generated == committed, "alerts/writeback.rules.yml is stale: run python3 alerts/generate.py");
}

#[test]
fn selectors_finds_names_and_matchers() {
    let expr = r#"sum by (t) (writeback_a{x="1", job="writeback_exporter"} * on (t) group_left writeback_b) > 0 or absent(up{job="j"})"#;
    let expected = [("writeback_a", r#"x="1", job="writeback_exporter""#), ("writeback_b", ""), ("up", r#"job="j""#)];
    assert_eq!(selectors(expr), expected.map(|(a, b)| (a.to_string(), b.to_string())));
}

#[test]
fn generator_options_give_valid_rules() {
    let dir = tempfile::tempdir().unwrap();
    let default = rules_of(&generate(&[], &dir.path().join("default.yml")));
    let out = dir.path().join("custom.yml");
    let base = "https://wiki.example.test/ops/writeback";
    let text = generate(
        &["--job", "wb-prod", "--selector", "cluster=\"eu1\"", "--runbook-url-base", base, "--max-for", "1m"],
        &out,
    );
    promtool(&["check", "rules", out.to_str().unwrap()]);
    assert!(text.contains("# Options: --job wb-prod --selector 'cluster=\"eu1\"'"), "options recorded:\n{text}");
    let rules = rules_of(&text);
    assert_eq!(rules.len(), default.len());
    for (rule, plain) in rules.iter().zip(&default) {
        let name = rule["alert"].as_str().unwrap();
        assert_eq!(rule["alert"], plain["alert"]);
        assert_eq!(rule["labels"], plain["labels"], "{name}");
        assert_eq!(rule["annotations"]["summary"], plain["annotations"]["summary"], "{name}");
        let authored = seconds(plain["for"].as_str().unwrap());
        assert_eq!(seconds(rule["for"].as_str().unwrap()), authored.min(60), "{name}: for capped at 1m");
        assert_eq!(rule["annotations"]["runbook_url"], format!("{base}#{}", name.to_lowercase()).as_str());
        let expr = rule["expr"].as_str().unwrap();
        let found = selectors(expr);
        assert!(!found.is_empty(), "{name}: no selector in `{expr}`");
        for (metric, matchers) in found {
            assert!(matchers.contains("cluster=\"eu1\""), "{name}: {metric} without the selector in `{expr}`");
            assert_eq!(matchers.contains("job=\"wb-prod\""), metric == "up", "{name}: job matcher in `{expr}`");
        }
    }
    let description = |rules: &[Value], name: &str| -> String {
        let rule = rules.iter().find(|r| r["alert"] == name).unwrap();
        rule["annotations"]["description"].as_str().unwrap().to_string()
    };
    assert!(description(&rules, "WritebackExporterDown").contains("(job wb-prod)"));
    assert!(description(&rules, "WritebackScopePermissionDCsDisagree").starts_with("For more than 1 minute,"));
    assert!(description(&default, "WritebackScopePermissionDCsDisagree").starts_with("For more than 2 hours,"));

    // A job matcher in --selector restricts every rule to that job, WritebackExporterDown included.
    let text = generate(&["--selector", "job=\"wb\""], &out);
    promtool(&["check", "rules", out.to_str().unwrap()]);
    for rule in rules_of(&text) {
        for (metric, matchers) in selectors(rule["expr"].as_str().unwrap()) {
            assert!(matchers.starts_with("job=\"wb\""), "{}: {metric}{{{matchers}}}", rule["alert"]);
            assert_eq!(matchers.matches("job").count(), 1, "{}: {metric}{{{matchers}}}", rule["alert"]);
        }
    }
}

fn inhibit_rules() -> String {
    std::fs::read_to_string(root().join("alerts/alertmanager-inhibit.yml")).unwrap()
}

/// The alert names an `alertname` matcher names: `alertname="A"` or `alertname=~"A|B"` (a pattern such as
/// `Writeback.+` names none).
fn named_alerts(matcher: &str) -> Vec<String> {
    let value = matcher
        .strip_prefix("alertname=~")
        .or_else(|| matcher.strip_prefix("alertname!="))
        .or_else(|| matcher.strip_prefix("alertname="))
        .unwrap_or_else(|| panic!("matcher {matcher} is not on alertname"));
    let value = value.trim_matches('"');
    match value.chars().all(|c| c.is_ascii_alphanumeric() || c == '|') {
        true => value.split('|').map(str::to_string).collect(),
        false => Vec::new(),
    }
}

#[test]
fn inhibit_rules_name_real_alerts() {
    let file: Value = serde_saphyr::from_str(&inhibit_rules()).expect("alerts/alertmanager-inhibit.yml parses");
    let rules = file["inhibit_rules"].as_array().expect("inhibit_rules");
    assert!(rules.len() >= 5);
    let names = alert_names();
    for rule in rules {
        let mut named = 0;
        for side in ["source_matchers", "target_matchers"] {
            for matcher in rule[side].as_array().unwrap_or_else(|| panic!("{side} in {rule}")) {
                for name in named_alerts(matcher.as_str().unwrap()) {
                    assert!(names.contains(&name), "inhibit rule names {name}, which is not an alert");
                    named += 1;
                }
            }
        }
        assert!(named >= 2, "{rule}: source and target by name");
        let equal = rule["equal"].as_array().expect("equal");
        assert!(equal.iter().any(|l| l == "target" || l == "instance"), "{rule}: scoped to one target");
    }
}

fn alert(labels: &[(&str, &str)]) -> Value {
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    serde_json::json!({ "labels": labels })
}

/// Alertmanager's view of each alert, by (alertname, account): (state, inhibitedBy, fingerprint).
async fn alert_states(am: &Alertmanager) -> BTreeMap<(String, String), (String, Vec<Value>, Value)> {
    let alerts: Value = reqwest::get(am.url("/api/v2/alerts")).await.unwrap().json().await.unwrap();
    alerts
        .as_array()
        .expect("an array of alerts")
        .iter()
        .map(|a| {
            let key = (a["labels"]["alertname"].as_str().unwrap().to_string(), a["labels"]["account"].to_string());
            let status = &a["status"];
            let state = status["state"].as_str().unwrap().to_string();
            (key, (state, status["inhibitedBy"].as_array().unwrap().clone(), a["fingerprint"].clone()))
        })
        .collect()
}

/// The lab's Alertmanager configuration (tests/support/prometheus.rs plus alerts/alertmanager-inhibit.yml) passes
/// `amtool check-config`; a disabled connector account mutes its own permission alert, not another account's.
#[tokio::test]
async fn alertmanager_inhibits_by_the_shipped_rules() {
    let dir = tempfile::tempdir().unwrap();
    let am = Alertmanager::start(dir.path(), None, &inhibit_rules()).unwrap_or_else(|e| panic!("Alertmanager: {e}"));
    let out = Command::new("amtool")
        .arg("check-config")
        .arg(Alertmanager::config_file(dir.path()))
        .output()
        .expect("amtool is installed (package prometheus-alertmanager)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "amtool check-config:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    let rules = serde_saphyr::from_str::<Value>(&inhibit_rules()).unwrap()["inhibit_rules"].as_array().unwrap().len();
    assert!(text.contains(&format!(" - {rules} inhibit rules")), "amtool sees every rule:\n{text}");

    let common = [("target", "corp"), ("domain", "corp.example.test"), ("job", "writeback_exporter")];
    let stale = "MSOL_fedcba987654";
    let active = "MSOL_0123456789ab";
    let disabled = alert(
        &[
            common.as_slice(),
            &[("alertname", "WritebackConnectorAccountDisabled"), ("severity", "warning"), ("account", stale)],
        ]
        .concat(),
    );
    let permission = |account| {
        alert(
            &[
                common.as_slice(),
                &[
                    ("alertname", "WritebackScopePermissionMissing"),
                    ("severity", "critical"),
                    ("account", account),
                    ("dc", "dc1.corp.example.test"),
                    ("scope", "OU=Legacy,DC=corp,DC=example,DC=test"),
                    ("permission", "reset_password"),
                ],
            ]
            .concat(),
        )
    };
    let body = serde_json::json!([disabled, permission(stale), permission(active)]);
    let resp = reqwest::Client::new().post(am.url("/api/v2/alerts")).json(&body).send().await.unwrap();
    assert!(resp.status().is_success(), "POST /api/v2/alerts: {}", resp.status());

    let source = ("WritebackConnectorAccountDisabled".to_string(), format!("\"{stale}\""));
    let muted = ("WritebackScopePermissionMissing".to_string(), format!("\"{stale}\""));
    let other = ("WritebackScopePermissionMissing".to_string(), format!("\"{active}\""));
    let deadline = Instant::now() + Duration::from_secs(20);
    let states = loop {
        let states = alert_states(&am).await;
        let settled = states.len() == 3 && states.get(&muted).is_some_and(|(state, _, _)| state == "suppressed");
        if settled || Instant::now() > deadline {
            break states;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(states.len(), 3, "{states:?}");
    assert_eq!(states[&source].0, "active", "the disabled account's own alert: {states:?}");
    assert_eq!(states[&muted].0, "suppressed", "its permission alert: {states:?}");
    assert_eq!(states[&muted].1, [states[&source].2.clone()], "inhibited by the disabled account's alert");
    assert_eq!((states[&other].0.as_str(), states[&other].1.len()), ("active", 0), "another account: {states:?}");
}
