//! LDAP failures, classified into the bounded `reason` label.

use crate::base::{out_of_file_descriptors, ProbeError, Reason, Scrub};
use crate::config::SecretError;

/// What went wrong talking to a DC. `server` is the URL host; messages never contain a password. Every `detail`
/// and referral built from what the server or the library said passes through the session's [`Scrub`] here, in
/// [`LdapError::classify`], [`from_result_code`] and [`referral`]: bounded, the bind password replaced.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    /// The exporter itself is out of file descriptors (EMFILE/ENFILE): not the DC's fault, nor the config's.
    #[error("cannot connect to {server}: too many open files (the exporter reached its open-file limit)")]
    Exhausted { server: String },
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
    /// The bind password could not be read: the configuration's fault (reason `config`) or the process' (out of
    /// file descriptors: reason `other`).
    #[error("bind password: {0}")]
    Secret(SecretError),
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
            LdapError::Exhausted { .. } => Reason::Other,
            LdapError::Secret(e) => e.reason(),
        }
    }

    /// Sorts an ldap3 error into our classes. `operation` names what we were doing, for the message; `scrub` holds
    /// the session's secrets (none for a Kerberos bind).
    pub(crate) fn classify(server: &str, operation: &'static str, err: ldap3::LdapError, scrub: &Scrub) -> LdapError {
        use ldap3::LdapError as E;
        let server = server.to_string();
        match err {
            E::Timeout { .. } => LdapError::Timeout { server, operation },
            E::Rustls { source } => LdapError::Tls { server, detail: scrub.text(&source.to_string()) },
            E::DNSName { source } => LdapError::Tls { server, detail: scrub.text(&source.to_string()) },
            E::Io { source } => {
                // tokio-rustls reports handshake failures (bad certificate, wrong name) as io errors wrapping
                // a rustls::Error; everything else at this level is the network.
                let tls = source.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
                match tls {
                    Some(tls) => LdapError::Tls { server, detail: scrub.text(&tls.to_string()) },
                    None if out_of_file_descriptors(&source) => LdapError::Exhausted { server },
                    None => LdapError::Connect { server, detail: scrub.text(&source.to_string()) },
                }
            }
            E::EndOfStream | E::ResultRecv { .. } | E::OpSend { .. } | E::IdScrubSend { .. } | E::MiscSend { .. } => {
                LdapError::Connect { server, detail: "the connection was closed by the server".to_string() }
            }
            E::LdapResult { result } => from_result_code(server, operation, result.rc, &result.text, scrub),
            other => LdapError::Protocol { server, operation, detail: scrub.text(&other.to_string()) },
        }
    }
}

/// Maps an LDAP result code (RFC 4511) to our classes; `text` is the server's diagnosticMessage, which may be any
/// size and may repeat what the client sent (a DC that echoes the bind password).
pub(crate) fn from_result_code(
    server: String,
    operation: &'static str,
    rc: u32,
    text: &str,
    scrub: &Scrub,
) -> LdapError {
    let detail =
        if text.is_empty() { format!("result code {rc}") } else { format!("result code {rc}: {}", scrub.text(text)) };
    match rc {
        8 => LdapError::NeedsEncryption { server },
        // invalidCredentials, inappropriateAuthentication, unwillingToPerform on bind (e.g. account disabled)
        49 | 48 => LdapError::Auth { server, detail },
        50 => LdapError::Permission { server, operation, detail },
        3 => LdapError::Timeout { server, operation },
        51..=52 => LdapError::Connect { server, detail },
        10 => LdapError::Referral { server, operation, to: String::new() },
        // The DC stopped early: what came before is incomplete, and counting it would understate the directory.
        4 | 11 => LdapError::Protocol {
            server,
            operation,
            detail: format!(
                "{detail} ({}): the DC returned only part of the result, so nothing of it is used; raise the DC's \
                 limit (LDAP policy MaxResultSetSize, MaxPageSize) or narrow the scopes",
                if rc == 4 { "sizeLimitExceeded" } else { "adminLimitExceeded" }
            ),
        },
        _ => LdapError::Protocol { server, operation, detail },
    }
}

/// A referral result, naming where the DC points (first URL of the referral, for the message only).
pub(crate) fn referral(server: String, operation: &'static str, refs: &[String], scrub: &Scrub) -> LdapError {
    let to = refs.first().map(|r| format!(" to {}", scrub.text_to(r, 200))).unwrap_or_default();
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
            assert_eq!(from_result_code("dc".into(), "search", rc, "", &Scrub::default()).reason(), reason, "rc {rc}");
        }
    }

    #[test]
    fn running_out_of_file_descriptors_is_reason_other() {
        let io = std::io::Error::from_raw_os_error(24);
        let e = LdapError::classify("dc1", "bind", ldap3::LdapError::Io { source: io }, &Scrub::default());
        assert_eq!(e.reason(), Reason::Other);
        assert!(e.to_string().contains("too many open files"), "{e}");
    }

    #[test]
    fn a_search_the_dc_cut_short_is_a_protocol_failure_that_says_so() {
        for (rc, name) in [(4, "sizeLimitExceeded"), (11, "adminLimitExceeded")] {
            let e = from_result_code("dc1".into(), "scan users", rc, "", &Scrub::default());
            assert_eq!(e.reason(), Reason::Protocol);
            let text = e.to_string();
            assert!(text.contains(name) && text.contains("nothing of it is used"), "{text}");
        }
    }

    #[test]
    fn an_unreadable_password_is_config_unless_the_process_is_exhausted() {
        let config = LdapError::Secret(SecretError::Config("cannot read secret file /x: missing".into()));
        assert_eq!(config.reason(), Reason::Config);
        let emfile =
            LdapError::Secret(SecretError::Exhausted("cannot read secret file /x: too many open files".into()));
        assert_eq!(emfile.reason(), Reason::Other);
        assert!(emfile.to_string().contains("too many open files"), "{emfile}");
    }

    #[test]
    fn server_text_is_bounded_and_scrubbed() {
        let scrub = Scrub::new(["Bind-Pw-1"]);
        let huge = format!("AcceptSecurityContext error, data 52e, password Bind-Pw-1 {}", "y".repeat(60_000));
        let e = from_result_code("dc".into(), "bind", 49, &huge, &scrub).to_string();
        assert!(!e.contains("Bind-Pw-1") && e.contains("<redacted>"), "{e}");
        assert!(e.len() < 1_000 && e.ends_with(crate::base::TRUNCATED), "{} bytes", e.len());
        let refs = [format!("ldap://x/{}Bind-Pw-1", "z".repeat(100))];
        let e = referral("dc".into(), "search", &refs, &scrub).to_string();
        assert!(!e.contains("Bind-Pw-1") && e.contains("<redacted>"), "{e}");
        let e = LdapError::classify("dc", "bind", ldap3::LdapError::InvalidScopeString("Bind-Pw-1".into()), &scrub);
        assert!(!e.to_string().contains("Bind-Pw-1"), "{e}");
    }
}
