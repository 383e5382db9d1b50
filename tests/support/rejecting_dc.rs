//! A minimal LDAP server on loopback that refuses every simple bind (invalidCredentials, result code 49) with a
//! diagnosticMessage of the test's choosing, built from the password it was sent: a huge message, or one that echoes
//! the password, as a misbehaving or hostile server could. Plain LDAP only.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Builds the diagnosticMessage from the password of the bind request.
pub type Diagnostic = Arc<dyn Fn(&str) -> String + Send + Sync>;

pub struct RejectingDc {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl RejectingDc {
    pub async fn start(diagnostic: Diagnostic) -> RejectingDc {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, diagnostic.clone()));
            }
        });
        RejectingDc { addr, task }
    }
}

impl Drop for RejectingDc {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, diagnostic: Diagnostic) {
    let mut buf = Vec::new();
    // A client sends a handful of messages at most; the bound keeps a confused one from looping forever.
    for _ in 0..1_000 {
        while let Some((tag, content, used)) = read_tlv(&buf).map(|(t, c, u)| (t, c.to_vec(), u)) {
            buf.drain(..used);
            if tag != 0x30 {
                return;
            }
            match answer(&content, &diagnostic) {
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

fn answer(msg: &[u8], diagnostic: &Diagnostic) -> Option<Vec<u8>> {
    let (_, id, used) = read_tlv(msg)?;
    let (op_tag, op, _) = read_tlv(&msg[used..])?;
    match op_tag {
        0x60 => {
            // BindRequest: version, name, then the simple credentials [0].
            let (_, _, v) = read_tlv(op)?;
            let (_, _, n) = read_tlv(&op[v..])?;
            let password = match read_tlv(&op[v + n..]) {
                Some((0x80, pw, _)) => String::from_utf8_lossy(pw).into_owned(),
                _ => String::new(),
            };
            let mut result = tlv(0x0a, &[49]);
            result.extend(tlv(0x04, b""));
            result.extend(tlv(0x04, diagnostic(&password).as_bytes()));
            let mut content = tlv(0x02, id);
            content.extend(tlv(0x61, &result));
            Some(tlv(0x30, &content))
        }
        0x42 => None,          // unbind
        _ => Some(Vec::new()), // anything else: no answer
    }
}
