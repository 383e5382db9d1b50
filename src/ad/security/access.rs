//! The access check: which of the writeback rights a token holds under a DACL (MS-DTYP 2.5.3.2, MS-ADTS 5.1.3).

use std::fmt;
use std::sync::Arc;

use super::ace::{AceType, AceView};
use super::flags::{CONTROL_ACCESS, GENERIC_ALL, GENERIC_WRITE, WRITE_PROPERTY};
use super::guid::{guids, Guid};
use super::sid::{well_known, Sid};
use super::wire::SdError;

/// The SIDs a principal acts as, indexed for the one question the access check asks per ACE: is this trustee
/// in the token? A Bloom filter answers "no" for most absent SIDs with one bit test; the rest go to a small
/// hash table, whose hits are confirmed byte for byte. No allocation per ACE, and none per clone: the SIDs
/// and the table are shared, so a token can be cloned per object judged for the cost of two counter updates.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// Sorted and deduplicated.
    sids: Arc<[Sid]>,
    /// One bit per SID of `sids`, chosen by [`sid_hash`]; a clear bit proves a SID absent.
    filter: [u64; FILTER_WORDS],
    /// Open addressing, linear probing: 0 is empty, `i + 1` is `sids[i]`, placed from [`sid_hash`]. A power
    /// of two at least twice `sids.len()`, so a probe always ends at an empty slot.
    slots: Arc<[u32]>,
}

/// 256 bits: with the ~30 SIDs of a connector account, under 12% of absent SIDs get past it.
const FILTER_WORDS: usize = 4;

/// A multiplicative hash of a binary SID's last four bytes (its last sub-authority: the RID of an account or
/// group) and its length, so `S-1-5-32-544` and a domain's RID 544 fall apart. Two SIDs of different domains
/// with the same RID collide; the byte comparison after the table tells them apart.
#[inline]
fn sid_hash(sid: &[u8]) -> u64 {
    let tail = sid.last_chunk::<4>().map_or(0, |b| u32::from_le_bytes(*b));
    let len = u64::try_from(sid.len()).unwrap_or(u64::MAX);
    (u64::from(tail) | len << 32).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Filter word and bit from the top eight bits of the hash.
#[inline]
fn filter_bit(hash: u64) -> (usize, u64) {
    let bit = hash >> 56;
    (usize::try_from(bit >> 6).unwrap_or(0) % FILTER_WORDS, 1 << (bit & 63))
}

/// First table slot from the next bits of the hash (`mask` is the table length minus one).
#[inline]
fn first_slot(hash: u64, mask: usize) -> usize {
    usize::try_from(hash >> 24).unwrap_or(0) & mask
}

impl Token {
    /// The account's objectSid + its tokenGroups + the well-known SIDs every authenticated account holds
    /// (Everyone, Authenticated Users, This Organization). SELF (S-1-5-10) only via [`Token::with_self`].
    pub fn new(account: Sid, groups: impl IntoIterator<Item = Sid>) -> Token {
        let mut sids: Vec<Sid> = std::iter::once(account).chain(groups).collect();
        sids.extend([well_known::everyone(), well_known::authenticated_users(), well_known::this_organization()]);
        Token::from_sids(sids)
    }

    /// Exactly these SIDs, nothing implied (for tests, and for tokens built some other way).
    pub fn from_sids(sids: impl IntoIterator<Item = Sid>) -> Token {
        let mut sids: Vec<Sid> = sids.into_iter().collect();
        sids.sort_unstable();
        sids.dedup();
        let mut filter = [0; FILTER_WORDS];
        let mut slots = vec![0u32; (2 * sids.len()).max(8).next_power_of_two()];
        let mask = slots.len() - 1;
        for (entry, sid) in (1u32..).zip(&sids) {
            let hash = sid_hash(sid.as_bytes());
            let (word, bit) = filter_bit(hash);
            if let Some(w) = filter.get_mut(word) {
                *w |= bit;
            }
            let mut at = first_slot(hash, mask);
            // At most half full: an empty slot is always found.
            while let Some(slot) = slots.get_mut(at) {
                if *slot == 0 {
                    *slot = entry;
                    break;
                }
                at = (at + 1) & mask;
            }
        }
        Token { sids: sids.into(), filter, slots: slots.into() }
    }

    /// The same token plus SELF, for evaluating the account's own object: ACEs for PS then apply to it.
    pub fn with_self(&self) -> Token {
        Token::from_sids(self.sids.iter().cloned().chain([well_known::self_sid()]))
    }

    #[inline]
    pub fn contains(&self, sid: &[u8]) -> bool {
        let hash = sid_hash(sid);
        let (word, bit) = filter_bit(hash);
        self.filter.get(word).is_some_and(|w| w & bit != 0) && self.in_table(sid, hash)
    }

    /// The hash table lookup behind the filter.
    fn in_table(&self, sid: &[u8], hash: u64) -> bool {
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = first_slot(hash, mask);
        // Bounded by the table length, though an empty slot ends the probe long before.
        for _ in 0..self.slots.len() {
            let entry = self.slots.get(at).copied().unwrap_or(0);
            let Some(index) = entry.checked_sub(1) else { return false };
            let index = usize::try_from(index).unwrap_or(usize::MAX);
            if self.sids.get(index).is_some_and(|s| s.as_bytes() == sid) {
                return true;
            }
            at = (at + 1) & mask;
        }
        false
    }

    pub fn sids(&self) -> &[Sid] {
        &self.sids
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token").field("sids", &self.sids).finish()
    }
}

/// The rights password writeback needs (REFERENCE.md section 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Right {
    /// Extended right User-Force-Change-Password, on each user.
    ResetPassword,
    /// Extended right User-Change-Password, on each user.
    ChangePassword,
    /// Write property lockoutTime, on each user.
    WriteLockoutTime,
    /// Write property pwdLastSet (property set User-Account-Restrictions), on each user.
    WritePwdLastSet,
    /// Extended right Unexpire-Password, on the domain object.
    UnexpirePassword,
}

impl Right {
    /// What the connector needs on every user in scope.
    pub const USER_RIGHTS: [Right; 4] =
        [Right::ResetPassword, Right::ChangePassword, Right::WriteLockoutTime, Right::WritePwdLastSet];
    /// What it needs on each domain root object.
    pub const DOMAIN_RIGHTS: [Right; 1] = [Right::UnexpirePassword];

    /// Bounded metric label value.
    pub fn label(self) -> &'static str {
        match self {
            Right::ResetPassword => "reset_password",
            Right::ChangePassword => "change_password",
            Right::WriteLockoutTime => "write_lockout_time",
            Right::WritePwdLastSet => "write_pwd_last_set",
            Right::UnexpirePassword => "unexpire_password",
        }
    }

    /// The extended right or attribute GUID an object ACE names to grant exactly this.
    #[inline]
    pub fn object_type(self) -> Guid {
        match self {
            Right::ResetPassword => guids::RESET_PASSWORD,
            Right::ChangePassword => guids::CHANGE_PASSWORD,
            Right::WriteLockoutTime => guids::LOCKOUT_TIME,
            Right::WritePwdLastSet => guids::PWD_LAST_SET,
            Right::UnexpirePassword => guids::UNEXPIRE_PASSWORD,
        }
    }

    /// CR for extended rights, WP for properties.
    #[inline]
    pub const fn access_bit(self) -> u32 {
        match self {
            Right::ResetPassword | Right::ChangePassword | Right::UnexpirePassword => CONTROL_ACCESS,
            Right::WriteLockoutTime | Right::WritePwdLastSet => WRITE_PROPERTY,
        }
    }

    /// The property set holding the attribute; lockoutTime is in none.
    #[inline]
    pub fn property_set(self) -> Option<Guid> {
        match self {
            Right::WritePwdLastSet => Some(guids::USER_ACCOUNT_RESTRICTIONS),
            _ => None,
        }
    }

    /// The mask bits that make an ACE speak about this right: its own bit, GENERIC_ALL, and GENERIC_WRITE for
    /// WP. An ACE whose mask has none of them covers it whatever its objectType.
    #[inline]
    pub const fn mask_bits(self) -> u32 {
        match self.access_bit() {
            WRITE_PROPERTY => WRITE_PROPERTY | GENERIC_ALL | GENERIC_WRITE,
            bit => bit | GENERIC_ALL,
        }
    }

    /// Whether an ACE with this mask and objectType speaks about this right. The object type list of
    /// MS-ADTS 5.1.3 has the object's class at the root, then property sets / extended rights, then
    /// properties; an ACE naming any node on the path to this right (or no node: the whole object) covers it.
    #[inline]
    pub fn covered_by(self, mask: u32, object_type: Option<Guid>, object_class: Option<Guid>) -> bool {
        mask & self.mask_bits() != 0
            && match object_type {
                None => true,
                Some(g) => g == self.object_type() || Some(g) == self.property_set() || Some(g) == object_class,
            }
    }
}

/// The verdict for one right; `ace` is the index of the deciding ACE in the DACL, as iterated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Granted {
        ace: usize,
    },
    Denied {
        ace: usize,
    },
    /// No ACE decided it: access is denied by default.
    NotGranted,
    /// The object has no DACL (absent or NULL): everything is granted.
    NoDacl,
}

impl Decision {
    pub fn allowed(self) -> bool {
        matches!(self, Decision::Granted { .. } | Decision::NoDacl)
    }
}

/// MS-DTYP 2.5.3.2 over the ACEs in order, for each right: INHERIT_ONLY ACEs and ACEs whose SID is not in
/// the token are skipped; the first allow or deny ACE that covers a right still undecided decides it. Object
/// ACEs cover only what their objectType names (see [`Right::covered_by`]); CR without objectType covers every
/// extended right; GENERIC_ALL covers everything and GENERIC_WRITE covers WP. ACE types other than the four
/// access ones are skipped, as Windows skips them for directory objects.
///
/// The whole list is read even when every right is decided early, so that a malformed ACE is an error
/// whatever the rights asked. [`check_rights`] does the same without allocating.
///
/// # Errors
/// The first error the iterator yields.
pub fn check_access<'a>(
    aces: impl IntoIterator<Item = Result<AceView<'a>, SdError>>,
    token: &Token,
    rights: &[Right],
) -> Result<Vec<Decision>, SdError> {
    check_access_on(aces, token, rights, None)
}

/// As [`check_access`], knowing the object's structural class: an object ACE whose objectType is that class
/// GUID covers the whole object (it is the root of the object type list), e.g. `(OA;;CR;<user>;;X)` on a
/// user grants X every extended right on it. With `None`, such ACEs cover nothing, which can only under-report.
///
/// # Errors
/// The first error the iterator yields.
pub fn check_access_on<'a>(
    aces: impl IntoIterator<Item = Result<AceView<'a>, SdError>>,
    token: &Token,
    rights: &[Right],
    object_class: Option<Guid>,
) -> Result<Vec<Decision>, SdError> {
    let mut decisions = vec![Decision::NotGranted; rights.len()];
    decide(aces, token, rights, object_class, &mut decisions)?;
    Ok(decisions)
}

/// As [`check_access_on`] for a fixed set of rights, without allocating: `check_rights(aces, &token,
/// &Right::USER_RIGHTS, Some(class))` gives the same decisions in an array.
///
/// # Errors
/// The first error the iterator yields.
pub fn check_rights<'a, const N: usize>(
    aces: impl IntoIterator<Item = Result<AceView<'a>, SdError>>,
    token: &Token,
    rights: &[Right; N],
    object_class: Option<Guid>,
) -> Result<[Decision; N], SdError> {
    let mut decisions = [Decision::NotGranted; N];
    decide(aces, token, rights, object_class, &mut decisions)?;
    Ok(decisions)
}

/// The evaluation behind every `check_*`: decides `rights[i]` into `decisions[i]`, which start `NotGranted`.
///
/// Per ACE, cheapest question first: does its mask hold a bit that some undecided right needs (`pending`, the
/// union of their [`Right::mask_bits`])? Most ACEs of a user's DACL only grant reads and stop there, whatever
/// their type, object type or trustee. Then INHERIT_ONLY and the type, then coverage per right, and the token
/// lookup only for an ACE that covers an undecided right, at most once per ACE. Once every right is decided
/// `pending` is 0 and the rest of the list is only read for errors.
#[inline]
fn decide<'a>(
    aces: impl IntoIterator<Item = Result<AceView<'a>, SdError>>,
    token: &Token,
    rights: &[Right],
    object_class: Option<Guid>,
    decisions: &mut [Decision],
) -> Result<(), SdError> {
    let mut pending = pending_bits(rights, decisions);
    for (index, ace) in aces.into_iter().enumerate() {
        let ace = ace?;
        if ace.mask & pending == 0 || ace.is_inherit_only() {
            continue;
        }
        let deny = match ace.ace_type {
            AceType::AccessAllowed | AceType::AccessAllowedObject => false,
            AceType::AccessDenied | AceType::AccessDeniedObject => true,
            AceType::Other(_) => continue,
        };
        let mut member = None;
        let mut decided = false;
        for (right, decision) in rights.iter().zip(decisions.iter_mut()) {
            if *decision != Decision::NotGranted || !right.covered_by(ace.mask, ace.object_type, object_class) {
                continue;
            }
            if !*member.get_or_insert_with(|| token.contains(ace.sid)) {
                break;
            }
            *decision = if deny { Decision::Denied { ace: index } } else { Decision::Granted { ace: index } };
            decided = true;
        }
        if decided {
            pending = pending_bits(rights, decisions);
        }
    }
    Ok(())
}

/// The mask bits any still undecided right needs; 0 when all are decided.
#[inline]
fn pending_bits(rights: &[Right], decisions: &[Decision]) -> u32 {
    rights
        .iter()
        .zip(decisions)
        .filter(|(_, decision)| **decision == Decision::NotGranted)
        .fold(0, |bits, (right, _)| bits | right.mask_bits())
}
