//! Wires the stages together: config → scheduler → store → HTTP. Owns the tasks, the reload path (SIGHUP and
//! `POST /-/reload` share it) and shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, ConfigError};
use crate::http::routes::{router, AppState, ReloadRequest};
use crate::http::{serve, web_config};
use crate::metrics::Metrics;
use crate::probe;
use crate::scheduler::Scheduler;
use crate::snapshot::Store;

/// How long probes and in-flight requests get to finish on shutdown or reload.
const GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Options {
    pub config_file: PathBuf,
    pub listen_addresses: Vec<String>,
    pub telemetry_path: String,
    pub web_config_file: Option<PathBuf>,
    /// Serve `POST /-/reload` (`--web.enable-lifecycle`); without it the endpoint answers 403. SIGHUP always works.
    pub enable_lifecycle: bool,
    /// `--web.max-connections`: open HTTP connections over all listeners (one shared table).
    pub max_connections: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The web config's own error (it names the file, and the line when it has one).
    #[error("{0}")]
    WebConfig(String),
    #[error("cannot listen on {address}: {detail}")]
    Listen { address: String, detail: String },
    #[error("metrics registry: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// Reads and validates the configuration file; `global.intervals` may name any registered probe.
///
/// # Errors
/// The first problem found, naming file, line and key.
pub fn load_config(file: &Path) -> Result<Config, ConfigError> {
    config::load(file, &probe::names())
}

/// Runs the exporter until `shutdown` resolves.
///
/// # Errors
/// Start-up failures only (bad config, bad web config, a listen address in use); after start-up, failures are
/// logged and reported as metrics, never fatal.
pub async fn run(opts: Options, shutdown: impl Future<Output = ()> + Send) -> Result<(), AppError> {
    let metrics = Arc::new(Metrics::new()?);
    let config = Arc::new(load_config(&opts.config_file)?);
    metrics.set_reload_successful(true);
    let web = match &opts.web_config_file {
        Some(path) => Some(Arc::new(web_config::load(path).map_err(|e| AppError::WebConfig(e.to_string()))?)),
        None => None,
    };
    let mut listeners = Vec::new();
    for address in &opts.listen_addresses {
        let listener = bind(address).await?;
        if let Ok(local) = listener.local_addr() {
            tracing::info!(address = %local, tls = web.as_ref().is_some_and(|w| w.tls().is_some()), "listening");
        }
        listeners.push(listener);
    }

    let store = Store::new();
    let stop = CancellationToken::new();
    let mut scheduler = Scheduler::start(&config, store.clone(), stop.child_token());
    log_targets(&config);
    let (config_tx, config_rx) = watch::channel(config);
    let (reload_tx, mut reload_rx) = mpsc::channel::<ReloadRequest>(4);

    let state = AppState {
        store: store.clone(),
        metrics: metrics.clone(),
        config: config_rx,
        reload: reload_tx,
        lifecycle: opts.enable_lifecycle,
        explain_slots: Default::default(),
    };
    let app = router(state, &opts.telemetry_path);
    let mut servers = JoinSet::new();
    let limits = serve::Limits::new(opts.max_connections);
    for listener in listeners {
        servers.spawn(serve::serve_with_limits(listener, app.clone(), web.clone(), limits.clone(), stop.child_token()));
    }

    let mut hangup = signal_stream();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(reply) = reload_rx.recv() => {
                // Coalesced: every request that queued up while the previous reload ran is answered by this one.
                let mut waiting = vec![reply];
                while let Ok(more) = reload_rx.try_recv() {
                    waiting.push(more);
                }
                let outcome = reload(&opts, &metrics, &config_tx, &mut scheduler);
                for reply in waiting {
                    let _ = reply.send(outcome.clone());
                }
            }
            Some(()) = hangup.recv() => {
                let _ = reload(&opts, &metrics, &config_tx, &mut scheduler);
            }
            Some(done) = servers.join_next() => {
                if let Ok(Err(e)) = done {
                    tracing::error!(error = %e, "HTTP server stopped");
                }
            }
        }
    }
    tracing::info!("shutting down");
    stop.cancel();
    scheduler.stop(GRACE).await;
    let _ = tokio::time::timeout(GRACE, async { while servers.join_next().await.is_some() {} }).await;
    Ok(())
}

/// Loads the config again; a bad one is rejected and logged and the running one stays. Probes whose settings did
/// not change go on as they were (see [`Scheduler::apply`]).
fn reload(
    opts: &Options,
    metrics: &Metrics,
    config_tx: &watch::Sender<Arc<Config>>,
    scheduler: &mut Scheduler,
) -> Result<(), String> {
    match load_config(&opts.config_file) {
        Ok(new) => {
            let new = Arc::new(new);
            scheduler.apply(&new);
            config_tx.send_replace(new.clone());
            metrics.set_reload_successful(true);
            tracing::info!(file = %opts.config_file.display(), "configuration reloaded");
            log_targets(&new);
            Ok(())
        }
        Err(e) => {
            metrics.set_reload_successful(false);
            tracing::error!(error = %e, "configuration reload failed; keeping the running configuration");
            Err(e.to_string())
        }
    }
}

fn log_targets(config: &Config) {
    for target in &config.targets {
        let probes: Vec<&str> = probe::probes_for(target).iter().map(|p| p.name.as_str()).collect();
        tracing::info!(target = %target.name, probes = ?probes, "target configured");
    }
}

/// Parses a Go-style listen address: `:9862` means every interface, as in Prometheus exporters.
async fn bind(address: &str) -> Result<TcpListener, AppError> {
    let err = |detail: String| AppError::Listen { address: address.to_string(), detail };
    if let Some(port) = address.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| err("invalid port".to_string()))?;
        // Dual-stack where the system allows it, else IPv4 only.
        return match TcpListener::bind(SocketAddr::from(([0u16; 8], port))).await {
            Ok(listener) => Ok(listener),
            Err(_) => TcpListener::bind(SocketAddr::from(([0u8; 4], port))).await.map_err(|e| err(e.to_string())),
        };
    }
    TcpListener::bind(address).await.map_err(|e| err(e.to_string()))
}

/// SIGHUP as a channel of unit messages (no-op off Unix).
fn signal_stream() -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(1);
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        tracing::info!("SIGHUP received, reloading the configuration");
                        if tx.send(()).await.is_err() {
                            break;
                        }
                    }
                });
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGHUP"),
        }
    }
    rx
}
