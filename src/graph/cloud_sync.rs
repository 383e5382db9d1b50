//! Probe `entra_cloud_sync`: the tenant's Entra Cloud Sync configurations (service principals made from the AD2AAD
//! application template, one per AD domain) and the state of their synchronization jobs, as `check` entries.
//! Microsoft Graph documents no application-permission read of the provisioning agents or of the "write back
//! passwords with Cloud Sync" switch (docs/entra-setup.md says why); a refused read is a WARN naming the permission.

use std::borrow::Cow;

use serde::Deserialize;

use super::client::Endpoint;
use super::error::clean;
use super::{EntraContext, GraphError};
use crate::base::{is_guid, Probe, ProbeError, ProbeOutput};
use crate::config::EntraTarget;

mod verdict;

pub use verdict::{configurations_check, job_check};

/// The AD2AAD application template (`applicationTemplates/1a4721b3-.../instantiate` creates a Cloud Sync
/// configuration's service principal; Microsoft's AADCloudSyncTools finds them by this filter).
pub const AD2AAD_TEMPLATE_ID: &str = "1a4721b3-e57f-4451-ae87-ef078703ec94";
/// Least-privileged application permission of `GET /servicePrincipals`.
pub const SERVICE_PRINCIPALS_PERMISSION: &str = "Application.Read.All";
/// Read-only application permission of `GET /servicePrincipals/{id}/synchronization/jobs`. Graph lists
/// `Application.ReadWrite.OwnedBy` as its least privileged one, but that is write-scoped and covers only service
/// principals the exporter's app owns, which Cloud Sync's are not.
pub const JOBS_PERMISSION: &str = "Synchronization.Read.All";

const SERVICE_PRINCIPALS: Endpoint =
    Endpoint { path: Cow::Borrowed("v1.0/servicePrincipals"), permission: SERVICE_PRINCIPALS_PERMISSION, audit: false };
/// One configuration per AD domain: a few pages at most.
const MAX_PAGES: usize = 10;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A `synchronizationJob` (v1.0 and beta share these fields).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncJob {
    pub id: String,
    pub template_id: Option<String>,
    pub schedule: Option<Schedule>,
    pub status: Option<JobStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Schedule {
    /// `Active`, `Disabled` or `Paused`.
    pub state: Option<String>,
    pub interval: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobStatus {
    /// `NotConfigured`, `NotRun`, `Active`, `Paused` or `Quarantine`.
    pub code: Option<String>,
    pub count_successive_complete_failures: Option<i64>,
    pub last_execution: Option<Execution>,
    pub last_successful_execution: Option<Execution>,
    pub quarantine: Option<Quarantine>,
}

/// A `synchronizationTaskExecution`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Execution {
    /// `Succeeded`, `Failed` or `EntryLevelErrors`.
    pub state: Option<String>,
    pub time_began: Option<String>,
    pub time_ended: Option<String>,
    pub error: Option<SyncError>,
}

/// A `synchronizationQuarantine`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Quarantine {
    pub reason: Option<String>,
    pub current_began: Option<String>,
    pub series_began: Option<String>,
    pub next_attempt: Option<String>,
    pub error: Option<SyncError>,
}

/// A `synchronizationError`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SyncError {
    pub code: Option<String>,
    pub message: Option<String>,
    pub tenant_actionable: Option<bool>,
}

/// One Cloud Sync configuration: its name (the AD domain when made in the portal) and its jobs, when read.
#[derive(Debug, Clone)]
pub struct Configuration {
    pub name: String,
    pub jobs: Option<Vec<SyncJob>>,
}

/// A read Graph refused with 403: the permission to grant and Graph's answer.
#[derive(Debug, Clone)]
pub struct Refused {
    pub permission: &'static str,
    pub error: String,
}

/// What one run read.
#[derive(Debug, Clone, Default)]
pub struct Tenant {
    pub configurations: Vec<Configuration>,
    /// False when the page cap stopped the service principal listing.
    pub complete: bool,
    pub refused: Option<Refused>,
}

/// The probe: Cloud Sync configurations and their jobs, as checks only (METRICS.md names no Cloud Sync series).
pub static PROBE: Probe<EntraContext, EntraTarget> = Probe {
    name: "entra_cloud_sync",
    metrics: &[],
    needs: &[],
    default_interval: None,
    enabled: |_| true,
    run: |ctx| Box::pin(run(ctx)),
};

/// # Errors
/// Token and Graph failures other than 403; a service principal id that is not a GUID (protocol).
pub async fn run(ctx: &EntraContext) -> Result<ProbeOutput, ProbeError> {
    let tenant = read(ctx).await?;
    Ok(output(&tenant))
}

async fn read(ctx: &EntraContext) -> Result<Tenant, GraphError> {
    let run = ctx.run();
    let filter = format!("applicationTemplateId eq '{AD2AAD_TEMPLATE_ID}'");
    let query = [("$filter", filter.as_str()), ("$select", "id,displayName")];
    let listing = match run.list::<ServicePrincipal>(&SERVICE_PRINCIPALS, &query, MAX_PAGES).await {
        Ok(listing) => listing,
        Err(e @ GraphError::Permission { .. }) => {
            return Ok(Tenant { refused: Some(refused(ctx, SERVICE_PRINCIPALS_PERMISSION, &e)), ..Tenant::default() })
        }
        Err(e) => return Err(e),
    };
    let mut tenant = Tenant { complete: listing.complete, ..Tenant::default() };
    for sp in listing.items {
        let name = configuration_name(&sp);
        if tenant.refused.is_some() {
            // The permission is tenant-wide: the other configurations would be refused too.
            tenant.configurations.push(Configuration { name, jobs: None });
            continue;
        }
        let ep = jobs_endpoint(&sp.id)?;
        let jobs = match run.list::<SyncJob>(&ep, &[], MAX_PAGES).await {
            Ok(listing) => Some(listing.items),
            Err(e @ GraphError::Permission { .. }) => {
                tenant.refused = Some(refused(ctx, JOBS_PERMISSION, &e));
                None
            }
            Err(e) => return Err(e),
        };
        tenant.configurations.push(Configuration { name, jobs });
    }
    Ok(tenant)
}

fn refused(ctx: &EntraContext, permission: &'static str, e: &GraphError) -> Refused {
    tracing::warn!(
        target = %ctx.name,
        error = %e,
        permission,
        "Graph refused a Cloud Sync read; entra_cloud_sync reports what it could read"
    );
    Refused { permission, error: e.to_string() }
}

/// Checks (pure).
pub fn output(tenant: &Tenant) -> ProbeOutput {
    let mut out = ProbeOutput::default();
    out.checks.push(configurations_check(tenant));
    for config in &tenant.configurations {
        for job in config.jobs.iter().flatten() {
            out.checks.push(job_check(&config.name, job));
        }
    }
    out
}

/// The display name, one bounded line (it reaches `check` subjects), else the object id.
fn configuration_name(sp: &ServicePrincipal) -> String {
    let name = sp.display_name.as_deref().map(|n| clean(n, 120)).unwrap_or_default();
    if name.is_empty() {
        clean(&sp.id, 40)
    } else {
        name
    }
}

/// The jobs endpoint of one service principal. The id comes from Graph and goes into a URL path, so it must be a
/// GUID.
///
/// # Errors
/// [`GraphError::Protocol`] for an id that is not a GUID.
fn jobs_endpoint(sp_id: &str) -> Result<Endpoint, GraphError> {
    if !is_guid(sp_id) {
        return Err(GraphError::Protocol {
            what: "GET /v1.0/servicePrincipals".to_string(),
            detail: format!("a Cloud Sync service principal id is not a GUID: {:?}", clean(sp_id, 60)),
        });
    }
    let path = format!("v1.0/servicePrincipals/{}/synchronization/jobs", sp_id.to_ascii_lowercase());
    Ok(Endpoint { path: Cow::Owned(path), permission: JOBS_PERMISSION, audit: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_only_reach_the_path() {
        assert!(is_guid("614ac0e9-a59b-481f-bd8f-79a73d167e1c"));
        assert!(is_guid("614AC0E9-A59B-481F-BD8F-79A73D167E1C"));
        for bad in [
            "",
            "614ac0e9a59b481fbd8f79a73d167e1c",
            "614ac0e9-a59b-481f-bd8f-79a73d167e1",
            "../../x",
            "614ac0e9-a59b-481f-bd8f-79a73d167e1c/..",
            "g14ac0e9-a59b-481f-bd8f-79a73d167e1c",
        ] {
            assert!(!is_guid(bad), "{bad}");
            assert!(jobs_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_endpoint_per_service_principal() {
        let a = jobs_endpoint("614ac0e9-a59b-481f-bd8f-79a73d167e1c").unwrap();
        let b = jobs_endpoint("614AC0E9-A59B-481F-BD8F-79A73D167E1C").unwrap();
        assert_eq!(a.path, b.path, "the same path whatever the case");
        assert_eq!(a.path, "v1.0/servicePrincipals/614ac0e9-a59b-481f-bd8f-79a73d167e1c/synchronization/jobs");
        assert_eq!(a.permission, "Synchronization.Read.All");
    }

    #[test]
    fn names_are_one_bounded_line() {
        const SP_ID: &str = "614ac0e9-a59b-481f-bd8f-79a73d167e1c";
        let sp = |name: Option<&str>| ServicePrincipal { id: SP_ID.into(), display_name: name.map(Into::into) };
        assert_eq!(configuration_name(&sp(Some("corp.example.test"))), "corp.example.test");
        assert_eq!(configuration_name(&sp(Some("a\nb"))), "a");
        assert_eq!(configuration_name(&sp(None)), "614ac0e9-a59b-481f-bd8f-79a73d167e1c");
    }
}
