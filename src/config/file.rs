//! Reading the files the configuration names (the configuration itself, the web config, secrets): regular files
//! only, up to a size limit, so that `/dev/zero` or a FIFO given by mistake fails the load instead of filling memory
//! or hanging it.

use std::fmt;
use std::fs::{File, FileType, Metadata};
use std::io::Read;
use std::path::Path;

/// The configuration file and the web config: a few kilobytes in practice.
pub const CONFIG_FILE_LIMIT: u64 = 1024 * 1024;
/// A secret file (password, client secret): a line in practice; a federated token is a few kilobytes.
pub const SECRET_FILE_LIMIT: u64 = 64 * 1024;

/// Why a file could not be read; `Display` is the part after "cannot read ...: ".
#[derive(Debug)]
pub enum ReadError {
    /// A directory, FIFO, device or socket: what it is.
    NotRegular(&'static str),
    /// Larger than the limit (bytes).
    TooLarge(u64),
    Io(std::io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::NotRegular(what) => write!(f, "not a regular file ({what})"),
            ReadError::TooLarge(limit) => write!(f, "larger than the limit of {}", size(*limit)),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl ReadError {
    /// True when the process, not the file, is at fault: out of file descriptors or memory. Such a failure during a
    /// probe run is reason `other`, not `config`: the configuration is fine and the next run may succeed.
    pub fn is_exhaustion(&self) -> bool {
        match self {
            ReadError::Io(e) => is_exhaustion(e),
            _ => false,
        }
    }
}

/// EMFILE (the process' open-file limit), ENFILE (the system's), out of memory.
pub(crate) fn is_exhaustion(e: &std::io::Error) -> bool {
    // EMFILE and ENFILE are 24 and 23 on Linux and the BSDs.
    matches!(e.raw_os_error(), Some(24 | 23)) || e.kind() == std::io::ErrorKind::OutOfMemory
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 && b % (1024 * 1024) == 0 => format!("{} MiB", b / (1024 * 1024)),
        b if b >= 1024 && b % 1024 == 0 => format!("{} KiB", b / 1024),
        b => format!("{b} bytes"),
    }
}

/// Reads a regular file of at most `limit` bytes. The type is checked before opening (opening a FIFO blocks until
/// a writer appears) and again on the open file; the read itself stops one byte past the limit, so a file that
/// grows (or lies about its size, as files in /proc do) cannot make it unbounded.
///
/// # Errors
/// Not a regular file, too large, or the I/O error.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    regular(&std::fs::metadata(path).map_err(ReadError::Io)?, limit)?;
    let file = File::open(path).map_err(ReadError::Io)?;
    regular(&file.metadata().map_err(ReadError::Io)?, limit)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(bytes)
}

/// Checks that `path` is a regular file that can be opened, without reading it (certificates and keys the
/// Graph client reads on each token request).
///
/// # Errors
/// Not a regular file, or the I/O error of opening it.
pub fn check_regular(path: &Path) -> Result<(), ReadError> {
    regular(&std::fs::metadata(path).map_err(ReadError::Io)?, u64::MAX)?;
    File::open(path).map_err(ReadError::Io)?;
    Ok(())
}

fn regular(meta: &Metadata, limit: u64) -> Result<(), ReadError> {
    if !meta.is_file() {
        return Err(ReadError::NotRegular(kind(meta.file_type())));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(())
}

fn kind(t: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// The permission bits of a file that group or others may read (`None` when they cannot, or off Unix).
pub fn readable_by_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o044 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_file_types() {
        let dir = tempfile::tempdir().unwrap();
        let small = dir.path().join("small");
        std::fs::write(&small, b"abc").unwrap();
        assert_eq!(read_limited(&small, 3).unwrap(), b"abc");
        assert_eq!(read_limited(&small, 2).unwrap_err().to_string(), "larger than the limit of 2 bytes");
        assert_eq!(read_limited(dir.path(), 10).unwrap_err().to_string(), "not a regular file (a directory)");
        let zero = read_limited(Path::new("/dev/zero"), SECRET_FILE_LIMIT).unwrap_err();
        assert_eq!(zero.to_string(), "not a regular file (a character device)");
        assert!(check_regular(Path::new("/dev/null")).is_err());
        assert!(check_regular(&small).is_ok());
        assert_eq!(size(CONFIG_FILE_LIMIT), "1 MiB");
        assert_eq!(size(SECRET_FILE_LIMIT), "64 KiB");
    }

    #[test]
    fn exhaustion_is_not_a_config_problem() {
        assert!(ReadError::Io(std::io::Error::from_raw_os_error(24)).is_exhaustion());
        assert!(ReadError::Io(std::io::Error::from_raw_os_error(23)).is_exhaustion());
        assert!(!ReadError::Io(std::io::Error::from_raw_os_error(2)).is_exhaustion());
        assert!(!ReadError::TooLarge(1).is_exhaustion());
    }
}
