//! Probe `ad_gpo`: the password policy and RestrictRemoteSAM as the Group Policy objects define them.
//!
//! The domain object's `minPwdAge` (probe `ad_policy`) is the result; this reads the cause: the GPOs linked at the
//! domain root and at `OU=Domain Controllers` (LDAP: `gPLink`, `groupPolicyContainer`), and their security
//! templates in SYSVOL (SMB, same credentials, the same DC). So it can name the GPO that sets a minimum password
//! age, see a corrected GPO that has not been applied yet (drift), and judge RestrictRemoteSAM for each connector
//! account.
//!
//! - [`inf`]: `GptTmpl.inf` decoding and parsing (pure, fuzzed).
//! - [`links`]: `gPLink` parsing and precedence.
//! - [`template`]: the settings a template holds; the RestrictRemoteSAM access check.
//! - [`sysvol`]: the SMB client.
//! - `evaluate`: samples and checks from what was read.

mod evaluate;
pub mod inf;
pub mod links;
mod metrics;
mod sysvol;
pub mod template;

use std::net::IpAddr;

pub use sysvol::SysvolError;

use self::links::{parse_gplink, Link, LinkedAt};
use self::template::{Setting, Template};
use super::connector::ConnectorAccount;
use super::security::Sid;
use super::values::{dn_to_dns_name, interval_seconds, max_age_seconds};
use super::{AdContext, Entry, LdapError, Session};
use crate::base::{Need, Probe, ProbeError, ProbeOutput};
use crate::config::AdTarget;

/// A `groupPolicyContainer` as the probe needs it.
#[derive(Debug, Clone)]
pub struct Gpo {
    /// `{GUID}`, upper case.
    pub guid: String,
    /// `displayName` (the `gpo` label); the GUID when the name is not readable.
    pub name: String,
    pub file_sys_path: Option<String>,
    pub version: Option<i64>,
    /// `flags` bit 0x2: the computer configuration part is disabled, so its security settings do not apply.
    pub computer_disabled: bool,
}

/// What the GPO's `GptTmpl.inf` gave.
#[derive(Debug, Clone)]
pub enum TemplateState {
    /// No such file: the GPO sets no security settings.
    Absent,
    Read(Template),
    /// Read but malformed: the message names the GPO and the line.
    Malformed(String),
    /// Not read: the computer side of the GPO is disabled.
    Skipped,
}

/// Everything read from the directory and SYSVOL, for [`evaluate::evaluate`].
#[derive(Debug)]
pub struct Observed {
    pub domain: String,
    pub domain_dn: String,
    /// Enabled and disabled links of both containers.
    pub links: Vec<Link>,
    /// `gPOptions` of the Domain Controllers OU has Block Inheritance.
    pub dc_ou_blocked: bool,
    /// Linked GPOs found in the directory, with their template; links to GPOs not found are in `dangling`.
    pub gpos: Vec<(Gpo, TemplateState)>,
    pub dangling: Vec<Link>,
    /// The domain object's values of each setting, in metric units.
    pub domain_values: Vec<(Setting, f64)>,
    pub domain_sid: Option<Sid>,
    pub connectors: Vec<ConnectorAccount>,
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

/// The probe: on with a simple bind, off with Kerberos unless `gpo: true` (validated: SMB logs on with the bind
/// password).
pub static PROBE: Probe<AdContext, AdTarget> = Probe {
    name: "ad_gpo",
    metrics: &[
        &metrics::AD_GPO_INFO,
        &metrics::AD_GPO_LINK_ORDER,
        &metrics::AD_GPO_MIN_PASSWORD_AGE,
        &metrics::AD_GPO_PASSWORD_POLICY_DRIFT,
        &metrics::AD_RESTRICT_REMOTE_SAM_CONFIGURED,
        &metrics::AD_RESTRICT_REMOTE_SAM_ALLOWS_CONNECTOR,
        &metrics::AD_GPO_TEMPLATE_READABLE,
    ],
    needs: &[Need::DomainControllers, Need::ConnectorAccounts],
    default_interval: None,
    enabled: |ad| ad.gpo,
    run: |ctx| Box::pin(run(ctx)),
};

/// # Errors
/// No DC answers; the directory cannot be read; SYSVOL cannot be reached or read (`connect`, `auth`,
/// `permission`, `timeout`): never a silent pass.
pub async fn run(ctx: &AdContext) -> Result<ProbeOutput, ProbeError> {
    let (mut session, root) = ctx.any_dc().await?;
    let read = read_directory(ctx, &mut session, &root.default_naming_context).await;
    let server = session.server().to_string();
    session.close().await;
    let (mut observed, gpos) = read?;
    observed.gpos = read_templates(ctx, &server, &observed.domain, gpos).await?;
    Ok(evaluate::evaluate(&observed))
}

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
    // Shared with ad_connector, ad_acl and ad_users: one read of the accounts and their tokenGroups per cycle.
    let connectors = ctx.connectors(session, domain_dn).await?;
    let observed = Observed {
        domain,
        domain_dn: domain_dn.to_string(),
        links,
        dc_ou_blocked,
        gpos: Vec::new(),
        dangling,
        domain_values,
        domain_sid,
        connectors: connectors.accounts.clone(),
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

/// Reads each GPO's template over one SMB session to `server` (the DC the LDAP reads came from).
async fn read_templates(
    ctx: &AdContext,
    server: &str,
    domain: &str,
    gpos: Vec<Gpo>,
) -> Result<Vec<(Gpo, TemplateState)>, ProbeError> {
    if gpos.iter().all(|g| g.computer_disabled) {
        return Ok(gpos.into_iter().map(|g| (g, TemplateState::Skipped)).collect());
    }
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
    share.close().await;
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(out),
    }
}

/// One SMB session to `\\<server>\SYSVOL` as the bind account (also for `ad_monitoring_read`).
///
/// # Errors
/// No bind password, name resolution, and the classified connect and logon failures.
pub(crate) async fn connect_sysvol(ctx: &AdContext, server: &str) -> Result<sysvol::Sysvol, ProbeError> {
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
