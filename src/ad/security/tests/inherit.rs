//! What a new user object inherits: by class, by inheritance flags, and the edge cases.

use super::*;

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
