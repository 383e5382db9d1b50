//! The per-target source of what several AD probes need: the DC list, the writeback accounts, the forest's
//! domains and the bound domain's Group Policy (LDAP and SYSVOL). Each is read at most once per cycle (a little
//! less than the shortest interval of the probes that need it) and awaited by every probe that needs it, whichever
//! runs first; no probe reads what another left behind. Also the one failover loop: the first DC of a list that
//! answers.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use url::Url;

use super::connector::{self, Connectors};
use super::forest::{self, Forest};
use super::gpo::read::GroupPolicy;
use super::{AdContext, LdapError, RootDse, Session};
use crate::base::ProbeError;

/// One value, read at most once per reuse window for one key; callers that arrive during the read wait for it.
#[derive(Debug)]
pub(super) struct Shared<K, T> {
    slot: tokio::sync::Mutex<Option<(Instant, K, Arc<T>)>>,
    /// How long a read is reused, in nanoseconds (zero: never; `u64::MAX`: for the life of the context, as `check`
    /// wants). Atomic, so that a reload that changes an interval can change it under running probes.
    reuse: AtomicU64,
}

impl<K: PartialEq, T> Shared<K, T> {
    pub(super) fn new(reuse: Duration) -> Shared<K, T> {
        Shared { slot: tokio::sync::Mutex::new(None), reuse: AtomicU64::new(nanos(reuse)) }
    }

    fn set_reuse(&self, reuse: Duration) {
        self.reuse.store(nanos(reuse), Ordering::Relaxed);
    }

    /// The value for `key`: the last read when it is fresh enough, else `read`'s (a failed read caches nothing).
    /// `read` is a future, so it does nothing unless it is awaited here.
    async fn get<E>(&self, key: K, read: impl Future<Output = Result<T, E>>) -> Result<Arc<T>, E> {
        let mut slot = self.slot.lock().await;
        if let Some((started, cached_key, value)) = slot.as_ref() {
            if *cached_key == key && nanos(started.elapsed()) < self.reuse.load(Ordering::Relaxed) {
                return Ok(Arc::clone(value));
            }
        }
        let started = Instant::now();
        let fresh = Arc::new(read.await?);
        *slot = Some((started, key, Arc::clone(&fresh)));
        Ok(fresh)
    }
}

/// The reuse windows of a target's shared reads, one per need.
#[derive(Debug, Clone, Copy)]
pub struct Reuse {
    pub dcs: Duration,
    pub connectors: Duration,
    pub forest: Duration,
    pub group_policy: Duration,
}

impl Reuse {
    /// One read serves the whole life of the context (the `check` subcommand runs each probe once).
    pub const FOREVER: Reuse =
        Reuse { dcs: Duration::MAX, connectors: Duration::MAX, forest: Duration::MAX, group_policy: Duration::MAX };
}

/// The per-target shared reads.
#[derive(Debug)]
pub(super) struct Facts {
    dcs: Shared<(), Vec<Url>>,
    /// The DCs the directory listed at the last successful listing: tried for the next listing too, and used when
    /// it fails (with the only DC that DNS names down, the others must not be forgotten).
    listed: std::sync::Mutex<Vec<Url>>,
    connectors: Shared<String, Connectors>,
    forest: Shared<String, Forest>,
    group_policy: Shared<(), GroupPolicy>,
}

impl Facts {
    pub(super) fn set_reuse(&self, reuse: Reuse) {
        self.dcs.set_reuse(reuse.dcs);
        self.connectors.set_reuse(reuse.connectors);
        self.forest.set_reuse(reuse.forest);
        self.group_policy.set_reuse(reuse.group_policy);
    }

    pub(super) fn new(reuse: Reuse) -> Facts {
        Facts {
            dcs: Shared::new(reuse.dcs),
            listed: std::sync::Mutex::new(Vec::new()),
            connectors: Shared::new(reuse.connectors),
            forest: Shared::new(reuse.forest),
            group_policy: Shared::new(reuse.group_policy),
        }
    }
}

impl AdContext {
    /// New reuse windows for the shared reads (a reload changed a probe's interval but kept the target's state).
    pub fn set_reuse(&self, reuse: Reuse) {
        self.facts.set_reuse(reuse);
    }

    /// The domain's DCs, in order: the configured servers (else the domain's DNS SRV records), then the DCs the
    /// directory lists (`nTDSDSA` objects) that are not among them: a DC neither configured nor in DNS is still one
    /// Connect may use. When the list cannot be read, the configured or SRV servers alone (logged).
    ///
    /// # Errors
    /// When no server is configured and the SRV lookup fails.
    pub async fn dcs(&self) -> Result<Arc<Vec<Url>>, LdapError> {
        self.facts.dcs.get((), self.read_dcs()).await
    }

    async fn read_dcs(&self) -> Result<Vec<Url>, LdapError> {
        let mut servers = self.seed_servers().await?;
        let before = self.facts.listed.lock().map(|l| l.clone()).unwrap_or_default();
        let mut candidates = servers.clone();
        candidates.extend(before.iter().filter(|u| !servers.contains(u)).cloned());
        let page_size = self.cfg.page_size;
        let listed = first_answering(&candidates, |url| async move {
            let mut session = Session::open(self, &url).await?;
            let listed = async {
                let root = session.root_dse().await?;
                if let Some(name) = &root.dns_host_name {
                    self.remember_dc_name(&url, name);
                }
                let config_nc = root.configuration_naming_context.ok_or_else(|| LdapError::Protocol {
                    server: session.server().to_string(),
                    operation: "read rootDSE",
                    detail: "no configurationNamingContext".to_string(),
                })?;
                super::discovery::listed_dcs(&mut session, &config_nc, page_size).await
            }
            .await;
            session.close().await;
            listed
        })
        .await;
        let listed = match listed {
            Ok(hosts) => {
                let urls: Vec<Url> = hosts.iter().filter_map(|h| Url::parse(&self.url_for(h, None)).ok()).collect();
                for (url, host) in urls.iter().zip(&hosts) {
                    self.remember_dc_name(url, host);
                }
                if let Ok(mut last) = self.facts.listed.lock() {
                    last.clone_from(&urls);
                }
                urls
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the domain's DCs; using the configured ones and the last list");
                before
            }
        };
        for url in listed {
            let label = self.dc_label(&url);
            if !servers.iter().any(|s| self.dc_label(s).eq_ignore_ascii_case(&label)) {
                servers.push(url);
            }
        }
        Ok(servers)
    }

    /// Opens a session to the first DC that accepts one (domain-wide probes fail over this way).
    ///
    /// # Errors
    /// The first DC's error when none accepts.
    pub async fn any_dc(&self) -> Result<(Session, RootDse), LdapError> {
        let dcs = self.dcs().await?;
        first_answering(&dcs, |url| async move {
            let mut session = Session::open(self, &url).await?;
            match session.root_dse().await {
                Ok(root) => Ok((session, root)),
                Err(e) => {
                    session.close().await;
                    Err(e)
                }
            }
        })
        .await
    }

    /// The writeback accounts of `domain_dn` (connector accounts and Cloud Sync gMSAs, configured or discovered)
    /// with their tokens, read through `session` once per cycle (one search and one tokenGroups read per account per cycle, not per probe).
    ///
    /// # Errors
    /// LDAP failures of the read; nothing is cached then.
    pub async fn connectors(&self, session: &mut Session, domain_dn: &str) -> Result<Arc<Connectors>, LdapError> {
        self.facts.connectors.get(domain_dn.to_string(), self.read_connectors(session, domain_dn)).await
    }

    /// [`AdContext::connectors`] through a session of its own, opened only when this cycle has not read them yet
    /// (so that a probe can go on with its own session meanwhile).
    ///
    /// # Errors
    /// No DC answers, or LDAP failures of the read; nothing is cached then.
    pub async fn connectors_on_any_dc(&self, domain_dn: &str) -> Result<Arc<Connectors>, LdapError> {
        let read = async {
            let (mut session, _) = self.any_dc().await?;
            let fresh = self.read_connectors(&mut session, domain_dn).await;
            session.close().await;
            fresh
        };
        self.facts.connectors.get(domain_dn.to_string(), read).await
    }

    async fn read_connectors(&self, session: &mut Session, domain_dn: &str) -> Result<Connectors, LdapError> {
        let wanted = connector::Wanted {
            connect: &self.cfg.connector_accounts,
            cloud_sync: Some(&self.cfg.cloud_sync_accounts),
        };
        let fresh = connector::resolve(session, wanted, domain_dn, self.cfg.page_size).await?;
        tracing::debug!(domain = %domain_dn, accounts = fresh.accounts.len(), "connector accounts read");
        Ok(fresh)
    }

    /// The forest's domains as seen from the bound DC (`session`, whose rootDSE is `root`), once per cycle: the
    /// bound domain first. When they cannot be listed, the bound domain alone, with the reason.
    pub async fn forest(&self, session: &mut Session, root: &RootDse) -> Arc<Forest> {
        let read = async { Ok::<_, Infallible>(forest::read(session, root, self.cfg.page_size).await) };
        let Ok(forest) = self.facts.forest.get(root.default_naming_context.clone(), read).await;
        forest
    }

    /// The bound domain's Group Policy (links, GPOs, their templates in SYSVOL), once per cycle: one SMB logon
    /// serves `ad_gpo` and `ad_monitoring_read`. A SYSVOL failure is part of the value (and shared); a directory
    /// failure is an error and caches nothing.
    ///
    /// # Errors
    /// No DC answers, or the directory cannot be read.
    pub async fn group_policy(&self) -> Result<Arc<GroupPolicy>, ProbeError> {
        self.facts.group_policy.get((), super::gpo::read::read(self)).await
    }
}

/// A duration in nanoseconds, saturating (`Duration::MAX` and anything past 584 years is `u64::MAX`).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Tries `attempt` on each URL in order and returns the first success; the first error when every one fails.
/// (`attempt` takes the URL by value: a closure whose future borrowed its argument would not be `Send`.)
///
/// # Errors
/// The first URL's error, or a connect error when `urls` is empty.
pub async fn first_answering<T, F, Fut>(urls: &[Url], mut attempt: F) -> Result<T, LdapError>
where
    F: FnMut(Url) -> Fut,
    Fut: Future<Output = Result<T, LdapError>>,
{
    let mut first_error = None;
    for url in urls {
        match attempt(url.clone()).await {
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    async fn read(reads: &AtomicUsize) -> Result<usize, Infallible> {
        tokio::task::yield_now().await;
        Ok(reads.fetch_add(1, Ordering::SeqCst) + 1)
    }

    #[tokio::test]
    async fn a_read_is_reused_within_its_window_and_per_key() {
        let reads = AtomicUsize::new(0);
        let shared: Shared<&str, usize> = Shared::new(Duration::MAX);
        // Callers that arrive together wait for one read.
        let (a, b) = tokio::join!(shared.get("corp", read(&reads)), shared.get("corp", read(&reads)));
        assert_eq!((*a.unwrap(), *b.unwrap()), (1, 1));
        // Another key is another read.
        assert_eq!(*shared.get("child", read(&reads)).await.unwrap(), 2);
        // A window of zero (set by a reload) reads every time.
        shared.set_reuse(Duration::ZERO);
        assert_eq!(*shared.get("child", read(&reads)).await.unwrap(), 3);
        assert_eq!(*shared.get("child", read(&reads)).await.unwrap(), 4);
    }

    #[tokio::test]
    async fn a_failed_read_is_not_cached() {
        let shared: Shared<(), usize> = Shared::new(Duration::MAX);
        assert!(shared.get((), async { Err::<usize, &str>("down") }).await.is_err());
        assert_eq!(*shared.get((), async { Ok::<_, &str>(7) }).await.unwrap(), 7);
    }
}
