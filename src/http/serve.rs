//! Accept loop: plain HTTP or TLS (rustls) per the web config, bounded connections, graceful shutdown.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::auth::protect;
pub use super::limits::Limits;
use super::limits::{ConnHandle, DEFAULT_TLS_HANDSHAKE_TIMEOUT};
use super::web_config::WebConfig;

/// How long in-flight requests may run after shutdown was requested.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// A client that has not finished the TLS handshake by then is dropped (see [`Limits`]).
pub const TLS_HANDSHAKE_TIMEOUT: Duration = DEFAULT_TLS_HANDSHAKE_TIMEOUT;
/// Bounds slow-loris style clients that never finish sending request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// An idle or evicted connection gets this long to say goodbye (HTTP/2 GOAWAY) before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// HTTP/2 pings: a peer that vanished without closing is noticed even while a request is in progress.
const H2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const H2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Requests one HTTP/2 connection may run at once; a scraper needs one.
const H2_MAX_STREAMS: u32 = 16;
/// Pause after an accept error that is not about one connection, e.g. EMFILE: never a tight loop.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Repeated accept errors are logged at most this often, with the count of those not logged.
const ACCEPT_ERROR_LOG_EVERY: Duration = Duration::from_secs(5);

/// [`serve_with_limits`] with [`Limits::default`] (a cap of 512 connections for this listener alone).
///
/// # Errors
/// When the listener's local address cannot be read.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    web: Option<Arc<WebConfig>>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve_with_limits(listener, app, web, Limits::default(), shutdown).await
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then drains connections for at most
/// [`SHUTDOWN_GRACE`]. With `web`, its headers and basic auth are applied here (via [`protect`]) in both
/// modes, and TLS is used when it has a `tls_server_config`. Call once per listener; pass clones of one
/// `limits` to share its connection cap between listeners.
///
/// One hand-written loop serves both modes so that shutdown and the connection bounds behave the same:
/// at most `limits.max_connections()` connections, the longest-idle one closed to admit a new one, idle
/// connections closed after `limits.idle_timeout()`. Plain HTTP is HTTP/1.1 only; over TLS, HTTP/2 is
/// offered via ALPN unless `http_server_config.http2` is false (as in exporter-toolkit).
///
/// # Errors
/// When the listener's local address cannot be read.
pub async fn serve_with_limits(
    listener: TcpListener,
    app: Router,
    web: Option<Arc<WebConfig>>,
    limits: Limits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = match &web {
        Some(w) => protect(app, w),
        None => app,
    };
    let tls = web.as_ref().and_then(|w| w.rustls_server_config());
    let http2 = tls.is_some() && web.as_ref().is_some_and(|w| w.http().http2);
    let acceptor = tls.map(TlsAcceptor::from);
    let addr = listener.local_addr()?;
    tracing::debug!(%addr, tls = acceptor.is_some(), http2, max_connections = limits.max_connections(), "serving");

    let mut conns = JoinSet::new();
    let mut errors = AcceptErrors::default();
    loop {
        let accepted = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        while conns.try_join_next().is_some() {}
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                errors.handle(&e, addr, &limits).await;
                continue;
            }
        };
        let Some(handle) = limits.admit() else {
            // Every connection has a request in progress: the new one waits for nothing.
            tracing::debug!(%addr, %peer, "connection refused: every connection is busy");
            continue;
        };
        let conn = Connection {
            app: app.clone(),
            peer,
            http2,
            shutdown: shutdown.clone(),
            handle: Arc::new(handle),
            limits: limits.clone(),
        };
        conns.spawn(conn.run(stream, acceptor.clone()));
    }
    drop(listener);

    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(%addr, remaining = conns.len(), "shutdown grace period over; aborting connections");
        conns.shutdown().await;
    }
    tracing::debug!(%addr, "stopped serving");
    Ok(())
}

/// Accept errors: per-connection ones are skipped, the rest (EMFILE above all) back off and are logged sparingly.
#[derive(Default)]
struct AcceptErrors {
    last_logged: Option<Instant>,
    not_logged: u64,
}

impl AcceptErrors {
    async fn handle(&mut self, e: &std::io::Error, addr: SocketAddr, limits: &Limits) {
        use std::io::ErrorKind::{ConnectionAborted, ConnectionReset, Interrupted};
        if matches!(e.kind(), ConnectionAborted | ConnectionReset | Interrupted) {
            // The peer gave up before we accepted: nothing wrong on our side.
            return;
        }
        let fd_exhausted = is_fd_exhaustion(e);
        if self.last_logged.is_none_or(|t| t.elapsed() >= ACCEPT_ERROR_LOG_EVERY) {
            // `reason` as for probes: running out of descriptors is `other`, never `config`.
            let n = self.not_logged;
            if fd_exhausted {
                tracing::warn!(%addr, error = %e, reason = "other", not_logged = n, "accept failed: too many open files");
            } else {
                tracing::warn!(%addr, error = %e, reason = "other", not_logged = n, "accept failed; backing off");
            }
            self.last_logged = Some(Instant::now());
            self.not_logged = 0;
        } else {
            self.not_logged += 1;
        }
        // Out of descriptors: give one back by closing the longest-idle connection, so the next accept (and the
        // scrape behind it) can succeed. A short pause lets that connection's task actually close its socket.
        if fd_exhausted && limits.evict_longest_idle() {
            tokio::time::sleep(ACCEPT_BACKOFF / 10).await;
        } else {
            tokio::time::sleep(ACCEPT_BACKOFF).await;
        }
    }
}

/// EMFILE (per process) or ENFILE (system-wide): the same numbers on Linux, the BSDs and macOS.
fn is_fd_exhaustion(e: &std::io::Error) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    matches!(e.raw_os_error(), Some(EMFILE | ENFILE))
}

struct Connection {
    app: Router,
    peer: SocketAddr,
    http2: bool,
    shutdown: CancellationToken,
    /// This connection's entry in the shared table: busy/idle state and the eviction signal.
    handle: Arc<ConnHandle>,
    limits: Limits,
}

impl Connection {
    async fn run(self, stream: TcpStream, acceptor: Option<TlsAcceptor>) {
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = acceptor else {
            return self.drive(TokioIo::new(stream)).await;
        };
        let handshake = tokio::select! {
            () = self.shutdown.cancelled() => return,
            () = self.handle.evicted().cancelled() => return,
            hs = tokio::time::timeout(self.limits.tls_handshake_timeout(), acceptor.accept(stream)) => hs,
        };
        match handshake {
            Ok(Ok(tls)) => self.drive(TokioIo::new(tls)).await,
            Ok(Err(e)) => tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
        }
    }

    async fn drive<I>(self, io: I)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(H2_KEEPALIVE_INTERVAL)
            .keep_alive_timeout(H2_KEEPALIVE_TIMEOUT)
            .max_concurrent_streams(H2_MAX_STREAMS);
        if !self.http2 {
            builder = builder.http1_only();
        }
        let svc = PeerService { app: self.app, peer: self.peer, handle: self.handle.clone() };
        let conn = builder.serve_connection(io, svc);
        tokio::pin!(conn);
        let result = tokio::select! {
            r = conn.as_mut() => r,
            () = self.shutdown.cancelled() => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
            why = idle_or_evicted(&self.handle, self.limits.idle_timeout()) => {
                tracing::debug!(peer = %self.peer, why, "closing connection");
                conn.as_mut().graceful_shutdown();
                // An attacker need not read our GOAWAY: bounded, then the socket is dropped.
                tokio::time::timeout(CLOSE_GRACE, conn).await.unwrap_or(Ok(()))
            }
        };
        if let Err(e) = result {
            tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
        }
    }
}

/// Resolves when the connection was evicted, or has had no request in progress for `idle_timeout`.
async fn idle_or_evicted(handle: &ConnHandle, idle_timeout: Duration) -> &'static str {
    let idle = async {
        loop {
            match handle.idle_deadline(idle_timeout) {
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                // A request in progress: look again once it could have become idle for long enough.
                None => tokio::time::sleep(idle_timeout).await,
            }
        }
    };
    tokio::select! {
        () = handle.evicted().cancelled() => "evicted at the connection cap",
        () = idle => "idle timeout",
    }
}

/// Hands requests to the router with `ConnectInfo<SocketAddr>` set, as `axum::serve` would, and marks the
/// connection busy while a request is in progress (so it is not evicted or idle-closed under it).
#[derive(Clone)]
struct PeerService {
    app: Router,
    peer: SocketAddr,
    handle: Arc<ConnHandle>,
}

type ResponseFuture = Pin<Box<dyn Future<Output = Result<axum::response::Response, Infallible>> + Send>>;

impl hyper::service::Service<hyper::Request<Incoming>> for PeerService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, mut req: hyper::Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let busy = self.handle.request_started();
        let response = self.app.clone().oneshot(req);
        Box::pin(async move {
            let r = response.await;
            // Metrics bodies are rendered in full before this point, so "response produced" is "request done".
            drop(busy);
            r
        })
    }
}
