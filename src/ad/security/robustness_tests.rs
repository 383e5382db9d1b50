//! Hostile input: random and mutated bytes and text must give errors or consistent results, never a panic.

use proptest::prelude::*;

use super::tests::{connector_token, sd_bytes, SAMBA_USER_DEFAULT_SD};
use super::*;

/// Everything a caller does with untrusted bytes; any panic fails the property.
fn exercise(bytes: &[u8]) {
    let Ok(sd) = SecurityDescriptor::parse(bytes) else { return };
    let token = connector_token();
    let rights = [Right::ResetPassword, Right::ChangePassword, Right::WriteLockoutTime, Right::WritePwdLastSet];
    let checked = sd.check(&token, &rights);
    let _ = sd.to_sddl();
    let _ = sd.owner();
    let _ = sd.group();
    if let Some(aces) = sd.dacl_aces() {
        assert!(aces.clone().count() <= sd.dacl_ace_count());
        for view in aces.clone().flatten() {
            let _ = view.to_owned();
            let _ = view.to_sddl();
        }
        let _ = new_object_aces(&[], aces.clone(), guids::USER_CLASS);
        // an error anywhere in the list is the check's error
        assert_eq!(checked.is_err(), aces.clone().any(|a| a.is_err()));
    }
}

/// A realistic user DACL: Samba's default SD, a deny pair, and inherited grants.
fn realistic_sd() -> Vec<u8> {
    let reset = "00299570-246d-11d0-a768-00aa006e0529";
    let user = "bf967aba-0de6-11d0-a285-00aa003049e2";
    sd_bytes(&format!(
        "O:DAG:DUD:AI(OD;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD){}(OA;CIID;CR;{reset};{user};S-1-5-21-1-2-3-1105)\
         (A;CIIOID;GA;;;CO)(AU;;GA;;;WD)",
        &SAMBA_USER_DEFAULT_SD[2..]
    ))
}

#[test]
fn truncation_at_every_length_is_an_error() {
    let bytes = realistic_sd();
    let full = SecurityDescriptor::parse(&bytes).unwrap().check(&connector_token(), &Right::USER_RIGHTS).unwrap();
    assert_eq!(full[1], Decision::Denied { ace: 0 });
    // The DACL is last and AclSize covers it: any shorter buffer cuts into something parse checks.
    for len in 0..bytes.len() {
        assert!(SecurityDescriptor::parse(&bytes[..len]).is_err(), "length {len}");
    }
}

#[test]
fn every_single_byte_mutation_is_handled() {
    let bytes = realistic_sd();
    for at in 0..bytes.len() {
        for value in [0x00, 0x08, 0x7F, 0xFF] {
            let mut mutated = bytes.clone();
            mutated[at] = value;
            exercise(&mutated);
        }
    }
}

fn arb_sid() -> impl Strategy<Value = Sid> {
    let authority = prop_oneof![0u64..=18, Just((1u64 << 48) - 1)];
    (authority, prop::collection::vec(any::<u32>(), 0..=15)).prop_map(|(a, subs)| Sid::from_parts(a, &subs).unwrap())
}

fn arb_guid() -> impl Strategy<Value = Option<Guid>> {
    prop::option::of(any::<[u8; 16]>().prop_map(Guid))
}

/// ACEs every SDDL type code can express.
fn arb_ace() -> impl Strategy<Value = Ace> {
    let types = prop::sample::select(vec![0x00u8, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08, 0x11]);
    (types, any::<u8>(), any::<u32>(), arb_guid(), arb_guid(), arb_sid()).prop_map(|(t, flags, mask, o, i, sid)| {
        let ace_type = AceType::from_u8(t);
        let object = matches!(t, 0x05..=0x08);
        Ace {
            ace_type,
            flags,
            mask,
            object_type: o.filter(|_| object),
            inherited_object_type: i.filter(|_| object),
            sid,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        exercise(&bytes);
    }

    /// Random bytes behind a valid header, so the fuzzing reaches the ACL and ACE parsers.
    #[test]
    fn random_acl_bodies_never_panic(
        control in any::<u16>(),
        revision in 0u8..6,
        count in 0u16..40,
        size in 0u16..700,
        body in prop::collection::vec(any::<u8>(), 0..700),
    ) {
        let mut bytes = vec![1, 0];
        bytes.extend_from_slice(&(control | flags::SE_DACL_PRESENT).to_le_bytes());
        bytes.extend_from_slice(&[0; 12]);
        bytes.extend_from_slice(&20u32.to_le_bytes());
        bytes.extend_from_slice(&[revision, 0]);
        bytes.extend_from_slice(&size.to_le_bytes());
        bytes.extend_from_slice(&count.to_le_bytes());
        bytes.extend_from_slice(&[0, 0]);
        bytes.extend_from_slice(&body);
        exercise(&bytes);
    }

    #[test]
    fn random_text_never_panics(text in any::<String>()) {
        let _ = parse_sddl(&text, None);
        let _ = text.parse::<Sid>();
        let _ = text.parse::<Guid>();
    }

    /// Text from SDDL's own alphabet gets much further into the parser than arbitrary Unicode.
    #[test]
    fn sddl_like_text_never_panics(text in "[OGDS:;()PAINOCRWXLUFTKSY0-9a-fx -]{0,80}") {
        let _ = parse_sddl(&text, Some(&tests::domain()));
    }

    #[test]
    fn mutated_real_sddl_never_panics(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<char>(), any::<bool>()), 1..6),
    ) {
        let mut text: Vec<char> = SAMBA_USER_DEFAULT_SD.chars().collect();
        for (at, c, insert) in edits {
            let i = at.index(text.len());
            if insert { text.insert(i, c) } else { text[i] = c }
        }
        let text: String = text.into_iter().collect();
        if let Ok(parsed) = parse_sddl(&text, Some(&tests::domain())) {
            // whatever parsed must survive rendering and serialising
            let again = parse_sddl(&parsed.to_string(), None);
            prop_assert_eq!(again.map(|s| s.dacl), Ok(parsed.dacl.clone()));
            prop_assert!(parsed.to_bytes().is_ok());
        }
    }
}

/// MS-DTYP 2.5.3.2 the slow, obvious way (one right at a time, membership by a scan), against which the
/// access check's shortcuts (pending mask bits, the token's filter, one lookup per ACE) are compared.
fn reference_check(aces: &[Ace], token: &Token, rights: &[Right], class: Option<Guid>) -> Vec<Decision> {
    let decide = |right: &Right| {
        for (index, ace) in aces.iter().enumerate() {
            let deny = match ace.ace_type {
                AceType::AccessAllowed | AceType::AccessAllowedObject => false,
                AceType::AccessDenied | AceType::AccessDeniedObject => true,
                AceType::Other(_) => continue,
            };
            if ace.flags & flags::INHERIT_ONLY == 0
                && right.covered_by(ace.mask, ace.object_type, class)
                && token.sids().contains(&ace.sid)
            {
                return if deny { Decision::Denied { ace: index } } else { Decision::Granted { ace: index } };
            }
        }
        Decision::NotGranted
    };
    rights.iter().map(decide).collect()
}

/// Trustees, object types and masks drawn from what decides the writeback rights, so that most random
/// DACLs decide something (uniform random ACEs would almost never cover a right or match a token).
fn arb_deciding_ace() -> impl Strategy<Value = Ace> {
    let d = tests::domain();
    let sids = vec![
        d.with_rid(1105),
        d.with_rid(1200),
        d.with_rid(512),
        well_known::everyone(),
        well_known::self_sid(),
        "S-1-5-21-9-9-9-1105".parse().unwrap(),
        "S-1-5-32-1105".parse().unwrap(),
    ];
    let guids = vec![
        guids::RESET_PASSWORD,
        guids::CHANGE_PASSWORD,
        guids::LOCKOUT_TIME,
        guids::PWD_LAST_SET,
        guids::USER_ACCOUNT_RESTRICTIONS,
        guids::USER_CLASS,
        guids::UNEXPIRE_PASSWORD,
        guids::COMPUTER_CLASS,
    ];
    let bits = prop::sample::subsequence(
        vec![
            flags::CONTROL_ACCESS,
            flags::WRITE_PROPERTY,
            flags::READ_PROPERTY,
            flags::GENERIC_ALL,
            flags::GENERIC_WRITE,
        ],
        0..=3,
    );
    let types = prop::sample::select(vec![0x00u8, 0x01, 0x02, 0x05, 0x06]);
    let flag_bits = prop::sample::select(vec![0u8, flags::INHERIT_ONLY, flags::INHERITED, flags::CONTAINER_INHERIT]);
    (types, flag_bits, bits, prop::option::of(prop::sample::select(guids)), prop::sample::select(sids)).prop_map(
        |(t, flags, bits, object_type, sid)| {
            let ace_type = AceType::from_u8(t);
            let object = matches!(t, 0x05 | 0x06);
            let mask = bits.into_iter().fold(0, |m, b| m | b);
            Ace { ace_type, flags, mask, object_type: object_type.filter(|_| object), inherited_object_type: None, sid }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// The access check decides every right as the reference does, through bytes and through owned ACEs,
    /// allocating or not, whatever subset of the rights is asked.
    #[test]
    fn access_check_matches_the_reference(
        aces in prop::collection::vec(arb_deciding_ace(), 0..24),
        self_token in any::<bool>(),
        class in prop::option::of(prop::sample::select(vec![guids::USER_CLASS, guids::INET_ORG_PERSON_CLASS])),
        asked in prop::sample::subsequence(
            vec![Right::ResetPassword, Right::ChangePassword, Right::WriteLockoutTime, Right::WritePwdLastSet,
                 Right::UnexpirePassword],
            0..=5,
        ),
    ) {
        let token = if self_token { connector_token().with_self() } else { connector_token() };
        let expected = reference_check(&aces, &token, &asked, class);
        prop_assert_eq!(check_access_on(views(&aces), &token, &asked, class), Ok(expected.clone()));
        let bytes = sd_to_bytes(0, None, None, Some(aces.as_slice())).unwrap();
        let sd = SecurityDescriptor::parse(&bytes).unwrap();
        prop_assert_eq!(sd.check_on(&token, &asked, class), Ok(expected));
        let user = reference_check(&aces, &token, &Right::USER_RIGHTS, class);
        prop_assert_eq!(sd.check_rights(&token, &Right::USER_RIGHTS, class).map(Vec::from), Ok(user));
    }
}

proptest! {
    // Each case here walks a whole realistic DACL several ways: fewer cases, same reach.
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn mutated_real_descriptors_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = realistic_sd();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        exercise(&bytes);
        let len = cut.index(bytes.len());
        exercise(&bytes[..len]);
    }

    /// Owned ACEs → bytes → views → owned again, and → SDDL → ACEs again.
    #[test]
    fn aces_round_trip_through_bytes_and_sddl(aces in prop::collection::vec(arb_ace(), 0..30)) {
        let bytes = sd_to_bytes(0, None, None, Some(aces.as_slice())).unwrap();
        let sd = SecurityDescriptor::parse(&bytes).unwrap();
        let back: Vec<Ace> = sd.dacl_aces().unwrap().map(|a| a.unwrap().to_owned().unwrap()).collect();
        prop_assert_eq!(&back, &aces);
        for ace in &aces {
            let text = format!("D:{}", ace.to_sddl());
            let parsed = parse_sddl(&text, None).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(parsed.dacl, Some(vec![ace.clone()]));
        }
    }
}
