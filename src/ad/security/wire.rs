//! Bounds-checked reads from wire bytes, and the error every malformed input becomes.
//!
//! Every read names the field and its absolute offset, so an error says where a descriptor went wrong.
//! A read is bounded twice: by the buffer and by `limit`, the end of the enclosing structure (an ACE
//! may not borrow bytes from the next one even when the buffer goes on).

/// Why bytes or text are not a valid SID, GUID, ACE, ACL or security descriptor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdError {
    /// A structure runs past the end of the bytes that hold it.
    #[error("{field} at offset {offset}: needs {needed} bytes, only {available} available")]
    Truncated { field: &'static str, offset: usize, needed: usize, available: usize },
    /// A value the format forbids (bad revision, size below the minimum, offset into the header...).
    #[error("{field} at offset {offset}: {problem}")]
    Invalid { field: &'static str, offset: usize, problem: String },
    /// Text that is not a SID or a GUID.
    #[error("invalid {what} {text:?}: {problem}")]
    Text { what: &'static str, text: String, problem: &'static str },
    /// An ACE whose type has no layout we know cannot become an owned `Ace`.
    #[error("ACE type 0x{ace_type:02x} has no known layout")]
    UnsupportedAce { ace_type: u8 },
    /// Serialising a value the binary format cannot hold.
    #[error("cannot serialise: {0}")]
    Encode(String),
}

/// Text is echoed in errors; hostile input must not make them unbounded.
pub(crate) fn clip(text: &str) -> String {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", text.get(..cut).unwrap_or_default()),
        None => text.to_string(),
    }
}

pub(crate) fn truncated(field: &'static str, offset: usize, needed: usize, limit: usize) -> SdError {
    SdError::Truncated { field, offset, needed, available: limit.saturating_sub(offset) }
}

pub(crate) fn invalid(field: &'static str, offset: usize, problem: impl Into<String>) -> SdError {
    SdError::Invalid { field, offset, problem: problem.into() }
}

/// `len` bytes at `start`, which must end at or before `limit` (and inside `buf`).
pub(crate) fn take<'a>(
    buf: &'a [u8],
    start: usize,
    len: usize,
    limit: usize,
    field: &'static str,
) -> Result<&'a [u8], SdError> {
    let end = start.checked_add(len).filter(|end| *end <= limit);
    end.and_then(|end| buf.get(start..end)).ok_or_else(|| truncated(field, start, len, limit.min(buf.len())))
}

pub(crate) fn array_at<const N: usize>(
    buf: &[u8],
    start: usize,
    limit: usize,
    field: &'static str,
) -> Result<[u8; N], SdError> {
    take(buf, start, N, limit, field)
        .and_then(|b| b.first_chunk::<N>().copied().ok_or_else(|| truncated(field, start, N, limit)))
}

pub(crate) fn u16_at(buf: &[u8], start: usize, limit: usize, field: &'static str) -> Result<u16, SdError> {
    array_at::<2>(buf, start, limit, field).map(u16::from_le_bytes)
}

pub(crate) fn u32_at(buf: &[u8], start: usize, limit: usize, field: &'static str) -> Result<u32, SdError> {
    array_at::<4>(buf, start, limit, field).map(u32::from_le_bytes)
}

/// Checked `a + b` for positions computed from wire values.
pub(crate) fn add(a: usize, b: usize, field: &'static str) -> Result<usize, SdError> {
    a.checked_add(b).ok_or_else(|| invalid(field, a, "offset overflows"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded_by_limit_and_buffer() {
        let buf = [1u8, 2, 3, 4, 5, 6];
        assert_eq!(u16_at(&buf, 0, 6, "x"), Ok(0x0201));
        assert_eq!(u32_at(&buf, 2, 6, "x"), Ok(0x0605_0403));
        // limit shorter than the buffer: the structure ends there
        assert_eq!(u32_at(&buf, 2, 5, "x"), Err(SdError::Truncated { field: "x", offset: 2, needed: 4, available: 3 }));
        // limit longer than the buffer: the buffer still bounds
        assert!(u32_at(&buf, 4, 100, "x").is_err());
        assert!(take(&buf, usize::MAX, 2, usize::MAX, "x").is_err());
        assert!(take(&buf, 7, 0, 100, "x").is_err());
    }

    #[test]
    fn clip_bounds_echoed_text() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(200);
        assert_eq!(clip(&long).chars().count(), 83);
    }
}
