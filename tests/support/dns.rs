//! A tiny DNS server for tests: answers A and SRV queries from an in-memory zone on `127.0.0.1:<port>` (UDP, and TCP
//! on the same port for clients that retry over TCP after a truncated answer), NXDOMAIN for unknown names, NODATA
//! (NOERROR, no answer) for known names asked with another type. The zone can be replaced at runtime
//! ([`FakeDns::set_records`]: a test removes a DC from the SRV answer), every query is counted and logged (a test
//! proves that the code under test used this server), and the server can be told to fail ([`DnsBehavior`]).
//!
//! Messages are decoded and encoded with `hickory-proto`. Both listeners run on background threads and stop on
//! Drop. Records have TTL 0 by default, so a caching resolver sees zone changes at once ([`FakeDns::set_ttl`]).
//!
//! ```ignore
//! let dns = FakeDns::start(vec![
//!     Record::srv("_ldap._tcp.dc._msdcs.corp.example.test", 0, 100, 636, "dc1.corp.example.test"),
//!     Record::a("dc1.corp.example.test", Ipv4Addr::new(127, 0, 0, 10)),
//! ]);
//! // point the resolver at dns.addr
//! ```

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, SRV};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

/// One resource record of the fake zone. Names are case-insensitive; a trailing dot is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// `name IN A addr`
    A { name: String, addr: Ipv4Addr },
    /// `name IN SRV priority weight port target`
    Srv { name: String, priority: u16, weight: u16, port: u16, target: String },
}

impl Record {
    pub fn a(name: &str, addr: Ipv4Addr) -> Record {
        Record::A { name: name.to_string(), addr }
    }

    pub fn srv(name: &str, priority: u16, weight: u16, port: u16, target: &str) -> Record {
        Record::Srv { name: name.to_string(), priority, weight, port, target: target.to_string() }
    }

    /// Owner name, lower case, without trailing dot.
    pub fn name(&self) -> String {
        match self {
            Record::A { name, .. } | Record::Srv { name, .. } => normalize(name),
        }
    }

    fn record_type(&self) -> RecordType {
        match self {
            Record::A { .. } => RecordType::A,
            Record::Srv { .. } => RecordType::SRV,
        }
    }

    fn rdata(&self) -> Option<RData> {
        Some(match self {
            Record::A { addr, .. } => RData::A(A(*addr)),
            Record::Srv { priority, weight, port, target, .. } => {
                RData::SRV(SRV::new(*priority, *weight, *port, fqdn(target)?))
            }
        })
    }
}

/// How the server reacts to queries (all of them are counted and logged either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsBehavior {
    /// Answer from the zone (the default).
    Answer,
    /// Answer every query with SERVFAIL.
    ServFail,
    /// Never answer: the client times out.
    Ignore,
}

/// A query as received: the name (lower case, no trailing dot), the type (`"A"`, `"SRV"`, ...) and whether it came
/// over TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedQuery {
    pub name: String,
    pub qtype: String,
    pub tcp: bool,
}

struct Shared {
    zone: Mutex<Vec<Record>>,
    ttl: Mutex<u32>,
    behavior: Mutex<DnsBehavior>,
    log: Mutex<Vec<LoggedQuery>>,
    count: AtomicUsize,
    stop: AtomicBool,
}

/// The running server; stops (and joins its threads) on Drop.
pub struct FakeDns {
    /// `127.0.0.1:<port>`, UDP and TCP.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    tcp: bool,
    threads: Vec<JoinHandle<()>>,
}

impl FakeDns {
    /// Starts the server on `127.0.0.1:<random port>` with the given zone. Panics if no socket can be bound (a test
    /// helper). TCP is served on the same port when that port is free for TCP too (retried a few times), else only
    /// UDP ([`Self::serves_tcp`]).
    pub fn start(zone: Vec<Record>) -> FakeDns {
        let shared = Arc::new(Shared {
            zone: Mutex::new(zone),
            ttl: Mutex::new(0),
            behavior: Mutex::new(DnsBehavior::Answer),
            log: Mutex::new(Vec::new()),
            count: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let mut bound = None;
        for _ in 0..20 {
            let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding the fake DNS UDP socket");
            let addr = udp.local_addr().expect("UDP local address");
            if let Ok(tcp) = TcpListener::bind(addr) {
                bound = Some((udp, Some(tcp), addr));
                break;
            }
            bound = Some((udp, None, addr));
        }
        let (udp, tcp, addr) = bound.expect("fake DNS bound");
        let mut threads = Vec::new();
        let s = shared.clone();
        threads.push(std::thread::Builder::new().name("fake-dns-udp".into()).spawn(move || serve_udp(udp, s)).unwrap());
        let serves_tcp = tcp.is_some();
        if let Some(tcp) = tcp {
            let s = shared.clone();
            threads.push(
                std::thread::Builder::new().name("fake-dns-tcp".into()).spawn(move || serve_tcp(tcp, s)).unwrap(),
            );
        }
        FakeDns { addr, shared, tcp: serves_tcp, threads }
    }

    /// Whether TCP is served on [`Self::addr`] as well.
    pub fn serves_tcp(&self) -> bool {
        self.tcp
    }

    /// Replaces the whole zone (takes effect for the next query).
    pub fn set_records(&self, zone: Vec<Record>) {
        *lock(&self.shared.zone) = zone;
    }

    /// The current zone.
    pub fn records(&self) -> Vec<Record> {
        lock(&self.shared.zone).clone()
    }

    /// Adds one record to the zone.
    pub fn add_record(&self, record: Record) {
        lock(&self.shared.zone).push(record);
    }

    /// Removes every record whose owner name (A/SRV) or SRV target equals `name` (case-insensitive): "remove a DC".
    pub fn remove_name(&self, name: &str) {
        let name = normalize(name);
        lock(&self.shared.zone).retain(|r| match r {
            Record::A { .. } => r.name() != name,
            Record::Srv { target, .. } => r.name() != name && normalize(target) != name,
        });
    }

    /// TTL of the answers (default 0: nothing is cached).
    pub fn set_ttl(&self, ttl: u32) {
        *lock(&self.shared.ttl) = ttl;
    }

    pub fn set_behavior(&self, behavior: DnsBehavior) {
        *lock(&self.shared.behavior) = behavior;
    }

    /// Number of queries received so far (UDP and TCP, whatever the behavior).
    pub fn queries(&self) -> usize {
        self.shared.count.load(Ordering::SeqCst)
    }

    /// Every query received so far, in order.
    pub fn query_log(&self) -> Vec<LoggedQuery> {
        lock(&self.shared.log).clone()
    }

    /// Number of queries received for `name` (case-insensitive) with type `qtype` (`"A"`, `"SRV"`, ...).
    pub fn queries_for(&self, name: &str, qtype: &str) -> usize {
        let name = normalize(name);
        lock(&self.shared.log).iter().filter(|q| q.name == name && q.qtype.eq_ignore_ascii_case(qtype)).count()
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking receivers: an empty datagram and a connection.
        if let Ok(s) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) {
            let _ = s.send_to(&[], self.addr);
        }
        if self.tcp {
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn fqdn(name: &str) -> Option<Name> {
    let mut n = Name::from_ascii(name).ok()?;
    n.set_fqdn(true);
    Some(n)
}

fn serve_udp(sock: UdpSocket, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 65535];
    while !shared.stop.load(Ordering::SeqCst) {
        let (len, peer) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                continue
            }
            Err(_) => {
                // e.g. ECONNREFUSED reported for an earlier answer to a client that went away
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        if let Some(answer) = handle(&buf[..len], &shared, false) {
            let _ = sock.send_to(&answer, peer);
        }
    }
}

fn serve_tcp(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut conn) = conn else { continue };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        // One connection at a time is plenty for tests; answer every framed message until EOF.
        loop {
            let mut len = [0u8; 2];
            if conn.read_exact(&mut len).is_err() {
                break;
            }
            let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if conn.read_exact(&mut msg).is_err() {
                break;
            }
            let Some(answer) = handle(&msg, &shared, true) else { continue };
            let Ok(alen) = u16::try_from(answer.len()) else { break };
            let mut framed = alen.to_be_bytes().to_vec();
            framed.extend_from_slice(&answer);
            if conn.write_all(&framed).is_err() {
                break;
            }
        }
        let _ = conn.shutdown(Shutdown::Both);
    }
}

/// Builds the answer to one request (None: no answer at all).
fn handle(request: &[u8], shared: &Shared, tcp: bool) -> Option<Vec<u8>> {
    let req = Message::from_vec(request).ok()?;
    if req.metadata.message_type != MessageType::Query {
        return None;
    }
    shared.count.fetch_add(1, Ordering::SeqCst);
    for q in &req.queries {
        lock(&shared.log).push(LoggedQuery {
            name: normalize(&q.name().to_ascii()),
            qtype: q.query_type().to_string(),
            tcp,
        });
    }
    let behavior = *lock(&shared.behavior);
    let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
    resp.metadata.recursion_desired = req.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.metadata.authoritative = true;
    resp.add_queries(req.queries.iter().cloned());
    let max_udp = req.edns.as_ref().map_or(512, |e| e.max_payload().max(512));
    if req.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        resp.set_edns(edns);
    }
    match behavior {
        DnsBehavior::Ignore => return None,
        DnsBehavior::ServFail => resp.metadata.response_code = ResponseCode::ServFail,
        DnsBehavior::Answer => {
            if req.metadata.op_code != OpCode::Query || req.queries.len() != 1 {
                resp.metadata.response_code = ResponseCode::NotImp;
            } else {
                let q = &req.queries[0];
                let qname = normalize(&q.name().to_ascii());
                let zone = lock(&shared.zone).clone();
                let ttl = *lock(&shared.ttl);
                let known = zone.iter().any(|r| r.name() == qname);
                if !known || q.query_class() != DNSClass::IN {
                    resp.metadata.response_code = ResponseCode::NXDomain;
                } else {
                    for r in zone.iter().filter(|r| r.name() == qname) {
                        if q.query_type() == r.record_type() || q.query_type() == RecordType::ANY {
                            if let Some(rdata) = r.rdata() {
                                resp.add_answer(hickory_proto::rr::Record::from_rdata(q.name().clone(), ttl, rdata));
                            }
                        }
                    }
                }
            }
        }
    }
    let bytes = resp.to_vec().ok()?;
    if !tcp && bytes.len() > usize::from(max_udp) {
        return resp.truncate().to_vec().ok();
    }
    Some(bytes)
}
