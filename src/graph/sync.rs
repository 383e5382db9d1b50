//! Probe `entra_sync`: is directory sync on and recent (organization), and which Entra Connect version last
//! exported (beta `directory/onPremisesSynchronization`)? A refused beta call still publishes the organization part.

use serde::Deserialize;
use std::borrow::Cow;

use super::client::Endpoint;
use super::time::{format_rfc3339, parse_rfc3339};
use super::{EntraContext, GraphError};
use crate::base::{gauge, unix_now, Check, MetricDef, Probe, ProbeError, ProbeOutput, Status};
use crate::config::EntraTarget;

// --- metrics served by this probe
pub static ENTRA_SYNC_ENABLED: MetricDef = gauge(
    "writeback_entra_sync_enabled",
    &[],
    "1 if the organization's onPremisesSyncEnabled is true (false or null: 0).",
);
pub static ENTRA_LAST_SYNC: MetricDef = gauge(
    "writeback_entra_last_sync_timestamp_seconds",
    &[],
    "The organization's onPremisesLastSyncDateTime, Unix seconds; absent when never synchronized.",
);
pub static ENTRA_LAST_PASSWORD_SYNC: MetricDef = gauge(
    "writeback_entra_last_password_sync_timestamp_seconds",
    &[],
    "The organization's onPremisesLastPasswordSyncDateTime, Unix seconds; absent when Graph does not report it.",
);
pub static ENTRA_PASSWORD_WRITEBACK_FEATURE_ENABLED: MetricDef = gauge(
    "writeback_entra_password_writeback_feature_enabled",
    &[],
    "features.passwordWritebackEnabled of beta directory/onPremisesSynchronization (informational: Microsoft documents it as not in use; never alert on it alone).",
);
pub static CONNECT_INFO: MetricDef = gauge(
    "writeback_connect_info",
    &["server", "version"],
    "1 for the Entra Connect server that last exported (currentExportData.clientMachineName, lower case) with its synchronizationClientVersion.",
);
pub static CONNECT_VERSION_SUPPORTED: MetricDef = gauge(
    "writeback_connect_version_supported",
    &["server"],
    "1 if the Entra Connect version is at least the configured min_connect_version (default 2.5.79.0), compared numerically.",
);
pub static ENTRA_API_PERMISSION_MISSING: MetricDef = gauge(
    "writeback_entra_api_permission_missing",
    &["endpoint"],
    "1 if Graph refused this endpoint with 403 (the app lacks its application permission or admin consent), so the metrics it feeds are absent; 0 when it answered.",
);

mod verdict;

pub use verdict::{connect_verdict, sync_age_check, MAX_SYNC_AGE_SECONDS};

const ORGANIZATION: Endpoint =
    Endpoint { path: Cow::Borrowed("v1.0/organization"), permission: "Organization.Read.All", audit: false };
/// The `endpoint` label of `writeback_entra_api_permission_missing`.
pub const ON_PREMISES_SYNCHRONIZATION_LABEL: &str = "beta/directory/onPremisesSynchronization";
const ON_PREMISES_SYNCHRONIZATION: Endpoint = Endpoint {
    path: Cow::Borrowed("beta/directory/onPremisesSynchronization"),
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

/// The probe: directory sync state, the Connect server and its version.
pub static PROBE: Probe<EntraContext, EntraTarget> = Probe {
    name: "entra_sync",
    metrics: &[
        &ENTRA_SYNC_ENABLED,
        &ENTRA_LAST_SYNC,
        &ENTRA_LAST_PASSWORD_SYNC,
        &ENTRA_PASSWORD_WRITEBACK_FEATURE_ENABLED,
        &CONNECT_INFO,
        &CONNECT_VERSION_SUPPORTED,
        &ENTRA_API_PERMISSION_MISSING,
    ],
    needs: &[],
    default_interval: None,
    enabled: |_| true,
    run: |ctx| Box::pin(run(ctx)),
};

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
    out.sample(&ENTRA_SYNC_ENABLED, &[], f64::from(u8::from(enabled)));
    let last_sync = org.on_premises_last_sync_date_time.as_deref().and_then(parse_rfc3339);
    if let Some(t) = last_sync {
        out.sample(&ENTRA_LAST_SYNC, &[], t);
    }
    if let Some(t) = org.on_premises_last_password_sync_date_time.as_deref().and_then(parse_rfc3339) {
        out.sample(&ENTRA_LAST_PASSWORD_SYNC, &[], t);
    }
    out.checks.push(sync_enabled_check(org.on_premises_sync_enabled));
    if enabled || last_sync.is_some() {
        out.checks.push(sync_age_check(last_sync, now));
    }

    let missing = matches!(connect, Connect::PermissionMissing(_));
    out.sample(&ENTRA_API_PERMISSION_MISSING, &[ON_PREMISES_SYNCHRONIZATION_LABEL], f64::from(u8::from(missing)));
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
        out.sample(&ENTRA_PASSWORD_WRITEBACK_FEATURE_ENABLED, &[], f64::from(u8::from(flag)));
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
    out.sample(&CONNECT_INFO, &[&server, raw_version], 1.0);
    let min = ctx.cfg.min_connect_version;
    let verdict = raw_version.parse().map(|v| connect_verdict(v, min, ctx.cfg.cloud, now));
    if let Ok(v) = &verdict {
        out.sample(&CONNECT_VERSION_SUPPORTED, &[&server], f64::from(u8::from(v.supported)));
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
