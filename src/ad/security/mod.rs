//! Security descriptors and the access check: pure, bytes and SDDL in, decisions out.
//!
//! The LDAP probes hand this module nTSecurityDescriptor bytes, tokenGroups SIDs and schema SDDL strings;
//! it answers which writeback rights the connector account holds, and which ACE decided each one. Nothing
//! here does I/O, and no input can make it panic or read out of bounds, so it is fuzzed and benchmarked alone.
//!
//! - [`sid`], [`guid`]: identifiers in their wire and text forms; [`guids`] and [`well_known`] name the ones
//!   writeback needs.
//! - [`descriptor`], [`ace`]: self-relative SD parsing (zero-copy ACE views) and serialising.
//! - [`access`]: the token and the ordered allow/deny evaluation (MS-DTYP 2.5.3.2, MS-ADTS 5.1.3).
//! - [`inherit`]: the DACL a new object gets from its class default SD and its parent.
//! - [`sddl`]: SDDL parsing and rendering.

pub mod access;
pub mod ace;
pub mod descriptor;
pub mod flags;
pub mod guid;
pub mod inherit;
pub mod sddl;
mod sddl_names;
pub mod sid;
mod wire;

#[cfg(test)]
mod robustness_tests;
#[cfg(test)]
mod tests;

pub use access::{check_access, check_access_on, check_rights, Decision, Right, Token};
pub use ace::{Ace, AceType, AceView};
pub use descriptor::{acl_to_bytes, sd_to_bytes, AceIter, SdError, SecurityDescriptor};
pub use guid::{guids, Guid};
pub use inherit::new_object_aces;
pub use sddl::{parse_sddl, Sddl, SddlError};
pub use sid::{well_known, Sid};

/// Views over owned ACEs, in the shape `check_access` and `new_object_aces` take.
pub fn views(aces: &[Ace]) -> impl Iterator<Item = Result<AceView<'_>, SdError>> + '_ {
    aces.iter().map(|ace| Ok(ace.view()))
}
