//! Packaging: the Kubernetes manifests (the PrometheusRule generated from alerts/writeback.rules.yml and kept
//! identical to it, a hardened Deployment wired to its ConfigMap, Secret, Service and ServiceMonitor) and the
//! systemd unit (`systemd-analyze verify` clean, `systemd-analyze security` exposure at most 2.0).
//! The Prometheus examples (packaging/prometheus/: a plain /metrics scrape and the /probe relabelling) pass
//! `promtool check config` and scrape what they promise from the real exporter.
//! Set `UPDATE_GOLDEN=1` to regenerate packaging/kubernetes/prometheusrule.yaml after changing the rules.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::exporter::{write_file, Exporter};
use support::prometheus::Prometheus;

const BIN: &str = env!("CARGO_BIN_EXE_writeback_exporter");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_saphyr::from_str(&read(path)).unwrap_or_else(|e| panic!("{path} is not valid YAML: {e}"))
}

/// The PrometheusRule: a fixed header, then the rule file's `groups:` (its leading comment dropped) under `spec:`.
fn prometheus_rule(rules: &str) -> String {
    let start = rules.find("\ngroups:").map(|i| i + 1).expect("the rule file has groups:");
    let body: String =
        rules[start..].lines().map(|l| if l.is_empty() { "\n".to_string() } else { format!("  {l}\n") }).collect();
    format!(
        "# Generated from alerts/writeback.rules.yml by tests/packaging.rs (UPDATE_GOLDEN=1 cargo test --test \
         packaging): do not edit.\n# The label release: prometheus matches kube-prometheus-stack's default \
         ruleSelector; adjust it to yours.\napiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  \
         name: writeback-exporter\n  labels:\n    app.kubernetes.io/name: writeback-exporter\n    \
         app.kubernetes.io/component: alert-rules\n    release: prometheus\nspec:\n{body}"
    )
}

#[test]
fn prometheus_rule_matches_the_rule_file() {
    let path = "packaging/kubernetes/prometheusrule.yaml";
    let expected = prometheus_rule(&read("alerts/writeback.rules.yml"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(root().join(path), &expected).unwrap();
    }
    assert!(read(path) == expected, "{path} is stale: run UPDATE_GOLDEN=1 cargo test --test packaging");

    // Semantically too: both parse, and the groups are the same data.
    let rule: Value = yaml(path);
    let file: Value = yaml("alerts/writeback.rules.yml");
    assert_eq!(rule["kind"], "PrometheusRule");
    assert_eq!(rule["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(rule["spec"]["groups"], file["groups"]);
    let alerts = file["groups"][0]["rules"].as_array().expect("rules");
    assert!(alerts.len() >= 20, "{} alerts", alerts.len());
}

#[test]
fn kubernetes_manifests_are_hardened_and_wired_together() {
    let kustomization = yaml("packaging/kubernetes/kustomization.yaml");
    let resources: Vec<&str> =
        kustomization["resources"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    for file in std::fs::read_dir(root().join("packaging/kubernetes")).unwrap() {
        let name = file.unwrap().file_name().into_string().unwrap();
        if name != "kustomization.yaml" {
            assert!(resources.contains(&name.as_str()), "{name} is not in kustomization.yaml");
        }
    }

    let deployment = yaml("packaging/kubernetes/deployment.yaml");
    let service = yaml("packaging/kubernetes/service.yaml");
    let monitor = yaml("packaging/kubernetes/servicemonitor.yaml");
    let config_map = yaml("packaging/kubernetes/configmap.yaml");
    let secret = yaml("packaging/kubernetes/secret.yaml");
    assert_eq!(deployment["kind"], "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(deployment["spec"]["selector"]["matchLabels"], service["spec"]["selector"]);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["seccompProfile"]["type"], "RuntimeDefault");
    assert_eq!(pod["automountServiceAccountToken"], false);
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(c["resources"]["requests"]["memory"].is_string() && c["resources"]["limits"]["memory"].is_string());
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/-/healthy");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/-/ready");
    assert_eq!(c["ports"][0]["containerPort"], 9862);
    assert_eq!(service["spec"]["ports"][0]["port"], 9862);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], c["ports"][0]["name"]);
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], service["spec"]["ports"][0]["name"]);
    assert_eq!(
        monitor["spec"]["selector"]["matchLabels"],
        service["metadata"]["labels"]["app.kubernetes.io/name"]
            .as_str()
            .map(|n| serde_json::json!({"app.kubernetes.io/name": n}))
            .unwrap()
    );
    let relabel = &monitor["spec"]["endpoints"][0]["relabelings"][0];
    assert_eq!((&relabel["targetLabel"], &relabel["replacement"]), (&"job".into(), &"writeback_exporter".into()));

    // Volumes: the ConfigMap and the Secret, mounted read-only where the configuration expects them.
    let volumes = pod["volumes"].as_array().unwrap();
    let mount_of = |source: &str, name: &str| -> String {
        let volume = volumes.iter().find(|v| v[source]["name"] == name || v[source]["secretName"] == name);
        let volume = volume.unwrap_or_else(|| panic!("no volume for {name}"));
        let mount = c["volumeMounts"].as_array().unwrap().iter().find(|m| m["name"] == volume["name"]).unwrap();
        assert_eq!(mount["readOnly"], true);
        mount["mountPath"].as_str().unwrap().to_string()
    };
    let config_dir = mount_of("configMap", config_map["metadata"]["name"].as_str().unwrap());
    let secret_dir = mount_of("secret", secret["metadata"]["name"].as_str().unwrap());
    let config_arg = format!("--config.file={config_dir}/writeback_exporter.yml");
    assert!(c["args"].as_array().unwrap().iter().any(|a| a == &Value::from(config_arg.clone())), "{config_arg}");

    // The ConfigMap's configuration passes --config.check once its paths point at real files: the Secret's keys
    // and the ConfigMap's own.
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_map["data"]["writeback_exporter.yml"].as_str().unwrap().to_string();
    for (key, value) in secret["stringData"].as_object().unwrap() {
        std::fs::write(dir.path().join(key), value.as_str().unwrap()).unwrap();
        config = config.replace(&format!("{secret_dir}/{key}"), &dir.path().join(key).display().to_string());
    }
    let ca = rcgen::generate_simple_self_signed(vec!["ca".to_string()]).unwrap();
    for key in config_map["data"].as_object().unwrap().keys().filter(|k| k.ends_with(".pem")) {
        std::fs::write(dir.path().join(key), ca.cert.pem()).unwrap();
        config = config.replace(&format!("{config_dir}/{key}"), &dir.path().join(key).display().to_string());
    }
    assert!(!config.contains(&config_dir) && !config.contains(&secret_dir), "a path outside the mounts:\n{config}");
    let file = dir.path().join("writeback_exporter.yml");
    std::fs::write(&file, &config).unwrap();
    let out =
        Command::new(BIN).arg("--config.check").arg(format!("--config.file={}", file.display())).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "--config.check of the ConfigMap's configuration:\n{text}\n{config}");
}

/// The unit with its ExecStart pointing at the built binary (systemd-analyze verify checks that it exists).
fn unit_for_test(dir: &Path) -> PathBuf {
    let unit = read("packaging/systemd/writeback_exporter.service");
    assert!(unit.contains("ExecStart=/usr/local/bin/writeback_exporter "));
    let path = dir.join("writeback_exporter.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/writeback_exporter", BIN)).unwrap();
    path
}

fn systemd_analyze(args: &[&str], unit: &Path) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .output()
        .expect("systemd-analyze is installed (package systemd; scripts/install-deps.sh)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn systemd_unit_verifies_and_is_hardened() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_test(dir.path());
    // verify exits 0 on unknown keys, with a warning: any output is a finding.
    let (ok, text) = systemd_analyze(&["verify"], &unit);
    assert!(ok && text.trim().is_empty(), "systemd-analyze verify:\n{text}");

    // Exposure 0.0 (locked down) .. 10.0 (exposed); --threshold is in tenths.
    let (ok, text) = systemd_analyze(&["security", "--offline=true", "--threshold=20"], &unit);
    assert!(ok, "systemd-analyze security: exposure above 2.0:\n{text}");
    for key in [
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
        "ProtectSystem=strict",
        "SystemCallFilter=@system-service",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "LoadCredential=ad.password:",
        "LoadCredential=graph.secret:",
    ] {
        assert!(read("packaging/systemd/writeback_exporter.service").contains(key), "the unit lacks {key:?}");
    }

    // The checks are real: a misspelt key is reported, and an unhardened unit is over the threshold.
    let bad = dir.path().join("bad.service");
    std::fs::write(&bad, std::fs::read_to_string(&unit).unwrap().replace("ProtectHome=", "ProtectHme=")).unwrap();
    let (_, text) = systemd_analyze(&["verify"], &bad);
    assert!(text.contains("Unknown key 'ProtectHme'"), "{text}");
    let plain = dir.path().join("plain.service");
    std::fs::write(&plain, format!("[Service]\nExecStart={BIN}\n")).unwrap();
    let (ok, _) = systemd_analyze(&["security", "--offline=true", "--threshold=20"], &plain);
    assert!(!ok, "an unhardened unit must fail the exposure threshold");
}

/// packaging/prometheus/NAME with the rule file pointing at alerts/writeback.rules.yml, then `replacements`; each
/// replaced text must be in the file, so that the tests follow the examples.
fn prometheus_example(name: &str, replacements: &[(&str, &str)]) -> String {
    let mut text = read(&format!("packaging/prometheus/{name}"));
    let rules = root().join("alerts/writeback.rules.yml").display().to_string();
    for (from, to) in [("/etc/prometheus/rules/writeback.rules.yml", rules.as_str())].iter().chain(replacements) {
        assert!(text.contains(from), "packaging/prometheus/{name} no longer holds {from:?}");
        text = text.replace(from, to);
    }
    text
}

const EXAMPLES: [&str; 2] = ["prometheus.yml", "prometheus-probe.yml"];

#[test]
fn prometheus_examples_pass_promtool() {
    let mut found: Vec<String> = std::fs::read_dir(root().join("packaging/prometheus"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    found.sort();
    assert_eq!(found, ["prometheus-probe.yml", "prometheus.yml"], "every example is tested here");
    let dir = tempfile::tempdir().unwrap();
    for name in EXAMPLES {
        let file = write_file(dir.path(), name, &prometheus_example(name, &[]));
        let out = Command::new("promtool").arg("check").arg("config").arg(&file).output().expect("promtool runs");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "promtool check config {name}:\n{text}");
        assert!(text.contains("SUCCESS: 1 rule files found"), "{name}: the rule file is checked too:\n{text}");
    }
}

/// Two targets whose DC refuses connections: their probes fail at once, so their series exist within a second.
fn dead_targets_config(dir: &Path) -> PathBuf {
    let pw = write_file(dir, "pw", "secret\n");
    let target = |name: &str| {
        format!(
            "  - name: {name}\n    ad:\n      servers: [\"ldaps://127.0.0.1:1\"]\n      bind:\n        user: \
             svc@corp.example.test\n        password_file: \"{}\"\n",
            pw.display()
        )
    };
    let text = format!("global:\n  interval: 1s\n  timeout: 5s\ntargets:\n{}{}", target("corp"), target("emea"));
    write_file(dir, "writeback_exporter.yml", &text)
}

/// The examples against the real exporter (two targets, corp and emea): the plain scrape sees both targets under
/// job writeback_exporter; the /probe scrape gives each target its own instance holding only its series, and the
/// exporter's own metrics come from the /metrics scrape under the same job. Every rule loads and evaluates.
#[tokio::test(flavor = "multi_thread")]
async fn prometheus_examples_scrape_the_real_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let exporter = Exporter::start(&dead_targets_config(dir.path()), &[]);
    let addr = exporter.addr.to_string();
    let fast = [
        ("wbexporter.example.com:9862", addr.as_str()),
        ("scrape_interval: 1m", "scrape_interval: 1s"),
        ("evaluation_interval: 1m", "evaluation_interval: 1s"),
        ("scrape_timeout: 10s", "scrape_timeout: 1s"),
    ];
    let wait = Duration::from_secs(60);
    let empty = |r: Result<Vec<Value>, String>, q: &str| {
        let found = r.unwrap_or_else(|e| panic!("{q}: {e}"));
        let names: BTreeSet<&str> = found.iter().filter_map(|s| s["metric"]["__name__"].as_str()).collect();
        assert!(found.is_empty(), "`{q}` returns {} series: {names:?}", found.len());
    };

    for name in EXAMPLES {
        let config = prometheus_example(name, &fast);
        let prometheus = Prometheus::start_config(&config, None, None).unwrap_or_else(|e| panic!("{name}: {e}"));
        let own = format!("writeback_exporter_build_info{{job=\"writeback_exporter\", instance=\"{addr}\"}}");
        prometheus.wait_for(&own, wait).await;
        let reload = format!("writeback_exporter_config_last_reload_successful{{instance=\"{addr}\"}} == 1");
        prometheus.wait_for(&reload, wait).await;
        for target in ["corp", "emea"] {
            let instance = if name == "prometheus.yml" { addr.as_str() } else { target };
            let up = format!("up{{job=\"writeback_exporter\", instance=\"{instance}\"}} == 1");
            prometheus.wait_for(&up, wait).await;
            let probes = format!(
                "writeback_probe_success{{job=\"writeback_exporter\", instance=\"{instance}\", target=\"{target}\"}}"
            );
            prometheus.wait_for(&probes, wait).await;
        }
        if name == "prometheus-probe.yml" {
            // Each /probe scrape holds its own target only; /metrics contributes the exporter's metrics only.
            let q = "writeback_probe_success{instance=\"corp\", target=\"emea\"}";
            empty(prometheus.query(q).await, q);
            let q = format!("{{__name__=~\"writeback_.*\", __name__!~\"writeback_exporter_.*\", instance=\"{addr}\"}}");
            empty(prometheus.query(&q).await, &q);
            let q = "count by (job) (up)";
            let jobs = prometheus.query(q).await.unwrap();
            assert_eq!(jobs.len(), 1, "one job label for both scrapes: {jobs:?}");
        }
        let rules = prometheus.api("/api/v1/rules").await;
        let rules: Vec<&Value> =
            rules["data"]["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap()).collect();
        assert!(rules.len() > 20, "{name}: the rule file is loaded");
        for rule in rules {
            assert_eq!(rule["health"], "ok", "{name}: {rule}");
        }
    }
}
