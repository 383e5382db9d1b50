//! The AD side's answer for users an SSPR audit event shows failing: each judged as `explain` judges it, reduced to
//! one `cause` label of `writeback_entra_sspr_failures_explained_total`.

use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::time::Instant;

use super::{explain, related, ExplainError, Explanation, Related, UserQuery, VerdictState};
use crate::ad::AdContext;
use crate::base::{FailedUser, UserJudge, FAILURE_CAUSES};

/// Judges on a context of its own (the probes' caches are not shared with it), built with the target's reuse
/// windows so that the DC list and accounts are read again as often as the probes read theirs.
pub struct AdJudge {
    ctx: AdContext,
    target: String,
}

impl AdJudge {
    pub fn new(ctx: AdContext, target: &str) -> AdJudge {
        AdJudge { ctx, target: target.to_string() }
    }

    async fn judge_all(&self, users: &[FailedUser], budget: Duration) -> Vec<&'static str> {
        let deadline = Instant::now() + budget;
        let left = || deadline.saturating_duration_since(Instant::now());
        // The Group Policy results once per batch (SYSVOL over SMB): a minimum age or RestrictRemoteSAM set there
        // is a cause for every user.
        let related = if users.is_empty() { Related::default() } else { related::run(&self.ctx, left()).await };
        let mut causes = Vec::with_capacity(users.len());
        for user in users {
            let budget = left();
            let cause = match query(user) {
                _ if budget.is_zero() => "unknown",
                None => "unknown",
                Some(q) => cause(explain(&self.ctx, &self.target, &q, related.clone(), budget).await),
            };
            causes.push(cause);
        }
        causes
    }
}

impl UserJudge for AdJudge {
    fn judge<'a>(&'a self, users: &'a [FailedUser], budget: Duration) -> BoxFuture<'a, Vec<&'static str>> {
        Box::pin(self.judge_all(users, budget))
    }
}

/// The on-premises DN when Graph gave it, else the cloud UPN (the same as the on-premises one unless an alternate
/// login ID is in use).
fn query(user: &FailedUser) -> Option<UserQuery> {
    let text = user.on_prem_dn.as_deref().or(user.upn.as_deref())?;
    UserQuery::parse(text).ok()
}

/// The first cause of the verdict, `ready`, `not_found`, or `unknown` when it could not be judged.
fn cause(result: Result<Explanation, ExplainError>) -> &'static str {
    let label = match result {
        Ok(e) => match e.verdict().state {
            VerdictState::Ready => "ready",
            VerdictState::NotReady => e.verdict().cause.unwrap_or("unknown"),
            VerdictState::CannotJudge => "unknown",
        },
        Err(ExplainError::NotFound { .. }) => "not_found",
        Err(_) => "unknown",
    };
    // Bounded whatever the verdict vocabulary grows into.
    FAILURE_CAUSES.iter().copied().find(|c| *c == label).unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dn_from_graph_wins_over_the_upn() {
        let user = FailedUser {
            upn: Some("alice@contoso.example".into()),
            on_prem_dn: Some("CN=Alice,OU=Staff,DC=corp,DC=example,DC=test".into()),
        };
        assert!(matches!(query(&user), Some(UserQuery::Dn(_))));
        let user = FailedUser { upn: Some("alice@contoso.example".into()), on_prem_dn: None };
        assert!(matches!(query(&user), Some(UserQuery::Upn(_))));
        assert_eq!(query(&FailedUser::default()), None);
    }

    #[test]
    fn failures_to_judge_are_unknown_and_absence_is_not_found() {
        let not_found = ExplainError::NotFound { kind: "userPrincipalName", query: "x".into() };
        assert_eq!(cause(Err(not_found)), "not_found");
        assert_eq!(cause(Err(ExplainError::Timeout(Duration::from_secs(1)))), "unknown");
        assert_eq!(cause(Err(ExplainError::Directory("x".into()))), "unknown");
    }
}
