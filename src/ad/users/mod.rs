//! Probe `ad_users`: every enabled user in each scope with its own DACL, and for each connector account: would
//! writeback work on this user, and if not, why (first cause)?
//!
//! The first cycle on a DC reads the whole scope into a state kept in the target's context (`state.rs`); later
//! cycles read only what changed since (`read.rs`), and a full reconciliation scan runs every
//! `full_scan_interval`. Every cycle judges all users from the state (`tally.rs`), so its series are those a full
//! scan would give. A cycle that fails half-way publishes nothing for the scope's domain, and the next one is a
//! full scan.

mod cause;
#[cfg(test)]
mod proptests;
mod read;
mod report;
mod state;
mod tally;

use std::collections::HashMap;
use std::sync::Mutex;

pub use cause::Cause;
use state::{Mode, ScopeState};

use super::connector::ConnectorAccount;
use super::forest::{self, ForestDomain};
use super::{dn, AdContext, LdapError, Session};
use crate::base::{gauge, unix_now, Check, MetricDef, Need, Probe, ProbeError, ProbeOutput, Status};
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
    "Users not ready for writeback, by first cause: protected (adminCount=1), inheritance_disabled, object_class, denied, not_granted.",
);
pub static AD_USERS_INHERITANCE_DISABLED: MetricDef = gauge(
    "writeback_ad_users_inheritance_disabled",
    &["domain", "scope"],
    "Users whose DACL is protected from inheritance (SE_DACL_PROTECTED).",
);
pub static AD_USERS_PROTECTED: MetricDef =
    gauge("writeback_ad_users_protected", &["domain", "scope"], "Users with adminCount=1 (AdminSDHolder-protected).");
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
        let connectors = ctx.connectors(&mut session, &domain_dn).await?;
        let forest = ctx.forest(&mut session, &root).await;
        forest.note(&mut out);
        let mut others = Vec::new();
        for (domain, scopes) in forest.scope_groups(&ctx.cfg.scopes) {
            if domain.nc.eq_ignore_ascii_case(&domain_dn) {
                scan_scopes(ctx, &mut session, &domain, &scopes, &connectors.accounts, &mut out).await?;
            } else {
                others.push((domain, scopes));
            }
        }
        Ok::<_, LdapError>((connectors, others))
    }
    .await;
    session.close().await;
    let (connectors, others) = result?;
    // A domain that fails half-way contributes nothing (fan_out scans into a scratch output).
    let accounts = &connectors.accounts;
    forest::fan_out(ctx, &others, "user scan", &mut out, |mut session, _, domain, scopes| async move {
        let mut part = ProbeOutput::default();
        let scanned = scan_scopes(ctx, &mut session, &domain, &scopes, accounts, &mut part).await;
        (session, scanned.map(|()| part))
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

/// Scans the scopes of one domain through a session to one of its DCs: a full scan or an incremental cycle each.
async fn scan_scopes(
    ctx: &AdContext,
    session: &mut Session,
    domain: &ForestDomain,
    scopes: &[String],
    accounts: &[ConnectorAccount],
    out: &mut ProbeOutput,
) -> Result<(), LdapError> {
    // Before anything else is read: what changes from here on has a higher uSNChanged.
    let view = read::dc_view(session).await?;
    if view.is_none() {
        tracing::info!(domain = %domain.name, server = %session.server(),
            "the DC gives no highestCommittedUSN or invocationId: every ad_users cycle reads the scopes in full");
    }
    for scope in scopes {
        let key = dn::normalize(scope);
        let problem = match session.read(scope, &["objectClass"], "read a scope").await {
            Ok(Some(_)) => None,
            Ok(None) => Some("no such object".to_string()),
            // A DN outside every domain of the forest: this scope's problem, not the run's.
            Err(e @ LdapError::Referral { .. }) => Some(e.to_string()),
            Err(e) => return Err(e),
        };
        if let Some(observed) = problem {
            drop(ctx.user_states.take(&key));
            out.checks.push(Check {
                id: "ad_users_scope",
                subject: scope.clone(),
                title: "Writeback scope exists".to_string(),
                status: Status::Fail,
                observed,
                remediation: Some("Correct `scopes` in the configuration.".to_string()),
            });
            continue;
        }
        let previous = ctx.user_states.take(&key);
        let mode = match &view {
            Some(v) => ScopeState::plan(previous.as_ref(), v, unix_now(), ctx.cfg.full_scan_interval),
            None => Mode::Full,
        };
        let mut reader =
            read::Reader { session: &mut *session, scope, nc: &domain.nc, page_size: ctx.cfg.page_size, read: 0 };
        let (mode, cycle) = match (mode, previous) {
            (Mode::Incremental { since }, Some(mut state)) => {
                let usn = view.as_ref().map_or(since, |v| v.usn);
                let cycle = match reader.incremental(&mut state, since, usn).await {
                    Ok(()) => Ok(state),
                    Err(e) => Err((e, Some(state))),
                };
                (mode, cycle)
            }
            (_, previous) => {
                let (dc, usn) = view.as_ref().map(|v| (v.identity.clone(), v.usn)).unzip();
                let cycle = match reader.full(dc.unwrap_or_default(), usn.unwrap_or_default()).await {
                    Ok(mut state) => {
                        state.last_full = unix_now();
                        Ok(state)
                    }
                    Err(e) => Err((e, previous)),
                };
                (Mode::Full, cycle)
            }
        };
        let objects_read = reader.read;
        let mut state = match cycle {
            Ok(state) => state,
            Err((e, kept)) => {
                // The verdicts of before stay, but are never patched: the next cycle on this scope is a full scan.
                if let Some(mut kept) = kept {
                    kept.trusted = false;
                    ctx.user_states.put(key, kept);
                }
                return Err(e);
            }
        };
        state.compact();
        let tally = tally::tally(&state, accounts);
        report::emit(&domain.name, scope, accounts, &tally, out);
        out.sample(&AD_USERS_OBJECTS_READ, &[&domain.name, scope, mode.label()], objects_read as f64);
        out.sample(&AD_USERS_LAST_FULL_SCAN, &[&domain.name, scope], state.last_full);
        // Without the DC's USN and identity a state could not be patched safely: none is kept.
        if view.is_some() {
            ctx.user_states.put(key, state);
        }
    }
    Ok(())
}
