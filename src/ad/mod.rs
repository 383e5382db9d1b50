//! Active Directory over LDAP (and SYSVOL over SMB for `ad_gpo`): sessions to DCs and the AD probes.

pub mod acl;
pub mod connector;
pub mod connector_health;
pub mod discovery;
mod error;
mod fixes;
pub mod forest;
pub mod gpo;
#[cfg(feature = "gssapi")]
mod gssapi;
#[cfg(not(feature = "gssapi"))]
#[path = "gssapi_off.rs"]
mod gssapi;
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
use std::time::{Duration, Instant};

pub use error::LdapError;
pub use session::{Entry, RootDse, Session};
use url::Url;

use crate::config::AdTarget;
use connector::Connectors;

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
    /// URL → the DC's dnsHostName, learned from its rootDSE, so that a DC that is down keeps its `dc` label.
    dc_names: Mutex<HashMap<String, String>>,
    /// The DCs the directory lists (nTDSDSA objects), learned by `ad_topology`: probed and failed over to as well.
    listed: Mutex<Vec<Url>>,
    /// The connector accounts as last resolved (when the read started, for which domain), shared by `ad_connector`,
    /// `ad_acl` and `ad_users`; an async lock, so that probes starting together wait for one read.
    connectors: tokio::sync::Mutex<Option<(Instant, String, Arc<Connectors>)>>,
    /// How long a read of the connector accounts is reused (zero: never).
    connector_reuse: Duration,
}

impl AdContext {
    pub fn new(cfg: AdTarget, probe_timeout: Duration, connector_reuse: Duration) -> AdContext {
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
            listed: Mutex::new(Vec::new()),
            connectors: tokio::sync::Mutex::new(None),
            connector_reuse,
        }
    }

    /// The connector accounts of `domain_dn` (configured or discovered) with their tokens: read through `session`
    /// at most once per probe cycle and shared by the probes that need them (one search and one tokenGroups read
    /// per account per cycle, not per probe).
    ///
    /// # Errors
    /// LDAP failures of the read; nothing is cached then.
    pub async fn connectors(&self, session: &mut Session, domain_dn: &str) -> Result<Arc<Connectors>, LdapError> {
        let mut cached = self.connectors.lock().await;
        if let Some((started, dn, connectors)) = cached.as_ref() {
            if dn == domain_dn && started.elapsed() < self.connector_reuse {
                return Ok(Arc::clone(connectors));
            }
        }
        let started = Instant::now();
        let fresh =
            Arc::new(connector::resolve(session, &self.cfg.connector_accounts, domain_dn, self.cfg.page_size).await?);
        tracing::debug!(domain = %domain_dn, accounts = fresh.accounts.len(), "connector accounts read");
        *cached = Some((started, domain_dn.to_string(), Arc::clone(&fresh)));
        Ok(fresh)
    }

    /// The DCs to use, in order: the configured servers, else the domain's DNS SRV records; then the DCs the
    /// directory lists that are not among them.
    ///
    /// # Errors
    /// When no server is configured and the SRV lookup fails.
    pub async fn servers(&self) -> Result<Vec<Url>, LdapError> {
        let mut servers =
            if self.cfg.servers.is_empty() { self.srv_servers().await? } else { self.cfg.servers.clone() };
        let listed = self.listed.lock().map(|l| l.clone()).unwrap_or_default();
        for url in listed {
            let label = self.dc_label(&url);
            if !servers.iter().any(|s| self.dc_label(s) == label) {
                servers.push(url);
            }
        }
        Ok(servers)
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

    /// Records the DCs the directory lists (called by `ad_topology`).
    fn set_listed(&self, hosts: &[String]) {
        let urls: Vec<Url> = hosts.iter().filter_map(|h| Url::parse(&self.url_for(h, None)).ok()).collect();
        for (url, host) in urls.iter().zip(hosts) {
            self.remember_dc_name(url, host);
        }
        if let Ok(mut listed) = self.listed.lock() {
            *listed = urls;
        }
    }

    /// Opens a session to the first DC that accepts one (domain-wide probes fail over this way).
    ///
    /// # Errors
    /// The first DC's error when none accepts.
    pub async fn any_dc(&self) -> Result<(Session, RootDse), LdapError> {
        let mut first_error = None;
        for url in self.servers().await? {
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

    /// The DC's dnsHostName when a rootDSE of it was ever read.
    fn known_dc_name(&self, url: &Url) -> Option<String> {
        self.dc_names.lock().ok().and_then(|names| names.get(url.as_str()).cloned())
    }

    /// The `dc` label for a server: its dnsHostName when ever seen, else the URL host.
    fn dc_label(&self, url: &Url) -> String {
        let known = self.dc_names.lock().ok().and_then(|names| names.get(url.as_str()).cloned());
        known.unwrap_or_else(|| url.host_str().unwrap_or_default().to_ascii_lowercase())
    }
}
