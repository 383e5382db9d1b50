//! The deciding ACE of each writeback right and where it comes from: explicit on the user, the class's schema
//! default, or inherited from an ancestor (the nearest one holding it explicitly). Pure: the DACLs come in read.

use serde::Serialize;

use crate::ad::security::flags::{map_generic_ds, CONTAINER_INHERIT, NO_PROPAGATE_INHERIT, OBJECT_INHERIT};
use crate::ad::security::{guids, Ace, AceType, Guid, Right, Sid};

/// Most ancestors read above a user (a real tree is a handful deep).
pub const MAX_ANCESTORS: usize = 32;

/// An ancestor's DACL as read on the same DC, nearest first.
#[derive(Debug, Clone)]
pub struct AncestorDacl {
    pub dn: String,
    pub aces: Vec<Ace>,
    /// SE_DACL_PROTECTED: nothing above it reaches below it.
    pub protected: bool,
}

/// Where the deciding ACE comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// `explicit`, `schema_default`, `inherited`, or `inherited_unknown` (its origin was not found above).
    pub kind: &'static str,
    /// The ancestor DN it is inherited from (the nearest that holds it explicitly, else the farthest that holds
    /// it), or the schema class whose defaultSecurityDescriptor gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// 1-based position of the producing ACE in that ancestor's DACL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_position: Option<usize>,
}

impl Source {
    fn plain(kind: &'static str) -> Source {
        Source { kind, from: None, from_position: None }
    }

    /// One line for the text and HTML forms.
    pub fn describe(&self) -> String {
        match (self.kind, &self.from, self.from_position) {
            ("explicit", _, _) => "explicit on the user".to_string(),
            ("schema_default", Some(class), _) => format!("the {class} class's schema default"),
            ("schema_default", None, _) => "the class's schema default".to_string(),
            ("inherited", Some(dn), Some(at)) => format!("inherited from {dn} (ACE #{at} there)"),
            ("inherited", Some(dn), None) => format!("inherited from {dn}"),
            _ => "inherited (origin not found above)".to_string(),
        }
    }
}

/// Where `ace` (on an object of class `class`, not inherited) came from: the schema default when the class's
/// default SD, as it lands on a new object (`schema_default`), holds the same ACE; else explicit.
/// For an inherited ACE: walks `ancestors` (nearest first) while each holds a producing ACE, and names the
/// nearest one holding it explicitly (or the farthest one holding it at all).
pub fn provenance(ace: &Ace, schema_default: &[Ace], class_name: &str, ancestors: &[AncestorDacl]) -> Source {
    if !ace.view().is_inherited() {
        if schema_default.iter().any(|d| same_ace(d, ace)) {
            return Source { kind: "schema_default", from: Some(class_name.to_string()), from_position: None };
        }
        return Source::plain("explicit");
    }
    let mut farthest = None;
    for (depth, ancestor) in ancestors.iter().enumerate() {
        let hit = ancestor.aces.iter().position(|c| produces(c, ace, depth > 0));
        let Some(i) = hit else { break };
        if !ancestor.aces[i].view().is_inherited() {
            return Source { kind: "inherited", from: Some(ancestor.dn.clone()), from_position: Some(i + 1) };
        }
        farthest = Some((ancestor.dn.clone(), i + 1));
        if ancestor.protected {
            break;
        }
    }
    match farthest {
        Some((dn, at)) => Source { kind: "inherited", from: Some(dn), from_position: Some(at) },
        None => Source::plain("inherited_unknown"),
    }
}

/// The same access rule, whatever the flags.
fn same_ace(a: &Ace, b: &Ace) -> bool {
    a.ace_type == b.ace_type
        && a.mask == b.mask
        && a.object_type == b.object_type
        && a.inherited_object_type == b.inherited_object_type
        && a.sid == b.sid
}

fn base_type(t: AceType) -> AceType {
    match t {
        AceType::AccessAllowedObject => AceType::AccessAllowed,
        AceType::AccessDeniedObject => AceType::AccessDenied,
        other => other,
    }
}

/// Could `candidate`, on an ancestor, have produced `inherited` on the object? Same trustee, effect and object
/// type; the same mask or its generic mapping; inheritable (and, when it must cross an intermediate container,
/// not limited to one level); scoped to the same class or to none (AD drops the scope of the mapped copy).
fn produces(candidate: &Ace, inherited: &Ace, through_intermediate: bool) -> bool {
    candidate.flags & (CONTAINER_INHERIT | OBJECT_INHERIT) != 0
        && !(through_intermediate && candidate.flags & NO_PROPAGATE_INHERIT != 0)
        && candidate.sid == inherited.sid
        && base_type(candidate.ace_type) == base_type(inherited.ace_type)
        && candidate.object_type == inherited.object_type
        && (candidate.mask == inherited.mask || map_generic_ds(candidate.mask) == inherited.mask)
        && (candidate.inherited_object_type == inherited.inherited_object_type
            || inherited.inherited_object_type.is_none())
}

/// Human names of the rights, as ADUC's Advanced Security dialog shows them.
pub fn right_title(right: Right) -> &'static str {
    match right {
        Right::ResetPassword => "Reset Password",
        Right::ChangePassword => "Change Password",
        Right::WriteLockoutTime => "Write lockoutTime",
        Right::WritePwdLastSet => "Write pwdLastSet",
        Right::UnexpirePassword => "Unexpire Password",
    }
}

/// Schema and extended-right GUIDs an ACE on a user commonly names.
const GUID_NAMES: [(Guid, &str); 16] = [
    (guids::RESET_PASSWORD, "Reset Password (User-Force-Change-Password)"),
    (guids::CHANGE_PASSWORD, "Change Password (User-Change-Password)"),
    (guids::UNEXPIRE_PASSWORD, "Unexpire Password"),
    (guids::LOCKOUT_TIME, "lockoutTime"),
    (guids::PWD_LAST_SET, "pwdLastSet"),
    (guids::USER_ACCOUNT_RESTRICTIONS, "User-Account-Restrictions (property set)"),
    (guids::USER_CLASS, "user"),
    (guids::INET_ORG_PERSON_CLASS, "inetOrgPerson"),
    (guids::COMPUTER_CLASS, "computer"),
    (guids::ORGANIZATIONAL_UNIT_CLASS, "organizationalUnit"),
    (guids::DOMAIN_DNS_CLASS, "domainDNS"),
    (Guid::from_u128(0xbf967a9c_0de6_11d0_a285_00aa003049e2), "group"),
    (Guid::from_u128(0x5f202010_79a5_11d0_9020_00c04fc2d4cf), "User-Logon (property set)"),
    (Guid::from_u128(0x77b5b886_944a_11d1_aebd_0000f80367c1), "Personal-Information (property set)"),
    (Guid::from_u128(0xe48d0154_bcf8_11d1_8702_00c04fb96050), "Public-Information (property set)"),
    (Guid::from_u128(0xbc0ac240_79a9_11d0_9020_00c04fc2d4cf), "Membership (property set)"),
];

/// A GUID and its name when known (else the GUID again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    pub guid: String,
    pub name: String,
}

pub fn named(guid: Guid) -> Named {
    let name = GUID_NAMES.iter().find(|(g, _)| *g == guid).map_or_else(|| guid.to_string(), |(_, n)| (*n).to_string());
    Named { guid: guid.to_string(), name }
}

/// Names of the SIDs every domain has; groups of the domain are named from the directory instead.
pub fn well_known_name(sid: &Sid) -> Option<&'static str> {
    const NAMES: [(&str, &str); 16] = [
        ("S-1-1-0", "Everyone"),
        ("S-1-3-0", "CREATOR OWNER"),
        ("S-1-3-1", "CREATOR GROUP"),
        ("S-1-5-2", "NETWORK"),
        ("S-1-5-4", "INTERACTIVE"),
        ("S-1-5-7", "ANONYMOUS LOGON"),
        ("S-1-5-9", "Enterprise Domain Controllers"),
        ("S-1-5-10", "SELF"),
        ("S-1-5-11", "Authenticated Users"),
        ("S-1-5-15", "This Organization"),
        ("S-1-5-18", "SYSTEM"),
        ("S-1-5-32-544", "BUILTIN\\Administrators"),
        ("S-1-5-32-548", "BUILTIN\\Account Operators"),
        ("S-1-5-32-554", "BUILTIN\\Pre-Windows 2000 Compatible Access"),
        ("S-1-5-32-560", "BUILTIN\\Windows Authorization Access Group"),
        ("S-1-5-32-561", "BUILTIN\\Terminal Server License Servers"),
    ];
    let text = sid.to_string();
    NAMES.iter().find(|(s, _)| *s == text).map(|(_, n)| *n)
}

/// The rights field of an ACE's SDDL (`CR`, `WP`, `RPWP`, `0x...`).
pub fn access_text(ace: &Ace) -> String {
    let sddl = ace.to_sddl();
    sddl.trim_start_matches('(').trim_end_matches(')').split(';').nth(2).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ad::security::flags::{CONTROL_ACCESS, GENERIC_ALL, INHERITED, INHERIT_ONLY, WRITE_PROPERTY};

    fn sid(text: &str) -> Sid {
        text.parse().unwrap()
    }

    fn reset_for(who: &str, flags: u8) -> Ace {
        Ace::new(AceType::AccessAllowedObject, flags, CONTROL_ACCESS, sid(who))
            .with_object_type(guids::RESET_PASSWORD)
            .with_inherited_object_type(guids::USER_CLASS)
    }

    fn ancestor(dn: &str, aces: Vec<Ace>, protected: bool) -> AncestorDacl {
        AncestorDacl { dn: dn.to_string(), aces, protected }
    }

    const MSOL: &str = "S-1-5-21-1-2-3-1105";

    #[test]
    fn explicit_and_schema_default() {
        let everyone_change = Ace::new(AceType::AccessAllowedObject, 0, CONTROL_ACCESS, sid("S-1-1-0"))
            .with_object_type(guids::CHANGE_PASSWORD);
        let default = vec![everyone_change.clone()];
        let source = provenance(&everyone_change, &default, "user", &[]);
        assert_eq!(source.kind, "schema_default");
        assert_eq!(source.describe(), "the user class's schema default");
        // "User cannot change password": the same right, denied, is not from the schema.
        let mut deny = everyone_change.clone();
        deny.ace_type = AceType::AccessDeniedObject;
        assert_eq!(provenance(&deny, &default, "user", &[]).kind, "explicit");
    }

    #[test]
    fn inherited_from_the_nearest_ancestor_that_holds_it_explicitly() {
        let on_user = reset_for(MSOL, CONTAINER_INHERIT | INHERITED);
        let chain = [
            ancestor(
                "OU=Inner,OU=Outer,DC=d",
                vec![reset_for(MSOL, CONTAINER_INHERIT | INHERIT_ONLY | INHERITED)],
                false,
            ),
            ancestor(
                "OU=Outer,DC=d",
                vec![
                    reset_for("S-1-5-21-1-2-3-999", CONTAINER_INHERIT),
                    reset_for(MSOL, CONTAINER_INHERIT | INHERIT_ONLY),
                ],
                false,
            ),
            ancestor("DC=d", vec![reset_for(MSOL, CONTAINER_INHERIT | INHERIT_ONLY)], false),
        ];
        let source = provenance(&on_user, &[], "user", &chain);
        assert_eq!(source, Source { kind: "inherited", from: Some("OU=Outer,DC=d".into()), from_position: Some(2) });
        assert_eq!(source.describe(), "inherited from OU=Outer,DC=d (ACE #2 there)");
    }

    #[test]
    fn no_propagate_stops_at_the_parent_and_generic_rights_match_their_mapping() {
        let mapped = Ace::new(AceType::AccessAllowed, INHERITED, map_generic_ds(GENERIC_ALL), sid(MSOL));
        let parent_np =
            Ace::new(AceType::AccessAllowed, CONTAINER_INHERIT | NO_PROPAGATE_INHERIT, GENERIC_ALL, sid(MSOL));
        let source = provenance(&mapped, &[], "user", &[ancestor("OU=P,DC=d", vec![parent_np.clone()], false)]);
        assert_eq!(source.from.as_deref(), Some("OU=P,DC=d"));
        // An NP ACE two levels up cannot have produced it.
        let chain = [ancestor("OU=P,DC=d", vec![], false), ancestor("DC=d", vec![parent_np], false)];
        assert_eq!(provenance(&mapped, &[], "user", &chain).kind, "inherited_unknown");
    }

    #[test]
    fn a_protected_ancestor_ends_the_walk() {
        let on_user = reset_for(MSOL, CONTAINER_INHERIT | INHERITED);
        let chain = [
            ancestor("OU=Legacy,DC=d", vec![reset_for(MSOL, CONTAINER_INHERIT | INHERIT_ONLY | INHERITED)], true),
            ancestor("DC=d", vec![reset_for(MSOL, CONTAINER_INHERIT | INHERIT_ONLY)], false),
        ];
        let source = provenance(&on_user, &[], "user", &chain);
        assert_eq!(source.from.as_deref(), Some("OU=Legacy,DC=d"), "the farthest holder within reach");
        // A different object type, trustee or mask is not the producer.
        let mut other = reset_for(MSOL, CONTAINER_INHERIT);
        other.mask = WRITE_PROPERTY;
        assert_eq!(
            provenance(&on_user, &[], "user", &[ancestor("DC=d", vec![other], false)]).kind,
            "inherited_unknown"
        );
    }

    #[test]
    fn names() {
        assert_eq!(named(guids::RESET_PASSWORD).name, "Reset Password (User-Force-Change-Password)");
        assert_eq!(named(Guid::from_u128(1)).name, "00000000-0000-0000-0000-000000000001");
        assert_eq!(well_known_name(&sid("S-1-5-10")), Some("SELF"));
        assert_eq!(well_known_name(&sid(MSOL)), None);
        assert_eq!(access_text(&reset_for(MSOL, 0)), "CR");
    }
}
