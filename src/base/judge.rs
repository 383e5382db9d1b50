//! How an Entra probe asks the AD side about a user it saw fail (SSPR failures): the trait is here, at the bottom,
//! so that `graph` needs nothing of `ad`; `explain` implements it and the target's context hands it over.

use std::time::Duration;

use futures_util::future::BoxFuture;

/// The `cause` values of `writeback_entra_sspr_failures_explained_total`: the `writeback_ad_users_not_ready`
/// reasons, then the policy causes, then the answers that name no AD cause (METRICS.md).
pub const FAILURE_CAUSES: [&str; 10] = [
    "protected",
    "inheritance_disabled",
    "object_class",
    "denied",
    "not_granted",
    "min_password_age",
    "restrict_remote_sam",
    "ready",
    "not_found",
    "unknown",
];

/// Answers that name no cause in AD: the AD side would have allowed it, the user is not there, or not judged.
pub const NO_AD_CAUSE: [&str; 3] = ["ready", "not_found", "unknown"];

/// A user as the audit event and Graph name them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailedUser {
    /// The cloud userPrincipalName (shown, and looked up in AD when nothing better is known).
    pub upn: Option<String>,
    /// `onPremisesDistinguishedName`, when Graph gave it (needs User.Read.All).
    pub on_prem_dn: Option<String>,
}

/// Judges users on the AD side as `explain` does.
pub trait UserJudge: Send + Sync {
    /// One label of [`FAILURE_CAUSES`] per user, in order, all within `budget`: a user not judged in time, or
    /// whose judging failed, is `unknown`.
    fn judge<'a>(&'a self, users: &'a [FailedUser], budget: Duration) -> BoxFuture<'a, Vec<&'static str>>;
}
