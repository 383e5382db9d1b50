//! Probe `ad_policy` (domain part): the password policy on the domain root, above all the minimum password age
//! that must be 0 for writeback.

use super::forest::{self, ForestDomain};
use super::pso;
use super::values::{describe_seconds, dn_to_dns_name, interval_seconds, max_age_seconds};
use super::{AdContext, Entry, LdapError, Session};
use crate::base::{gauge, Check, MetricDef, Need, Probe, ProbeError, ProbeOutput, Reason, Status};
use crate::config::AdTarget;

// --- metrics served by this probe
pub static AD_DOMAIN_MIN_PASSWORD_AGE: MetricDef = gauge(
    "writeback_ad_domain_min_password_age_seconds",
    &["domain"],
    "Domain minPwdAge in seconds; password writeback needs 0.",
);
pub static AD_DOMAIN_MAX_PASSWORD_AGE: MetricDef = gauge(
    "writeback_ad_domain_max_password_age_seconds",
    &["domain"],
    "Domain maxPwdAge in seconds; +Inf when passwords never expire.",
);
pub static AD_DOMAIN_MIN_PASSWORD_LENGTH: MetricDef =
    gauge("writeback_ad_domain_min_password_length", &["domain"], "Domain minPwdLength.");
pub static AD_DOMAIN_PASSWORD_HISTORY_LENGTH: MetricDef =
    gauge("writeback_ad_domain_password_history_length", &["domain"], "Domain pwdHistoryLength.");
pub static AD_DOMAIN_PASSWORD_COMPLEXITY_ENABLED: MetricDef = gauge(
    "writeback_ad_domain_password_complexity_enabled",
    &["domain"],
    "1 if the domain's pwdProperties has the complexity bit (0x1).",
);
pub static AD_DOMAIN_LOCKOUT_THRESHOLD: MetricDef = gauge(
    "writeback_ad_domain_lockout_threshold",
    &["domain"],
    "Domain lockoutThreshold (bad password attempts before lockout; 0 = never locks).",
);

const ATTRS: [&str; 6] =
    ["minPwdAge", "maxPwdAge", "minPwdLength", "pwdHistoryLength", "pwdProperties", "lockoutThreshold"];

/// The probe: the password policy of every domain that holds a scope.
pub static PROBE: Probe<AdContext, AdTarget> = Probe {
    name: "ad_policy",
    metrics: &[
        &AD_DOMAIN_MIN_PASSWORD_AGE,
        &AD_DOMAIN_MAX_PASSWORD_AGE,
        &AD_DOMAIN_MIN_PASSWORD_LENGTH,
        &AD_DOMAIN_PASSWORD_HISTORY_LENGTH,
        &AD_DOMAIN_PASSWORD_COMPLEXITY_ENABLED,
        &AD_DOMAIN_LOCKOUT_THRESHOLD,
        &pso::AD_PSO_READABLE,
        &pso::AD_PSO_MIN_PASSWORD_AGE,
        &pso::AD_PSO_PRECEDENCE,
    ],
    needs: &[Need::DomainControllers, Need::ForestDomains],
    default_interval: None,
    enabled: |_| true,
    run: |ctx| Box::pin(run(ctx)),
};

/// Reads the domain root and the fine-grained policies from the first DC that answers; then the same for every
/// other domain of the forest that holds a scope (with `scopes` empty: every domain), on one of its DCs.
///
/// # Errors
/// Connection failures, or a domain root without the policy attributes (unreadable to this account), in the bound
/// domain. Another domain's failure is reported on its own ([`forest::fan_out`]).
pub async fn run(ctx: &AdContext) -> Result<ProbeOutput, ProbeError> {
    let (mut session, root) = ctx.any_dc().await?;
    let domain_dn = root.default_naming_context.clone();
    let result = async {
        let domain = dn_to_dns_name(&domain_dn)
            .ok_or_else(|| ProbeError::Other(format!("cannot derive a domain name from {domain_dn}")))?;
        let mut out = domain_policy(ctx, &mut session, &domain_dn, &domain).await?.map_err(ProbeError::Other)?;
        let forest = ctx.forest(&mut session, &root).await;
        forest.note(&mut out);
        Ok::<_, ProbeError>((out, forest))
    }
    .await;
    session.close().await;
    let (mut out, forest) = result?;
    let mut groups = forest.scope_groups(&ctx.cfg.scopes);
    groups.retain(|(d, _)| !d.nc.eq_ignore_ascii_case(&domain_dn));
    forest::fan_out(ctx, &groups, "password policy", &mut out, |mut session, _, domain, _| async move {
        let part = domain_policy(ctx, &mut session, &domain.nc, &domain.name).await;
        (session, part.map(|part| part.unwrap_or_else(|unreadable| unreadable_policy(&domain, unreadable))))
    })
    .await;
    Ok(out)
}

/// A forest domain whose root's policy cannot be read: a FAIL check and a counted failure, not the end of the run.
fn unreadable_policy(domain: &ForestDomain, unreadable: String) -> ProbeOutput {
    tracing::warn!(domain = %domain.name, error = %unreadable, "password policy of a forest domain not readable");
    let mut part = ProbeOutput::default();
    part.checks.push(Check {
        id: "ad_domain_min_password_age",
        subject: domain.name.clone(),
        title: "Domain minimum password age is 0".to_string(),
        status: Status::Fail,
        observed: unreadable,
        remediation: Some("The monitoring account must be able to read the domain root.".to_string()),
    });
    part.partial_failures.push(Reason::Other);
    part
}

/// The domain root's policy and the domain's PSOs; the inner error says why the root's policy is unreadable.
async fn domain_policy(
    ctx: &AdContext,
    session: &mut Session,
    domain_dn: &str,
    domain: &str,
) -> Result<Result<ProbeOutput, String>, LdapError> {
    let Some(entry) = session.read(domain_dn, &ATTRS, "read the domain password policy").await? else {
        return Ok(Err("the domain root object was not found".to_string()));
    };
    let mut out = match policy_output(domain, &entry) {
        Ok(out) => out,
        Err(unreadable) => return Ok(Err(unreadable)),
    };
    pso::add_psos(session, domain_dn, domain, ctx.cfg.page_size, &mut out).await?;
    Ok(Ok(out))
}

fn required(entry: &Entry, name: &str) -> Result<i64, String> {
    entry.int(name)?.ok_or_else(|| format!("the domain root has no {name} attribute (not readable by this account?)"))
}

/// Turns the domain root's attributes into samples and the minimum-age check.
fn policy_output(domain: &str, entry: &Entry) -> Result<ProbeOutput, String> {
    let min_age = interval_seconds(required(entry, "minPwdAge")?);
    let max_age = max_age_seconds(required(entry, "maxPwdAge")?);
    let min_length = required(entry, "minPwdLength")?;
    let history = required(entry, "pwdHistoryLength")?;
    let complexity = required(entry, "pwdProperties")? & 0x1 != 0;
    let lockout = required(entry, "lockoutThreshold")?;

    let mut out = ProbeOutput::default();
    out.sample(&AD_DOMAIN_MIN_PASSWORD_AGE, &[domain], min_age);
    out.sample(&AD_DOMAIN_MAX_PASSWORD_AGE, &[domain], max_age);
    out.sample(&AD_DOMAIN_MIN_PASSWORD_LENGTH, &[domain], min_length as f64);
    out.sample(&AD_DOMAIN_PASSWORD_HISTORY_LENGTH, &[domain], history as f64);
    out.sample(&AD_DOMAIN_PASSWORD_COMPLEXITY_ENABLED, &[domain], f64::from(u8::from(complexity)));
    out.sample(&AD_DOMAIN_LOCKOUT_THRESHOLD, &[domain], lockout as f64);
    out.checks.push(min_age_check(domain, min_age));
    Ok(out)
}

fn min_age_check(domain: &str, seconds: f64) -> Check {
    let ok = seconds == 0.0;
    Check {
        id: "ad_domain_min_password_age",
        subject: domain.to_string(),
        title: "Domain minimum password age is 0".to_string(),
        status: if ok { Status::Pass } else { Status::Fail },
        observed: format!("minPwdAge = {}", describe_seconds(seconds)),
        remediation: (!ok).then(|| {
            format!(
                "A user who changed the password within {} cannot reset it through writeback (event 33008). In the \
                 Group Policy that sets the domain password policy (usually Default Domain Policy) set Computer \
                 Configuration > Policies > Windows Settings > Security Settings > Account Policies > Password Policy \
                 > Minimum password age = 0 days, then run `gpupdate /force` on the PDC emulator; or in PowerShell: \
                 Set-ADDefaultDomainPasswordPolicy -Identity {domain} -MinPasswordAge 0 \
                 (Samba: samba-tool domain passwordsettings set --min-pwd-age=0).",
                describe_seconds(seconds)
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_domain_fails_min_age() {
        let check = min_age_check("corp.example.test", 86_400.0);
        assert_eq!(check.status, Status::Fail);
        assert_eq!(check.observed, "minPwdAge = 1 day");
        assert!(check.remediation.as_deref().is_some_and(|r| r.contains("Minimum password age = 0")));
        assert_eq!(min_age_check("corp.example.test", 0.0).status, Status::Pass);
    }
}
