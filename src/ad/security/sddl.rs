//! SDDL (MS-DTYP 2.5.1): parsing defaultSecurityDescriptor and policy strings, and rendering ACEs as text.

use std::fmt::{self, Write as _};

use super::ace::{Ace, AceType, AceView, Layout};
use super::descriptor::sd_to_bytes;
use super::flags::{SE_DACL_AUTO_INHERITED, SE_DACL_AUTO_INHERIT_REQ, SE_DACL_PROTECTED};
use super::guid::Guid;
use super::sddl_names::{
    lookup, Alias, ACE_FLAGS, ACE_TYPES, RIGHT_BITS, RIGHT_COMPOSITES, SID_ALIASES, UNSUPPORTED_ACE_TYPES,
};
use super::sid::{Sid, SidText};
use super::wire::{clip, SdError};

/// A parsed SDDL string. The SACL part (`S:`) is checked and dropped: nothing here evaluates audit ACEs.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Sddl {
    pub owner: Option<Sid>,
    pub group: Option<Sid>,
    /// `D:P...`: the DACL does not inherit.
    pub dacl_protected: bool,
    /// `None` when there is no `D:` part, or it is `D:NO_ACCESS_CONTROL` (a NULL DACL): both grant everything.
    pub dacl: Option<Vec<Ace>>,
}

impl Sddl {
    /// The self-relative binary SD (what nTSecurityDescriptor holds), without SACL.
    ///
    /// # Errors
    /// An ACL over 65535 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SdError> {
        let control = if self.dacl_protected { SE_DACL_PROTECTED } else { 0 };
        sd_to_bytes(control, self.owner.as_ref(), self.group.as_ref(), self.dacl.as_deref())
    }
}

impl fmt::Display for Sddl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(owner) = &self.owner {
            write!(f, "O:{}", render_sid(owner.as_bytes()))?;
        }
        if let Some(group) = &self.group {
            write!(f, "G:{}", render_sid(group.as_bytes()))?;
        }
        if let Some(aces) = &self.dacl {
            f.write_str(if self.dacl_protected { "D:P" } else { "D:" })?;
            for ace in aces {
                f.write_str(&ace.to_sddl())?;
            }
        }
        Ok(())
    }
}

/// Where SDDL text went wrong: byte position, the offending token (clipped) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SDDL at byte {position}, {token:?}: {problem}")]
pub struct SddlError {
    pub position: usize,
    pub token: String,
    pub problem: String,
}

/// Parses `O:..G:..D:<flags>(ace)(ace)...S:<flags>(ace)...`, parts in any order, each at most once.
/// `domain_sid` resolves domain-relative aliases (DA, DU, ...; also the root-domain ones EA, SA, RO, EK,
/// exact for a single-domain forest); an alias that needs it without one given is an error.
///
/// # Errors
/// Unknown parts, codes, aliases or GUIDs, malformed ACEs, conditional/resource ACEs, repeated parts.
pub fn parse_sddl(text: &str, domain_sid: Option<&Sid>) -> Result<Sddl, SddlError> {
    let mut p = Parser { text, pos: 0, domain: domain_sid };
    let mut sddl = Sddl::default();
    let (mut seen_o, mut seen_g, mut seen_d, mut seen_s) = (false, false, false, false);
    loop {
        p.skip_ws();
        let Some(part) = p.rest().get(..2) else {
            if p.rest().is_empty() {
                return Ok(sddl);
            }
            return Err(p.error(p.pos, p.rest(), "expected O:, G:, D: or S:"));
        };
        let at = p.pos;
        let seen = match part {
            "O:" => &mut seen_o,
            "G:" => &mut seen_g,
            "D:" => &mut seen_d,
            "S:" => &mut seen_s,
            _ => return Err(p.error(at, p.rest(), "expected O:, G:, D: or S:")),
        };
        if std::mem::replace(seen, true) {
            return Err(p.error(at, part, "part given twice"));
        }
        p.pos += 2;
        match part {
            "O:" => sddl.owner = Some(p.owner_or_group()?),
            "G:" => sddl.group = Some(p.owner_or_group()?),
            "D:" => (sddl.dacl_protected, sddl.dacl) = p.acl()?,
            _ => {
                p.acl()?;
            }
        }
    }
}

struct Parser<'t> {
    text: &'t str,
    /// Always on a char boundary: it only moves past ASCII bytes or to positions `find` returned.
    pos: usize,
    domain: Option<&'t Sid>,
}

impl<'t> Parser<'t> {
    fn rest(&self) -> &'t str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn error(&self, position: usize, token: &str, problem: impl Into<String>) -> SddlError {
        SddlError { position, token: clip(token), problem: problem.into() }
    }

    /// A SID right after `O:` or `G:`: it ends where the next part starts, so its length comes from its
    /// syntax. A numeric SID may end in a hex-looking `D` that is really the `D:` after it.
    fn owner_or_group(&mut self) -> Result<Sid, SddlError> {
        let rest = self.rest();
        let len = if rest.starts_with("S-") || rest.starts_with("s-") {
            let body = rest.get(2..).unwrap_or_default();
            let n = 2 + body.bytes().take_while(|b| b.is_ascii_hexdigit() || matches!(b, b'-' | b'x' | b'X')).count();
            let before_d = rest.get(n - 1..n + 1) == Some("D:");
            if before_d {
                n - 1
            } else {
                n
            }
        } else {
            2
        };
        let token = rest.get(..len).ok_or_else(|| self.error(self.pos, rest, "expected a SID or two-letter alias"))?;
        let sid = self.sid(token, self.pos)?;
        self.pos += len;
        Ok(sid)
    }

    fn sid(&self, token: &str, at: usize) -> Result<Sid, SddlError> {
        if token.starts_with("S-") || token.starts_with("s-") {
            return token.parse().map_err(|e: SdError| self.error(at, token, e.to_string()));
        }
        match lookup(SID_ALIASES, token) {
            Some(Alias::Fixed(text)) => text.parse().map_err(|e: SdError| self.error(at, token, e.to_string())),
            Some(Alias::Domain(rid)) => match self.domain {
                None => Err(self.error(at, token, "this alias needs the domain SID, and none was given")),
                Some(domain) => {
                    domain.try_with_rid(rid).ok_or_else(|| self.error(at, token, "domain SID has no room for a RID"))
                }
            },
            None => Err(self.error(at, token, "unknown SID alias")),
        }
    }

    /// ACL flags then ACEs. Returns (protected, ACEs), ACEs `None` for `NO_ACCESS_CONTROL`.
    fn acl(&mut self) -> Result<(bool, Option<Vec<Ace>>), SddlError> {
        let mut protected = false;
        let mut null = false;
        loop {
            let rest = self.rest();
            let (len, is_null) = if rest.starts_with("NO_ACCESS_CONTROL") {
                (17, true)
            } else if rest.starts_with("AI") || rest.starts_with("AR") {
                (2, false)
            } else if rest.starts_with('P') {
                protected = true;
                (1, false)
            } else {
                break;
            };
            null |= is_null;
            self.pos += len;
        }
        let mut aces = Vec::new();
        loop {
            self.skip_ws();
            if !self.rest().starts_with('(') {
                break;
            }
            aces.push(self.ace()?);
        }
        if null && !aces.is_empty() {
            return Err(self.error(self.pos, "NO_ACCESS_CONTROL", "a NULL DACL cannot have ACEs"));
        }
        Ok((protected, if null { None } else { Some(aces) }))
    }

    /// `(type;flags;rights;object_guid;inherit_object_guid;sid)`, `pos` on the `(`.
    fn ace(&mut self) -> Result<Ace, SddlError> {
        let start = self.pos;
        let rest = self.rest();
        let close = rest.find(')').ok_or_else(|| self.error(start, rest, "ACE has no closing ')'"))?;
        let inner = rest.get(1..close).unwrap_or_default();
        self.pos += close + 1;
        let mut fields = Vec::with_capacity(6);
        let mut at = start + 1;
        for field in inner.split(';') {
            fields.push((at, field.trim(), field));
            at += field.len() + 1;
        }
        // The type first: a conditional ACE's seventh field is better reported by its type.
        let (ty_at, ty, ty_raw) = fields.first().copied().unwrap_or((start + 1, "", ""));
        let ace_type = match lookup(ACE_TYPES, ty) {
            Some(t) => AceType::from_u8(t),
            None if UNSUPPORTED_ACE_TYPES.contains(&ty) => {
                return Err(self.error(ty_at, ty_raw, "conditional and resource ACEs are not supported"))
            }
            None => return Err(self.error(ty_at, ty_raw, "unknown ACE type")),
        };
        let [_, flags, rights, object, inherited, sid] = fields[..] else {
            return Err(self.error(start, inner, format!("ACE has {} fields, expected 6", fields.len())));
        };
        let flags_value =
            codes(flags.1, |c| lookup(ACE_FLAGS, c)).ok_or_else(|| self.error(flags.0, flags.2, "unknown ACE flag"))?;
        let mask =
            parse_rights(rights.1).ok_or_else(|| self.error(rights.0, rights.2, "unknown right or bad number"))?;
        let object_type = self.guid(object)?;
        let inherited_object_type = self.guid(inherited)?;
        if ace_type.layout() != Layout::Object && (object_type.is_some() || inherited_object_type.is_some()) {
            return Err(self.error(object.0, inner, "object GUIDs need an object ACE type (OA, OD, OU, OL)"));
        }
        let sid = self.sid(sid.1, sid.0)?;
        Ok(Ace { ace_type, flags: flags_value, mask, object_type, inherited_object_type, sid })
    }

    fn guid(&self, (at, text, raw): (usize, &str, &str)) -> Result<Option<Guid>, SddlError> {
        if text.is_empty() {
            return Ok(None);
        }
        if text.starts_with('{') {
            return Err(self.error(at, raw, "SDDL GUIDs are written without braces"));
        }
        text.parse().map(Some).map_err(|e: SdError| self.error(at, raw, e.to_string()))
    }
}

/// Concatenated two-letter codes (spaces allowed between them), OR-ed together.
fn codes<T: std::ops::BitOr<Output = T> + Default>(text: &str, value: impl Fn(&str) -> Option<T>) -> Option<T> {
    let mut out = T::default();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(' ');
        if rest.is_empty() {
            return Some(out);
        }
        let code = rest.get(..2)?;
        out = out | value(code)?;
        rest = rest.get(2..)?;
    }
}

/// Codes, or a number: `0x` hex, leading `0` octal, else decimal (MS-DTYP 2.5.1.1); it must fit in 32 bits.
fn parse_rights(text: &str) -> Option<u32> {
    if !text.starts_with(|c: char| c.is_ascii_digit()) {
        return codes(text, |c| lookup(RIGHT_BITS, c).or_else(|| lookup(RIGHT_COMPOSITES, c)));
    }
    let (digits, radix) = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        (hex, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        (text.get(1..)?, 8)
    } else {
        (text, 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    u32::from_str_radix(digits, radix).ok()
}

/// An alias for SIDs that need no domain, the numeric form otherwise (so the text parses back without one).
pub(crate) fn render_sid(sid: &[u8]) -> String {
    let text = SidText(sid).to_string();
    let alias = SID_ALIASES.iter().find(|(_, alias)| matches!(alias, Alias::Fixed(t) if *t == text));
    alias.map_or(text, |(code, _)| (*code).to_string())
}

pub(crate) fn render_mask(mask: u32) -> String {
    let named: u32 = RIGHT_BITS.iter().fold(0, |acc, (_, bit)| acc | bit);
    if mask == 0 || mask & !named != 0 {
        return format!("0x{mask:x}");
    }
    RIGHT_BITS.iter().filter(|(_, bit)| mask & bit != 0).map(|(code, _)| *code).collect()
}

/// `P`, `AR`, `AI` from the DACL control bits.
pub(crate) fn render_acl_flags(control: u16) -> String {
    let mut out = String::new();
    for (bit, code) in [(SE_DACL_PROTECTED, "P"), (SE_DACL_AUTO_INHERIT_REQ, "AR"), (SE_DACL_AUTO_INHERITED, "AI")] {
        if control & bit != 0 {
            out.push_str(code);
        }
    }
    out
}

pub(crate) fn render_ace(ace: &AceView<'_>) -> String {
    let type_byte = ace.ace_type.as_u8();
    let mut out = String::from("(");
    match ACE_TYPES.iter().find(|(_, t)| *t == type_byte) {
        Some((code, _)) => out.push_str(code),
        // not valid SDDL, but says what the ACE was
        None => {
            let _ = write!(out, "0x{type_byte:02x}");
        }
    }
    out.push(';');
    // TP shares SA's bit: render SA
    for (code, bit) in ACE_FLAGS.iter().filter(|(code, _)| *code != "TP") {
        if ace.flags & bit != 0 {
            out.push_str(code);
        }
    }
    let _ = write!(out, ";{};", render_mask(ace.mask));
    if let Some(g) = ace.object_type {
        let _ = write!(out, "{g}");
    }
    out.push(';');
    if let Some(g) = ace.inherited_object_type {
        let _ = write!(out, "{g}");
    }
    out.push(';');
    out.push_str(&render_sid(ace.sid));
    out.push(')');
    out
}
