//! Probe `entra_sync`: is directory sync on and recent (organization), and which Entra Connect version last
//! exported (beta `directory/onPremisesSynchronization`)? A refused beta call still publishes the organization part.

use serde::Deserialize;

use super::client::Endpoint;
use super::time::{format_rfc3339, parse_rfc3339};
use super::{EntraContext, GraphError};
use crate::metrics::catalog as m;
use crate::probe::{Check, ProbeError, ProbeOutput, Status};
use crate::snapshot::unix_now;

mod verdict;

pub use verdict::{connect_verdict, sync_age_check, MAX_SYNC_AGE_SECONDS};

const ORGANIZATION: Endpoint =
    Endpoint { path: "v1.0/organization", permission: "Organization.Read.All", audit: false };
/// The `endpoint` label of `writeback_entra_api_permission_missing`.
pub const ON_PREMISES_SYNCHRONIZATION_LABEL: &str = "beta/directory/onPremisesSynchronization";
const ON_PREMISES_SYNCHRONIZATION: Endpoint = Endpoint {
    path: "beta/directory/onPremisesSynchronization",
    permission: "OnPremDirectorySynchronization.Read.All",
    audit: false,
};

#[derive(Debug, Deserialize)]
struct Collection<T> {
    value: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Organization {
    pub on_premises_sync_enabled: Option<bool>,
    pub on_premises_last_sync_date_time: Option<String>,
    pub on_premises_last_password_sync_date_time: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OnPremisesSynchronization {
    pub configuration: Option<SyncConfiguration>,
    pub features: Option<SyncFeatures>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncConfiguration {
    pub synchronization_client_version: Option<String>,
    pub current_export_data: Option<ExportData>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExportData {
    pub client_machine_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncFeatures {
    pub password_writeback_enabled: Option<bool>,
    pub password_sync_enabled: Option<bool>,
}

/// What the beta call gave: the objects, or a 403 turned into data.
pub enum Connect {
    Read(Vec<OnPremisesSynchronization>),
    PermissionMissing(String),
}

/// # Errors
/// Token and Graph failures of the organization call, and beta failures other than 403.
pub async fn run(ctx: &EntraContext) -> Result<ProbeOutput, ProbeError> {
    let run = ctx.run();
    let org: Collection<Organization> = run.get(&ORGANIZATION, &[]).await?;
    let org = org.value.into_iter().next().ok_or_else(|| GraphError::Protocol {
        what: "GET /v1.0/organization".to_string(),
        detail: "no organization object in the answer".to_string(),
    })?;
    let connect = match run.get::<Collection<OnPremisesSynchronization>>(&ON_PREMISES_SYNCHRONIZATION, &[]).await {
        Ok(c) => Connect::Read(c.value),
        Err(e @ GraphError::Permission { .. }) => {
            tracing::warn!(
                target = %ctx.name,
                error = %e,
                "Graph refused the Connect version query; organization sync metrics are still published"
            );
            Connect::PermissionMissing(e.to_string())
        }
        Err(e) => return Err(e.into()),
    };
    Ok(output(&org, &connect, ctx, unix_now()))
}

/// Samples and checks (pure but for the config it reads).
pub fn output(org: &Organization, connect: &Connect, ctx: &EntraContext, now: f64) -> ProbeOutput {
    let mut out = ProbeOutput::default();
    let enabled = org.on_premises_sync_enabled == Some(true);
    out.sample(&m::ENTRA_SYNC_ENABLED, &[], f64::from(u8::from(enabled)));
    let last_sync = org.on_premises_last_sync_date_time.as_deref().and_then(parse_rfc3339);
    if let Some(t) = last_sync {
        out.sample(&m::ENTRA_LAST_SYNC, &[], t);
    }
    if let Some(t) = org.on_premises_last_password_sync_date_time.as_deref().and_then(parse_rfc3339) {
        out.sample(&m::ENTRA_LAST_PASSWORD_SYNC, &[], t);
    }
    out.checks.push(sync_enabled_check(org.on_premises_sync_enabled));
    if enabled || last_sync.is_some() {
        out.checks.push(sync_age_check(last_sync, now));
    }

    let missing = matches!(connect, Connect::PermissionMissing(_));
    out.sample(&m::ENTRA_API_PERMISSION_MISSING, &[ON_PREMISES_SYNCHRONIZATION_LABEL], f64::from(u8::from(missing)));
    match connect {
        Connect::PermissionMissing(error) => out.checks.push(permission_check(error)),
        Connect::Read(items) if items.is_empty() => out.checks.push(Check {
            id: "entra_connect_version",
            subject: "tenant".to_string(),
            title: "Entra Connect version supports writeback".to_string(),
            status: Status::Warn,
            observed: "Graph lists no on-premises synchronization configuration".to_string(),
            remediation: Some("Install Microsoft Entra Connect Sync and enable password writeback in it.".to_string()),
        }),
        Connect::Read(items) => {
            for item in items {
                add_connect(&mut out, item, ctx, now);
            }
        }
    }
    out
}

fn add_connect(out: &mut ProbeOutput, item: &OnPremisesSynchronization, ctx: &EntraContext, now: f64) {
    let config = item.configuration.as_ref();
    let server = config
        .and_then(|c| c.current_export_data.as_ref())
        .and_then(|d| d.client_machine_name.as_deref())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let raw_version = config.and_then(|c| c.synchronization_client_version.as_deref()).unwrap_or_default().trim();
    let writeback = item.features.as_ref().and_then(|f| f.password_writeback_enabled);
    if let Some(flag) = writeback {
        out.sample(&m::ENTRA_PASSWORD_WRITEBACK_FEATURE_ENABLED, &[], f64::from(u8::from(flag)));
    }
    let flag_text = match writeback {
        Some(true) => "features.passwordWritebackEnabled = true (informational)",
        Some(false) => "features.passwordWritebackEnabled = false (informational: documented as not in use)",
        None => "features.passwordWritebackEnabled not reported",
    };
    if raw_version.is_empty() {
        out.checks.push(Check {
            id: "entra_connect_version",
            subject: if server.is_empty() { "tenant".to_string() } else { server },
            title: "Entra Connect version supports writeback".to_string(),
            status: Status::Warn,
            observed: format!("Graph reports no synchronizationClientVersion; {flag_text}"),
            remediation: Some("Check that Entra Connect Sync has exported to this tenant at least once.".to_string()),
        });
        return;
    }
    out.sample(&m::CONNECT_INFO, &[&server, raw_version], 1.0);
    let min = ctx.cfg.min_connect_version;
    let verdict = raw_version.parse().map(|v| connect_verdict(v, min, ctx.cfg.cloud, now));
    if let Ok(v) = &verdict {
        out.sample(&m::CONNECT_VERSION_SUPPORTED, &[&server], f64::from(u8::from(v.supported)));
    }
    let subject = if server.is_empty() { "tenant".to_string() } else { server.clone() };
    let (status, observed, remediation) = match verdict {
        Ok(v) => (v.status, format!("version {raw_version}: {}; {flag_text}", v.why), v.remediation),
        Err(e) => (Status::Warn, format!("{e}; {flag_text}"), None),
    };
    let remediation = remediation.map(|r| {
        let on = if server.is_empty() { String::new() } else { format!(" on {server}") };
        format!("Upgrade Microsoft Entra Connect{on} to the current release (at least {min}). {r}")
    });
    out.checks.push(Check {
        id: "entra_connect_version",
        subject,
        title: "Entra Connect version supports writeback".to_string(),
        status,
        observed,
        remediation,
    });
}

fn sync_enabled_check(enabled: Option<bool>) -> Check {
    let ok = enabled == Some(true);
    Check {
        id: "entra_sync_enabled",
        subject: "tenant".to_string(),
        title: "Directory synchronization is enabled".to_string(),
        status: if ok { Status::Pass } else { Status::Fail },
        observed: match enabled {
            Some(v) => format!("onPremisesSyncEnabled = {v}"),
            None => "onPremisesSyncEnabled = null (never enabled)".to_string(),
        },
        remediation: (!ok).then(|| {
            "Password writeback needs users synchronized from Active Directory by Entra Connect Sync: install and \
             configure it (or re-enable sync: Set-MgOrganization ... OnPremisesSyncEnabled)."
                .to_string()
        }),
    }
}

fn permission_check(error: &str) -> Check {
    Check {
        id: "entra_connect_version",
        subject: "tenant".to_string(),
        title: "Entra Connect version supports writeback".to_string(),
        status: Status::Warn,
        observed: format!("the Connect version cannot be read: {error}"),
        remediation: Some(
            "Grant the app registration the Microsoft Graph application permission \
             OnPremDirectorySynchronization.Read.All and give admin consent; until then \
             writeback_entra_api_permission_missing{endpoint=\"beta/directory/onPremisesSynchronization\"} is 1."
                .to_string(),
        ),
    }
}

/// `format_rfc3339` for check texts.
pub(crate) fn when(unix: f64) -> String {
    format_rfc3339(unix)
}
