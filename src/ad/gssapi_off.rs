//! Kerberos binds are compiled out (cargo feature `gssapi` off); the configuration refuses `mechanism: gssapi`
//! in such a build, so this is never reached with a valid configuration.

use std::time::Duration;

use ldap3::{Ldap, LdapResult};

use super::LdapError;

/// # Errors
/// Always: this build has no Kerberos support.
pub(super) async fn bind(
    _ldap: Ldap,
    _host: &str,
    _principal: Option<String>,
    _timeout: Duration,
    server: &str,
) -> Result<(Ldap, LdapResult), LdapError> {
    Err(LdapError::Auth {
        server: server.to_string(),
        detail: "this build has no Kerberos support (cargo feature gssapi)".to_string(),
    })
}
