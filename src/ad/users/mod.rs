//! Probe `ad_users`: every enabled user in each scope with its own DACL, and for each connector account: would
//! writeback work on this user, and if not, why (first cause)?
//!
//! The first cycle on a DC reads the whole scope into a state kept in the target's context (`state.rs`); later
//! cycles read only what changed since (`read.rs`), and a full reconciliation scan runs every
//! `full_scan_interval`. Every cycle judges all users from the state (`tally.rs`), so its series are those a full
//! scan would give. A cycle that fails half-way publishes nothing for the scope's domain, and the next one is a
//! full scan.

mod cause;
mod cycle;
mod entries;
#[cfg(test)]
mod proptests;
mod protection;
mod read;
mod report;
mod state;
mod tally;
mod unseen;

use std::collections::HashMap;
use std::sync::Mutex;

pub use cause::Cause;
use state::ScopeState;

use super::forest;
use super::{AdContext, LdapError};
use crate::base::{gauge, MetricDef, Need, Probe, ProbeError, ProbeOutput};
use crate::config::AdTarget;

// --- metrics served by this probe
pub static AD_USERS: MetricDef = gauge(
    "writeback_ad_users",
    &["domain", "scope"],
    "Enabled user accounts (classes user and inetOrgPerson) under the scope.",
);
pub static AD_USERS_READY: MetricDef = gauge(
    "writeback_ad_users_ready",
    &["domain", "scope", "account"],
    "Users on whose own DACL the connector account effectively holds all four writeback rights.",
);
pub static AD_USERS_MISSING_PERMISSION: MetricDef = gauge(
    "writeback_ad_users_missing_permission",
    &["domain", "scope", "account", "permission"],
    "Users on which the connector account lacks this right.",
);
pub static AD_USERS_NOT_READY: MetricDef = gauge(
    "writeback_ad_users_not_ready",
    &["domain", "scope", "account", "reason"],
    "Users not ready for writeback, by first cause: protected (AdminSDHolder: adminCount=1, or its DACL), inheritance_disabled, object_class, denied, not_granted.",
);
pub static AD_USERS_INHERITANCE_DISABLED: MetricDef = gauge(
    "writeback_ad_users_inheritance_disabled",
    &["domain", "scope"],
    "Users whose DACL is protected from inheritance (SE_DACL_PROTECTED).",
);
pub static AD_USERS_PROTECTED: MetricDef = gauge(
    "writeback_ad_users_protected",
    &["domain", "scope"],
    "AdminSDHolder-protected users: adminCount=1, or a DACL protected from inheritance and equal to AdminSDHolder's (where adminCount is hidden from the monitoring account).",
);
pub static AD_USERS_UNREADABLE: MetricDef = gauge(
    "writeback_ad_users_unreadable",
    &["domain", "scope"],
    "Users whose security descriptor could not be read or parsed (not counted as ready or not ready; the log names them).",
);

pub static AD_USERS_OBJECTS_READ: MetricDef = gauge(
    "writeback_ad_users_objects_read",
    &["domain", "scope", "mode"],
    "Objects whose security descriptor the last ad_users cycle read; mode: full or incremental (the mode of that cycle).",
);
pub static AD_USERS_LAST_FULL_SCAN: MetricDef = gauge(
    "writeback_ad_users_last_full_scan_timestamp_seconds",
    &["domain", "scope"],
    "When the last full scan of the scope ended (Unix seconds).",
);

/// The probe: every enabled user in every scope, on its own DACL.
pub static PROBE: Probe<AdContext, AdTarget> = Probe {
    name: "ad_users",
    metrics: &[
        &AD_USERS,
        &AD_USERS_READY,
        &AD_USERS_MISSING_PERMISSION,
        &AD_USERS_NOT_READY,
        &AD_USERS_INHERITANCE_DISABLED,
        &AD_USERS_PROTECTED,
        &AD_USERS_UNREADABLE,
        &AD_USERS_OBJECTS_READ,
        &AD_USERS_LAST_FULL_SCAN,
    ],
    needs: &[Need::DomainControllers, Need::ConnectorAccounts, Need::ForestDomains],
    default_interval: None,
    enabled: |ad| ad.user_scan,
    run: |ctx| Box::pin(run(ctx)),
};

/// # Errors
/// When no DC answers, or the scan of a scope of the bound domain fails part-way (nothing is published then). A
/// forest domain that cannot be reached or scanned is reported on its own.
pub async fn run(ctx: &AdContext) -> Result<ProbeOutput, ProbeError> {
    let (mut session, root) = ctx.any_dc().await?;
    let domain_dn = root.default_naming_context.clone();
    let mut out = ProbeOutput::default();
    let result = async {
        let forest = ctx.forest(&mut session, &root).await;
        forest.note(&mut out);
        let (own, others): (Vec<_>, Vec<_>) =
            forest.scope_groups(&ctx.cfg.scopes).into_iter().partition(|(d, _)| d.nc.eq_ignore_ascii_case(&domain_dn));
        // The connector accounts are needed only to judge: they are read on a session of their own (unless another
        // probe read them this cycle) while this one reads the scopes.
        let mut scanned = Vec::new();
        let (read, connectors) = tokio::join!(
            async {
                for (domain, scopes) in &own {
                    cycle::scan_scopes(ctx, &mut session, domain, scopes, &mut scanned).await?;
                }
                Ok::<_, LdapError>(())
            },
            ctx.connectors_on_any_dc(&domain_dn)
        );
        let judged = read.and(connectors).inspect(|c| cycle::judge(&scanned, &c.accounts, &mut out));
        // What was read in full stays for the next cycle, whatever failed elsewhere.
        cycle::keep(ctx, scanned);
        Ok::<_, LdapError>((judged?, others))
    }
    .await;
    session.close().await;
    let (connectors, others) = result?;
    // A domain that fails half-way contributes nothing (fan_out scans into a scratch output).
    let accounts = &connectors.accounts;
    forest::fan_out(ctx, &others, "user scan", &mut out, |mut session, _, domain, scopes| async move {
        let (mut part, mut scanned) = (ProbeOutput::default(), Vec::new());
        let read = cycle::scan_scopes(ctx, &mut session, &domain, &scopes, &mut scanned).await;
        if read.is_ok() {
            cycle::judge(&scanned, accounts, &mut part);
        }
        cycle::keep(ctx, scanned);
        (session, read.map(|()| part))
    })
    .await;
    Ok(out)
}

/// The scopes' states of one target, by normalized scope DN: each remembers the DC it was read from.
#[derive(Default)]
pub struct States(Mutex<HashMap<String, ScopeState>>);

impl std::fmt::Debug for States {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map(|m| m.len()).unwrap_or_default();
        write!(f, "States({n} scopes)")
    }
}

impl States {
    fn take(&self, scope: &str) -> Option<ScopeState> {
        self.0.lock().ok()?.remove(scope)
    }

    fn put(&self, scope: String, state: ScopeState) {
        if let Ok(mut states) = self.0.lock() {
            states.insert(scope, state);
        }
    }
}
