//! Finding the domain's DCs: DNS SRV records (`_ldap._tcp.dc._msdcs.<domain>`, in RFC 2782 order) when no
//! servers are configured, host names through the configured DNS servers, and the DCs the directory itself lists
//! (`nTDSDSA` objects under `CN=Sites`), so that every DC is probed, not only the ones DNS or the config name.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;
use ldap3::Scope;
use rand::Rng;

use super::{LdapError, Session};

/// One SRV target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvTarget {
    pub host: String,
    pub port: u16,
    pub priority: u16,
    pub weight: u16,
}

/// The resolver of a target: the system's, or the DNS servers named in `ad.dns_servers`.
pub struct Dns {
    resolver: TokioResolver,
    custom: bool,
}

impl std::fmt::Debug for Dns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dns").field("custom", &self.custom).finish()
    }
}

impl Dns {
    /// # Errors
    /// When the system resolver configuration cannot be read (and no servers are given).
    pub fn new(servers: &[SocketAddr]) -> Result<Dns, String> {
        let provider = TokioRuntimeProvider::default();
        let builder = if servers.is_empty() {
            TokioResolver::builder(provider).map_err(|e| format!("system DNS configuration: {e}"))?
        } else {
            let name_servers = servers
                .iter()
                .map(|addr| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = addr.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = addr.port();
                    let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                    ns.connections = vec![udp, tcp];
                    ns
                })
                .collect();
            TokioResolver::builder_with_config(ResolverConfig::from_name_servers(name_servers), provider)
        };
        let resolver = builder.build().map_err(|e| format!("DNS resolver: {e}"))?;
        Ok(Dns { resolver, custom: !servers.is_empty() })
    }

    /// True when the target names its own DNS servers: host names must then be resolved here, not by the system.
    pub fn is_custom(&self) -> bool {
        self.custom
    }

    /// The domain's DCs from `_ldap._tcp.dc._msdcs.<domain>`, ordered as RFC 2782 asks (priority, then a
    /// weighted random order within a priority).
    ///
    /// # Errors
    /// A connect-class error naming the record when the lookup fails or times out.
    pub async fn srv_dcs(&self, domain: &str, timeout: Duration) -> Result<Vec<SrvTarget>, LdapError> {
        let name = format!("_ldap._tcp.dc._msdcs.{domain}.");
        let err = |detail: String| LdapError::Connect { server: name.clone(), detail };
        let lookup = tokio::time::timeout(timeout, self.resolver.srv_lookup(name.as_str()))
            .await
            .map_err(|_| err("DNS SRV lookup timed out".to_string()))?
            .map_err(|e| err(format!("DNS SRV lookup failed: {e}")))?;
        let targets = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::SRV(srv) => Some(SrvTarget {
                    host: srv.target.to_ascii().trim_end_matches('.').to_ascii_lowercase(),
                    port: srv.port,
                    priority: srv.priority,
                    weight: srv.weight,
                }),
                _ => None,
            })
            .collect();
        Ok(rfc2782_order(targets, &mut rand::rng()))
    }

    /// The addresses of a host name.
    ///
    /// # Errors
    /// A connect-class error when the name does not resolve.
    pub async fn resolve(&self, host: &str, timeout: Duration) -> Result<Vec<IpAddr>, LdapError> {
        let err = |detail: String| LdapError::Connect { server: host.to_string(), detail };
        let fqdn = format!("{}.", host.trim_end_matches('.'));
        let ips = tokio::time::timeout(timeout, self.resolver.lookup_ip(fqdn.as_str()))
            .await
            .map_err(|_| err("DNS lookup timed out".to_string()))?
            .map_err(|e| err(format!("DNS lookup failed: {e}")))?;
        Ok(ips.iter().collect())
    }
}

/// RFC 2782: lowest priority first; within a priority, repeatedly pick a target with probability proportional to
/// its weight (zero-weight targets get a small chance, as the RFC's running-sum method gives them).
pub fn rfc2782_order(mut targets: Vec<SrvTarget>, rng: &mut impl Rng) -> Vec<SrvTarget> {
    targets.sort_by_key(|t| t.priority);
    let mut ordered = Vec::with_capacity(targets.len());
    while !targets.is_empty() {
        let priority = targets.first().map(|t| t.priority).unwrap_or_default();
        let mut group: Vec<SrvTarget> = Vec::new();
        while targets.first().is_some_and(|t| t.priority == priority) {
            group.push(targets.remove(0));
        }
        while !group.is_empty() {
            let total: u32 = group.iter().map(|t| u32::from(t.weight)).sum();
            let pick = if total == 0 { 0 } else { rng.random_range(0..=total) };
            let mut running = 0;
            let index = group
                .iter()
                .position(|t| {
                    running += u32::from(t.weight);
                    running >= pick
                })
                .unwrap_or(0);
            ordered.push(group.remove(index));
        }
    }
    ordered
}

/// Host names of the DCs the directory lists: `server` objects under `CN=Sites` that hold an `nTDSDSA` child.
///
/// # Errors
/// LDAP failures.
pub async fn listed_dcs(
    session: &mut Session,
    configuration_nc: &str,
    page_size: u32,
) -> Result<Vec<String>, LdapError> {
    let sites = format!("CN=Sites,{configuration_nc}");
    let mut dsa_parents = Vec::new();
    session
        .search_paged(
            &sites,
            Scope::Subtree,
            "(objectClass=nTDSDSA)",
            &["objectClass"],
            Vec::new(),
            page_size,
            "list DCs",
            |e| {
                // CN=NTDS Settings,CN=DC1,CN=Servers,CN=Default-First-Site-Name,CN=Sites,...: the parent is the server.
                if let Some((_, parent)) = e.dn.split_once(',') {
                    dsa_parents.push(parent.to_string());
                }
            },
        )
        .await?;
    let mut names = Vec::new();
    for server in dsa_parents {
        if let Some(entry) = session.read(&server, &["dNSHostName"], "read a DC's host name").await? {
            if let Some(name) = entry.first("dNSHostName") {
                names.push(name.to_ascii_lowercase());
            }
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn srv(host: &str, priority: u16, weight: u16) -> SrvTarget {
        SrvTarget { host: host.to_string(), port: 389, priority, weight }
    }

    #[test]
    fn priority_orders_strictly() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let ordered = rfc2782_order(vec![srv("c", 20, 0), srv("a", 0, 0), srv("b", 10, 100)], &mut rng);
        let hosts: Vec<&str> = ordered.iter().map(|t| t.host.as_str()).collect();
        assert_eq!(hosts, ["a", "b", "c"]);
    }

    #[test]
    fn weight_biases_the_first_pick() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let mut heavy_first = 0;
        for _ in 0..1000 {
            let ordered = rfc2782_order(vec![srv("light", 0, 10), srv("heavy", 0, 90)], &mut rng);
            assert_eq!(ordered.len(), 2);
            heavy_first += usize::from(ordered[0].host == "heavy");
        }
        assert!((800..=980).contains(&heavy_first), "heavy first {heavy_first} times of 1000");
    }
}
