//! Arbitrary bytes as an nTSecurityDescriptor: parse, walk both ACLs, run the access check for every right
//! with fixed tokens, inherit from the bytes as a parent, render every ACE. Nothing may panic, and:
//! - the check agrees with a naive reference evaluation (linear token scan, one right at a time);
//! - it fails exactly when the DACL holds a malformed ACE, with the iterator's first error;
//! - every ACE SDDL can express renders to text that parses back to the same ACE;
//! - what inheritance produces serialises and parses back unchanged.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use writeback_exporter::ad::security::{
    acl_to_bytes, check_access, check_access_on, guids, new_object_aces, parse_sddl, sd_to_bytes, Ace, AceType,
    AceView, Decision, Guid, Right, SdError, SecurityDescriptor, Sid, Token,
};

const ALL_RIGHTS: [Right; 5] = [
    Right::ResetPassword,
    Right::ChangePassword,
    Right::WriteLockoutTime,
    Right::WritePwdLastSet,
    Right::UnexpirePassword,
];

/// Samba's `user` defaultSecurityDescriptor: what a new user starts from before inheriting.
const USER_DEFAULT_SD: &str = "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;AO)(A;;RPLCLORC;;;PS)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;CR;ab721a54-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;CR;ab721a56-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;RPWP;77B5B886-944A-11d1-AEBD-0000F80367C1;;PS)(OA;;RPWP;E45795B2-9455-11d1-AEBD-0000F80367C1;;PS)(OA;;RPWP;E45795B3-9455-11d1-AEBD-0000F80367C1;;PS)(OA;;RP;037088f8-0ae1-11d2-b422-00a0c968f939;;RS)(OA;;RP;4c164200-20c0-11d0-a768-00aa006e0529;;RS)(OA;;RP;bc0ac240-79a9-11d0-9020-00c04fc2d4cf;;RS)(A;;RC;;;AU)(OA;;RP;59ba2f42-79a2-11d0-9020-00c04fc2d3cf;;AU)(OA;;RP;77B5B886-944A-11d1-AEBD-0000F80367C1;;AU)(OA;;RP;E45795B3-9455-11d1-AEBD-0000F80367C1;;AU)(OA;;RP;e48d0154-bcf8-11d1-8702-00c04fb96050;;AU)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)(OA;;RP;5f202010-79a5-11d0-9020-00c04fc2d4cf;;RS)(OA;;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;;CA)(OA;;RP;46a9b11d-60ae-405a-b7e8-ff8a58d456d2;;S-1-5-32-560)(OA;;WPRP;6db69a1c-9422-11d1-aebd-0000f80367c1;;S-1-5-32-561)(OA;;WPRP;5805bc62-bdc9-4428-a5e2-856a0f4c185e;;S-1-5-32-561)";

struct Fixture {
    tokens: Vec<Token>,
    user_default: Vec<Ace>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let domain: Sid = "S-1-5-21-1-2-3".parse().expect("constant SID");
        let builtin = |rid| Sid::from_parts(5, &[32, rid]).expect("constant SID");
        // The connector (the SIDs the seeds grant to), an administrator on its own object (SELF applies),
        // and a token of 30 SIDs like the benchmark's. The seeds' ACEs name these SIDs, so mutations of
        // them reach both the matching and the non-matching paths.
        let connector = Token::new(domain.with_rid(1105), [domain.with_rid(1200), domain.with_rid(513), builtin(545)]);
        let admin = Token::new(domain.with_rid(500), [domain.with_rid(512), domain.with_rid(519), builtin(544)]);
        let big = Token::new(domain.with_rid(1105), (0..26).map(|i| domain.with_rid(1200 + i * 7)));
        let user_default = parse_sddl(USER_DEFAULT_SD, Some(&domain)).expect("schema SDDL").dacl.expect("has a DACL");
        Fixture { tokens: vec![connector, admin.with_self(), big], user_default }
    })
}

/// MS-DTYP 2.5.3.2 the slow, obvious way: one right at a time, membership by linear scan.
fn reference<'a>(
    aces: impl Iterator<Item = Result<AceView<'a>, SdError>>,
    token: &Token,
    rights: &[Right],
    class: Option<Guid>,
) -> Result<Vec<Decision>, SdError> {
    let aces: Vec<AceView<'a>> = aces.collect::<Result<_, _>>()?;
    let decide = |right: &Right| {
        for (index, ace) in aces.iter().enumerate() {
            let deny = match ace.ace_type {
                AceType::AccessAllowed | AceType::AccessAllowedObject => false,
                AceType::AccessDenied | AceType::AccessDeniedObject => true,
                AceType::Other(_) => continue,
            };
            if ace.is_inherit_only()
                || !right.covered_by(ace.mask, ace.object_type, class)
                || !token.sids().iter().any(|s| s.as_bytes() == ace.sid)
            {
                continue;
            }
            return if deny { Decision::Denied { ace: index } } else { Decision::Granted { ace: index } };
        }
        Decision::NotGranted
    };
    Ok(rights.iter().map(decide).collect())
}

/// ACE types the SDDL vocabulary names (A, D, AU, AL, OA, OD, OU, OL, ML): their text parses back.
fn sddl_expressible(ace_type: AceType) -> bool {
    matches!(ace_type.as_u8(), 0x00..=0x03 | 0x05..=0x08 | 0x11)
}

fuzz_target!(|data: &[u8]| {
    let Ok(sd) = SecurityDescriptor::parse(data) else { return };
    let fx = fixture();
    // Owner and group were validated by parse.
    assert!(sd.owner().is_none_or(|o| o.is_ok()));
    assert!(sd.group().is_none_or(|g| g.is_ok()));
    let rendered = sd.to_sddl();

    if let Some(sacl) = sd.sacl_aces() {
        for ace in sacl.flatten() {
            let _ = ace.to_sddl();
            let _ = ace.to_owned();
        }
    }

    let Some(dacl) = sd.dacl_aces() else {
        for token in &fx.tokens {
            assert_eq!(sd.check(token, &ALL_RIGHTS), Ok(vec![Decision::NoDacl; ALL_RIGHTS.len()]));
        }
        return;
    };
    assert!(dacl.clone().count() <= sd.dacl_ace_count());
    let first_error = dacl.clone().find_map(Result::err);
    assert_eq!(rendered.as_ref().err(), first_error.as_ref());

    for view in dacl.clone().flatten() {
        let text = view.to_sddl();
        let owned = view.to_owned();
        if sddl_expressible(view.ace_type) {
            let ace = owned.expect("a known type has a readable SID");
            let again = parse_sddl(&format!("D:{text}"), None).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(again.dacl, Some(vec![ace]), "{text}");
        }
    }

    for token in &fx.tokens {
        for class in [None, Some(guids::USER_CLASS)] {
            let all = check_access_on(dacl.clone(), token, &ALL_RIGHTS, class);
            assert_eq!(all, reference(dacl.clone(), token, &ALL_RIGHTS, class));
            assert_eq!(all.as_ref().err(), first_error.as_ref());
            // Each right is decided on its own: asking fewer, or in another order, changes nothing.
            for (i, right) in ALL_RIGHTS.iter().enumerate() {
                let one = check_access_on(dacl.clone(), token, std::slice::from_ref(right), class);
                assert_eq!(one.map(|d| d[0]), all.clone().map(|d| d[i]));
            }
            let user = check_access_on(dacl.clone(), token, &Right::USER_RIGHTS, class);
            assert_eq!(user.map(|d| d.to_vec()), all.clone().map(|d| d[..4].to_vec()));
        }
        assert_eq!(check_access(dacl.clone(), token, &ALL_RIGHTS), sd.check(token, &ALL_RIGHTS));
        assert_eq!(
            check_access_on(dacl.clone(), token, &ALL_RIGHTS, Some(guids::USER_CLASS)),
            sd.check_on(token, &ALL_RIGHTS, Some(guids::USER_CLASS))
        );
    }

    // The bytes as the parent of a new user: what it inherits must serialise and read back unchanged.
    if let Ok(aces) = new_object_aces(&fx.user_default, dacl.clone(), guids::USER_CLASS) {
        assert!(first_error.is_none());
        if acl_to_bytes(&aces).is_ok() {
            let bytes = sd_to_bytes(0, None, None, Some(&aces)).expect("the ACL fits");
            let child = SecurityDescriptor::parse(&bytes).expect("own output parses");
            let back: Result<Vec<Ace>, SdError> =
                child.dacl_aces().expect("has a DACL").map(|a| a.and_then(|v| v.to_owned())).collect();
            assert_eq!(back.as_ref(), Ok(&aces));
        }
    }
});
