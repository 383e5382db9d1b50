//! The shared read of the bound domain's Group Policy (`Need::GroupPolicy`): the links and GPO objects over LDAP,
//! then their security templates over one SMB session to the same DC. Read once per cycle for `ad_gpo` and for
//! `ad_monitoring_read`'s SYSVOL check: each SMB logon costs the DC a new smbd process and an NTLM logon (about
//! 0.15 s of Samba CPU, docs/benchmarks.md).

use std::net::IpAddr;

use super::links::{parse_gplink, Link, LinkedAt};
use super::template::{Setting, Template};
use super::{inf, sysvol, Gpo, Observed, SysvolError, TemplateState};
use crate::ad::security::Sid;
use crate::ad::values::{dn_to_dns_name, interval_seconds, max_age_seconds};
use crate::ad::{AdContext, Entry, LdapError, Session};
use crate::base::{ProbeError, Reason};

/// The Default Domain Policy's GUID (the same in every domain).
const DEFAULT_DOMAIN_POLICY: &str = "{31B2F340-016D-11D2-945F-00C04FB984F9}";

/// One cycle's read of the bound domain's Group Policy.
#[derive(Debug)]
pub struct GroupPolicy {
    /// The DC both reads came from.
    pub server: String,
    /// What the directory holds, with each GPO's template when SYSVOL was read (`connectors` stays empty: that is
    /// another shared read).
    pub observed: Observed,
    /// Why SYSVOL could not be read: kept, so that the cycle's other probe learns it without logging on again.
    pub sysvol: Result<(), SysvolFailure>,
}

/// A failed SYSVOL read, as [`ProbeError::Failed`] carries it (that error is not `Clone`; this is shared).
#[derive(Debug, Clone)]
pub struct SysvolFailure {
    pub reason: Reason,
    pub message: String,
}

impl From<&SysvolFailure> for ProbeError {
    fn from(f: &SysvolFailure) -> ProbeError {
        ProbeError::Failed { reason: f.reason, message: f.message.clone() }
    }
}

/// Reads the directory on the first DC that answers, then SYSVOL on that DC.
///
/// # Errors
/// No DC answers, or the directory cannot be read (nothing is cached then). A SYSVOL failure is not an error here:
/// it is in [`GroupPolicy::sysvol`].
pub(crate) async fn read(ctx: &AdContext) -> Result<GroupPolicy, ProbeError> {
    let (mut session, root) = ctx.any_dc().await?;
    let read = read_directory(ctx, &mut session, &root.default_naming_context).await;
    let server = session.server().to_string();
    session.close().await;
    let (mut observed, gpos) = read?;
    let sysvol = match read_templates(ctx, &server, &observed.domain, gpos).await {
        Ok(templates) => {
            observed.gpos = templates;
            Ok(())
        }
        Err(e) => Err(SysvolFailure { reason: e.reason(), message: e.to_string() }),
    };
    Ok(GroupPolicy { server, observed, sysvol })
}

const DOMAIN_ATTRS: [&str; 8] = [
    "gPLink",
    "objectSid",
    "minPwdAge",
    "maxPwdAge",
    "minPwdLength",
    "pwdHistoryLength",
    "pwdProperties",
    "lockoutThreshold",
];
const GPO_ATTRS: [&str; 4] = ["displayName", "gPCFileSysPath", "versionNumber", "flags"];
const GPO_FLAG_COMPUTER_DISABLED: i64 = 0x2;

async fn read_directory(
    ctx: &AdContext,
    session: &mut Session,
    domain_dn: &str,
) -> Result<(Observed, Vec<Gpo>), ProbeError> {
    let domain =
        dn_to_dns_name(domain_dn).ok_or_else(|| ProbeError::Other(format!("no domain name in {domain_dn}")))?;
    let root = session
        .read(domain_dn, &DOMAIN_ATTRS, "read the domain's gPLink and password policy")
        .await?
        .ok_or_else(|| ProbeError::Other("the domain root object was not found".to_string()))?;
    let mut links = gplinks(&root, LinkedAt::Domain, domain_dn);
    let ou = format!("OU=Domain Controllers,{domain_dn}");
    let ou_entry = session.read(&ou, &["gPLink", "gPOptions"], "read the Domain Controllers OU's gPLink").await?;
    let dc_ou_blocked = ou_entry.as_ref().and_then(|e| e.int("gPOptions").ok().flatten()).is_some_and(|o| o & 1 != 0);
    if let Some(entry) = &ou_entry {
        links.extend(gplinks(entry, LinkedAt::DomainControllers, &ou));
    }

    let mut gpos: Vec<Gpo> = Vec::new();
    let mut dangling = Vec::new();
    for link in &links {
        if gpos.iter().any(|g| g.guid == link.guid) || dangling.iter().any(|d: &Link| d.guid == link.guid) {
            continue;
        }
        match session.read(&link.dn, &GPO_ATTRS, "read a linked GPO").await? {
            Some(entry) => gpos.push(gpo_from(&entry, &link.guid)),
            None => dangling.push(link.clone()),
        }
    }
    let domain_values = domain_values(&root);
    let domain_sid = root.raw("objectSid").first().and_then(|b| Sid::from_bytes(b).ok()).map(|(sid, _)| sid);
    // ad_gpo needs the connector accounts next: read them (once per cycle, shared) while this session is open.
    ctx.connectors(session, domain_dn).await?;
    let observed = Observed {
        domain,
        domain_dn: domain_dn.to_string(),
        links,
        dc_ou_blocked,
        gpos: Vec::new(),
        dangling,
        domain_values,
        domain_sid,
        connectors: Vec::new(),
    };
    Ok((observed, gpos))
}

fn gplinks(entry: &Entry, at: LinkedAt, container: &str) -> Vec<Link> {
    let value = entry.first("gPLink").unwrap_or_default();
    let (links, bad) = parse_gplink(value, at);
    for part in bad {
        tracing::warn!(%container, link = %part, "ignoring a malformed gPLink entry");
    }
    links
}

fn gpo_from(entry: &Entry, guid: &str) -> Gpo {
    let flags = entry.int("flags").ok().flatten().unwrap_or(0);
    Gpo {
        guid: guid.to_string(),
        name: entry.first("displayName").filter(|n| !n.trim().is_empty()).unwrap_or(guid).to_string(),
        file_sys_path: entry.first("gPCFileSysPath").map(str::to_string),
        version: entry.int("versionNumber").ok().flatten(),
        computer_disabled: flags & GPO_FLAG_COMPUTER_DISABLED != 0,
    }
}

fn domain_values(root: &Entry) -> Vec<(Setting, f64)> {
    let int = |name: &str| root.int(name).ok().flatten();
    Setting::ALL
        .iter()
        .filter_map(|s| {
            let raw = int(s.attribute())?;
            let value = match s {
                Setting::MinPasswordAge => interval_seconds(raw),
                Setting::MaxPasswordAge => max_age_seconds(raw),
                Setting::Complexity => f64::from(u8::from(raw & 0x1 != 0)),
                _ => raw as f64,
            };
            Some((*s, value))
        })
        .collect()
}

/// Reads each GPO's template over one SMB session to `server` (the DC the LDAP reads came from). When no template
/// applies, the Default Domain Policy's `GPT.INI` instead: the logon and a read are still proven (for
/// `ad_monitoring_read`).
async fn read_templates(
    ctx: &AdContext,
    server: &str,
    domain: &str,
    gpos: Vec<Gpo>,
) -> Result<Vec<(Gpo, TemplateState)>, ProbeError> {
    let share = connect_sysvol(ctx, server).await?;
    let mut out = Vec::with_capacity(gpos.len());
    let mut failure = None;
    for gpo in gpos {
        if gpo.computer_disabled {
            out.push((gpo, TemplateState::Skipped));
            continue;
        }
        let path = sysvol::template_path(gpo.file_sys_path.as_deref(), domain, &gpo.guid);
        let state = match share.read(&path).await {
            Ok(None) => TemplateState::Absent,
            Ok(Some(bytes)) => match inf::Inf::from_bytes(&bytes).and_then(|inf| Template::from_inf(&inf)) {
                Ok(template) => TemplateState::Read(template),
                Err(e) => {
                    let message = format!("GptTmpl.inf of GPO \"{}\" {} ({path}): {e}", gpo.name, gpo.guid);
                    tracing::warn!(gpo = %gpo.name, error = %e, "malformed security template");
                    TemplateState::Malformed(message)
                }
            },
            Err(e) => {
                failure = Some(e);
                break;
            }
        };
        out.push((gpo, state));
    }
    if failure.is_none() && out.iter().all(|(_, state)| matches!(state, TemplateState::Skipped)) {
        failure = share.read(&format!(r"{domain}\Policies\{DEFAULT_DOMAIN_POLICY}\GPT.INI")).await.err();
    }
    share.close().await;
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(out),
    }
}

/// One SMB session to `\\<server>\SYSVOL` as the bind account.
///
/// # Errors
/// No bind password, name resolution, and the classified connect and logon failures.
async fn connect_sysvol(ctx: &AdContext, server: &str) -> Result<sysvol::Sysvol, ProbeError> {
    let port = ctx.cfg.smb_port;
    let address = resolve(ctx, server, port).await?;
    let user = ctx.cfg.bind.user.clone().unwrap_or_default();
    let password = match &ctx.cfg.bind.password {
        Some(source) => source.read().map_err(SysvolError::Secret)?,
        None => return Err(SysvolError::Config("no bind password configured".to_string()).into()),
    };
    Ok(sysvol::Sysvol::connect(server, address, port, &user, password.expose().to_string(), ctx.op_timeout).await?)
}

/// The address of the DC's SMB service: the LDAP URL's host, resolved as the LDAP session resolved it.
async fn resolve(ctx: &AdContext, host: &str, port: u16) -> Result<IpAddr, ProbeError> {
    if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok(ip);
    }
    if let Ok(dns) = &ctx.dns {
        if dns.is_custom() {
            let ips = dns.resolve(host, ctx.op_timeout).await?;
            return ips.into_iter().next().ok_or_else(|| {
                LdapError::Connect { server: host.to_string(), detail: "the name has no address".to_string() }.into()
            });
        }
    }
    let lookup = tokio::time::timeout(ctx.op_timeout, tokio::net::lookup_host((host, port))).await;
    match lookup {
        Ok(Ok(mut addrs)) => addrs.next().map(|a| a.ip()).ok_or_else(|| no_address(host, port, "no address")),
        Ok(Err(e)) => Err(no_address(host, port, &e.to_string())),
        Err(_) => Err(no_address(host, port, "name resolution timed out")),
    }
}

fn no_address(host: &str, port: u16, detail: &str) -> ProbeError {
    SysvolError::Connect { server: host.to_string(), port, detail: detail.to_string() }.into()
}
