//! Entries as `read.rs` gets them, into the state: GUIDs, descriptors checked once, users and containers; and the
//! filters and names that find objects by GUID.

use ldap3::controls::RawControl;

use super::state::{Guid, ScopeState};
use crate::ad::dn;
use crate::ad::security::SecurityDescriptor;
use crate::ad::Entry;

/// LDAP_SERVER_SHOW_DELETED_OID: tombstones are returned too.
const SHOW_DELETED: &str = "1.2.840.113556.1.4.417";

/// The extended DN `<GUID=…>` that names an object wherever it is.
pub fn guid_dn(g: &Guid) -> String {
    let hex: String = g.iter().map(|b| format!("{b:02x}")).collect();
    format!("<GUID={hex}>")
}

/// `(|(objectGUID=\xx..)...)`: an index lookup per GUID.
pub fn guid_filter(guids: &[Guid]) -> String {
    let mut f = String::with_capacity(16 + guids.len() * 62);
    f.push_str("(|");
    for g in guids {
        f.push_str("(objectGUID=");
        for b in g {
            f.push_str(&format!("\\{b:02x}"));
        }
        f.push(')');
    }
    f.push(')');
    f
}

/// Not critical: a DC that does not know it (none that is AD) returns the live objects alone, and deletions wait for
/// the next full scan.
pub fn show_deleted() -> RawControl {
    RawControl { ctype: SHOW_DELETED.to_string(), crit: false, val: None }
}

pub fn guid(entry: &Entry) -> Option<Guid> {
    entry.raw("objectGUID").first().and_then(|g| Guid::try_from(g.as_slice()).ok())
}

pub fn usn_changed(entry: &Entry) -> u64 {
    entry.int("uSNChanged").ok().flatten().and_then(|u| u64::try_from(u).ok()).unwrap_or(u64::MAX)
}

/// The descriptor bytes when they parse and every ACE reads; `None` (with a warning naming the object) otherwise.
/// A descriptor already in the state was checked when it first came.
fn usable_descriptor<'e>(state: &ScopeState, entry: &'e Entry) -> Option<&'e [u8]> {
    let Some(bytes) = entry.raw("nTSecurityDescriptor").first() else {
        tracing::warn!(dn = %entry.dn, "security descriptor not returned; not judged");
        return None;
    };
    if state.sds.contains(bytes) {
        return Some(bytes);
    }
    let checked = SecurityDescriptor::parse(bytes).and_then(|sd| match sd.dacl_aces() {
        None => Ok(()),
        Some(mut aces) => aces.try_for_each(|a| a.map(drop)),
    });
    match checked {
        Ok(()) => Some(bytes),
        Err(e) => {
            tracing::warn!(dn = %entry.dn, error = %e, "malformed security descriptor; not judged");
            None
        }
    }
}

pub fn put_user(state: &mut ScopeState, entry: &Entry) -> Result<(), String> {
    let Some(g) = guid(entry) else { return Err(format!("user {} returned without its objectGUID", entry.dn)) };
    let sd = usable_descriptor(state, entry);
    let inet_org_person = entry.values("objectClass").any(|c| c.eq_ignore_ascii_case("inetOrgPerson"));
    let admin_count = entry.int("adminCount").ok().flatten() == Some(1);
    state.put_user(g, &entry.dn, sd, inet_org_person, admin_count);
    if entry.raw("uSNChanged").is_empty() {
        state.untracked.insert(g);
    } else {
        state.untracked.remove(&g);
    }
    Ok(())
}

pub fn put_container(state: &mut ScopeState, entry: &Entry, ancestor: bool) {
    let Some(g) = guid(entry) else { return };
    let sd = usable_descriptor(state, entry);
    state.put_container(g, &entry.dn, sd, ancestor);
}

/// The DNs none of which lies below another (re-reading a subtree covers its sub-subtrees).
pub fn outermost(mut dns: Vec<String>) -> Vec<String> {
    dns.sort_by_key(String::len);
    let mut kept: Vec<(String, String)> = Vec::new();
    for d in dns {
        let n = dn::normalize(&d);
        if !kept.iter().any(|(_, k)| dn::is_at_or_below(&n, k)) {
            kept.push((d, n));
        }
    }
    kept.into_iter().map(|(d, _)| d).collect()
}

#[cfg(test)]
mod tests {
    use super::outermost;

    #[test]
    fn nested_subtrees_are_read_once() {
        let dns = ["OU=B,OU=A,DC=x", "OU=A,DC=x", "OU=C,DC=x", "ou=a,dc=x"].map(String::from).to_vec();
        assert_eq!(outermost(dns), ["OU=A,DC=x", "OU=C,DC=x"]);
    }
}
