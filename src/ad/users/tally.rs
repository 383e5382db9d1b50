//! Judging every user of a scope's state for every connector account, from the cached descriptors.
//!
//! The access check runs once per distinct (descriptor, class) pair, not once per user: a cycle that read nothing
//! still re-judges everyone against the connector tokens of this cycle, and against this cycle's AdminSDHolder.

use std::collections::HashMap;

use super::cause::Cause;
use super::state::{ScopeState, SdId, User};
use crate::ad::connector::ConnectorAccount;
use crate::ad::security::flags::INHERITED;
use crate::ad::security::{check_rights, guids, Decision, Right, SecurityDescriptor};

/// How many example DNs per cause `check` shows.
pub const EXAMPLES: usize = 10;

/// The counts of one scope, and per connector account.
#[derive(Debug, Default, PartialEq)]
pub struct Tally {
    pub users: u64,
    /// AdminSDHolder-protected users: adminCount=1 as read, or a protected DACL equal to AdminSDHolder's.
    pub protected: u64,
    /// Of those, users recognized by their DACL alone (adminCount not read as 1: absent, or hidden from the
    /// monitoring account).
    pub protected_by_dacl: u64,
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

/// What one descriptor says for one class, or `None` when it cannot be parsed (the user is then unreadable).
#[derive(Debug, Clone)]
struct Judged {
    /// SE_DACL_PROTECTED.
    inheritance_disabled: bool,
    /// Inheritance disabled and the same ACEs as AdminSDHolder's DACL: what SDProp leaves on a protected account.
    holder_dacl: bool,
    /// Per account.
    decided: Vec<[Decision; 4]>,
}

/// AdminSDHolder's DACL as this cycle read it: its ACEs, each without the INHERITED flag (SDProp copies the
/// descriptor onto a protected account as explicit ACEs), in a canonical order. Order is ignored: a DACL with the
/// same ACEs is SDProp's copy whatever order the DC stores them in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSdHolder(Vec<Vec<u8>>);

impl AdminSdHolder {
    /// From AdminSDHolder's `nTSecurityDescriptor` (DACL only); `None` when it has no DACL or cannot be parsed.
    pub fn from_descriptor(bytes: &[u8]) -> Option<AdminSdHolder> {
        let sd = SecurityDescriptor::parse(bytes).ok()?;
        acl_key(&sd).map(AdminSdHolder)
    }

    /// Whether a protected DACL is SDProp's copy of this one.
    fn matches(&self, sd: &SecurityDescriptor<'_>) -> bool {
        sd.dacl_protected() && acl_key(sd).is_some_and(|key| key == self.0)
    }
}

/// The DACL's ACEs as bytes without the INHERITED flag, sorted; `None` without a DACL or with an unreadable ACE.
fn acl_key(sd: &SecurityDescriptor<'_>) -> Option<Vec<Vec<u8>>> {
    let mut key = Vec::new();
    for ace in sd.dacl_aces()? {
        let mut ace = ace.ok()?.to_owned().ok()?;
        ace.flags &= !INHERITED;
        let mut bytes = Vec::new();
        ace.write_to(&mut bytes).ok()?;
        key.push(bytes);
    }
    key.sort_unstable();
    Some(key)
}

/// [`tally_with`] without AdminSDHolder's DACL (the property tests' form).
#[cfg(test)]
pub fn tally(state: &ScopeState, accounts: &[ConnectorAccount]) -> Tally {
    tally_with(state, accounts, None)
}

/// Tallies the state for `accounts`; `holder` is AdminSDHolder's DACL as read this cycle (`None`: unreadable, so
/// only adminCount tells protected users).
pub fn tally_with(state: &ScopeState, accounts: &[ConnectorAccount], holder: Option<&AdminSdHolder>) -> Tally {
    let mut memo: HashMap<(SdId, bool), Option<Judged>> = HashMap::new();
    let mut t = Tally { per_account: vec![AccountTally::default(); accounts.len()], ..Tally::default() };
    let mut examples: Vec<[Vec<&str>; 5]> = vec![Default::default(); accounts.len()];
    for user in state.users.values() {
        let judged = match user.sd {
            None => None,
            // SELF applies when the connector looks at its own object: that one user is judged on its own.
            Some(id) if accounts.iter().any(|a| a.dn.eq_ignore_ascii_case(&user.dn)) => {
                judge(state.sds.bytes(id), user, accounts, holder)
            }
            Some(id) => memo
                .entry((id, user.inet_org_person))
                .or_insert_with(|| judge(state.sds.bytes(id), user, accounts, holder))
                .clone(),
        };
        let Some(Judged { inheritance_disabled, holder_dacl, decided }) = judged else {
            t.unreadable += 1;
            continue;
        };
        // Derived here, never stored: a changed AdminSDHolder re-judges every cached user, as a full scan would.
        let protected = user.admin_count || holder_dacl;
        t.users += 1;
        t.protected += u64::from(protected);
        t.protected_by_dacl += u64::from(holder_dacl && !user.admin_count);
        t.inheritance_disabled += u64::from(inheritance_disabled);
        for ((account, decisions), examples) in t.per_account.iter_mut().zip(&decided).zip(&mut examples) {
            for (slot, decision) in account.missing.iter_mut().zip(decisions) {
                *slot += u64::from(!decision.allowed());
            }
            let Some(cause) = Cause::first(protected, inheritance_disabled, user.inet_org_person, decisions) else {
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
fn judge(bytes: &[u8], user: &User, accounts: &[ConnectorAccount], holder: Option<&AdminSdHolder>) -> Option<Judged> {
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
    let holder_dacl = holder.is_some_and(|h| h.matches(&sd));
    Some(Judged { inheritance_disabled: sd.dacl_protected(), holder_dacl, decided })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ad::security::{parse_sddl, Sid, Token};

    const CONNECTOR: &str = "S-1-5-21-1-2-3-1001";
    const RESET: &str = "00299570-246d-11d0-a768-00aa006e0529";
    const ADMIN_COUNT: &str = "bf967918-0de6-11d0-a285-00aa003049e2";

    fn sd(text: &str) -> Vec<u8> {
        parse_sddl(text, None).unwrap().to_bytes().unwrap()
    }

    fn connector() -> ConnectorAccount {
        let sid: Sid = CONNECTOR.parse().unwrap();
        ConnectorAccount {
            sam: "MSOL_0123456789ab".into(),
            engine: crate::ad::connector::Engine::Connect,
            dn: "CN=MSOL_0123456789ab,CN=Users,DC=x".into(),
            sid: sid.clone(),
            description: None,
            user_account_control: 512,
            pwd_last_set: None,
            lockout_time: None,
            computed_flags: None,
            password_expiry: None,
            token: Token::new(sid, []),
            groups_known: true,
        }
    }

    fn not_ready(t: &Tally, cause: Cause) -> u64 {
        t.per_account[0].not_ready[cause.index()]
    }

    /// AdminSDHolder as Samba holds it (inherited ACEs included), and the DACL SDProp leaves on a protected user:
    /// the same ACEs, explicit, inheritance off, stored in another order.
    const HOLDER: &str = "D:AI(A;;RPLCLORC;;;AU)(A;;GA;;;BA)(A;CIID;LC;;;RU)";
    const COPY: &str = "D:P(A;CI;LC;;;RU)(A;;GA;;;BA)(A;;RPLCLORC;;;AU)";

    #[test]
    fn protection_is_told_by_the_dacl_when_admin_count_is_hidden() {
        let holder = AdminSdHolder::from_descriptor(&sd(HOLDER)).unwrap();
        let mut state = ScopeState::new(Default::default(), 0);
        // adminCount=1 not read (hidden from the monitoring account): the DACL tells.
        state.put_user([1; 16], "CN=hidden,DC=x", Some(&sd(COPY)), false, false);
        // adminCount=1 read: protected whatever the DACL.
        state.put_user([2; 16], "CN=read,DC=x", Some(&sd(&format!("D:P(OA;;CR;{RESET};;WD)"))), false, true);
        // Inheritance off, but not AdminSDHolder's ACEs (one more).
        state.put_user([3; 16], "CN=other,DC=x", Some(&sd(&format!("{COPY}(A;;RP;;;WD)"))), false, false);
        // AdminSDHolder's ACEs with inheritance on: not SDProp's work.
        state.put_user(
            [4; 16],
            "CN=open,DC=x",
            Some(&sd("D:(A;CI;LC;;;RU)(A;;GA;;;BA)(A;;RPLCLORC;;;AU)")),
            false,
            false,
        );
        let accounts = [connector()];

        let t = tally_with(&state, &accounts, Some(&holder));
        assert_eq!((t.protected, t.protected_by_dacl, t.inheritance_disabled), (2, 1, 3));
        assert_eq!(not_ready(&t, Cause::Protected), 2);
        assert_eq!(not_ready(&t, Cause::InheritanceDisabled), 1);
        assert_eq!(t.per_account[0].examples[Cause::Protected.index()], ["CN=hidden,DC=x", "CN=read,DC=x"]);

        // Without AdminSDHolder's DACL (unreadable), or after AdminSDHolder changed, the same cached descriptors
        // are judged again: the hidden one is only "inheritance disabled" now.
        for holder in
            [None, Some(AdminSdHolder::from_descriptor(&sd(&format!("{HOLDER}(OD;;RP;{ADMIN_COUNT};;WD)"))).unwrap())]
        {
            let t = tally_with(&state, &accounts, holder.as_ref());
            assert_eq!((t.protected, t.protected_by_dacl), (1, 0));
            assert_eq!(not_ready(&t, Cause::Protected), 1);
            assert_eq!(not_ready(&t, Cause::InheritanceDisabled), 2);
        }
    }

    #[test]
    fn an_unreadable_holder_is_none() {
        assert!(AdminSdHolder::from_descriptor(&[1, 2, 3]).is_none());
        assert!(AdminSdHolder::from_descriptor(&sd("D:NO_ACCESS_CONTROL")).is_none(), "a NULL DACL");
    }
}
