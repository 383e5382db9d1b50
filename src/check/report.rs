//! The PASS/WARN/FAIL report: built from the store, printed by `check` and shown on the landing page.

use serde::Serialize;

use super::group::{self, Group};
use super::target::{ProbeReport, TargetReport};
use crate::base::Status;
use crate::config::Config;
use crate::graph::time::format_rfc3339;
use crate::snapshot::Store;

#[derive(Debug, Serialize)]
pub struct Report {
    pub version: &'static str,
    /// One entry per check, per probe, per target: the stable form scripts read.
    pub targets: Vec<TargetReport>,
    pub summary: Summary,
    /// The same checks gathered by cause (see [`group`]): every target's FAIL groups, then WARN, then PASS.
    pub groups: Vec<Group>,
}

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
    /// Probes that could not run (connection, TLS, credentials, timeout): their checks are unknown.
    pub probe_errors: usize,
    pub exit_code: i32,
}

impl Report {
    /// Builds the report of every configured target from what the store holds now.
    pub fn from_store(store: &Store, config: &Config) -> Report {
        let states = store.snapshot();
        let mut summary = Summary::default();
        let mut targets = Vec::new();
        for target in &config.targets {
            let mut probes = Vec::new();
            for (_, probe, state) in states.iter().filter(|(t, _, _)| *t == target.name) {
                let run = state.last_run.as_ref();
                let checks = state.output.as_ref().map(|o| o.checks.clone()).unwrap_or_default();
                for check in &checks {
                    match check.status {
                        Status::Pass => summary.pass += 1,
                        Status::Warn => summary.warn += 1,
                        Status::Fail => summary.fail += 1,
                    }
                }
                let state_word = match run {
                    None => "pending",
                    Some(r) if r.success => "ok",
                    Some(_) => {
                        summary.probe_errors += 1;
                        "failed"
                    }
                };
                probes.push(ProbeReport {
                    probe: probe.as_str(),
                    state: state_word,
                    reason: run.and_then(|r| r.reason).map(|r| r.as_str()),
                    error: run.and_then(|r| r.error.clone()),
                    duration_seconds: run.map(|r| r.duration.as_secs_f64()),
                    finished_at: run.map(|r| format_rfc3339(r.finished)),
                    finished: run.map(|r| r.finished),
                    checks,
                });
            }
            targets.push(TargetReport { name: target.name.clone(), probes });
        }
        // The documented exit codes: 0 all PASS, 1 a WARN and no FAIL, 2 any FAIL, 3 config or connection error.
        summary.exit_code = if summary.probe_errors > 0 {
            3
        } else if summary.fail > 0 {
            2
        } else if summary.warn > 0 {
            1
        } else {
            0
        };
        let groups = targets.iter().flat_map(group::groups).collect();
        Report { version: crate::metrics::VERSION, targets, summary, groups }
    }

    /// The groups of one target, in report order.
    pub fn groups_of<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a Group> + 'a {
        self.groups.iter().filter(move |g| g.target == target)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::base::{Check, ProbeName, ProbeOutput, Reason};

    const TOPOLOGY: ProbeName = ProbeName::new(0, "ad_topology");
    const POLICY: ProbeName = ProbeName::new(1, "ad_policy");

    fn config() -> Config {
        let yaml = "targets:\n  - name: t\n    ad:\n      servers: [ldaps://dc:636]\n      bind: {user: u, password_env: PATH}\n";
        crate::config::parse(yaml, Path::new("test.yml"), &[]).expect("valid test config")
    }

    fn check(status: Status) -> Check {
        Check { id: "x", subject: "s".into(), title: "t".into(), status, observed: "o".into(), remediation: None }
    }

    fn exit_code(results: Vec<Result<Vec<Status>, Reason>>) -> i32 {
        let store = Store::new();
        for (result, probe) in results.into_iter().zip([TOPOLOGY, POLICY]) {
            let result = result
                .map(|statuses| ProbeOutput {
                    checks: statuses.into_iter().map(check).collect(),
                    ..ProbeOutput::default()
                })
                .map_err(|reason| (reason, "failed".to_string()));
            store.register("t", probe, Duration::from_secs(60));
            store.record("t", probe, Duration::ZERO, result);
        }
        Report::from_store(&store, &config()).summary.exit_code
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        use Status::{Fail, Pass, Warn};
        assert_eq!(exit_code(vec![Ok(vec![Pass, Pass]), Ok(vec![Pass])]), 0);
        assert_eq!(exit_code(vec![Ok(vec![Pass, Warn]), Ok(vec![Pass])]), 1);
        assert_eq!(exit_code(vec![Ok(vec![Warn, Fail]), Ok(vec![Pass])]), 2);
        assert_eq!(exit_code(vec![Ok(vec![Fail]), Err(Reason::Connect)]), 3);
    }

    /// The JSON contract: per-check entries keep exactly their fields; the grouping is an addition beside them.
    #[test]
    fn json_keeps_check_entries_and_adds_groups() {
        let store = Store::new();
        store.register("t", POLICY, Duration::from_secs(60));
        let mut failing = check(Status::Fail);
        failing.remediation = Some("do this".into());
        let checks = vec![failing.clone(), Check { subject: "s2".into(), ..failing }, check(Status::Pass)];
        store.record("t", POLICY, Duration::ZERO, Ok(ProbeOutput { checks, ..ProbeOutput::default() }));
        let json = serde_json::to_value(Report::from_store(&store, &config())).unwrap();
        let keys = |v: &serde_json::Value| {
            let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        assert_eq!(keys(&json), ["groups", "summary", "targets", "version"]);
        let probe = &json["targets"][0]["probes"][0];
        assert_eq!(probe["checks"].as_array().unwrap().len(), 3);
        assert_eq!(keys(&probe["checks"][0]), ["id", "observed", "remediation", "status", "subject", "title"]);
        assert!(probe["finished_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{probe}");
        let groups = json["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 2, "{json:#}");
        assert_eq!(
            keys(&groups[0]),
            ["count", "fixes", "id", "members", "probe", "runbook", "status", "target", "title"]
        );
        assert_eq!((groups[0]["status"].as_str(), groups[0]["count"].as_u64()), (Some("FAIL"), Some(2)));
        assert_eq!(groups[0]["fixes"], serde_json::json!([{"text": "do this", "subjects": ["s", "s2"]}]));
        assert_eq!(groups[0]["members"][1], serde_json::json!({"subject": "s2", "observed": "o"}));
        assert_eq!(groups[1]["status"], "PASS");
    }
}
