//! The forest's domains (`crossRef` objects under `CN=Partitions` with `systemFlags & 2`), sessions to a DC of
//! each, and which domain a scope DN belongs to. Default scopes are the root of every domain; a domain that cannot
//! be reached is reported on its own (check line, log, a counted failure reason) without failing the others.

use std::future::Future;

use ldap3::Scope;
use url::Url;

use super::values::dn_to_dns_name;
use super::{first_answering, AdContext, Entry, LdapError, RootDse, Session};
use crate::base::{Check, ProbeOutput, Status};

/// `FLAG_CR_NTDS_DOMAIN`: the crossRef names a domain naming context (not the configuration, schema or an
/// application partition).
const FLAG_CR_NTDS_DOMAIN: i64 = 0x2;

/// One domain of the forest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForestDomain {
    /// The `domain` label: the DNS name, lower case.
    pub name: String,
    /// The domain naming context (its root object's DN), as the directory spells it.
    pub nc: String,
}

/// A domain from one crossRef entry; `None` for other partitions and for entries lacking what is needed.
pub fn domain_from_cross_ref(entry: &Entry) -> Option<ForestDomain> {
    let flags = entry.int("systemFlags").ok().flatten()?;
    if flags & FLAG_CR_NTDS_DOMAIN == 0 {
        return None;
    }
    let nc = entry.first("nCName")?.to_string();
    let name = entry
        .first("dnsRoot")
        .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .or_else(|| dn_to_dns_name(&nc))?;
    Some(ForestDomain { name, nc })
}

/// Lists the forest's domains, sorted by name, from the configuration NC of any DC of the forest.
///
/// # Errors
/// LDAP failures.
pub async fn list_domains(
    session: &mut Session,
    configuration_nc: &str,
    page_size: u32,
) -> Result<Vec<ForestDomain>, LdapError> {
    let partitions = format!("CN=Partitions,{configuration_nc}");
    let mut domains = Vec::new();
    session
        .search_paged(
            &partitions,
            Scope::OneLevel,
            "(&(objectClass=crossRef)(systemFlags:1.2.840.113556.1.4.803:=2))",
            &["nCName", "dnsRoot", "systemFlags"],
            Vec::new(),
            page_size,
            "list the forest's domains",
            |e| domains.extend(domain_from_cross_ref(&e)),
        )
        .await?;
    domains.sort_by(|a, b| a.name.cmp(&b.name));
    domains.dedup_by(|a, b| a.nc.eq_ignore_ascii_case(&b.nc));
    Ok(domains)
}

/// The forest's domains as the bound DC sees them (read once per cycle through [`AdContext::forest`]).
#[derive(Debug)]
pub struct Forest {
    /// The bound domain first, then the others by name.
    pub domains: Vec<ForestDomain>,
    /// Why the list could not be read (then `domains` is the bound domain alone).
    pub listing_error: Option<String>,
}

impl Forest {
    /// The configured scopes (else every domain's root) grouped by domain, the bound domain first.
    pub fn scope_groups(&self, configured: &[String]) -> Vec<(ForestDomain, Vec<String>)> {
        scopes_by_domain(&scopes_or_roots(configured, &self.domains), &self.domains)
    }

    /// The WARN check of a forest whose domains could not be listed, for each probe that relies on the list.
    pub fn note(&self, out: &mut ProbeOutput) {
        let (Some(error), Some(own)) = (&self.listing_error, self.domains.first()) else { return };
        out.checks.push(Check {
            id: "ad_forest_domains",
            subject: own.name.clone(),
            title: "The forest's domains can be listed".to_string(),
            status: Status::Warn,
            observed: error.clone(),
            remediation: Some(
                "The monitoring account needs read access to CN=Partitions in the configuration partition \
                 (granted to Authenticated Users by default)."
                    .to_string(),
            ),
        });
    }
}

/// Reads the forest's domains from the bound DC: the bound domain first, then the others. When the list cannot be
/// read, only the bound domain, with the reason.
pub(super) async fn read(session: &mut Session, root: &RootDse, page_size: u32) -> Forest {
    let own_nc = root.default_naming_context.clone();
    let own = ForestDomain { name: dn_to_dns_name(&own_nc).unwrap_or_default(), nc: own_nc };
    let listed = match &root.configuration_naming_context {
        Some(config) => list_domains(session, config, page_size).await,
        None => Err(LdapError::Protocol {
            server: session.server().to_string(),
            operation: "list the forest's domains",
            detail: "rootDSE has no configurationNamingContext".to_string(),
        }),
    };
    match listed {
        Ok(domains) => {
            let mut all = vec![own.clone()];
            all.extend(domains.into_iter().filter(|d| !d.nc.eq_ignore_ascii_case(&own.nc)));
            Forest { domains: all, listing_error: None }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot list the forest's domains; only the bound domain is examined");
            Forest { domains: vec![own], listing_error: Some(e.to_string()) }
        }
    }
}

/// The configured scopes, or else the root of every domain of the forest.
pub fn scopes_or_roots(configured: &[String], domains: &[ForestDomain]) -> Vec<String> {
    if configured.is_empty() {
        domains.iter().map(|d| d.nc.clone()).collect()
    } else {
        configured.to_vec()
    }
}

/// The domain a DN lies in: the one whose naming context is the longest suffix of it; `None` outside all of them.
pub fn domain_of<'a>(dn: &str, domains: &'a [ForestDomain]) -> Option<&'a ForestDomain> {
    let dn = super::dn::normalize(dn);
    domains
        .iter()
        .filter(|d| {
            let nc = super::dn::normalize(&d.nc);
            dn == nc || dn.ends_with(&format!(",{nc}"))
        })
        .max_by_key(|d| d.nc.len())
}

/// Groups scope DNs by domain, in the order of `domains`; DNs outside every domain go to the first (the bound
/// domain), where the DC answers with a referral that is reported for that scope.
pub fn scopes_by_domain(scopes: &[String], domains: &[ForestDomain]) -> Vec<(ForestDomain, Vec<String>)> {
    let mut groups: Vec<(ForestDomain, Vec<String>)> = domains.iter().map(|d| (d.clone(), Vec::new())).collect();
    for scope in scopes {
        let index = domain_of(scope, domains).and_then(|d| domains.iter().position(|x| x == d)).unwrap_or(0);
        if let Some((_, list)) = groups.get_mut(index) {
            list.push(scope.clone());
        }
    }
    groups.retain(|(_, list)| !list.is_empty());
    groups
}

impl AdContext {
    /// Opens a session to a DC of another domain of the forest: the DCs of its DNS SRV records, else its DNS name
    /// (whose address records name its DCs), with the scheme and port of the target's servers. The DC must serve
    /// that domain (its rootDSE's defaultNamingContext).
    ///
    /// # Errors
    /// The first failure when no DC of the domain answers.
    pub async fn domain_session(&self, domain: &ForestDomain) -> Result<(Session, RootDse, Url), LdapError> {
        let mut urls: Vec<Url> = match &self.dns {
            Ok(dns) => match dns.srv_dcs(&domain.name, self.op_timeout).await {
                Ok(targets) => {
                    targets.iter().filter_map(|t| Url::parse(&self.url_for(&t.host, Some(t.port))).ok()).collect()
                }
                Err(e) => {
                    tracing::debug!(domain = %domain.name, error = %e, "no SRV records; trying the domain name");
                    Vec::new()
                }
            },
            Err(_) => Vec::new(),
        };
        if urls.is_empty() {
            urls.extend(Url::parse(&self.url_for(&domain.name, None)).ok());
        }
        first_answering(&urls, |url| async move {
            let mut session = Session::open(self, &url).await?;
            let root = match session.root_dse().await {
                Ok(root) if root.default_naming_context.eq_ignore_ascii_case(&domain.nc) => root,
                Ok(root) => {
                    let server = session.server().to_string();
                    session.close().await;
                    let detail = format!("serves {}, not {}", root.default_naming_context, domain.nc);
                    return Err(LdapError::Protocol { server, operation: "read rootDSE", detail });
                }
                Err(e) => {
                    session.close().await;
                    return Err(e);
                }
            };
            if let Some(name) = &root.dns_host_name {
                self.remember_dc_name(&url, name);
            }
            Ok((session, root, url))
        })
        .await
    }
}

/// Runs `each` for every domain in `others` on a DC of that domain, one session each. `each` gets the session, the
/// DC's URL, the domain and its scopes, and hands back the session (closed here) with the domain's part of the output,
/// merged when it succeeds. A domain none of whose DCs answers, or whose reads fail, is reported on its own
/// ([`unreachable`]) and the others go on: one domain never fails the whole probe. (Owned arguments: a closure whose
/// future borrowed them would not be `Send`.)
pub async fn fan_out<F, Fut>(
    ctx: &AdContext,
    others: &[(ForestDomain, Vec<String>)],
    part: &str,
    out: &mut ProbeOutput,
    mut each: F,
) where
    F: FnMut(Session, Url, ForestDomain, Vec<String>) -> Fut,
    Fut: Future<Output = (Session, Result<ProbeOutput, LdapError>)>,
{
    for (domain, scopes) in others {
        let result = match ctx.domain_session(domain).await {
            Ok((session, _, url)) => {
                let (session, result) = each(session, url, domain.clone(), scopes.clone()).await;
                session.close().await;
                result
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(scratch) => out.merge(scratch),
            Err(e) => unreachable(domain, &e, part, out),
        }
    }
}

/// The check line and the counted reason for a forest domain that could not be reached.
pub fn unreachable(domain: &ForestDomain, error: &LdapError, probe_part: &str, out: &mut ProbeOutput) {
    tracing::warn!(domain = %domain.name, error = %error, "forest domain not reachable; {probe_part} skipped for it");
    out.partial_failures.push(error.reason());
    out.checks.push(Check {
        id: "ad_forest_domain_reachable",
        subject: domain.name.clone(),
        title: format!("A DC of forest domain {} answers ({probe_part})", domain.name),
        status: Status::Fail,
        observed: error.to_string(),
        remediation: Some(format!(
            "The exporter finds the domain's DCs through DNS (SRV _ldap._tcp.dc._msdcs.{0}, else the name {0}): \
             check that they resolve and answer from this host, and that the monitoring account is trusted there. \
             To leave the domain out, list the scopes to examine in `scopes`.",
            domain.name
        )),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(name: &str, nc: &str) -> ForestDomain {
        ForestDomain { name: name.to_string(), nc: nc.to_string() }
    }

    fn entry(flags: &str, nc: &str, root: Option<&str>) -> Entry {
        let mut attrs = vec![("systemflags", flags), ("ncname", nc)];
        if let Some(root) = root {
            attrs.push(("dnsroot", root));
        }
        Entry::from_pairs("CN=X,CN=Partitions,CN=Configuration,DC=corp", &attrs)
    }

    #[test]
    fn only_domain_cross_refs_count() {
        let cases = [
            (
                entry("3", "DC=corp,DC=example,DC=test", Some("Corp.Example.Test")),
                Some(d("corp.example.test", "DC=corp,DC=example,DC=test")),
            ),
            // An application partition (DomainDnsZones: systemFlags 5) and the configuration NC (1).
            (entry("5", "DC=DomainDnsZones,DC=corp", Some("DomainDnsZones.corp")), None),
            (entry("1", "CN=Configuration,DC=corp", Some("corp")), None),
            // No dnsRoot: the name comes from the DN.
            (entry("2", "DC=child,DC=corp", None), Some(d("child.corp", "DC=child,DC=corp"))),
            (entry("not a number", "DC=x", Some("x")), None),
        ];
        for (e, want) in cases {
            assert_eq!(domain_from_cross_ref(&e), want, "{e:?}");
        }
    }

    #[test]
    fn scopes_go_to_the_longest_matching_domain() {
        let domains = [
            d("corp.test", "DC=corp,DC=test"),
            d("child.corp.test", "DC=child,DC=corp,DC=test"),
            d("other.test", "DC=other,DC=test"),
        ];
        assert_eq!(
            domain_of("OU=Staff, DC=Child,DC=corp,DC=test", &domains).map(|d| d.name.as_str()),
            Some("child.corp.test")
        );
        assert_eq!(domain_of("dc=corp,dc=test", &domains).map(|d| d.name.as_str()), Some("corp.test"));
        assert_eq!(domain_of("OU=x,DC=elsewhere", &domains), None);
        // "DC=xcorp" must not match "DC=corp" as a plain string suffix would.
        assert_eq!(domain_of("DC=xcorp,DC=test", &domains), None);
        let scopes = ["OU=A,DC=other,DC=test", "OU=B,DC=corp,DC=test", "OU=C,DC=nowhere"].map(String::from);
        let groups = scopes_by_domain(&scopes, &domains);
        let flat: Vec<(&str, Vec<&str>)> =
            groups.iter().map(|(d, s)| (d.name.as_str(), s.iter().map(String::as_str).collect())).collect();
        assert_eq!(
            flat,
            [
                ("corp.test", vec!["OU=B,DC=corp,DC=test", "OU=C,DC=nowhere"]),
                ("other.test", vec!["OU=A,DC=other,DC=test"])
            ]
        );
    }
}
