//! One bound LDAP connection to one DC: connect (LDAPS, StartTLS or plain), simple or Kerberos bind, and
//! searches, each operation under a timeout.

use std::time::{Duration, Instant};

use ldap3::adapters::{Adapter, EntriesOnly};
use ldap3::asn1::parse_tag;
use ldap3::controls::{PagedResults, RawControl};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapResult, ResultEntry, Scope};
use url::Url;

use super::error::{from_result_code, referral, LdapError};
use super::AdContext;
use crate::base::Scrub;
use crate::config::BindMechanism;

pub struct Session {
    ldap: Ldap,
    /// The URL host, for error messages and fallback labels.
    server: String,
    op_timeout: Duration,
    /// The bind password, kept out of every error text the server's answers end up in.
    scrub: Scrub,
}

/// One entry's attributes as raw bytes, names lower-cased (AD answers in its own casing). Built by our own
/// checked walk over the BER structure, because `ldap3::SearchEntry::construct` panics on malformed entries.
#[derive(Debug, Default)]
pub struct Entry {
    pub dn: String,
    attrs: Vec<(String, Vec<Vec<u8>>)>,
}

impl Entry {
    /// `None` when the server sent something that is not a well-formed SearchResultEntry.
    fn parse(entry: ResultEntry) -> Option<Entry> {
        let mut parts = entry.0.match_id(4)?.expect_constructed()?.into_iter();
        let dn = String::from_utf8(parts.next()?.expect_primitive()?).ok()?;
        let mut attrs = Vec::new();
        for attr in parts.next()?.expect_constructed()? {
            let mut attr = attr.expect_constructed()?.into_iter();
            let name = String::from_utf8(attr.next()?.expect_primitive()?).ok()?.to_ascii_lowercase();
            let values =
                attr.next()?.expect_constructed()?.into_iter().map(|v| v.expect_primitive()).collect::<Option<_>>()?;
            attrs.push((name, values));
        }
        Some(Entry { dn, attrs })
    }

    /// An entry built from text values (unit tests of the code that reads entries).
    #[cfg(test)]
    pub fn from_pairs(dn: &str, attrs: &[(&str, &str)]) -> Entry {
        let mut entry = Entry { dn: dn.to_string(), attrs: Vec::new() };
        for (name, value) in attrs {
            entry.attrs.push((name.to_ascii_lowercase(), vec![value.as_bytes().to_vec()]));
        }
        entry
    }

    /// Raw values of an attribute (empty when absent). AD hands out a large multi-valued attribute in ranges
    /// (`member;range=0-1499` beyond MaxValRange values): such a first range counts as the attribute, see
    /// [`Entry::is_ranged`].
    pub fn raw(&self, name: &str) -> &[Vec<u8>] {
        self.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name) || ranged_name(n, name))
            .map(|(_, v)| v.as_slice())
            .unwrap_or_default()
    }

    /// True when the DC returned only a range of the attribute's values (there are more than [`Entry::raw`] has).
    pub fn is_ranged(&self, name: &str) -> bool {
        self.attrs.iter().any(|(n, _)| ranged_name(n, name))
    }

    /// The values that are text (directory strings, numbers); binary values are skipped.
    pub fn values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.raw(name).iter().filter_map(|v| std::str::from_utf8(v).ok())
    }

    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).next()
    }

    /// An integer attribute; `None` when absent, an error when present but not a number.
    pub fn int(&self, name: &str) -> Result<Option<i64>, String> {
        self.first(name)
            .map(|v| v.trim().parse::<i64>().map_err(|_| format!("attribute {name} is not an integer: {v:?}")))
            .transpose()
    }
}

/// `member;range=0-1499` is a range of `member` (attribute names arrive lower-cased).
fn ranged_name(returned: &str, name: &str) -> bool {
    returned.len() > name.len()
        && returned.is_char_boundary(name.len())
        && returned[..name.len()].eq_ignore_ascii_case(name)
        && returned[name.len()..].starts_with(";range=")
}

/// Asks AD for the DACL only when reading `nTSecurityDescriptor`: without it AD also asks for the SACL, and a
/// non-administrator then gets no security descriptor at all (LDAP_SERVER_SD_FLAGS_OID, value DACL_SECURITY_INFORMATION).
pub fn sd_flags_dacl() -> RawControl {
    RawControl {
        ctype: "1.2.840.113556.1.4.801".to_string(),
        crit: true,
        val: Some(vec![0x30, 0x03, 0x02, 0x01, 0x04]),
    }
}

/// The parts of the rootDSE the probes use.
#[derive(Debug, Clone)]
pub struct RootDse {
    pub default_naming_context: String,
    pub configuration_naming_context: Option<String>,
    pub schema_naming_context: Option<String>,
    pub dns_host_name: Option<String>,
    pub supported_controls: Vec<String>,
}

impl Session {
    /// Connects and binds with the target's credentials.
    ///
    /// # Errors
    /// Classified connect, TLS, auth and timeout failures.
    pub async fn open(ctx: &AdContext, url: &Url) -> Result<Session, LdapError> {
        let started = Instant::now();
        let server = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let op_timeout = ctx.op_timeout;
        // Read before connecting: a missing password needs no network, and the errors of every step can scrub it.
        let password = match (&ctx.cfg.bind.mechanism, &ctx.cfg.bind.password) {
            (BindMechanism::Simple, Some(source)) => Some(source.read().map_err(LdapError::Secret)?),
            (BindMechanism::Simple, None) => {
                return Err(LdapError::Auth { server, detail: "no bind password configured".to_string() })
            }
            (BindMechanism::Gssapi, _) => None,
        };
        let scrub = Scrub::new(password.iter().map(|p| p.expose()));
        // With the target's own DNS servers, a DC name is resolved here and the connection goes to the address,
        // while the certificate (and the Kerberos service name) is still checked against the name.
        let mut target = url.clone();
        let mut expected_name = None;
        if let (Ok(dns), Some(url::Host::Domain(host))) = (&ctx.dns, url.host()) {
            if dns.is_custom() {
                let ip = dns.resolve(host, op_timeout).await?.into_iter().next().ok_or_else(|| LdapError::Connect {
                    server: server.clone(),
                    detail: "the name has no address".to_string(),
                })?;
                let _ = target.set_ip_host(ip);
                expected_name = Some(host.to_string());
            }
        }
        let start_tls = url.scheme() == "ldap" && ctx.cfg.tls.start_tls;
        let mut settings = LdapConnSettings::new().set_conn_timeout(op_timeout).set_starttls(start_tls);
        // Plain ldap:// (Kerberos-sealed or allow_plaintext) needs no TLS setup: a bad CA file must not stop it.
        if url.scheme() == "ldaps" || start_tls {
            let setup =
                ctx.tls.as_ref().map_err(|detail| LdapError::Tls { server: server.clone(), detail: detail.clone() })?;
            let tls = setup
                .client_config(expected_name.as_deref())
                .map_err(|detail| LdapError::Tls { server: server.clone(), detail })?;
            settings = settings.set_config(tls);
        }
        let connect = LdapConnAsync::with_settings(settings, target.as_str());
        let (conn, mut ldap) = tokio::time::timeout(op_timeout, connect)
            .await
            .map_err(|_| LdapError::Timeout { server: server.clone(), operation: "connect" })?
            .map_err(|e| LdapError::classify(&server, "connect", e, &scrub))?;
        // The connection task ends by itself when the last `Ldap` handle is dropped or the server hangs up.
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });

        let result = match password {
            Some(password) => {
                let user = ctx.cfg.bind.user.as_deref().unwrap_or_default();
                ldap.with_timeout(op_timeout)
                    .simple_bind(user, password.expose())
                    .await
                    .map_err(|e| LdapError::classify(&server, "bind", e, &scrub))?
            }
            None => {
                // Kerberos names the service by the DC's host name (ldap/<fqdn>), never by an address.
                let host = expected_name.clone().or_else(|| match url.host() {
                    Some(url::Host::Domain(name)) => Some(name.to_string()),
                    _ => ctx.known_dc_name(url),
                });
                let Some(host) = host else {
                    return Err(LdapError::Auth {
                        server,
                        detail: "a Kerberos bind needs the DC's host name in the URL, not an address".to_string(),
                    });
                };
                let principal = ctx.cfg.bind.user.clone();
                let (back, result) = super::gssapi::bind(ldap, &host, principal, op_timeout, &server).await?;
                ldap = back;
                result
            }
        };
        if result.rc != 0 {
            return Err(from_result_code(server, "bind", result.rc, &result.text, &scrub));
        }
        tracing::trace!(%server, ms = started.elapsed().as_secs_f64() * 1e3, "LDAP session open");
        Ok(Session { ldap, server, op_timeout, scrub })
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// Reads one entry (BASE scope). `Ok(None)` when it does not exist.
    ///
    /// # Errors
    /// Classified failures; "no such object" is not one.
    pub async fn read(
        &mut self,
        dn: &str,
        attrs: &[&str],
        operation: &'static str,
    ) -> Result<Option<Entry>, LdapError> {
        self.read_with(dn, attrs, Vec::new(), operation).await
    }

    /// [`Session::read`] with request controls (e.g. [`sd_flags_dacl`]).
    ///
    /// # Errors
    /// Classified failures; "no such object" is not one.
    pub async fn read_with(
        &mut self,
        dn: &str,
        attrs: &[&str],
        controls: Vec<RawControl>,
        operation: &'static str,
    ) -> Result<Option<Entry>, LdapError> {
        self.read_matching(dn, "(objectClass=*)", attrs, controls, operation).await
    }

    /// [`Session::read_with`] that returns the entry only when it matches `filter` (as the DC evaluates it).
    ///
    /// # Errors
    /// Classified failures; "no such object" is not one.
    pub async fn read_matching(
        &mut self,
        dn: &str,
        filter: &str,
        attrs: &[&str],
        controls: Vec<RawControl>,
        operation: &'static str,
    ) -> Result<Option<Entry>, LdapError> {
        let started = Instant::now();
        let ldap3::SearchResult(entries, result) = self
            .ldap
            .with_timeout(self.op_timeout)
            .with_controls(controls)
            .search(dn, Scope::Base, filter, attrs.to_vec())
            .await
            .map_err(|e| LdapError::classify(&self.server, operation, e, &self.scrub))?;
        match result.rc {
            0 => {}
            32 => return Ok(None), // noSuchObject
            10 => return Err(referral(self.server.clone(), operation, &result.refs, &self.scrub)),
            rc => return Err(from_result_code(self.server.clone(), operation, rc, &result.text, &self.scrub)),
        }
        trace_search(operation, "base", entries.len(), started);
        match entries.into_iter().next() {
            None => Ok(None),
            Some(entry) => Entry::parse(entry).map(Some).ok_or_else(|| self.malformed(operation)),
        }
    }

    /// A paged subtree (or one-level) search whose entries are handed to `on_entry` one by one as pages arrive,
    /// so memory does not grow with the directory. Each page has the operation timeout.
    ///
    /// # Errors
    /// Classified failures, including a connection dropped mid-search: the caller must discard what it counted.
    #[allow(clippy::too_many_arguments)]
    pub async fn search_paged(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        controls: Vec<RawControl>,
        page_size: u32,
        operation: &'static str,
        on_entry: impl FnMut(Entry),
    ) -> Result<u64, LdapError> {
        let page = i32::try_from(page_size).unwrap_or(i32::MAX);
        self.search_streamed(base, scope, filter, attrs, controls, Some(page), operation, on_entry).await
    }

    /// A search without paging, for a result bounded by its filter (a few hundred equality terms at most, so under
    /// any server's page limit). Samba 4.17 spends about 60 ms of CPU on the paged-results control alone: a cycle of
    /// many small searches must not pay that each time.
    ///
    /// # Errors
    /// As [`Session::search_paged`]; a result over the server's size limit is an error (`sizeLimitExceeded`).
    #[allow(clippy::too_many_arguments)]
    pub async fn search_bounded(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        controls: Vec<RawControl>,
        operation: &'static str,
        on_entry: impl FnMut(Entry),
    ) -> Result<u64, LdapError> {
        self.search_streamed(base, scope, filter, attrs, controls, None, operation, on_entry).await
    }

    /// Pages are searches of their own, each checked before its cookie is followed: ldap3's `PagedResults` adapter
    /// follows a cookie whatever the page's result code, so a page the DC cut short (sizeLimitExceeded,
    /// adminLimitExceeded) followed by complete ones would pass for a complete result. A page shorter than asked is
    /// no end: a DC whose MaxPageSize is lower than `page` hands a cookie for the rest.
    #[allow(clippy::too_many_arguments)]
    async fn search_streamed(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        controls: Vec<RawControl>,
        page: Option<i32>,
        operation: &'static str,
        mut on_entry: impl FnMut(Entry),
    ) -> Result<u64, LdapError> {
        let started = Instant::now();
        let timeout = self.op_timeout;
        let timed_out = |server: &str| LdapError::Timeout { server: server.to_string(), operation };
        let mut count = 0;
        let mut cookie = Vec::new();
        loop {
            let mut request = controls.clone();
            if let Some(size) = page {
                request.push(PagedResults { size, cookie: std::mem::take(&mut cookie) }.into());
            }
            let adapters: Vec<Box<dyn Adapter<&str, Vec<&str>>>> = vec![Box::new(EntriesOnly::new())];
            let start =
                self.ldap.with_controls(request).streaming_search_with(adapters, base, scope, filter, attrs.to_vec());
            let mut stream = tokio::time::timeout(timeout, start)
                .await
                .map_err(|_| timed_out(&self.server))?
                .map_err(|e| LdapError::classify(&self.server, operation, e, &self.scrub))?;
            loop {
                let next = tokio::time::timeout(timeout, stream.next())
                    .await
                    .map_err(|_| timed_out(&self.server))?
                    .map_err(|e| LdapError::classify(&self.server, operation, e, &self.scrub))?;
                let Some(entry) = next else { break };
                let entry = Entry::parse(entry).ok_or_else(|| self.malformed(operation))?;
                count += 1;
                on_entry(entry);
            }
            let result = stream.finish().await;
            if result.rc == 10 {
                return Err(referral(self.server.clone(), operation, &result.refs, &self.scrub));
            }
            if result.rc != 0 {
                return Err(from_result_code(self.server.clone(), operation, result.rc, &result.text, &self.scrub));
            }
            let more = match page {
                Some(_) => paged_cookie(&result).ok_or_else(|| LdapError::Protocol {
                    server: self.server.clone(),
                    operation,
                    detail: "malformed paged-results control in the answer".to_string(),
                })?,
                None => None,
            };
            match more {
                Some(next) => cookie = next,
                None => break,
            }
        }
        trace_search(operation, if page.is_some() { "paged" } else { "unpaged" }, count, started);
        Ok(count)
    }

    fn malformed(&self, operation: &'static str) -> LdapError {
        LdapError::Protocol {
            server: self.server.clone(),
            operation,
            detail: "malformed search result entry".to_string(),
        }
    }

    /// Reads the rootDSE.
    ///
    /// # Errors
    /// Classified failures; a rootDSE without `defaultNamingContext` is a protocol error (not an AD DC).
    pub async fn root_dse(&mut self) -> Result<RootDse, LdapError> {
        let attrs = [
            "defaultNamingContext",
            "configurationNamingContext",
            "schemaNamingContext",
            "dnsHostName",
            "supportedControl",
        ];
        let entry = self.read("", &attrs, "read rootDSE").await?.unwrap_or_default();
        let Some(default_naming_context) = entry.first("defaultNamingContext").map(str::to_string) else {
            return Err(LdapError::Protocol {
                server: self.server.clone(),
                operation: "read rootDSE",
                detail: "no defaultNamingContext: is this an Active Directory domain controller?".to_string(),
            });
        };
        Ok(RootDse {
            default_naming_context,
            configuration_naming_context: entry.first("configurationNamingContext").map(str::to_string),
            schema_naming_context: entry.first("schemaNamingContext").map(str::to_string),
            dns_host_name: entry.first("dnsHostName").map(str::to_ascii_lowercase),
            supported_controls: entry.values("supportedControl").map(str::to_string).collect(),
        })
    }

    /// Politely ends the session; errors are irrelevant at this point.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ldap.unbind()).await;
    }
}

const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

/// The cookie of a page's paged-results response control: `Some(None)` when there is no more (no control, or an
/// empty cookie), `None` when the control is malformed. Parsed here: ldap3's parser panics on a malformed value.
fn paged_cookie(result: &LdapResult) -> Option<Option<Vec<u8>>> {
    let Some(control) = result.ctrls.iter().find(|c| c.1.ctype == PAGED_RESULTS_OID) else { return Some(None) };
    let (_, tag) = parse_tag(control.1.val.as_deref()?).ok()?;
    let cookie = tag.expect_constructed()?.into_iter().nth(1)?.expect_primitive()?;
    Some((!cookie.is_empty()).then_some(cookie))
}

/// One line per search at trace level: where a cycle's time (and the DC's) goes, without a profiler. No DNs or
/// filters: the operation names what was asked.
fn trace_search(operation: &'static str, kind: &'static str, entries: impl TryInto<u64>, started: Instant) {
    let entries = entries.try_into().unwrap_or(u64::MAX);
    tracing::trace!(operation, kind, entries, ms = started.elapsed().as_secs_f64() * 1e3, "LDAP search");
}

#[cfg(test)]
mod tests;
