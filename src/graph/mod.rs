//! Microsoft Entra ID through Microsoft Graph: the client (clouds, tokens, throttling, paging) and the Entra probes.
//!
//! - [`cloud`]: token and Graph URLs per national cloud, overrides, the rule that keeps the token on the Graph host.
//! - `auth`, `assertion`: client credentials (secret, certificate assertion, federated token) and the token cache.
//! - `client`, `request`, `throttle`: requests of one run under its deadline (time left, retries, bounded bodies);
//!   Retry-After and backoff; the audit budget.
//! - [`licenses`], [`sync`], [`sspr`]: the probes `entra_licenses`, `entra_sync`, `entra_sspr`.
//! - [`cloud_sync`]: the probe `entra_cloud_sync` (Entra Cloud Sync configurations and their jobs, checks only).

mod assertion;
mod auth;
mod client;
pub mod cloud;
pub mod cloud_sync;
mod error;
pub mod licenses;
mod request;
pub mod sspr;
pub mod sync;
mod throttle;
pub mod time;

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use error::GraphError;

use crate::base::UserJudge;
use crate::config::EntraTarget;

/// The share of the probe timeout a run plans with, so that its own timeout error (naming the request) comes
/// before the registry's blunt one.
const RUN_BUDGET: f64 = 0.9;

/// A target's Entra settings plus what survives between runs: the HTTP client, the token, the audit budget and
/// the SSPR event cursor.
pub struct EntraContext {
    /// The target's name, for log lines.
    pub name: String,
    pub cfg: EntraTarget,
    endpoints: cloud::Endpoints,
    /// Built once: a bad CA file or proxy is reported by every run, not re-read each time.
    http: Result<reqwest::Client, String>,
    tokens: auth::TokenCache,
    probe_timeout: Duration,
    audit_limiter: Arc<throttle::RateLimiter>,
    sspr: Mutex<sspr::Cursor>,
    /// The AD side of the same target, which `entra_sspr` asks why a user's reset failed; `None` for a target
    /// without `ad:` or with `sspr_explain_limit: 0`.
    judge: Option<Arc<dyn UserJudge>>,
}

impl fmt::Debug for EntraContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntraContext")
            .field("name", &self.name)
            .field("tenant_id", &self.cfg.tenant_id)
            .field("client_id", &self.cfg.client_id)
            .field("token_url", &self.endpoints.token_url.as_str())
            .field("graph_base", &self.endpoints.graph_base.as_str())
            .finish_non_exhaustive()
    }
}

impl EntraContext {
    pub fn new(name: &str, cfg: EntraTarget, probe_timeout: Duration) -> EntraContext {
        let endpoints = cloud::Endpoints::new(&cfg);
        let http = endpoints.as_ref().map_err(Clone::clone).and_then(|_| client::build_http(&cfg));
        // Unreachable with a validated config; keep the error for every run rather than panic.
        let endpoints = endpoints.unwrap_or_else(|e| {
            tracing::error!(error = %e, "cannot build the Entra endpoints");
            fallback_endpoints()
        });
        let key = format!("{}|{}|{}", endpoints.token_url, cfg.tenant_id, cfg.client_id);
        EntraContext {
            name: name.to_string(),
            cfg,
            endpoints,
            http,
            tokens: auth::TokenCache::default(),
            probe_timeout,
            audit_limiter: throttle::RateLimiter::shared(&key),
            sspr: Mutex::new(sspr::Cursor::new(sspr::DEFAULT_LOOKBACK)),
            judge: None,
        }
    }

    /// Who judges the users of failed SSPR events on the AD side (see [`UserJudge`]).
    pub fn set_judge(&mut self, judge: Arc<dyn UserJudge>) {
        self.judge = Some(judge);
    }

    /// How far back `entra_sspr` looks on its first run: one interval of that probe (default 5 minutes).
    pub fn set_sspr_lookback(&self, lookback: Duration) {
        if let Ok(mut cursor) = self.sspr.lock() {
            cursor.set_lookback(lookback);
        }
    }

    /// Takes over the SSPR event cursor of the context this one replaces on a reload, when both read the same
    /// tenant through the same Graph endpoint (otherwise the events are another stream).
    pub fn carry_over(&self, previous: &EntraContext) {
        if previous.cfg.tenant_id != self.cfg.tenant_id || previous.endpoints.graph_base != self.endpoints.graph_base {
            return;
        }
        if let (Ok(mut cursor), Ok(mut old)) = (self.sspr.lock(), previous.sspr.lock()) {
            cursor.take_over(&mut old);
        }
    }

    /// Starts a probe run: its requests share a deadline inside the probe timeout.
    fn run(&self) -> client::Run<'_> {
        let deadline = tokio::time::Instant::now() + self.probe_timeout.mul_f64(RUN_BUDGET);
        client::Run::new(self, deadline)
    }

    fn http(&self) -> Result<&reqwest::Client, GraphError> {
        self.http.as_ref().map_err(|e| GraphError::Config(e.clone()))
    }
}

fn fallback_endpoints() -> cloud::Endpoints {
    let url = url::Url::parse("https://invalid.invalid/").expect("a constant URL parses");
    cloud::Endpoints { token_url: url.clone(), graph_base: url.clone(), cloud_graph_root: url }
}
