//! The exporter-toolkit web config (`--web.config.file`): [`schema`] parses and validates the file, [`tls`] builds
//! the rustls server configuration from it; [`load`] does both at start-up, so a bad certificate fails early.

mod schema;
mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use schema::{
    check_bcrypt_hash, ClientAuthType, HttpServerConfig, PemSource, TlsServerConfig, TlsVersion, WebConfigError,
};
pub use tls::rustls_server_config;

/// A loaded, fully validated web config; certificates and keys were parsed at load time.
pub struct WebConfig {
    path: PathBuf,
    tls: Option<TlsServerConfig>,
    http: HttpServerConfig,
    basic_auth_users: BTreeMap<String, String>,
    rustls: Option<Arc<rustls::ServerConfig>>,
}

impl fmt::Debug for WebConfig {
    // Hashes stay out of logs, as exporter-toolkit treats them as secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<_> = self.basic_auth_users.keys().collect();
        f.debug_struct("WebConfig")
            .field("path", &self.path)
            .field("tls", &self.tls)
            .field("http", &self.http)
            .field("basic_auth_users", &users)
            .finish()
    }
}

/// Reads and validates a web config file; relative paths in it are relative to its directory.
///
/// The format is exporter-toolkit's `docs/web-configuration.md`, parsed strictly (unknown or
/// duplicate keys are errors). Where this implementation differs, it fails here rather than
/// silently doing something else:
/// - `min_version`/`max_version` `TLS10`/`TLS11`, `CurveP521` and the CBC cipher suites are
///   rejected: rustls does not implement them.
/// - `client_allowed_sans` and `rate_limit` are rejected: not implemented.
/// - `VerifyClientCertIfGiven`/`RequireAndVerifyClientCert` need `client_ca_file` (or
///   `client_ca`); Go would silently fall back to the system roots.
/// - giving both `cert` and `cert_file` (same for key/client CA) is an error; Go prefers the file.
///
/// Go accepts TLS 1.3 suites in `cipher_suites` but cannot restrict them, so they are accepted and
/// ignored; `cipher_suites` restricts and orders TLS 1.2 suites only, and
/// `prefer_server_cipher_suites` maps to rustls `ignore_client_order`. The file and the files it
/// names are read once: unlike exporter-toolkit, certificates are not reloaded per connection.
///
/// The file, like the configuration file, must be a regular file of at most 1 MiB.
pub fn load(path: &Path) -> Result<WebConfig, WebConfigError> {
    let read = |e| WebConfigError::Read(path.display().to_string(), e);
    let bytes = crate::config::read_limited(path, crate::config::CONFIG_FILE_LIMIT).map_err(|e| read(io_error(e)))?;
    let text = String::from_utf8(bytes).map_err(|_| {
        read(std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
    })?;
    WebConfig::from_yaml(&text, path)
}

/// A bounded read's failure as the I/O error the web config's errors carry (same text).
fn io_error(e: crate::config::ReadError) -> std::io::Error {
    match e {
        crate::config::ReadError::Io(e) => e,
        other => std::io::Error::other(other.to_string()),
    }
}

impl WebConfig {
    /// Parses `text` as if it had been read from `path` (which anchors relative file names).
    pub fn from_yaml(text: &str, path: &Path) -> Result<Self, WebConfigError> {
        let parsed = schema::parse(text, path)?;
        let rustls = match &parsed.tls {
            Some(t) => Some(tls::rustls_server_config(t, parsed.http.http2, path)?),
            None => None,
        };
        let schema::Parsed { tls, http, basic_auth_users } = parsed;
        Ok(WebConfig { path: path.to_path_buf(), tls, http, basic_auth_users, rustls })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `None` means plain HTTP.
    pub fn tls(&self) -> Option<&TlsServerConfig> {
        self.tls.as_ref()
    }

    pub fn http(&self) -> &HttpServerConfig {
        &self.http
    }

    /// User name to bcrypt hash; empty means no basic auth.
    pub fn basic_auth_users(&self) -> &BTreeMap<String, String> {
        &self.basic_auth_users
    }

    /// The rustls config built at load time (ALPN per `http2`), or `None` for plain HTTP. To
    /// rebuild it from the files, call [`rustls_server_config`].
    pub fn rustls_server_config(&self) -> Option<Arc<rustls::ServerConfig>> {
        self.rustls.clone()
    }
}
