//! Which section of docs/runbooks.md explains a check: the landing page and `check` link every check to it.
//!
//! The sections are the alerts' (one per alert of alerts/writeback.rules.yml), so a check links to the alert that
//! watches the same condition, under the URL the alerts' `runbook_url` uses by default (alerts/generate.py).

use crate::base::{Check, Status};

/// The runbooks' URL, as `alerts/generate.py` writes `runbook_url` by default.
pub const BASE: &str = "https://github.com/writeback-exporter/writeback_exporter/blob/main/docs/runbooks.md";

/// The section for a probe that could not run at all.
pub const PROBE_FAILING: &str = "writebackprobefailing";

/// The heading of docs/runbooks.md itself: only for a check id this table does not know (a unit test keeps every
/// id the probes emit out of it).
const INDEX: &str = "runbooks";

/// The anchor (the alert name in lower case, as GitHub and `generate.py` spell it) of the section for `check`.
/// A few checks map to a section by their outcome: a connector account that is locked has its own section.
pub fn anchor(check: &Check) -> &'static str {
    match check.id {
        "ad_dc_up" | "ad_acl_dc" => "writebackdomaincontrollerdown",
        "ad_dc_policy_hints_supported" => "writebackdcpolicyhintsmissing",
        "ad_domain_min_password_age" => "writebackminpasswordagenotzero",
        "ad_pso_min_password_age" => "writebackpsominpasswordagenotzero",
        "ad_pso_readable" => "writebackpsounreadable",
        "ad_connector_account_usable" => connector_account(check),
        "ad_connector_accounts_stale" => "writebackconnectoraccountdisabled",
        "ad_connector_account_found" | "ad_connector_token_groups" | "ad_scope_permissions" => {
            "writebackscopepermissionmissing"
        }
        "ad_domain_unexpire_password" => "writebackunexpirepasswordmissing",
        "ad_users_ready" | "ad_users_not_ready" | "ad_users_unreadable" | "ad_users_scope" => "writebackusersnotready",
        "ad_forest_domains" | "ad_forest_domain_reachable" | "ad_monitoring_read" => PROBE_FAILING,
        "ad_gpo_min_password_age" | "ad_gpo_template" | "ad_gpo_link" => "writebackgpominpasswordagenotzero",
        "ad_gpo_password_policy_drift" => "writebackgpopolicydrift",
        "ad_gpo_restrict_remote_sam" => "writebackrestrictremotesamblocksconnector",
        "entra_connect_version" if check.status == Status::Fail => "writebackconnectversionretired",
        "entra_connect_version" => "writebackconnectversionunsupported",
        "entra_license_writeback_capable" => licence(check),
        "entra_sync_enabled" => "writebacksyncdisabled",
        "entra_sync_recent" | "entra_cloud_sync_job" => "writebacksyncstale",
        "entra_cloud_sync_configurations" => "writebackgraphpermissionmissing",
        "entra_sspr_failures" => "writebackssprfailures",
        "entra_sspr_failures_explained" => "writebackssprfailuresexplainedbyad",
        _ => INDEX,
    }
}

fn connector_account(check: &Check) -> &'static str {
    let observed = check.observed.as_str();
    if check.status == Status::Warn {
        "writebackconnectorpasswordexpiring"
    } else if observed.starts_with("locked out") {
        "writebackconnectoraccountlocked"
    } else if observed.starts_with("password expired") {
        "writebackconnectorpasswordexpired"
    } else {
        "writebackconnectoraccountdisabled"
    }
}

fn licence(check: &Check) -> &'static str {
    let suspended = ["is Warning", "is Suspended", "is LockedOut"].iter().any(|s| check.observed.contains(s));
    match check.status {
        Status::Warn if suspended => "writebacklicencesuspended",
        Status::Warn => "writebacklicencesexhausted",
        _ => "writebacknowritebacklicence",
    }
}

/// The full link to a section.
pub fn url(anchor: &str) -> String {
    format!("{BASE}#{anchor}")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::*;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    /// The anchors GitHub gives the headings of docs/runbooks.md (lower case, spaces to dashes, punctuation gone).
    fn anchors_in_runbooks() -> BTreeSet<String> {
        let text = std::fs::read_to_string(root().join("docs/runbooks.md")).expect("docs/runbooks.md");
        text.lines()
            .filter_map(|l| l.strip_prefix("## ").or_else(|| l.strip_prefix("# ")))
            .map(|h| {
                h.trim()
                    .to_lowercase()
                    .chars()
                    .filter_map(|c| match c {
                        ' ' => Some('-'),
                        c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                        _ => None,
                    })
                    .collect()
            })
            .collect()
    }

    /// Check ids as the probes write them (`id: "ad_dc_up",` on a line of its own), as tests/docs_drift.rs reads them.
    fn ids_in_source(dir: &Path, ids: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("src/") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                ids_in_source(&path, ids);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("source file");
                for line in text.lines() {
                    let Some(rest) = line.trim_start().strip_prefix("id: \"") else { continue };
                    ids.extend(rest.split_once('"').map(|(id, _)| id.to_string()));
                }
            }
        }
    }

    fn check(id: &'static str, status: Status, observed: &str) -> Check {
        Check { id, subject: "s".into(), title: "t".into(), status, observed: observed.into(), remediation: None }
    }

    #[test]
    fn every_check_id_has_a_section_that_exists() {
        let mut ids = BTreeSet::new();
        ids_in_source(&root().join("src"), &mut ids);
        assert!(ids.len() >= 25 && ids.contains("ad_dc_up"), "the scan found too few check ids: {ids:?}");
        let anchors = anchors_in_runbooks();
        assert!(anchors.contains(INDEX) && anchors.contains(PROBE_FAILING), "{anchors:?}");
        for id in &ids {
            // Leaked to 'static: the table matches on the id's text, which a test may build at run time.
            let id: &'static str = Box::leak(id.clone().into_boxed_str());
            for status in [Status::Pass, Status::Warn, Status::Fail] {
                for observed in ["disabled", "locked out", "password expired", "EMS is Warning", "x"] {
                    let a = anchor(&check(id, status, observed));
                    assert_ne!(a, INDEX, "check id {id} has no runbook section");
                    assert!(anchors.contains(a), "{id}: #{a} is not a heading of docs/runbooks.md");
                }
            }
        }
    }

    #[test]
    fn outcomes_pick_their_own_section() {
        let cases = [
            (
                check("ad_connector_account_usable", Status::Fail, "disabled, locked out"),
                "writebackconnectoraccountdisabled",
            ),
            (check("ad_connector_account_usable", Status::Fail, "locked out"), "writebackconnectoraccountlocked"),
            (
                check("ad_connector_account_usable", Status::Fail, "password expired"),
                "writebackconnectorpasswordexpired",
            ),
            (
                check("ad_connector_account_usable", Status::Warn, "expires in 3.0 days"),
                "writebackconnectorpasswordexpiring",
            ),
            (check("entra_license_writeback_capable", Status::Fail, "no SKU"), "writebacknowritebacklicence"),
            (check("entra_license_writeback_capable", Status::Warn, "; EMS is Suspended"), "writebacklicencesuspended"),
            (check("entra_license_writeback_capable", Status::Warn, "counts"), "writebacklicencesexhausted"),
            (check("entra_connect_version", Status::Fail, "v"), "writebackconnectversionretired"),
            (check("entra_connect_version", Status::Warn, "v"), "writebackconnectversionunsupported"),
            (check("not_a_check", Status::Fail, "v"), INDEX),
        ];
        for (c, want) in cases {
            assert_eq!(anchor(&c), want, "{} {:?} {}", c.id, c.status, c.observed);
        }
        assert_eq!(url("x"), format!("{BASE}#x"));
    }
}
