//! The series and checks of one scope, from its tally.

use super::cause::Cause;
use super::protection::Protection;
use super::tally::Tally;
use super::{
    AD_USERS, AD_USERS_INHERITANCE_DISABLED, AD_USERS_MISSING_PERMISSION, AD_USERS_NOT_READY, AD_USERS_PROTECTED,
    AD_USERS_READY, AD_USERS_UNREADABLE,
};
use crate::ad::connector::ConnectorAccount;
use crate::ad::monitoring_read::admin_count_fix;
use crate::ad::security::Right;
use crate::base::{Check, ProbeOutput, Status};

pub fn emit(
    domain: &str,
    scope: &str,
    accounts: &[ConnectorAccount],
    tally: &Tally,
    protection: &Protection,
    out: &mut ProbeOutput,
) {
    let hidden = protection.admin_count_readable == Some(false);
    let note = hidden.then(|| admin_count_note(protection, tally));
    out.sample(&AD_USERS, &[domain, scope], tally.users as f64);
    out.sample(&AD_USERS_PROTECTED, &[domain, scope], tally.protected as f64);
    out.sample(&AD_USERS_INHERITANCE_DISABLED, &[domain, scope], tally.inheritance_disabled as f64);
    out.sample(&AD_USERS_UNREADABLE, &[domain, scope], tally.unreadable as f64);
    for (account, t) in accounts.iter().zip(&tally.per_account) {
        let sam = account.sam.as_str();
        out.sample(&AD_USERS_READY, &[domain, scope, sam], t.ready as f64);
        for (right, n) in Right::USER_RIGHTS.iter().zip(t.missing) {
            out.sample(&AD_USERS_MISSING_PERMISSION, &[domain, scope, sam, right.label()], n as f64);
        }
        for cause in Cause::ALL {
            out.sample(&AD_USERS_NOT_READY, &[domain, scope, sam, cause.label()], t.not_ready[cause.index()] as f64);
        }
        out.checks.push(Check {
            id: "ad_users_ready",
            subject: format!("{scope} for {sam}"),
            title: "Users in scope are ready for writeback".to_string(),
            status: if t.ready == tally.users {
                Status::Pass
            } else if t.not_ready.iter().skip(1).all(|n| *n == 0) {
                Status::Warn
            } else {
                Status::Fail
            },
            observed: match &note {
                Some(note) => format!("{} of {} enabled users ready; {note}", t.ready, tally.users),
                None => format!("{} of {} enabled users ready", t.ready, tally.users),
            },
            remediation: None,
        });
        for cause in Cause::ALL {
            let n = t.not_ready[cause.index()];
            if n == 0 {
                continue;
            }
            let mut observed = format!("{n} users, e.g. {}", t.examples[cause.index()].join("; "));
            let mut remediation = cause.fix().to_string();
            if cause == Cause::Protected && tally.protected_by_dacl > 0 {
                observed.push_str(&format!(
                    " ({} recognized by their DACL: protected from inheritance and equal to AdminSDHolder's, \
                     adminCount=1 not read)",
                    tally.protected_by_dacl
                ));
            }
            // Where a hidden adminCount could have moved a user from one cause to the other.
            if let (Some(note), Cause::Protected | Cause::InheritanceDisabled) = (&note, cause) {
                observed.push_str(&format!("; {note}"));
                remediation.push_str(&format!(" {}", admin_count_fix(scope, &protection.monitor)));
            }
            out.checks.push(Check {
                id: "ad_users_not_ready",
                subject: format!("{scope} for {sam}: {}", cause.label()),
                title: format!("Users not ready because: {}", cause.label()),
                status: if cause == Cause::Protected { Status::Warn } else { Status::Fail },
                observed,
                remediation: Some(remediation),
            });
        }
    }
    if tally.unreadable > 0 {
        out.checks.push(Check {
            id: "ad_users_unreadable",
            subject: scope.to_string(),
            title: "Every user's security descriptor is readable".to_string(),
            status: Status::Warn,
            observed: format!("{} users could not be judged (see the log for their DNs)", tally.unreadable),
            remediation: Some("The monitoring account needs Read Permissions on users; a malformed descriptor is a directory problem.".to_string()),
        });
    }
}

/// What `check` says when the monitoring account cannot read adminCount.
fn admin_count_note(protection: &Protection, tally: &Tally) -> String {
    let how = if protection.holder.is_some() {
        "AdminSDHolder-protected users are recognized by their DACL (protected from inheritance and equal to \
         AdminSDHolder's); a user with adminCount=1 whose DACL differs counts as inheritance_disabled"
    } else {
        "AdminSDHolder's DACL is not readable either, so protected users count as inheritance_disabled"
    };
    format!(
        "adminCount is not readable by the monitoring account ({} of {} users recognized as protected): {how}",
        tally.protected, tally.users
    )
}
