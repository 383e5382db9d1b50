//! Graph requests of one probe run: bearer token, retries on throttling within the run's deadline, size-limited
//! bodies, and paging through `@odata.nextLink` on the configured Graph host only.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION};
use rustls::ClientConfig;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tokio::time::Instant;
use url::Url;

use super::auth::request_secrets;
use super::error::error_fields;
use super::request::{read_limited, remaining, wait_before_retry};
use super::throttle::{backoff, retry_after, MAX_ATTEMPTS};
use super::{EntraContext, GraphError};
use crate::config::EntraTarget;

/// A Graph page or object; a few megabytes at most in practice (100 SKUs with their plans, 500 audit events).
const GRAPH_BODY_LIMIT: usize = 8 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A Graph resource a probe reads, with the application permission it needs (named in 403 errors).
#[derive(Debug)]
pub struct Endpoint {
    /// Relative to the Graph root, e.g. `v1.0/subscribedSkus`; owned for a path with an id in it (the caller
    /// checks the id's form before it goes into a path).
    pub path: Cow<'static, str>,
    /// Least-privileged application permission, as the admin finds it in the portal.
    pub permission: &'static str,
    /// Subject to the reports/audit budget of 5 requests per 10 s.
    pub audit: bool,
}

/// One probe run's access to Graph: every request and retry ends by `deadline`.
pub struct Run<'a> {
    ctx: &'a EntraContext,
    deadline: Instant,
}

/// A collection read page by page; `complete` is false when the page cap stopped it.
#[derive(Debug)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub complete: bool,
}

#[derive(Deserialize)]
struct Page<T> {
    value: Vec<T>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

impl<'a> Run<'a> {
    pub fn new(ctx: &'a EntraContext, deadline: Instant) -> Run<'a> {
        Run { ctx, deadline }
    }

    /// What is left of the run's time.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// GETs one object.
    ///
    /// # Errors
    /// Transport, HTTP and JSON errors, classified.
    pub async fn get<T: DeserializeOwned>(&self, ep: &Endpoint, query: &[(&str, &str)]) -> Result<T, GraphError> {
        let url = self.url(ep, query)?;
        let body = self.fetch(ep, url).await?;
        parse(&body, &what(ep))
    }

    /// GETs a collection, following `@odata.nextLink` for at most `max_pages` pages.
    ///
    /// # Errors
    /// As [`Run::get`], and a protocol error for a nextLink to a foreign host.
    pub async fn list<T: DeserializeOwned>(
        &self,
        ep: &Endpoint,
        query: &[(&str, &str)],
        max_pages: usize,
    ) -> Result<Listing<T>, GraphError> {
        let what = what(ep);
        let mut url = self.url(ep, query)?;
        let mut items = Vec::new();
        for _ in 0..max_pages {
            let page: Page<T> = parse(&self.fetch(ep, url).await?, &what)?;
            items.extend(page.value);
            match page.next_link {
                Some(link) => url = self.ctx.endpoints.next_link(&what, &link)?,
                None => return Ok(Listing { items, complete: true }),
            }
        }
        tracing::debug!(request = %what, max_pages, "page cap reached; the rest waits for the next run");
        Ok(Listing { items, complete: false })
    }

    fn url(&self, ep: &Endpoint, query: &[(&str, &str)]) -> Result<Url, GraphError> {
        let mut url = self.ctx.endpoints.graph(&ep.path)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// One GET with the bearer token: a 401 refreshes the token once; 429/503/504 wait (Retry-After, else
    /// backoff) and retry while the deadline allows.
    async fn fetch(&self, ep: &Endpoint, url: Url) -> Result<Vec<u8>, GraphError> {
        let what = what(ep);
        let host = self.ctx.endpoints.graph_host();
        let http = self.ctx.http()?;
        let mut token = self.ctx.tokens.get(self.ctx, self.deadline, None).await?;
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            if ep.audit {
                self.ctx.audit_limiter.acquire(self.deadline).await.map_err(|wait| GraphError::Throttled {
                    what: what.clone(),
                    detail: format!(
                        "the audit-log budget (5 requests per 10 s) frees a slot in {:.1} s, after this run's deadline",
                        wait.as_secs_f64()
                    ),
                })?;
            }
            let timeout = remaining(self.deadline, &what)?;
            let request =
                http.get(url.clone()).header(AUTHORIZATION, token.header()?).header(ACCEPT, "application/json");
            let response =
                request.timeout(timeout).send().await.map_err(|e| GraphError::from_transport(&what, &host, &e))?;
            let status = response.status().as_u16();
            let retry = retry_after(response.headers());
            let body = read_limited(response, GRAPH_BODY_LIMIT, &what, &host).await?;
            tracing::debug!(request = %what, status, bytes = body.len(), "Graph answered");
            match status {
                200..=299 => return Ok(body),
                401 if !refreshed => {
                    refreshed = true;
                    token = self.ctx.tokens.get(self.ctx, self.deadline, Some(&token)).await?;
                }
                429 | 503 | 504 => {
                    attempt += 1;
                    if attempt >= MAX_ATTEMPTS {
                        let detail = format!("HTTP {status} on {attempt} attempts");
                        return Err(GraphError::Throttled { what, detail });
                    }
                    wait_before_retry(retry.unwrap_or_else(|| backoff(attempt - 1)), self.deadline, &what, status)
                        .await?;
                }
                403 => {
                    let (code, message) = error_fields(&body, &request_secrets(self.ctx, &token));
                    let hint = permission_hint(ep, &code);
                    return Err(GraphError::Permission { what, status, code, message, hint });
                }
                _ => {
                    let (code, message) = error_fields(&body, &request_secrets(self.ctx, &token));
                    return Err(GraphError::Status { what, status, code, message });
                }
            }
        }
    }
}

fn what(ep: &Endpoint) -> String {
    format!("GET /{}", ep.path)
}

fn parse<T: DeserializeOwned>(body: &[u8], what: &str) -> Result<T, GraphError> {
    serde_json::from_slice(body)
        .map_err(|e| GraphError::Protocol { what: what.to_string(), detail: format!("malformed JSON: {e}") })
}

fn permission_hint(ep: &Endpoint, code: &str) -> String {
    if code == "Authentication_RequestFromNonPremiumTenantOrB2CTenant" {
        return "the tenant has no Entra ID P1/P2 licence, which reading audit logs through Graph requires".to_string();
    }
    format!(
        "the app registration needs the application permission {} with admin consent (API permissions > Add a \
         permission > Microsoft Graph > Application permissions, then Grant admin consent)",
        ep.permission
    )
}

/// The HTTP client of one target: rustls with the configured CA (else the system's), the proxy, no redirects
/// (a redirect could carry the token elsewhere), HTTPS only.
///
/// # Errors
/// A message naming the CA file or the proxy.
pub(super) fn build_http(cfg: &EntraTarget) -> Result<reqwest::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = crate::trust::roots(cfg.ca_file.as_deref(), "entra.ca_file")?;
    let tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut builder = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("writeback_exporter/", env!("CARGO_PKG_VERSION")));
    if let Some(proxy) = &cfg.proxy_url {
        // The proxy URL may carry credentials: the error names only its host.
        let host = proxy.host_str().unwrap_or_default().to_string();
        builder = builder.proxy(reqwest::Proxy::all(proxy.as_str()).map_err(|e| format!("proxy_url {host}: {e}"))?);
    }
    builder.build().map_err(|e| format!("HTTP client setup: {e}"))
}
