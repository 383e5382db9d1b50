//! The SDDL vocabulary (MS-DTYP 2.5.1.1): ACE type, flag and right codes, and SID aliases.

use super::flags::*;

/// ACE type codes. Conditional and resource types (XA, XD, ZA, XU, RA, SP...) carry a seventh field this
/// parser does not read; they are rejected by name in `sddl.rs`.
pub(crate) const ACE_TYPES: &[(&str, u8)] = &[
    ("A", 0x00),
    ("D", 0x01),
    ("AU", 0x02),
    ("AL", 0x03),
    ("OA", 0x05),
    ("OD", 0x06),
    ("OU", 0x07),
    ("OL", 0x08),
    ("ML", 0x11),
];

pub(crate) const UNSUPPORTED_ACE_TYPES: &[&str] = &["XA", "XD", "ZA", "XU", "RA", "SP", "TL", "FL"];

/// Rendering order follows the bit order; `CR`, `TP` parse too (0x20 critical, 0x40 trust-protected filter).
pub(crate) const ACE_FLAGS: &[(&str, u8)] = &[
    ("OI", OBJECT_INHERIT),
    ("CI", CONTAINER_INHERIT),
    ("NP", NO_PROPAGATE_INHERIT),
    ("IO", INHERIT_ONLY),
    ("ID", INHERITED),
    ("CR", CRITICAL),
    ("SA", SUCCESSFUL_ACCESS),
    ("FA", FAILED_ACCESS),
    ("TP", SUCCESSFUL_ACCESS),
];

/// Single-bit rights, in the order Windows renders them; a mask made only of these renders as codes.
pub(crate) const RIGHT_BITS: &[(&str, u32)] = &[
    ("GA", GENERIC_ALL),
    ("GR", GENERIC_READ),
    ("GW", GENERIC_WRITE),
    ("GX", GENERIC_EXECUTE),
    ("CC", CREATE_CHILD),
    ("DC", DELETE_CHILD),
    ("LC", LIST_CHILDREN),
    ("SW", SELF_WRITE),
    ("RP", READ_PROPERTY),
    ("WP", WRITE_PROPERTY),
    ("DT", DELETE_TREE),
    ("LO", LIST_OBJECT),
    ("CR", CONTROL_ACCESS),
    ("SD", DELETE),
    ("RC", READ_CONTROL),
    ("WD", WRITE_DAC),
    ("WO", WRITE_OWNER),
];

/// Composite codes for files, registry keys and mandatory labels: accepted, never rendered.
pub(crate) const RIGHT_COMPOSITES: &[(&str, u32)] = &[
    ("FA", 0x001F_01FF),
    ("FR", 0x0012_0089),
    ("FW", 0x0012_0116),
    ("FX", 0x0012_00A0),
    ("KA", 0x000F_003F),
    ("KR", 0x0002_0019),
    ("KW", 0x0002_0006),
    ("KX", 0x0002_0019),
    ("NR", 0x0000_0002),
    ("NW", 0x0000_0001),
    ("NX", 0x0000_0004),
];

/// What a two-letter SID alias stands for.
#[derive(Clone, Copy)]
pub(crate) enum Alias {
    Fixed(&'static str),
    /// Domain SID + RID. Root-domain groups (EA, SA, RO, EK) also use the domain SID given: exact in a
    /// single-domain forest, which is what defaultSecurityDescriptor strings are expanded against.
    Domain(u32),
}

pub(crate) const SID_ALIASES: &[(&str, Alias)] = &[
    ("WD", Alias::Fixed("S-1-1-0")),
    ("CO", Alias::Fixed("S-1-3-0")),
    ("CG", Alias::Fixed("S-1-3-1")),
    ("OW", Alias::Fixed("S-1-3-4")),
    ("NU", Alias::Fixed("S-1-5-2")),
    ("IU", Alias::Fixed("S-1-5-4")),
    ("SU", Alias::Fixed("S-1-5-6")),
    ("AN", Alias::Fixed("S-1-5-7")),
    ("ED", Alias::Fixed("S-1-5-9")),
    ("PS", Alias::Fixed("S-1-5-10")),
    ("AU", Alias::Fixed("S-1-5-11")),
    ("RC", Alias::Fixed("S-1-5-12")),
    ("SY", Alias::Fixed("S-1-5-18")),
    ("LS", Alias::Fixed("S-1-5-19")),
    ("NS", Alias::Fixed("S-1-5-20")),
    ("WR", Alias::Fixed("S-1-5-33")),
    ("BA", Alias::Fixed("S-1-5-32-544")),
    ("BU", Alias::Fixed("S-1-5-32-545")),
    ("BG", Alias::Fixed("S-1-5-32-546")),
    ("PU", Alias::Fixed("S-1-5-32-547")),
    ("AO", Alias::Fixed("S-1-5-32-548")),
    ("SO", Alias::Fixed("S-1-5-32-549")),
    ("PO", Alias::Fixed("S-1-5-32-550")),
    ("BO", Alias::Fixed("S-1-5-32-551")),
    ("RE", Alias::Fixed("S-1-5-32-552")),
    ("RU", Alias::Fixed("S-1-5-32-554")),
    ("RD", Alias::Fixed("S-1-5-32-555")),
    ("NO", Alias::Fixed("S-1-5-32-556")),
    ("MU", Alias::Fixed("S-1-5-32-558")),
    ("LU", Alias::Fixed("S-1-5-32-559")),
    ("IS", Alias::Fixed("S-1-5-32-568")),
    ("CY", Alias::Fixed("S-1-5-32-569")),
    ("ER", Alias::Fixed("S-1-5-32-573")),
    ("CD", Alias::Fixed("S-1-5-32-574")),
    ("RA", Alias::Fixed("S-1-5-32-575")),
    ("ES", Alias::Fixed("S-1-5-32-576")),
    ("MS", Alias::Fixed("S-1-5-32-577")),
    ("HA", Alias::Fixed("S-1-5-32-578")),
    ("AA", Alias::Fixed("S-1-5-32-579")),
    ("RM", Alias::Fixed("S-1-5-32-580")),
    ("UD", Alias::Fixed("S-1-5-84-0-0-0-0-0")),
    ("AC", Alias::Fixed("S-1-15-2-1")),
    ("LW", Alias::Fixed("S-1-16-4096")),
    ("ME", Alias::Fixed("S-1-16-8192")),
    ("MP", Alias::Fixed("S-1-16-8448")),
    ("HI", Alias::Fixed("S-1-16-12288")),
    ("SI", Alias::Fixed("S-1-16-16384")),
    ("AS", Alias::Fixed("S-1-18-1")),
    ("SS", Alias::Fixed("S-1-18-2")),
    ("RO", Alias::Domain(498)),
    ("LA", Alias::Domain(500)),
    ("LG", Alias::Domain(501)),
    ("DA", Alias::Domain(512)),
    ("DU", Alias::Domain(513)),
    ("DG", Alias::Domain(514)),
    ("DC", Alias::Domain(515)),
    ("DD", Alias::Domain(516)),
    ("CA", Alias::Domain(517)),
    ("SA", Alias::Domain(518)),
    ("EA", Alias::Domain(519)),
    ("PA", Alias::Domain(520)),
    ("CN", Alias::Domain(522)),
    ("AP", Alias::Domain(525)),
    ("KA", Alias::Domain(526)),
    ("EK", Alias::Domain(527)),
    ("RS", Alias::Domain(553)),
];

pub(crate) fn lookup<T: Copy>(table: &[(&str, T)], code: &str) -> Option<T> {
    table.iter().find(|(c, _)| *c == code).map(|(_, v)| *v)
}
