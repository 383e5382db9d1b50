//! Fine-grained password policies (PSOs), part of probe `ad_policy`: a PSO with a minimum password age above 0
//! blocks writeback for the users it applies to, however the domain policy is set.

use ldap3::Scope;

use super::values::{describe_seconds, interval_seconds};
use super::{LdapError, Session};
use crate::base::{gauge, Check, MetricDef, ProbeOutput, Status};

// --- metrics served by this probe
pub static AD_PSO_READABLE: MetricDef = gauge(
    "writeback_ad_pso_readable",
    &["domain"],
    "1 if the Password Settings Container could be read (0: fine-grained policies cannot be checked, which is not the same as none).",
);
pub static AD_PSO_MIN_PASSWORD_AGE: MetricDef = gauge(
    "writeback_ad_pso_min_password_age_seconds",
    &["domain", "pso"],
    "msDS-MinimumPasswordAge of a fine-grained password policy, in seconds; writeback wants 0.",
);
pub static AD_PSO_PRECEDENCE: MetricDef = gauge(
    "writeback_ad_pso_precedence",
    &["domain", "pso"],
    "msDS-PasswordSettingsPrecedence of a fine-grained password policy (lower wins).",
);

const ATTRS: [&str; 4] = ["cn", "msDS-MinimumPasswordAge", "msDS-PasswordSettingsPrecedence", "msDS-PSOAppliesTo"];

struct Pso {
    name: String,
    min_age: Option<f64>,
    precedence: Option<i64>,
    applies_to: Vec<String>,
    /// The DC returned only a range of the values (thousands of subjects).
    applies_to_ranged: bool,
}

/// Reads the Password Settings Container and adds the PSO series and checks to `out`.
///
/// # Errors
/// Connection failures; an unreadable container is reported (`writeback_ad_pso_readable 0`), not an error.
pub async fn add_psos(
    session: &mut Session,
    domain_dn: &str,
    domain: &str,
    page_size: u32,
    out: &mut ProbeOutput,
) -> Result<(), LdapError> {
    let container = format!("CN=Password Settings Container,CN=System,{domain_dn}");
    // By default only Domain Admins may read the container and the PSOs. Others may still see the entries, but
    // without their attributes: that is "cannot tell", never "no PSOs".
    let container_entry = match session.read(&container, &["cn"], "read the Password Settings Container").await {
        Ok(found) => found,
        Err(LdapError::Permission { .. }) => None,
        Err(e) => return Err(e),
    };
    let mut psos = Vec::new();
    let mut hidden = 0usize;
    if container_entry.as_ref().is_some_and(|c| c.first("cn").is_some()) {
        let filter = "(objectClass=msDS-PasswordSettings)";
        session
            .search_paged(&container, Scope::OneLevel, filter, &ATTRS, Vec::new(), page_size, "read PSOs", |e| {
                // msDS-MinimumPasswordAge is mandatory on a PSO: without it, the PSO's attributes are hidden.
                match (e.first("cn"), e.int("msDS-MinimumPasswordAge").ok().flatten()) {
                    (Some(name), Some(age)) => psos.push(Pso {
                        name: name.to_string(),
                        min_age: Some(interval_seconds(age)),
                        precedence: e.int("msDS-PasswordSettingsPrecedence").ok().flatten(),
                        applies_to: e.values("msDS-PSOAppliesTo").map(str::to_string).collect(),
                        applies_to_ranged: e.is_ranged("msDS-PSOAppliesTo"),
                    }),
                    _ => hidden += 1,
                }
            })
            .await?;
    }
    let readable = container_entry.as_ref().is_some_and(|c| c.first("cn").is_some()) && hidden == 0;
    out.sample(&AD_PSO_READABLE, &[domain], f64::from(u8::from(readable)));
    if !readable {
        out.checks.push(Check {
            id: "ad_pso_readable",
            subject: domain.to_string(),
            title: "Fine-grained password policies readable".to_string(),
            status: Status::Warn,
            observed: if hidden > 0 {
                format!(
                    "{hidden} fine-grained password policies are visible but not readable by the monitoring account"
                )
            } else {
                "the Password Settings Container is not readable by the monitoring account".to_string()
            },
            remediation: Some(format!(
                "A PSO with a minimum password age above 0 would block writeback for its users and cannot be seen. \
                 Grant the monitoring account Read on {container} and its msDS-PasswordSettings objects \
                 (dsacls \"{container}\" /I:T /G \"<account>:GR\")."
            )),
        });
        return Ok(());
    }
    for pso in psos.iter().filter(|p| !p.name.is_empty()) {
        if let Some(age) = pso.min_age {
            out.sample(&AD_PSO_MIN_PASSWORD_AGE, &[domain, &pso.name], age);
        }
        if let Some(precedence) = pso.precedence {
            out.sample(&AD_PSO_PRECEDENCE, &[domain, &pso.name], precedence as f64);
        }
        let age = pso.min_age.unwrap_or(0.0);
        let applies = describe_subjects(&pso.applies_to, pso.applies_to_ranged);
        out.checks.push(Check {
            id: "ad_pso_min_password_age",
            subject: pso.name.clone(),
            title: "Fine-grained password policy minimum age is 0".to_string(),
            status: if age > 0.0 { Status::Fail } else { Status::Pass },
            observed: format!("msDS-MinimumPasswordAge = {}, applies to {applies}", describe_seconds(age)),
            remediation: (age > 0.0).then(|| {
                format!(
                    "Users and groups this PSO applies to cannot reset a recently changed password through writeback \
                     (event 33008). Set-ADFineGrainedPasswordPolicy -Identity \"{}\" -MinPasswordAge 0 \
                     (Samba: samba-tool domain passwordsettings pso set \"{}\" --min-pwd-age=0).",
                    pso.name, pso.name
                )
            }),
        });
    }
    Ok(())
}

/// How many subjects of a PSO `check` names; the rest are counted.
const SUBJECTS_SHOWN: usize = 10;

/// "A; B; C and 4 more": a PSO can apply to thousands of users and groups; the report names a few.
fn describe_subjects(subjects: &[String], ranged: bool) -> String {
    if subjects.is_empty() {
        return "nobody".to_string();
    }
    let shown = subjects.iter().take(SUBJECTS_SHOWN).cloned().collect::<Vec<_>>().join("; ");
    let rest = subjects.len().saturating_sub(SUBJECTS_SHOWN);
    match (rest, ranged) {
        (0, false) => shown,
        (n, false) => format!("{shown} and {n} more"),
        (n, true) => format!("{shown} and more than {n} others"),
    }
}

#[cfg(test)]
mod tests {
    use super::describe_subjects;

    #[test]
    fn subjects_are_bounded() {
        let many: Vec<String> = (0..3000).map(|i| format!("CN=u{i}")).collect();
        let text = describe_subjects(&many, false);
        assert!(text.starts_with("CN=u0; CN=u1;") && text.ends_with("CN=u9 and 2990 more"), "{text}");
        assert!(describe_subjects(&many[..1500], true).ends_with("and more than 1490 others"));
        assert_eq!(describe_subjects(&many[..2], false), "CN=u0; CN=u1");
        assert_eq!(describe_subjects(&[], false), "nobody");
    }
}
