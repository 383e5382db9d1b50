//! Probe `ad_users`: every enabled user in each scope, read page by page with its own DACL, and for each connector
//! account: would writeback work on this user, and if not, why (first cause)?
//!
//! Pages are evaluated as they arrive and dropped, so memory stays flat however large the directory. A scan that
//! fails half-way (e.g. the DC drops the connection) publishes nothing for the run.

use ldap3::Scope;

use super::connector::ConnectorAccount;
use super::forest::{self, ForestDomain};
use super::security::{check_access_on, guids, Decision, Right, SecurityDescriptor};
use super::session::sd_flags_dacl;
use super::{AdContext, Entry, LdapError, Session};
use crate::base::{gauge, Check, MetricDef, Need, Probe, ProbeError, ProbeOutput, Status};
use crate::config::AdTarget;

// --- metrics served by this probe
pub static AD_USERS: MetricDef = gauge(
    "writeback_ad_users",
    &["domain", "scope"],
    "Enabled user accounts (classes user and inetOrgPerson) under the scope.",
);
pub static AD_USERS_READY: MetricDef = gauge(
    "writeback_ad_users_ready",
    &["domain", "scope", "account"],
    "Users on whose own DACL the connector account effectively holds all four writeback rights.",
);
pub static AD_USERS_MISSING_PERMISSION: MetricDef = gauge(
    "writeback_ad_users_missing_permission",
    &["domain", "scope", "account", "permission"],
    "Users on which the connector account lacks this right.",
);
pub static AD_USERS_NOT_READY: MetricDef = gauge(
    "writeback_ad_users_not_ready",
    &["domain", "scope", "account", "reason"],
    "Users not ready for writeback, by first cause: protected (adminCount=1), inheritance_disabled, object_class, denied, not_granted.",
);
pub static AD_USERS_INHERITANCE_DISABLED: MetricDef = gauge(
    "writeback_ad_users_inheritance_disabled",
    &["domain", "scope"],
    "Users whose DACL is protected from inheritance (SE_DACL_PROTECTED).",
);
pub static AD_USERS_PROTECTED: MetricDef =
    gauge("writeback_ad_users_protected", &["domain", "scope"], "Users with adminCount=1 (AdminSDHolder-protected).");
pub static AD_USERS_UNREADABLE: MetricDef = gauge(
    "writeback_ad_users_unreadable",
    &["domain", "scope"],
    "Users whose security descriptor could not be read or parsed (not counted as ready or not ready; the log names them).",
);

/// Enabled people of class user or inetOrgPerson (computers are users too, but not persons).
const FILTER: &str =
    "(&(objectCategory=person)(|(objectClass=user)(objectClass=inetOrgPerson))(!(userAccountControl:1.2.840.113556.1.4.803:=2)))";
const ATTRS: [&str; 3] = ["nTSecurityDescriptor", "objectClass", "adminCount"];
/// How many example DNs per cause `check` shows.
const EXAMPLES: usize = 10;

/// Why a user is not ready, in the order docs/metrics.md ranks first causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Protected,
    InheritanceDisabled,
    ObjectClass,
    Denied,
    NotGranted,
}

impl Cause {
    pub const ALL: [Cause; 5] =
        [Cause::Protected, Cause::InheritanceDisabled, Cause::ObjectClass, Cause::Denied, Cause::NotGranted];

    pub fn label(self) -> &'static str {
        match self {
            Cause::Protected => "protected",
            Cause::InheritanceDisabled => "inheritance_disabled",
            Cause::ObjectClass => "object_class",
            Cause::Denied => "denied",
            Cause::NotGranted => "not_granted",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn fix(self) -> &'static str {
        match self {
            Cause::Protected => {
                "adminCount=1 users are AdminSDHolder-protected: SDProp rewrites their DACL every 60 minutes and \
                 disables inheritance. Microsoft expects them not to get writeback; keep privileged accounts out of SSPR \
                 writeback (or grant the rights on CN=AdminSDHolder,CN=System, which widens who can reset admins)."
            }
            Cause::InheritanceDisabled => {
                "Re-enable inheritance on these users (ADUC > Security > Advanced > Enable inheritance, or \
                 dsacls \"<user DN>\" /P:N); Microsoft's Get-ADSyncObjectsWithInheritanceDisabled lists them."
            }
            Cause::ObjectClass => {
                "These users are not of class user (e.g. inetOrgPerson): an ACE scoped to Descendant User objects \
                 reaches them inherit-only. Add the same ACEs scoped to inetOrgPerson (or to all descendant objects)."
            }
            Cause::Denied => "A deny ACE removes a needed right: remove or narrow the deny ACE shown in the scope check.",
            Cause::NotGranted => "No ACE grants the right on these users: see the ad_acl scope check for the grant to add.",
        }
    }
}

/// Running totals of one scope (and per connector account), filled page by page.
#[derive(Default)]
struct Tally {
    users: u64,
    protected: u64,
    inheritance_disabled: u64,
    unreadable: u64,
    per_account: Vec<AccountTally>,
}

#[derive(Default, Clone)]
struct AccountTally {
    ready: u64,
    missing: [u64; 4],
    not_ready: [u64; 5],
    examples: [Vec<String>; 5],
}

/// The probe: every enabled user in every scope, on its own DACL.
pub static PROBE: Probe<AdContext, AdTarget> = Probe {
    name: "ad_users",
    metrics: &[
        &AD_USERS,
        &AD_USERS_READY,
        &AD_USERS_MISSING_PERMISSION,
        &AD_USERS_NOT_READY,
        &AD_USERS_INHERITANCE_DISABLED,
        &AD_USERS_PROTECTED,
        &AD_USERS_UNREADABLE,
    ],
    needs: &[Need::DomainControllers, Need::ConnectorAccounts, Need::ForestDomains],
    default_interval: None,
    enabled: |ad| ad.user_scan,
    run: |ctx| Box::pin(run(ctx)),
};

/// # Errors
/// When no DC answers, or the scan of a scope of the bound domain fails part-way (nothing is published then). A
/// forest domain that cannot be reached or scanned is reported on its own.
pub async fn run(ctx: &AdContext) -> Result<ProbeOutput, ProbeError> {
    let (mut session, root) = ctx.any_dc().await?;
    let domain_dn = root.default_naming_context.clone();
    let mut out = ProbeOutput::default();
    let result = async {
        let connectors = ctx.connectors(&mut session, &domain_dn).await?;
        let forest = ctx.forest(&mut session, &root).await;
        forest.note(&mut out);
        let mut others = Vec::new();
        for (domain, scopes) in forest.scope_groups(&ctx.cfg.scopes) {
            if domain.nc.eq_ignore_ascii_case(&domain_dn) {
                scan_scopes(ctx, &mut session, &domain, &scopes, &connectors.accounts, &mut out).await?;
            } else {
                others.push((domain, scopes));
            }
        }
        Ok::<_, LdapError>((connectors, others))
    }
    .await;
    session.close().await;
    let (connectors, others) = result?;
    // A domain that fails half-way contributes nothing (fan_out scans into a scratch output).
    let accounts = &connectors.accounts;
    forest::fan_out(ctx, &others, "user scan", &mut out, |mut session, _, domain, scopes| async move {
        let mut part = ProbeOutput::default();
        let scanned = scan_scopes(ctx, &mut session, &domain, &scopes, accounts, &mut part).await;
        (session, scanned.map(|()| part))
    })
    .await;
    Ok(out)
}

/// Scans the scopes of one domain through a session to one of its DCs.
async fn scan_scopes(
    ctx: &AdContext,
    session: &mut Session,
    domain: &ForestDomain,
    scopes: &[String],
    accounts: &[ConnectorAccount],
    out: &mut ProbeOutput,
) -> Result<(), LdapError> {
    for scope in scopes {
        let problem = match session.read(scope, &["objectClass"], "read a scope").await {
            Ok(Some(_)) => None,
            Ok(None) => Some("no such object".to_string()),
            // A DN outside every domain of the forest: this scope's problem, not the run's.
            Err(e @ LdapError::Referral { .. }) => Some(e.to_string()),
            Err(e) => return Err(e),
        };
        if let Some(observed) = problem {
            out.checks.push(Check {
                id: "ad_users_scope",
                subject: scope.clone(),
                title: "Writeback scope exists".to_string(),
                status: Status::Fail,
                observed,
                remediation: Some("Correct `scopes` in the configuration.".to_string()),
            });
            continue;
        }
        let mut tally = Tally { per_account: vec![AccountTally::default(); accounts.len()], ..Tally::default() };
        session
            .search_paged(
                scope,
                Scope::Subtree,
                FILTER,
                &ATTRS,
                vec![sd_flags_dacl()],
                ctx.cfg.page_size,
                "scan users",
                |e| judge(&e, accounts, &mut tally),
            )
            .await?;
        emit(&domain.name, scope, accounts, &tally, out);
    }
    Ok(())
}

/// Judges one user for every account and adds it to the tally.
fn judge(entry: &Entry, accounts: &[ConnectorAccount], tally: &mut Tally) {
    let Some(bytes) = entry.raw("nTSecurityDescriptor").first() else {
        tally.unreadable += 1;
        tracing::warn!(dn = %entry.dn, "user's security descriptor not returned; not judged");
        return;
    };
    let sd = match SecurityDescriptor::parse(bytes) {
        Ok(sd) => sd,
        Err(e) => {
            tally.unreadable += 1;
            tracing::warn!(dn = %entry.dn, error = %e, "malformed security descriptor; user not judged");
            return;
        }
    };
    let protected = entry.int("adminCount").ok().flatten().unwrap_or(0) == 1;
    let inheritance_disabled = sd.dacl_protected();
    let is_user_class = !entry.values("objectClass").any(|c| c.eq_ignore_ascii_case("inetOrgPerson"));
    let class = if is_user_class { guids::USER_CLASS } else { guids::INET_ORG_PERSON_CLASS };
    let mut decided = Vec::with_capacity(accounts.len());
    for account in accounts {
        // SELF applies when the connector looks at its own object.
        let token =
            if entry.dn.eq_ignore_ascii_case(&account.dn) { account.token.with_self() } else { account.token.clone() };
        let decisions = match sd.dacl_aces() {
            None => Ok(vec![Decision::NoDacl; 4]),
            Some(aces) => check_access_on(aces, &token, &Right::USER_RIGHTS, Some(class)),
        };
        match decisions {
            Ok(d) => decided.push(d),
            Err(e) => {
                tally.unreadable += 1;
                tracing::warn!(dn = %entry.dn, error = %e, "malformed ACE; user not judged");
                return;
            }
        }
    }
    tally.users += 1;
    tally.protected += u64::from(protected);
    tally.inheritance_disabled += u64::from(inheritance_disabled);
    for (account, decisions) in tally.per_account.iter_mut().zip(decided) {
        for (slot, decision) in account.missing.iter_mut().zip(&decisions) {
            *slot += u64::from(!decision.allowed());
        }
        if decisions.iter().all(|d| d.allowed()) {
            account.ready += 1;
            continue;
        }
        let cause = if protected {
            Cause::Protected
        } else if inheritance_disabled {
            Cause::InheritanceDisabled
        } else if !is_user_class {
            Cause::ObjectClass
        } else if decisions.iter().any(|d| matches!(d, Decision::Denied { .. })) {
            Cause::Denied
        } else {
            Cause::NotGranted
        };
        account.not_ready[cause.index()] += 1;
        let examples = &mut account.examples[cause.index()];
        if examples.len() < EXAMPLES {
            examples.push(entry.dn.clone());
        }
    }
}

fn emit(domain: &str, scope: &str, accounts: &[ConnectorAccount], tally: &Tally, out: &mut ProbeOutput) {
    out.sample(&AD_USERS, &[domain, scope], tally.users as f64);
    out.sample(&AD_USERS_PROTECTED, &[domain, scope], tally.protected as f64);
    out.sample(&AD_USERS_INHERITANCE_DISABLED, &[domain, scope], tally.inheritance_disabled as f64);
    out.sample(&AD_USERS_UNREADABLE, &[domain, scope], tally.unreadable as f64);
    for (account, t) in accounts.iter().zip(&tally.per_account) {
        let sam = account.sam.as_str();
        out.sample(&AD_USERS_READY, &[domain, scope, sam], t.ready as f64);
        for (right, n) in Right::USER_RIGHTS.iter().zip(t.missing) {
            out.sample(&AD_USERS_MISSING_PERMISSION, &[domain, scope, sam, right.label()], n as f64);
        }
        for cause in Cause::ALL {
            out.sample(&AD_USERS_NOT_READY, &[domain, scope, sam, cause.label()], t.not_ready[cause.index()] as f64);
        }
        out.checks.push(Check {
            id: "ad_users_ready",
            subject: format!("{scope} for {sam}"),
            title: "Users in scope are ready for writeback".to_string(),
            status: if t.ready == tally.users {
                Status::Pass
            } else if t.not_ready.iter().skip(1).all(|n| *n == 0) {
                Status::Warn
            } else {
                Status::Fail
            },
            observed: format!("{} of {} enabled users ready", t.ready, tally.users),
            remediation: None,
        });
        for cause in Cause::ALL {
            let n = t.not_ready[cause.index()];
            if n == 0 {
                continue;
            }
            out.checks.push(Check {
                id: "ad_users_not_ready",
                subject: format!("{scope} for {sam}: {}", cause.label()),
                title: format!("Users not ready because: {}", cause.label()),
                status: if cause == Cause::Protected { Status::Warn } else { Status::Fail },
                observed: format!("{n} users, e.g. {}", t.examples[cause.index()].join("; ")),
                remediation: Some(cause.fix().to_string()),
            });
        }
    }
    if tally.unreadable > 0 {
        out.checks.push(Check {
            id: "ad_users_unreadable",
            subject: scope.to_string(),
            title: "Every user's security descriptor is readable".to_string(),
            status: Status::Warn,
            observed: format!("{} users could not be judged (see the log for their DNs)", tally.unreadable),
            remediation: Some("The monitoring account needs Read Permissions on users; a malformed descriptor is a directory problem.".to_string()),
        });
    }
}
