//! What the scripted fake DCs (referral_dc.rs, rejecting_dc.rs, limits_dc.rs) share: a loopback listener that hands
//! each whole LDAPMessage to an answering function, and the few BER pieces they read and write. Plain LDAP only.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Answers the content of one LDAPMessage (message ID, protocolOp, controls) with the bytes to send back (empty:
/// no answer), or `None` to hang up (an unbind).
pub type Answer = Arc<dyn Fn(&[u8]) -> Option<Vec<u8>> + Send + Sync>;

/// The accept loop of a fake DC, stopped when dropped.
pub struct Listening {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Listens on `127.0.0.1:0` and serves every connection with `answer`.
pub async fn listen(answer: Answer) -> Listening {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, answer.clone()));
        }
    });
    Listening { addr, task }
}

async fn serve(mut stream: TcpStream, answer: Answer) {
    let mut buf = Vec::new();
    // A session sends a few hundred requests at most; the bound keeps a confused client from looping forever.
    for _ in 0..100_000 {
        while let Some((tag, content, used)) = read_tlv(&buf).map(|(t, c, u)| (t, c.to_vec(), u)) {
            buf.drain(..used);
            if tag != 0x30 {
                return;
            }
            match answer(&content) {
                Some(bytes) => {
                    if stream.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                None => return,
            }
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// (tag, content, total length) of the TLV at the start of `buf`.
pub fn read_tlv(buf: &[u8]) -> Option<(u8, &[u8], usize)> {
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

/// The TLVs one after another in `buf` (the elements of a SEQUENCE's content); stops at the first malformed one.
pub fn read_all(mut buf: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let Some((tag, content, used)) = read_tlv(buf) {
        out.push((tag, content));
        buf = &buf[used..];
    }
    out
}

/// An unsigned INTEGER's content (what a client sends for sizes).
pub fn uint(content: &[u8]) -> u64 {
    content.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b))
}

pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
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

pub fn octets(s: &str) -> Vec<u8> {
    tlv(0x04, s.as_bytes())
}

/// LDAPResult fields: resultCode, matchedDN, diagnosticMessage (+ referral [3] when given).
pub fn result(code: u8, diagnostic: &str, referral: Option<&str>) -> Vec<u8> {
    let mut out = tlv(0x0a, &[code]);
    out.extend(octets(""));
    out.extend(octets(diagnostic));
    if let Some(url) = referral {
        out.extend(tlv(0xa3, &octets(url)));
    }
    out
}

/// An LDAPMessage: message ID (as the request spelled it), protocolOp.
pub fn message(id: &[u8], op: Vec<u8>) -> Vec<u8> {
    message_with_controls(id, op, &[])
}

/// [`message`] with response controls (each a whole Control SEQUENCE), none when empty.
pub fn message_with_controls(id: &[u8], op: Vec<u8>, controls: &[Vec<u8>]) -> Vec<u8> {
    let mut content = tlv(0x02, id);
    content.extend(op);
    if !controls.is_empty() {
        content.extend(tlv(0xa0, &controls.concat()));
    }
    tlv(0x30, &content)
}

/// A SearchResultEntry with text or binary values.
pub fn entry(dn: &str, attrs: &[(&str, Vec<Vec<u8>>)]) -> Vec<u8> {
    let attrs: Vec<u8> = attrs
        .iter()
        .flat_map(|(name, values)| {
            let values: Vec<u8> = values.iter().flat_map(|v| tlv(0x04, v)).collect();
            tlv(0x30, &[octets(name), tlv(0x31, &values)].concat())
        })
        .collect();
    tlv(0x64, &[octets(dn), tlv(0x30, &attrs)].concat())
}
