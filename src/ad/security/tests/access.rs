//! The access check: decisions per right, deny and allow order, object ACEs, tokens, descriptor parts.

use super::*;

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
