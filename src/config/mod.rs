//! Configuration: the YAML file parsed strictly, validated, and resolved into the model the probes use.
//!
//! Loading never touches the network, so `--config.check` and reloads are safe to run at any time. Every error
//! names the file, the line and the key, on one line.

mod duration;
mod file;
mod schema;
mod secret;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use duration::PromDuration;
pub use file::{check_regular, read_limited, ReadError, CONFIG_FILE_LIMIT, SECRET_FILE_LIMIT};
pub use schema::{BindMechanism, Cloud, Global};
pub use secret::{Secret, SecretError, SecretSource};
use url::Url;

use crate::version::ConnectVersion;

/// A validated configuration. Built only by [`load`] / [`parse`], so every value in it has been checked.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub global: Global,
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The `target` label of every series this target produces.
    pub name: String,
    pub ad: Option<AdTarget>,
    pub entra: Option<EntraTarget>,
}

#[derive(Debug, Clone, PartialEq)]
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
    /// Entra Cloud Sync gMSAs by sAMAccountName (`$` optional), `DOMAIN\name` or DN; empty: every `provAgentgMSA$`.
    pub cloud_sync_accounts: Vec<String>,
    pub scopes: Vec<String>,
    pub user_scan: bool,
    pub page_size: u32,
    /// A full reconciliation scan of `ad_users` at least this often; incremental cycles in between.
    pub full_scan_interval: std::time::Duration,
    /// Run probe `ad_gpo`.
    pub gpo: bool,
    /// TCP port of SMB on the DCs (SYSVOL for `ad_gpo`).
    pub smb_port: u16,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bind {
    pub user: Option<String>,
    pub password: Option<SecretSource>,
    pub mechanism: BindMechanism,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdTls {
    pub start_tls: bool,
    pub ca_file: Option<PathBuf>,
    pub server_name: Option<String>,
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone, PartialEq)]
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
    /// SSPR failures judged on the AD side per `entra_sspr` run (0: none); the rest count as `unknown`.
    pub sspr_explain_limit: u32,
}

#[derive(Debug, Clone, PartialEq)]
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

    /// The secret files (bind passwords, client secrets) with the key that names each.
    fn secret_files(&self) -> Vec<(String, PathBuf)> {
        let mut files = Vec::new();
        for (i, t) in self.targets.iter().enumerate() {
            if let Some(SecretSource::File(path)) = t.ad.as_ref().and_then(|ad| ad.bind.password.as_ref()) {
                files.push((format!("targets[{i}].ad.bind.password_file"), path.clone()));
            }
            if let Some(EntraCredential::Secret(SecretSource::File(path))) = t.entra.as_ref().map(|e| &e.credential) {
                files.push((format!("targets[{i}].entra.client_secret_file"), path.clone()));
            }
        }
        files
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

/// Reads and validates a configuration file (a regular file of at most 1 MiB). `probes` are the probe names
/// `global.intervals` may use. A valid configuration whose secret files group or others may read is loaded with a
/// warning naming each such file.
///
/// # Errors
/// The first problem found, as a one-line [`ConfigError`].
pub fn load(file: &Path, probes: &[&str]) -> Result<Config, ConfigError> {
    let bytes = read_limited(file, CONFIG_FILE_LIMIT).map_err(|e| ConfigError {
        file: file.to_path_buf(),
        line: None,
        key: String::new(),
        message: format!("cannot read the configuration file: {e}"),
    })?;
    let text = utf8(&bytes, file)?;
    let config = parse(text, file, probes)?;
    for (key, path) in config.secret_files() {
        if let Some(mode) = file::readable_by_others(&path) {
            tracing::warn!(
                file = %path.display(),
                key = %key,
                mode = %format!("{mode:04o}"),
                "secret file is readable by group or others: restrict it to the exporter's user (chmod 600)"
            );
        }
    }
    Ok(config)
}

/// The file as text; a byte that is not UTF-8 is named by line, column and offset, so that an editor finds it.
fn utf8<'a>(bytes: &'a [u8], file: &Path) -> Result<&'a str, ConfigError> {
    let error = |line: usize, message: String| ConfigError {
        file: file.to_path_buf(),
        line: Some(u64::try_from(line).unwrap_or(u64::MAX)),
        key: String::new(),
        message,
    };
    if let Some(bom @ ([0xFF, 0xFE] | [0xFE, 0xFF])) = bytes.get(..2) {
        return Err(error(
            1,
            format!("the file is UTF-16 (byte order mark {:02X} {:02X}): save it as UTF-8", bom[0], bom[1]),
        ));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let before = bytes.get(..offset).unwrap_or_default();
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(before.get(line_start..).unwrap_or_default()).chars().count() + 1;
        let byte = bytes.get(offset).copied().unwrap_or_default();
        error(
            line,
            format!("not UTF-8: byte 0x{byte:02X} at offset {offset} (column {column}); save the file as UTF-8"),
        )
    })
}

/// Parses and validates configuration text; `file` is only used in error messages and to resolve relative paths.
///
/// # Errors
/// The first problem found, as a one-line [`ConfigError`].
pub fn parse(text: &str, file: &Path, probes: &[&str]) -> Result<Config, ConfigError> {
    let raw: schema::RawConfig = parse_yaml(text, file)?;
    validate::resolve(raw, file, probes)
}

/// Parses YAML text strictly into `T`; an error names the file, the line and the key path, in the user's terms. The
/// web config (`--web.config.file`) is parsed the same way, so both files' errors read alike.
///
/// # Errors
/// The first problem found, as a one-line [`ConfigError`].
pub fn parse_yaml<T: serde::de::DeserializeOwned>(text: &str, file: &Path) -> Result<T, ConfigError> {
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
        let path = path.map(|p| clean_path(&p.to_string())).unwrap_or_default();
        let (key, message) = describe(e, path, text);
        ConfigError { file: file.to_path_buf(), line: e.location().map(|l| l.line()).filter(|l| *l > 0), key, message }
    })
}

/// The key and the message of a parse error, in the user's terms rather than the YAML library's.
fn describe(e: &serde_saphyr::Error, path: String, text: &str) -> (String, String) {
    match e {
        // serde_path_to_error writes the unknown last step as `?`: the library knows the key.
        serde_saphyr::Error::DuplicateMappingKey { key, .. } => {
            let parent = path.strip_suffix('?').map(|p| p.trim_end_matches('.')).unwrap_or(&path);
            let key = match key {
                Some(name) => child(parent, name),
                None => parent.to_string(),
            };
            (key, "duplicate key: each key may appear only once in a mapping".to_string())
        }
        serde_saphyr::Error::MultipleDocuments { .. } => (
            String::new(),
            "more than one YAML document (a `---` line starts each): the configuration is one document".to_string(),
        ),
        serde_saphyr::Error::Eof { .. } if !has_content(text) => {
            ("targets".to_string(), "required (the file holds no configuration)".to_string())
        }
        _ => {
            let message = plain_message(e);
            let missing =
                message.strip_prefix("missing field `").and_then(|rest| rest.strip_suffix('`')).map(str::to_string);
            match missing {
                Some(field) => (child(&path, &field), "required".to_string()),
                None => (path, message),
            }
        }
    }
}

fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// Anything but blank lines, comments and document markers.
fn has_content(text: &str) -> bool {
    text.lines().map(str::trim).any(|l| !l.is_empty() && !l.starts_with('#') && l != "---" && l != "...")
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn non_utf8_bytes_are_named_by_line_column_and_offset() {
        let file = Path::new("t.yml");
        let cases: [(&[u8], Option<u64>, &str); 4] = [
            (b"targets: []\n", None, ""),
            (b"a: 1\nb: caf\xe9\n", Some(2), "not UTF-8: byte 0xE9 at offset 11 (column 7); save the file as UTF-8"),
            // Column counts characters: the two-byte \xc3\xa9 before the bad byte is one column.
            (b"x: \xc3\xa9\xff\n", Some(1), "not UTF-8: byte 0xFF at offset 5 (column 5); save the file as UTF-8"),
            (b"\xff\xfet\x00", Some(1), "the file is UTF-16 (byte order mark FF FE): save it as UTF-8"),
        ];
        for (bytes, line, message) in cases {
            match super::utf8(bytes, file) {
                Ok(_) => assert_eq!((line, message), (None, ""), "{bytes:?} decodes"),
                Err(e) => assert_eq!((e.line, e.message.as_str(), e.key.as_str()), (line, message, ""), "{bytes:?}"),
            }
        }
    }

    #[test]
    fn parse_errors_name_line_and_key() {
        let target = "targets:\n  - name: corp\n    entra: {tenant_id: x.example, client_id: y}\n";
        let cases = [
            ("global:\n  timeout: 1m\n  timeout: 2m\n", 3, "global.timeout", "duplicate key"),
            ("targets: []\ntargets: []\n", 2, "targets", "duplicate key"),
            ("global: {interval: 1m}\n", 1, "targets", "required"),
            ("\n# nothing\n", 3, "targets", "required (the file holds no configuration)"),
            (&format!("{target}---\n{target}"), 5, "", "more than one YAML document"),
            ("global:\n  interval: 999ms\ntargets: []\n", 2, "global.interval", "must be at least 1s"),
            ("global:\n  timeout: 0\ntargets: []\n", 2, "global.timeout", "must be greater than 0"),
            ("\n\ntargets: []\n", 3, "targets", "at least one target is required"),
        ];
        for (text, line, key, message) in cases {
            let e = super::parse(text, Path::new("t.yml"), &[]).expect_err(text);
            assert_eq!((e.line, e.key.as_str()), (Some(line), key), "{text:?}: {e}");
            assert!(e.message.starts_with(message), "{text:?}: {e}");
        }
    }
}
