//! A minimal LDAP server on loopback that plays a DC holding none of the naming contexts it is asked about: it
//! accepts any simple bind, answers the rootDSE like an AD DC, and answers every other search with a referral
//! (result code 10), as a Windows DC does for a base DN outside its naming contexts. Samba answers those with
//! noSuchObject, so referrals need this stand-in. Plain LDAP only.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Where the referrals point.
pub const REFERRAL_URL: &str = "ldap://elsewhere.example.test/DC=elsewhere,DC=example,DC=test";

pub struct ReferralDc {
    pub addr: SocketAddr,
    /// Searches answered with a referral so far.
    pub referrals: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl ReferralDc {
    pub async fn start() -> ReferralDc {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let referrals = Arc::new(AtomicU64::new(0));
        let counter = referrals.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, counter.clone()));
            }
        });
        ReferralDc { addr, referrals, task }
    }
}

impl Drop for ReferralDc {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, referrals: Arc<AtomicU64>) {
    let mut buf = Vec::new();
    loop {
        while let Some((message, used)) = split_message(&buf) {
            let reply = answer(&message, &referrals);
            buf.drain(..used);
            match reply {
                Some(bytes) => {
                    if stream.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                None => return, // unbind
            }
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// One whole TLV at the start of `buf`: (its content, bytes used).
fn split_message(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let (_, content, used) = read_tlv(buf)?;
    Some((content.to_vec(), used))
}

/// (tag, content, total length) of the TLV at the start of `buf`.
fn read_tlv(buf: &[u8]) -> Option<(u8, &[u8], usize)> {
    let tag = *buf.first()?;
    let first = *buf.get(1)?;
    let (len, header) = if first & 0x80 == 0 {
        (first as usize, 2)
    } else {
        let n = (first & 0x7f) as usize;
        let bytes = buf.get(2..2 + n)?;
        (bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize), 2 + n)
    };
    let content = buf.get(header..header + len)?;
    Some((tag, content, header + len))
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn octets(s: &str) -> Vec<u8> {
    tlv(0x04, s.as_bytes())
}

/// LDAPResult fields: resultCode, matchedDN, diagnosticMessage (+ referral [3] when code 10).
fn result(code: u8, referral: Option<&str>) -> Vec<u8> {
    let mut out = tlv(0x0a, &[code]);
    out.extend(octets(""));
    out.extend(octets(""));
    if let Some(url) = referral {
        out.extend(tlv(0xa3, &octets(url)));
    }
    out
}

fn message(id: &[u8], op: Vec<u8>) -> Vec<u8> {
    let mut content = tlv(0x02, id);
    content.extend(op);
    tlv(0x30, &content)
}

fn answer(msg: &[u8], referrals: &AtomicU64) -> Option<Vec<u8>> {
    let (_, id, used) = read_tlv(msg)?;
    let (op_tag, op, _) = read_tlv(&msg[used..])?;
    match op_tag {
        0x60 => Some(message(id, tlv(0x61, &result(0, None)))), // bind
        0x63 => {
            let (_, base, _) = read_tlv(op)?;
            if base.is_empty() {
                let attr = |name: &str, value: &str| tlv(0x30, &[octets(name), tlv(0x31, &octets(value))].concat());
                let attrs = [
                    attr("defaultNamingContext", "DC=corp,DC=example,DC=test"),
                    attr("configurationNamingContext", "CN=Configuration,DC=corp,DC=example,DC=test"),
                    attr("schemaNamingContext", "CN=Schema,CN=Configuration,DC=corp,DC=example,DC=test"),
                    attr("dnsHostName", "stray.corp.example.test"),
                ]
                .concat();
                let entry = tlv(0x64, &[octets(""), tlv(0x30, &attrs)].concat());
                let mut out = message(id, entry);
                out.extend(message(id, tlv(0x65, &result(0, None))));
                Some(out)
            } else {
                referrals.fetch_add(1, Ordering::SeqCst);
                Some(message(id, tlv(0x65, &result(10, Some(REFERRAL_URL)))))
            }
        }
        0x42 => None,          // unbind
        _ => Some(Vec::new()), // abandon and the like: no answer
    }
}
