//! What every handler shares: the cache, the metrics, the configuration in force, the reload channel, and the
//! slots that bound `/explain`.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::snapshot::Store;

/// A reload request; the app answers with the outcome.
pub type ReloadRequest = oneshot::Sender<Result<(), String>>;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    /// The configuration in force; replaced by the app after a successful reload.
    pub config: watch::Receiver<Arc<Config>>,
    pub reload: mpsc::Sender<ReloadRequest>,
    /// `--web.enable-lifecycle`: whether `POST /-/reload` is served (403 otherwise, as in Prometheus).
    pub lifecycle: bool,
    /// The explanations allowed to run at once (`/explain` reads the directory on request).
    pub explain_slots: Slots,
}

/// Explanations that may read the directory at the same time (CONFIG.md).
pub const IN_FLIGHT: usize = 2;

/// The permits for [`IN_FLIGHT`]; shared by every connection and listener.
#[derive(Clone)]
pub struct Slots(pub(super) Arc<Semaphore>);

impl Default for Slots {
    fn default() -> Slots {
        Slots(Arc::new(Semaphore::new(IN_FLIGHT)))
    }
}
