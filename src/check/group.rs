//! Root causes: a target's checks gathered by what failed, FAIL first, so a reader sees 8 causes, not 35 rows.
//!
//! Key: (status, probe, check id, title, runbook section). A check id names one condition and its title the
//! condition as judged (titles carry no subject, except where the condition itself is per domain); the runbook
//! section splits the few ids whose outcomes need different fixes (a disabled and a locked connector account). The
//! fix text is not part of the key: it names the subject (the scope's DN in a `dsacls` line), so checks of one cause
//! would never group by it. Each distinct fix is kept once instead, with the subjects it is for.

use serde::Serialize;

use super::runbook;
use super::target::{ProbeReport, TargetReport};
use crate::base::{Check, Status};

/// The checks of one target that share a cause.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub target: String,
    pub status: Status,
    pub probe: &'static str,
    pub id: &'static str,
    pub title: String,
    /// The runbook section (docs/runbooks.md) that explains the cause and its fix.
    pub runbook: String,
    /// How many checks the group holds (`members.len()`).
    pub count: usize,
    pub members: Vec<Member>,
    /// Each distinct fix once, in the order of its first subject; empty for PASS.
    pub fixes: Vec<Fix>,
    #[serde(skip)]
    anchor: &'static str,
}

/// One check of a group: what it is about and what was observed there.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    pub subject: String,
    pub observed: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fix {
    pub text: String,
    /// The members' subjects this fix is for (all of them when the group has one fix).
    pub subjects: Vec<String>,
}

impl Group {
    fn new(target: &str, probe: &'static str, check: &Check, anchor: &'static str) -> Group {
        Group {
            target: target.to_string(),
            status: check.status,
            probe,
            id: check.id,
            title: check.title.clone(),
            runbook: runbook::url(anchor),
            count: 0,
            members: Vec::new(),
            fixes: Vec::new(),
            anchor,
        }
    }

    fn holds(&self, probe: &str, check: &Check, anchor: &str) -> bool {
        self.status == check.status
            && self.probe == probe
            && self.id == check.id
            && self.title == check.title
            && self.anchor == anchor
    }

    fn add(&mut self, check: &Check) {
        self.count += 1;
        self.members.push(Member { subject: check.subject.clone(), observed: check.observed.clone() });
        if let Some(text) = &check.remediation {
            match self.fixes.iter_mut().find(|f| &f.text == text) {
                Some(fix) => fix.subjects.push(check.subject.clone()),
                None => self.fixes.push(Fix { text: text.clone(), subjects: vec![check.subject.clone()] }),
            }
        }
    }
}

/// The groups of one target: FAIL, then WARN, then PASS; within a status in the order the probes report them
/// (registry order: the DCs' reachability before what is read from them).
pub fn groups(target: &TargetReport) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for probe in &target.probes {
        for check in &probe.checks {
            let anchor = runbook::anchor(check);
            match groups.iter_mut().find(|g| g.holds(probe.probe, check, anchor)) {
                Some(group) => group.add(check),
                None => {
                    let mut group = Group::new(&target.name, probe.probe, check, anchor);
                    group.add(check);
                    groups.push(group);
                }
            }
        }
    }
    // Stable: the probe order stays within a status.
    groups.sort_by_key(|g| std::cmp::Reverse(g.status));
    groups
}

/// Probes of one target that did not run, gathered by the same reason and error (a DC that refuses connections
/// fails every AD probe alike).
#[derive(Debug, Clone)]
pub struct ProbeErrors<'a> {
    /// `pending` for a probe that has not run yet.
    pub reason: &'a str,
    pub error: &'a str,
    pub probes: Vec<&'static str>,
}

pub fn probe_errors(target: &TargetReport) -> Vec<ProbeErrors<'_>> {
    let mut out: Vec<ProbeErrors<'_>> = Vec::new();
    for probe in target.probes.iter().filter(|p| p.state != "ok") {
        let (reason, error) = not_run(probe);
        match out.iter_mut().find(|e| e.reason == reason && e.error == error) {
            Some(entry) => entry.probes.push(probe.probe),
            None => out.push(ProbeErrors { reason, error, probes: vec![probe.probe] }),
        }
    }
    out
}

fn not_run(probe: &ProbeReport) -> (&str, &str) {
    (probe.reason.unwrap_or("pending"), probe.error.as_deref().unwrap_or("the probe has not run yet"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(id: &'static str, status: Status, subject: &str, fix: Option<&str>) -> Check {
        Check {
            id,
            subject: subject.into(),
            title: format!("title of {id}"),
            status,
            observed: format!("observed at {subject}"),
            remediation: fix.map(String::from),
        }
    }

    fn probe(name: &'static str, checks: Vec<Check>) -> ProbeReport {
        ProbeReport {
            probe: name,
            state: "ok",
            reason: None,
            error: None,
            duration_seconds: Some(0.1),
            finished_at: None,
            finished: None,
            checks,
        }
    }

    #[test]
    fn same_cause_is_one_group_with_each_fix_once() {
        use Status::{Fail, Pass, Warn};
        let target = TargetReport {
            name: "t".into(),
            probes: vec![
                probe(
                    "ad_topology",
                    vec![
                        check("ad_dc_up", Pass, "dc1", None),
                        check("ad_dc_policy_hints_supported", Warn, "dc1", Some("upgrade")),
                    ],
                ),
                probe(
                    "ad_acl",
                    vec![
                        check("ad_scope_permissions", Fail, "OU=A on dc1", Some("dsacls OU=A")),
                        check("ad_scope_permissions", Pass, "OU=C on dc1", None),
                        check("ad_scope_permissions", Fail, "OU=B on dc1", Some("dsacls OU=B")),
                        check("ad_scope_permissions", Fail, "OU=A on dc2", Some("dsacls OU=A")),
                    ],
                ),
            ],
        };
        let groups = groups(&target);
        let shape: Vec<(Status, &str, usize)> = groups.iter().map(|g| (g.status, g.id, g.count)).collect();
        assert_eq!(
            shape,
            [
                (Fail, "ad_scope_permissions", 3),
                (Warn, "ad_dc_policy_hints_supported", 1),
                (Pass, "ad_dc_up", 1),
                (Pass, "ad_scope_permissions", 1)
            ]
        );
        let fail = &groups[0];
        let subjects: Vec<&str> = fail.members.iter().map(|m| m.subject.as_str()).collect();
        assert_eq!(subjects, ["OU=A on dc1", "OU=B on dc1", "OU=A on dc2"]);
        let fixes: Vec<(&str, Vec<&str>)> =
            fail.fixes.iter().map(|f| (f.text.as_str(), f.subjects.iter().map(String::as_str).collect())).collect();
        assert_eq!(fixes, [("dsacls OU=A", vec!["OU=A on dc1", "OU=A on dc2"]), ("dsacls OU=B", vec!["OU=B on dc1"])]);
        assert!(fail.runbook.ends_with("#writebackscopepermissionmissing"), "{}", fail.runbook);
        assert!(groups[3].fixes.is_empty());
    }

    #[test]
    fn outcomes_with_their_own_runbook_are_their_own_cause() {
        let usable = |subject: &str, observed: &str| Check {
            observed: observed.into(),
            ..check("ad_connector_account_usable", Status::Fail, subject, Some("enable or unlock"))
        };
        let target = TargetReport {
            name: "t".into(),
            probes: vec![probe(
                "ad_connector",
                vec![usable("MSOL_a", "disabled"), usable("MSOL_b", "locked out"), usable("MSOL_c", "disabled")],
            )],
        };
        let groups = groups(&target);
        let counts: Vec<usize> = groups.iter().map(|g| g.count).collect();
        assert_eq!(counts, [2, 1]);
        assert!(groups[1].runbook.ends_with("#writebackconnectoraccountlocked"));
    }

    #[test]
    fn probes_failing_alike_are_one_entry() {
        let failed = |name, error: &str| ProbeReport {
            state: "failed",
            reason: Some("connect"),
            error: Some(error.to_string()),
            ..probe(name, vec![])
        };
        let target = TargetReport {
            name: "t".into(),
            probes: vec![failed("ad_topology", "refused"), failed("ad_policy", "refused"), failed("ad_acl", "reset")],
        };
        let errors = probe_errors(&target);
        let shape: Vec<(&str, Vec<&str>)> = errors.iter().map(|e| (e.error, e.probes.clone())).collect();
        assert_eq!(shape, [("refused", vec!["ad_topology", "ad_policy"]), ("reset", vec!["ad_acl"])]);
    }
}
