//! The access check: which of the writeback rights a token holds under a DACL (MS-DTYP 2.5.3.2, MS-ADTS 5.1.3).

use super::ace::{AceType, AceView};
use super::flags::{CONTROL_ACCESS, GENERIC_ALL, GENERIC_WRITE, WRITE_PROPERTY};
use super::guid::{guids, Guid};
use super::sid::{well_known, Sid};
use super::wire::SdError;

/// The SIDs a principal acts as. Membership is a binary search over sorted bytes: no allocation per ACE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// Sorted and deduplicated.
    sids: Vec<Sid>,
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
        Token { sids }
    }

    /// The same token plus SELF, for evaluating the account's own object: ACEs for PS then apply to it.
    pub fn with_self(&self) -> Token {
        Token::from_sids(self.sids.iter().cloned().chain([well_known::self_sid()]))
    }

    pub fn contains(&self, sid: &[u8]) -> bool {
        self.sids.binary_search_by(|s| s.as_bytes().cmp(sid)).is_ok()
    }

    pub fn sids(&self) -> &[Sid] {
        &self.sids
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
    pub fn access_bit(self) -> u32 {
        match self {
            Right::ResetPassword | Right::ChangePassword | Right::UnexpirePassword => CONTROL_ACCESS,
            Right::WriteLockoutTime | Right::WritePwdLastSet => WRITE_PROPERTY,
        }
    }

    /// The property set holding the attribute; lockoutTime is in none.
    pub fn property_set(self) -> Option<Guid> {
        match self {
            Right::WritePwdLastSet => Some(guids::USER_ACCOUNT_RESTRICTIONS),
            _ => None,
        }
    }

    /// Whether an ACE with this mask and objectType speaks about this right. The object type list of
    /// MS-ADTS 5.1.3 has the object's class at the root, then property sets / extended rights, then
    /// properties; an ACE naming any node on the path to this right (or no node: the whole object) covers it.
    pub fn covered_by(self, mask: u32, object_type: Option<Guid>, object_class: Option<Guid>) -> bool {
        let bit = self.access_bit();
        let has_bit = mask & (bit | GENERIC_ALL) != 0 || (bit == WRITE_PROPERTY && mask & GENERIC_WRITE != 0);
        has_bit
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
/// whatever the rights asked.
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
    let mut undecided = rights.len();
    for (index, ace) in aces.into_iter().enumerate() {
        let ace = ace?;
        if undecided == 0 || ace.is_inherit_only() {
            continue;
        }
        let deny = match ace.ace_type {
            AceType::AccessAllowed | AceType::AccessAllowedObject => false,
            AceType::AccessDenied | AceType::AccessDeniedObject => true,
            AceType::Other(_) => continue,
        };
        // Coverage is a few compares; membership is a search: ask it only when the ACE matters.
        let mut member = None;
        for (right, decision) in rights.iter().zip(decisions.iter_mut()) {
            if *decision != Decision::NotGranted || !right.covered_by(ace.mask, ace.object_type, object_class) {
                continue;
            }
            if !*member.get_or_insert_with(|| token.contains(ace.sid)) {
                break;
            }
            *decision = if deny { Decision::Denied { ace: index } } else { Decision::Granted { ace: index } };
            undecided -= 1;
        }
    }
    Ok(decisions)
}
