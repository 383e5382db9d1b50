//! Graph and token-endpoint failures, classified into the bounded `reason` label; messages never carry a secret.

use crate::base::{ProbeError, Reason, Scrub};
use crate::config::SecretError;

/// What went wrong talking to Entra ID. `what` names the request (`GET /v1.0/subscribedSkus`, `token request`),
/// `host` the server; neither ever contains a secret, a token or a query string with one.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("{0}")]
    Config(String),
    /// The exporter itself is out of file descriptors (EMFILE/ENFILE).
    #[error("{what}: too many open files (the exporter reached its open-file limit)")]
    Exhausted { what: String },
    #[error("{what}: cannot connect to {host}: {detail}")]
    Connect { what: String, host: String, detail: String },
    #[error("{what}: TLS with {host} failed: {detail}")]
    Tls { what: String, host: String, detail: String },
    #[error("{what} timed out ({detail})")]
    Timeout { what: String, detail: String },
    #[error("token request refused by {host}: {detail}")]
    Auth { host: String, detail: String },
    #[error("{what}: HTTP {status} {code}: {message}; {hint}")]
    Permission { what: String, status: u16, code: String, message: String, hint: String },
    #[error("{what}: throttled by Graph: {detail}")]
    Throttled { what: String, detail: String },
    #[error("{what}: {detail}")]
    Protocol { what: String, detail: String },
    #[error("{what}: HTTP {status} {code}: {message}")]
    Status { what: String, status: u16, code: String, message: String },
    /// The client secret could not be read (reason `config`, or `other` when the process is out of descriptors).
    #[error("client secret: {0}")]
    Secret(SecretError),
}

impl GraphError {
    pub fn reason(&self) -> Reason {
        match self {
            GraphError::Config(_) => Reason::Config,
            GraphError::Exhausted { .. } => Reason::Other,
            GraphError::Connect { .. } => Reason::Connect,
            GraphError::Tls { .. } => Reason::Tls,
            GraphError::Timeout { .. } => Reason::Timeout,
            GraphError::Auth { .. } => Reason::Auth,
            GraphError::Permission { .. } => Reason::Permission,
            GraphError::Throttled { .. } => Reason::Throttled,
            GraphError::Protocol { .. } => Reason::Protocol,
            GraphError::Status { status, .. } if *status == 401 => Reason::Auth,
            GraphError::Status { status, .. } if (400..500).contains(status) => Reason::Protocol,
            GraphError::Status { .. } => Reason::Other,
            GraphError::Secret(e) => e.reason(),
        }
    }

    /// Sorts a reqwest failure: a timeout, a TLS problem anywhere in the cause chain, else the network.
    pub(crate) fn from_transport(what: &str, host: &str, err: &reqwest::Error) -> GraphError {
        let (what, host) = (what.to_string(), host.to_string());
        if err.is_timeout() {
            return GraphError::Timeout { what, detail: "no complete answer within the time left in this run".into() };
        }
        let mut innermost = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            if cause.downcast_ref::<std::io::Error>().is_some_and(crate::base::out_of_file_descriptors) {
                return GraphError::Exhausted { what };
            }
            if let Some(tls) = tls_cause(cause) {
                return GraphError::Tls { what, host, detail: crate::base::bounded(&tls.to_string(), &[]) };
            }
            innermost = cause.to_string();
            source = cause.source();
        }
        if err.is_body() || err.is_decode() {
            return GraphError::Protocol { what, detail: format!("reading the response failed: {innermost}") };
        }
        GraphError::Connect { what, host, detail: crate::base::bounded(&innermost, &[]) }
    }
}

/// tokio-rustls reports handshake failures as io errors wrapping a rustls::Error.
fn tls_cause<'a>(cause: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    cause.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).and_then(|i| i.downcast_ref::<rustls::Error>())
}

/// The `error.code` and `error.message` of a Graph error body, or of a token endpoint's OAuth error
/// (`error`, `error_description` with its `AADSTS` code), cut to their first line, with the secrets the request
/// carried (client secret, assertion, bearer token) replaced: a server may echo what it was sent.
pub(crate) fn error_fields(body: &[u8], scrub: &Scrub) -> (String, String) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return ("(no JSON error body)".to_string(), String::new());
    };
    let error = &value["error"];
    let (code, message) = match error {
        serde_json::Value::String(code) => (code.as_str(), value["error_description"].as_str().unwrap_or_default()),
        _ => (error["code"].as_str().unwrap_or("(no code)"), error["message"].as_str().unwrap_or_default()),
    };
    (clean(&scrub.redact(code), 80), clean(&scrub.redact(message), 300))
}

/// One line, printable, bounded: server text goes into logs and the landing page.
pub(crate) fn clean(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    let mut out: String = line.chars().map(|c| if c.is_control() { ' ' } else { c }).take(max).collect();
    if line.chars().count() > max {
        out.push('…');
    }
    out
}

/// What to do about a token endpoint error, by its AADSTS code.
pub(crate) fn aadsts_hint(description: &str) -> &'static str {
    let code = description.strip_prefix("AADSTS").map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next());
    match code.flatten().unwrap_or_default() {
        "7000215" => "the client secret is wrong: use the secret's Value, not its Secret ID",
        "7000222" => "the client secret has expired: create a new one under Certificates & secrets",
        "700016" => "no application with this client_id in the tenant: check client_id and tenant_id",
        "90002" | "900023" => "the tenant was not found: check tenant_id and cloud",
        "700027" => "the client assertion was rejected: upload this certificate to the app registration",
        "700024" => "the client assertion is outside its validity: check this host's clock",
        "7000112" => "the application is disabled",
        "70021" | "700213" | "700212" | "700211" => {
            "the federated token does not match a federated credential of the app (issuer, subject, audience)"
        }
        "50059" => "no tenant information in the request: check tenant_id",
        _ => "check tenant_id, client_id and the credential",
    }
}

impl From<GraphError> for ProbeError {
    fn from(e: GraphError) -> ProbeError {
        ProbeError::Failed { reason: e.reason(), message: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_graph_and_token_endpoint() {
        let graph = br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{}}}"#;
        assert_eq!(
            error_fields(graph, &Scrub::default()),
            ("Authorization_RequestDenied".into(), "Insufficient privileges to complete the operation.".into())
        );
        let token = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x\r\nCorrelation ID: y","error_codes":[7000215]}"#;
        let (code, message) = error_fields(token, &Scrub::default());
        assert_eq!(code, "invalid_client");
        assert_eq!(message, "AADSTS7000215: Invalid client secret provided.");
        assert_eq!(aadsts_hint(&message), "the client secret is wrong: use the secret's Value, not its Secret ID");
        assert_eq!(error_fields(b"<html>", &Scrub::default()).0, "(no JSON error body)");
    }

    #[test]
    fn echoed_secrets_are_replaced() {
        let body = br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided: Cl13nt~Secret. Trace ID: x"}"#;
        let scrub = Scrub::new(["Cl13nt~Secret"]);
        let (_, message) = error_fields(body, &scrub);
        assert_eq!(message, "AADSTS7000215: Invalid client secret provided: <redacted>. Trace ID: x");
        let body = br#"{"error":{"code":"eyJ0b2tlbg","message":"bad token eyJ0b2tlbg"}}"#;
        let (code, message) = error_fields(body, &Scrub::new(["eyJ0b2tlbg"]));
        assert_eq!((code.as_str(), message.as_str()), ("<redacted>", "bad token <redacted>"));
    }

    #[test]
    fn statuses_map_to_reasons() {
        let status =
            |status| GraphError::Status { what: "x".into(), status, code: String::new(), message: String::new() };
        assert_eq!(status(401).reason(), Reason::Auth);
        assert_eq!(status(404).reason(), Reason::Protocol);
        assert_eq!(status(500).reason(), Reason::Other);
    }

    #[test]
    fn clean_keeps_one_bounded_line() {
        assert_eq!(clean("a\u{7}b\nsecond", 10), "a b");
        assert_eq!(clean("abcdef", 3), "abc…");
    }
}
