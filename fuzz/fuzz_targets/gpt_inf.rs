//! Arbitrary bytes as a GPO's `GptTmpl.inf` (SYSVOL content anyone who edits a GPO can write). Nothing may panic,
//! and: decoding then parsing is what `Inf::from_bytes` does; the decoded text re-encoded as Windows writes it
//! (UTF-16LE with BOM) parses to the same sections; every entry's line lies inside the text; every typed read
//! (`int`, `Template::from_inf`, the RestrictRemoteSAM SDDL check) returns instead of panicking.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use writeback_exporter::ad::gpo::inf::{decode, parse, split_list, Inf};
use writeback_exporter::ad::gpo::template::{sam_allows, Template};
use writeback_exporter::ad::security::{Sid, Token};

fn domain() -> &'static Sid {
    static DOMAIN: OnceLock<Sid> = OnceLock::new();
    DOMAIN.get_or_init(|| "S-1-5-21-1-2-3".parse().expect("constant SID"))
}

fn connector() -> &'static Token {
    static TOKEN: OnceLock<Token> = OnceLock::new();
    TOKEN.get_or_init(|| Token::new(domain().with_rid(1105), [domain().with_rid(513), domain().with_rid(1200)]))
}

fuzz_target!(|data: &[u8]| {
    let parsed = Inf::from_bytes(data);
    let text = decode(data);
    match (&text, &parsed) {
        (Ok(text), _) => assert_eq!(parse(text), parsed, "from_bytes = parse(decode)"),
        (Err(e), Err(p)) => assert_eq!(e, p, "a decoding error is from_bytes' error"),
        (Err(_), Ok(_)) => panic!("decoding failed but from_bytes succeeded"),
    }
    let (Ok(text), Ok(inf)) = (text, parsed) else { return };
    let lines = text.split('\n').count();
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    if utf16.len() <= writeback_exporter::ad::gpo::inf::MAX_TEMPLATE_BYTES {
        assert_eq!(Inf::from_bytes(&utf16).as_ref(), Ok(&inf), "UTF-16LE with BOM reads the same");
    }
    for section in &inf.sections {
        assert!(section.line >= 1 && section.line <= lines);
        for entry in &section.entries {
            assert!(entry.line > section.line && entry.line <= lines);
            if let Some(value) = &entry.value {
                let _ = split_list(value);
            }
            let _ = inf.int(&section.name, &entry.key);
        }
    }
    if let Ok(template) = Template::from_inf(&inf) {
        if let Some((sddl, _)) = &template.restrict_remote_sam {
            let _ = sam_allows(sddl, Some(domain()), connector());
        }
    }
});
