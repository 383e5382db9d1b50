//! The plain-text form of the report that `check` prints: per target the probes that could not run, then each
//! cause (FAIL first, then WARN) with its subjects and its fix once, then the PASS lines.
//!
//! A check of its own keeps the line scripts and people grep for, `FAIL  ad_policy      <title> [<subject>]:
//! <observed>`; a cause with several subjects has that line without subject, then one `- [<subject>]: <observed>`
//! line per subject.

use super::group::{self, Group};
use super::report::Report;
use super::runbook;
use super::target::TargetReport;
use crate::base::Status;

/// Where continuation lines (fix, subjects, runbook) start: under the title column's status.
const INDENT: &str = "        ";

impl Report {
    /// The plain-text form a Windows administrator reads.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for target in &self.targets {
            let groups: Vec<&Group> = self.groups_of(&target.name).collect();
            target_text(&mut out, target, &groups);
        }
        let s = &self.summary;
        out.push_str(&format!(
            "summary: {} PASS, {} WARN, {} FAIL, {} probe errors\n",
            s.pass, s.warn, s.fail, s.probe_errors
        ));
        out
    }
}

/// "3 causes (9 checks)", "1 cause (1 check)".
pub fn causes(groups: &[&Group], status: Status) -> (usize, usize) {
    let of: Vec<&&Group> = groups.iter().filter(|g| g.status == status).collect();
    (of.len(), of.iter().map(|g| g.count).sum())
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn target_text(out: &mut String, target: &TargetReport, groups: &[&Group]) {
    let (fail, fail_checks) = causes(groups, Status::Fail);
    let (warn, warn_checks) = causes(groups, Status::Warn);
    let (_, pass) = causes(groups, Status::Pass);
    let errors = group::probe_errors(target);
    let probe_errors: usize = errors.iter().map(|e| e.probes.len()).sum();
    out.push_str(&format!(
        "target {}: FAIL {} ({}), WARN {} ({}), PASS {pass}, probe errors {probe_errors}\n",
        target.name,
        plural(fail, "cause", "causes"),
        plural(fail_checks, "check", "checks"),
        plural(warn, "cause", "causes"),
        plural(warn_checks, "check", "checks"),
    ));
    for e in &errors {
        match e.probes.as_slice() {
            [one] => out.push_str(&format!("  ERROR {one:<14} probe could not run ({}): {}\n", e.reason, e.error)),
            many => {
                out.push_str(&format!("  ERROR {} probes could not run ({}): {}\n", many.len(), e.reason, e.error));
                out.push_str(&format!("{INDENT}probes: {}\n", many.join(", ")));
            }
        }
        out.push_str(&format!("{INDENT}runbook: {}\n", runbook::url(runbook::PROBE_FAILING)));
    }
    for g in groups.iter().filter(|g| g.status != Status::Pass) {
        out.push('\n');
        let head = format!("  {:<5} {:<14} {}", g.status.as_str(), g.probe, g.title);
        match g.members.as_slice() {
            [one] => out.push_str(&format!("{head} [{}]: {}\n", one.subject, one.observed)),
            many => {
                out.push_str(&format!("{head}: {} subjects\n", many.len()));
                for m in many {
                    out.push_str(&format!("{INDENT}- [{}]: {}\n", m.subject, m.observed));
                }
            }
        }
        match g.fixes.as_slice() {
            [fix] => out.push_str(&format!("{INDENT}fix: {}\n", fix.text)),
            fixes => {
                for fix in fixes {
                    let subjects: Vec<String> = fix.subjects.iter().map(|s| format!("[{s}]")).collect();
                    out.push_str(&format!("{INDENT}fix for {}: {}\n", subjects.join(", "), fix.text));
                }
            }
        }
        out.push_str(&format!("{INDENT}runbook: {}\n", g.runbook));
    }
    if pass > 0 {
        out.push_str(&format!("\n  passed: {}\n", plural(pass, "check", "checks")));
        for g in groups.iter().filter(|g| g.status == Status::Pass) {
            for m in &g.members {
                out.push_str(&format!("  PASS  {:<14} {} [{}]: {}\n", g.probe, g.title, m.subject, m.observed));
            }
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::base::{Check, ProbeName, ProbeOutput, Reason, Status};
    use crate::check::Report;
    use crate::config::Config;
    use crate::snapshot::Store;

    const TOPOLOGY: ProbeName = ProbeName::new(0, "ad_topology");
    const POLICY: ProbeName = ProbeName::new(1, "ad_policy");
    const ACL: ProbeName = ProbeName::new(2, "ad_acl");
    const USERS: ProbeName = ProbeName::new(3, "ad_users");

    fn config() -> Config {
        let yaml = "targets:\n  - name: t\n    ad:\n      servers: [ldaps://dc:636]\n      bind: {user: u, password_env: PATH}\n";
        crate::config::parse(yaml, Path::new("test.yml"), &[]).expect("valid test config")
    }

    fn check(id: &'static str, status: Status, subject: &str, fix: Option<&str>) -> Check {
        Check {
            id,
            subject: subject.into(),
            title: format!("{id} holds"),
            status,
            observed: format!("seen at {subject}"),
            remediation: fix.map(String::from),
        }
    }

    /// A probe's run: its checks, or why it could not run.
    type Run<'a> = (ProbeName, Result<Vec<Check>, (Reason, &'a str)>);

    fn text(results: Vec<Run<'_>>) -> String {
        let store = Store::new();
        for (probe, _) in &results {
            store.register("t", *probe, Duration::from_secs(60));
        }
        for (probe, result) in results {
            let result = result
                .map(|checks| ProbeOutput { checks, ..ProbeOutput::default() })
                .map_err(|(reason, e)| (reason, e.to_string()));
            store.record("t", probe, Duration::ZERO, result);
        }
        Report::from_store(&store, &config()).to_text()
    }

    #[test]
    fn causes_come_first_with_subjects_and_the_fix_once() {
        use Status::{Fail, Pass, Warn};
        let text = text(vec![
            (TOPOLOGY, Ok(vec![check("ad_dc_up", Pass, "dc1", None)])),
            (POLICY, Ok(vec![check("ad_domain_min_password_age", Warn, "corp", Some("set it to 0"))])),
            (
                ACL,
                Ok(vec![
                    check("ad_scope_permissions", Fail, "OU=A on dc1", Some("dsacls A")),
                    check("ad_scope_permissions", Fail, "OU=B on dc1", Some("dsacls B")),
                    check("ad_scope_permissions", Fail, "OU=A on dc2", Some("dsacls A")),
                    check("ad_domain_unexpire_password", Fail, "MSOL_x on dc1", Some("grant it")),
                ]),
            ),
        ]);
        let runbooks = "https://github.com/writeback-exporter/writeback_exporter/blob/main/docs/runbooks.md";
        let expected = format!(
            "target t: FAIL 2 causes (4 checks), WARN 1 cause (1 check), PASS 1, probe errors 0\n\
             \n  FAIL  ad_acl         ad_scope_permissions holds: 3 subjects\n\
             \x20       - [OU=A on dc1]: seen at OU=A on dc1\n\
             \x20       - [OU=B on dc1]: seen at OU=B on dc1\n\
             \x20       - [OU=A on dc2]: seen at OU=A on dc2\n\
             \x20       fix for [OU=A on dc1], [OU=A on dc2]: dsacls A\n\
             \x20       fix for [OU=B on dc1]: dsacls B\n\
             \x20       runbook: {runbooks}#writebackscopepermissionmissing\n\
             \n  FAIL  ad_acl         ad_domain_unexpire_password holds [MSOL_x on dc1]: seen at MSOL_x on dc1\n\
             \x20       fix: grant it\n\
             \x20       runbook: {runbooks}#writebackunexpirepasswordmissing\n\
             \n  WARN  ad_policy      ad_domain_min_password_age holds [corp]: seen at corp\n\
             \x20       fix: set it to 0\n\
             \x20       runbook: {runbooks}#writebackminpasswordagenotzero\n\
             \n  passed: 1 check\n\
             \x20 PASS  ad_topology    ad_dc_up holds [dc1]: seen at dc1\n\
             \n\
             summary: 1 PASS, 1 WARN, 4 FAIL, 0 probe errors\n"
        );
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn probes_that_could_not_run_lead_and_share_one_entry() {
        let text = text(vec![
            (TOPOLOGY, Err((Reason::Tls, "bad certificate"))),
            (POLICY, Err((Reason::Connect, "refused"))),
            (USERS, Err((Reason::Connect, "refused"))),
            (ACL, Ok(vec![check("ad_scope_permissions", Status::Fail, "s", Some("do this"))])),
        ]);
        let error_at = text.find("ERROR ad_topology    probe could not run (tls): bad certificate").expect(&text);
        let shared = text.find("ERROR 2 probes could not run (connect): refused\n        probes: ad_policy, ad_users");
        assert!(shared.is_some_and(|at| at > error_at), "{text}");
        let fail_at = text.find("FAIL  ad_acl         ad_scope_permissions holds [s]: seen at s\n        fix: do this");
        assert!(fail_at.is_some_and(|at| at > error_at), "{text}");
    }
}
