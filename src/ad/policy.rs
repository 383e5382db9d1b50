//! Probe `ad_policy` (domain part): the password policy on the domain root, above all the minimum password age
//! that must be 0 for writeback.

use super::forest::{self, ForestDomain};
use super::values::{describe_seconds, dn_to_dns_name, interval_seconds, max_age_seconds};
use super::{AdContext, Entry, Session};
use crate::metrics::catalog as m;
use crate::probe::{Check, ProbeError, ProbeOutput, Status};

const ATTRS: [&str; 6] =
    ["minPwdAge", "maxPwdAge", "minPwdLength", "pwdHistoryLength", "pwdProperties", "lockoutThreshold"];

/// Reads the domain root and the fine-grained policies from the first DC that answers; then the same for every
/// other domain of the forest that holds a scope (with `scopes` empty: every domain), on one of its DCs.
///
/// # Errors
/// Connection failures, or a domain root without the policy attributes (unreadable to this account), in the bound
/// domain. Another domain's failure is reported on its own ([`forest::unreachable`]).
pub async fn run(ctx: &AdContext) -> Result<ProbeOutput, ProbeError> {
    let (mut session, root) = ctx.any_dc().await?;
    let domain_dn = root.default_naming_context.clone();
    let domain = dn_to_dns_name(&domain_dn)
        .ok_or_else(|| ProbeError::Other(format!("cannot derive a domain name from {domain_dn}")))?;
    let result = async {
        let mut out = domain_policy(ctx, &mut session, &domain_dn, &domain).await?;
        let domains = forest::domains_or_own(&mut session, &root, ctx.cfg.page_size, &mut out).await;
        let scopes = forest::scopes_or_roots(&ctx.cfg.scopes, &domains);
        let others: Vec<ForestDomain> = forest::scopes_by_domain(&scopes, &domains)
            .into_iter()
            .map(|(d, _)| d)
            .filter(|d| !d.nc.eq_ignore_ascii_case(&domain_dn))
            .collect();
        Ok::<_, ProbeError>((out, others))
    }
    .await;
    session.close().await;
    let (mut out, others) = result?;
    for other in others {
        let read = async {
            let (mut session, _, _) = ctx.domain_session(&other).await?;
            let result = domain_policy(ctx, &mut session, &other.nc, &other.name).await;
            session.close().await;
            result
        };
        match read.await {
            Ok(part) => {
                out.samples.extend(part.samples);
                out.checks.extend(part.checks);
            }
            Err(ProbeError::Ldap(e)) => forest::unreachable(&other, &e, "password policy", &mut out),
            Err(e) => {
                tracing::warn!(domain = %other.name, error = %e, "password policy of a forest domain not readable");
                out.checks.push(Check {
                    id: "ad_domain_min_password_age",
                    subject: other.name.clone(),
                    title: "Domain minimum password age is 0".to_string(),
                    status: Status::Fail,
                    observed: e.to_string(),
                    remediation: Some("The monitoring account must be able to read the domain root.".to_string()),
                });
                out.partial_failures.push(e.reason());
            }
        }
    }
    Ok(out)
}

/// The domain root's policy and the domain's PSOs.
async fn domain_policy(
    ctx: &AdContext,
    session: &mut Session,
    domain_dn: &str,
    domain: &str,
) -> Result<ProbeOutput, ProbeError> {
    let entry = session.read(domain_dn, &ATTRS, "read the domain password policy").await?;
    let entry = entry.ok_or_else(|| ProbeError::Other("the domain root object was not found".to_string()))?;
    let mut out = policy_output(domain, &entry).map_err(ProbeError::Other)?;
    super::pso::add_psos(session, domain_dn, domain, ctx.cfg.page_size, &mut out).await?;
    Ok(out)
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
    out.sample(&m::AD_DOMAIN_MIN_PASSWORD_AGE, &[domain], min_age);
    out.sample(&m::AD_DOMAIN_MAX_PASSWORD_AGE, &[domain], max_age);
    out.sample(&m::AD_DOMAIN_MIN_PASSWORD_LENGTH, &[domain], min_length as f64);
    out.sample(&m::AD_DOMAIN_PASSWORD_HISTORY_LENGTH, &[domain], history as f64);
    out.sample(&m::AD_DOMAIN_PASSWORD_COMPLEXITY_ENABLED, &[domain], f64::from(u8::from(complexity)));
    out.sample(&m::AD_DOMAIN_LOCKOUT_THRESHOLD, &[domain], lockout as f64);
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
