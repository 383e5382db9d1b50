//! Property: a state patched by any sequence of the operations an incremental cycle performs holds exactly what
//! a model of the directory holds, and its tally (one access check per distinct descriptor) equals the sum of the
//! tallies of each user judged alone.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::cause::Cause;
use super::state::{DcIdentity, Guid, ScopeState, UserContent};
use super::tally::{tally, Tally, EXAMPLES};
use crate::ad::connector::ConnectorAccount;
use crate::ad::dn;
use crate::ad::security::{parse_sddl, Sid, Token};

const OUS: [&str; 3] = ["OU=A,DC=x", "OU=B,OU=A,DC=x", "OU=C,DC=x"];
const ACCOUNT_A: &str = "S-1-5-21-1-2-3-1001";
const GROUP: &str = "S-1-5-21-1-2-3-2001";
const RESET: &str = "00299570-246d-11d0-a768-00aa006e0529";
const CHANGE: &str = "ab721a53-1e2f-11d0-9819-00aa0040529b";
const LOCKOUT: &str = "28630ebf-41d5-11d1-a9c1-0000f80367c1";
const PWD_LAST_SET: &str = "bf967a0a-0de6-11d0-a285-00aa003049e2";
const USER_CLASS: &str = "bf967aba-0de6-11d0-a285-00aa003049e2";

/// Descriptors that decide the four rights differently: granted to the account or its group, denied, protected,
/// granted to SELF only, granted on objects of class user only, and one malformed.
fn descriptors() -> Vec<Option<Vec<u8>>> {
    let all = |who: &str| {
        format!(
            "(OA;;CR;{RESET};;{who})(OA;;CR;{CHANGE};;{who})(OA;;WP;{LOCKOUT};;{who})(OA;;WP;{PWD_LAST_SET};;{who})"
        )
    };
    let texts = [
        format!("D:{}", all(ACCOUNT_A)),
        format!("D:{}", all(GROUP)),
        format!("D:(OD;;CR;{RESET};;WD){}", all(GROUP)),
        format!("D:P{}", all(ACCOUNT_A)),
        format!("D:{}", all("PS")),
        format!("D:(OA;;CRWP;{USER_CLASS};;{ACCOUNT_A})(A;;GA;;;{GROUP})"),
        "D:(A;;RP;;;WD)".to_string(),
    ];
    let mut out: Vec<_> = texts.iter().map(|t| Some(parse_sddl(t, None).unwrap().to_bytes().unwrap())).collect();
    out.push(Some(vec![1, 0, 4, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 2, 0, 99, 0, 1, 0, 0, 0]));
    out.push(None);
    out
}

#[derive(Debug, Clone)]
enum Op {
    PutUser { guid: u8, ou: usize, sd: usize, inet: bool, admin: bool },
    Remove { guid: u8 },
    PutContainer { ou: usize, sd: usize },
    RemoveContainer { ou: usize },
    RemoveBelow { ou: usize },
    Compact,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..24u8, 0..OUS.len(), 0..9usize, any::<bool>(), any::<bool>())
            .prop_map(|(guid, ou, sd, inet, admin)| Op::PutUser { guid, ou, sd, inet, admin }),
        2 => (0..24u8).prop_map(|guid| Op::Remove { guid }),
        1 => (0..OUS.len(), 0..9usize).prop_map(|(ou, sd)| Op::PutContainer { ou, sd }),
        1 => (0..OUS.len()).prop_map(|ou| Op::RemoveContainer { ou }),
        1 => (0..OUS.len()).prop_map(|ou| Op::RemoveBelow { ou }),
        1 => Just(Op::Compact),
    ]
}

fn user_guid(i: u8) -> Guid {
    [i; 16]
}

fn container_guid(ou: usize) -> Guid {
    [200 + ou as u8; 16]
}

fn user_dn(guid: u8, ou: usize) -> String {
    format!("CN=u{guid},{}", OUS[ou])
}

fn account(sam: &str, sid: &str, dn: &str, groups: &[&str]) -> ConnectorAccount {
    let sid: Sid = sid.parse().unwrap();
    let token = Token::new(sid.clone(), groups.iter().map(|g| g.parse().unwrap()));
    ConnectorAccount {
        sam: sam.to_string(),
        engine: crate::ad::connector::Engine::Connect,
        dn: dn.to_string(),
        sid,
        description: None,
        user_account_control: 512,
        pwd_last_set: None,
        lockout_time: None,
        computed_flags: None,
        password_expiry: None,
        token,
        groups_known: true,
    }
}

/// The sum of one-user tallies (no descriptor shared, so nothing memoised across users).
fn one_by_one(state: &ScopeState, accounts: &[ConnectorAccount]) -> Tally {
    let mut sum = Tally { per_account: vec![Default::default(); accounts.len()], ..Tally::default() };
    for (guid, user) in &state.users {
        let mut alone = ScopeState::new(DcIdentity::default(), 0);
        alone.put_user(*guid, &user.dn, user.sd.map(|id| state.sds.bytes(id)), user.inet_org_person, user.admin_count);
        let t = tally(&alone, accounts);
        sum.users += t.users;
        sum.protected += t.protected;
        sum.inheritance_disabled += t.inheritance_disabled;
        sum.unreadable += t.unreadable;
        for (s, a) in sum.per_account.iter_mut().zip(t.per_account) {
            s.ready += a.ready;
            for i in 0..4 {
                s.missing[i] += a.missing[i];
            }
            for c in Cause::ALL {
                s.not_ready[c.index()] += a.not_ready[c.index()];
                s.examples[c.index()].extend(a.examples[c.index()].iter().cloned());
            }
        }
    }
    for account in &mut sum.per_account {
        for examples in &mut account.examples {
            examples.sort();
            examples.truncate(EXAMPLES);
        }
    }
    sum
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn patched_state_matches_the_model_and_its_tally_the_per_user_one(
        ops in proptest::collection::vec(op(), 1..60),
        in_group in any::<bool>(),
    ) {
        let sds = descriptors();
        let groups: &[&str] = if in_group { &[GROUP] } else { &[] };
        // Account B's own object is a user in scope (u3 in OU=A): SELF applies to it alone.
        let accounts =
            [account("MSOL_a", ACCOUNT_A, "CN=msol_a,DC=x", groups), account("MSOL_b", "S-1-5-21-1-2-3-1003", &user_dn(3, 0), &[])];
        let mut state = ScopeState::new(DcIdentity::default(), 0);
        let mut model: BTreeMap<Guid, UserContent> = BTreeMap::new();
        let mut containers: BTreeMap<usize, ()> = BTreeMap::new();
        for op in ops {
            match op {
                Op::PutUser { guid, ou, sd, inet, admin } => {
                    state.put_user(user_guid(guid), &user_dn(guid, ou), sds[sd].as_deref(), inet, admin);
                    model.insert(user_guid(guid), (user_guid(guid), user_dn(guid, ou), sds[sd].clone(), inet, admin));
                }
                Op::Remove { guid } => {
                    state.remove(&user_guid(guid));
                    model.remove(&user_guid(guid));
                }
                Op::PutContainer { ou, sd } => {
                    state.put_container(container_guid(ou), OUS[ou], sds[sd].as_deref(), false);
                    containers.insert(ou, ());
                }
                Op::RemoveContainer { ou } | Op::RemoveBelow { ou } => {
                    let was_known = containers.contains_key(&ou);
                    if matches!(op, Op::RemoveContainer { .. }) {
                        state.remove(&container_guid(ou));
                    } else {
                        state.remove_below(OUS[ou]);
                    }
                    if was_known || matches!(op, Op::RemoveBelow { .. }) {
                        let base = dn::normalize(OUS[ou]);
                        model.retain(|_, u| !dn::is_at_or_below(&dn::normalize(&u.1), &base));
                        containers.retain(|other, _| !dn::is_at_or_below(&dn::normalize(OUS[*other]), &base));
                    }
                }
                Op::Compact => state.compact(),
            }
            let expected: Vec<UserContent> = model.values().cloned().collect();
            prop_assert_eq!(state.content(), expected);
            prop_assert_eq!(tally(&state, &accounts), one_by_one(&state, &accounts));
        }
    }
}
