//! Table-driven tests of the access check, inheritance and SDDL against the cases REFERENCE.md section 1 lists;
//! the shared SIDs, GUIDs and helpers are here, the tests by concern below.

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

mod access;
mod inherit;
mod sddl;
mod windows;
