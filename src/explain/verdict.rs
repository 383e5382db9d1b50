//! One verdict for the explained user, in `check`'s vocabulary: ready, not ready (first cause in the `reason`
//! vocabulary of writeback_ad_users_not_ready, plus `min_password_age` and `restrict_remote_sam`), or cannot judge;
//! and the exact fix of each cause.

use serde::Serialize;

use super::{AccountRights, DcExplanation, Explanation};
use crate::ad::fixes;
use crate::ad::security::Right;
use crate::ad::users::Cause;
use crate::ad::{dn, values::describe_seconds};
use crate::base::Status;

/// A cause beyond the per-user ACL causes: the password policy's minimum age blocks resets.
pub const MIN_PASSWORD_AGE: &str = "min_password_age";
/// A cause beyond the per-user ACL causes: RestrictRemoteSAM on the DCs blocks the connector.
pub const RESTRICT_REMOTE_SAM: &str = "restrict_remote_sam";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictState {
    Ready,
    NotReady,
    CannotJudge,
}

impl VerdictState {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictState::Ready => "ready",
            VerdictState::NotReady => "not_ready",
            VerdictState::CannotJudge => "cannot_judge",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub state: VerdictState,
    /// The first cause when not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<&'static str>,
    /// Every cause found, first cause first.
    pub causes: Vec<&'static str>,
    pub summary: String,
    pub fixes: Vec<Fix>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Fix {
    pub cause: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub text: String,
}

/// Before the judging (an explanation under construction).
pub fn placeholder() -> Verdict {
    Verdict {
        state: VerdictState::CannotJudge,
        cause: None,
        causes: Vec::new(),
        summary: String::new(),
        fixes: Vec::new(),
    }
}

/// Which accounts are judged: the enabled ones (a disabled MSOL_ account is a stale install Connect no longer uses);
/// all of them when none is enabled.
fn judged(view: &DcExplanation) -> impl Iterator<Item = &AccountRights> {
    let any_enabled = view.accounts.iter().any(|a| a.account_enabled);
    view.accounts.iter().filter(move |a| a.account_enabled || !any_enabled)
}

pub fn judge(e: &Explanation) -> Verdict {
    let read: Vec<&DcExplanation> = e.dcs.iter().filter(|d| d.error.is_none() && d.object.is_some()).collect();
    let cannot = |summary: String| Verdict { summary, ..placeholder() };
    if read.is_empty() {
        return cannot("the user's security descriptor could not be read on any DC".to_string());
    }
    if read.iter().all(|d| d.accounts.is_empty()) {
        return cannot("no connector account was found: configure `connector_accounts`".to_string());
    }
    let mut causes: Vec<&'static str> = Vec::new();
    let mut fixes = Vec::new();
    for cause in Cause::ALL {
        let hit = read.iter().find_map(|d| judged(d).find(|a| a.cause == Some(cause.label())).map(|a| (d, a)));
        if let Some((view, account)) = hit {
            causes.push(cause.label());
            fixes.push(Fix {
                cause: cause.label(),
                account: Some(account.account.clone()),
                text: acl_fix(cause, view, account, &e.domain),
            });
        }
    }
    if let Some(policy) = &e.policy {
        if policy.min_age_seconds.is_some_and(|s| s > 0.0) {
            causes.push(MIN_PASSWORD_AGE);
            fixes.push(Fix { cause: MIN_PASSWORD_AGE, account: None, text: min_age_fix(e) });
        }
    }
    let gpo_min_age = e.related.checks.iter().find(|c| c.id == "ad_gpo_min_password_age" && c.status == Status::Fail);
    if let Some(check) = gpo_min_age {
        if !causes.contains(&MIN_PASSWORD_AGE) {
            causes.push(MIN_PASSWORD_AGE);
        }
        fixes.push(Fix { cause: MIN_PASSWORD_AGE, account: None, text: check.remediation.clone().unwrap_or_default() });
    }
    let accounts: Vec<&str> = read.iter().flat_map(|d| judged(d)).map(|a| a.account.as_str()).collect();
    for check in e.related.checks.iter().filter(|c| c.id == "ad_gpo_restrict_remote_sam" && c.status == Status::Fail) {
        if accounts.contains(&check.subject.as_str()) {
            if !causes.contains(&RESTRICT_REMOTE_SAM) {
                causes.push(RESTRICT_REMOTE_SAM);
            }
            let text = check.remediation.clone().unwrap_or_default();
            fixes.push(Fix { cause: RESTRICT_REMOTE_SAM, account: Some(check.subject.clone()), text });
        }
    }
    let unread = e.dcs.len() - read.len();
    if causes.is_empty() {
        if e.policy.as_ref().is_none_or(|p| p.min_age_seconds.is_none()) {
            return cannot("every right is held, but the password policy that applies could not be read".to_string());
        }
        let mut summary =
            format!("ready: every judged connector account holds the four rights on {} DC(s)", read.len());
        if unread > 0 {
            summary.push_str(&format!("; {unread} DC(s) could not be read"));
        }
        return Verdict { state: VerdictState::Ready, cause: None, causes, summary, fixes };
    }
    let summary = format!("not ready: {}", causes.join(", "));
    Verdict { state: VerdictState::NotReady, cause: causes.first().copied(), causes, summary, fixes }
}

fn acl_fix(cause: Cause, view: &DcExplanation, account: &AccountRights, domain: &str) -> String {
    let Some(object) = &view.object else { return cause.fix().to_string() };
    let parent = dn::parent(&object.dn).unwrap_or(&object.dn);
    match cause {
        Cause::Protected | Cause::ObjectClass => cause.fix().to_string(),
        Cause::InheritanceDisabled => format!(
            "Re-enable inheritance on the user: dsacls \"{}\" /P:N (ADUC > Security > Advanced > Enable inheritance); \
             Microsoft's Get-ADSyncObjectsWithInheritanceDisabled lists such users.",
            object.dn
        ),
        Cause::Denied => {
            let mut parts = Vec::new();
            for right in account.rights.iter().filter(|r| r.decision == "denied") {
                let Some(ace) = &right.ace else { continue };
                if right.right == Right::ChangePassword.label() && object.cannot_change_password {
                    parts.push(format!(
                        "{}: clear \"User cannot change password\" (ADUC > Account, or Set-ADUser {} \
                         -CannotChangePassword $false): it writes deny ACEs for Everyone and SELF",
                        right.title,
                        object.sam_account_name.as_deref().unwrap_or(&object.dn)
                    ));
                    continue;
                }
                parts.push(format!(
                    "{}: remove or narrow the deny ACE #{} {} for {} ({}; ADUC > Security > Advanced)",
                    right.title,
                    ace.position,
                    ace.sddl,
                    ace.trustee.name,
                    ace.source.describe()
                ));
            }
            if parts.is_empty() {
                cause.fix().to_string()
            } else {
                parts.join("; ")
            }
        }
        Cause::NotGranted => {
            let missing: Vec<Right> = Right::USER_RIGHTS
                .iter()
                .zip(&account.rights)
                .filter(|(_, r)| !r.allowed)
                .map(|(right, _)| *right)
                .collect();
            fixes::scope_grant(parent, &account.account, domain, &missing, account.engine)
        }
    }
}

fn min_age_fix(e: &Explanation) -> String {
    let Some(policy) = &e.policy else { return String::new() };
    let age = policy.min_age_seconds.map_or_else(|| "the minimum age".to_string(), describe_seconds);
    let when = match &policy.may_change_at {
        Some(at) => format!("This user changed the password within {age}: a writeback reset fails until {at}. "),
        None => {
            format!("A user who changed the password within {age} cannot reset it through writeback (event 33008). ")
        }
    };
    match &policy.pso {
        Some(pso) => format!(
            "{when}Set the minimum age of the fine-grained policy to 0: Set-ADFineGrainedPasswordPolicy -Identity \
             \"{0}\" -MinPasswordAge 0 (Samba: samba-tool domain passwordsettings pso set \"{0}\" --min-pwd-age=0).",
            pso.name
        ),
        None => format!(
            "{when}In the Group Policy that sets the domain password policy (usually Default Domain Policy) set \
             Computer Configuration > Policies > Windows Settings > Security Settings > Account Policies > Password \
             Policy > Minimum password age = 0 days, then run `gpupdate /force` on the PDC emulator; or in \
             PowerShell: Set-ADDefaultDomainPasswordPolicy -Identity {} -MinPasswordAge 0 (Samba: samba-tool domain \
             passwordsettings set --min-pwd-age=0).",
            e.domain
        ),
    }
}
