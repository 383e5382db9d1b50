//! Where a target's tokens and Graph calls go: the national cloud's URLs, or the configured overrides.

use url::Url;

use super::GraphError;
use crate::config::{Cloud, EntraTarget};

/// The resolved URLs of one target.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// `{authority}/{tenant}/oauth2/v2.0/token`; also the `aud` of a client assertion.
    pub token_url: Url,
    /// Graph calls are `graph_base` joined with `v1.0/...`; ends in `/`. The token is sent to this origin only.
    pub graph_base: Url,
    /// The cloud's own Graph root: tokens are requested for it (`{root}/.default`) even when `graph_url` points
    /// elsewhere (a reverse proxy, a test fake), and Graph writes it into `@odata.nextLink`.
    pub cloud_graph_root: Url,
}

/// Authority and Graph root of each cloud (REFERENCE.md §3).
fn cloud_urls(cloud: Cloud) -> (&'static str, &'static str) {
    match cloud {
        Cloud::Global => ("https://login.microsoftonline.com/", "https://graph.microsoft.com/"),
        Cloud::Usgov => ("https://login.microsoftonline.us/", "https://graph.microsoft.us/"),
        Cloud::Usgovdod => ("https://login.microsoftonline.us/", "https://dod-graph.microsoft.us/"),
        Cloud::China => ("https://login.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn/"),
    }
}

impl Endpoints {
    /// # Errors
    /// Only for URLs that cannot be joined (validated config makes this unreachable in practice).
    pub fn new(cfg: &EntraTarget) -> Result<Endpoints, String> {
        let (authority, graph) = cloud_urls(cfg.cloud);
        let parse = |s: &str| Url::parse(s).map_err(|e| format!("built-in URL {s}: {e}"));
        let authority = directory(cfg.authority_url.clone().map_or_else(|| parse(authority), Ok)?);
        let cloud_graph_root = parse(graph)?;
        let graph_base = directory(cfg.graph_url.clone().unwrap_or_else(|| cloud_graph_root.clone()));
        let token_url = authority
            .join(&format!("{}/oauth2/v2.0/token", cfg.tenant_id))
            .map_err(|e| format!("token URL for tenant {}: {e}", cfg.tenant_id))?;
        Ok(Endpoints { token_url, graph_base, cloud_graph_root })
    }

    /// `{cloud graph root}/.default`: every application permission granted to the app on Graph.
    pub fn scope(&self) -> String {
        format!("{}.default", self.cloud_graph_root)
    }

    /// The URL of a Graph path such as `v1.0/organization`.
    ///
    /// # Errors
    /// A protocol error when the path cannot be joined (never for the fixed paths the probes use).
    pub fn graph(&self, path: &str) -> Result<Url, GraphError> {
        self.graph_base
            .join(path.trim_start_matches('/'))
            .map_err(|e| GraphError::Protocol { what: format!("GET /{path}"), detail: e.to_string() })
    }

    /// Where an `@odata.nextLink` may be followed. A link to the configured Graph origin is kept; a link to the
    /// cloud's own Graph root (what Graph writes even behind a proxy) is moved onto the configured base; any other
    /// host is refused, because following it would send the bearer token there.
    ///
    /// # Errors
    /// [`GraphError::Protocol`] naming the foreign host.
    pub fn next_link(&self, what: &str, link: &str) -> Result<Url, GraphError> {
        let url = self.graph_base.join(link).map_err(|e| GraphError::Protocol {
            what: what.to_string(),
            detail: format!("bad @odata.nextLink: {e}"),
        })?;
        if same_origin(&url, &self.graph_base) {
            return Ok(url);
        }
        if same_origin(&url, &self.cloud_graph_root) {
            let mut relative = url.path().trim_start_matches('/').to_string();
            if let Some(query) = url.query() {
                relative = format!("{relative}?{query}");
            }
            return self.graph(&relative);
        }
        Err(GraphError::Protocol {
            what: what.to_string(),
            detail: format!(
                "@odata.nextLink points to another host ({}); not followed, so the token is only sent to {}",
                host(&url),
                host(&self.graph_base)
            ),
        })
    }

    pub fn graph_host(&self) -> String {
        host(&self.graph_base)
    }

    pub fn token_host(&self) -> String {
        host(&self.token_url)
    }
}

pub(crate) fn host(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

/// The URL as a base for `join`: no query or fragment, path ending in `/`.
fn directory(mut url: Url) -> Url {
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{EntraCredential, SecretSource};

    fn target(cloud: Cloud, authority: Option<&str>, graph: Option<&str>) -> EntraTarget {
        EntraTarget {
            tenant_id: "contoso.onmicrosoft.com".into(),
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            credential: EntraCredential::Secret(SecretSource::Env("X".into())),
            cloud,
            authority_url: authority.map(|u| Url::parse(u).unwrap()),
            graph_url: graph.map(|u| Url::parse(u).unwrap()),
            ca_file: None,
            proxy_url: None,
            min_connect_version: "2.5.79.0".parse().unwrap(),
            sspr_audit: true,
            sspr_explain_limit: 20,
        }
    }

    #[test]
    fn clouds_and_overrides() {
        let cases = [
            (Cloud::Global, "https://login.microsoftonline.com/", "https://graph.microsoft.com/"),
            (Cloud::Usgov, "https://login.microsoftonline.us/", "https://graph.microsoft.us/"),
            (Cloud::Usgovdod, "https://login.microsoftonline.us/", "https://dod-graph.microsoft.us/"),
            (Cloud::China, "https://login.chinacloudapi.cn/", "https://microsoftgraph.chinacloudapi.cn/"),
        ];
        for (cloud, authority, graph) in cases {
            let e = Endpoints::new(&target(cloud, None, None)).unwrap();
            assert_eq!(e.token_url.as_str(), format!("{authority}contoso.onmicrosoft.com/oauth2/v2.0/token"));
            assert_eq!(e.graph("v1.0/organization").unwrap().as_str(), format!("{graph}v1.0/organization"));
            assert_eq!(e.scope(), format!("{graph}.default"));
        }
        let e = Endpoints::new(&target(
            Cloud::Usgov,
            Some("https://idp.example:8443/login"),
            Some("https://gw.example/graph"),
        ))
        .unwrap();
        assert_eq!(e.token_url.as_str(), "https://idp.example:8443/login/contoso.onmicrosoft.com/oauth2/v2.0/token");
        assert_eq!(e.graph("/beta/directory/x").unwrap().as_str(), "https://gw.example/graph/beta/directory/x");
        assert_eq!(e.scope(), "https://graph.microsoft.us/.default", "the scope stays the cloud's");
        assert_eq!(e.token_host(), "idp.example:8443");
    }

    #[test]
    fn next_links_stay_on_the_graph_host() {
        let e = Endpoints::new(&target(Cloud::Global, None, Some("https://gw.example/graph/"))).unwrap();
        let own = e.next_link("GET", "https://gw.example/graph/v1.0/x?$skiptoken=a").unwrap();
        assert_eq!(own.as_str(), "https://gw.example/graph/v1.0/x?$skiptoken=a");
        let cloud = e.next_link("GET", "https://graph.microsoft.com/v1.0/x?$skiptoken=b").unwrap();
        assert_eq!(cloud.as_str(), "https://gw.example/graph/v1.0/x?$skiptoken=b");
        for foreign in ["https://evil.example/v1.0/x", "http://gw.example/graph/v1.0/x", "https://gw.example:444/x"] {
            let err = e.next_link("GET", foreign).unwrap_err();
            assert!(err.to_string().contains("not followed"), "{foreign}: {err}");
        }
    }
}
