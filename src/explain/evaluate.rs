//! The reads of one explanation: the user, the connector accounts, the schema default and the policy on the first
//! DC that answers; then the user's DACL and the access check on every DC; then names and group paths.

use std::collections::HashMap;

use futures_util::future::join_all;
use url::Url;

use super::groups::{self, Memberships};
use super::policy::{self, UserFacts};
use super::rights::{self, AncestorDacl, MAX_ANCESTORS};
use super::{
    find, AccountRights, DcExplanation, DecidingAce, ExplainError, Explanation, Related, RightExplanation, Trustee,
    UserObject, UserQuery,
};
use crate::ad::connector::{self, ConnectorAccount};
use crate::ad::security::{
    guids, new_object_aces, parse_sddl, well_known, Ace, AceType, Decision, Guid, Right, SecurityDescriptor, Sid,
};
use crate::ad::users::Cause;
use crate::ad::values::{dn_to_dns_name, filetime_to_unix, interval_seconds};
use crate::ad::{dn, first_answering, sd_flags_dacl, AdContext, Entry, LdapError, Session};
use crate::base::unix_now;
use crate::graph::time::format_rfc3339;

const USER_ATTRS: [&str; 12] = [
    "objectClass",
    "sAMAccountName",
    "userPrincipalName",
    "objectSid",
    "userAccountControl",
    "adminCount",
    "pwdLastSet",
    "lockoutTime",
    "msDS-User-Account-Control-Computed",
    "msDS-ResultantPSO",
    "tokenGroups",
    "nTSecurityDescriptor",
];

/// What every DC's evaluation shares, read once on the first DC.
struct Basis {
    dn: String,
    domain_dn: String,
    accounts: Vec<ConnectorAccount>,
    class: (Guid, &'static str),
    /// The class's defaultSecurityDescriptor ACEs as they land on a new object; empty when unreadable.
    schema_default: Vec<Ace>,
}

pub async fn run(ctx: &AdContext, target: &str, query: &UserQuery) -> Result<Explanation, ExplainError> {
    let dcs = ctx.dcs().await?;
    let (mut session, root, first_url) = first_answering(&dcs, |url| async move {
        let mut session = Session::open(ctx, &url).await?;
        match session.root_dse().await {
            Ok(root) => Ok((session, root, url)),
            Err(e) => {
                session.close().await;
                Err(e)
            }
        }
    })
    .await?;
    let result = explain_on(ctx, target, query, &mut session, &root, &first_url, &dcs).await;
    session.close().await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn explain_on(
    ctx: &AdContext,
    target: &str,
    query: &UserQuery,
    session: &mut Session,
    root: &crate::ad::RootDse,
    first_url: &Url,
    dcs: &[Url],
) -> Result<Explanation, ExplainError> {
    let domain_dn = root.default_naming_context.clone();
    let mut notes = Vec::new();
    let dn = find::locate(session, &domain_dn, query).await?;
    let domain_entry = session.read(&domain_dn, &["objectSid", "minPwdAge"], "read the domain root").await?;
    let domain_sid = domain_entry
        .as_ref()
        .and_then(|e| e.raw("objectSid").first().and_then(|b| Sid::from_bytes(b).ok()))
        .map(|(sid, _)| sid)
        .ok_or_else(|| ExplainError::Directory("the domain root has no readable objectSid".to_string()))?;
    let domain_min_age = domain_entry.as_ref().and_then(|e| e.int("minPwdAge").ok().flatten()).map(interval_seconds);
    // Read afresh, not from the target's cache: an explanation must not depend on (nor refresh) the daemon's cycle.
    // Both engines' accounts, as the probes judge them; each fix names its engine's cmdlet.
    let wanted =
        connector::Wanted { connect: &ctx.cfg.connector_accounts, cloud_sync: Some(&ctx.cfg.cloud_sync_accounts) };
    let connectors = connector::resolve(session, wanted, &domain_dn, ctx.cfg.page_size).await?;
    for missing in &connectors.missing {
        notes.push(format!("configured connector account {missing} was not found"));
    }
    for missing in &connectors.missing_cloud_sync {
        notes.push(format!("configured Cloud Sync account {missing} was not found"));
    }
    let first = read_user(session, &dn).await?;
    let is_inet =
        first.as_ref().is_some_and(|e| e.values("objectClass").any(|c| c.eq_ignore_ascii_case("inetOrgPerson")));
    let class = if is_inet { (guids::INET_ORG_PERSON_CLASS, "inetOrgPerson") } else { (guids::USER_CLASS, "user") };
    let schema_default = match schema_default(session, root, class, &domain_sid).await {
        Ok(aces) => aces,
        Err(why) => {
            notes.push(why);
            Vec::new()
        }
    };
    let basis =
        Basis { dn: dn.clone(), domain_dn: domain_dn.clone(), accounts: connectors.accounts, class, schema_default };

    // The first DC's view from what was read; the other DCs each on a session of their own, at the same time.
    let first_name = root.dns_host_name.clone().unwrap_or_else(|| host(first_url));
    let first_view = match &first {
        Some(entry) => judge_on(session, &basis, entry, first_name).await?,
        None => DcExplanation {
            dc: first_name,
            error: Some("the user is not found on this DC".to_string()),
            object: None,
            accounts: Vec::new(),
        },
    };
    let others = dcs.iter().filter(|u| *u != first_url);
    let mut views = vec![first_view];
    views.extend(join_all(others.map(|url| other_dc(ctx, url, &basis))).await);

    // Policy, names and group paths: through the first DC.
    let policy = match &first {
        Some(entry) => {
            let sid = entry.raw("objectSid").first().and_then(|b| Sid::from_bytes(b).ok()).map(|(s, _)| s);
            let groups: Vec<Sid> =
                entry.raw("tokenGroups").iter().filter_map(|b| Sid::from_bytes(b).ok().map(|(s, _)| s)).collect();
            let facts = UserFacts {
                dn: &dn,
                sid: sid.as_ref(),
                groups: &groups,
                pwd_last_set: entry.int("pwdLastSet").ok().flatten(),
                resultant_pso: entry.first("msDS-ResultantPSO"),
            };
            Some(policy::read(session, &domain_dn, domain_min_age, &facts, ctx.cfg.page_size, unix_now()).await?)
        }
        None => None,
    };
    name_trustees(session, &basis, &domain_sid, &mut views, &mut notes).await?;

    let mut explanation = Explanation {
        target: target.to_string(),
        query: query.clone(),
        dn,
        domain: dn_to_dns_name(&domain_dn).unwrap_or_default(),
        generated_at: format_rfc3339(unix_now()),
        dcs: views,
        policy,
        related: Related::default(),
        verdict: super::verdict::placeholder(),
        notes,
    };
    explanation.verdict = super::verdict::judge(&explanation);
    Ok(explanation)
}

fn host(url: &Url) -> String {
    url.host_str().unwrap_or_default().to_ascii_lowercase()
}

async fn read_user(session: &mut Session, dn: &str) -> Result<Option<Entry>, LdapError> {
    session.read_with(dn, &USER_ATTRS, vec![sd_flags_dacl()], "read the user").await
}

async fn schema_default(
    session: &mut Session,
    root: &crate::ad::RootDse,
    (class, name): (Guid, &'static str),
    domain_sid: &Sid,
) -> Result<Vec<Ace>, String> {
    let Some(schema) = &root.schema_naming_context else {
        return Err("the rootDSE names no schema: schema defaults are not recognised".to_string());
    };
    let class_dn = format!("CN={name},{schema}");
    let entry = session.read(&class_dn, &["defaultSecurityDescriptor"], "read the class's default SD").await;
    let sddl = entry.ok().flatten().and_then(|e| e.first("defaultSecurityDescriptor").map(str::to_string));
    let sddl = sddl.ok_or_else(|| format!("{class_dn} has no readable defaultSecurityDescriptor"))?;
    let parsed =
        parse_sddl(&sddl, Some(domain_sid)).map_err(|e| format!("defaultSecurityDescriptor of {class_dn}: {e}"))?;
    new_object_aces(&parsed.dacl.unwrap_or_default(), std::iter::empty(), class)
        .map_err(|e| format!("defaultSecurityDescriptor of {class_dn}: {e}"))
}

async fn other_dc(ctx: &AdContext, url: &Url, basis: &Basis) -> DcExplanation {
    let failed = |dc: String, e: String| DcExplanation { dc, error: Some(e), object: None, accounts: Vec::new() };
    let mut session = match Session::open(ctx, url).await {
        Ok(s) => s,
        Err(e) => return failed(host(url), e.to_string()),
    };
    let result = async {
        let name = session.root_dse().await?.dns_host_name.unwrap_or_else(|| host(url));
        match read_user(&mut session, &basis.dn).await? {
            Some(entry) => judge_on(&mut session, basis, &entry, name).await,
            None => Ok(failed(name, "the user is not found on this DC (not replicated yet?)".to_string())),
        }
    }
    .await;
    session.close().await;
    result.unwrap_or_else(|e| failed(host(url), e.to_string()))
}

/// The object and every account's four decisions on one DC, from the user entry read there.
async fn judge_on(session: &mut Session, basis: &Basis, entry: &Entry, dc: String) -> Result<DcExplanation, LdapError> {
    let Some(bytes) = entry.raw("nTSecurityDescriptor").first() else {
        let error = "nTSecurityDescriptor not returned (the monitoring account needs Read Permissions)".to_string();
        return Ok(DcExplanation { dc, error: Some(error), object: None, accounts: Vec::new() });
    };
    let sd = match SecurityDescriptor::parse(bytes) {
        Ok(sd) => sd,
        Err(e) => {
            let error = format!("malformed security descriptor: {e}");
            return Ok(DcExplanation { dc, error: Some(error), object: None, accounts: Vec::new() });
        }
    };
    let object = user_object(entry, &sd, basis.class.1);
    let mut ancestors: Option<Vec<AncestorDacl>> = None;
    let mut accounts = Vec::with_capacity(basis.accounts.len());
    for account in &basis.accounts {
        let token =
            if account.dn.eq_ignore_ascii_case(&entry.dn) { account.token.with_self() } else { account.token.clone() };
        let decisions = match sd.check_rights(&token, &Right::USER_RIGHTS, Some(basis.class.0)) {
            Ok(d) => d,
            Err(e) => {
                let error = format!("malformed ACE: {e}");
                return Ok(DcExplanation { dc, error: Some(error), object: Some(object), accounts: Vec::new() });
            }
        };
        let mut rights = Vec::with_capacity(4);
        for (right, decision) in Right::USER_RIGHTS.iter().zip(decisions) {
            let (word, index) = match decision {
                Decision::Granted { ace } => ("granted", Some(ace)),
                Decision::Denied { ace } => ("denied", Some(ace)),
                Decision::NotGranted => ("not_granted", None),
                Decision::NoDacl => ("no_dacl", None),
            };
            let ace = index.and_then(|i| sd.dacl_aces()?.nth(i)?.ok()?.to_owned().ok().map(|a| (i, a)));
            let ace = match ace {
                Some((i, ace)) => {
                    if ace.view().is_inherited() && ancestors.is_none() {
                        ancestors = Some(read_ancestors(session, &basis.dn, &basis.domain_dn).await?);
                    }
                    let chain = ancestors.as_deref().unwrap_or_default();
                    Some(deciding(i, &ace, rights::provenance(&ace, &basis.schema_default, basis.class.1, chain)))
                }
                None => None,
            };
            rights.push(RightExplanation {
                right: right.label(),
                title: rights::right_title(*right),
                allowed: decision.allowed(),
                decision: word,
                ace,
            });
        }
        let ready = decisions.iter().all(|d| d.allowed());
        let cause = (!ready).then(|| first_cause(&object, &decisions).label());
        accounts.push(AccountRights {
            account: account.sam.clone(),
            engine: account.engine,
            account_dn: account.dn.clone(),
            account_enabled: account.user_account_control & 0x2 == 0,
            groups_known: account.groups_known,
            rights,
            ready,
            cause,
        });
    }
    Ok(DcExplanation { dc, error: None, object: Some(object), accounts })
}

/// The order docs/metrics.md ranks first causes in (as `ad_users` does).
fn first_cause(object: &UserObject, decisions: &[Decision; 4]) -> Cause {
    if object.protected {
        Cause::Protected
    } else if object.inheritance_disabled {
        Cause::InheritanceDisabled
    } else if object.object_class != "user" {
        Cause::ObjectClass
    } else if decisions.iter().any(|d| matches!(d, Decision::Denied { .. })) {
        Cause::Denied
    } else {
        Cause::NotGranted
    }
}

fn deciding(index: usize, ace: &Ace, source: super::Source) -> DecidingAce {
    let deny = matches!(ace.ace_type, AceType::AccessDenied | AceType::AccessDeniedObject);
    DecidingAce {
        position: index + 1,
        effect: if deny { "deny" } else { "allow" },
        sddl: ace.to_sddl(),
        trustee: Trustee {
            sid: ace.sid.to_string(),
            name: ace.sid.to_string(),
            matched_as: "unknown",
            path: Vec::new(),
        },
        access: rights::access_text(ace),
        object_type: ace.object_type.map(rights::named),
        inherited_object_type: ace.inherited_object_type.map(rights::named),
        source,
    }
}

fn user_object(entry: &Entry, sd: &SecurityDescriptor<'_>, class: &str) -> UserObject {
    let int = |name: &str| entry.int(name).ok().flatten();
    let uac = int("userAccountControl").unwrap_or(0);
    let locked = match (int("msDS-User-Account-Control-Computed"), int("lockoutTime")) {
        (Some(computed), _) => Some(computed & 0x10 != 0),
        (None, Some(t)) => Some(t > 0),
        (None, None) => None,
    };
    let pwd_last_set = int("pwdLastSet");
    let cannot_change = sd.dacl_aces().into_iter().flatten().filter_map(Result::ok).any(|a| {
        matches!(a.ace_type, AceType::AccessDenied | AceType::AccessDeniedObject)
            && !a.is_inherit_only()
            && Right::ChangePassword.covered_by(a.mask, a.object_type, None)
            && (a.sid == well_known::everyone().as_bytes() || a.sid == well_known::self_sid().as_bytes())
    });
    UserObject {
        dn: entry.dn.clone(),
        object_class: class.to_string(),
        sam_account_name: entry.first("sAMAccountName").map(str::to_string),
        user_principal_name: entry.first("userPrincipalName").map(str::to_string),
        enabled: uac & 0x2 == 0,
        locked,
        cannot_change_password: cannot_change,
        protected: int("adminCount") == Some(1),
        inheritance_disabled: sd.dacl_protected(),
        pwd_last_set: pwd_last_set.and_then(filetime_to_unix).map(format_rfc3339),
        must_change_password: pwd_last_set == Some(0),
        dacl_aces: sd.dacl_aces().map(|_| sd.dacl_ace_count()),
    }
}

/// The DACLs above the user up to the domain root, nearest first, at most [`MAX_ANCESTORS`]; the walk stops at the
/// first one that cannot be read.
async fn read_ancestors(session: &mut Session, dn: &str, domain_dn: &str) -> Result<Vec<AncestorDacl>, LdapError> {
    let mut out = Vec::new();
    for ancestor in dn::ancestors_up_to(dn, domain_dn).into_iter().take(MAX_ANCESTORS) {
        let read =
            session.read_with(&ancestor, &["nTSecurityDescriptor"], vec![sd_flags_dacl()], "read an ancestor's DACL");
        let entry = match read.await {
            Ok(entry) => entry,
            Err(LdapError::Permission { .. } | LdapError::Referral { .. }) => None,
            Err(e) => return Err(e),
        };
        let Some(bytes) = entry.as_ref().and_then(|e| e.raw("nTSecurityDescriptor").first()) else { break };
        let Ok(sd) = SecurityDescriptor::parse(bytes) else { break };
        let aces =
            sd.dacl_aces().into_iter().flatten().filter_map(|v| v.ok().and_then(|v| v.to_owned().ok())).collect();
        out.push(AncestorDacl { dn: ancestor, aces, protected: sd.dacl_protected() });
    }
    Ok(out)
}

/// Names every deciding ACE's trustee and, for a group, the path through which the account holds it.
async fn name_trustees(
    session: &mut Session,
    basis: &Basis,
    domain_sid: &Sid,
    views: &mut [DcExplanation],
    notes: &mut Vec<String>,
) -> Result<(), LdapError> {
    let mut graphs: HashMap<String, Memberships> = HashMap::new();
    let mut names: HashMap<String, String> = HashMap::new();
    for view in views.iter_mut() {
        for rights in &mut view.accounts {
            let Some(account) = basis.accounts.iter().find(|a| a.dn == rights.account_dn) else { continue };
            for ace in rights.rights.iter_mut().filter_map(|r| r.ace.as_mut()) {
                let Ok(sid) = ace.trustee.sid.parse::<Sid>() else { continue };
                if sid == account.sid {
                    ace.trustee.name = account.sam.clone();
                    ace.trustee.matched_as = "account";
                    continue;
                }
                if let Some(name) = rights::well_known_name(&sid) {
                    ace.trustee.name = name.to_string();
                    ace.trustee.matched_as = if sid == well_known::self_sid() { "self" } else { "well_known" };
                    continue;
                }
                if !graphs.contains_key(&account.dn) {
                    let graph = groups::walk(session, &account.dn, domain_sid).await?;
                    if graph.truncated {
                        notes.push(format!(
                            "the group walk of {} stopped at {} groups or {} levels",
                            account.sam,
                            groups::MAX_GROUPS,
                            groups::MAX_DEPTH
                        ));
                    }
                    graphs.insert(account.dn.clone(), graph);
                }
                let graph = &graphs[&account.dn];
                if let Some((path, _primary)) = graph.path_to_sid(&sid) {
                    ace.trustee.name = path.first().cloned().unwrap_or_default();
                    ace.trustee.matched_as = "group";
                    ace.trustee.path = path;
                    continue;
                }
                let key = sid.to_string();
                if !names.contains_key(&key) {
                    let read = session.read(&format!("<SID={key}>"), &["sAMAccountName"], "name a trustee").await;
                    let name = read.ok().flatten().and_then(|e| e.first("sAMAccountName").map(str::to_string));
                    names.insert(key.clone(), name.unwrap_or_else(|| key.clone()));
                }
                ace.trustee.name = names[&key].clone();
            }
        }
    }
    Ok(())
}
