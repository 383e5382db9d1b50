//! Judging every user of a scope's state for every connector account, from the cached descriptors.
//!
//! The access check runs once per distinct (descriptor, class) pair, not once per user: a cycle that read nothing
//! still re-judges everyone against the connector tokens of this cycle.

use std::collections::HashMap;

use super::cause::Cause;
use super::state::{ScopeState, SdId, User};
use crate::ad::connector::ConnectorAccount;
use crate::ad::security::{check_rights, guids, Decision, Right, SecurityDescriptor};

/// How many example DNs per cause `check` shows.
pub const EXAMPLES: usize = 10;

/// The counts of one scope, and per connector account.
#[derive(Debug, Default, PartialEq)]
pub struct Tally {
    pub users: u64,
    pub protected: u64,
    pub inheritance_disabled: u64,
    pub unreadable: u64,
    pub per_account: Vec<AccountTally>,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct AccountTally {
    pub ready: u64,
    pub missing: [u64; 4],
    pub not_ready: [u64; 5],
    /// Per cause, the first DNs in DN order (the same whatever order the users were read in).
    pub examples: [Vec<String>; 5],
}

/// What one descriptor says for one class: its protection flag and the decisions per account, or `None` when it
/// cannot be parsed (the user is then unreadable).
type Judged = Option<(bool, Vec<[Decision; 4]>)>;

/// Tallies the state for `accounts`.
pub fn tally(state: &ScopeState, accounts: &[ConnectorAccount]) -> Tally {
    let mut memo: HashMap<(SdId, bool), Judged> = HashMap::new();
    let mut t = Tally { per_account: vec![AccountTally::default(); accounts.len()], ..Tally::default() };
    let mut examples: Vec<[Vec<&str>; 5]> = vec![Default::default(); accounts.len()];
    for user in state.users.values() {
        let judged = match user.sd {
            None => None,
            // SELF applies when the connector looks at its own object: that one user is judged on its own.
            Some(id) if accounts.iter().any(|a| a.dn.eq_ignore_ascii_case(&user.dn)) => {
                judge(state.sds.bytes(id), user, accounts)
            }
            Some(id) => memo
                .entry((id, user.inet_org_person))
                .or_insert_with(|| judge(state.sds.bytes(id), user, accounts))
                .clone(),
        };
        let Some((inheritance_disabled, decided)) = judged else {
            t.unreadable += 1;
            continue;
        };
        t.users += 1;
        t.protected += u64::from(user.admin_count);
        t.inheritance_disabled += u64::from(inheritance_disabled);
        for ((account, decisions), examples) in t.per_account.iter_mut().zip(&decided).zip(&mut examples) {
            for (slot, decision) in account.missing.iter_mut().zip(decisions) {
                *slot += u64::from(!decision.allowed());
            }
            let Some(cause) = Cause::first(user.admin_count, inheritance_disabled, user.inet_org_person, decisions)
            else {
                account.ready += 1;
                continue;
            };
            account.not_ready[cause.index()] += 1;
            examples[cause.index()].push(&user.dn);
        }
    }
    for (account, examples) in t.per_account.iter_mut().zip(examples) {
        for (slot, mut dns) in account.examples.iter_mut().zip(examples) {
            if dns.len() > EXAMPLES {
                dns.select_nth_unstable(EXAMPLES);
                dns.truncate(EXAMPLES);
            }
            dns.sort_unstable();
            *slot = dns.into_iter().map(str::to_string).collect();
        }
    }
    t
}

/// The access check of one descriptor for every account (with SELF for the account's own object).
fn judge(bytes: &[u8], user: &User, accounts: &[ConnectorAccount]) -> Judged {
    let sd = SecurityDescriptor::parse(bytes).ok()?;
    let class = if user.inet_org_person { guids::INET_ORG_PERSON_CLASS } else { guids::USER_CLASS };
    let mut decided = Vec::with_capacity(accounts.len());
    for account in accounts {
        let decisions = if user.dn.eq_ignore_ascii_case(&account.dn) {
            check(&sd, &account.token.with_self(), class)
        } else {
            check(&sd, &account.token, class)
        };
        decided.push(decisions?);
    }
    Some((sd.dacl_protected(), decided))
}

fn check(
    sd: &SecurityDescriptor<'_>,
    token: &crate::ad::security::Token,
    class: crate::ad::security::Guid,
) -> Option<[Decision; 4]> {
    match sd.dacl_aces() {
        None => Some([Decision::NoDacl; 4]),
        Some(aces) => check_rights(aces, token, &Right::USER_RIGHTS, Some(class)).ok(),
    }
}
