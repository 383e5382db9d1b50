//! `explain`: one user judged on demand, on every DC of a target and for every connector account: each writeback
//! right with the ACE that decides it (and where that ACE comes from, and through which groups the connector
//! matches it), the password policy that applies, the related Group Policy results, one verdict and its fix.
//!
//! Used by the `explain` subcommand and meant for an HTTP endpoint: [`explain`] reads the directory (bounded by a
//! budget) and returns plain data ([`Explanation`], serializable); [`render`] turns it into text or HTML. Nothing
//! of a target's cached state (the `ad_users` scan state, the snapshot, the cached connector accounts) is changed.
//!
//! - [`find`]: the query (DN, UPN, sAMAccountName) and the lookup.
//! - `evaluate`: the reads and the access check on one DC.
//! - [`rights`]: deciding ACEs, their provenance, names of rights and GUIDs (pure).
//! - [`groups`]: the membership path from the account to a group (bounded walk).
//! - [`policy`]: the resultant password policy and when the password may change again.
//! - [`related`]: the `ad_gpo` checks an explanation carries.
//! - [`judge`]: users an SSPR audit event shows failing, each reduced to one cause label.
//! - `verdict`: the verdict, its causes and fixes.
//! - [`render`]: text and HTML.

mod evaluate;
pub mod find;
pub mod groups;
pub mod judge;
pub mod policy;
pub mod related;
pub mod render;
pub mod rights;
mod verdict;

use std::time::Duration;

use serde::Serialize;

pub use find::UserQuery;
pub use policy::PasswordPolicy;
pub use related::Related;
pub use rights::{Named, Source};
pub use verdict::{Fix, Verdict, VerdictState};

use crate::ad::connector::Engine;
use crate::ad::{AdContext, LdapError, Reuse};
use crate::config::Target;

/// Why no explanation could be given. `reason()` is bounded (docs/explain.md).
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("invalid user: {0}")]
    Query(String),
    #[error("no user with {kind} {query:?} in the domain")]
    NotFound { kind: &'static str, query: String },
    #[error("{count} users match {query:?}: give the DN instead")]
    Ambiguous { query: String, count: usize },
    #[error("the explanation took longer than {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Ldap(#[from] LdapError),
    #[error("{0}")]
    Directory(String),
}

impl ExplainError {
    /// The fixed `reason` values: `bad_query`, `not_found`, `ambiguous`, `timeout`, `directory`, or an LDAP
    /// failure's own reason (`connect`, `tls`, `auth`, `permission`, `protocol`, `config`, `other`).
    pub fn reason(&self) -> &'static str {
        match self {
            ExplainError::Query(_) => "bad_query",
            ExplainError::NotFound { .. } => "not_found",
            ExplainError::Ambiguous { .. } => "ambiguous",
            ExplainError::Timeout(_) => "timeout",
            ExplainError::Directory(_) => "directory",
            ExplainError::Ldap(e) => e.reason().as_str(),
        }
    }
}

/// Everything `explain` found about one user. Field by field in docs/explain.md.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub target: String,
    pub query: UserQuery,
    pub dn: String,
    pub domain: String,
    /// When it was read (RFC 3339).
    pub generated_at: String,
    /// One entry per DC of the target, in the target's DC order.
    pub dcs: Vec<DcExplanation>,
    /// `None` when the policy could not be read at all.
    pub policy: Option<PasswordPolicy>,
    pub related: Related,
    pub verdict: Verdict,
    /// What limited the explanation (an unreadable part, a walk cut at its bound).
    pub notes: Vec<String>,
}

/// The user as read on one DC.
#[derive(Debug, Clone, Serialize)]
pub struct DcExplanation {
    pub dc: String,
    /// Why this DC could not be judged; `object` and `accounts` are then empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<UserObject>,
    pub accounts: Vec<AccountRights>,
}

/// The user object's state on one DC.
#[derive(Debug, Clone, Serialize)]
pub struct UserObject {
    pub dn: String,
    /// The structural class the access check used: `user` or `inetOrgPerson`.
    pub object_class: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sam_account_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    pub enabled: bool,
    /// `None` when neither msDS-User-Account-Control-Computed nor lockoutTime is readable.
    pub locked: Option<bool>,
    /// "User cannot change password": deny Change Password ACEs for Everyone or SELF.
    pub cannot_change_password: bool,
    /// adminCount=1 (AdminSDHolder).
    pub protected: bool,
    /// SE_DACL_PROTECTED.
    pub inheritance_disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pwd_last_set: Option<String>,
    /// pwdLastSet = 0.
    pub must_change_password: bool,
    /// ACEs in the DACL (`None`: no DACL, everything granted).
    pub dacl_aces: Option<usize>,
}

/// One connector account's rights on the user, on one DC.
#[derive(Debug, Clone, Serialize)]
pub struct AccountRights {
    pub account: String,
    /// `connect` (a connector account) or `cloud_sync` (a provisioning agent gMSA): it decides the fix.
    pub engine: Engine,
    pub account_dn: String,
    pub account_enabled: bool,
    /// False when tokenGroups was unreadable: rights through groups are not seen.
    pub groups_known: bool,
    pub rights: Vec<RightExplanation>,
    pub ready: bool,
    /// The first cause when not ready (the `reason` of writeback_ad_users_not_ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RightExplanation {
    /// `reset_password`, `change_password`, `write_lockout_time`, `write_pwd_last_set`.
    pub right: &'static str,
    pub title: &'static str,
    pub allowed: bool,
    /// `granted`, `denied`, `not_granted` (no ACE grants it), `no_dacl`.
    pub decision: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ace: Option<DecidingAce>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecidingAce {
    /// 1-based position in the user's DACL, as the access check walked it.
    pub position: usize,
    /// `allow` or `deny`.
    pub effect: &'static str,
    pub sddl: String,
    pub trustee: Trustee,
    /// The rights field of the SDDL (`CR`, `WP`, `GA`, ...).
    pub access: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_type: Option<Named>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inherited_object_type: Option<Named>,
    pub source: Source,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trustee {
    pub sid: String,
    pub name: String,
    /// How the connector matches it: `account` (itself), `group` (see `path`), `well_known`, `self`, `unknown`.
    pub matched_as: &'static str,
    /// For a group: the membership path, outer group first, the account last.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<String>,
}

impl Explanation {
    pub fn verdict(&self) -> &Verdict {
        &self.verdict
    }

    /// The CLI's exit status: 0 ready, 1 not ready, 3 cannot judge.
    pub fn exit_code(&self) -> u8 {
        match self.verdict.state {
            VerdictState::Ready => 0,
            VerdictState::NotReady => 1,
            VerdictState::CannotJudge => 3,
        }
    }

    /// Replaces the related Group Policy results (e.g. read concurrently with the explanation) and judges again.
    pub fn set_related(&mut self, related: Related) {
        self.related = related;
        self.verdict = verdict::judge(self);
    }
}

/// Explains `query` on every DC of `ctx`, with `related` (the target's `ad_gpo` checks, from a run or a cached
/// snapshot) taken into the verdict. The whole read is bounded by `budget`.
///
/// # Errors
/// A bad query, a user not found or ambiguous, no DC answering, or the budget running out.
pub async fn explain(
    ctx: &AdContext,
    target: &str,
    query: &UserQuery,
    related: Related,
    budget: Duration,
) -> Result<Explanation, ExplainError> {
    let mut explanation = tokio::time::timeout(budget, evaluate::run(ctx, target, query))
        .await
        .map_err(|_| ExplainError::Timeout(budget))??;
    explanation.set_related(related);
    Ok(explanation)
}

/// [`explain`] for a configured target outside the scheduler (the `/explain` endpoint): a context of its own,
/// so nothing of the scheduler's cached state is read or changed, under the configured probe timeout.
///
/// # Errors
/// As [`explain`], and [`ExplainError::Query`] for a target without `ad:` or a malformed user.
pub async fn on_demand(
    target: &Target,
    probe_timeout: Duration,
    user: &str,
    related: Related,
) -> Result<Explanation, ExplainError> {
    let Some(ad) = &target.ad else {
        return Err(ExplainError::Query(format!("target {} has no `ad:` section", target.name)));
    };
    let query = UserQuery::parse(user)?;
    let ctx = AdContext::new(ad.clone(), probe_timeout, Reuse::FOREVER);
    explain(&ctx, &target.name, &query, related, probe_timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_bounded() {
        let cases = [
            (ExplainError::Query("x".into()), "bad_query"),
            (ExplainError::NotFound { kind: "DN", query: "x".into() }, "not_found"),
            (ExplainError::Ambiguous { query: "x".into(), count: 2 }, "ambiguous"),
            (ExplainError::Timeout(Duration::from_secs(1)), "timeout"),
            (ExplainError::Directory("x".into()), "directory"),
            (ExplainError::Ldap(LdapError::Connect { server: "dc".into(), detail: "x".into() }), "connect"),
        ];
        for (error, reason) in cases {
            assert_eq!(error.reason(), reason, "{error}");
        }
        let e = ExplainError::Ambiguous { query: "alice".into(), count: 3 };
        assert_eq!(e.to_string(), "3 users match \"alice\": give the DN instead");
    }
}
