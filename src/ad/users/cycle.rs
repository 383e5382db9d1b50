//! One `ad_users` cycle of one domain: each scope read (a full scan, or an incremental cycle on the state of the
//! previous one), then judged for the connector accounts, then kept for the next cycle.

use std::sync::Arc;

use super::protection::Protection;
use super::read::{self, Reader};
use super::state::{Mode, ScopeState};
use super::{report, tally, AD_USERS_LAST_FULL_SCAN, AD_USERS_OBJECTS_READ};
use crate::ad::connector::ConnectorAccount;
use crate::ad::forest::ForestDomain;
use crate::ad::{dn, AdContext, LdapError, Session};
use crate::base::{unix_now, Check, ProbeOutput, Status};

/// One scope read this cycle, to be judged, then kept.
pub struct Scanned {
    domain: String,
    scope: String,
    key: String,
    outcome: Outcome,
    protection: Arc<Protection>,
}

enum Outcome {
    /// The scope does not exist, or lies outside every domain (the check says why).
    Missing(String),
    Read {
        state: Box<ScopeState>,
        mode: Mode,
        objects_read: u64,
        /// False without the DC's USN and identity: such a state could not be patched safely.
        keep: bool,
    },
}

/// Reads the scopes of one domain through a session to one of its DCs into `scanned`.
///
/// # Errors
/// LDAP failures. The scope being read then keeps its previous state, marked untrusted (its next cycle is a full
/// scan); the scopes read before it are in `scanned`.
pub async fn scan_scopes(
    ctx: &AdContext,
    session: &mut Session,
    domain: &ForestDomain,
    scopes: &[String],
    scanned: &mut Vec<Scanned>,
) -> Result<(), LdapError> {
    // Before anything else is read: what changes from here on has a higher uSNChanged.
    let view = read::dc_view(session).await?;
    if view.is_none() {
        tracing::info!(domain = %domain.name, server = %session.server(),
            "the DC gives no highestCommittedUSN or invocationId: every ad_users cycle reads the scopes in full");
    }
    let protection = Arc::new(Protection::read(ctx, session, &domain.nc).await?);
    for scope in scopes {
        let key = dn::normalize(scope);
        let entry = |outcome| Scanned {
            domain: domain.name.clone(),
            scope: scope.clone(),
            key: key.clone(),
            outcome,
            protection: Arc::clone(&protection),
        };
        let problem = match session.read(scope, &["objectClass"], "read a scope").await {
            Ok(Some(_)) => None,
            Ok(None) => Some("no such object".to_string()),
            // A DN outside every domain of the forest: this scope's problem, not the run's.
            Err(e @ LdapError::Referral { .. }) => Some(e.to_string()),
            Err(e) => return Err(e),
        };
        if let Some(problem) = problem {
            drop(ctx.user_states.take(&key));
            scanned.push(entry(Outcome::Missing(problem)));
            continue;
        }
        let previous = ctx.user_states.take(&key);
        let planned = match &view {
            Some(v) => ScopeState::plan(previous.as_ref(), v, unix_now(), ctx.cfg.full_scan_interval),
            None => Mode::Full,
        };
        let mut reader =
            Reader { session: &mut *session, scope, nc: &domain.nc, page_size: ctx.cfg.page_size, read: 0 };
        let (mode, cycle) = match (planned, previous) {
            (Mode::Incremental { since }, Some(mut state)) => {
                let usn = view.as_ref().map_or(since, |v| v.usn);
                let cycle = match reader.incremental(&mut state, since, usn).await {
                    Ok(()) => Ok(state),
                    Err(e) => Err((e, Some(state))),
                };
                (planned, cycle)
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
        match cycle {
            Ok(mut state) => {
                state.compact();
                scanned.push(entry(Outcome::Read { state: Box::new(state), mode, objects_read, keep: view.is_some() }));
            }
            Err((e, kept)) => {
                // The verdicts of before stay, but are never patched: the next cycle on this scope is a full scan.
                if let Some(mut kept) = kept {
                    kept.trusted = false;
                    ctx.user_states.put(key, kept);
                }
                return Err(e);
            }
        }
    }
    Ok(())
}

/// The series and checks of every scope read, judged for `accounts`.
pub fn judge(scanned: &[Scanned], accounts: &[ConnectorAccount], out: &mut ProbeOutput) {
    for s in scanned {
        match &s.outcome {
            Outcome::Missing(observed) => out.checks.push(Check {
                id: "ad_users_scope",
                subject: s.scope.clone(),
                title: "Writeback scope exists".to_string(),
                status: Status::Fail,
                observed: observed.clone(),
                remediation: Some("Correct `scopes` in the configuration.".to_string()),
            }),
            Outcome::Read { state, mode, objects_read, .. } => {
                let (domain, scope) = (s.domain.as_str(), s.scope.as_str());
                let tally = tally::tally_with(state, accounts, s.protection.holder.as_ref());
                report::emit(domain, scope, accounts, &tally, &s.protection, out);
                out.sample(&AD_USERS_OBJECTS_READ, &[domain, scope, mode.label()], *objects_read as f64);
                out.sample(&AD_USERS_LAST_FULL_SCAN, &[domain, scope], state.last_full);
            }
        }
    }
}

/// Keeps each state read in full for the next cycle (also when judging failed: what was read is not wrong).
pub fn keep(ctx: &AdContext, scanned: Vec<Scanned>) {
    for s in scanned {
        if let Outcome::Read { state, keep: true, .. } = s.outcome {
            ctx.user_states.put(s.key, *state);
        }
    }
}
