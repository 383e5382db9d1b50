//! A TCP proxy on loopback that forwards to a DC and cuts a connection once the server has sent more than a byte
//! budget: a DC that drops the connection in the middle of a search, on demand and deterministically.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct CuttingProxy {
    pub addr: SocketAddr,
    /// Connections cut so far.
    pub cuts: Arc<AtomicU64>,
    /// Server-to-client bytes of all connections since the last [`CuttingProxy::arm`] (shared budget only).
    sent: Arc<AtomicU64>,
    budget: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl CuttingProxy {
    /// Each connection may receive `budget` bytes from the server.
    pub async fn start(upstream: SocketAddr, budget: u64) -> CuttingProxy {
        CuttingProxy::spawn(upstream, budget, false).await
    }

    /// All connections together may receive what [`CuttingProxy::arm`] allows (at first: everything): a DC that
    /// dies at a chosen point of a cycle.
    pub async fn shared(upstream: SocketAddr) -> CuttingProxy {
        CuttingProxy::spawn(upstream, u64::MAX, true).await
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

    async fn spawn(upstream: SocketAddr, budget: u64, shared: bool) -> CuttingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (sent, budget, cuts) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(budget)), Arc::new(AtomicU64::new(0)));
        let (s, b, c) = (sent.clone(), budget.clone(), cuts.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let s = if shared { s.clone() } else { Arc::new(AtomicU64::new(0)) };
                let (b, c) = (b.clone(), c.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, s, b, c).await;
                    }
                });
            }
        });
        CuttingProxy { addr, cuts, sent, budget, task }
    }
}

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
