//! Kerberos binds (SASL GSSAPI) with the process' credential cache or client keytab. On plain `ldap://` the
//! session is then sealed (SASL confidentiality layer), which is what AD asks of clients on port 389.

use std::time::Duration;

use cross_krb5::{Cred, InitiateFlags, K5Cred};
use ldap3::{Ldap, LdapResult};

use super::LdapError;

/// Binds `ldap` as the default principal of the credential cache / client keytab, or as `principal` when set, to
/// the service `ldap/<host>`.
///
/// The GSSAPI library blocks (ticket cache, keytab, KDC round trips), so the exchange runs on a blocking thread,
/// under the operation timeout; a panic in the GSSAPI path (malformed server tokens) becomes a protocol error.
///
/// # Errors
/// `Auth` when Kerberos fails (no credentials, unknown service principal, KDC unreachable), `Timeout`, `Protocol`.
pub(super) async fn bind(
    mut ldap: Ldap,
    host: &str,
    principal: Option<String>,
    timeout: Duration,
    server: &str,
) -> Result<(Ldap, LdapResult), LdapError> {
    let runtime = tokio::runtime::Handle::current();
    let host = host.to_ascii_lowercase();
    let task = tokio::task::spawn_blocking(move || {
        let result = runtime.block_on(async {
            match principal {
                None => ldap.sasl_gssapi_bind(&host).await,
                Some(name) => match Cred::client_acquire(InitiateFlags::empty(), Some(&name)) {
                    Ok(cred) => ldap.sasl_gssapi_cred_bind(cred, &host).await,
                    Err(e) => Err(ldap3::LdapError::GssapiOperationError(format!("no credentials for {name}: {e:#}"))),
                },
            }
        });
        (ldap, result)
    });
    let (ldap, result) = tokio::time::timeout(timeout, task)
        .await
        .map_err(|_| LdapError::Timeout { server: server.to_string(), operation: "Kerberos bind" })?
        .map_err(|e| LdapError::Protocol {
            server: server.to_string(),
            operation: "Kerberos bind",
            detail: format!("the GSSAPI exchange failed unexpectedly: {e}"),
        })?;
    match result {
        Ok(result) => Ok((ldap, result)),
        Err(ldap3::LdapError::GssapiOperationError(detail)) => {
            Err(LdapError::Auth { server: server.to_string(), detail: format!("Kerberos: {}", hint(&detail)) })
        }
        Err(ldap3::LdapError::NoGssapiToken) => Err(LdapError::Protocol {
            server: server.to_string(),
            operation: "Kerberos bind",
            detail: "the server sent no GSSAPI token".to_string(),
        }),
        // Kerberos sends no password a server could echo: nothing to scrub but the length.
        Err(e) => Err(LdapError::classify(server, "bind", e, &crate::base::Scrub::default())),
    }
}

/// Adds what to do to the GSSAPI library's most common complaints.
fn hint(detail: &str) -> String {
    let lower = detail.to_ascii_lowercase();
    let advice = if lower.contains("server not found") {
        " (the DC's service principal ldap/<host name> is unknown to the KDC: use the DC's full host name in the URL)"
    } else if lower.contains("cannot contact any kdc") || lower.contains("cannot find kdc") {
        " (check the realm's kdc entries in krb5.conf, KRB5_CONFIG, and that port 88 of the DCs is reachable)"
    } else if lower.contains("credentials") {
        " (no Kerberos credentials: run kinit for the account, or set KRB5_CLIENT_KTNAME to a keytab, and KRB5CCNAME)"
    } else {
        ""
    };
    format!("{detail}{advice}")
}

#[cfg(test)]
mod tests {
    use super::hint;

    #[test]
    fn common_failures_get_advice() {
        assert!(hint("No Kerberos credentials available").contains("KRB5_CLIENT_KTNAME"));
        assert!(hint("Unspecified GSS failure (Server not found in Kerberos database)").contains("ldap/<host name>"));
        assert!(hint("No credentials were supplied (Can't find client principal x in cache)").contains("kinit"));
        assert!(hint("Cannot contact any KDC for realm 'CORP'").contains("port 88"));
        assert_eq!(hint("something else"), "something else");
    }
}
