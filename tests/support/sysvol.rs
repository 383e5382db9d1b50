//! Group Policy security templates (`GptTmpl.inf`) written into a rig DC's SYSVOL, as Windows writes them.

use std::path::PathBuf;

use super::samba::SambaDc;

/// The Default Domain Policy, linked at the domain root by provisioning.
pub const DEFAULT_DOMAIN_POLICY: &str = "{31B2F340-016D-11D2-945F-00C04FB984F9}";
/// The Default Domain Controllers Policy, linked at `OU=Domain Controllers`.
pub const DEFAULT_DC_POLICY: &str = "{6AC1786C-016F-11D2-945F-00C04FB984F9}";
/// The registry value of "Network access: Restrict clients allowed to make remote calls to SAM".
pub const RESTRICT_REMOTE_SAM: &str = r"MACHINE\System\CurrentControlSet\Control\Lsa\RestrictRemoteSAM";

/// A security template with the given `[System Access]` and `[Registry Values]` sections (each with its header,
/// or empty), CRLF line ends.
pub fn template(system_access: &str, registry_values: &str) -> String {
    format!(
        "[Unicode]\r\nUnicode=yes\r\n{system_access}{registry_values}[Version]\r\nsignature=\"$CHICAGO$\"\r\nRevision=1\r\n"
    )
}

/// Samba's default domain password policy with `min_age_days`, as a Default Domain Policy sets it.
pub fn password_policy(min_age_days: u32) -> String {
    template(
        &format!(
            "[System Access]\r\nMinimumPasswordAge = {min_age_days}\r\nMaximumPasswordAge = 42\r\n\
             MinimumPasswordLength = 7\r\nPasswordComplexity = 1\r\nPasswordHistorySize = 24\r\nLockoutBadCount = 0\r\n"
        ),
        "",
    )
}

/// A `[Registry Values]` section setting RestrictRemoteSAM to `sddl` (REG_SZ).
pub fn restrict_remote_sam(sddl: &str) -> String {
    format!("[Registry Values]\r\n{RESTRICT_REMOTE_SAM}=1,\"{sddl}\"\r\n")
}

/// UTF-16LE with a BOM, as the Group Policy editor saves `GptTmpl.inf`.
pub fn utf16(text: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xFE];
    out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    out
}

/// Writes a GPO's GptTmpl.inf, then gives SYSVOL its NT ACLs back (files written behind Samba's back have none,
/// REFERENCE.md section 6).
pub fn write_template(dc: &SambaDc, guid: &str, bytes: &[u8]) {
    let file = template_file(dc, guid);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, bytes).unwrap();
    dc.samba_tool_conf(&["ntacl", "sysvolreset"]).unwrap();
}

/// `<sysvol>/Policies/{GUID}/MACHINE/Microsoft/Windows NT/SecEdit/GptTmpl.inf`, matching the GUID's case.
pub fn template_file(dc: &SambaDc, guid: &str) -> PathBuf {
    let policies = dc.sysvol_domain_dir().join("Policies");
    let dir = std::fs::read_dir(&policies)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case(guid)))
        .unwrap_or_else(|| panic!("no {guid} under {}", policies.display()));
    dir.join("MACHINE/Microsoft/Windows NT/SecEdit/GptTmpl.inf")
}
