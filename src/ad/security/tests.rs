//! Table-driven tests of the access check, inheritance and SDDL against the cases REFERENCE.md section 1 lists.

use super::*;

/// Samba's `user` defaultSecurityDescriptor, verbatim from /usr/share/samba/setup/ad-schema/
/// MS-AD_Schema_2K8_R2_Classes.txt (Samba 4.17). Note the mixed-case GUIDs: the schema really has them.
pub(crate) const SAMBA_USER_DEFAULT_SD: &str = "D:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;DA)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;SY)(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;AO)(A;;RPLCLORC;;;PS)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;CR;ab721a54-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;CR;ab721a56-1e2f-11d0-9819-00aa0040529b;;PS)(OA;;RPWP;77B5B886-944A-11d1-AEBD-0000F80367C1;;PS)(OA;;RPWP;E45795B2-9455-11d1-AEBD-0000F80367C1;;PS)(OA;;RPWP;E45795B3-9455-11d1-AEBD-0000F80367C1;;PS)(OA;;RP;037088f8-0ae1-11d2-b422-00a0c968f939;;RS)(OA;;RP;4c164200-20c0-11d0-a768-00aa006e0529;;RS)(OA;;RP;bc0ac240-79a9-11d0-9020-00c04fc2d4cf;;RS)(A;;RC;;;AU)(OA;;RP;59ba2f42-79a2-11d0-9020-00c04fc2d3cf;;AU)(OA;;RP;77B5B886-944A-11d1-AEBD-0000F80367C1;;AU)(OA;;RP;E45795B3-9455-11d1-AEBD-0000F80367C1;;AU)(OA;;RP;e48d0154-bcf8-11d1-8702-00c04fb96050;;AU)(OA;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)(OA;;RP;5f202010-79a5-11d0-9020-00c04fc2d4cf;;RS)(OA;;RPWP;bf967a7f-0de6-11d0-a285-00aa003049e2;;CA)(OA;;RP;46a9b11d-60ae-405a-b7e8-ff8a58d456d2;;S-1-5-32-560)(OA;;WPRP;6db69a1c-9422-11d1-aebd-0000f80367c1;;S-1-5-32-561)(OA;;WPRP;5805bc62-bdc9-4428-a5e2-856a0f4c185e;;S-1-5-32-561)";

const RESET: &str = "00299570-246d-11d0-a768-00aa006e0529";
const CHANGE: &str = "ab721a53-1e2f-11d0-9819-00aa0040529b";
const LOCKOUT: &str = "28630ebf-41d5-11d1-a9c1-0000f80367c1";
const PWD_LAST_SET: &str = "bf967a0a-0de6-11d0-a285-00aa003049e2";
const ACCOUNT_RESTRICTIONS: &str = "4c164200-20c0-11d0-a768-00aa006e0529";
const USER: &str = "bf967aba-0de6-11d0-a285-00aa003049e2";
const INET_ORG_PERSON: &str = "4828cc14-1437-45bc-9b07-ad6f015e5f28";
/// The connector account and one of its groups, in domain S-1-5-21-1-2-3.
const C: &str = "S-1-5-21-1-2-3-1105";
const GROUP: &str = "S-1-5-21-1-2-3-1200";

pub(crate) fn domain() -> Sid {
    "S-1-5-21-1-2-3".parse().unwrap()
}

pub(crate) fn connector_token() -> Token {
    let groups = [GROUP, "S-1-5-21-1-2-3-513", "S-1-5-32-545"].map(|s| s.parse().unwrap());
    Token::new(C.parse().unwrap(), groups)
}

/// SDDL → binary SD: every access test goes through the real parser and iterator.
pub(crate) fn sd_bytes(sddl: &str) -> Vec<u8> {
    parse_sddl(sddl, Some(&domain())).unwrap().to_bytes().unwrap()
}

fn decide(sddl: &str, token: &Token, rights: &[Right]) -> Vec<Decision> {
    let bytes = sd_bytes(sddl);
    let sd = SecurityDescriptor::parse(&bytes).unwrap();
    let decisions = sd.check(token, rights).unwrap();
    if let Some(aces) = sd.dacl_aces() {
        assert_eq!(check_access(aces, token, rights).unwrap(), decisions);
    }
    // The allocation-free form decides the same.
    if let Ok(four) = <&[Right; 4]>::try_from(rights) {
        assert_eq!(sd.check_rights(token, four, None).unwrap()[..], decisions[..]);
    }
    if let Ok(one) = <&[Right; 1]>::try_from(rights) {
        assert_eq!(sd.check_rights(token, one, None).unwrap()[..], decisions[..]);
    }
    decisions
}

fn user_rights(sddl: &str) -> Vec<Decision> {
    decide(sddl, &connector_token(), &Right::USER_RIGHTS)
}

use Decision::{Denied as D, Granted as G, NoDacl, NotGranted as N};

#[test]
fn access_check_table() {
    let cases: Vec<(&str, String, [Decision; 4])> = vec![
        ("no D: part", String::new(), [NoDacl; 4]),
        ("NULL DACL", "D:NO_ACCESS_CONTROL".into(), [NoDacl; 4]),
        ("empty DACL grants nothing", "D:".into(), [N; 4]),
        (
            "deny after allow does not deny",
            format!("D:(OA;;CR;{RESET};;{C})(OD;;CR;{RESET};;{C})"),
            [G { ace: 0 }, N, N, N],
        ),
        (
            "deny object ACE for Reset denies only Reset",
            format!("D:(OD;;CR;{RESET};;{C})(A;;CRWP;;;{C})"),
            [D { ace: 0 }, G { ace: 1 }, G { ace: 1 }, G { ace: 1 }],
        ),
        ("INHERIT_ONLY skipped", format!("D:(OD;CIIO;CR;{RESET};;{C})(OA;;CR;{RESET};;{C})"), [G { ace: 1 }, N, N, N]),
        ("CR without object type", format!("D:(A;;CR;;;{C})"), [G { ace: 0 }, G { ace: 0 }, N, N]),
        ("object ACE without object type", format!("D:(OA;;CR;;;{C})"), [G { ace: 0 }, G { ace: 0 }, N, N]),
        (
            "WP on User-Account-Restrictions covers pwdLastSet, not lockoutTime",
            format!("D:(OA;;WP;{ACCOUNT_RESTRICTIONS};;{C})"),
            [N, N, N, G { ace: 0 }],
        ),
        ("WP lockoutTime", format!("D:(OA;;WP;{LOCKOUT};;{C})"), [N, N, G { ace: 0 }, N]),
        ("WP pwdLastSet", format!("D:(OA;;WP;{PWD_LAST_SET};;{C})"), [N, N, N, G { ace: 0 }]),
        (
            "deny on the property set denies pwdLastSet only",
            format!("D:(OD;;WP;{ACCOUNT_RESTRICTIONS};;{C})(A;;WP;;;{C})"),
            [N, N, G { ace: 1 }, D { ace: 0 }],
        ),
        ("GENERIC_ALL", format!("D:(A;;GA;;;{C})"), [G { ace: 0 }; 4]),
        ("GENERIC_ALL deny", format!("D:(D;;GA;;;{C})(A;;GA;;;{C})"), [D { ace: 0 }; 4]),
        ("GENERIC_WRITE is WP", format!("D:(A;;GW;;;{C})"), [N, N, G { ace: 0 }, G { ace: 0 }]),
        ("full control 0xF01FF", format!("D:(A;;0xf01ff;;;{C})"), [G { ace: 0 }; 4]),
        ("full control as codes", format!("D:(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;{C})"), [G { ace: 0 }; 4]),
        ("WP does not give CR", format!("D:(OA;;WP;{RESET};;{C})(A;;RPWP;;;{C})"), [N, N, G { ace: 1 }, G { ace: 1 }]),
        ("RP alone grants nothing", format!("D:(A;;RP;;;{C})"), [N; 4]),
        (
            "SIDs not in the token are ignored",
            format!("D:(OD;;CR;{RESET};;S-1-5-21-1-2-3-9999)(D;;GA;;;DA)(A;;CR;;;{C})"),
            [G { ace: 2 }, G { ace: 2 }, N, N],
        ),
        ("a group from tokenGroups counts", format!("D:(OA;;CR;{RESET};;{GROUP})"), [G { ace: 0 }, N, N, N]),
        ("Authenticated Users counts", format!("D:(OA;;CR;{RESET};;AU)"), [G { ace: 0 }, N, N, N]),
        ("SELF is not in a plain token", "D:(A;;GA;;;PS)".into(), [N; 4]),
        ("audit ACE types are skipped", format!("D:(AU;;GA;;;{C})(OA;;CR;{RESET};;{C})"), [G { ace: 1 }, N, N, N]),
        ("other object GUIDs cover nothing", format!("D:(OA;;CRWP;{USER};;{C})"), [N; 4]),
        (
            "inherited ACEs decide after explicit ones",
            format!("D:(OA;;CR;{RESET};;{C})(OD;CIID;CR;{RESET};{USER};{C})(OD;CIID;CR;{CHANGE};{USER};{C})"),
            [G { ace: 0 }, D { ace: 2 }, N, N],
        ),
    ];
    for (name, sddl, expected) in cases {
        assert_eq!(user_rights(&sddl), expected, "{name}: {sddl}");
    }
}

#[test]
fn samba_user_default_sd_gives_everyone_and_self_change_password() {
    let sddl = parse_sddl(SAMBA_USER_DEFAULT_SD, Some(&domain())).unwrap();
    let aces = sddl.dacl.as_ref().unwrap();
    assert_eq!((aces.len(), sddl.owner.as_ref(), sddl.dacl_protected), (24, None, false));
    assert_eq!(aces[0].sid.to_string(), "S-1-5-21-1-2-3-512");
    assert_eq!(aces[7].object_type, Some("77b5b886-944a-11d1-aebd-0000f80367c1".parse().unwrap()));
    assert_eq!(
        aces[18],
        Ace::new(AceType::AccessAllowedObject, 0, 0x100, well_known::everyone())
            .with_object_type(guids::CHANGE_PASSWORD)
    );

    // The connector (a member of Everyone) gets Change Password from it, and nothing else we need.
    let token = connector_token();
    assert_eq!(decide(SAMBA_USER_DEFAULT_SD, &token, &Right::USER_RIGHTS), [N, G { ace: 18 }, N, N]);
    // On its own object SELF applies, and the PS ACE comes first.
    let own = token.with_self();
    assert_eq!(decide(SAMBA_USER_DEFAULT_SD, &own, &[Right::ChangePassword]), [G { ace: 4 }]);
    // Domain Admins: full rights from the first ACE.
    let admin = Token::new(domain().with_rid(500), [domain().with_rid(512)]);
    assert_eq!(decide(SAMBA_USER_DEFAULT_SD, &admin, &Right::USER_RIGHTS), [G { ace: 0 }; 4]);

    // Every ACE renders back to itself.
    for ace in aces {
        let again = parse_sddl(&format!("D:{}", ace.to_sddl()), Some(&domain())).unwrap();
        assert_eq!(again.dacl.unwrap(), std::slice::from_ref(ace), "{}", ace.to_sddl());
    }
}

#[test]
fn user_cannot_change_password_denies_everyone() {
    let sddl = format!("D:(OD;;CR;{CHANGE};;WD)(OD;;CR;{CHANGE};;PS){}", &SAMBA_USER_DEFAULT_SD[2..]);
    assert_eq!(user_rights(&sddl), [N, D { ace: 0 }, N, N]);
    let any_account = Token::new("S-1-5-21-9-9-9-1000".parse().unwrap(), []);
    assert_eq!(decide(&sddl, &any_account, &[Right::ChangePassword]), [D { ace: 0 }]);
    // The writeback grant after it still gives Reset and the writes, not Change.
    let with_grant = format!(
        "{sddl}(OA;CIID;CR;{RESET};{USER};{C})(OA;CIID;WP;{LOCKOUT};{USER};{C})(OA;CIID;WP;{PWD_LAST_SET};{USER};{C})"
    );
    assert_eq!(user_rights(&with_grant), [G { ace: 26 }, D { ace: 0 }, G { ace: 27 }, G { ace: 28 }]);
}

#[test]
fn object_class_ace_covers_the_whole_object_when_the_class_is_known() {
    let bytes = sd_bytes(&format!("D:(OA;;CRWP;{USER};;{C})"));
    let sd = SecurityDescriptor::parse(&bytes).unwrap();
    let token = connector_token();
    assert_eq!(sd.check(&token, &Right::USER_RIGHTS).unwrap(), [N; 4]);
    assert_eq!(sd.check_on(&token, &Right::USER_RIGHTS, Some(guids::USER_CLASS)).unwrap(), [G { ace: 0 }; 4]);
    assert_eq!(sd.check_on(&token, &Right::USER_RIGHTS, Some(guids::INET_ORG_PERSON_CLASS)).unwrap(), [N; 4]);
}

#[test]
fn unexpire_password_on_the_domain_object() {
    let unexpire = "ccc2dc7d-a6ad-4a7a-8846-c04e3cc53501";
    assert_eq!(
        decide(&format!("D:(OA;;CR;{unexpire};;AU)"), &connector_token(), &Right::DOMAIN_RIGHTS),
        [G { ace: 0 }]
    );
    assert_eq!(decide(&format!("D:(OA;;CR;{RESET};;AU)"), &connector_token(), &Right::DOMAIN_RIGHTS), [N]);
}

#[test]
fn check_access_propagates_iterator_errors_and_handles_edge_inputs() {
    let token = connector_token();
    let err = SdError::UnsupportedAce { ace_type: 4 };
    let ace = Ace::new(AceType::AccessAllowed, 0, 0x100, C.parse().unwrap());
    // even after every right is decided: a malformed DACL is an error whatever was asked
    let items = vec![Ok(ace.view()), Err(err.clone())];
    assert_eq!(check_access(items, &token, &[Right::ResetPassword]), Err(err));
    assert_eq!(check_access(views(std::slice::from_ref(&ace)), &token, &[]), Ok(vec![]));
    let twice = [Right::ResetPassword, Right::ResetPassword];
    assert_eq!(check_access(views(&[ace]), &token, &twice), Ok(vec![G { ace: 0 }; 2]));
    assert!(G { ace: 0 }.allowed() && NoDacl.allowed() && !N.allowed() && !D { ace: 0 }.allowed());
}

/// Only ACEs whose mask holds a bit some undecided right needs are looked at; the others, however broad
/// otherwise, and whatever their trustee, decide nothing, before or after the rights they could cover are decided.
#[test]
fn aces_without_a_pending_bit_decide_nothing() {
    let cases: Vec<(&str, String, [Decision; 4])> = vec![
        (
            "read-only ACEs for the connector, then the grant",
            format!("D:(D;;RPLCLORCSDWDWO;;;{C})(OD;;RP;{RESET};;{C})(A;;CR;;;{C})"),
            [G { ace: 2 }, G { ace: 2 }, N, N],
        ),
        (
            "after CR is decided, a CR deny changes nothing; a WP deny still decides",
            format!("D:(A;;CR;;;{C})(D;;CR;;;{C})(D;;WP;;;{C})(A;;GA;;;{C})"),
            [G { ace: 0 }, G { ace: 0 }, D { ace: 2 }, D { ace: 2 }],
        ),
        (
            "GENERIC_WRITE is pending only while a WP right is",
            format!("D:(OA;;WP;{LOCKOUT};;{C})(OA;;WP;{PWD_LAST_SET};;{C})(D;;GW;;;{C})(D;;GA;;;{C})"),
            [D { ace: 3 }, D { ace: 3 }, G { ace: 0 }, G { ace: 1 }],
        ),
        (
            "an inherit-only or audit ACE with the bits still decides nothing",
            format!("D:(D;IO;GA;;;{C})(AU;;GA;;;{C})(OA;;CR;{CHANGE};;{C})"),
            [N, G { ace: 2 }, N, N],
        ),
        (
            "a trustee outside the token with the same RID as a member",
            format!("D:(D;;GA;;;S-1-5-21-9-9-9-1105)(D;;GA;;;S-1-5-32-1105)(A;;GA;;;{C})"),
            [G { ace: 2 }; 4],
        ),
    ];
    for (name, sddl, expected) in cases {
        assert_eq!(user_rights(&sddl), expected, "{name}: {sddl}");
    }
    // Only some rights asked: bits only other rights need are not pending.
    let sddl = format!("D:(D;;WP;;;{C})(OA;;CR;{RESET};;{C})");
    assert_eq!(decide(&sddl, &connector_token(), &[Right::ResetPassword]), [G { ace: 1 }]);
}

/// The token's filter never hides a member, and a SID that passes it is still searched for.
#[test]
fn token_filter_agrees_with_a_scan() {
    let d = domain();
    let members: Vec<Sid> = (0..200).map(|i| d.with_rid(1000 + 37 * i)).collect();
    let token = Token::new(d.with_rid(500), members.iter().cloned());
    let mut probes: Vec<Sid> = (0..20_000).map(|rid| d.with_rid(rid)).collect();
    probes.extend((0..2_000).map(|rid| well_known::builtin_administrators().with_rid(rid)));
    probes.extend((0..2_000).map(|rid| Sid::from_parts(5, &[rid]).unwrap()));
    probes.extend(members.iter().map(|m| Sid::from_parts(5, &[21, 9, 9, 9, m.rid().unwrap()]).unwrap()));
    probes.push(Sid::from_parts(1, &[]).unwrap());
    for probe in &probes {
        let scan = token.sids().iter().any(|s| s == probe);
        assert_eq!(token.contains(probe.as_bytes()), scan, "{probe}");
    }
    for sid in token.sids() {
        assert!(token.contains(sid.as_bytes()), "{sid}");
    }
    assert!(!token.contains(&[]) && !token.contains(&[1]) && !token.contains(&[0x51, 4, 0, 0]));
    // Same RIDs in many domains: one hash each, so long probe chains that only the bytes resolve.
    let in_domain = |domain: u32, rid: u32| Sid::from_parts(5, &[21, domain, 7, 7, rid]).unwrap();
    let crowded = Token::from_sids((0..40).flat_map(|domain| [500, 512, 1105].map(|rid| in_domain(domain, rid))));
    for domain in 0..80 {
        for rid in [500, 512, 513, 1105] {
            let expected = domain < 40 && rid != 513;
            assert_eq!(crowded.contains(in_domain(domain, rid).as_bytes()), expected, "{domain} {rid}");
        }
    }
    assert!(!Token::from_sids([]).contains(well_known::everyone().as_bytes()));
    // A clone shares the index and answers alike.
    let clone = token.clone();
    assert!(clone == token && members.iter().all(|m| clone.contains(m.as_bytes())));
    // Equality and Debug depend on the SIDs only.
    assert_eq!(Token::from_sids(token.sids().iter().rev().cloned()), token);
    assert!(format!("{:?}", Token::from_sids([well_known::everyone()])).starts_with("Token { sids: [Sid(S-1-1-0)]"));
}

#[test]
fn token_membership() {
    let token = connector_token();
    for sid in [C, GROUP, "S-1-1-0", "S-1-5-11", "S-1-5-15"] {
        assert!(token.contains(sid.parse::<Sid>().unwrap().as_bytes()), "{sid}");
    }
    for sid in ["S-1-5-10", "S-1-5-21-1-2-3-512", "S-1-5-21-1-2-3"] {
        assert!(!token.contains(sid.parse::<Sid>().unwrap().as_bytes()), "{sid}");
    }
    assert!(token.with_self().contains(well_known::self_sid().as_bytes()));
    assert!(!token.contains(&[]));
    assert_eq!(Token::new(C.parse().unwrap(), [C.parse().unwrap()]).sids().len(), 4);
    let labels: Vec<_> = Right::USER_RIGHTS.iter().map(|r| r.label()).collect();
    assert_eq!(labels, ["reset_password", "change_password", "write_lockout_time", "write_pwd_last_set"]);
}

#[test]
fn descriptor_parts() {
    let bytes = sd_bytes("O:DAG:DUD:PAI(A;;RC;;;AU)");
    let sd = SecurityDescriptor::parse(&bytes).unwrap();
    assert_eq!(sd.owner().unwrap().unwrap(), domain().with_rid(512));
    assert_eq!(sd.group().unwrap().unwrap(), domain().with_rid(513));
    assert!(sd.dacl_present() && sd.dacl_protected());
    assert_eq!(sd.dacl_ace_count(), 1);
    assert_eq!(sd.to_sddl().unwrap(), "O:S-1-5-21-1-2-3-512G:S-1-5-21-1-2-3-513D:P(A;;RC;;;AU)");
    // NULL DACL: present bit set, offset 0
    let null = sd_to_bytes(flags::SE_DACL_PRESENT, None, None, None).unwrap();
    let sd = SecurityDescriptor::parse(&null).unwrap();
    assert!(sd.dacl_present() && sd.dacl_aces().is_none());
    assert_eq!(sd.to_sddl().unwrap(), "D:NO_ACCESS_CONTROL");
    // A DACL offset with the present bit clear is ignored, as Windows does.
    let mut absent = sd_bytes("D:(D;;GA;;;WD)");
    absent[2] &= !(flags::SE_DACL_PRESENT as u8);
    let sd = SecurityDescriptor::parse(&absent).unwrap();
    assert_eq!(sd.check(&connector_token(), &Right::USER_RIGHTS).unwrap(), [NoDacl; 4]);
}

#[test]
fn new_user_inherits_by_class_and_flags() {
    let ou = format!(
        "D:(OA;CIIO;CR;{RESET};{USER};{C})(OA;CI;WP;{PWD_LAST_SET};;{C})(A;;RC;;;AU)(OA;CINP;WP;{LOCKOUT};;{C})\
         (OA;OI;CR;{CHANGE};;{C})(OA;CINP;CR;{CHANGE};{INET_ORG_PERSON};{C})(A;CIIDIO;GA;;;{GROUP})"
    );
    let ou_bytes = sd_bytes(&ou);
    let parent = SecurityDescriptor::parse(&ou_bytes).unwrap();
    let default = parse_sddl(SAMBA_USER_DEFAULT_SD, Some(&domain())).unwrap().dacl.unwrap();

    let user = new_object_aces(&default, parent.dacl_aces().unwrap(), guids::USER_CLASS).unwrap();
    let inherited: Vec<String> = user[24..].iter().map(Ace::to_sddl).collect();
    assert_eq!(user[..24], default[..]);
    assert_eq!(
        inherited,
        [
            format!("(OA;CIID;CR;{RESET};{USER};{C})"),
            format!("(OA;CIID;WP;{PWD_LAST_SET};;{C})"),
            format!("(OA;ID;WP;{LOCKOUT};;{C})"),
            format!("(OA;OIIOID;CR;{CHANGE};;{C})"),
            // generic rights: mapped effective copy, then the original kept inherit-only
            format!("(A;ID;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;{GROUP})"),
            format!("(A;CIIOID;GA;;;{GROUP})"),
        ]
    );
    let token = Token::new(C.parse().unwrap(), []);
    let decisions = check_access(views(&user), &token, &Right::USER_RIGHTS).unwrap();
    assert_eq!(decisions, [G { ace: 24 }, G { ace: 18 }, G { ace: 26 }, G { ace: 25 }]);

    let person = new_object_aces(&default, parent.dacl_aces().unwrap(), guids::INET_ORG_PERSON_CLASS).unwrap();
    let inherited: Vec<String> = person[24..].iter().map(Ace::to_sddl).collect();
    assert_eq!(inherited[0], format!("(OA;CIIOID;CR;{RESET};{USER};{C})"));
    assert_eq!(inherited[1], format!("(OA;CIID;WP;{PWD_LAST_SET};;{C})"));
    assert_eq!(inherited[3], format!("(OA;OIIOID;CR;{CHANGE};;{C})"));
    // NP and scoped to inetOrgPerson: effective here, inheritance and class scope dropped
    assert_eq!(inherited[4], format!("(OA;ID;CR;{CHANGE};;{C})"));
    let decisions = check_access(views(&person), &token, &Right::USER_RIGHTS).unwrap();
    assert_eq!(decisions, [N, G { ace: 18 }, G { ace: 26 }, G { ace: 25 }]);
}

#[test]
fn inheritance_edge_cases() {
    let none = new_object_aces(&[], std::iter::empty(), guids::USER_CLASS).unwrap();
    assert!(none.is_empty());
    // default SD: inherited ACEs dropped, IO without inherit flags dropped, generic CI split in two
    let default = parse_sddl(&format!("D:(A;ID;RC;;;AU)(A;IO;RC;;;AU)(A;;GA;;;SY)(A;CI;GR;;;{C})"), None).unwrap();
    let out = new_object_aces(&default.dacl.unwrap(), std::iter::empty(), guids::USER_CLASS).unwrap();
    let text: Vec<String> = out.iter().map(Ace::to_sddl).collect();
    assert_eq!(
        text,
        ["(A;;CCDCLCSWRPWPDTLOCRSDRCWDWO;;;SY)", &format!("(A;CIIO;GR;;;{C})"), &format!("(A;;LCRPLORC;;;{C})")]
    );
    let err = SdError::UnsupportedAce { ace_type: 4 };
    assert_eq!(new_object_aces(&[], [Err(err.clone())], guids::USER_CLASS), Err(err));
}

#[test]
fn sddl_accepts_the_forms_in_use() {
    let d = domain();
    let restrict_sam = parse_sddl("O:BAG:BAD:(A;;RC;;;BA)", None).unwrap();
    assert_eq!(restrict_sam.owner, Some(well_known::builtin_administrators()));
    assert_eq!(restrict_sam.to_string(), "O:BAG:BAD:(A;;RC;;;BA)");
    let numeric = parse_sddl("O:S-1-5-21-1-2-3-512D:(A;;GA;;;SY)", None).unwrap();
    assert_eq!(numeric.owner, Some(d.with_rid(512)));
    let spaced = parse_sddl(" D:PAI (A; CI ;RP WP;;; S-1-5-21-1-2-3-1105 )\n(D;;0x100;;;WD)", None).unwrap();
    assert!(spaced.dacl_protected);
    assert_eq!(spaced.dacl.as_ref().unwrap()[0].mask, 0x30);
    for rights in ["CR", "0x100", "0X100", "256", "0400"] {
        let ace = &parse_sddl(&format!("D:(A;;{rights};;;WD)"), None).unwrap().dacl.unwrap()[0];
        assert_eq!(ace.mask, 0x100, "{rights}");
    }
    let with_sacl = "D:(A;;GA;;;SY)S:AI(AU;SAFA;WPCR;;;WD)(OU;CIIOIDSA;WP;f30e3bbe-9ff0-11d1-b603-0000f80367c1;bf967aa5-0de6-11d0-a285-00aa003049e2;WD)";
    assert_eq!(parse_sddl(with_sacl, None).unwrap().dacl.unwrap().len(), 1);
    let root = parse_sddl("O:EAG:SAD:(A;;RC;;;RO)(A;;RC;;;EK)", Some(&d)).unwrap();
    assert_eq!(root.owner, Some(d.with_rid(519)));
    // every type, flag and composite right code parses
    let all = parse_sddl(
        "D:(A;OICINPIOIDCRSAFATP;FAFRFWFXKAKRKWKXNRNWNX;;;WD)(D;;GAGRGWGX;;;WD)(AL;;LO;;;WD)(OL;;DT;;;WD)(ML;;NW;;;LW)",
        None,
    );
    assert_eq!(all.unwrap().dacl.unwrap()[0].flags, 0xFF);
}

#[test]
fn sddl_errors_name_position_and_token() {
    let d = domain();
    let cases: &[(&str, usize, &str)] = &[
        ("X:", 0, "X:"),
        ("D", 0, "D"),
        ("D:(A;;GA;;;XX)", 11, "XX"),
        ("D:(A;;GA;;;SY", 2, "(A;;GA;;;SY"),
        ("D:(Z;;GA;;;SY)", 3, "Z"),
        ("D:(A;;QQ;;;SY)", 6, "QQ"),
        ("D:(A;XX;GA;;;SY)", 5, "XX"),
        ("D:(A;;GA;;;SY;extra)", 2, "A;;GA;;;SY;extra"),
        ("D:(XA;;GA;;;SY;(x))", 3, "XA"),
        ("D:(A;;0x100000000;;;SY)", 6, "0x100000000"),
        ("D:(A;;08;;;SY)", 6, "08"),
        ("D:(A;;GA;bf967aba-0de6-11d0-a285-00aa003049e2;;SY)", 9, "A;;GA;bf967aba-0de6-11d0-a285-00aa003049e2;;SY"),
        ("D:(OA;;CR;not-a-guid;;SY)", 10, "not-a-guid"),
        ("D:(OA;;CR;{bf967aba-0de6-11d0-a285-00aa003049e2};;SY)", 10, "{bf967aba-0de6-11d0-a285-00aa003049e2}"),
        ("D:(A;;GA;;;S-1-5-x)", 11, "S-1-5-x"),
        ("D:(A;;GA;;;SY)D:", 14, "D:"),
        ("O:", 2, ""),
        ("O:S-1-5-99999999999", 2, "S-1-5-99999999999"),
        ("D:NO_ACCESS_CONTROL(A;;GA;;;SY)", 31, "NO_ACCESS_CONTROL"),
        ("D:(A;;GA;;;SY)junk", 14, "junk"),
    ];
    for (text, position, token) in cases {
        let err = parse_sddl(text, Some(&d)).unwrap_err();
        assert_eq!((err.position, err.token.as_str()), (*position, *token), "{text}: {err}");
    }
    let err = parse_sddl("D:(A;;GA;;;DA)", None).unwrap_err();
    assert_eq!((err.position, err.token.as_str()), (11, "DA"));
    assert!(err.to_string().contains("domain SID"), "{err}");
    let full: Sid = "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15".parse().unwrap();
    assert!(parse_sddl("D:(A;;GA;;;DA)", Some(&full)).is_err());
}

#[test]
fn sddl_round_trips_through_text_and_bytes() {
    let examples = [
        format!("D:P(OA;CIIO;CR;{RESET};{USER};{C})(OD;;CR;{CHANGE};;WD)(A;;0x1000000;;;BA)(A;;0x0;;;SY)"),
        format!("O:BAG:S-1-5-21-1-2-3-513D:(OA;NP;WP;{LOCKOUT};;S-1-0x123456789ABC-1)(AU;SAFA;GA;;;WD)"),
        SAMBA_USER_DEFAULT_SD.to_string(),
    ];
    for text in examples {
        let parsed = parse_sddl(&text, Some(&domain())).unwrap();
        assert_eq!(parse_sddl(&parsed.to_string(), None).unwrap(), parsed, "{text}");
        let bytes = parsed.to_bytes().unwrap();
        let sd = SecurityDescriptor::parse(&bytes).unwrap();
        let back: Vec<Ace> = sd.dacl_aces().unwrap().map(|a| a.unwrap().to_owned().unwrap()).collect();
        assert_eq!(Some(back), parsed.dacl);
        assert_eq!(parse_sddl(&sd.to_sddl().unwrap(), None).unwrap(), parsed);
    }
}
