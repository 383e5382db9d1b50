//! The target-wide Group Policy results an explanation carries: `ad_gpo`'s minimum-age and RestrictRemoteSAM
//! checks. The CLI runs the probe once; the daemon passes what its last run left in the snapshot.

use std::time::Duration;

use serde::Serialize;

use crate::ad::{gpo, AdContext};
use crate::base::Check;

/// The check ids taken from `ad_gpo`.
pub const CHECK_IDS: [&str; 3] =
    ["ad_gpo_min_password_age", "ad_gpo_password_policy_drift", "ad_gpo_restrict_remote_sam"];

#[derive(Debug, Clone, Default, Serialize)]
pub struct Related {
    /// The relevant checks of the target's last `ad_gpo` run.
    pub checks: Vec<Check>,
    /// Why they are missing, when they are (probe disabled, failed, not run yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

impl Related {
    /// The relevant ones among a run's (or a snapshot's) checks.
    pub fn from_checks<'a>(checks: impl IntoIterator<Item = &'a Check>) -> Related {
        Related {
            checks: checks.into_iter().filter(|c| CHECK_IDS.contains(&c.id)).cloned().collect(),
            unavailable: None,
        }
    }

    pub fn unavailable(why: impl Into<String>) -> Related {
        Related { checks: Vec::new(), unavailable: Some(why.into()) }
    }
}

/// Runs `ad_gpo` once on `ctx` (bounded by `timeout`) and keeps its relevant checks.
pub async fn run(ctx: &AdContext, timeout: Duration) -> Related {
    if !(gpo::PROBE.enabled)(&ctx.cfg) {
        return Related::unavailable(
            "probe ad_gpo is off for this target (a Kerberos bind without `gpo: true`): Group Policy minimum age \
             and RestrictRemoteSAM were not read",
        );
    }
    match tokio::time::timeout(timeout, (gpo::PROBE.run)(ctx)).await {
        Ok(Ok(output)) => Related::from_checks(&output.checks),
        Ok(Err(e)) => Related::unavailable(format!("probe ad_gpo failed ({}): {e}", e.reason().as_str())),
        Err(_) => Related::unavailable(format!("probe ad_gpo did not finish within {timeout:?}")),
    }
}
