//! Accept loop: plain HTTP or TLS (rustls) per the web config, with graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::util::Oneshot;
use tower::ServiceExt;

use super::auth::protect;
use super::web_config::WebConfig;

/// How long in-flight requests may run after shutdown was requested.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// A client that has not finished the TLS handshake by then is dropped.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Bounds slow-loris style clients that never finish sending request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `app` on `listener` until `shutdown` is cancelled, then drains connections for at most
/// [`SHUTDOWN_GRACE`]. With `web`, its headers and basic auth are applied here (via
/// [`protect`]) in both modes, and TLS is used when it has a `tls_server_config`. Call once per
/// listener.
///
/// One hand-written loop serves both modes so that shutdown behaves the same: stop accepting,
/// ask every connection to finish its in-flight request, abort whatever is left after the grace
/// period. Plain HTTP is HTTP/1.1 only; over TLS, HTTP/2 is offered via ALPN unless
/// `http_server_config.http2` is false (as in exporter-toolkit).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    web: Option<Arc<WebConfig>>,
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
    tracing::debug!(%addr, tls = acceptor.is_some(), http2, "serving");

    let mut conns = JoinSet::new();
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
                // Typically EMFILE or a connection reset before accept; retrying is all we can do,
                // but not in a tight loop.
                tracing::warn!(%addr, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let conn = Connection { app: app.clone(), peer, http2, shutdown: shutdown.clone() };
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

struct Connection {
    app: Router,
    peer: SocketAddr,
    http2: bool,
    shutdown: CancellationToken,
}

impl Connection {
    async fn run(self, stream: TcpStream, acceptor: Option<TlsAcceptor>) {
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = acceptor else {
            return self.drive(TokioIo::new(stream)).await;
        };
        let handshake = tokio::select! {
            () = self.shutdown.cancelled() => return,
            hs = tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => hs,
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
        builder.http2().timer(TokioTimer::new());
        if !self.http2 {
            builder = builder.http1_only();
        }
        let svc = PeerService { app: self.app, peer: self.peer };
        let conn = builder.serve_connection(io, svc);
        tokio::pin!(conn);
        let result = tokio::select! {
            r = conn.as_mut() => r,
            () = self.shutdown.cancelled() => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
        }
    }
}

/// Hands requests to the router with `ConnectInfo<SocketAddr>` set, as `axum::serve` would.
#[derive(Clone)]
struct PeerService {
    app: Router,
    peer: SocketAddr,
}

impl hyper::service::Service<hyper::Request<Incoming>> for PeerService {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Oneshot<Router, hyper::Request<Incoming>>;

    fn call(&self, mut req: hyper::Request<Incoming>) -> Self::Future {
        req.extensions_mut().insert(ConnectInfo(self.peer));
        self.app.clone().oneshot(req)
    }
}
