//! The PASS/WARN/FAIL report: built from the store, printed by `check` and shown on the landing page.

use serde::Serialize;

use crate::base::{Check, Status};
use crate::config::Config;
use crate::snapshot::Store;

#[derive(Debug, Serialize)]
pub struct Report {
    pub version: &'static str,
    pub targets: Vec<TargetReport>,
    pub summary: Summary,
}

#[derive(Debug, Serialize)]
pub struct TargetReport {
    pub name: String,
    pub probes: Vec<ProbeReport>,
}

#[derive(Debug, Serialize)]
pub struct ProbeReport {
    pub probe: &'static str,
    /// `ok`, `failed`, or `pending` (not run yet).
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    pub checks: Vec<Check>,
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
        Report { version: crate::metrics::VERSION, targets, summary }
    }

    /// The plain-text form a Windows administrator reads: one line per check, the fix under each non-PASS.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for target in &self.targets {
            out.push_str(&format!("target {}\n", target.name));
            for probe in &target.probes {
                if probe.state != "ok" {
                    let reason = probe.reason.unwrap_or("pending");
                    let error = probe.error.as_deref().unwrap_or("the probe has not run yet");
                    out.push_str(&format!("  ERROR {:<14} probe could not run ({reason}): {error}\n", probe.probe));
                }
                for check in &probe.checks {
                    out.push_str(&format!(
                        "  {:<5} {:<14} {} [{}]: {}\n",
                        check.status.as_str(),
                        probe.probe,
                        check.title,
                        check.subject,
                        check.observed
                    ));
                    if let Some(fix) = &check.remediation {
                        out.push_str(&format!("        fix: {fix}\n"));
                    }
                }
            }
        }
        let s = &self.summary;
        out.push_str(&format!(
            "summary: {} PASS, {} WARN, {} FAIL, {} probe errors\n",
            s.pass, s.warn, s.fail, s.probe_errors
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;
    use crate::base::{ProbeName, ProbeOutput, Reason};

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

    #[test]
    fn text_report_shows_fix_and_probe_errors() {
        let store = Store::new();
        store.register("t", POLICY, Duration::from_secs(60));
        store.register("t", TOPOLOGY, Duration::from_secs(60));
        let mut failing = check(Status::Fail);
        failing.remediation = Some("do this".into());
        store.record("t", POLICY, Duration::ZERO, Ok(ProbeOutput { checks: vec![failing], ..ProbeOutput::default() }));
        store.record("t", TOPOLOGY, Duration::ZERO, Err((Reason::Tls, "bad certificate".into())));
        let text = Report::from_store(&store, &config()).to_text();
        assert!(text.contains("FAIL  ad_policy      t [s]: o\n        fix: do this"), "{text}");
        assert!(text.contains("ERROR ad_topology    probe could not run (tls): bad certificate"), "{text}");
    }
}
