//! Where a secret comes from (a file or an environment variable): secrets are never written inline in the config.

use std::fmt;
use std::path::PathBuf;

use super::file::{read_limited, ReadError, SECRET_FILE_LIMIT};
use crate::base::Reason;

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

/// Why a secret could not be read. The message names the file or variable, never the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The configuration is at fault: a missing, empty, oversized or non-regular file, an unset variable.
    #[error("{0}")]
    Config(String),
    /// The process is: out of file descriptors or memory. Not a configuration problem, so reason `other`.
    #[error("{0}")]
    Exhausted(String),
}

impl SecretError {
    pub fn reason(&self) -> Reason {
        match self {
            SecretError::Config(_) => Reason::Config,
            SecretError::Exhausted(_) => Reason::Other,
        }
    }
}

impl SecretSource {
    /// Reads the secret; a trailing newline (as `echo` writes it) is not part of it. A file must be a regular file
    /// of at most 64 KiB.
    ///
    /// # Errors
    /// A message naming the file or variable, never the value.
    pub fn read(&self) -> Result<Secret, SecretError> {
        let raw = match self {
            SecretSource::File(path) => {
                let bytes = read_limited(path, SECRET_FILE_LIMIT).map_err(|e| file_error(path, &e))?;
                String::from_utf8(bytes)
                    .map_err(|_| SecretError::Config(format!("secret file {} is not valid UTF-8", path.display())))?
            }
            SecretSource::Env(name) => std::env::var(name).map_err(|_| {
                SecretError::Config(format!("environment variable {name} is not set or not valid UTF-8"))
            })?,
        };
        let value = raw.strip_suffix('\n').unwrap_or(&raw);
        let value = value.strip_suffix('\r').unwrap_or(value);
        if value.is_empty() {
            return Err(SecretError::Config(format!("the secret in {self:?} is empty")));
        }
        Ok(Secret(value.to_string()))
    }
}

fn file_error(path: &std::path::Path, e: &ReadError) -> SecretError {
    let path = path.display();
    if !e.is_exhaustion() {
        return SecretError::Config(format!("cannot read secret file {path}: {e}"));
    }
    let detail = match e {
        ReadError::Io(io) if matches!(io.raw_os_error(), Some(24 | 23)) => {
            format!("too many open files ({io}): the exporter reached its open-file limit")
        }
        other => other.to_string(),
    };
    SecretError::Exhausted(format!("cannot read secret file {path}: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_errors_name_the_file_and_their_reason() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'a'; 64 * 1024 + 1]).unwrap();
        let cases = [
            (PathBuf::from("/dev/zero"), "cannot read secret file /dev/zero: not a regular file (a character device)"),
            (big.clone(), "larger than the limit of 64 KiB"),
            (dir.path().to_path_buf(), "not a regular file (a directory)"),
        ];
        for (path, message) in cases {
            let e = SecretSource::File(path.clone()).read().unwrap_err();
            assert!(e.to_string().ends_with(message), "{path:?}: {e}");
            assert_eq!(e.reason(), Reason::Config);
        }
        let emfile = file_error(&big, &ReadError::Io(std::io::Error::from_raw_os_error(24)));
        assert_eq!(emfile.reason(), Reason::Other);
        assert!(emfile.to_string().contains("too many open files"), "{emfile}");
        let ok = dir.path().join("ok");
        std::fs::write(&ok, "pw\r\n").unwrap();
        assert_eq!(SecretSource::File(ok).read().unwrap().expose(), "pw");
    }
}
