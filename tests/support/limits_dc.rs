//! A scripted LDAP server on loopback that plays a Windows DC enforcing its LDAP policy limits on the user scan of
//! probe `ad_users`: it serves `users` enabled users in pages of at most `page_cap` entries whatever page size the
//! client asks for (Windows caps a page at MaxPageSize, 1,000 by default, and hands a cookie for the rest), and
//! can be told to end the second page with sizeLimitExceeded (4) or adminLimitExceeded (11), as a DC does when a
//! limit (MaxResultSetSize, MaxPageSize on an unpaged search) cuts the result short. An unpaged user scan gets
//! `page_cap` users, then sizeLimitExceeded.
//!
//! Besides the user scan (the only subtree search sent with both the paged-results and the SD flags controls) it
//! answers just enough for a cycle of `ad_users`: any bind; the rootDSE (without highestCommittedUSN, so every cycle
//! is a full scan); the domain root at BASE scope; noSuchObject for every other BASE read; an empty result for
//! every other search (no other DCs, domains, containers or connector accounts). Other probes fail or find nothing,
//! harmlessly. Plain LDAP only.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::ldap_wire::{
    entry, listen, message, message_with_controls, octets, read_all, read_tlv, result, tlv, uint, Answer, Listening,
};

pub const DOMAIN_DN: &str = "DC=corp,DC=example,DC=test";
pub const DOMAIN: &str = "corp.example.test";
const PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
const SD_FLAGS: &str = "1.2.840.113556.1.4.801";

/// How the DC ends the second page of the user scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Every page complete, a cookie while more users remain.
    None,
    /// With this result code after one entry, and an empty cookie: the search is over.
    After1stPage(u8),
    /// With this result code after one entry, yet a cookie past the users it left out; the pages after it are
    /// complete (a misbehaving DC, or one whose limit eased meanwhile).
    SecondPageCutShort(u8),
}

/// The behaviour and the counters, shared with the connections.
struct Script {
    users: usize,
    page_cap: usize,
    limit: Mutex<Limit>,
    pages: AtomicU64,
    largest_ask: AtomicU64,
}

pub struct LimitsDc {
    pub addr: SocketAddr,
    script: Arc<Script>,
    _server: Listening,
}

impl LimitsDc {
    /// A DC holding `users` enabled users under `CN=Users` that returns at most `page_cap` of them per page.
    pub async fn start(users: usize, page_cap: usize) -> LimitsDc {
        let script = Arc::new(Script {
            users,
            page_cap,
            limit: Mutex::new(Limit::None),
            pages: AtomicU64::new(0),
            largest_ask: AtomicU64::new(0),
        });
        let shared = script.clone();
        let answer: Answer = Arc::new(move |msg: &[u8]| answer(msg, &shared));
        let server = listen(answer).await;
        LimitsDc { addr: server.addr, script, _server: server }
    }

    /// From the next user scan on, end its second page as `limit` says.
    pub fn set_limit(&self, limit: Limit) {
        *self.script.limit.lock().unwrap() = limit;
    }

    /// Pages of the user scan served so far (every request of it, the first included).
    pub fn pages(&self) -> u64 {
        self.script.pages.load(Ordering::SeqCst)
    }

    /// The largest page size a user scan asked for.
    pub fn largest_ask(&self) -> u64 {
        self.script.largest_ask.load(Ordering::SeqCst)
    }

    /// A YAML target for this DC, with `extra` lines appended under `ad:` (6 spaces of indentation).
    pub fn target(&self, password_file: &std::path::Path, extra: &str) -> String {
        format!(
            "  - name: corp\n    ad:\n      servers: [\"ldap://{}\"]\n      allow_plaintext: true\n      gpo: false\n      \
             bind:\n        user: svc\n        password_file: \"{}\"\n{extra}",
            self.addr,
            password_file.display()
        )
    }
}

/// What a SearchRequest asks, as far as the script tells searches apart.
struct Search<'a> {
    base: &'a [u8],
    scope: u8,
    /// The paged-results control: (size, cookie).
    paged: Option<(u64, &'a [u8])>,
    sd_flags: bool,
}

fn parse_search<'a>(op: &'a [u8], controls: Option<&'a [u8]>) -> Option<Search<'a>> {
    let fields = read_all(op);
    let (base, scope) = (fields.first()?.1, *fields.get(1)?.1.first()?);
    let (mut paged, mut sd_flags) = (None, false);
    for (_, control) in read_all(controls.unwrap_or_default()) {
        let parts = read_all(control);
        let oid = parts.first()?.1;
        let value = parts.iter().skip(1).find(|(tag, _)| *tag == 0x04).map(|(_, v)| *v);
        if oid == PAGED_RESULTS.as_bytes() {
            let (_, seq, _) = read_tlv(value?)?;
            let inner = read_all(seq);
            paged = Some((uint(inner.first()?.1), inner.get(1)?.1));
        } else if oid == SD_FLAGS.as_bytes() {
            sd_flags = true;
        }
    }
    Some(Search { base, scope, paged, sd_flags })
}

fn answer(msg: &[u8], script: &Script) -> Option<Vec<u8>> {
    let (_, id, used) = read_tlv(msg)?;
    let (op_tag, op, op_used) = read_tlv(&msg[used..])?;
    let done = |code: u8| message(id, tlv(0x65, &result(code, "", None)));
    match op_tag {
        0x60 => Some(message(id, tlv(0x61, &result(0, "", None)))), // bind
        0x63 => {
            let controls = read_tlv(&msg[used + op_used..]).filter(|(tag, ..)| *tag == 0xa0).map(|(_, c, _)| c);
            let Some(search) = parse_search(op, controls) else { return Some(done(2)) };
            let mut out = Vec::new();
            match (search.base, search.scope, search.paged) {
                (b"", 0, _) => {
                    out.extend(message(id, root_dse()));
                    out.extend(done(0));
                }
                (base, 0, _) if base.eq_ignore_ascii_case(DOMAIN_DN.as_bytes()) => {
                    let attrs = [("objectClass", text(&["top", "domain", "domainDNS"]))];
                    out.extend(message(id, entry(DOMAIN_DN, &attrs)));
                    out.extend(done(0));
                }
                (_, 0, _) => out.extend(done(32)), // noSuchObject
                (_, 2, Some((size, cookie))) if search.sd_flags => out.extend(user_page(id, script, size, cookie)),
                (_, 2, None) if search.sd_flags => out.extend(unpaged_users(id, script)),
                _ => out.extend(done(0)),
            }
            Some(out)
        }
        0x77 => Some(message(id, tlv(0x78, &result(53, "", None)))), // extended operations: unwillingToPerform
        0x42 => None,                                                // unbind
        _ => Some(Vec::new()),                                       // abandon and the like: no answer
    }
}

/// One page of the user scan: at most `page_cap` users from the cookie's offset on.
fn user_page(id: &[u8], script: &Script, size: u64, cookie: &[u8]) -> Vec<u8> {
    script.pages.fetch_add(1, Ordering::SeqCst);
    script.largest_ask.fetch_max(size, Ordering::SeqCst);
    let offset: usize = std::str::from_utf8(cookie).ok().and_then(|c| c.parse().ok()).unwrap_or(0);
    let page = usize::try_from(size).unwrap_or(usize::MAX).min(script.page_cap);
    let limit = if offset == page { *script.limit.lock().unwrap() } else { Limit::None };
    let (end, code, next) = match limit {
        Limit::None => (offset + page, 0, offset + page),
        Limit::After1stPage(code) => (offset + 1, code, script.users),
        Limit::SecondPageCutShort(code) => (offset + 1, code, offset + page),
    };
    let end = end.min(script.users);
    let mut out: Vec<u8> = (offset..end).flat_map(|i| message(id, user(i))).collect();
    let next = if next < script.users { next.to_string() } else { String::new() };
    let value = tlv(0x30, &[tlv(0x02, &[0]), octets(&next)].concat());
    let control = tlv(0x30, &[octets(PAGED_RESULTS), tlv(0x04, &value)].concat());
    out.extend(message_with_controls(id, tlv(0x65, &result(code, "", None)), &[control]));
    out
}

/// The user scan without paging: at most `page_cap` users, then sizeLimitExceeded (MaxPageSize caps unpaged
/// searches too).
fn unpaged_users(id: &[u8], script: &Script) -> Vec<u8> {
    let end = script.page_cap.min(script.users);
    let mut out: Vec<u8> = (0..end).flat_map(|i| message(id, user(i))).collect();
    let code = if end < script.users { 4 } else { 0 };
    out.extend(message(id, tlv(0x65, &result(code, "", None))));
    out
}

fn user(i: usize) -> Vec<u8> {
    let mut guid = [0x5a; 16];
    guid[..8].copy_from_slice(&(i as u64).to_be_bytes());
    // Self-relative, DACL present and empty: parses, grants nothing.
    let sd = vec![1, 0, 0x04, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 2, 0, 8, 0, 0, 0, 0, 0];
    let attrs = [
        ("objectGUID", vec![guid.to_vec()]),
        ("objectClass", text(&["top", "person", "organizationalPerson", "user"])),
        ("nTSecurityDescriptor", vec![sd]),
    ];
    entry(&format!("CN=user{i:05},CN=Users,{DOMAIN_DN}"), &attrs)
}

fn root_dse() -> Vec<u8> {
    let attrs = [
        ("defaultNamingContext", text(&[DOMAIN_DN])),
        ("configurationNamingContext", text(&[&format!("CN=Configuration,{DOMAIN_DN}")])),
        ("schemaNamingContext", text(&[&format!("CN=Schema,CN=Configuration,{DOMAIN_DN}")])),
        ("dnsHostName", text(&["dc1.corp.example.test"])),
        ("supportedControl", text(&[PAGED_RESULTS, SD_FLAGS])),
    ];
    entry("", &attrs)
}

fn text(values: &[&str]) -> Vec<Vec<u8>> {
    values.iter().map(|v| v.as_bytes().to_vec()).collect()
}
