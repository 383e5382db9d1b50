//! Bit values of ACE flags, access masks, object-ACE flags and SD control (MS-DTYP 2.4, MS-ADTS 5.1.3).

// ACE header flags (MS-DTYP 2.4.4.1).
pub const OBJECT_INHERIT: u8 = 0x01;
pub const CONTAINER_INHERIT: u8 = 0x02;
pub const NO_PROPAGATE_INHERIT: u8 = 0x04;
pub const INHERIT_ONLY: u8 = 0x08;
pub const INHERITED: u8 = 0x10;
pub const CRITICAL: u8 = 0x20;
pub const SUCCESSFUL_ACCESS: u8 = 0x40;
pub const FAILED_ACCESS: u8 = 0x80;

// Object ACE body flags.
pub const ACE_OBJECT_TYPE_PRESENT: u32 = 0x1;
pub const ACE_INHERITED_OBJECT_TYPE_PRESENT: u32 = 0x2;

// Directory-service access rights (MS-ADTS 5.1.3).
pub const CREATE_CHILD: u32 = 0x0000_0001;
pub const DELETE_CHILD: u32 = 0x0000_0002;
pub const LIST_CHILDREN: u32 = 0x0000_0004;
pub const SELF_WRITE: u32 = 0x0000_0008;
pub const READ_PROPERTY: u32 = 0x0000_0010;
pub const WRITE_PROPERTY: u32 = 0x0000_0020;
pub const DELETE_TREE: u32 = 0x0000_0040;
pub const LIST_OBJECT: u32 = 0x0000_0080;
pub const CONTROL_ACCESS: u32 = 0x0000_0100;
// Standard rights.
pub const DELETE: u32 = 0x0001_0000;
pub const READ_CONTROL: u32 = 0x0002_0000;
pub const WRITE_DAC: u32 = 0x0004_0000;
pub const WRITE_OWNER: u32 = 0x0008_0000;
pub const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
pub const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
// Generic rights.
pub const GENERIC_ALL: u32 = 0x1000_0000;
pub const GENERIC_EXECUTE: u32 = 0x2000_0000;
pub const GENERIC_WRITE: u32 = 0x4000_0000;
pub const GENERIC_READ: u32 = 0x8000_0000;
/// "Full control" as AD stores it once GENERIC_ALL is mapped.
pub const FULL_CONTROL: u32 = 0x000F_01FF;
// What the generic rights map to for directory objects, as AD and Samba store them.
pub const DS_GENERIC_READ: u32 = READ_CONTROL | LIST_CHILDREN | READ_PROPERTY | LIST_OBJECT;
pub const DS_GENERIC_WRITE: u32 = READ_CONTROL | SELF_WRITE | WRITE_PROPERTY;
pub const DS_GENERIC_EXECUTE: u32 = READ_CONTROL | LIST_CHILDREN;
pub const DS_GENERIC_ALL: u32 = FULL_CONTROL;

// Security descriptor control (MS-DTYP 2.4.6).
pub const SE_OWNER_DEFAULTED: u16 = 0x0001;
pub const SE_GROUP_DEFAULTED: u16 = 0x0002;
pub const SE_DACL_PRESENT: u16 = 0x0004;
pub const SE_DACL_DEFAULTED: u16 = 0x0008;
pub const SE_SACL_PRESENT: u16 = 0x0010;
pub const SE_SACL_DEFAULTED: u16 = 0x0020;
pub const SE_DACL_AUTO_INHERIT_REQ: u16 = 0x0100;
pub const SE_SACL_AUTO_INHERIT_REQ: u16 = 0x0200;
pub const SE_DACL_AUTO_INHERITED: u16 = 0x0400;
pub const SE_SACL_AUTO_INHERITED: u16 = 0x0800;
pub const SE_DACL_PROTECTED: u16 = 0x1000;
pub const SE_SACL_PROTECTED: u16 = 0x2000;
pub const SE_SELF_RELATIVE: u16 = 0x8000;

/// Replaces generic bits by the directory rights they stand for, as AD does when it stores an ACE.
pub const fn map_generic_ds(mask: u32) -> u32 {
    let mut out = mask & !(GENERIC_ALL | GENERIC_EXECUTE | GENERIC_WRITE | GENERIC_READ);
    if mask & GENERIC_ALL != 0 {
        out |= DS_GENERIC_ALL;
    }
    if mask & GENERIC_EXECUTE != 0 {
        out |= DS_GENERIC_EXECUTE;
    }
    if mask & GENERIC_WRITE != 0 {
        out |= DS_GENERIC_WRITE;
    }
    if mask & GENERIC_READ != 0 {
        out |= DS_GENERIC_READ;
    }
    out
}

/// Whether any generic bit is set (those ACEs are stored twice on inheritance: mapped and as inherit-only).
pub const fn has_generic(mask: u32) -> bool {
    mask & (GENERIC_ALL | GENERIC_EXECUTE | GENERIC_WRITE | GENERIC_READ) != 0
}
