//! GUIDs in the Windows byte layout ACEs and schemaIDGUID use, and the schema/rights GUIDs writeback needs.

use std::fmt;
use std::str::FromStr;

use super::wire::{clip, SdError};

/// A GUID as stored on the wire: first three fields little-endian, last eight bytes as written.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// From the value the canonical text spells, read as one big-endian number:
    /// `Guid::from_u128(0x00299570_246d_11d0_a768_00aa006e0529)`.
    pub const fn from_u128(v: u128) -> Guid {
        let b = v.to_be_bytes();
        Guid([b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]])
    }

    /// The canonical value back (inverse of [`Guid::from_u128`]).
    pub const fn to_u128(self) -> u128 {
        let b = self.0;
        u128::from_be_bytes([
            b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15],
        ])
    }

    /// From exactly 16 wire bytes (an ACE's objectType, an objectGUID or schemaIDGUID value).
    ///
    /// # Errors
    /// Any length other than 16.
    pub fn from_slice(bytes: &[u8]) -> Result<Guid, SdError> {
        let array: [u8; 16] = bytes.try_into().map_err(|_| SdError::Invalid {
            field: "GUID",
            offset: 0,
            problem: format!("{} bytes, expected 16", bytes.len()),
        })?;
        Ok(Guid(array))
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.to_u128();
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            v >> 96,
            (v >> 80) & 0xffff,
            (v >> 64) & 0xffff,
            (v >> 48) & 0xffff,
            v & 0xffff_ffff_ffff
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

impl FromStr for Guid {
    type Err = SdError;

    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, any case, optionally in braces.
    fn from_str(text: &str) -> Result<Guid, SdError> {
        let bad = |problem| SdError::Text { what: "GUID", text: clip(text), problem };
        let inner = text.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(text);
        let groups: Vec<&str> = inner.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        if lengths != [8, 4, 4, 4, 12] {
            return Err(bad("expected 8-4-4-4-12 hex digits"));
        }
        let mut value: u128 = 0;
        for c in groups.concat().chars() {
            let digit = c.to_digit(16).ok_or(bad("not a hex digit"))?;
            value = (value << 4) | u128::from(digit);
        }
        Ok(Guid::from_u128(value))
    }
}

/// Schema and extended-right GUIDs (MS-ADTS / MS-ADSC; checked against Samba's schema files).
pub mod guids {
    use super::Guid;

    /// Extended right User-Force-Change-Password ("Reset Password").
    pub const RESET_PASSWORD: Guid = Guid::from_u128(0x00299570_246d_11d0_a768_00aa006e0529);
    /// Extended right User-Change-Password.
    pub const CHANGE_PASSWORD: Guid = Guid::from_u128(0xab721a53_1e2f_11d0_9819_00aa0040529b);
    /// Extended right Unexpire-Password, on the domain object.
    pub const UNEXPIRE_PASSWORD: Guid = Guid::from_u128(0xccc2dc7d_a6ad_4a7a_8846_c04e3cc53501);
    /// Attribute lockoutTime (in no property set).
    pub const LOCKOUT_TIME: Guid = Guid::from_u128(0x28630ebf_41d5_11d1_a9c1_0000f80367c1);
    /// Attribute pwdLastSet (attributeSecurityGUID = User-Account-Restrictions).
    pub const PWD_LAST_SET: Guid = Guid::from_u128(0xbf967a0a_0de6_11d0_a285_00aa003049e2);
    /// Property set User-Account-Restrictions.
    pub const USER_ACCOUNT_RESTRICTIONS: Guid = Guid::from_u128(0x4c164200_20c0_11d0_a768_00aa006e0529);
    /// Class user.
    pub const USER_CLASS: Guid = Guid::from_u128(0xbf967aba_0de6_11d0_a285_00aa003049e2);
    /// Class inetOrgPerson (a subclass of user; user-scoped inheritable ACEs do not apply to it).
    pub const INET_ORG_PERSON_CLASS: Guid = Guid::from_u128(0x4828cc14_1437_45bc_9b07_ad6f015e5f28);
    /// Class computer.
    pub const COMPUTER_CLASS: Guid = Guid::from_u128(0xbf967a86_0de6_11d0_a285_00aa003049e2);
    /// Class organizationalUnit.
    pub const ORGANIZATIONAL_UNIT_CLASS: Guid = Guid::from_u128(0xbf967aa5_0de6_11d0_a285_00aa003049e2);
    /// Class domainDNS (the domain root object).
    pub const DOMAIN_DNS_CLASS: Guid = Guid::from_u128(0x19195a5b_6da0_11d0_afd3_00c04fd930c9);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_byte_layout() {
        let cases: &[(&str, [u8; 16])] = &[
            (
                "00299570-246d-11d0-a768-00aa006e0529",
                [0x70, 0x95, 0x29, 0x00, 0x6d, 0x24, 0xd0, 0x11, 0xa7, 0x68, 0x00, 0xaa, 0x00, 0x6e, 0x05, 0x29],
            ),
            (
                "bf967aba-0de6-11d0-a285-00aa003049e2",
                [0xba, 0x7a, 0x96, 0xbf, 0xe6, 0x0d, 0xd0, 0x11, 0xa2, 0x85, 0x00, 0xaa, 0x00, 0x30, 0x49, 0xe2],
            ),
        ];
        for (text, bytes) in cases {
            let guid: Guid = text.parse().unwrap();
            assert_eq!(guid.0, *bytes);
            assert_eq!(guid.to_string(), *text);
            assert_eq!(Guid::from_slice(bytes).unwrap(), guid);
            assert_eq!(Guid::from_u128(guid.to_u128()), guid);
        }
        assert_eq!(guids::RESET_PASSWORD, "00299570-246D-11D0-A768-00AA006E0529".parse().unwrap());
        assert_eq!(guids::USER_CLASS, "{bf967aba-0de6-11d0-a285-00aa003049e2}".parse().unwrap());
        assert_eq!(guids::INET_ORG_PERSON_CLASS.to_string(), "4828cc14-1437-45bc-9b07-ad6f015e5f28");
    }

    #[test]
    fn bad_input() {
        for text in [
            "",
            "00299570-246d-11d0-a768-00aa006e052",
            "00299570-246d-11d0-a768-00aa006e05290",
            "00299570246d-11d0-a768-00aa006e0529-",
            "0029957g-246d-11d0-a768-00aa006e0529",
            "+0299570-246d-11d0-a768-00aa006e0529",
            "{00299570-246d-11d0-a768-00aa006e0529",
            "é0299570-246d-11d0-a768-00aa006e0529",
        ] {
            assert!(text.parse::<Guid>().is_err(), "{text:?}");
        }
        assert!(Guid::from_slice(&[0; 15]).is_err());
        assert!(Guid::from_slice(&[0; 17]).is_err());
    }
}
