//! A TCP proxy on loopback that forwards to a DC and cuts a connection once the server has sent more than a byte
//! budget: a DC that drops the connection in the middle of a search, on demand and deterministically.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct CuttingProxy {
    pub addr: SocketAddr,
    /// Connections cut so far.
    pub cuts: Arc<AtomicU64>,
    /// Connections accepted so far.
    pub accepted: Arc<AtomicU64>,
    /// Server-to-client bytes of all connections since the last [`CuttingProxy::arm`] (shared budget only).
    sent: Arc<AtomicU64>,
    budget: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl CuttingProxy {
    /// Each connection may receive `budget` bytes from the server.
    pub async fn start(upstream: SocketAddr, budget: u64) -> CuttingProxy {
        CuttingProxy::spawn(LOOPBACK, upstream, budget, false).await
    }

    /// All connections together may receive what [`CuttingProxy::arm`] allows (at first: everything): a DC that
    /// dies at a chosen point of a cycle.
    pub async fn shared(upstream: SocketAddr) -> CuttingProxy {
        CuttingProxy::spawn(LOOPBACK, upstream, u64::MAX, true).await
    }

    /// Forwards everything, listening on `ip` (a port of the DC's own address: a client that takes the address
    /// from the LDAP URL and only the port from its configuration, as SMB does); counts connections.
    pub async fn counting(ip: IpAddr, upstream: SocketAddr) -> CuttingProxy {
        CuttingProxy::spawn(ip, upstream, u64::MAX, true).await
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Counts from zero again; `budget` bytes more pass (`u64::MAX`: all).
    pub fn arm(&self, budget: u64) {
        self.sent.store(0, Ordering::SeqCst);
        self.budget.store(budget, Ordering::SeqCst);
    }

    /// Bytes sent since the last [`CuttingProxy::arm`] (shared budget only).
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    async fn spawn(ip: IpAddr, upstream: SocketAddr, budget: u64, shared: bool) -> CuttingProxy {
        let listener = TcpListener::bind(SocketAddr::new(ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (sent, budget, cuts) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(budget)), Arc::new(AtomicU64::new(0)));
        let accepted = Arc::new(AtomicU64::new(0));
        let (s, b, c, a) = (sent.clone(), budget.clone(), cuts.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let s = if shared { s.clone() } else { Arc::new(AtomicU64::new(0)) };
                let (b, c) = (b.clone(), c.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, s, b, c).await;
                    }
                });
            }
        });
        CuttingProxy { addr, cuts, accepted, sent, budget, task }
    }
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    sent: Arc<AtomicU64>,
    budget: Arc<AtomicU64>,
    cuts: Arc<AtomicU64>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
    });
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match server_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n as u64,
        };
        if sent.fetch_add(n, Ordering::SeqCst).saturating_add(n) > budget.load(Ordering::SeqCst) {
            cuts.fetch_add(1, Ordering::SeqCst);
            break;
        }
        if client_write.write_all(&buf[..n as usize]).await.is_err() {
            break;
        }
    }
    upstream.abort();
    // Dropping both halves closes the connection without a goodbye, as a crashing DC would.
}
