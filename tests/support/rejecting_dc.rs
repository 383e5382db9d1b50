//! A minimal LDAP server on loopback that refuses every simple bind (invalidCredentials, result code 49) with a
//! diagnosticMessage of the test's choosing, built from the password it was sent: a huge message, or one that echoes
//! the password, as a misbehaving or hostile server could. Plain LDAP only.

use std::net::SocketAddr;
use std::sync::Arc;

use super::ldap_wire::{listen, message, read_tlv, result, tlv, Listening};

/// Builds the diagnosticMessage from the password of the bind request.
pub type Diagnostic = Arc<dyn Fn(&str) -> String + Send + Sync>;

pub struct RejectingDc {
    pub addr: SocketAddr,
    _server: Listening,
}

impl RejectingDc {
    pub async fn start(diagnostic: Diagnostic) -> RejectingDc {
        let server = listen(Arc::new(move |msg: &[u8]| answer(msg, &diagnostic))).await;
        RejectingDc { addr: server.addr, _server: server }
    }
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
            Some(message(id, tlv(0x61, &result(49, &diagnostic(&password), None))))
        }
        0x42 => None,          // unbind
        _ => Some(Vec::new()), // anything else: no answer
    }
}
