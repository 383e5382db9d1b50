//! Security identifiers: the binary form (ACEs, objectSid, tokenGroups) and the `S-1-...` text form.

use std::fmt;
use std::str::FromStr;

use super::wire::{array_at, clip, invalid, take, SdError};

/// A SID has at most 15 sub-authorities (MS-DTYP 2.4.2).
pub const MAX_SUB_AUTHORITIES: usize = 15;
/// Revision(1) + count(1) + identifier authority(6).
const HEADER_LEN: usize = 8;
/// Authorities at or above 2^32 are written in hex (MS-DTYP 2.4.2.1).
const HEX_AUTHORITY_FROM: u64 = 1 << 32;
const MAX_AUTHORITY: u64 = (1 << 48) - 1;

/// An owned SID, kept in its binary form: that is what ACEs carry and what a `Token` matches against.
/// Ordering is that of the bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    /// Always a valid binary SID, exactly as long as its sub-authority count says.
    bytes: Vec<u8>,
}

/// Validates the SID at `start` (which must end by `limit`) and returns its bytes.
pub(crate) fn sid_at<'a>(buf: &'a [u8], start: usize, limit: usize, field: &'static str) -> Result<&'a [u8], SdError> {
    let [revision, count] = array_at::<2>(buf, start, limit, field)?;
    if revision != 1 {
        return Err(invalid(field, start, format!("SID revision {revision}, expected 1")));
    }
    if usize::from(count) > MAX_SUB_AUTHORITIES {
        return Err(invalid(field, start, format!("{count} sub-authorities, at most {MAX_SUB_AUTHORITIES}")));
    }
    take(buf, start, HEADER_LEN + 4 * usize::from(count), limit, field)
}

impl Sid {
    /// Reads the SID at the start of `bytes`; trailing bytes are left alone.
    ///
    /// # Errors
    /// Revision other than 1, more than 15 sub-authorities, or fewer bytes than the count needs.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Sid, usize), SdError> {
        let sid = sid_at(bytes, 0, bytes.len(), "SID")?;
        Ok((Sid { bytes: sid.to_vec() }, sid.len()))
    }

    /// Builds a SID from its identifier authority and sub-authorities.
    ///
    /// # Errors
    /// An authority of 2^48 or more, or more than 15 sub-authorities.
    pub fn from_parts(authority: u64, sub_authorities: &[u32]) -> Result<Sid, SdError> {
        let count = u8::try_from(sub_authorities.len()).ok().filter(|c| usize::from(*c) <= MAX_SUB_AUTHORITIES);
        let Some(count) = count else {
            return Err(invalid("SID", 0, format!("{} sub-authorities, at most 15", sub_authorities.len())));
        };
        if authority > MAX_AUTHORITY {
            return Err(invalid("SID", 0, format!("identifier authority {authority} does not fit in 48 bits")));
        }
        let mut bytes = Vec::with_capacity(HEADER_LEN + 4 * sub_authorities.len());
        bytes.extend_from_slice(&[1, count]);
        bytes.extend_from_slice(&authority.to_be_bytes()[2..]);
        for sub in sub_authorities {
            bytes.extend_from_slice(&sub.to_le_bytes());
        }
        Ok(Sid { bytes })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn authority(&self) -> u64 {
        authority_of(&self.bytes)
    }

    pub fn sub_authorities(&self) -> impl Iterator<Item = u32> + '_ {
        sub_authorities_of(&self.bytes)
    }

    /// The last sub-authority: the RID of an account or group SID.
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities().last()
    }

    /// Domain SID + RID, as SDDL aliases like `DA` (RID 512) need it; `None` when the SID already has 15
    /// sub-authorities.
    pub fn try_with_rid(&self, rid: u32) -> Option<Sid> {
        let count = self.bytes.get(1).copied().unwrap_or(0);
        if usize::from(count) >= MAX_SUB_AUTHORITIES {
            return None;
        }
        let mut bytes = self.bytes.clone();
        if let Some(c) = bytes.get_mut(1) {
            *c = count + 1;
        }
        bytes.extend_from_slice(&rid.to_le_bytes());
        Some(Sid { bytes })
    }

    /// Domain SID + RID. A SID that already has 15 sub-authorities cannot take one more: the result is then
    /// the NULL SID `S-1-0-0`, which is in no token, so it can never grant anything by mistake. Use
    /// [`Sid::try_with_rid`] to detect that case.
    pub fn with_rid(&self, rid: u32) -> Sid {
        self.try_with_rid(rid).unwrap_or_else(well_known::null)
    }

    /// Whether `self` is `domain` plus one RID (an account or group of that domain).
    pub fn is_in_domain(&self, domain: &Sid) -> bool {
        self.bytes.len() == domain.bytes.len() + 4
            && self.bytes.get(2..domain.bytes.len()) == domain.bytes.get(2..)
            && self.bytes.get(1).map(|c| usize::from(*c)) == domain.bytes.get(1).map(|c| usize::from(*c) + 1)
    }
}

fn authority_of(bytes: &[u8]) -> u64 {
    let mut be = [0u8; 8];
    if let (Some(dst), Some(src)) = (be.get_mut(2..), bytes.get(2..HEADER_LEN)) {
        dst.copy_from_slice(src);
    }
    u64::from_be_bytes(be)
}

fn sub_authorities_of(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    let subs = bytes.get(HEADER_LEN..).unwrap_or_default();
    subs.chunks_exact(4).filter_map(|c| c.first_chunk::<4>().map(|b| u32::from_le_bytes(*b)))
}

/// Writes `S-1-...` for a binary SID that `sid_at` validated.
pub(crate) fn fmt_sid_bytes(bytes: &[u8], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let revision = bytes.first().copied().unwrap_or(0);
    let authority = authority_of(bytes);
    if authority >= HEX_AUTHORITY_FROM {
        write!(f, "S-{revision}-0x{authority:012X}")?;
    } else {
        write!(f, "S-{revision}-{authority}")?;
    }
    for sub in sub_authorities_of(bytes) {
        write!(f, "-{sub}")?;
    }
    Ok(())
}

/// Displays a borrowed binary SID (an ACE's) without copying it.
pub(crate) struct SidText<'a>(pub &'a [u8]);

impl fmt::Display for SidText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_sid_bytes(self.0, f)
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_sid_bytes(&self.bytes, f)
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({self})")
    }
}

impl FromStr for Sid {
    type Err = SdError;

    /// `S-1-<authority>-<sub>...`, authority in decimal or `0x` hex; `s-` is accepted as SDDL does.
    fn from_str(text: &str) -> Result<Sid, SdError> {
        let bad = |problem| SdError::Text { what: "SID", text: clip(text), problem };
        let mut parts = text.split('-');
        if !parts.next().is_some_and(|s| s.eq_ignore_ascii_case("S")) {
            return Err(bad("does not start with S-"));
        }
        if parts.next() != Some("1") {
            return Err(bad("revision is not 1"));
        }
        let authority = match parts.next() {
            Some(hex) if hex.starts_with("0x") || hex.starts_with("0X") => {
                parse_digits(hex.get(2..).unwrap_or_default(), 16).ok_or(bad("bad hex identifier authority"))?
            }
            Some(dec) => parse_digits(dec, 10).ok_or(bad("bad identifier authority"))?,
            None => return Err(bad("no identifier authority")),
        };
        let mut subs = [0u32; MAX_SUB_AUTHORITIES];
        let mut count = 0;
        for part in parts {
            let slot = subs.get_mut(count).ok_or(bad("more than 15 sub-authorities"))?;
            let value = parse_digits(part, 10).ok_or(bad("bad sub-authority"))?;
            *slot = u32::try_from(value).map_err(|_| bad("sub-authority exceeds 32 bits"))?;
            count += 1;
        }
        if authority > MAX_AUTHORITY {
            return Err(bad("identifier authority exceeds 48 bits"));
        }
        Sid::from_parts(authority, subs.get(..count).unwrap_or_default())
    }
}

/// Digits only (no sign, no spaces, nothing `u64::from_str_radix` would also take), at most 2^48 range
/// checks left to the caller.
fn parse_digits(text: &str, radix: u32) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(text, radix).ok()
}

/// SIDs the access check and SDDL need by name.
pub mod well_known {
    use super::Sid;

    /// The authorities and RIDs here are constants well inside the limits `from_parts` checks.
    fn sid(authority: u64, subs: &[u32]) -> Sid {
        Sid::from_parts(authority, subs).unwrap_or_else(|_| Sid { bytes: vec![1, 0, 0, 0, 0, 0, 0, 0] })
    }

    /// `S-1-0-0`, in no token.
    pub fn null() -> Sid {
        sid(0, &[0])
    }
    /// `S-1-1-0` (WD).
    pub fn everyone() -> Sid {
        sid(1, &[0])
    }
    /// `S-1-3-0` (CO).
    pub fn creator_owner() -> Sid {
        sid(3, &[0])
    }
    /// `S-1-3-1` (CG).
    pub fn creator_group() -> Sid {
        sid(3, &[1])
    }
    /// `S-1-5-9` (ED).
    pub fn enterprise_domain_controllers() -> Sid {
        sid(5, &[9])
    }
    /// `S-1-5-10` (PS): stands for the object itself when the object is a principal.
    pub fn self_sid() -> Sid {
        sid(5, &[10])
    }
    /// `S-1-5-11` (AU).
    pub fn authenticated_users() -> Sid {
        sid(5, &[11])
    }
    /// `S-1-5-15`.
    pub fn this_organization() -> Sid {
        sid(5, &[15])
    }
    /// `S-1-5-18` (SY).
    pub fn local_system() -> Sid {
        sid(5, &[18])
    }
    /// `S-1-5-32-544` (BA).
    pub fn builtin_administrators() -> Sid {
        sid(5, &[32, 544])
    }
    /// `S-1-5-32-554` (RU).
    pub fn pre_windows_2000_compatible_access() -> Sid {
        sid(5, &[32, 554])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_bytes_round_trip() {
        let cases: &[(&str, &[u8])] = &[
            ("S-1-1-0", &[1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
            ("S-1-5-32-544", &[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0]),
            (
                "S-1-5-21-1-2-3-1105",
                &[1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0x51, 4, 0, 0],
            ),
            ("S-1-0x123456789ABC-7", &[1, 1, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 7, 0, 0, 0]),
            ("S-1-5", &[1, 0, 0, 0, 0, 0, 0, 5]),
        ];
        for (text, bytes) in cases {
            let sid: Sid = text.parse().unwrap();
            assert_eq!(sid.as_bytes(), *bytes, "{text}");
            assert_eq!(sid.to_string(), *text);
            let (from_bytes, used) = Sid::from_bytes(bytes).unwrap();
            assert_eq!((from_bytes, used), (sid, bytes.len()));
        }
    }

    #[test]
    fn from_bytes_leaves_trailing_bytes_and_rejects_bad_headers() {
        let (sid, used) = Sid::from_bytes(&[1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0, 0xFF, 0xFF]).unwrap();
        assert_eq!((sid.to_string().as_str(), used), ("S-1-5-11", 12));
        let bad: &[&[u8]] = &[
            &[],
            &[1],
            &[2, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0],
            &[1, 16, 0, 0, 0, 0, 0, 5],
            &[1, 2, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0],
        ];
        for bytes in bad {
            assert!(Sid::from_bytes(bytes).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn bad_text_is_an_error() {
        for text in [
            "",
            "S",
            "S-1",
            "S-2-5-11",
            "X-1-5-11",
            "S-1-5-",
            "S-1-5-+1",
            "S-1--5",
            "S-1-5-4294967296",
            "S-1-281474976710656",
            "S-1-0x1000000000000",
            "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
        ] {
            assert!(text.parse::<Sid>().is_err(), "{text:?}");
        }
        assert!("s-1-5-11".parse::<Sid>().is_ok());
        assert!("S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15".parse::<Sid>().is_ok());
    }

    #[test]
    fn rid_and_domain() {
        let domain: Sid = "S-1-5-21-1-2-3".parse().unwrap();
        let da = domain.with_rid(512);
        assert_eq!(da.to_string(), "S-1-5-21-1-2-3-512");
        assert_eq!(da.rid(), Some(512));
        assert!(da.is_in_domain(&domain));
        assert!(!domain.is_in_domain(&domain));
        assert!(!well_known::everyone().is_in_domain(&domain));
        let full: Sid = "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15".parse().unwrap();
        assert_eq!(full.try_with_rid(1), None);
        assert_eq!(full.with_rid(1), well_known::null());
        assert_eq!(well_known::self_sid().to_string(), "S-1-5-10");
        assert_eq!(well_known::this_organization().to_string(), "S-1-5-15");
    }
}
