//! Where a secret comes from (a file or an environment variable): secrets are never written inline in the config.

use std::fmt;
use std::path::PathBuf;

/// A secret's source. The value is read when it is needed (each bind or token request), so a rotated file is
/// picked up without a reload; the config loader reads it once to fail early on a missing file.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    File(PathBuf),
    Env(String),
}

/// A secret value. `Debug` and `Display` never show it, so it cannot leak into logs by accident.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretSource::File(path) => write!(f, "file {}", path.display()),
            SecretSource::Env(name) => write!(f, "environment variable {name}"),
        }
    }
}

impl SecretSource {
    /// Reads the secret; a trailing newline (as `echo` writes it) is not part of it.
    ///
    /// # Errors
    /// A message naming the file or variable, never the value.
    pub fn read(&self) -> Result<Secret, String> {
        let raw =
            match self {
                SecretSource::File(path) => std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?,
                SecretSource::Env(name) => std::env::var(name)
                    .map_err(|_| format!("environment variable {name} is not set or not valid UTF-8"))?,
            };
        let value = raw.strip_suffix('\n').unwrap_or(&raw);
        let value = value.strip_suffix('\r').unwrap_or(value);
        if value.is_empty() {
            return Err(format!("the secret in {self:?} is empty"));
        }
        Ok(Secret(value.to_string()))
    }
}
