//! Arbitrary UTF-8 as SDDL, with and without a domain SID. Nothing may panic, and whatever parses must be
//! stable: its rendering parses back to the same descriptor and renders identically, and its binary form
//! reads back to the same ACEs and SDDL.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use writeback_exporter::ad::security::{parse_sddl, Ace, SdError, Sddl, SecurityDescriptor, Sid};

fn domain() -> &'static Sid {
    static DOMAIN: OnceLock<Sid> = OnceLock::new();
    DOMAIN.get_or_init(|| "S-1-5-21-1-2-3".parse().expect("constant SID"))
}

fn check_round_trip(text: &str, parsed: &Sddl) {
    // Rendering writes domain SIDs numerically, so no domain is needed to read it back.
    let rendered = parsed.to_string();
    let again = parse_sddl(&rendered, None).unwrap_or_else(|e| panic!("{text:?} rendered as {rendered:?}: {e}"));
    assert_eq!((&again.owner, &again.group, &again.dacl), (&parsed.owner, &parsed.group, &parsed.dacl), "{text:?}");
    // A NULL or absent DACL renders as no D: part at all, so P survives only on a real DACL.
    if parsed.dacl.is_some() {
        assert_eq!(again.dacl_protected, parsed.dacl_protected, "{text:?}");
    }
    assert_eq!(again.to_string(), rendered, "{text:?}");

    // Text → bytes → parsed descriptor → ACEs and SDDL.
    let Ok(bytes) = parsed.to_bytes() else { return };
    let sd = SecurityDescriptor::parse(&bytes).unwrap_or_else(|e| panic!("{text:?}: own bytes: {e}"));
    assert_eq!(sd.owner().transpose().ok().flatten(), parsed.owner);
    assert_eq!(sd.group().transpose().ok().flatten(), parsed.group);
    let aces: Option<Result<Vec<Ace>, SdError>> =
        sd.dacl_aces().map(|it| it.map(|a| a.and_then(|v| v.to_owned())).collect());
    assert_eq!(aces.transpose().as_ref(), Ok(&parsed.dacl), "{text:?}");
    let from_bytes = sd.to_sddl().unwrap_or_else(|e| panic!("{text:?}: {e}"));
    let reparsed = parse_sddl(&from_bytes, None).unwrap_or_else(|e| panic!("{text:?} → {from_bytes:?}: {e}"));
    assert_eq!(reparsed.dacl, parsed.dacl, "{text:?} → {from_bytes:?}");
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let without = parse_sddl(text, None);
    let with = parse_sddl(text, Some(domain()));
    if let Ok(parsed) = &without {
        // A domain SID only resolves aliases: what parsed without one parses the same with one.
        assert_eq!(with.as_ref(), Ok(parsed), "{text:?}");
        check_round_trip(text, parsed);
    }
    if let Ok(parsed) = &with {
        check_round_trip(text, parsed);
    }
});
