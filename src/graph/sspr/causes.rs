//! Why the users of a run's failed SSPR events failed, on the AD side: each user's on-premises DN from Graph (with
//! User.Read.All; else the userPrincipalName is looked up in AD), then the target's AD side judges them, at most
//! `sspr_explain_limit` per run and within what is left of the run's time. The rest count as `unknown`.

use std::borrow::Cow;

use serde::Deserialize;

use super::Failed;
use crate::base::{is_guid, FailedUser};
use crate::graph::client::{Endpoint, Run};
use crate::graph::{EntraContext, GraphError};

/// Least-privileged application permission for a user's on-premises attributes.
pub const USERS_PERMISSION: &str = "User.Read.All";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphUser {
    #[serde(default)]
    on_premises_distinguished_name: Option<String>,
    #[serde(default)]
    user_principal_name: Option<String>,
}

/// One cause label per failure, in order, and a note for the check when some were not judged.
pub(super) async fn failures(
    ctx: &EntraContext,
    run: &Run<'_>,
    failed: &[Failed],
) -> (Vec<&'static str>, Option<String>) {
    let mut causes = vec!["unknown"; failed.len()];
    if failed.is_empty() {
        return (causes, None);
    }
    let Some(judge) = &ctx.judge else {
        let why = "not judged: the target has no `ad:` section, or `sspr_explain_limit` is 0";
        return (causes, Some(why.to_string()));
    };
    let limit = usize::try_from(ctx.cfg.sspr_explain_limit).unwrap_or(usize::MAX).min(failed.len());
    let mut notes = Vec::new();
    if failed.len() > limit {
        notes.push(format!("{} over sspr_explain_limit counted as unknown", failed.len() - limit));
    }
    let mut users = Vec::with_capacity(limit);
    let mut graph_lookups = true;
    for failure in &failed[..limit] {
        let mut user = FailedUser { upn: failure.upn.clone(), on_prem_dn: None };
        let id = failure.user_id.as_deref().filter(|id| is_guid(id));
        if let (Some(id), true) = (id, graph_lookups) {
            match run
                .get::<GraphUser>(&user_endpoint(id), &[("$select", "onPremisesDistinguishedName,userPrincipalName")])
                .await
            {
                Ok(found) => {
                    user.on_prem_dn = found.on_premises_distinguished_name.filter(|dn| !dn.is_empty());
                    user.upn = user.upn.or(found.user_principal_name);
                }
                Err(GraphError::Permission { .. }) => {
                    // Tenant-wide: no use asking for the next user.
                    graph_lookups = false;
                    notes.push(format!("{USERS_PERMISSION} not granted: users looked up in AD by userPrincipalName"));
                }
                Err(e) => {
                    tracing::debug!(target = %ctx.name, error = %e, "user not read from Graph; looked up by userPrincipalName")
                }
            }
        }
        users.push(user);
    }
    let judged = judge.judge(&users, run.remaining()).await;
    for (slot, cause) in causes.iter_mut().zip(judged) {
        *slot = cause;
    }
    (causes, (!notes.is_empty()).then(|| notes.join("; ")))
}

/// `v1.0/users/{id}`; the id is a GUID (checked by the caller) before it goes into the path.
fn user_endpoint(id: &str) -> Endpoint {
    Endpoint {
        path: Cow::Owned(format!("v1.0/users/{}", id.to_ascii_lowercase())),
        permission: USERS_PERMISSION,
        audit: false,
    }
}
