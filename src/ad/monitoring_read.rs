//! Probe `ad_monitoring_read`: what the monitoring account can read of what the other AD probes need, checked in
//! one place. A plain account on Windows reads less than on Samba, and each gap makes another probe see less than
//! there is (never an error there): this probe names each gap and the grant that closes it.
//!
//! - `token_groups`: the connector accounts' `tokenGroups` (the shared read of `ad_connector`, `ad_acl`,
//!   `ad_users`, `ad_gpo`; not read again here). Without it the connectors' group memberships are not considered.
//! - `admin_count`: `adminCount` of the domain's built-in Administrator (RID 500), which always has adminCount=1.
//!   Without it `ad_users` recognizes AdminSDHolder-protected users by their DACL alone.
//! - `password_settings`: the Password Settings Container and its PSOs (`ad_policy`).
//! - `sysvol`: the GPO templates in `\\<DC>\SYSVOL` that `ad_gpo` reads (the shared read of both probes: one SMB
//!   logon per cycle; checked where `ad_gpo` runs).
//! - `tombstones`: CN=Deleted Objects with the Show Deleted control (`ad_users`' incremental cycles).

use ldap3::controls::RawControl;
use ldap3::Scope;

use super::connector::Connectors;
use super::forest;
use super::security::Sid;
use super::values::dn_to_dns_name;
use super::{AdContext, LdapError, Session};
use crate::base::{gauge, Check, MetricDef, Need, Probe, ProbeError, ProbeOutput, Reason, Status};
use crate::config::AdTarget;

pub static AD_MONITORING_READ: MetricDef = gauge(
    "writeback_ad_monitoring_read",
    &["domain", "what"],
    "1 when the monitoring account can read it, 0 when not (the probe that needs it then sees less); what: token_groups, admin_count, password_settings, sysvol, tombstones.",
);

/// The probe: once per cycle (and so at start), every read the other AD probes need that a plain account may lack.
pub static PROBE: Probe<AdContext, AdTarget> = Probe {
    name: "ad_monitoring_read",
    metrics: &[&AD_MONITORING_READ],
    needs: &[Need::DomainControllers, Need::ConnectorAccounts, Need::ForestDomains, Need::GroupPolicy],
    default_interval: None,
    enabled: |_| true,
    run: |ctx| Box::pin(run(ctx)),
};

/// LDAP_SERVER_SHOW_DELETED_OID, as `ad_users` sends it.
const SHOW_DELETED: &str = "1.2.840.113556.1.4.417";
/// The well-known GUID of CN=Deleted Objects (`<WKGUID=...,<domain>>` names it whatever its name).
const DELETED_OBJECTS_WKGUID: &str = "18e2ea80684f11d2b9aa00c04f79f805";
const BUILTIN_ADMINISTRATOR_RID: u32 = 500;

/// What is checked, in the order `check` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    TokenGroups,
    AdminCount,
    PasswordSettings,
    Sysvol,
    Tombstones,
}

impl What {
    pub fn label(self) -> &'static str {
        match self {
            What::TokenGroups => "token_groups",
            What::AdminCount => "admin_count",
            What::PasswordSettings => "password_settings",
            What::Sysvol => "sysvol",
            What::Tombstones => "tombstones",
        }
    }

    fn title(self) -> &'static str {
        match self {
            What::TokenGroups => "The monitoring account reads the connector accounts' tokenGroups",
            What::AdminCount => "The monitoring account reads adminCount",
            What::PasswordSettings => "The monitoring account reads the Password Settings Container",
            What::Sysvol => "The monitoring account reads SYSVOL",
            What::Tombstones => "The monitoring account reads tombstones (CN=Deleted Objects)",
        }
    }
}

/// One read tried: readable or not, and what was seen.
#[derive(Debug, Clone)]
struct Read {
    what: What,
    readable: bool,
    observed: String,
    /// The grant, when not readable.
    fix: Option<String>,
}

/// # Errors
/// No DC answers, or LDAP failures in the bound domain. Another forest domain's failure is reported on its own.
pub async fn run(ctx: &AdContext) -> Result<ProbeOutput, ProbeError> {
    let (mut session, root) = ctx.any_dc().await?;
    let domain_dn = root.default_naming_context.clone();
    let monitor = monitor_principal(ctx);
    let result = async {
        let domain = dn_to_dns_name(&domain_dn)
            .ok_or_else(|| ProbeError::Other(format!("cannot derive a domain name from {domain_dn}")))?;
        let mut out = ProbeOutput::default();
        let forest = ctx.forest(&mut session, &root).await;
        forest.note(&mut out);
        // The shared read of this cycle: tokenGroups are read once, by whichever probe comes first.
        let connectors = ctx.connectors(&mut session, &domain_dn).await?;
        let mut reads: Vec<Read> = token_groups(&connectors, &monitor).into_iter().collect();
        reads.extend(read_domain(&mut session, &domain_dn, ctx.cfg.page_size, &monitor).await?);
        Ok::<_, ProbeError>((out, forest, domain, reads))
    }
    .await;
    session.close().await;
    let (mut out, forest, domain, mut reads) = result?;
    let mut unchecked = None;
    if ctx.cfg.gpo {
        match sysvol(ctx, &domain, &monitor).await {
            Ok(read) => reads.push(read),
            Err(e) => unchecked = Some(e),
        }
    }
    reads.sort_by_key(|r| r.what as u8);
    emit(&domain, &reads, &mut out);
    if let Some(e) = unchecked {
        // No series: whether SYSVOL is readable is not known this cycle.
        out.checks.push(Check {
            id: "ad_monitoring_read",
            subject: format!("{domain}: {}", What::Sysvol.label()),
            title: What::Sysvol.title().to_string(),
            status: Status::Warn,
            observed: format!("not checked: the Group Policy objects could not be read from the directory: {e}"),
            remediation: Some("See ad_gpo's failure: SYSVOL is read for the GPOs the directory links.".to_string()),
        });
    }

    let mut others = forest.scope_groups(&ctx.cfg.scopes);
    others.retain(|(d, _)| !d.nc.eq_ignore_ascii_case(&domain_dn));
    let monitor = &monitor;
    forest::fan_out(ctx, &others, "monitoring account reads", &mut out, |mut session, _, domain, _| async move {
        let reads = read_domain(&mut session, &domain.nc, ctx.cfg.page_size, monitor).await;
        let part = reads.map(|reads| {
            let mut part = ProbeOutput::default();
            emit(&domain.name, &reads, &mut part);
            part
        });
        (session, part)
    })
    .await;
    Ok(out)
}

fn emit(domain: &str, reads: &[Read], out: &mut ProbeOutput) {
    for read in reads {
        out.sample(&AD_MONITORING_READ, &[domain, read.what.label()], f64::from(u8::from(read.readable)));
        out.checks.push(Check {
            id: "ad_monitoring_read",
            subject: format!("{domain}: {}", read.what.label()),
            title: read.what.title().to_string(),
            status: if read.readable { Status::Pass } else { Status::Warn },
            observed: read.observed.clone(),
            remediation: read.fix.clone(),
        });
    }
}

/// The monitoring account as `dsacls` and `icacls` name it: the configured UPN or `DOMAIN\name` (a DN or a Kerberos
/// bind without a name gets a placeholder).
pub(crate) fn monitor_principal(ctx: &AdContext) -> String {
    match ctx.cfg.bind.user.as_deref().map(str::trim) {
        Some(user) if !user.is_empty() && !user.contains('=') => user.to_string(),
        _ => "DOMAIN\\<monitoring account>".to_string(),
    }
}

/// From the connector accounts read this cycle: `None` when there are none (nothing to tell).
fn token_groups(connectors: &Connectors, monitor: &str) -> Option<Read> {
    if connectors.accounts.is_empty() {
        return None;
    }
    let hidden: Vec<_> = connectors.accounts.iter().filter(|a| !a.groups_known).collect();
    let names = |list: &[&crate::ad::connector::ConnectorAccount]| {
        list.iter().map(|a| a.sam.as_str()).collect::<Vec<_>>().join(", ")
    };
    if hidden.is_empty() {
        let all: Vec<_> = connectors.accounts.iter().collect();
        return Some(Read {
            what: What::TokenGroups,
            readable: true,
            observed: format!("tokenGroups read for {}", names(&all)),
            fix: None,
        });
    }
    let grants: Vec<String> =
        hidden.iter().map(|a| format!("dsacls \"{}\" /G \"{monitor}:RP;tokenGroups\"", a.dn)).collect();
    Some(Read {
        what: What::TokenGroups,
        readable: false,
        observed: format!(
            "tokenGroups of {} not returned: the connector's group memberships are not considered, so grants and \
             deny ACEs through groups are missed",
            names(&hidden)
        ),
        fix: Some(format!(
            "Let the monitoring account read tokenGroups on each connector account: {}; or add it to BUILTIN\\Pre-Windows \
             2000 Compatible Access (whose read of all user properties, granted on the domain root, includes tokenGroups).",
            grants.join("; ")
        )),
    })
}

/// The LDAP reads of one domain: adminCount, the Password Settings Container, tombstones.
async fn read_domain(
    session: &mut Session,
    domain_dn: &str,
    page_size: u32,
    monitor: &str,
) -> Result<Vec<Read>, LdapError> {
    let mut reads = Vec::new();
    match admin_count_readable(session, domain_dn).await? {
        Some(true) => reads.push(Read {
            what: What::AdminCount,
            readable: true,
            observed: "adminCount of the built-in Administrator is returned".to_string(),
            fix: None,
        }),
        Some(false) => reads.push(Read {
            what: What::AdminCount,
            readable: false,
            observed: "adminCount of the built-in Administrator (which always has adminCount=1) is not returned: \
                       ad_users recognizes AdminSDHolder-protected users by their DACL only (protected from \
                       inheritance and equal to AdminSDHolder's)"
                .to_string(),
            fix: Some(admin_count_fix(domain_dn, monitor)),
        }),
        None => {
            tracing::info!(domain = %domain_dn, "the built-in Administrator is not visible: adminCount readability unknown")
        }
    }
    reads.push(password_settings(session, domain_dn, page_size, monitor).await?);
    reads.push(tombstones(session, domain_dn, monitor).await?);
    Ok(reads)
}

/// The grant that lets the monitoring account read adminCount on every user of the domain (`ad_users` uses it
/// for the scopes too).
pub(crate) fn admin_count_fix(scope: &str, monitor: &str) -> String {
    format!(
        "Let the monitoring account read adminCount on users: dsacls \"{scope}\" /I:S /G \"{monitor}:RP;adminCount;user\" \
         \"{monitor}:RP;adminCount;inetOrgPerson\"; or add it to BUILTIN\\Pre-Windows 2000 Compatible Access (the \
         domain root grants that group read of every property of users)."
    )
}

/// Whether the monitoring account reads adminCount: on the domain's built-in Administrator (RID 500), which always
/// carries adminCount=1 (`<SID=...>` names it whatever its name and place). `None` when that cannot be told (no
/// readable domain SID, or the account not visible).
///
/// # Errors
/// LDAP failures other than a refused read.
pub(crate) async fn admin_count_readable(session: &mut Session, domain_dn: &str) -> Result<Option<bool>, LdapError> {
    let root = session.read(domain_dn, &["objectSid"], "read the domain SID").await?;
    let sid = root.as_ref().and_then(|e| e.raw("objectSid").first()).and_then(|b| Sid::from_bytes(b).ok());
    let Some((sid, _)) = sid else { return Ok(None) };
    let dn = format!("<SID={sid}-{BUILTIN_ADMINISTRATOR_RID}>");
    let admin = match session.read(&dn, &["adminCount"], "read adminCount of the built-in Administrator").await {
        Ok(admin) => admin,
        Err(LdapError::Permission { .. }) => None,
        Err(e) => return Err(e),
    };
    Ok(admin.map(|e| !e.raw("adminCount").is_empty()))
}

/// The container and its PSOs, judged as `ad_policy` judges them (`writeback_ad_pso_readable`).
async fn password_settings(
    session: &mut Session,
    domain_dn: &str,
    page_size: u32,
    monitor: &str,
) -> Result<Read, LdapError> {
    let container = format!("CN=Password Settings Container,CN=System,{domain_dn}");
    let entry = match session.read(&container, &["cn"], "read the Password Settings Container").await {
        Ok(entry) => entry,
        Err(LdapError::Permission { .. }) => None,
        Err(e) => return Err(e),
    };
    let visible = entry.as_ref().is_some_and(|c| c.first("cn").is_some());
    let (mut psos, mut hidden) = (0usize, 0usize);
    if visible {
        let attrs = ["msDS-MinimumPasswordAge"];
        let filter = "(objectClass=msDS-PasswordSettings)";
        session
            .search_paged(&container, Scope::OneLevel, filter, &attrs, Vec::new(), page_size, "read PSOs", |e| {
                // Mandatory on a PSO: without it, the PSO's attributes are hidden.
                if e.raw("msDS-MinimumPasswordAge").is_empty() {
                    hidden += 1;
                } else {
                    psos += 1;
                }
            })
            .await?;
    }
    let fix = format!(
        "Let the monitoring account read the fine-grained password policies: dsacls \"{container}\" /I:T /G \
         \"{monitor}:GR\" (by default only Domain Admins may)."
    );
    Ok(match (visible, hidden) {
        (true, 0) => Read {
            what: What::PasswordSettings,
            readable: true,
            observed: format!("the container and its {psos} fine-grained password policies are readable"),
            fix: None,
        },
        (true, n) => Read {
            what: What::PasswordSettings,
            readable: false,
            observed: format!(
                "{n} fine-grained password policies are visible but not readable: their minimum password age is unknown"
            ),
            fix: Some(fix),
        },
        (false, _) => Read {
            what: What::PasswordSettings,
            readable: false,
            observed: "the Password Settings Container is not readable: fine-grained policies are unknown, not absent"
                .to_string(),
            fix: Some(fix),
        },
    })
}

/// CN=Deleted Objects read with Show Deleted: what `ad_users` needs to see deletions between full scans.
async fn tombstones(session: &mut Session, domain_dn: &str, monitor: &str) -> Result<Read, LdapError> {
    let dn = format!("<WKGUID={DELETED_OBJECTS_WKGUID},{domain_dn}>");
    let control = RawControl { ctype: SHOW_DELETED.to_string(), crit: false, val: None };
    let entry = match session.read_with(&dn, &["objectGUID"], vec![control], "read CN=Deleted Objects").await {
        Ok(entry) => entry,
        Err(LdapError::Permission { .. }) => None,
        Err(e) => return Err(e),
    };
    if entry.is_some_and(|e| !e.raw("objectGUID").is_empty()) {
        return Ok(Read {
            what: What::Tombstones,
            readable: true,
            observed: "CN=Deleted Objects is readable: ad_users sees deletions at its next cycle".to_string(),
            fix: None,
        });
    }
    let container = format!("CN=Deleted Objects,{domain_dn}");
    Ok(Read {
        what: What::Tombstones,
        readable: false,
        observed: "CN=Deleted Objects is not readable: deleted users stay counted by ad_users until its next full scan \
                   (full_scan_interval)"
            .to_string(),
        fix: Some(format!(
            "As a Domain Admin: dsacls \"{container}\" /takeownership, then dsacls \"{container}\" /G \"{monitor}:LCRP\"."
        )),
    })
}

/// SYSVOL as `ad_gpo` reads it this cycle (the shared read: one SMB logon serves both probes).
///
/// # Errors
/// The directory part of the shared read failed, so SYSVOL was not tried.
async fn sysvol(ctx: &AdContext, domain: &str, monitor: &str) -> Result<Read, ProbeError> {
    let read = ctx.group_policy().await?;
    let server = &read.server;
    Ok(match &read.sysvol {
        Ok(()) => Read {
            what: What::Sysvol,
            readable: true,
            observed: format!("\\\\{server}\\SYSVOL\\{domain}\\Policies is readable (the templates ad_gpo reads)"),
            fix: None,
        },
        Err(e) => {
            let denied = e.reason == Reason::Permission;
            Read {
                what: What::Sysvol,
                readable: false,
                observed: format!("SYSVOL cannot be read: {}", e.message),
                fix: Some(if denied {
                    format!(
                        "Give the monitoring account read access to SYSVOL (Authenticated Users have it by default): on \
                         each DC, icacls \"%SystemRoot%\\SYSVOL\\sysvol\\{domain}\\Policies\" /grant \"{monitor}:(OI)(CI)RX\", \
                         and Read on the SYSVOL share."
                    )
                } else {
                    format!(
                        "Let the exporter reach SMB (TCP {}) on the DC with the bind credentials (a UPN or DOMAIN\\name and \
                         its password; NTLM, signed); or set gpo: false to stop reading SYSVOL.",
                        ctx.cfg.smb_port
                    )
                }),
            }
        }
    })
}
