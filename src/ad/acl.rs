//! Probe `ad_acl`: for each scope and each DC, would a user created in the scope give each writeback account
//! (Connect's connector accounts, Cloud Sync's gMSAs) the four writeback rights? And does each account hold
//! Unexpire Password on the domain root?
//!
//! A new user's DACL is the `user` class's default security descriptor (explicit ACEs, first) followed by the
//! scope's inheritable ACEs; that is why Change Password normally comes from the schema, not from the grant.

use std::sync::Arc;

use futures_util::future::join_all;
use url::Url;

use super::connector::{ConnectorAccount, Connectors};
use super::fixes;
use super::forest::{self, ForestDomain};
use super::security::{
    check_access_on, guids, new_object_aces, parse_sddl, views, Ace, Decision, Right, SecurityDescriptor, Sid,
};
use super::session::sd_flags_dacl;
use super::values::dn_to_dns_name;
use super::{AdContext, LdapError, RootDse, Session};
use crate::base::{gauge, Check, MetricDef, Need, Probe, ProbeError, ProbeOutput, Status};
use crate::config::AdTarget;

// --- metrics served by this probe
pub static AD_SCOPE_PERMISSION: MetricDef = gauge(
    "writeback_ad_scope_permission",
    &["domain", "dc", "scope", "account", "permission"],
    "1 if a user object created directly in the scope would give the connector account this right, as read on this DC (the user class's default security descriptor followed by the scope's inheritable ACEs; deny ACEs, groups and well-known SIDs considered).",
);
pub static AD_DOMAIN_UNEXPIRE_PASSWORD: MetricDef = gauge(
    "writeback_ad_domain_unexpire_password",
    &["domain", "dc", "account"],
    "1 if the connector account holds Unexpire Password on the domain root, as read on this DC.",
);

/// What every DC's evaluation shares, read once per run from the first DC that answers.
struct Basis {
    domain: String,
    user_default: Vec<Ace>,
    connectors: Arc<Connectors>,
    /// Scopes by forest domain; the bound domain first (possibly with no scope: its root's Unexpire Password is
    /// still read).
    groups: Vec<(ForestDomain, Vec<String>)>,
}

/// The verdict for one scope, one account, on one DC.
struct Verdict {
    aces: Vec<Ace>,
    /// How many of `aces` came from the schema default (the rest were inherited from the scope).
    from_schema: usize,
    decisions: Vec<Decision>,
}

enum ScopeOutcome {
    Evaluated(Vec<Verdict>),
    Missing,
    Unreadable(String),
}

struct DcOutcome {
    dc: String,
    domain: String,
    domain_dn: String,
    scopes: Vec<(String, ScopeOutcome)>,
    unexpire: Option<Vec<Decision>>,
}

/// The probe: the grant on every scope, read on every DC (replication shows as disagreement).
pub static PROBE: Probe<AdContext, AdTarget> = Probe {
    name: "ad_acl",
    metrics: &[&AD_SCOPE_PERMISSION, &AD_DOMAIN_UNEXPIRE_PASSWORD],
    needs: &[Need::DomainControllers, Need::ConnectorAccounts, Need::ForestDomains],
    default_interval: None,
    enabled: |_| true,
    run: |ctx| Box::pin(run(ctx)),
};

/// # Errors
/// When no DC answers or the schema, domain or connector accounts cannot be read.
pub async fn run(ctx: &AdContext) -> Result<ProbeOutput, ProbeError> {
    let mut out = ProbeOutput::default();
    let (mut session, root) = ctx.any_dc().await?;
    let basis = read_basis(ctx, &mut session, &root, &mut out).await;
    session.close().await;
    let basis = basis?;

    connector_checks(&basis, &mut out);
    if basis.connectors.accounts.is_empty() {
        return Ok(out);
    }
    let Some(((own, own_scopes), others)) = basis.groups.split_first() else { return Ok(out) };
    let servers = ctx.dcs().await?;
    let dcs: &[Url] = if ctx.cfg.all_dcs { &servers } else { &servers[..servers.len().min(1)] };
    let results = join_all(dcs.iter().map(|url| evaluate_dc(ctx, url, &basis, own, own_scopes))).await;
    let mut any_dc = false;
    let mut first_error = None;
    let mut seen = std::collections::HashSet::new();
    for (url, result) in dcs.iter().zip(results) {
        match result {
            Ok(outcome) => {
                any_dc = true;
                // Two URLs can reach one DC: its series must appear once.
                if seen.insert(outcome.dc.clone()) {
                    emit(&basis, &outcome, &mut out);
                }
            }
            Err(e) => {
                let dc = ctx.dc_label(url);
                tracing::warn!(%dc, error = %e, "permission check failed on this DC");
                out.checks.push(Check {
                    id: "ad_acl_dc",
                    subject: dc,
                    title: "Scope permissions readable on this DC".to_string(),
                    status: Status::Fail,
                    observed: e.to_string(),
                    remediation: Some("See the ad_topology checks for this DC.".to_string()),
                });
                first_error.get_or_insert(e);
            }
        }
    }
    if let (false, Some(e)) = (any_dc, first_error) {
        return Err(e.into());
    }
    // Other domains of the forest: one DC each; one that cannot be reached is reported on its own.
    let basis = &basis;
    forest::fan_out(ctx, others, "scope permissions", &mut out, |mut session, url, domain, scopes| async move {
        let outcome = evaluate_on(ctx, &url, basis, &mut session, &domain, &scopes).await;
        (session, outcome.map(|outcome| emit_part(basis, &outcome)))
    })
    .await;
    Ok(out)
}

async fn read_basis(
    ctx: &AdContext,
    session: &mut Session,
    root: &RootDse,
    out: &mut ProbeOutput,
) -> Result<Basis, ProbeError> {
    let domain_dn = root.default_naming_context.clone();
    let domain =
        dn_to_dns_name(&domain_dn).ok_or_else(|| ProbeError::Other(format!("no domain name in {domain_dn}")))?;
    let domain_entry = session.read(&domain_dn, &["objectSid"], "read the domain SID").await?;
    let domain_sid = domain_entry
        .as_ref()
        .and_then(|e| e.raw("objectSid").first().and_then(|b| Sid::from_bytes(b).ok()))
        .map(|(sid, _)| sid)
        .ok_or_else(|| ProbeError::Other("the domain root has no readable objectSid".to_string()))?;
    let schema = root
        .schema_naming_context
        .clone()
        .ok_or_else(|| ProbeError::Other("rootDSE has no schemaNamingContext".into()))?;
    let class_dn = format!("CN=User,{schema}");
    let class = session.read(&class_dn, &["defaultSecurityDescriptor"], "read the user class").await?;
    let sddl = class
        .as_ref()
        .and_then(|c| c.first("defaultSecurityDescriptor").map(str::to_string))
        .ok_or_else(|| ProbeError::Other(format!("{class_dn} has no readable defaultSecurityDescriptor")))?;
    let user_default = parse_sddl(&sddl, Some(&domain_sid))
        .map_err(|e| ProbeError::Other(format!("defaultSecurityDescriptor of {class_dn}: {e}")))?
        .dacl
        .unwrap_or_default();
    let connectors = ctx.connectors(session, &domain_dn).await?;
    let forest = ctx.forest(session, root).await;
    forest.note(out);
    let mut groups = forest.scope_groups(&ctx.cfg.scopes);
    if !groups.first().is_some_and(|(d, _)| d.nc.eq_ignore_ascii_case(&domain_dn)) {
        groups.insert(0, (ForestDomain { name: domain.clone(), nc: domain_dn.clone() }, Vec::new()));
    }
    Ok(Basis { domain, user_default, connectors, groups })
}

async fn evaluate_dc(
    ctx: &AdContext,
    url: &Url,
    basis: &Basis,
    domain: &ForestDomain,
    scopes: &[String],
) -> Result<DcOutcome, LdapError> {
    let mut session = Session::open(ctx, url).await?;
    let result = evaluate_on(ctx, url, basis, &mut session, domain, scopes).await;
    session.close().await;
    result
}

/// Reads the scopes of one domain and its root's DACL on one of its DCs.
async fn evaluate_on(
    ctx: &AdContext,
    url: &Url,
    basis: &Basis,
    session: &mut Session,
    domain: &ForestDomain,
    scopes: &[String],
) -> Result<DcOutcome, LdapError> {
    let root = session.root_dse().await?;
    if let Some(name) = &root.dns_host_name {
        ctx.remember_dc_name(url, name);
    }
    let dc = ctx.dc_label(url);
    let accounts = &basis.connectors.accounts;
    let mut outcomes = Vec::with_capacity(scopes.len());
    for scope in scopes {
        let entry =
            session.read_with(scope, &["nTSecurityDescriptor"], vec![sd_flags_dacl()], "read a scope's DACL").await;
        let entry = match entry {
            // A DN outside the DC's naming contexts is this scope's problem, not the DC's.
            Err(e @ LdapError::Referral { .. }) => {
                outcomes.push((scope.clone(), ScopeOutcome::Unreadable(e.to_string())));
                continue;
            }
            other => other?,
        };
        let outcome = match entry {
            None => ScopeOutcome::Missing,
            Some(entry) => match entry.raw("nTSecurityDescriptor").first() {
                None => ScopeOutcome::Unreadable("nTSecurityDescriptor not returned (no read permission?)".to_string()),
                Some(bytes) => match evaluate_scope(bytes, &basis.user_default, accounts) {
                    Ok(verdicts) => ScopeOutcome::Evaluated(verdicts),
                    Err(e) => ScopeOutcome::Unreadable(e),
                },
            },
        };
        outcomes.push((scope.clone(), outcome));
    }
    let root_sd = session
        .read_with(&domain.nc, &["nTSecurityDescriptor"], vec![sd_flags_dacl()], "read the domain root's DACL")
        .await?;
    let unexpire = root_sd.and_then(|e| e.raw("nTSecurityDescriptor").first().cloned()).and_then(|bytes| {
        let sd = SecurityDescriptor::parse(&bytes).ok()?;
        accounts
            .iter()
            .map(|a| match sd.dacl_aces() {
                None => Some(Decision::NoDacl),
                Some(aces) => {
                    check_access_on(aces, &a.token, &[Right::UnexpirePassword], Some(guids::DOMAIN_DNS_CLASS))
                        .ok()?
                        .first()
                        .copied()
                }
            })
            .collect::<Option<Vec<_>>>()
    });
    Ok(DcOutcome { dc, domain: domain.name.clone(), domain_dn: domain.nc.clone(), scopes: outcomes, unexpire })
}

fn evaluate_scope(bytes: &[u8], user_default: &[Ace], accounts: &[ConnectorAccount]) -> Result<Vec<Verdict>, String> {
    let sd = SecurityDescriptor::parse(bytes).map_err(|e| format!("malformed security descriptor: {e}"))?;
    let parent = sd.dacl_aces().into_iter().flatten();
    let aces = new_object_aces(user_default, parent, guids::USER_CLASS).map_err(|e| format!("malformed ACE: {e}"))?;
    let from_schema = user_default.len();
    accounts
        .iter()
        .map(|account| {
            let decisions = check_access_on(views(&aces), &account.token, &Right::USER_RIGHTS, Some(guids::USER_CLASS))
                .map_err(|e| format!("malformed ACE: {e}"))?;
            Ok(Verdict { aces: aces.clone(), from_schema, decisions })
        })
        .collect()
}

fn emit_part(basis: &Basis, outcome: &DcOutcome) -> ProbeOutput {
    let mut part = ProbeOutput::default();
    emit(basis, outcome, &mut part);
    part
}

fn emit(basis: &Basis, outcome: &DcOutcome, out: &mut ProbeOutput) {
    let accounts = &basis.connectors.accounts;
    let domain = outcome.domain.as_str();
    let dc = outcome.dc.as_str();
    for (scope, result) in &outcome.scopes {
        match result {
            ScopeOutcome::Evaluated(verdicts) => {
                for (account, verdict) in accounts.iter().zip(verdicts) {
                    for (right, decision) in Right::USER_RIGHTS.iter().zip(&verdict.decisions) {
                        let labels = [domain, dc, scope.as_str(), account.sam.as_str(), right.label()];
                        out.sample(&AD_SCOPE_PERMISSION, &labels, f64::from(u8::from(decision.allowed())));
                    }
                    out.checks.push(scope_check(domain, dc, scope, account, verdict));
                }
            }
            ScopeOutcome::Missing => out.checks.push(Check {
                id: "ad_scope_permissions",
                subject: format!("{scope} on {dc}"),
                title: "Writeback scope exists".to_string(),
                status: Status::Fail,
                observed: "no such object on this DC".to_string(),
                remediation: Some(
                    "Correct `scopes` in the configuration, or wait for replication if the OU is new.".to_string(),
                ),
            }),
            ScopeOutcome::Unreadable(why) => out.checks.push(Check {
                id: "ad_scope_permissions",
                subject: format!("{scope} on {dc}"),
                title: "Scope security descriptor readable".to_string(),
                status: Status::Fail,
                observed: why.clone(),
                remediation: Some("The monitoring account needs Read Permissions on the scope.".to_string()),
            }),
        }
    }
    if let Some(decisions) = &outcome.unexpire {
        for (account, decision) in accounts.iter().zip(decisions) {
            let ok = decision.allowed();
            out.sample(&AD_DOMAIN_UNEXPIRE_PASSWORD, &[domain, dc, &account.sam], f64::from(u8::from(ok)));
            out.checks.push(Check {
                id: "ad_domain_unexpire_password",
                subject: format!("{} on {dc}", account.sam),
                title: format!("Unexpire Password on the domain root {}", outcome.domain_dn),
                status: if ok { Status::Pass } else { Status::Fail },
                observed: if ok { "granted".to_string() } else { "not granted".to_string() },
                remediation: (!ok)
                    .then(|| fixes::unexpire_password(&outcome.domain_dn, &account.sam, domain, account.engine)),
            });
        }
    }
}

fn scope_check(domain: &str, dc: &str, scope: &str, account: &ConnectorAccount, verdict: &Verdict) -> Check {
    let mut parts = Vec::new();
    let mut missing = Vec::new();
    for (right, decision) in Right::USER_RIGHTS.iter().zip(&verdict.decisions) {
        let describe = |index: usize| {
            let origin = if index < verdict.from_schema { "schema default" } else { "inherited from the scope" };
            let sddl = verdict.aces.get(index).map(Ace::to_sddl).unwrap_or_default();
            format!("{sddl} ({origin})")
        };
        let text = match decision {
            Decision::Granted { ace } => format!("{}: granted by {}", right.label(), describe(*ace)),
            Decision::Denied { ace } => format!("{}: DENIED by {}", right.label(), describe(*ace)),
            Decision::NotGranted => format!("{}: no ACE grants it", right.label()),
            Decision::NoDacl => format!("{}: granted (no DACL)", right.label()),
        };
        if !decision.allowed() {
            missing.push(*right);
        }
        parts.push(text);
    }
    Check {
        id: "ad_scope_permissions",
        subject: format!("{scope} for {} on {dc}", account.sam),
        title: format!("{} holds the writeback rights on new users in the scope", account.engine.account_title()),
        status: if missing.is_empty() { Status::Pass } else { Status::Fail },
        observed: parts.join("; "),
        remediation: (!missing.is_empty())
            .then(|| fixes::scope_grant(scope, &account.sam, domain, &missing, account.engine)),
    }
}

fn connector_checks(basis: &Basis, out: &mut ProbeOutput) {
    let c = &basis.connectors;
    for name in &c.missing {
        out.checks.push(Check {
            id: "ad_connector_account_found",
            subject: name.clone(),
            title: "Configured connector account exists".to_string(),
            status: Status::Fail,
            observed: "not found in the domain".to_string(),
            remediation: Some("Correct `connector_accounts` (sAMAccountName, DOMAIN\\name, UPN or DN).".to_string()),
        });
    }
    for name in &c.missing_cloud_sync {
        out.checks.push(Check {
            id: "ad_connector_account_found",
            subject: name.clone(),
            title: "Configured Cloud Sync gMSA exists".to_string(),
            status: Status::Fail,
            observed: "not found in the domain".to_string(),
            remediation: Some(
                "Correct `cloud_sync_accounts` (the gMSA the provisioning agent runs as: sAMAccountName, DOMAIN\\name \
                 or DN; on the agent's server, the logon account of the service \"Microsoft Azure AD Connect Provisioning Agent\")."
                    .to_string(),
            ),
        });
    }
    // Connect and Cloud Sync run side by side, or one alone: FAIL only when neither engine has an account here.
    if c.accounts.is_empty() && c.discovered {
        let cloud_sync = if c.cloud_sync_discovered { " nor provAgentgMSA$ gMSA" } else { "" };
        out.checks.push(Check {
            id: "ad_connector_account_found",
            subject: basis.domain.clone(),
            title: "An Entra Connect connector account exists".to_string(),
            status: Status::Fail,
            observed: format!("no MSOL_* account{cloud_sync} found"),
            remediation: Some(
                "A custom Entra Connect installation uses an account of your choice: name it in `connector_accounts` \
                 (Synchronization Service > Connectors > the AD connector > Properties > Connect to Active Directory Forest); \
                 a Cloud Sync agent running as a custom gMSA: name it in `cloud_sync_accounts`."
                    .to_string(),
            ),
        });
    }
    for account in c.accounts.iter().filter(|a| !a.groups_known) {
        out.checks.push(Check {
            id: "ad_connector_token_groups",
            subject: account.sam.clone(),
            title: format!("{}'s group memberships readable", account.engine.account_title()),
            status: Status::Warn,
            observed: "tokenGroups could not be read: rights granted through groups are not seen".to_string(),
            remediation: Some(
                "Add the monitoring account to the built-in group Windows Authorization Access Group, which may read tokenGroups."
                    .to_string(),
            ),
        });
    }
}
