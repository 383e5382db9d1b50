//! A minimal LDAP server on loopback that plays a DC holding none of the naming contexts it is asked about: it
//! accepts any simple bind, answers the rootDSE like an AD DC, and answers every other search with a referral
//! (result code 10), as a Windows DC does for a base DN outside its naming contexts. Samba answers those with
//! noSuchObject, so referrals need this stand-in. Plain LDAP only.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::ldap_wire::{entry, listen, message, read_tlv, result, tlv, Listening};

/// Where the referrals point.
pub const REFERRAL_URL: &str = "ldap://elsewhere.example.test/DC=elsewhere,DC=example,DC=test";

pub struct ReferralDc {
    pub addr: SocketAddr,
    /// Searches answered with a referral so far.
    pub referrals: Arc<AtomicU64>,
    _server: Listening,
}

impl ReferralDc {
    pub async fn start() -> ReferralDc {
        let referrals = Arc::new(AtomicU64::new(0));
        let counter = referrals.clone();
        let server = listen(Arc::new(move |msg: &[u8]| answer(msg, &counter))).await;
        ReferralDc { addr: server.addr, referrals, _server: server }
    }
}

fn answer(msg: &[u8], referrals: &AtomicU64) -> Option<Vec<u8>> {
    let (_, id, used) = read_tlv(msg)?;
    let (op_tag, op, _) = read_tlv(&msg[used..])?;
    match op_tag {
        0x60 => Some(message(id, tlv(0x61, &result(0, "", None)))), // bind
        0x63 => {
            let (_, base, _) = read_tlv(op)?;
            if base.is_empty() {
                let text = |v: &str| vec![v.as_bytes().to_vec()];
                let attrs = [
                    ("defaultNamingContext", text("DC=corp,DC=example,DC=test")),
                    ("configurationNamingContext", text("CN=Configuration,DC=corp,DC=example,DC=test")),
                    ("schemaNamingContext", text("CN=Schema,CN=Configuration,DC=corp,DC=example,DC=test")),
                    ("dnsHostName", text("stray.corp.example.test")),
                ];
                let mut out = message(id, entry("", &attrs));
                out.extend(message(id, tlv(0x65, &result(0, "", None))));
                Some(out)
            } else {
                referrals.fetch_add(1, Ordering::SeqCst);
                Some(message(id, tlv(0x65, &result(10, "", Some(REFERRAL_URL)))))
            }
        }
        0x42 => None,          // unbind
        _ => Some(Vec::new()), // abandon and the like: no answer
    }
}
