//! The security template of a GPO (`GptTmpl.inf`): decoding (UTF-16LE with BOM as Windows writes it, UTF-16BE,
//! UTF-8 with or without BOM) and INF parsing into sections of `key = value` lines. Pure and panic-free: the file
//! comes from SYSVOL, which anyone who can edit a GPO can write, so it is fuzzed (`fuzz/fuzz_targets/gpt_inf.rs`).
//!
//! INF syntax as Windows' profile API and `secedit` read it: `[Section]` headers, `key = value` lines, `;` starts a
//! comment outside double quotes, `""` inside quotes is a literal quote. Section and key names are matched without
//! regard to ASCII case; lines without `=` (the `[File Security]` and `[Registry Keys]` forms) are kept as entries
//! without a value.

use std::fmt;

/// Largest template accepted (real ones are a few KB; the limit keeps a hostile file from costing memory).
pub const MAX_TEMPLATE_BYTES: usize = 1 << 20;

/// Where and why a template could not be read. `line` is 1-based; 0 when the problem is the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InfError {
    pub line: usize,
    pub problem: String,
}

impl fmt::Display for InfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.problem)
        } else {
            write!(f, "line {}: {}", self.line, self.problem)
        }
    }
}

fn err(line: usize, problem: impl Into<String>) -> InfError {
    InfError { line, problem: problem.into() }
}

/// One `key = value` line (or a bare line: `value` is `None`). The key is trimmed; the value is trimmed, comments
/// removed, quotes kept (see [`unquote`] and [`split_list`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: Option<String>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inf {
    pub sections: Vec<Section>,
}

impl Inf {
    /// Decodes and parses the file's bytes.
    ///
    /// # Errors
    /// Undecodable text, or a line that is not INF syntax.
    pub fn from_bytes(bytes: &[u8]) -> Result<Inf, InfError> {
        parse(&decode(bytes)?)
    }

    /// The first entry named `key` in the first section named `section` that has it (Windows' profile API reads
    /// the first occurrence).
    pub fn get(&self, section: &str, key: &str) -> Option<&Entry> {
        self.sections
            .iter()
            .filter(|s| s.name.eq_ignore_ascii_case(section))
            .flat_map(|s| &s.entries)
            .find(|e| e.key.eq_ignore_ascii_case(key))
    }

    /// An integer setting (`MinimumPasswordAge = 1`); `Ok(None)` when absent.
    ///
    /// # Errors
    /// Present but not an integer, or without a value.
    pub fn int(&self, section: &str, key: &str) -> Result<Option<i64>, InfError> {
        let Some(entry) = self.get(section, key) else { return Ok(None) };
        let raw = entry.value.as_deref().ok_or_else(|| err(entry.line, format!("{key} has no value")))?;
        unquote(raw)
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| err(entry.line, format!("{key} is not an integer: {:?}", clip(raw))))
    }
}

/// Text of the file. UTF-16 needs its BOM or the telltale NUL bytes of ASCII text; everything else must be UTF-8.
///
/// # Errors
/// Oversized files, odd-length or unpaired-surrogate UTF-16, invalid UTF-8 (the line is named).
pub fn decode(bytes: &[u8]) -> Result<String, InfError> {
    if bytes.len() > MAX_TEMPLATE_BYTES {
        return Err(err(0, format!("file is {} bytes, more than the {MAX_TEMPLATE_BYTES} accepted", bytes.len())));
    }
    let (body, little) = match bytes {
        [0xFF, 0xFE, rest @ ..] => (rest, Some(true)),
        [0xFE, 0xFF, rest @ ..] => (rest, Some(false)),
        [0xEF, 0xBB, 0xBF, rest @ ..] => (rest, None),
        // UTF-16LE without BOM: "[\0" as Windows writes the first section header.
        [a, 0, b, 0, ..] if *a != 0 && *b != 0 => (bytes, Some(true)),
        _ => (bytes, None),
    };
    match little {
        None => std::str::from_utf8(body).map(str::to_string).map_err(|e| {
            let line = 1 + body.get(..e.valid_up_to()).unwrap_or_default().iter().filter(|b| **b == b'\n').count();
            err(line, "not valid UTF-8 (nor UTF-16 with a byte order mark)")
        }),
        Some(little) => {
            if body.len() % 2 != 0 {
                return Err(err(0, "UTF-16 text with an odd number of bytes (truncated file?)"));
            }
            let units = body.chunks_exact(2).map(|c| match c {
                [a, b] if little => u16::from_le_bytes([*a, *b]),
                [a, b] => u16::from_be_bytes([*a, *b]),
                _ => 0,
            });
            let mut text = String::with_capacity(body.len() / 2);
            let mut line = 1;
            for ch in char::decode_utf16(units) {
                match ch {
                    Ok(c) => {
                        if c == '\n' {
                            line += 1;
                        }
                        text.push(c);
                    }
                    Err(_) => return Err(err(line, "invalid UTF-16 (unpaired surrogate)")),
                }
            }
            Ok(text)
        }
    }
}

/// Parses INF text.
///
/// # Errors
/// A `key = value` line before any section, an unterminated section header or quoted string, an empty section
/// name or key, a NUL character.
pub fn parse(text: &str) -> Result<Inf, InfError> {
    let mut inf = Inf::default();
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        if raw.contains('\0') {
            return Err(err(line, "NUL character"));
        }
        let content = strip_comment(raw).map_err(|p| err(line, p))?.trim();
        if content.is_empty() {
            continue;
        }
        if let Some(rest) = content.strip_prefix('[') {
            let name = rest.strip_suffix(']').ok_or_else(|| err(line, "section header without closing `]`"))?.trim();
            if name.is_empty() {
                return Err(err(line, "empty section name"));
            }
            inf.sections.push(Section { name: name.to_string(), line, entries: Vec::new() });
            continue;
        }
        let Some(section) = inf.sections.last_mut() else {
            return Err(err(line, format!("{:?} outside any [section]", clip(content))));
        };
        let entry = match split_key(content) {
            Some((key, value)) => {
                let key = key.trim();
                if key.is_empty() {
                    return Err(err(line, format!("no key before `=`: {:?}", clip(content))));
                }
                Entry { key: unquote(key).into_owned(), value: Some(value.trim().to_string()), line }
            }
            None => Entry { key: content.to_string(), value: None, line },
        };
        section.entries.push(entry);
    }
    Ok(inf)
}

/// The line without its comment (`;` outside quotes) and without a trailing `\r`.
fn strip_comment(line: &str) -> Result<&str, &'static str> {
    let mut quoted = false;
    for (at, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return Ok(line.get(..at).unwrap_or_default()),
            _ => {}
        }
    }
    if quoted {
        return Err("unterminated quoted string");
    }
    Ok(line.strip_suffix('\r').unwrap_or(line))
}

/// Splits at the first `=` outside quotes.
fn split_key(content: &str) -> Option<(&str, &str)> {
    let mut quoted = false;
    for (at, c) in content.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '=' if !quoted => return Some((content.get(..at)?, content.get(at + 1..)?)),
            _ => {}
        }
    }
    None
}

/// `"a ""b"""` → `a "b"`; unquoted text is returned trimmed as it is.
pub fn unquote(value: &str) -> std::borrow::Cow<'_, str> {
    let value = value.trim();
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) if value.len() >= 2 => std::borrow::Cow::Owned(inner.replace("\"\"", "\"")),
        _ => std::borrow::Cow::Borrowed(value),
    }
}

/// A comma-separated value (`1,"O:BAG:BAD:(A;;RC;;;BA)"`) split at commas outside quotes, each part unquoted.
pub fn split_list(value: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (at, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(unquote(value.get(start..at).unwrap_or_default()).into_owned());
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(unquote(value.get(start..).unwrap_or_default()).into_owned());
    parts
}

/// At most 60 characters of offending text for error messages.
fn clip(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le_bom(text: &str) -> Vec<u8> {
        let mut out = vec![0xFF, 0xFE];
        out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        out
    }

    const TEMPLATE: &str = "[Unicode]\r\nUnicode=yes\r\n[System Access]\r\nMinimumPasswordAge = 1\r\n\
        MaximumPasswordAge = 42\r\n; a comment\r\nPasswordComplexity = 1 ; trailing comment\r\n\
        [Registry Values]\r\nMACHINE\\System\\CurrentControlSet\\Control\\Lsa\\RestrictRemoteSAM=1,\"O:BAG:BAD:(A;;RC;;;BA)\"\r\n\
        [File Security]\r\n\"%SystemRoot%\\x\",2,\"D:P(A;;GA;;;BA)\"\r\n[Version]\r\nsignature=\"$CHICAGO$\"\r\nRevision=1\r\n";

    #[test]
    fn windows_template_in_utf16le_with_bom() {
        let inf = Inf::from_bytes(&utf16le_bom(TEMPLATE)).unwrap();
        assert_eq!(inf.int("system access", "minimumpasswordage").unwrap(), Some(1));
        assert_eq!(inf.int("System Access", "MaximumPasswordAge").unwrap(), Some(42));
        assert_eq!(inf.int("System Access", "PasswordComplexity").unwrap(), Some(1));
        assert_eq!(inf.int("System Access", "LockoutBadCount").unwrap(), None);
        let sam =
            inf.get("Registry Values", r"MACHINE\System\CurrentControlSet\Control\Lsa\RestrictRemoteSAM").unwrap();
        assert_eq!(sam.line, 9);
        assert_eq!(split_list(sam.value.as_deref().unwrap()), ["1", "O:BAG:BAD:(A;;RC;;;BA)"]);
        assert_eq!(inf.get("Version", "signature").and_then(|e| e.value.as_deref()), Some("\"$CHICAGO$\""));
        let file = &inf.sections[3].entries[0];
        assert_eq!(file.value, None);
    }

    #[test]
    fn same_text_in_every_encoding() {
        let expected = parse(TEMPLATE).unwrap();
        let mut be = vec![0xFE, 0xFF];
        be.extend(TEMPLATE.encode_utf16().flat_map(u16::to_be_bytes));
        let no_bom: Vec<u8> = TEMPLATE.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let mut utf8_bom = vec![0xEF, 0xBB, 0xBF];
        utf8_bom.extend(TEMPLATE.as_bytes());
        for bytes in [utf16le_bom(TEMPLATE), be, no_bom, utf8_bom, TEMPLATE.as_bytes().to_vec()] {
            assert_eq!(Inf::from_bytes(&bytes).unwrap(), expected);
        }
    }

    #[test]
    fn malformed_input_names_the_line() {
        let cases: [(&[u8], usize, &str); 9] = [
            (b"[System Access]\nMinimumPasswordAge = one\n", 2, "not an integer"),
            (b"MinimumPasswordAge = 1\n", 1, "outside any [section]"),
            (b"[System Access\nx=1\n", 1, "closing `]`"),
            (b"[Version]\nsignature=\"$CHICAGO$\n", 2, "unterminated quoted"),
            (b"[ ]\n", 1, "empty section name"),
            (b"[a]\n = 3\n", 2, "no key"),
            (b"[a]\nb=\xff\n", 2, "UTF-8"),
            (&[0xFF, 0xFE, b'[', 0, 0x00, 0xD8, b']', 0], 1, "surrogate"),
            (&[0xFF, 0xFE, b'[', 0, b'a'], 0, "odd number"),
        ];
        for (bytes, line, problem) in cases {
            let e = Inf::from_bytes(bytes).and_then(|inf| inf.int("System Access", "MinimumPasswordAge").map(|_| ()));
            let e = e.expect_err(problem);
            assert_eq!(e.line, line, "{e}");
            assert!(e.problem.contains(problem), "{e}");
        }
        assert!(Inf::from_bytes(b"[a]\nb=1\0\n").unwrap_err().problem.contains("NUL"));
    }

    #[test]
    fn quotes_and_lists() {
        assert_eq!(unquote("\"a \"\"b\"\"\""), "a \"b\"");
        assert_eq!(unquote("\""), "\"");
        assert_eq!(unquote(" plain "), "plain");
        assert_eq!(split_list("7,\"a,b\",c"), ["7", "a,b", "c"]);
        assert_eq!(split_list(""), [""]);
        let inf = parse("[Privilege Rights]\n\"quoted key\" = \"v;v\" ; comment\n").unwrap();
        assert_eq!(inf.get("Privilege Rights", "quoted key").and_then(|e| e.value.as_deref()), Some("\"v;v\""));
    }

    #[test]
    fn empty_and_comment_only_files_have_no_sections() {
        assert_eq!(Inf::from_bytes(b"").unwrap(), Inf::default());
        assert_eq!(Inf::from_bytes(&utf16le_bom("; nothing\r\n\r\n")).unwrap(), Inf::default());
    }

    #[test]
    fn oversized_files_are_refused() {
        let big = vec![b' '; MAX_TEMPLATE_BYTES + 1];
        assert_eq!(Inf::from_bytes(&big).unwrap_err().line, 0);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = Inf::from_bytes(&bytes);
        }

        #[test]
        fn never_panics_on_text(text in "[\\[\\]=;\"a-zA-Z0-9 \\r\\n,\\\\]{0,200}") {
            if let Ok(inf) = parse(&text) {
                for section in &inf.sections {
                    for entry in &section.entries {
                        if let Some(value) = &entry.value {
                            let _ = split_list(value);
                        }
                        let _ = inf.int(&section.name, &entry.key);
                    }
                }
            }
        }

        #[test]
        fn written_settings_read_back(age in 0i64..1000, len in 0i64..128, utf16 in proptest::bool::ANY) {
            let text = format!("[Unicode]\r\nUnicode=yes\r\n[System Access]\r\nMinimumPasswordAge = {age}\r\nMinimumPasswordLength={len}\r\n");
            let bytes = if utf16 { utf16le_bom(&text) } else { text.into_bytes() };
            let inf = Inf::from_bytes(&bytes).unwrap();
            proptest::prop_assert_eq!(inf.int("System Access", "MinimumPasswordAge").unwrap(), Some(age));
            proptest::prop_assert_eq!(inf.int("System Access", "MinimumPasswordLength").unwrap(), Some(len));
        }
    }
}
