//! Active Directory over LDAP: sessions to DCs and the AD probes.

pub mod acl;
pub mod connector;
pub mod connector_health;
mod error;
mod fixes;
pub mod policy;
mod pso;
pub mod security;
mod session;
mod tls;
pub mod topology;
pub mod users;
pub mod values;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use error::LdapError;
pub use session::{Entry, RootDse, Session};
use url::Url;

use crate::config::AdTarget;

/// Longest single LDAP operation; the probe's own timeout bounds the whole run.
const MAX_OP_TIMEOUT: Duration = Duration::from_secs(30);

/// A target's AD settings plus what survives between runs.
#[derive(Debug)]
pub struct AdContext {
    pub cfg: AdTarget,
    /// Built once: a bad CA file is reported by every run, not re-read each time.
    tls: Result<Arc<rustls::ClientConfig>, String>,
    op_timeout: Duration,
    /// URL → the DC's dnsHostName, learned from its rootDSE, so that a DC that is down keeps its `dc` label.
    dc_names: Mutex<HashMap<String, String>>,
}

impl AdContext {
    pub fn new(cfg: AdTarget, probe_timeout: Duration) -> AdContext {
        if cfg.tls.insecure_skip_verify {
            tracing::warn!("tls.insecure_skip_verify is set: DC certificates are not verified");
        }
        let tls = tls::client_config(&cfg.tls);
        AdContext { cfg, tls, op_timeout: probe_timeout.min(MAX_OP_TIMEOUT), dc_names: Mutex::new(HashMap::new()) }
    }

    /// The servers to use, in order. Without configured servers the domain name itself is used: every AD DC
    /// registers the domain's A record (DNS SRV discovery replaces this when it lands).
    pub fn servers(&self) -> Vec<Url> {
        if !self.cfg.servers.is_empty() {
            return self.cfg.servers.clone();
        }
        let domain = self.cfg.domain.as_deref().unwrap_or_default();
        Url::parse(&format!("ldaps://{domain}:636")).into_iter().collect()
    }

    /// Opens a session to the first DC that accepts one (domain-wide probes fail over this way).
    ///
    /// # Errors
    /// The first DC's error when none accepts.
    pub async fn any_dc(&self) -> Result<(Session, RootDse), LdapError> {
        let mut first_error = None;
        for url in self.servers() {
            let attempt = async {
                let mut session = Session::open(self, &url).await?;
                let root = session.root_dse().await?;
                Ok::<_, LdapError>((session, root))
            };
            match attempt.await {
                Ok(found) => return Ok(found),
                Err(e) => {
                    tracing::debug!(server = %url, error = %e, "DC failed, trying the next one");
                    first_error.get_or_insert(e);
                }
            }
        }
        Err(first_error.unwrap_or_else(|| LdapError::Connect {
            server: String::new(),
            detail: "no LDAP server configured".to_string(),
        }))
    }

    fn remember_dc_name(&self, url: &Url, name: &str) {
        if let Ok(mut names) = self.dc_names.lock() {
            names.insert(url.to_string(), name.to_string());
        }
    }

    /// The `dc` label for a server: its dnsHostName when ever seen, else the URL host.
    fn dc_label(&self, url: &Url) -> String {
        let known = self.dc_names.lock().ok().and_then(|names| names.get(url.as_str()).cloned());
        known.unwrap_or_else(|| url.host_str().unwrap_or_default().to_ascii_lowercase())
    }
}
