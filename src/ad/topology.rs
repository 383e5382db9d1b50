//! Probe `ad_topology`: every DC of the target answers a bind and its rootDSE; does it offer the policy-hints
//! control Entra Connect needs?

use futures_util::future::join_all;
use url::Url;

use super::values::dn_to_dns_name;
use super::{AdContext, LdapError, RootDse, Session};
use crate::base::{gauge, Check, MetricDef, Need, Probe, ProbeError, ProbeOutput, Status};
use crate::config::AdTarget;

// --- metrics served by this probe
pub static AD_DC_UP: MetricDef = gauge(
    "writeback_ad_dc_up",
    &["domain", "dc"],
    "1 if the domain controller accepted the bind and answered the rootDSE.",
);
pub static AD_DC_POLICY_HINTS_SUPPORTED: MetricDef = gauge(
    "writeback_ad_dc_policy_hints_supported",
    &["domain", "dc"],
    "1 if the DC's rootDSE supportedControl lists LDAP_SERVER_POLICY_HINTS_OID 1.2.840.113556.1.4.2066, which Entra Connect needs for password writeback.",
);

/// LDAP_SERVER_POLICY_HINTS_OID: without it ADSync logs event 6329 and writeback fails (Windows Server 2016+).
pub const POLICY_HINTS_OID: &str = "1.2.840.113556.1.4.2066";

/// The probe: every DC of the shared DC list (configured or DNS SRV, plus the ones the directory lists).
pub static PROBE: Probe<AdContext, AdTarget> = Probe {
    name: "ad_topology",
    metrics: &[&AD_DC_UP, &AD_DC_POLICY_HINTS_SUPPORTED],
    needs: &[Need::DomainControllers],
    default_interval: None,
    enabled: |_| true,
    run: |ctx| Box::pin(run(ctx)),
};

async fn probe_dc(ctx: &AdContext, url: &Url) -> Result<RootDse, LdapError> {
    let mut session = Session::open(ctx, url).await?;
    let root = session.root_dse().await;
    session.close().await;
    if let Some(name) = root.as_ref().ok().and_then(|r| r.dns_host_name.as_deref()) {
        ctx.remember_dc_name(url, name);
    }
    root
}

/// Succeeds when at least one DC answered; DCs that did not are reported with `writeback_ad_dc_up 0`.
///
/// # Errors
/// The first DC's failure when no DC answered.
pub async fn run(ctx: &AdContext) -> Result<ProbeOutput, ProbeError> {
    let servers = ctx.dcs().await?;
    let results = join_all(servers.iter().map(|url| probe_dc(ctx, url))).await;

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
