//! One bound LDAP connection to one DC: connect (LDAPS, StartTLS or, if allowed, plain), simple bind, and
//! searches, each operation under a timeout.

use std::collections::HashMap;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use url::Url;

use super::error::{from_result_code, LdapError};
use super::AdContext;

pub struct Session {
    ldap: Ldap,
    /// The URL host, for error messages and fallback labels.
    server: String,
    op_timeout: Duration,
}

/// Attributes of one entry with case-insensitive names (AD answers in its own casing).
#[derive(Debug, Default)]
pub struct Entry {
    pub dn: String,
    attrs: HashMap<String, Vec<String>>,
}

impl Entry {
    fn from_search(entry: SearchEntry) -> Entry {
        let attrs = entry.attrs.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        Entry { dn: entry.dn, attrs }
    }

    pub fn values(&self, name: &str) -> &[String] {
        self.attrs.get(&name.to_ascii_lowercase()).map(Vec::as_slice).unwrap_or_default()
    }

    pub fn first(&self, name: &str) -> Option<&str> {
        self.values(name).first().map(String::as_str)
    }

    /// An integer attribute; `None` when absent, an error when present but not a number.
    pub fn int(&self, name: &str) -> Result<Option<i64>, String> {
        self.first(name)
            .map(|v| v.trim().parse::<i64>().map_err(|_| format!("attribute {name} is not an integer: {v:?}")))
            .transpose()
    }
}

/// The parts of the rootDSE the probes use.
#[derive(Debug, Clone)]
pub struct RootDse {
    pub default_naming_context: String,
    pub configuration_naming_context: Option<String>,
    pub dns_host_name: Option<String>,
    pub supported_controls: Vec<String>,
}

impl Session {
    /// Connects and binds with the target's credentials.
    ///
    /// # Errors
    /// Classified connect, TLS, auth and timeout failures.
    pub async fn open(ctx: &AdContext, url: &Url) -> Result<Session, LdapError> {
        let server = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let op_timeout = ctx.op_timeout;
        let tls = ctx.tls.clone().map_err(|detail| LdapError::Tls { server: server.clone(), detail })?;
        let settings = LdapConnSettings::new()
            .set_conn_timeout(op_timeout)
            .set_config(tls)
            .set_starttls(url.scheme() == "ldap" && ctx.cfg.tls.start_tls);
        let connect = LdapConnAsync::with_settings(settings, url.as_str());
        let (conn, mut ldap) = tokio::time::timeout(op_timeout, connect)
            .await
            .map_err(|_| LdapError::Timeout { server: server.clone(), operation: "connect" })?
            .map_err(|e| LdapError::classify(&server, "connect", e))?;
        // The connection task ends by itself when the last `Ldap` handle is dropped or the server hangs up.
        tokio::spawn(async move {
            if let Err(e) = conn.drive().await {
                tracing::debug!(error = %e, "LDAP connection ended");
            }
        });

        let user = ctx.cfg.bind.user.as_deref().unwrap_or_default();
        let password = match &ctx.cfg.bind.password {
            Some(source) => source.read().map_err(|detail| LdapError::Auth { server: server.clone(), detail })?,
            None => return Err(LdapError::Auth { server, detail: "no bind password configured".to_string() }),
        };
        let result = ldap
            .with_timeout(op_timeout)
            .simple_bind(user, password.expose())
            .await
            .map_err(|e| LdapError::classify(&server, "bind", e))?;
        if result.rc != 0 {
            return Err(from_result_code(server, "bind", result.rc, &result.text));
        }
        Ok(Session { ldap, server, op_timeout })
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
        let ldap3::SearchResult(entries, result) = self
            .ldap
            .with_timeout(self.op_timeout)
            .search(dn, Scope::Base, "(objectClass=*)", attrs.to_vec())
            .await
            .map_err(|e| LdapError::classify(&self.server, operation, e))?;
        match result.rc {
            0 => {}
            32 => return Ok(None), // noSuchObject
            rc => return Err(from_result_code(self.server.clone(), operation, rc, &result.text)),
        }
        Ok(entries.into_iter().next().map(|e| Entry::from_search(SearchEntry::construct(e))))
    }

    /// Reads the rootDSE.
    ///
    /// # Errors
    /// Classified failures; a rootDSE without `defaultNamingContext` is a protocol error (not an AD DC).
    pub async fn root_dse(&mut self) -> Result<RootDse, LdapError> {
        let attrs = ["defaultNamingContext", "configurationNamingContext", "dnsHostName", "supportedControl"];
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
            dns_host_name: entry.first("dnsHostName").map(str::to_ascii_lowercase),
            supported_controls: entry.values("supportedControl").to_vec(),
        })
    }

    /// Politely ends the session; errors are irrelevant at this point.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ldap.unbind()).await;
    }
}
