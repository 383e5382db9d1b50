//! Remediation texts for permission problems: the `dsacls` line and Microsoft's own cmdlet (Entra Connect's or
//! Cloud Sync's, by the account's engine), ready to paste.

use super::connector::Engine;
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

/// Cloud Sync's cmdlet, run on a provisioning agent's server with an enterprise (or the target domain's) admin.
fn cloud_sync_cmdlet(domain: &str) -> String {
    format!(
        "Import-Module \"C:\\Program Files\\Microsoft Azure AD Connect Provisioning Agent\\Microsoft.CloudSync.Powershell.dll\"; \
         Set-AADCloudSyncPermissions -PermissionType PasswordWriteBack -TargetDomain {domain} -EACredential (Get-Credential)"
    )
}

/// The grant of `missing` on `scope` for descendant user objects (`/I:S` + class `user`, ADUC's "Descendant User
/// objects"), both as dsacls and as Microsoft's cmdlet for the account's engine.
pub fn scope_grant(scope: &str, account: &str, domain: &str, missing: &[Right], engine: Engine) -> String {
    let principal = format!("{account}@{domain}");
    let grants: Vec<String> = missing.iter().filter_map(|r| dsacls_grant(*r, &principal)).collect();
    let grants = grants.join(" ");
    match engine {
        Engine::Connect => format!(
            "Grant the connector account on the scope, applying to Descendant User objects: dsacls \"{scope}\" /I:S /G {grants}; \
             or, in PowerShell on the Connect server: Import-Module \"C:\\Program Files\\Microsoft Azure Active Directory \
             Connect\\AdSyncConfig\\AdSyncConfig.psm1\"; Set-ADSyncPasswordWritebackPermissions -ADConnectorAccountName \
             {account} -ADConnectorAccountDomain {domain} -ADobjectDN \"{scope}\" (that cmdlet grants Reset Password, \
             Write lockoutTime and Write pwdLastSet; Change Password comes from the user class's default security \
             descriptor unless users have \"User cannot change password\")."
        ),
        Engine::CloudSync => format!(
            "Grant the Cloud Sync agent's gMSA on the scope, applying to Descendant User objects: dsacls \"{scope}\" /I:S /G {grants}; \
             or, in PowerShell on a provisioning agent's server: {} (that cmdlet grants the agent's gMSA Reset Password, \
             Write lockoutTime and Write pwdLastSet on descendant User objects of the domain root, and Unexpire Password \
             on the root; a custom gMSA gets nothing from the installer, so grant it with the dsacls lines; Change \
             Password comes from the user class's default security descriptor unless users have \"User cannot change \
             password\").",
            cloud_sync_cmdlet(domain)
        ),
    }
}

pub fn unexpire_password(domain_dn: &str, account: &str, domain: &str, engine: Engine) -> String {
    let dsacls = format!("dsacls \"{domain_dn}\" /G \"{account}@{domain}:CA;Unexpire Password\"");
    match engine {
        Engine::Connect => format!(
            "Grant Unexpire Password on the domain root: {dsacls} (Entra Connect 2.1.15.0 and later set it when \
             writeback is enabled; by default Authenticated Users hold it)."
        ),
        Engine::CloudSync => format!(
            "Grant Unexpire Password on the domain root: {dsacls}; or, in PowerShell on a provisioning agent's \
             server: {} (for the gMSA the agent runs as).",
            cloud_sync_cmdlet(domain)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_name_the_engine_s_cmdlet() {
        let scope = "OU=Staff,DC=corp,DC=example,DC=test";
        let connect =
            scope_grant(scope, "MSOL_0123456789ab", "corp.example.test", &[Right::ResetPassword], Engine::Connect);
        assert!(connect.contains("Set-ADSyncPasswordWritebackPermissions -ADConnectorAccountName MSOL_0123456789ab"));
        assert!(connect.contains("\"MSOL_0123456789ab@corp.example.test:CA;Reset Password;user\""));
        let gmsa =
            scope_grant(scope, "provAgentgMSA$", "corp.example.test", &[Right::WritePwdLastSet], Engine::CloudSync);
        assert!(gmsa.contains(
            "Set-AADCloudSyncPermissions -PermissionType PasswordWriteBack -TargetDomain corp.example.test -EACredential (Get-Credential)"
        ));
        assert!(gmsa
            .contains(&format!("dsacls \"{scope}\" /I:S /G \"provAgentgMSA$@corp.example.test:WP;pwdLastSet;user\"")));
        assert!(!gmsa.contains("ADSync"), "{gmsa}");
        let root =
            unexpire_password("DC=corp,DC=example,DC=test", "provAgentgMSA$", "corp.example.test", Engine::CloudSync);
        assert!(root.contains("\"provAgentgMSA$@corp.example.test:CA;Unexpire Password\""));
        assert!(root.contains("-PermissionType PasswordWriteBack"));
    }
}
