//! Tokens: OAuth2 client credentials at the tenant's token endpoint (client secret, certificate assertion or
//! federated token), cached until shortly before they expire. Secrets and tokens never reach a log or an error.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderValue;
use serde::Deserialize;
use tokio::time::Instant;

use super::error::{aadsts_hint, error_fields};
use super::request::{read_limited, remaining, wait_before_retry};
use super::throttle::{backoff, retry_after, MAX_ATTEMPTS};
use super::{assertion, EntraContext, GraphError};
use crate::base::Scrub;
use crate::config::EntraCredential;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// A token answer is a few kilobytes; anything far larger is not one.
const TOKEN_BODY_LIMIT: usize = 64 * 1024;
/// Refresh this long before expiry (at most half the lifetime), so a token never expires mid-run.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
const WHAT: &str = "token request";

/// A bearer token. `Debug` never shows it; the header value built from it is marked sensitive.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Arc<str>);

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

impl AccessToken {
    /// # Errors
    /// A protocol error when the token holds characters an HTTP header cannot carry.
    pub fn header(&self) -> Result<HeaderValue, GraphError> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.0)).map_err(|_| GraphError::Protocol {
            what: WHAT.to_string(),
            detail: "the access token holds characters that cannot be sent in a header".to_string(),
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// The secrets a Graph request carries, for [`error_fields`]: the bearer token and, with a client-secret
/// credential, the secret (read again: errors are rare, and the file may have rotated).
pub(super) fn request_secrets(ctx: &EntraContext, token: &AccessToken) -> Scrub {
    let scrub = Scrub::new([&*token.0]);
    match &ctx.cfg.credential {
        EntraCredential::Secret(source) => match source.read() {
            Ok(secret) => scrub.with(secret.expose()),
            Err(_) => scrub,
        },
        _ => scrub,
    }
}

#[derive(Default)]
pub struct TokenCache {
    current: tokio::sync::Mutex<Option<(AccessToken, Instant)>>,
}

impl TokenCache {
    /// The cached token, or a new one when there is none, it is due for refresh, or it is `rejected` (Graph
    /// answered 401 to it). Holding the lock while fetching makes concurrent probes share one token request.
    ///
    /// # Errors
    /// The token endpoint's refusal ([`GraphError::Auth`]), transport errors, or an unreadable credential.
    pub async fn get(
        &self,
        ctx: &EntraContext,
        deadline: Instant,
        rejected: Option<&AccessToken>,
    ) -> Result<AccessToken, GraphError> {
        let mut current = self.current.lock().await;
        if let Some((token, refresh_at)) = current.as_ref() {
            if Instant::now() < *refresh_at && rejected != Some(token) {
                return Ok(token.clone());
            }
        }
        *current = None;
        let (token, lifetime) = request(ctx, deadline).await?;
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        *current = Some((token.clone(), Instant::now() + lifetime - margin));
        tracing::debug!(authority = %ctx.endpoints.token_host(), expires_in = lifetime.as_secs(), "Graph token acquired");
        Ok(token)
    }
}

/// The form fields that prove the app's identity. Read on every request: secret files, certificates and
/// federated tokens rotate.
fn credential_fields(ctx: &EntraContext) -> Result<Vec<(&'static str, String)>, GraphError> {
    match &ctx.cfg.credential {
        EntraCredential::Secret(source) => {
            let secret = source.read().map_err(GraphError::Secret)?;
            Ok(vec![("client_secret", secret.expose().to_string())])
        }
        EntraCredential::Certificate { certificate_file, private_key_file } => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
            let jwt = assertion::client_assertion(
                certificate_file,
                private_key_file,
                ctx.endpoints.token_url.as_str(),
                &ctx.cfg.client_id,
                now,
            )?;
            Ok(vec![("client_assertion_type", JWT_BEARER.to_string()), ("client_assertion", jwt)])
        }
        EntraCredential::FederatedToken(path) => {
            // Bounded like a secret file: a projected token is a few kilobytes.
            let bytes = crate::config::read_limited(path, crate::config::SECRET_FILE_LIMIT)
                .map_err(|e| GraphError::Config(format!("federated_token_file {}: {e}", path.display())))?;
            let text = String::from_utf8(bytes).map_err(|_| {
                GraphError::Config(format!("federated_token_file {} is not valid UTF-8", path.display()))
            })?;
            let token = text.trim();
            if token.is_empty() {
                return Err(GraphError::Config(format!("federated_token_file {} is empty", path.display())));
            }
            Ok(vec![("client_assertion_type", JWT_BEARER.to_string()), ("client_assertion", token.to_string())])
        }
    }
}

async fn request(ctx: &EntraContext, deadline: Instant) -> Result<(AccessToken, Duration), GraphError> {
    let http = ctx.http()?;
    let host = ctx.endpoints.token_host();
    let mut form = vec![
        ("client_id", ctx.cfg.client_id.clone()),
        ("scope", ctx.endpoints.scope()),
        ("grant_type", "client_credentials".to_string()),
    ];
    let credential = credential_fields(ctx)?;
    // The token endpoint may echo what it was sent: the secret, assertion or federated token.
    let scrub = Scrub::new(credential.iter().map(|(_, value)| value.as_str()));
    form.extend(credential);
    tracing::debug!(authority = %host, "requesting a Graph token");
    let mut attempt = 0;
    loop {
        let timeout = remaining(deadline, WHAT)?;
        let sent = http.post(ctx.endpoints.token_url.clone()).form(&form).timeout(timeout).send().await;
        let response = sent.map_err(|e| GraphError::from_transport(WHAT, &host, &e))?;
        let status = response.status().as_u16();
        let retry = retry_after(response.headers());
        let body = read_limited(response, TOKEN_BODY_LIMIT, WHAT, &host).await?;
        match status {
            200 => return parse(&body),
            429 | 500 | 502 | 503 | 504 => {
                attempt += 1;
                if attempt >= MAX_ATTEMPTS {
                    let detail = format!("HTTP {status} on {attempt} attempts");
                    return Err(GraphError::Throttled { what: WHAT.to_string(), detail });
                }
                wait_before_retry(retry.unwrap_or_else(|| backoff(attempt - 1)), deadline, WHAT, status).await?;
            }
            400 | 401 | 403 => {
                let (code, message) = error_fields(&body, &scrub);
                let hint = aadsts_hint(&message);
                return Err(GraphError::Auth { host, detail: format!("HTTP {status} {code}: {message} ({hint})") });
            }
            _ => {
                let (code, message) = error_fields(&body, &scrub);
                return Err(GraphError::Status { what: WHAT.to_string(), status, code, message });
            }
        }
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: Option<String>,
    /// Seconds; a number in v2.0 answers, a string in some older ones.
    expires_in: Option<serde_json::Value>,
}

fn parse(body: &[u8]) -> Result<(AccessToken, Duration), GraphError> {
    let protocol = |detail: String| GraphError::Protocol { what: WHAT.to_string(), detail };
    // The error text of serde_json names the position, never the content, so no token can leak through it.
    let answer: TokenResponse =
        serde_json::from_slice(body).map_err(|e| protocol(format!("malformed token response: {e}")))?;
    if answer.token_type.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("bearer")) {
        return Err(protocol("the token endpoint returned a token that is not a Bearer token".to_string()));
    }
    if answer.access_token.is_empty() {
        return Err(protocol("the token endpoint returned an empty access token".to_string()));
    }
    let seconds = match &answer.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    // Without a lifetime, assume a short one: a refresh costs one request, a stale token a failed run.
    let lifetime = Duration::from_secs(seconds.unwrap_or(300).clamp(1, 86_400));
    Ok((AccessToken(answer.access_token.into()), lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_answers() {
        let (token, lifetime) = parse(br#"{"token_type":"Bearer","expires_in":3599,"access_token":"abc"}"#).unwrap();
        assert_eq!(lifetime, Duration::from_secs(3599));
        assert_eq!(format!("{token:?}"), "AccessToken(<redacted>)");
        assert!(token.header().unwrap().is_sensitive());
        let (_, lifetime) = parse(br#"{"token_type":"Bearer","expires_in":"120","access_token":"abc"}"#).unwrap();
        assert_eq!(lifetime, Duration::from_secs(120));
        assert!(parse(br#"{"token_type":"pop","expires_in":1,"access_token":"abc"}"#).is_err());
        let err = parse(br#"{"access_token": "secret-token-value""#).unwrap_err();
        assert!(!err.to_string().contains("secret-token-value"), "{err}");
    }
}
