//! Remediation texts for permission problems: the `dsacls` line and Microsoft's own cmdlet, ready to paste.

use super::security::Right;

fn dsacls_grant(right: Right, principal: &str) -> Option<String> {
    let spec = match right {
        Right::ResetPassword => "CA;Reset Password;user",
        Right::ChangePassword => "CA;Change Password;user",
        Right::WriteLockoutTime => "WP;lockoutTime;user",
        Right::WritePwdLastSet => "WP;pwdLastSet;user",
        Right::UnexpirePassword => return None,
    };
    Some(format!("\"{principal}:{spec}\""))
}

/// The grant of `missing` on `scope` for descendant user objects (`/I:S` + class `user`, ADUC's "Descendant User
/// objects"), both as dsacls and as Microsoft's AdSyncConfig cmdlet.
pub fn scope_grant(scope: &str, account: &str, domain: &str, missing: &[Right]) -> String {
    let principal = format!("{account}@{domain}");
    let grants: Vec<String> = missing.iter().filter_map(|r| dsacls_grant(*r, &principal)).collect();
    format!(
        "Grant the connector account on the scope, applying to Descendant User objects: dsacls \"{scope}\" /I:S /G {}; \
         or, in PowerShell on the Connect server: Import-Module \"C:\\Program Files\\Microsoft Azure Active Directory \
         Connect\\AdSyncConfig\\AdSyncConfig.psm1\"; Set-ADSyncPasswordWritebackPermissions -ADConnectorAccountName \
         {account} -ADConnectorAccountDomain {domain} -ADobjectDN \"{scope}\" (that cmdlet grants Reset Password, \
         Write lockoutTime and Write pwdLastSet; Change Password comes from the user class's default security \
         descriptor unless users have \"User cannot change password\").",
        grants.join(" ")
    )
}

pub fn unexpire_password(domain_dn: &str, account: &str, domain: &str) -> String {
    format!(
        "Grant Unexpire Password on the domain root: dsacls \"{domain_dn}\" /G \"{account}@{domain}:CA;Unexpire Password\" \
         (Entra Connect 2.1.15.0 and later set it when writeback is enabled; by default Authenticated Users hold it)."
    )
}
