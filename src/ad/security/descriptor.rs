//! Self-relative security descriptors (nTSecurityDescriptor): zero-copy parsing, ACE iteration, serialising.

use super::access::{check_access_on, check_rights, Decision, Right, Token};
use super::ace::{parse_ace, Ace, AceView};
use super::flags::{SE_DACL_PRESENT, SE_DACL_PROTECTED, SE_SACL_PRESENT, SE_SELF_RELATIVE};
use super::guid::Guid;
use super::sid::{sid_at, Sid};
pub use super::wire::SdError;
use super::wire::{array_at, invalid, take};

/// Revision(1) Sbz1(1) Control(2) OffsetOwner OffsetGroup OffsetSacl OffsetDacl (4 each).
const SD_HEADER_LEN: usize = 20;
const ACL_HEADER_LEN: usize = 8;

/// A self-relative security descriptor borrowed from the bytes LDAP returned.
///
/// `parse` checks the header, the owner and group SIDs, and that each ACL header and AclSize lie inside the
/// buffer; ACEs are checked as they are iterated, so evaluating a DACL reads it once.
#[derive(Clone, Copy, Debug)]
pub struct SecurityDescriptor<'a> {
    pub control: u16,
    owner: Option<&'a [u8]>,
    group: Option<&'a [u8]>,
    dacl: Option<Acl<'a>>,
    sacl: Option<Acl<'a>>,
}

/// An ACL whose header was validated; `bytes` is the whole buffer, the ACL spans `start..end`.
#[derive(Clone, Copy, Debug)]
struct Acl<'a> {
    bytes: &'a [u8],
    start: usize,
    end: usize,
    count: u16,
}

impl<'a> SecurityDescriptor<'a> {
    /// # Errors
    /// Anything that does not fit the buffer or that MS-DTYP forbids, naming the field and its offset.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, SdError> {
        let header = array_at::<SD_HEADER_LEN>(bytes, 0, bytes.len(), "security descriptor header")?;
        let [revision, _sbz1, c0, c1, rest @ ..] = header;
        if revision != 1 {
            return Err(invalid("security descriptor header", 0, format!("revision {revision}, expected 1")));
        }
        let control = u16::from_le_bytes([c0, c1]);
        let offset = |i: usize| -> usize {
            let word = rest.get(4 * i..4 * i + 4).and_then(|w| w.first_chunk::<4>()).copied().unwrap_or_default();
            // u32 → usize cannot fail on the 32/64-bit targets we build for; saturating keeps it total anyway.
            usize::try_from(u32::from_le_bytes(word)).unwrap_or(usize::MAX)
        };
        let (owner_at, group_at, sacl_at, dacl_at) = (offset(0), offset(1), offset(2), offset(3));
        let owner = optional_sid(bytes, owner_at, "owner SID", 4)?;
        let group = optional_sid(bytes, group_at, "group SID", 8)?;
        // Windows ignores an ACL whose PRESENT bit is clear, whatever its offset says; so do we.
        let sacl = if control & SE_SACL_PRESENT != 0 { optional_acl(bytes, sacl_at, "SACL", 12)? } else { None };
        let dacl = if control & SE_DACL_PRESENT != 0 { optional_acl(bytes, dacl_at, "DACL", 16)? } else { None };
        Ok(SecurityDescriptor { control, owner, group, dacl, sacl })
    }

    /// The SE_DACL_PRESENT bit. Present with offset 0 is a NULL DACL: use `dacl_aces().is_none()` to ask
    /// "does a DACL restrict anything".
    pub fn dacl_present(&self) -> bool {
        self.control & SE_DACL_PRESENT != 0
    }

    /// SE_DACL_PROTECTED: inheritance is disabled on this object.
    pub fn dacl_protected(&self) -> bool {
        self.control & SE_DACL_PROTECTED != 0
    }

    /// `None` when there is no DACL (absent or NULL), which grants everything; an empty DACL grants nothing.
    /// ACEs of unknown type come as `AceType::Other` (skipped by their size); a malformed ACE is an `Err`,
    /// after which the iterator ends.
    pub fn dacl_aces(&self) -> Option<AceIter<'a>> {
        self.dacl.map(AceIter::new)
    }

    /// The SACL's ACEs when present (LDAP returns it only to those holding ACCESS_SYSTEM_SECURITY).
    pub fn sacl_aces(&self) -> Option<AceIter<'a>> {
        self.sacl.map(AceIter::new)
    }

    /// AceCount of the DACL, 0 without one.
    pub fn dacl_ace_count(&self) -> usize {
        self.dacl.map_or(0, |acl| usize::from(acl.count))
    }

    /// Validated by `parse`, so this is `Some(Ok(..))` whenever the SD has an owner.
    pub fn owner(&self) -> Option<Result<Sid, SdError>> {
        self.owner.map(|b| Sid::from_bytes(b).map(|(sid, _)| sid))
    }

    pub fn group(&self) -> Option<Result<Sid, SdError>> {
        self.group.map(|b| Sid::from_bytes(b).map(|(sid, _)| sid))
    }

    /// The access check on this DACL, `NoDacl` for every right when there is none.
    ///
    /// # Errors
    /// A malformed ACE.
    pub fn check(&self, token: &Token, rights: &[Right]) -> Result<Vec<Decision>, SdError> {
        self.check_on(token, rights, None)
    }

    /// As [`SecurityDescriptor::check`], for an object whose structural class is known (see `check_access_on`).
    ///
    /// # Errors
    /// A malformed ACE.
    pub fn check_on(&self, token: &Token, rights: &[Right], class: Option<Guid>) -> Result<Vec<Decision>, SdError> {
        match self.dacl_aces() {
            None => Ok(vec![Decision::NoDacl; rights.len()]),
            Some(aces) => check_access_on(aces, token, rights, class),
        }
    }

    /// As [`SecurityDescriptor::check_on`] for a fixed set of rights, without allocating (see `check_rights`).
    ///
    /// # Errors
    /// A malformed ACE.
    pub fn check_rights<const N: usize>(
        &self,
        token: &Token,
        rights: &[Right; N],
        class: Option<Guid>,
    ) -> Result<[Decision; N], SdError> {
        match self.dacl_aces() {
            None => Ok([Decision::NoDacl; N]),
            Some(aces) => check_rights(aces, token, rights, class),
        }
    }

    /// SDDL text of the whole descriptor, for logs and reports.
    ///
    /// # Errors
    /// A malformed ACE.
    pub fn to_sddl(&self) -> Result<String, SdError> {
        let owner = self.owner.map(super::sddl::render_sid);
        let group = self.group.map(super::sddl::render_sid);
        let mut out = String::new();
        if let Some(owner) = owner {
            out.push_str("O:");
            out.push_str(&owner);
        }
        if let Some(group) = group {
            out.push_str("G:");
            out.push_str(&group);
        }
        if self.dacl_present() {
            out.push_str("D:");
            out.push_str(&super::sddl::render_acl_flags(self.control));
            match self.dacl_aces() {
                None => out.push_str("NO_ACCESS_CONTROL"),
                Some(aces) => {
                    for ace in aces {
                        out.push_str(&ace?.to_sddl());
                    }
                }
            }
        }
        Ok(out)
    }
}

/// A SID at `offset` (0 = absent), which may not point into the header.
fn optional_sid<'a>(
    bytes: &'a [u8],
    offset: usize,
    field: &'static str,
    field_at: usize,
) -> Result<Option<&'a [u8]>, SdError> {
    match offset {
        0 => Ok(None),
        o if o < SD_HEADER_LEN => Err(invalid(field, field_at, format!("offset {o} points into the header"))),
        o => sid_at(bytes, o, bytes.len(), field).map(Some),
    }
}

fn optional_acl<'a>(
    bytes: &'a [u8],
    offset: usize,
    field: &'static str,
    field_at: usize,
) -> Result<Option<Acl<'a>>, SdError> {
    if offset == 0 {
        return Ok(None);
    }
    if offset < SD_HEADER_LEN {
        return Err(invalid(field, field_at, format!("offset {offset} points into the header")));
    }
    let [revision, _sbz1, s0, s1, n0, n1, _, _] = array_at::<ACL_HEADER_LEN>(bytes, offset, bytes.len(), field)?;
    // 2 = ACL_REVISION, 4 = ACL_REVISION_DS (object ACEs); 3 exists in Windows headers too.
    if !(2..=4).contains(&revision) {
        return Err(invalid(field, offset, format!("ACL revision {revision}, expected 2 or 4")));
    }
    let size = usize::from(u16::from_le_bytes([s0, s1]));
    if size < ACL_HEADER_LEN {
        return Err(invalid(field, offset, format!("AclSize {size} is smaller than the 8-byte header")));
    }
    take(bytes, offset, size, bytes.len(), field)?;
    Ok(Some(Acl { bytes, start: offset, end: offset + size, count: u16::from_le_bytes([n0, n1]) }))
}

/// The ACEs of one ACL in order, each checked against AclSize and its own AceSize.
#[derive(Clone, Debug)]
pub struct AceIter<'a> {
    bytes: &'a [u8],
    at: usize,
    end: usize,
    remaining: u16,
}

impl<'a> AceIter<'a> {
    fn new(acl: Acl<'a>) -> Self {
        AceIter { bytes: acl.bytes, at: acl.start + ACL_HEADER_LEN, end: acl.end, remaining: acl.count }
    }
}

impl<'a> Iterator for AceIter<'a> {
    type Item = Result<AceView<'a>, SdError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.remaining = self.remaining.checked_sub(1)?;
        match parse_ace(self.bytes, self.at, self.end) {
            Ok((view, size)) => {
                self.at += size;
                Some(Ok(view))
            }
            Err(e) => {
                self.remaining = 0;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.remaining)))
    }
}

/// The ACL bytes for `aces`: revision 4 when any object ACE is present (as Windows writes it), else 2.
///
/// # Errors
/// An ACE that cannot be encoded, or an ACL over 65535 bytes.
pub fn acl_to_bytes(aces: &[Ace]) -> Result<Vec<u8>, SdError> {
    let revision = if aces.iter().any(|a| a.ace_type.layout() == super::ace::Layout::Object) { 4 } else { 2 };
    let count = u16::try_from(aces.len()).map_err(|_| SdError::Encode(format!("{} ACEs in one ACL", aces.len())))?;
    let mut out = vec![revision, 0, 0, 0];
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    for ace in aces {
        ace.write_to(&mut out)?;
    }
    let size = u16::try_from(out.len()).map_err(|_| SdError::Encode(format!("ACL of {} bytes", out.len())))?;
    if let Some(field) = out.get_mut(2..4) {
        field.copy_from_slice(&size.to_le_bytes());
    }
    Ok(out)
}

/// A self-relative SD: header, owner, group, DACL (no SACL). `control` is written with SE_SELF_RELATIVE and,
/// when `dacl` is `Some`, SE_DACL_PRESENT added; a NULL DACL is `dacl: None` with SE_DACL_PRESENT in `control`.
///
/// # Errors
/// An ACE that cannot be encoded, or an ACL over 65535 bytes.
pub fn sd_to_bytes(
    control: u16,
    owner: Option<&Sid>,
    group: Option<&Sid>,
    dacl: Option<&[Ace]>,
) -> Result<Vec<u8>, SdError> {
    let mut control = control | SE_SELF_RELATIVE;
    let mut out = vec![0u8; SD_HEADER_LEN];
    let mut offsets = [0u32; 4];
    let mut place = |out: &mut Vec<u8>, slot: usize, bytes: &[u8]| {
        if let Some(o) = offsets.get_mut(slot) {
            *o = u32::try_from(out.len()).unwrap_or(u32::MAX);
        }
        out.extend_from_slice(bytes);
    };
    if let Some(owner) = owner {
        place(&mut out, 0, owner.as_bytes());
    }
    if let Some(group) = group {
        place(&mut out, 1, group.as_bytes());
    }
    if let Some(aces) = dacl {
        control |= SE_DACL_PRESENT;
        place(&mut out, 3, &acl_to_bytes(aces)?);
    }
    let mut header = vec![1u8, 0];
    header.extend_from_slice(&control.to_le_bytes());
    for o in offsets {
        header.extend_from_slice(&o.to_le_bytes());
    }
    if let Some(h) = out.get_mut(..SD_HEADER_LEN) {
        h.copy_from_slice(&header);
    }
    Ok(out)
}
