//! Configuration: the YAML file parsed strictly, validated, and resolved into the model the probes use.
//!
//! Loading never touches the network, so `--config.check` and reloads are safe to run at any time. Every error
//! names the file, the line and the key, on one line.

mod duration;
mod schema;
mod secret;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use duration::PromDuration;
pub use schema::{BindMechanism, Cloud, Global};
pub use secret::{Secret, SecretSource};
use url::Url;

use crate::version::ConnectVersion;

/// A validated configuration. Built only by [`load`] / [`parse`], so every value in it has been checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub global: Global,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone)]
pub struct Target {
    /// The `target` label of every series this target produces.
    pub name: String,
    pub ad: Option<AdTarget>,
    pub entra: Option<EntraTarget>,
}

#[derive(Debug, Clone)]
pub struct AdTarget {
    /// LDAP servers in the order given; empty means "discover from DNS".
    pub servers: Vec<Url>,
    pub domain: Option<String>,
    /// DNS servers for SRV discovery and DC host names; empty: the system resolver.
    pub dns_servers: Vec<std::net::SocketAddr>,
    pub all_dcs: bool,
    pub bind: Bind,
    pub tls: AdTls,
    pub allow_plaintext: bool,
    pub connector_accounts: Vec<String>,
    pub scopes: Vec<String>,
    pub user_scan: bool,
    pub page_size: u32,
    /// Run probe `ad_gpo`.
    pub gpo: bool,
    /// TCP port of SMB on the DCs (SYSVOL for `ad_gpo`).
    pub smb_port: u16,
}

#[derive(Debug, Clone)]
pub struct Bind {
    pub user: Option<String>,
    pub password: Option<SecretSource>,
    pub mechanism: BindMechanism,
}

#[derive(Debug, Clone, Default)]
pub struct AdTls {
    pub start_tls: bool,
    pub ca_file: Option<PathBuf>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone)]
pub struct EntraTarget {
    pub tenant_id: String,
    pub client_id: String,
    pub credential: EntraCredential,
    pub cloud: Cloud,
    pub authority_url: Option<Url>,
    pub graph_url: Option<Url>,
    pub ca_file: Option<PathBuf>,
    pub proxy_url: Option<Url>,
    pub min_connect_version: ConnectVersion,
    pub sspr_audit: bool,
}

#[derive(Debug, Clone)]
pub enum EntraCredential {
    Secret(SecretSource),
    Certificate { certificate_file: PathBuf, private_key_file: PathBuf },
    FederatedToken(PathBuf),
}

impl Config {
    /// The interval `global.intervals` sets for a probe, if any.
    pub fn interval_override(&self, probe: &str) -> Option<Duration> {
        self.global.intervals.get(probe).map(|d| d.value.0)
    }

    pub fn timeout(&self) -> Duration {
        self.global.timeout.0
    }

    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }
}

/// A configuration error: file, line (when known), the key path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Reads and validates a configuration file. `probes` are the probe names `global.intervals` may use.
///
/// # Errors
/// The first problem found, as a one-line [`ConfigError`].
pub fn load(file: &Path, probes: &[&str]) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
        file: file.to_path_buf(),
        line: None,
        key: String::new(),
        message: format!("cannot read the configuration file: {e}"),
    })?;
    parse(&text, file, probes)
}

/// Parses and validates configuration text; `file` is only used in error messages and to resolve relative paths.
///
/// # Errors
/// The first problem found, as a one-line [`ConfigError`].
pub fn parse(text: &str, file: &Path, probes: &[&str]) -> Result<Config, ConfigError> {
    let raw = parse_raw(text, file)?;
    validate::resolve(raw, file, probes)
}

fn parse_raw(text: &str, file: &Path) -> Result<schema::RawConfig, ConfigError> {
    let options = serde_saphyr::options! { with_snippet: false };
    // serde_path_to_error records the key path (targets[0].ad.bind) that serde-saphyr's own error lacks.
    let mut path = None;
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, options, |de| {
        let mut track = serde_path_to_error::Track::new();
        let out = serde::Deserialize::deserialize(serde_path_to_error::Deserializer::new(de, &mut track));
        if out.is_err() {
            path = Some(track.path());
        }
        out
    });
    result.map_err(|e| {
        let e = e.without_snippet();
        let key = path.map(|p| clean_path(&p.to_string())).unwrap_or_default();
        ConfigError {
            file: file.to_path_buf(),
            line: e.location().map(|l| l.line()).filter(|l| *l > 0),
            key,
            message: plain_message(e),
        }
    })
}

/// The error text without serde-saphyr's own location suffix (we print the line ourselves).
fn plain_message(e: &serde_saphyr::Error) -> String {
    let options = serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off };
    let text = e.render_with_options(options);
    let first = text.lines().next().unwrap_or_default().trim();
    match first.rfind(" at line ") {
        Some(cut) => first[..cut].to_string(),
        None => first.to_string(),
    }
}

/// `Spanned<T>` adds a `.value` step to serde's path; users never wrote it.
fn clean_path(path: &str) -> String {
    let cleaned = path.replace(".value", "");
    if cleaned == "." {
        String::new()
    } else {
        cleaned
    }
}
