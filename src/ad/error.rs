//! LDAP failures, classified into the bounded `reason` label.

use crate::base::{ProbeError, Reason};

/// What went wrong talking to a DC. `server` is the URL host; messages never contain a password.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    #[error("cannot connect to {server}: {detail}")]
    Connect { server: String, detail: String },
    #[error("TLS with {server} failed: {detail}")]
    Tls { server: String, detail: String },
    #[error("{server} rejected the bind: {detail}")]
    Auth { server: String, detail: String },
    #[error("{server} refuses a simple bind without encryption (strongerAuthRequired): use ldaps:// or StartTLS")]
    NeedsEncryption { server: String },
    #[error("{server}: {operation} timed out")]
    Timeout { server: String, operation: &'static str },
    #[error("{server}: {operation}: access denied: {detail}")]
    Permission { server: String, operation: &'static str, detail: String },
    #[error("{server}: {operation}: {detail}")]
    Protocol { server: String, operation: &'static str, detail: String },
    /// The DN is not in a naming context this DC holds (LDAP referral, result code 10): a DN outside the forest's
    /// domains, or a domain this DC does not serve.
    #[error("{server}: {operation}: the DN is outside this DC's naming contexts (referral{to})")]
    Referral { server: String, operation: &'static str, to: String },
}

impl LdapError {
    pub fn reason(&self) -> Reason {
        match self {
            LdapError::Connect { .. } => Reason::Connect,
            LdapError::Tls { .. } => Reason::Tls,
            LdapError::Auth { .. } => Reason::Auth,
            LdapError::NeedsEncryption { .. } => Reason::Config,
            LdapError::Timeout { .. } => Reason::Timeout,
            LdapError::Permission { .. } => Reason::Permission,
            LdapError::Protocol { .. } => Reason::Protocol,
            LdapError::Referral { .. } => Reason::Config,
        }
    }

    /// Sorts an ldap3 error into our classes. `operation` names what we were doing, for the message.
    pub(crate) fn classify(server: &str, operation: &'static str, err: ldap3::LdapError) -> LdapError {
        use ldap3::LdapError as E;
        let server = server.to_string();
        match err {
            E::Timeout { .. } => LdapError::Timeout { server, operation },
            E::Rustls { source } => LdapError::Tls { server, detail: source.to_string() },
            E::DNSName { source } => LdapError::Tls { server, detail: source.to_string() },
            E::Io { source } => {
                // tokio-rustls reports handshake failures (bad certificate, wrong name) as io errors wrapping
                // a rustls::Error; everything else at this level is the network.
                let tls = source.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
                match tls {
                    Some(tls) => LdapError::Tls { server, detail: tls.to_string() },
                    None => LdapError::Connect { server, detail: source.to_string() },
                }
            }
            E::EndOfStream | E::ResultRecv { .. } | E::OpSend { .. } | E::IdScrubSend { .. } | E::MiscSend { .. } => {
                LdapError::Connect { server, detail: "the connection was closed by the server".to_string() }
            }
            E::LdapResult { result } => from_result_code(server, operation, result.rc, &result.text),
            other => LdapError::Protocol { server, operation, detail: other.to_string() },
        }
    }
}

/// Maps an LDAP result code (RFC 4511) to our classes.
pub(crate) fn from_result_code(server: String, operation: &'static str, rc: u32, text: &str) -> LdapError {
    let detail = if text.is_empty() { format!("result code {rc}") } else { format!("result code {rc}: {text}") };
    match rc {
        8 => LdapError::NeedsEncryption { server },
        // invalidCredentials, inappropriateAuthentication, unwillingToPerform on bind (e.g. account disabled)
        49 | 48 => LdapError::Auth { server, detail },
        50 => LdapError::Permission { server, operation, detail },
        3 => LdapError::Timeout { server, operation },
        51..=52 => LdapError::Connect { server, detail },
        10 => LdapError::Referral { server, operation, to: String::new() },
        _ => LdapError::Protocol { server, operation, detail },
    }
}

/// A referral result, naming where the DC points (first URL of the referral, for the message only).
pub(crate) fn referral(server: String, operation: &'static str, refs: &[String]) -> LdapError {
    // Server-supplied text: bounded before it reaches a message.
    let to = refs.first().map(|r| format!(" to {}", r.chars().take(200).collect::<String>())).unwrap_or_default();
    LdapError::Referral { server, operation, to }
}

impl From<LdapError> for ProbeError {
    fn from(e: LdapError) -> ProbeError {
        ProbeError::Failed { reason: e.reason(), message: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_codes_map_to_reasons() {
        let cases = [
            (49, Reason::Auth),
            (8, Reason::Config),
            (50, Reason::Permission),
            (3, Reason::Timeout),
            (52, Reason::Connect),
            (32, Reason::Protocol),
            (10, Reason::Config),
        ];
        for (rc, reason) in cases {
            assert_eq!(from_result_code("dc".into(), "search", rc, "").reason(), reason, "rc {rc}");
        }
    }
}
