use ldap3::controls::{Control, PagedResults, RawControl};
use ldap3::LdapResult;

use super::{paged_cookie, Entry, PAGED_RESULTS_OID};

#[test]
fn the_cookie_of_a_page_is_read_without_trusting_it() {
    let with = |val: Option<Vec<u8>>| LdapResult {
        rc: 0,
        matched: String::new(),
        text: String::new(),
        refs: Vec::new(),
        ctrls: vec![Control(None, RawControl { ctype: PAGED_RESULTS_OID.to_string(), crit: false, val })],
    };
    let control = |cookie: &[u8]| RawControl::from(PagedResults { size: 0, cookie: cookie.to_vec() }).val;
    let cases: [(LdapResult, Option<Option<Vec<u8>>>); 6] = [
        (LdapResult { ctrls: Vec::new(), ..with(None) }, Some(None)),
        (with(control(b"")), Some(None)),
        (with(control(b"next")), Some(Some(b"next".to_vec()))),
        (with(None), None),
        (with(Some(vec![0x30, 0x03, 0x02, 0x01, 0x00])), None),
        (with(Some(vec![0x30, 0x7f, 0x02])), None),
    ];
    for (i, (result, expected)) in cases.into_iter().enumerate() {
        assert_eq!(paged_cookie(&result), expected, "case {i}");
    }
}

#[test]
fn a_ranged_attribute_is_found_and_flagged() {
    let entry = Entry::from_pairs("CN=g", &[("member;range=0-1499", "CN=a"), ("cn", "g")]);
    assert_eq!(entry.first("member"), Some("CN=a"));
    assert!(entry.is_ranged("member"));
    assert!(!entry.is_ranged("cn"));
    assert_eq!(entry.first("mem"), None, "a prefix is not the attribute");
    assert!(!entry.is_ranged("memberOf"));
}
