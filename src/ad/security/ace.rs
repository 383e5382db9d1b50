//! One ACE: the zero-copy view evaluation reads, the owned form SDDL and inheritance produce, and its bytes.

use std::fmt;

use super::flags::{ACE_INHERITED_OBJECT_TYPE_PRESENT, ACE_OBJECT_TYPE_PRESENT, INHERITED, INHERIT_ONLY};
use super::guid::Guid;
use super::sid::{sid_at, Sid, SidText, MAX_SUB_AUTHORITIES};
use super::wire::{add, array_at, invalid, u16_at, u32_at, SdError};

const HEADER_LEN: usize = 4;

/// The ACE types the access check acts on; every other type is carried as `Other` and skipped by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AceType {
    AccessAllowed,
    AccessDenied,
    AccessAllowedObject,
    AccessDeniedObject,
    /// Any other type byte (audit, alarm, callback, label...). Always holds a value outside 0, 1, 5, 6.
    Other(u8),
}

impl AceType {
    #[inline]
    pub const fn from_u8(value: u8) -> AceType {
        match value {
            0x00 => AceType::AccessAllowed,
            0x01 => AceType::AccessDenied,
            0x05 => AceType::AccessAllowedObject,
            0x06 => AceType::AccessDeniedObject,
            other => AceType::Other(other),
        }
    }

    #[inline]
    pub const fn as_u8(self) -> u8 {
        match self {
            AceType::AccessAllowed => 0x00,
            AceType::AccessDenied => 0x01,
            AceType::AccessAllowedObject => 0x05,
            AceType::AccessDeniedObject => 0x06,
            AceType::Other(other) => other,
        }
    }

    /// How the body after the header is laid out, from MS-DTYP 2.4.4.2 to 2.4.4.17.
    #[inline]
    pub(crate) const fn layout(self) -> Layout {
        match self.as_u8() {
            // allowed, denied, audit, alarm, callback variants, mandatory label, resource attribute,
            // scoped policy, process trust label, access filter: Mask + SID (+ application data)
            0x00..=0x03 | 0x09 | 0x0A | 0x0D | 0x0E | 0x11..=0x15 => Layout::Basic,
            // the *_OBJECT variants: Mask + Flags + [ObjectType] + [InheritedObjectType] + SID (+ data)
            0x05..=0x08 | 0x0B | 0x0C | 0x0F | 0x10 => Layout::Object,
            // 0x04 (compound) and anything newer
            _ => Layout::Unknown,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    Basic,
    Object,
    Unknown,
}

/// Zero-copy view of one ACE, as evaluation reads it; `sid` is the binary SID inside the buffer (validated).
/// For a type of unknown layout, `mask` is 0 and `sid` is empty: nothing can be said about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AceView<'a> {
    pub ace_type: AceType,
    pub flags: u8,
    pub mask: u32,
    pub object_type: Option<Guid>,
    pub inherited_object_type: Option<Guid>,
    pub sid: &'a [u8],
}

impl AceView<'_> {
    /// # Errors
    /// `UnsupportedAce` for a type whose layout is unknown (its SID could not be read).
    // By reference on purpose: then `(&view).to_owned()` cannot resolve to `ToOwned` and yield a view.
    pub fn to_owned(&self) -> Result<Ace, SdError> {
        if self.ace_type.layout() == Layout::Unknown {
            return Err(SdError::UnsupportedAce { ace_type: self.ace_type.as_u8() });
        }
        let (sid, _) = Sid::from_bytes(self.sid)?;
        Ok(Ace {
            ace_type: self.ace_type,
            flags: self.flags,
            mask: self.mask,
            object_type: self.object_type,
            inherited_object_type: self.inherited_object_type,
            sid,
        })
    }

    pub fn to_sddl(&self) -> String {
        super::sddl::render_ace(self)
    }

    /// INHERIT_ONLY ACEs are there only to be passed down: they never apply to the object holding them.
    #[inline]
    pub fn is_inherit_only(&self) -> bool {
        self.flags & INHERIT_ONLY != 0
    }

    pub fn is_inherited(&self) -> bool {
        self.flags & INHERITED != 0
    }

    /// The trustee as `S-1-...` text, without allocating a `Sid`.
    pub fn sid_text(&self) -> impl fmt::Display + '_ {
        SidText(self.sid)
    }
}

/// An owned ACE: from SDDL, or produced by inheritance.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Ace {
    pub ace_type: AceType,
    pub flags: u8,
    pub mask: u32,
    pub object_type: Option<Guid>,
    pub inherited_object_type: Option<Guid>,
    pub sid: Sid,
}

impl Ace {
    /// An ACE without object types; add them with the `with_*` methods (on an object type).
    pub fn new(ace_type: AceType, flags: u8, mask: u32, sid: Sid) -> Ace {
        Ace { ace_type, flags, mask, object_type: None, inherited_object_type: None, sid }
    }

    pub fn with_object_type(mut self, guid: Guid) -> Ace {
        self.object_type = Some(guid);
        self
    }

    pub fn with_inherited_object_type(mut self, guid: Guid) -> Ace {
        self.inherited_object_type = Some(guid);
        self
    }

    pub fn view(&self) -> AceView<'_> {
        AceView {
            ace_type: self.ace_type,
            flags: self.flags,
            mask: self.mask,
            object_type: self.object_type,
            inherited_object_type: self.inherited_object_type,
            sid: self.sid.as_bytes(),
        }
    }

    pub fn to_sddl(&self) -> String {
        self.view().to_sddl()
    }

    /// Appends the binary ACE.
    ///
    /// # Errors
    /// A type of unknown layout, or object types on a type that cannot carry them.
    pub fn write_to(&self, out: &mut Vec<u8>) -> Result<(), SdError> {
        let guids = [self.object_type, self.inherited_object_type];
        let object_flags = match self.ace_type.layout() {
            Layout::Unknown => return Err(SdError::UnsupportedAce { ace_type: self.ace_type.as_u8() }),
            Layout::Basic if guids.iter().any(Option::is_some) => {
                return Err(SdError::Encode(format!(
                    "ACE type 0x{:02x} cannot carry object types",
                    self.ace_type.as_u8()
                )))
            }
            Layout::Basic => None,
            Layout::Object => Some(
                self.object_type.map_or(0, |_| ACE_OBJECT_TYPE_PRESENT)
                    | self.inherited_object_type.map_or(0, |_| ACE_INHERITED_OBJECT_TYPE_PRESENT),
            ),
        };
        let guid_len = 16 * guids.iter().flatten().count();
        let body_len = 4 + object_flags.map_or(0, |_| 4 + guid_len) + self.sid.as_bytes().len();
        let size = u16::try_from(HEADER_LEN + body_len).map_err(|_| SdError::Encode("ACE over 65535 bytes".into()))?;
        out.extend_from_slice(&[self.ace_type.as_u8(), self.flags]);
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&self.mask.to_le_bytes());
        if let Some(object_flags) = object_flags {
            out.extend_from_slice(&object_flags.to_le_bytes());
            for guid in guids.iter().flatten() {
                out.extend_from_slice(&guid.0);
            }
        }
        out.extend_from_slice(self.sid.as_bytes());
        Ok(())
    }
}

impl fmt::Display for Ace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sddl())
    }
}

/// Reads the ACE at `start`, which must end by `limit` (the end of its ACL). Returns it and its size.
/// Bytes after the SID inside AceSize are allowed: callback ACEs carry application data there.
///
/// Every ACE of every user goes through here, so a well-formed ACE takes a straight path: one bounds check
/// for the whole ACE, then fixed-offset reads inside it. Anything that does not fit asks
/// [`parse_ace_checked`], which reads field by field, for the error naming the field at fault: both accept
/// exactly the same ACEs (a test holds them to it), so the slow path only ever produces errors, and a view
/// never has to travel through the error path's memory.
#[inline]
pub(crate) fn parse_ace(buf: &[u8], start: usize, limit: usize) -> Result<(AceView<'_>, usize), SdError> {
    parse_ace_fast(buf, start, limit).ok_or_else(|| ace_error(buf, start, limit))
}

/// Why the ACE at `start` is malformed, for an ACE the straight path rejected.
#[cold]
#[inline(never)]
fn ace_error(buf: &[u8], start: usize, limit: usize) -> SdError {
    match parse_ace_checked(buf, start, limit) {
        Err(e) => e,
        // Unreachable while the two readers agree; an error all the same rather than a guess.
        Ok(_) => invalid("ACE", start, "rejected by the fast reader only"),
    }
}

/// The well-formed case of [`parse_ace`]; `None` for anything malformed (without saying why).
#[inline(always)]
fn parse_ace_fast(buf: &[u8], start: usize, limit: usize) -> Option<(AceView<'_>, usize)> {
    let available = buf.get(start..limit.min(buf.len()))?;
    let &[ace_type, flags, s0, s1] = available.first_chunk::<HEADER_LEN>()?;
    let size = usize::from(u16::from_le_bytes([s0, s1]));
    let (_, body) = available.get(..size)?.split_first_chunk::<HEADER_LEN>()?;
    let ace_type = AceType::from_u8(ace_type);
    let mut view = AceView { ace_type, flags, mask: 0, object_type: None, inherited_object_type: None, sid: &[] };
    match ace_type.layout() {
        Layout::Unknown => {}
        Layout::Basic => {
            let (mask, rest) = body.split_first_chunk::<4>()?;
            view.mask = u32::from_le_bytes(*mask);
            view.sid = sid_prefix(rest)?;
        }
        Layout::Object => {
            let (mask, rest) = body.split_first_chunk::<4>()?;
            let (object_flags, mut rest) = rest.split_first_chunk::<4>()?;
            view.mask = u32::from_le_bytes(*mask);
            let object_flags = u32::from_le_bytes(*object_flags);
            if object_flags & ACE_OBJECT_TYPE_PRESENT != 0 {
                let (guid, after) = rest.split_first_chunk::<16>()?;
                view.object_type = Some(Guid(*guid));
                rest = after;
            }
            if object_flags & ACE_INHERITED_OBJECT_TYPE_PRESENT != 0 {
                let (guid, after) = rest.split_first_chunk::<16>()?;
                view.inherited_object_type = Some(Guid(*guid));
                rest = after;
            }
            view.sid = sid_prefix(rest)?;
        }
    }
    Some((view, size))
}

/// The valid SID at the start of `bytes` (as `sid_at` accepts it), `None` otherwise.
#[inline(always)]
fn sid_prefix(bytes: &[u8]) -> Option<&[u8]> {
    let &[revision, count] = bytes.first_chunk::<2>()?;
    if revision != 1 || usize::from(count) > MAX_SUB_AUTHORITIES {
        return None;
    }
    bytes.get(..8 + 4 * usize::from(count))
}

/// [`parse_ace`] field by field, each read bounded and named: the reference the fast path must agree with,
/// and the source of its errors.
pub(crate) fn parse_ace_checked(buf: &[u8], start: usize, limit: usize) -> Result<(AceView<'_>, usize), SdError> {
    let [ace_type, flags] = array_at::<2>(buf, start, limit, "ACE header")?;
    let size = usize::from(u16_at(buf, add(start, 2, "ACE header")?, limit, "ACE header")?);
    if size < HEADER_LEN {
        return Err(invalid("ACE header", start, format!("AceSize {size} is smaller than the 4-byte header")));
    }
    let end = add(start, size, "ACE")?;
    if end > limit.min(buf.len()) {
        return Err(SdError::Truncated {
            field: "ACE",
            offset: start,
            needed: size,
            available: limit.min(buf.len()).saturating_sub(start),
        });
    }
    let ace_type = AceType::from_u8(ace_type);
    let body = start + HEADER_LEN;
    let mut view = AceView { ace_type, flags, mask: 0, object_type: None, inherited_object_type: None, sid: &[] };
    match ace_type.layout() {
        Layout::Unknown => {}
        Layout::Basic => {
            view.mask = u32_at(buf, body, end, "ACE access mask")?;
            view.sid = sid_at(buf, body + 4, end, "ACE SID")?;
        }
        Layout::Object => {
            view.mask = u32_at(buf, body, end, "ACE access mask")?;
            let object_flags = u32_at(buf, body + 4, end, "object ACE flags")?;
            let mut at = body + 8;
            if object_flags & ACE_OBJECT_TYPE_PRESENT != 0 {
                view.object_type = Some(Guid(array_at::<16>(buf, at, end, "ACE ObjectType")?));
                at += 16;
            }
            if object_flags & ACE_INHERITED_OBJECT_TYPE_PRESENT != 0 {
                view.inherited_object_type = Some(Guid(array_at::<16>(buf, at, end, "ACE InheritedObjectType")?));
                at += 16;
            }
            view.sid = sid_at(buf, at, end, "ACE SID")?;
        }
    }
    Ok((view, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ad::security::guid::guids;
    use crate::ad::security::sid::well_known;

    #[test]
    fn encode_then_parse_gives_the_same_ace() {
        let sid: Sid = "S-1-5-21-1-2-3-1105".parse().unwrap();
        let aces = [
            Ace::new(AceType::AccessAllowed, 0x12, 0xF01FF, well_known::everyone()),
            Ace::new(AceType::AccessDeniedObject, 0, 0x100, sid.clone()).with_object_type(guids::RESET_PASSWORD),
            Ace::new(AceType::AccessAllowedObject, 0x0A, 0x20, sid.clone())
                .with_object_type(guids::PWD_LAST_SET)
                .with_inherited_object_type(guids::USER_CLASS),
            Ace::new(AceType::AccessAllowedObject, 2, 0x20, sid.clone()).with_inherited_object_type(guids::USER_CLASS),
            Ace::new(AceType::Other(0x02), 0xC0, 0x30, sid),
        ];
        for ace in aces {
            let mut bytes = Vec::new();
            ace.write_to(&mut bytes).unwrap();
            assert_eq!(bytes.len() % 4, 0);
            let (view, size) = parse_ace(&bytes, 0, bytes.len()).unwrap();
            assert_eq!(size, bytes.len());
            assert_eq!(view, ace.view());
            assert_eq!(view.to_owned().unwrap(), ace);
        }
    }

    #[test]
    fn malformed_aces_are_errors() {
        let mut good = Vec::new();
        Ace::new(AceType::AccessAllowedObject, 0, 0x100, well_known::everyone())
            .with_object_type(guids::RESET_PASSWORD)
            .write_to(&mut good)
            .unwrap();
        for cut in 0..good.len() {
            assert!(parse_ace(&good, 0, cut).is_err(), "limit {cut}");
            assert!(parse_ace(&good[..cut], 0, good.len()).is_err(), "buffer {cut}");
        }
        let mut small = good.clone();
        small[2] = 3;
        small[3] = 0;
        assert!(matches!(parse_ace(&small, 0, small.len()), Err(SdError::Invalid { .. })));
        // object flags claim an InheritedObjectType the size does not hold
        let mut flags = good.clone();
        flags[8] = 3;
        assert!(parse_ace(&flags, 0, flags.len()).is_err());
        // SID count larger than the ACE
        let mut count = good.clone();
        count[4 + 8 + 16 + 1] = 2;
        assert!(parse_ace(&count, 0, count.len()).is_err());
    }

    /// The straight path of `parse_ace` accepts exactly what the field-by-field reader accepts, with the same
    /// view and size, whatever is cut or changed: every limit, every single-byte change at every offset.
    #[test]
    fn fast_path_agrees_with_checked_reader() {
        let sid: Sid = "S-1-5-21-1-2-3-1105".parse().unwrap();
        let mut aces: Vec<Vec<u8>> = Vec::new();
        for ace in [
            Ace::new(AceType::AccessAllowed, 0x12, 0xF01FF, well_known::everyone()),
            Ace::new(AceType::AccessDenied, 0, 0x20, sid.clone()),
            Ace::new(AceType::AccessAllowedObject, 0, 0x100, sid.clone()),
            Ace::new(AceType::AccessDeniedObject, 0, 0x100, sid.clone()).with_object_type(guids::RESET_PASSWORD),
            Ace::new(AceType::AccessAllowedObject, 2, 0x20, sid.clone()).with_inherited_object_type(guids::USER_CLASS),
            Ace::new(AceType::AccessAllowedObject, 0x0A, 0x20, sid.clone())
                .with_object_type(guids::PWD_LAST_SET)
                .with_inherited_object_type(guids::USER_CLASS),
            Ace::new(AceType::Other(0x11), 0, 1, well_known::everyone()),
        ] {
            let mut bytes = Vec::new();
            ace.write_to(&mut bytes).unwrap();
            aces.push(bytes);
        }
        // callback ACE with application data after the SID; compound ACE (no known layout)
        aces.push(vec![0x09, 0, 24, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 5, 11, 0, 0, 0, 1, 2, 3, 4]);
        aces.push(vec![0x04, 0, 8, 0, 1, 2, 3, 4]);
        let agree = |buf: &[u8], start: usize, limit: usize| {
            let fast = parse_ace_fast(buf, start, limit);
            assert_eq!(fast, parse_ace_checked(buf, start, limit).ok(), "{buf:?} from {start} to {limit}");
            assert_eq!(parse_ace(buf, start, limit), parse_ace_checked(buf, start, limit));
        };
        for ace in &aces {
            // behind another ACE and followed by bytes of the next, as in an ACL
            let mut buf = vec![0x00, 0, 4, 0];
            buf.extend_from_slice(ace);
            buf.extend_from_slice(&[0xAA; 8]);
            for limit in 0..=buf.len() + 1 {
                agree(&buf, 4, limit);
                agree(&buf[..limit.min(buf.len())], 4, buf.len());
            }
            agree(&buf, usize::MAX, usize::MAX);
            agree(&buf, buf.len() + 1, buf.len());
            for at in 4..buf.len() {
                for value in [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x07, 0x0F, 0x10, 0x11, 0x7F, 0x80, 0xFF] {
                    let mut mutated = buf.clone();
                    mutated[at] = value;
                    agree(&mutated, 4, 4 + ace.len());
                    agree(&mutated, 4, mutated.len());
                }
            }
        }
    }

    #[test]
    fn unknown_layouts_are_views_without_body() {
        let bytes = [0x04, 0, 8, 0, 1, 2, 3, 4];
        let (view, size) = parse_ace(&bytes, 0, bytes.len()).unwrap();
        assert_eq!((view.ace_type, view.mask, view.sid, size), (AceType::Other(4), 0, &[][..], 8));
        assert_eq!(view.to_owned(), Err(SdError::UnsupportedAce { ace_type: 4 }));
        assert!(Ace::new(AceType::Other(4), 0, 0, well_known::everyone()).write_to(&mut Vec::new()).is_err());
        let basic_with_guid =
            Ace::new(AceType::AccessAllowed, 0, 0, well_known::everyone()).with_object_type(guids::USER_CLASS);
        assert!(basic_with_guid.write_to(&mut Vec::new()).is_err());
    }
}
