//! Cost of judging one user: parse its nTSecurityDescriptor and evaluate the four writeback rights.
//!
//! The DACL is what a user in a real domain carries: Samba's `user` defaultSecurityDescriptor (24 explicit
//! ACEs) followed by what it inherits from a Windows-like domain root (built with `new_object_aces`, so
//! inherit-only and effective copies are as AD stores them), including the connector's writeback grant.
//! The token has 30 SIDs, like a connector account in a couple of dozen groups.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use writeback_exporter::ad::security::{
    flags, guids, new_object_aces, parse_sddl, sd_to_bytes, Decision, Right, SecurityDescriptor, Sid, Token,
};

const USER_DEFAULT_SD: &str = "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;AO)(A;;RPLCLORC;;;PS)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;CR;ab721a54-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;CR;ab721a56-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;RPWP;77B5B886-944A-11d1-AEBD-0000F80367C1;;PS)(OA;;RPWP;E45795B2-9455-11d1-AEBD-0000F80367C1;;PS)(OA;;RPWP;E45795B3-9455-11d1-AEBD-0000F80367C1;;PS)(OA;;RP;037088f8-0ae1-11d2-b422-00a0c968f939;;RS)(OA;;RP;4c164200-20c0-11d0-a768-00aa006e0529;;RS)(OA;;RP;bc0ac240-79a9-11d0-9020-00c04fc2d4cf;;RS)(A;;RC;;;AU)(OA;;RP;59ba2f42-79a2-11d0-9020-00c04fc2d3cf;;AU)(OA;;RP;77B5B886-944A-11d1-AEBD-0000F80367C1;;AU)(OA;;RP;E45795B3-9455-11d1-AEBD-0000F80367C1;;AU)(OA;;RP;e48d0154-bcf8-11d1-8702-00c04fb96050;;AU)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)(OA;;RP;5f202010-79a5-11d0-9020-00c04fc2d4cf;;RS)(OA;;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;;CA)(OA;;RP;46a9b11d-60ae-405a-b7e8-ff8a58d456d2;;S-1-5-32-560)(OA;;WPRP;6db69a1c-9422-11d1-aebd-0000f80367c1;;S-1-5-32-561)(OA;;WPRP;5805bc62-bdc9-4428-a5e2-856a0f4c185e;;S-1-5-32-561)";

/// Inheritable ACEs of a domain root (the common Windows defaults) plus the connector's writeback grant
/// as Set-ADSyncPasswordWritebackPermissions writes it.
const DOMAIN_ROOT_DACL: &str = "D:AI\
(OA;CIIO;RP;4c164200-20c0-11d0-a768-00aa006e0529;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;RP;4c164200-20c0-11d0-a768-00aa006e0529;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;5f202010-79a5-11d0-9020-00c04fc2d4cf;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;RP;5f202010-79a5-11d0-9020-00c04fc2d4cf;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;bc0ac240-79a9-11d0-9020-00c04fc2d4cf;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;RP;bc0ac240-79a9-11d0-9020-00c04fc2d4cf;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;59ba2f42-79a2-11d0-9020-00c04fc2d3cf;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;037088f8-0ae1-11d2-b422-00a0c968f939;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(OA;CIIO;RP;b7c69e6d-2cc7-11d2-854e-00a0c983f608;bf967aba-0de6-11d0-a285-00aa003049e2;ED)\
(OA;CIIO;WP;ea1b7b93-5e48-46d5-bc6c-4df4fda78a35;bf967a86-0de6-11d0-a285-00aa003049e2;PS)\
(OA;CIIO;SW;9b026da6-0d3c-465c-8bee-5199d7165cba;bf967a86-0de6-11d0-a285-00aa003049e2;PS)\
(OA;CI;RPWP;5b47d60f-6090-40b2-9f37-2a4de88f3063;;KA)\
(OA;CI;RPWP;5b47d60f-6090-40b2-9f37-2a4de88f3063;;EK)\
(OA;CIIO;LCRPLORC;;4828cc14-1437-45bc-9b07-ad6f015e5f28;RU)\
(OA;CIIO;LCRPLORC;;bf967aba-0de6-11d0-a285-00aa003049e2;RU)\
(A;CI;RPWPCRCCDCLCLORCWOWDSDDTSW;;;EA)\
(A;CI;LC;;;RU)\
(A;CI;CCLCSWRPWPLOCRSDRCWDWO;;;BA)\
(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)\
(OA;CIIO;CR;00299570-246d-11d0-a768-00aa006e0529;bf967aba-0de6-11d0-a285-00aa003049e2;S-1-5-21-1-2-3-1105)\
(OA;CIIO;WP;28630ebf-41d5-11d1-a9c1-0000f80367c1;bf967aba-0de6-11d0-a285-00aa003049e2;S-1-5-21-1-2-3-1105)\
(OA;CIIO;WP;bf967a0a-0de6-11d0-a285-00aa003049e2;bf967aba-0de6-11d0-a285-00aa003049e2;S-1-5-21-1-2-3-1105)";

fn domain() -> Sid {
    "S-1-5-21-1-2-3".parse().expect("constant SID")
}

/// The user's nTSecurityDescriptor as a DC returns it (owner, group, DACL).
fn user_sd() -> Vec<u8> {
    let d = domain();
    let default = parse_sddl(USER_DEFAULT_SD, Some(&d)).expect("schema SDDL").dacl.expect("has a DACL");
    let root = parse_sddl(DOMAIN_ROOT_DACL, Some(&d)).expect("root SDDL").to_bytes().expect("encodes");
    let root = SecurityDescriptor::parse(&root).expect("parses");
    let aces = new_object_aces(&default, root.dacl_aces().expect("has a DACL"), guids::USER_CLASS).expect("inherits");
    let owner = d.with_rid(512);
    let group = d.with_rid(513);
    sd_to_bytes(flags::SE_DACL_AUTO_INHERITED, Some(&owner), Some(&group), Some(&aces)).expect("encodes")
}

/// The connector account, 26 groups of its domain, and the three implied well-known SIDs.
fn token() -> Token {
    let d = domain();
    let groups = (0..26).map(|i| d.with_rid(1200 + i * 7));
    Token::new(d.with_rid(1105), groups)
}

fn bench(c: &mut Criterion) {
    let bytes = user_sd();
    let token = token();
    let sd = SecurityDescriptor::parse(&bytes).expect("parses");
    let decisions = sd.check(&token, &Right::USER_RIGHTS).expect("valid");
    assert!(decisions.iter().all(|d| matches!(d, Decision::Granted { .. })), "{decisions:?}");
    assert_eq!(sd.check_rights(&token, &Right::USER_RIGHTS, None).expect("valid")[..], decisions[..]);
    eprintln!("user SD: {} bytes, {} ACEs; token: {} SIDs", bytes.len(), sd.dacl_ace_count(), token.sids().len());

    let mut group = c.benchmark_group("user");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_and_check_4_rights", |b| {
        b.iter(|| {
            let sd = SecurityDescriptor::parse(black_box(&bytes)).expect("parses");
            sd.check(black_box(&token), &Right::USER_RIGHTS).expect("valid")
        })
    });
    // Worst case: nothing decides early, so every covering ACE costs a token lookup.
    let outsider = Token::new(domain().with_rid(4242), (0..26).map(|i| domain().with_rid(5000 + i)));
    group.bench_function("parse_and_check_4_rights_none_granted", |b| {
        b.iter(|| {
            let sd = SecurityDescriptor::parse(black_box(&bytes)).expect("parses");
            sd.check(black_box(&outsider), &Right::USER_RIGHTS).expect("valid")
        })
    });
    // What the exporter can call instead: the same check, decisions in an array, no allocation per user.
    group.bench_function("parse_and_check_4_rights_no_alloc", |b| {
        b.iter(|| {
            let sd = SecurityDescriptor::parse(black_box(&bytes)).expect("parses");
            sd.check_rights(black_box(&token), &Right::USER_RIGHTS, None).expect("valid")
        })
    });
    // src/ad/users.rs clones the connector's token for every user it judges: one allocation per SID.
    group.bench_function("token_clone", |b| b.iter(|| black_box(&token).clone()));
    group.bench_function("parse_only", |b| b.iter(|| SecurityDescriptor::parse(black_box(&bytes)).expect("parses")));
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
