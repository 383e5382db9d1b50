//! Probe `ad_topology`: every DC of the target answers a bind and its rootDSE; does it offer the policy-hints
//! control Entra Connect needs?

use futures_util::future::join_all;
use url::Url;

use super::values::dn_to_dns_name;
use super::{AdContext, LdapError, RootDse, Session};
use crate::metrics::catalog::{AD_DC_POLICY_HINTS_SUPPORTED, AD_DC_UP};
use crate::probe::{Check, ProbeError, ProbeOutput, Status};

/// LDAP_SERVER_POLICY_HINTS_OID: without it ADSync logs event 6329 and writeback fails (Windows Server 2016+).
pub const POLICY_HINTS_OID: &str = "1.2.840.113556.1.4.2066";

fn remember_names(ctx: &AdContext, servers: &[Url], results: &[Result<RootDse, LdapError>]) {
    for (url, result) in servers.iter().zip(results) {
        if let Some(name) = result.as_ref().ok().and_then(|r| r.dns_host_name.as_deref()) {
            ctx.remember_dc_name(url, name);
        }
    }
}

/// Reads the DC list from the first DC that answered; a failure here only loses the extra DCs (logged).
async fn list_dcs(ctx: &AdContext, results: &[Result<RootDse, LdapError>]) -> Option<Vec<String>> {
    let config_nc =
        results.iter().filter_map(|r| r.as_ref().ok()).find_map(|r| r.configuration_naming_context.clone())?;
    let (mut session, _) = ctx.any_dc().await.ok()?;
    let listed = super::discovery::listed_dcs(&mut session, &config_nc, ctx.cfg.page_size).await;
    session.close().await;
    listed.map_err(|e| tracing::warn!(error = %e, "cannot list the domain's DCs")).ok()
}

async fn probe_dc(ctx: &AdContext, url: &Url) -> Result<RootDse, LdapError> {
    let mut session = Session::open(ctx, url).await?;
    let root = session.root_dse().await;
    session.close().await;
    root
}

/// Succeeds when at least one DC answered; DCs that did not are reported with `writeback_ad_dc_up 0`.
///
/// # Errors
/// The first DC's failure when no DC answered.
pub async fn run(ctx: &AdContext) -> Result<ProbeOutput, ProbeError> {
    let mut servers = ctx.servers().await?;
    let mut results = join_all(servers.iter().map(|url| probe_dc(ctx, url))).await;
    remember_names(ctx, &servers, &results);
    // The DCs the directory lists join the list (a DC neither configured nor in DNS is still a DC Connect may use).
    if let Some(listed) = list_dcs(ctx, &results).await {
        let before = servers.len();
        ctx.set_listed(&listed);
        servers = ctx.servers().await?;
        let extra = servers.get(before..).unwrap_or_default();
        results.extend(join_all(extra.iter().map(|url| probe_dc(ctx, url))).await);
        remember_names(ctx, &servers, &results);
    }

    let Some(domain) =
        results.iter().filter_map(|r| r.as_ref().ok()).find_map(|root| dn_to_dns_name(&root.default_naming_context))
    else {
        let first_error = results.into_iter().find_map(Result::err);
        return Err(first_error
            .map(ProbeError::from)
            .unwrap_or_else(|| ProbeError::Other("no DC returned a usable defaultNamingContext".to_string())));
    };

    let mut out = ProbeOutput::default();
    // Two URLs can reach one DC (its name and its address): its series must appear once.
    let mut seen = std::collections::HashSet::new();
    for (url, result) in servers.iter().zip(results) {
        if !seen.insert(ctx.dc_label(url)) {
            tracing::warn!(server = %url, dc = %ctx.dc_label(url), "two configured servers are the same DC; reported once");
            continue;
        }
        match result {
            Ok(root) => {
                let dc = ctx.dc_label(url);
                let hints = root.supported_controls.iter().any(|c| c == POLICY_HINTS_OID);
                out.sample(&AD_DC_UP, &[&domain, &dc], 1.0);
                out.sample(&AD_DC_POLICY_HINTS_SUPPORTED, &[&domain, &dc], f64::from(u8::from(hints)));
                out.checks.push(reachable_check(&dc, None));
                out.checks.push(hints_check(&dc, hints));
            }
            Err(e) => {
                let dc = ctx.dc_label(url);
                tracing::warn!(dc = %dc, error = %e, "domain controller did not answer");
                out.sample(&AD_DC_UP, &[&domain, &dc], 0.0);
                out.checks.push(reachable_check(&dc, Some(&e)));
            }
        }
    }
    Ok(out)
}

fn reachable_check(dc: &str, error: Option<&LdapError>) -> Check {
    Check {
        id: "ad_dc_up",
        subject: dc.to_string(),
        title: "Domain controller answers LDAP".to_string(),
        status: if error.is_some() { Status::Fail } else { Status::Pass },
        observed: error.map_or_else(|| "bind and rootDSE read succeeded".to_string(), ToString::to_string),
        remediation: error.map(|_| {
            "Check that the DC is running and reachable on the LDAPS port from this host, that its certificate is \
             trusted (tls.ca_file) and that the monitoring account's password is current."
                .to_string()
        }),
    }
}

fn hints_check(dc: &str, supported: bool) -> Check {
    Check {
        id: "ad_dc_policy_hints_supported",
        subject: dc.to_string(),
        title: "DC supports the LDAP password policy hints control".to_string(),
        status: if supported { Status::Pass } else { Status::Fail },
        observed: if supported {
            format!("supportedControl lists {POLICY_HINTS_OID}")
        } else {
            format!("supportedControl does not list {POLICY_HINTS_OID}")
        },
        remediation: (!supported).then(|| {
            "Entra Connect needs LDAP_SERVER_POLICY_HINTS_OID for password writeback (event 6329 otherwise): \
             upgrade the DC to Windows Server 2016 or later, or keep Connect's preferred DCs on such DCs."
                .to_string()
        }),
    }
}
