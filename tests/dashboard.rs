//! The Grafana dashboard and the alert rules against reality: every PromQL expression of dashboards/writeback.json
//! (panel targets and template variables, variables substituted) and of alerts/writeback.rules.yml is run through
//! a real Prometheus that scraped the real exporter watching a real Samba DC and the Graph fake, seeded with the
//! lab scenario (tests/support/scenario.rs). Every expression must parse; every panel must return data; exactly the
//! alerts the scenario breaks must return data, and Prometheus must evaluate every rule without error.
//! A static test checks the dashboard's form: titles, descriptions, units, data source, ids, layout, metric names.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use support::exporter::{write_file, Exporter};
use support::graph_fake::{secret_credential, Credential, GraphFake, SECRET};
use support::prometheus::{Prometheus, PrometheusSetup};
use support::promql::selectors;
use support::samba::{self, SambaDc};
use support::scenario;

const DOMAIN: &str = "corp.example.test";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dashboard() -> Value {
    let text = std::fs::read_to_string(root().join("dashboards/writeback.json")).expect("dashboards/writeback.json");
    serde_json::from_str(&text).expect("the dashboard is valid JSON")
}

/// Every panel, rows' nested panels included.
fn panels(d: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().expect("panels") {
        out.push(p);
        if let Some(nested) = p["panels"].as_array() {
            out.extend(nested);
        }
    }
    out
}

/// (panel title, refId, expression) of every panel target.
fn panel_exprs(d: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for p in panels(d) {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap_or_else(|| panic!("panel {}: target without expr", p["title"]));
            out.push((p["title"].as_str().unwrap_or("").to_string(), t["refId"].to_string(), expr.to_string()));
        }
    }
    out
}

/// (variable name, `label_values(selector, label)` query) of every query variable.
fn variable_queries(d: &Value) -> Vec<(String, String)> {
    d["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            let q = v["query"]["query"].as_str().or(v["query"].as_str()).expect("variable query");
            (v["name"].as_str().unwrap().to_string(), q.to_string())
        })
        .collect()
}

/// The job Prometheus scrapes the exporter as (tests/support/prometheus.rs).
const JOB: &str = "writeback_exporter";

/// Grafana's variables as the scenario's values (`instance`: the exporter's address) and concrete durations.
fn substitute(expr: &str, instance: &str) -> String {
    let out = expr
        .replace("${job}", JOB)
        .replace("$job", JOB)
        .replace("${instance}", instance)
        .replace("$instance", instance)
        .replace("${target}", scenario::TARGET)
        .replace("$target", scenario::TARGET)
        .replace("${domain}", DOMAIN)
        .replace("$domain", DOMAIN)
        .replace("$__rate_interval", "1m")
        .replace("$__interval", "15s")
        .replace("$__range", "10m");
    assert!(!out.contains('$'), "unsubstituted variable in `{out}`");
    out
}

/// `label_values(selector, label)` → (selector, label).
fn label_values(query: &str) -> (String, String) {
    let inner = query
        .trim()
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .unwrap_or_else(|| panic!("variable query `{query}` is not label_values(selector, label)"));
    let (selector, label) = inner.rsplit_once(',').expect("label_values(selector, label)");
    (selector.trim().to_string(), label.trim().to_string())
}

#[derive(Deserialize)]
struct RuleFile {
    groups: Vec<RuleGroup>,
}

#[derive(Deserialize)]
struct RuleGroup {
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    alert: String,
    expr: String,
}

fn alert_rules() -> Vec<Rule> {
    let text = std::fs::read_to_string(root().join("alerts/writeback.rules.yml")).unwrap();
    let file: RuleFile = serde_saphyr::from_str(&text).expect("the rule file parses");
    file.groups.into_iter().flat_map(|g| g.rules).collect()
}

/// Metric names in an expression: `writeback_*` plus Prometheus' own `up`.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(pos) = expr[i..].find("writeback_") {
        let start = i + pos;
        // Not part of a longer name, and not a label value such as job="writeback_exporter".
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || matches!(bytes[start - 1], b'_' | b'"'));
        let end =
            expr[start..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(expr.len(), |e| start + e);
        if boundary {
            names.insert(expr[start..end].to_string());
        }
        i = end;
    }
    names
}

#[test]
fn dashboard_is_well_formed() {
    let d = dashboard();
    assert_eq!(d["uid"], "writeback-exporter", "the uid is stable: links and provisioning depend on it");
    assert!(d["schemaVersion"].as_u64().unwrap() >= 39, "a current Grafana schema");
    assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()));

    let vars: BTreeMap<&str, &Value> =
        d["templating"]["list"].as_array().unwrap().iter().map(|v| (v["name"].as_str().unwrap(), v)).collect();
    assert_eq!(vars["datasource"]["type"], "datasource");
    assert_eq!(vars["datasource"]["query"], "prometheus");
    for name in ["job", "instance", "target", "domain"] {
        let v = vars.get(name).unwrap_or_else(|| panic!("variable {name}"));
        assert_eq!(v["type"], "query", "{name}");
        assert_eq!(v["datasource"]["uid"], "${datasource}", "{name}");
        assert_eq!((&v["multi"], &v["includeAll"]), (&Value::Bool(true), &Value::Bool(true)), "{name}: All");
        let (_, label) = label_values(v["query"]["query"].as_str().unwrap());
        assert_eq!(label, name, "{name} lists the values of label {name}");
    }
    // "All" of job and instance is the list of their values, not `.*`: up{job=~".*"} would be every job.
    for name in ["job", "instance"] {
        assert!(vars[name].get("allValue").is_none(), "{name}: no custom all value");
    }
    // Every series selector of every panel and variable after `job` honours the variables before it.
    let honours = |what: &str, expr: &str, variables: &[&str]| {
        for (metric, matchers) in selectors(expr) {
            for v in variables {
                let matcher = format!("{v}=~\"${v}\"");
                assert!(matchers.contains(&matcher), "{what}: {metric}{{{matchers}}} lacks {matcher} in `{expr}`");
            }
        }
    };
    for (title, _, expr) in panel_exprs(&d) {
        honours(&title, &expr, &["job", "instance"]);
    }
    let queries: BTreeMap<String, String> = variable_queries(&d).into_iter().collect();
    honours("variable instance", &queries["instance"], &["job"]);
    honours("variable target", &queries["target"], &["job", "instance"]);
    honours("variable domain", &queries["domain"], &["job", "instance", "target"]);

    let documented = std::fs::read_to_string(root().join("docs/metrics.md")).unwrap();
    let mut ids = BTreeSet::new();
    let mut titles = BTreeSet::new();
    let mut cells: Vec<(u64, u64, u64, u64, String)> = Vec::new();
    for p in panels(&d) {
        let title = p["title"].as_str().unwrap_or("");
        assert!(!title.trim().is_empty(), "a panel without title: {p}");
        assert!(titles.insert(title.to_string()), "two panels titled {title}");
        assert!(p["description"].as_str().is_some_and(|s| s.len() > 20), "{title}: description");
        assert!(ids.insert(p["id"].as_u64().expect("panel id")), "{title}: duplicate id");
        let pos = &p["gridPos"];
        let (x, y, w, h) = (
            pos["x"].as_u64().unwrap(),
            pos["y"].as_u64().unwrap(),
            pos["w"].as_u64().unwrap(),
            pos["h"].as_u64().unwrap(),
        );
        assert!(x + w <= 24 && w > 0 && h > 0, "{title}: gridPos {pos}");
        for (ox, oy, ow, oh, other) in &cells {
            let overlap = x < ox + ow && *ox < x + w && y < oy + oh && *oy < y + h;
            assert!(!overlap, "{title} overlaps {other}");
        }
        cells.push((x, y, w, h, title.to_string()));
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{title}: panel data source");
        let unit = p["fieldConfig"]["defaults"]["unit"].as_str().unwrap_or("");
        assert!(!unit.is_empty(), "{title}: unit");
        let targets = p["targets"].as_array().unwrap_or_else(|| panic!("{title}: targets"));
        assert!(!targets.is_empty(), "{title}: no query");
        let mut refs = BTreeSet::new();
        for t in targets {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "{title}: target data source");
            assert!(refs.insert(t["refId"].to_string()), "{title}: duplicate refId");
            for name in metric_names(t["expr"].as_str().unwrap()) {
                assert!(documented.contains(&format!("`{name}`")), "{title}: metric {name} is not in docs/metrics.md");
            }
        }
    }
    assert!(panels(&d).len() > 30);
}

#[test]
fn dashboard_is_what_the_generator_writes() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("python3")
        .arg(root().join("dashboards/generate.py"))
        .arg(dir.path().join("writeback.json"))
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let generated = std::fs::read_to_string(dir.path().join("writeback.json")).unwrap();
    let committed = std::fs::read_to_string(root().join("dashboards/writeback.json")).unwrap();
    assert!(generated == committed, "dashboards/writeback.json is stale: run python3 dashboards/generate.py");
}

/// The alerts the lab scenario breaks (before their `for`): their expressions return data; the others none.
const FIRING_IN_SCENARIO: [&str; 13] = [
    "WritebackDCPolicyHintsMissing",      // Samba does not offer the policy hints control
    "WritebackMinPasswordAgeNotZero",     // Samba's default minimum age: 1 day
    "WritebackScopePermissionMissing",    // OU Legacy does not inherit the grant
    "WritebackUsersNotReady",             // bob (deny), carol (inetOrgPerson), erin (inheritance), frank (Legacy)
    "WritebackConnectorAccountDisabled",  // the stale MSOL_ account
    "WritebackPSOMinPasswordAgeNotZero",  // PSO helpdesk-strict: 1 day
    "WritebackLicenceSuspended",          // EMS has units in the warning state
    "WritebackConnectVersionRetired",     // 1.0.8641.0
    "WritebackConnectVersionUnsupported", // below 2.5.79.0
    "WritebackSyncStale",                 // last sync 4 hours ago
    "WritebackSSPRFailures",              // a failed self-service reset after the first scrapes
    "WritebackGPOMinPasswordAgeNotZero",  // the Default Domain Policy sets 1 day
    "WritebackRestrictRemoteSAMBlocksConnector", // the Default Domain Controllers Policy allows Administrators only
];

#[tokio::test(flavor = "multi_thread")]
async fn every_dashboard_and_rule_expression_works_against_the_real_exporter() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    scenario::seed_domain(&dc);
    let fake = GraphFake::start(Credential::Secret(SECRET.to_string())).await;
    scenario::seed_tenant(&fake);
    let dir = tempfile::tempdir().unwrap();
    // The administrator can read the Password Settings Container, so the PSO panels have data.
    let pw = write_file(dir.path(), "ad.password", samba::ADMIN_PASSWORD);
    secret_credential(dir.path(), SECRET);
    let secret = dir.path().join("graph.secret");
    let text = scenario::exporter_config(&dc, samba::ADMIN_UPN, &pw, &fake, &secret, "3s");
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);

    let prometheus = Prometheus::start(&PrometheusSetup {
        exporter: exporter.addr,
        rule_files: vec![root().join("alerts/writeback.rules.yml")],
        alertmanager: None,
        scrape_interval: "1s",
        dir: None,
        port: None,
    })
    .unwrap_or_else(|e| panic!("Prometheus: {e}"));

    let wait = Duration::from_secs(120);
    let probes = [
        "ad_topology",
        "ad_policy",
        "ad_connector",
        "ad_acl",
        "ad_users",
        "entra_licenses",
        "entra_sync",
        "entra_sspr",
    ];
    for probe in probes {
        let expr = format!("writeback_probe_success{{target=\"corp\",probe=\"{probe}\"}} == 1");
        prometheus.wait_for(&expr, wait).await;
    }
    prometheus.wait_for("count_over_time(writeback_ad_users_ready{target=\"corp\"}[1m]) >= 5", wait).await;
    // A failure after Prometheus has seen the counter: increase() over it is then above 0.
    scenario::sspr_events(&fake, "late");
    prometheus
        .wait_for("increase(writeback_entra_sspr_events_total{target=\"corp\",result=\"failure\"}[1m]) > 0", wait)
        .await;

    let d = dashboard();
    let instance = exporter.addr.to_string();
    let mut problems = Vec::new();
    for (title, ref_id, expr) in panel_exprs(&d) {
        let expr = substitute(&expr, &instance);
        match prometheus.query(&expr).await {
            Err(e) => problems.push(format!("panel {title} ({ref_id}): `{expr}` fails: {e}")),
            Ok(r) if r.is_empty() => problems.push(format!("panel {title} ({ref_id}): `{expr}` returns no data")),
            Ok(_) => {}
        }
    }
    for (name, query) in variable_queries(&d) {
        let (selector, label) = label_values(&substitute(&query, &instance));
        match prometheus.query(&selector).await {
            Err(e) => problems.push(format!("variable {name}: `{selector}` fails: {e}")),
            Ok(r) => {
                let values: BTreeSet<&str> = r.iter().filter_map(|s| s["metric"][label.as_str()].as_str()).collect();
                let expected = match name.as_str() {
                    "job" => JOB,
                    "instance" => instance.as_str(),
                    "target" => scenario::TARGET,
                    _ => DOMAIN,
                };
                if !values.contains(expected) {
                    problems.push(format!("variable {name}: `{query}` offers {values:?}, not {expected}"));
                }
            }
        }
    }

    let mut returning = BTreeSet::new();
    for rule in alert_rules() {
        match prometheus.query(&rule.expr).await {
            Err(e) => problems.push(format!("alert {}: `{}` fails: {e}", rule.alert, rule.expr)),
            Ok(r) if !r.is_empty() => {
                returning.insert(rule.alert);
            }
            Ok(_) => {}
        }
    }
    let expected: BTreeSet<String> = FIRING_IN_SCENARIO.iter().map(|s| s.to_string()).collect();
    if returning != expected {
        problems.push(format!(
            "alerts returning data: {returning:?}\n  expected: {expected:?}\n  missing: {:?}\n  unexpected: {:?}",
            expected.difference(&returning).collect::<Vec<_>>(),
            returning.difference(&expected).collect::<Vec<_>>()
        ));
    }

    // Prometheus' own evaluation: every rule loaded and healthy, and the broken ones pending or firing (the rule
    // evaluation runs every second, so the last alert may need a moment after the queries above).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (rules, active) = loop {
        let rules = prometheus.api("/api/v1/rules").await;
        let active: BTreeSet<String> = rules["data"]["groups"]
            .as_array()
            .expect("rule groups")
            .iter()
            .flat_map(|g| g["rules"].as_array().expect("rules"))
            .filter(|r| r["state"] == "pending" || r["state"] == "firing")
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect();
        if active == expected || std::time::Instant::now() > deadline {
            break (rules, active);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let mut loaded = 0;
    for group in rules["data"]["groups"].as_array().expect("rule groups") {
        for rule in group["rules"].as_array().expect("rules") {
            loaded += 1;
            if rule["health"] != "ok" {
                problems.push(format!("rule {}: health {} {}", rule["name"], rule["health"], rule["lastError"]));
            }
        }
    }
    if loaded != alert_rules().len() {
        problems.push(format!("Prometheus loaded {loaded} rules, the file has {}", alert_rules().len()));
    }
    if active != expected {
        problems.push(format!("alerts pending or firing in Prometheus: {active:?}, expected {expected:?}"));
    }
    assert!(problems.is_empty(), "{}\n--- exporter /metrics:\n{}", problems.join("\n"), exporter.metrics().await);
}
