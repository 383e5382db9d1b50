//! Accept loop: plain HTTP or TLS (rustls) per the web config, with graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::RootCertStore;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::util::Oneshot;
use tower::ServiceExt;

use super::auth::{client_cert_verifier, protect};
use super::web_config::{PemSource, TlsServerConfig, TlsVersion, WebConfig, WebConfigError};

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

/// Builds the rustls config for `t`, reading its PEM files now, with ALPN offering HTTP/2 when
/// `http2`. `web_config` is the config file's path, used to name it in errors. `web_config::load`
/// calls this so that bad certificates fail at startup; call it again to pick up renewed files.
pub fn rustls_server_config(
    t: &TlsServerConfig,
    http2: bool,
    web_config: &Path,
) -> Result<Arc<rustls::ServerConfig>, WebConfigError> {
    let file = web_config.display().to_string();
    let tls_err = |e| WebConfigError::Tls(file.clone(), e);
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(tls12) = &t.cipher_suites {
        // Go cannot restrict TLS 1.3 suites either, so they all stay.
        provider.cipher_suites.retain(|c| c.tls13().is_some());
        provider.cipher_suites.extend(tls12.iter().copied());
    }
    if !t.curve_preferences.is_empty() {
        let all = rustls::crypto::ring::ALL_KX_GROUPS;
        let find = |n: &rustls::NamedGroup| all.iter().find(|g| g.name() == *n).copied();
        provider.kx_groups = t.curve_preferences.iter().filter_map(find).collect();
    }
    let provider = Arc::new(provider);
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(TlsVersion::Tls12, &rustls::version::TLS12), (TlsVersion::Tls13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (t.min_version..=t.max_version).contains(v))
            .map(|(_, p)| p)
            .collect();

    let certs = read_certs(&t.cert, "certificate", &file)?;
    let (key_pem, origin) = read_pem(&t.key, "private key", &file)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        let reason = match e {
            rustls::pki_types::pem::Error::NoItemsFound => "no PEM PRIVATE KEY block found".into(),
            e => e.to_string(),
        };
        WebConfigError::BadPem(file.clone(), "private key", origin, reason)
    })?;
    let roots = match &t.client_ca {
        None => None,
        Some(src) => {
            let mut store = RootCertStore::empty();
            for cert in read_certs(src, "client CA", &file)? {
                store.add(cert).map_err(tls_err)?;
            }
            Some(Arc::new(store))
        }
    };
    let verifier = client_cert_verifier(t.client_auth_type, roots, &provider)
        .map_err(|message| WebConfigError::Invalid(file.clone(), String::new(), message))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(tls_err)?;
    cfg.ignore_client_order = t.prefer_server_cipher_suites;
    cfg.alpn_protocols = if http2 { vec![b"h2".to_vec(), b"http/1.1".to_vec()] } else { vec![b"http/1.1".to_vec()] };
    Ok(Arc::new(cfg))
}

/// The PEM bytes and where they came from (for error messages).
fn read_pem(src: &PemSource, what: &'static str, file: &str) -> Result<(Vec<u8>, String), WebConfigError> {
    match src {
        PemSource::Inline(text) => Ok((text.as_bytes().to_vec(), "inline".to_string())),
        PemSource::File(p) => {
            let path = p.display().to_string();
            match std::fs::read(p) {
                Ok(bytes) => Ok((bytes, path)),
                Err(e) => Err(WebConfigError::ReadPem(file.to_string(), what, path, e)),
            }
        }
    }
}

fn read_certs(src: &PemSource, what: &'static str, file: &str) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
    let (pem, origin) = read_pem(src, what, file)?;
    let bad = |reason: String| WebConfigError::BadPem(file.to_string(), what, origin.clone(), reason);
    let certs = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM CERTIFICATE block found".into()));
    }
    Ok(certs)
}
