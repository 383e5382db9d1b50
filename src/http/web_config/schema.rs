//! The web config file's shape and its validation: what exporter-toolkit accepts, parsed strictly.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rustls::{NamedGroup, SupportedCipherSuite};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_saphyr::Spanned;

/// Everything that can be wrong with a web config file. The first field is always the config
/// file's path, so every message names it.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    /// The web config file itself cannot be read.
    #[error("web config {0}: cannot read: {1}")]
    Read(String, #[source] std::io::Error),
    /// YAML syntax, a wrong type, an unknown or duplicate key: file, line, key path and message, worded as the
    /// main configuration's errors are.
    #[error("web config {0}")]
    Yaml(crate::config::ConfigError),
    /// A value that is not allowed: (file, `:N` (its line) or empty, message).
    #[error("web config {0}{1}: {2}")]
    Invalid(String, String, String),
    /// An option or value this implementation cannot honour: (file, `:N` or empty, key, reason).
    #[error("web config {0}{1}: `{2}` is not supported: {3}")]
    Unsupported(String, String, String, &'static str),
    /// A certificate, key or CA file cannot be read: (file, what, its path, error).
    #[error("web config {0}: cannot read {1} {2}: {3}")]
    ReadPem(String, &'static str, String, #[source] std::io::Error),
    /// A certificate, key or CA is not usable PEM: (file, what, its path or "inline", reason).
    #[error("web config {0}: bad {1} ({2}): {3}")]
    BadPem(String, &'static str, String, String),
    /// A `basic_auth_users` value that is not a bcrypt hash: (file, user, reason).
    #[error("web config {0}: basic_auth_users: password of {1:?} is not a bcrypt hash: {2}")]
    BadHash(String, String, String),
    /// rustls refused the setup, e.g. the key does not match the certificate.
    #[error("web config {0}: TLS setup failed: {1}")]
    Tls(String, #[source] rustls::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuthType {
    #[default]
    NoClientCert,
    /// Asks for a certificate but neither requires nor verifies it (insecure, as in Go).
    RequestClientCert,
    /// Requires a certificate but does not verify its chain (insecure, as in Go).
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// A PEM blob given either as a path (already resolved against the config's directory) or inline.
#[derive(Clone)]
pub enum PemSource {
    File(PathBuf),
    Inline(String),
}

impl fmt::Debug for PemSource {
    // Inline keys are secrets; never print them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemSource::File(p) => write!(f, "File({})", p.display()),
            PemSource::Inline(_) => f.write_str("Inline(<redacted>)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct TlsServerConfig {
    pub cert: PemSource,
    pub key: PemSource,
    pub client_ca: Option<PemSource>,
    pub client_auth_type: ClientAuthType,
    pub min_version: TlsVersion,
    pub max_version: TlsVersion,
    /// `None`: the rustls defaults. `Some`: the only TLS 1.2 suites, in preference order (may be
    /// empty when only TLS 1.3 names were listed, which disables TLS 1.2 as it does in Go).
    pub cipher_suites: Option<Vec<SupportedCipherSuite>>,
    /// Key exchange groups in preference order; empty means the rustls defaults.
    pub curve_preferences: Vec<NamedGroup>,
    pub prefer_server_cipher_suites: bool,
}

#[derive(Debug, Clone)]
pub struct HttpServerConfig {
    /// Only meaningful with TLS (negotiated via ALPN), as in exporter-toolkit.
    pub http2: bool,
    /// Extra response headers, validated against exporter-toolkit's allow-list.
    pub headers: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    basic_auth_users: Option<BTreeMap<String, String>>,
    rate_limit: Option<Spanned<IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_ca_file: Option<String>,
    client_auth_type: Option<Spanned<String>>,
    min_version: Option<Spanned<String>>,
    max_version: Option<Spanned<String>>,
    cipher_suites: Option<Vec<Spanned<String>>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<Spanned<String>>>,
    client_allowed_sans: Option<Spanned<IgnoredAny>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

/// Headers exporter-toolkit lets you set, with the allowed values (empty: any value).
const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

const GO_TLS13_SUITES: &[&str] = &["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"];
const GO_CBC_SUITES: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
];

/// The file's settings, validated (certificates and keys are read later, by `tls`).
pub(super) struct Parsed {
    pub tls: Option<TlsServerConfig>,
    pub http: HttpServerConfig,
    pub basic_auth_users: BTreeMap<String, String>,
}

/// Parses `text` as if read from `path` (which anchors relative file names).
pub(super) fn parse(text: &str, path: &Path) -> Result<Parsed, WebConfigError> {
    let cx = Ctx(path.display().to_string());
    let blank = text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'));
    let raw: RawConfig = if blank {
        RawConfig::default()
    } else {
        // No source snippet: it would copy neighbouring lines (hashes, inline keys) into logs.
        crate::config::parse_yaml::<Option<RawConfig>>(text, path).map_err(WebConfigError::Yaml)?.unwrap_or_default()
    };
    if let Some(r) = &raw.rate_limit {
        return Err(cx.unsupported("rate_limit", Some(r), "rate limiting is not implemented"));
    }
    let raw_http = raw.http_server_config.unwrap_or_default();
    let http =
        HttpServerConfig { http2: raw_http.http2.unwrap_or(true), headers: raw_http.headers.unwrap_or_default() };
    for (name, value) in &http.headers {
        let Some((_, allowed)) = ALLOWED_HEADERS.iter().find(|(n, _)| n == name) else {
            return Err(cx.invalid(None, format!("HTTP header {name:?} can not be configured")));
        };
        if axum::http::HeaderValue::from_str(value).is_err() {
            return Err(cx.invalid(None, format!("HTTP header {name}: not a valid header value")));
        }
        if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
            let msg = format!("invalid value for {name}: expected one of {allowed:?}, got {value:?}");
            return Err(cx.invalid(None, msg));
        }
    }
    let basic_auth_users = raw.basic_auth_users.unwrap_or_default();
    for (user, hash) in &basic_auth_users {
        check_bcrypt_hash(hash).map_err(|reason| WebConfigError::BadHash(cx.0.clone(), user.clone(), reason))?;
    }
    let base = path.parent().unwrap_or(Path::new(""));
    let tls = match raw.tls_server_config {
        Some(t) => parse_tls(t, base, &cx)?,
        None => None,
    };
    Ok(Parsed { tls, http, basic_auth_users })
}

/// Builds errors that name the config file (and a line when the value has one).
struct Ctx(String);

impl Ctx {
    fn at<T>(s: Option<&Spanned<T>>) -> String {
        s.map(|s| format!(":{}", s.referenced.line())).unwrap_or_default()
    }

    fn invalid(&self, s: Option<&Spanned<String>>, message: String) -> WebConfigError {
        WebConfigError::Invalid(self.0.clone(), Self::at(s), message)
    }

    fn unsupported<T>(&self, key: &str, s: Option<&Spanned<T>>, reason: &'static str) -> WebConfigError {
        WebConfigError::Unsupported(self.0.clone(), Self::at(s), key.to_string(), reason)
    }
}

fn parse_tls(t: RawTls, base: &Path, cx: &Ctx) -> Result<Option<TlsServerConfig>, WebConfigError> {
    if let Some(s) = &t.client_allowed_sans {
        return Err(cx.unsupported("client_allowed_sans", Some(s), "SAN allow-lists are not implemented"));
    }
    // Go's zero value: an empty string means "not set".
    let source = |inline: Option<String>, file: Option<String>, name: &str| match (
        inline.filter(|s| !s.is_empty()),
        file.filter(|s| !s.is_empty()),
    ) {
        (Some(_), Some(_)) => Err(cx.invalid(None, format!("set {name} or {name}_file, not both"))),
        (Some(text), None) => Ok(Some(PemSource::Inline(text))),
        (None, Some(p)) => Ok(Some(PemSource::File(base.join(p)))),
        (None, None) => Ok(None),
    };
    let cert = source(t.cert, t.cert_file, "cert")?;
    let key = source(t.key, t.key_file, "key")?;
    let client_ca = source(t.client_ca, t.client_ca_file, "client_ca")?;
    let auth = t.client_auth_type.filter(|s| !s.value.is_empty());
    if cert.is_none() && key.is_none() && client_ca.is_none() && auth.is_none() {
        // exporter-toolkit falls back to plain HTTP here too.
        tracing::warn!(file = cx.0, "tls_server_config sets no certificate; serving plain HTTP");
        return Ok(None);
    }
    let missing = |what: &str| cx.invalid(None, format!("tls_server_config: missing one of {what} or {what}_file"));
    let cert = cert.ok_or_else(|| missing("cert"))?;
    let key = key.ok_or_else(|| missing("key"))?;
    let client_auth_type = match &auth {
        None => ClientAuthType::NoClientCert,
        Some(s) => match s.value.as_str() {
            "NoClientCert" => ClientAuthType::NoClientCert,
            "RequestClientCert" => ClientAuthType::RequestClientCert,
            // RequireClientCert: exporter-toolkit's backwards-compatible alias.
            "RequireAnyClientCert" | "RequireClientCert" => ClientAuthType::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => ClientAuthType::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => ClientAuthType::RequireAndVerifyClientCert,
            other => return Err(cx.invalid(Some(s), format!("invalid client_auth_type {other:?}"))),
        },
    };
    let version = |v: Option<Spanned<String>>, default| match v {
        None => Ok(default),
        Some(s) => match s.value.as_str() {
            "TLS12" => Ok(TlsVersion::Tls12),
            "TLS13" => Ok(TlsVersion::Tls13),
            "TLS10" | "TLS11" => Err(cx.unsupported(&s.value, Some(&s), "rustls implements only TLS12 and TLS13")),
            other => Err(cx.invalid(Some(&s), format!("unknown TLS version {other:?}"))),
        },
    };
    let min_version = version(t.min_version, TlsVersion::Tls12)?;
    let max_version = version(t.max_version, TlsVersion::Tls13)?;
    if min_version > max_version {
        return Err(cx.invalid(None, "tls_server_config: min_version is above max_version".into()));
    }
    let listed = t.cipher_suites.unwrap_or_default();
    let mut cipher_suites = Vec::new();
    for s in &listed {
        let name = s.value.as_str();
        if GO_CBC_SUITES.contains(&name) {
            return Err(cx.unsupported(name, Some(s), "rustls does not implement CBC cipher suites"));
        }
        let tls12 = rustls::crypto::ring::ALL_CIPHER_SUITES
            .iter()
            .find(|c| c.tls13().is_none() && format!("{:?}", c.suite()) == name);
        match tls12 {
            Some(c) => cipher_suites.push(*c),
            None if GO_TLS13_SUITES.contains(&name) => {}
            None => return Err(cx.invalid(Some(s), format!("unknown cipher suite {name:?}"))),
        }
    }
    let mut curve_preferences = Vec::new();
    for s in t.curve_preferences.unwrap_or_default() {
        curve_preferences.push(match s.value.as_str() {
            "X25519" => NamedGroup::X25519,
            "CurveP256" => NamedGroup::secp256r1,
            "CurveP384" => NamedGroup::secp384r1,
            "CurveP521" => return Err(cx.unsupported("CurveP521", Some(&s), "not implemented by rustls/ring")),
            other => return Err(cx.invalid(Some(&s), format!("unknown curve {other:?}"))),
        });
    }
    Ok(Some(TlsServerConfig {
        cert,
        key,
        client_ca,
        client_auth_type,
        min_version,
        max_version,
        cipher_suites: (!listed.is_empty()).then_some(cipher_suites),
        curve_preferences,
        prefer_server_cipher_suites: t.prefer_server_cipher_suites.unwrap_or(true),
    }))
}

/// Checks that `hash` is a bcrypt hash `bcrypt::verify` can use, without echoing it in errors.
pub fn check_bcrypt_hash(hash: &str) -> Result<(), String> {
    // Own messages: bcrypt's error text would echo the hash into logs.
    let parts: bcrypt::HashParts = hash.parse().map_err(|e| match e {
        bcrypt::BcryptError::InvalidPrefix(p) => {
            format!("unknown prefix {p:?} (want 2a, 2b, 2x or 2y)")
        }
        bcrypt::BcryptError::InvalidCost(c) => format!("invalid cost {c:?}"),
        _ => "malformed (want $2y$<cost>$<53 characters>)".to_string(),
    })?;
    if !(4..=31).contains(&parts.get_cost()) {
        return Err(format!("cost {} is outside 4..=31", parts.get_cost()));
    }
    let tail = hash.rsplit('$').next().unwrap_or_default();
    if !tail.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/') {
        return Err("salt/hash has characters outside the bcrypt alphabet".to_string());
    }
    Ok(())
}
