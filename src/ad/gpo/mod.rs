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
//! - [`read`]: the cycle's shared read of both (awaited by `ad_gpo` and `ad_monitoring_read`).
//! - `evaluate`: samples and checks from what was read.

mod evaluate;
pub mod inf;
pub mod links;
mod metrics;
pub mod read;
mod sysvol;
pub mod template;

pub use sysvol::SysvolError;

use self::links::Link;
use self::template::{Setting, Template};
use super::connector::ConnectorAccount;
use super::security::Sid;
use super::AdContext;
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
#[derive(Debug, Clone)]
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
    needs: &[Need::DomainControllers, Need::ConnectorAccounts, Need::GroupPolicy],
    default_interval: None,
    enabled: |ad| ad.gpo,
    run: |ctx| Box::pin(run(ctx)),
};

/// # Errors
/// No DC answers; the directory cannot be read; SYSVOL cannot be reached or read (`connect`, `auth`,
/// `permission`, `timeout`): never a silent pass.
pub async fn run(ctx: &AdContext) -> Result<ProbeOutput, ProbeError> {
    let read = ctx.group_policy().await?;
    read.sysvol.as_ref().map_err(ProbeError::from)?;
    let connectors = ctx.connectors_on_any_dc(&read.observed.domain_dn).await?;
    let observed = Observed { connectors: connectors.accounts.clone(), ..read.observed.clone() };
    Ok(evaluate::evaluate(&observed))
}
