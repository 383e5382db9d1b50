//! The DACL a new object gets: its class's default SD, then what it inherits from its parent container.
//!
//! This follows MS-DTYP 2.5.3.4 (CreateSecurityDescriptor / ComputeInheritedACLfromParent) the way AD applies
//! it, checked against Samba's implementation (our test DC): every directory object counts as a container,
//! and the object type list for inheritance is the new object's structural class alone, so an ACE scoped to
//! `user` reaches an `inetOrgPerson` (a subclass) only as inherit-only. REFERENCE.md section 1 records that
//! verified on Samba.
//!
//! Not modelled: CREATOR OWNER / CREATOR GROUP substitution (the creator is not known here; such ACEs are
//! carried with their CO/CG SID, which is in no token), and a protected default SD (`D:P...`): pass an
//! empty parent list then, since nothing is inherited.

use super::ace::{Ace, AceType, AceView};
use super::flags::{
    has_generic, map_generic_ds, CONTAINER_INHERIT, INHERITED, INHERIT_ONLY, NO_PROPAGATE_INHERIT, OBJECT_INHERIT,
};
use super::guid::Guid;
use super::wire::SdError;

const INHERIT_FLAGS: u8 = OBJECT_INHERIT | CONTAINER_INHERIT | NO_PROPAGATE_INHERIT;

/// The DACL a new object of class `child_class`, created directly under a container whose DACL is
/// `parent_aces`, receives: `default_sd` (the class's defaultSecurityDescriptor DACL) first, as explicit
/// ACEs, then the parent's inheritable ACEs, flagged INHERITED. Parent ACEs:
/// - CONTAINER_INHERIT, inheritedObjectType absent or `child_class`: effective on the child. They stay
///   inheritable (CI kept) unless NO_PROPAGATE_INHERIT, which makes them effective on the child only.
/// - CONTAINER_INHERIT for another class, or OBJECT_INHERIT only: kept INHERIT_ONLY, not effective, to be
///   passed further down (dropped instead when NO_PROPAGATE_INHERIT: they could never apply).
/// - no inherit flag: not inherited.
///
/// An effective ACE with generic rights is stored twice, as AD does: once mapped to directory rights and no
/// longer inheritable, and once unmapped as INHERIT_ONLY.
/// If the parent has no DACL, pass an empty iterator: nothing is inherited.
///
/// # Errors
/// The first error from `parent_aces`, or a parent ACE of unknown layout that would be inherited.
pub fn new_object_aces<'a>(
    default_sd: &[Ace],
    parent_aces: impl IntoIterator<Item = Result<AceView<'a>, SdError>>,
    child_class: Guid,
) -> Result<Vec<Ace>, SdError> {
    let mut out = Vec::with_capacity(default_sd.len() + 16);
    for ace in default_sd {
        explicit_from_default(ace, &mut out);
    }
    for view in parent_aces {
        inherit_from_parent(&view?, child_class, &mut out)?;
    }
    Ok(out)
}

/// A default SD ACE as it lands on the object: inherited ones never came from this SD, inherit-only ones
/// that cannot be inherited are meaningless, and generic rights are mapped.
fn explicit_from_default(ace: &Ace, out: &mut Vec<Ace>) {
    let inheritable = ace.flags & (CONTAINER_INHERIT | OBJECT_INHERIT) != 0;
    if ace.flags & INHERITED != 0 || (ace.flags & INHERIT_ONLY != 0 && !inheritable) {
        return;
    }
    if ace.flags & INHERIT_ONLY != 0 || !has_generic(ace.mask) {
        out.push(ace.clone());
    } else if ace.flags & CONTAINER_INHERIT == 0 {
        out.push(expanded(ace));
    } else {
        let mut original = ace.clone();
        original.flags |= INHERIT_ONLY;
        out.push(original);
        out.push(expanded(ace));
    }
}

fn inherit_from_parent(view: &AceView<'_>, child_class: Guid, out: &mut Vec<Ace>) -> Result<(), SdError> {
    let mut applies = view.flags & CONTAINER_INHERIT != 0;
    if !applies && view.flags & OBJECT_INHERIT == 0 {
        return Ok(());
    }
    if view.inherited_object_type.is_some_and(|class| class != child_class) {
        applies = false;
    }
    let no_propagate = view.flags & NO_PROPAGATE_INHERIT != 0;
    if no_propagate && !applies {
        return Ok(());
    }
    let ace = view.to_owned()?;
    if no_propagate {
        let mut only_here = expanded(&ace);
        only_here.flags = INHERITED;
        out.push(only_here);
        return Ok(());
    }
    let inherit_only = !applies || has_generic(ace.mask);
    if applies && has_generic(ace.mask) {
        let mut only_here = expanded(&ace);
        only_here.flags = INHERITED;
        out.push(only_here);
    }
    let mut copy = ace;
    copy.flags |= INHERITED;
    if inherit_only {
        copy.flags |= INHERIT_ONLY;
    } else {
        copy.flags &= !INHERIT_ONLY;
    }
    out.push(copy);
    Ok(())
}

/// The effective-only copy: generic rights mapped, no inheritance left. An object ACE that no longer names
/// an objectType becomes the plain type, as Samba stores it (the two evaluate alike).
fn expanded(ace: &Ace) -> Ace {
    let mut e = ace.clone();
    e.mask = map_generic_ds(e.mask);
    e.flags &= !(INHERIT_FLAGS | INHERIT_ONLY);
    e.inherited_object_type = None;
    if e.object_type.is_none() {
        e.ace_type = match e.ace_type {
            AceType::AccessAllowedObject => AceType::AccessAllowed,
            AceType::AccessDeniedObject => AceType::AccessDenied,
            AceType::Other(0x07) => AceType::Other(0x02),
            AceType::Other(0x08) => AceType::Other(0x03),
            AceType::Other(0x0B) => AceType::Other(0x09),
            AceType::Other(0x0C) => AceType::Other(0x0A),
            AceType::Other(0x0F) => AceType::Other(0x0D),
            other => other,
        };
    }
    e
}
