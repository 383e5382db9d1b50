//! Active Directory over LDAP (and SYSVOL over SMB for `ad_gpo`): sessions to DCs and the AD probes.

pub mod acl;
pub mod connector;
pub mod connector_health;
pub mod discovery;
pub(crate) mod dn;
mod error;
mod facts;
pub(crate) mod fixes;
pub mod forest;
pub mod gpo;
#[cfg(feature = "gssapi")]
mod gssapi;
#[cfg(not(feature = "gssapi"))]
#[path = "gssapi_off.rs"]
mod gssapi;
pub mod monitoring_read;
pub mod policy;
mod pso;
pub mod security;
mod session;
mod tls;
pub mod topology;
pub mod users;
pub mod values;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub use error::LdapError;
pub use facts::{first_answering, Reuse};
/// For `explain`, which reads user and ancestor DACLs on demand.
pub(crate) use session::sd_flags_dacl;
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
    tls: Result<tls::TlsSetup, String>,
    dns: Result<discovery::Dns, String>,
    op_timeout: Duration,
    /// URL → the DC's dnsHostName, learned from every rootDSE read, so that a DC that is down keeps its `dc` label.
    dc_names: Mutex<HashMap<String, String>>,
    /// The DC list, the connector accounts and the forest's domains, read once per cycle for every probe.
    facts: facts::Facts,
    /// What `ad_users` read of each scope, for incremental cycles.
    user_states: users::States,
}

impl AdContext {
    pub fn new(cfg: AdTarget, probe_timeout: Duration, reuse: Reuse) -> AdContext {
        if cfg.tls.insecure_skip_verify {
            tracing::warn!("tls.insecure_skip_verify is set: DC certificates are not verified");
        }
        let tls = tls::TlsSetup::new(&cfg.tls);
        let dns = discovery::Dns::new(&cfg.dns_servers);
        AdContext {
            cfg,
            tls,
            dns,
            op_timeout: probe_timeout.min(MAX_OP_TIMEOUT),
            dc_names: Mutex::new(HashMap::new()),
            facts: facts::Facts::new(reuse),
            user_states: users::States::default(),
        }
    }

    /// The configured servers, else the domain's DNS SRV records.
    ///
    /// # Errors
    /// When no server is configured and the SRV lookup fails.
    async fn seed_servers(&self) -> Result<Vec<Url>, LdapError> {
        if !self.cfg.servers.is_empty() {
            return Ok(self.cfg.servers.clone());
        }
        self.srv_servers().await
    }

    async fn srv_servers(&self) -> Result<Vec<Url>, LdapError> {
        let domain = self.cfg.domain.as_deref().unwrap_or_default();
        let dns =
            self.dns.as_ref().map_err(|e| LdapError::Connect { server: domain.to_string(), detail: e.clone() })?;
        let targets = dns.srv_dcs(domain, self.op_timeout).await?;
        Ok(targets.iter().filter_map(|t| Url::parse(&self.url_for(&t.host, Some(t.port))).ok()).collect())
    }

    /// The URL for a DC host name: LDAPS on 636 unless the target uses StartTLS or plaintext on 389.
    fn url_for(&self, host: &str, srv_port: Option<u16>) -> String {
        let template = self.cfg.servers.first();
        let scheme = template.map_or("ldaps", |u| u.scheme());
        let port = match (template.and_then(Url::port), scheme) {
            (Some(port), _) => port,
            (None, "ldap") => srv_port.unwrap_or(389),
            (None, _) => 636,
        };
        format!("{scheme}://{host}:{port}")
    }

    fn remember_dc_name(&self, url: &Url, name: &str) {
        if let Ok(mut names) = self.dc_names.lock() {
            names.insert(url.to_string(), name.to_string());
        }
    }

    /// The DC's dnsHostName when a rootDSE of it was ever read.
    fn known_dc_name(&self, url: &Url) -> Option<String> {
        self.dc_names.lock().ok().and_then(|names| names.get(url.as_str()).cloned())
    }

    /// The `dc` label for a server: its dnsHostName when ever seen, else the URL host.
    fn dc_label(&self, url: &Url) -> String {
        self.known_dc_name(url).unwrap_or_else(|| url.host_str().unwrap_or_default().to_ascii_lowercase())
    }
}
