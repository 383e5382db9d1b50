//! SDDL: the forms in use, errors naming position and token, round trips through text and bytes.

use super::*;

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
