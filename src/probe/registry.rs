//! Which probes a target runs, and the one place a probe run is started (under its timeout).

use std::time::Duration;

use super::{ProbeError, ProbeName, ProbeOutput};
use crate::ad::{self, AdContext};
use crate::config::Target;
use crate::graph::{self, EntraContext};

/// Per-target state that outlives single probe runs (e.g. DC host names learned earlier, for stable labels).
#[derive(Debug)]
pub struct TargetContext {
    pub target: Target,
    pub ad: Option<AdContext>,
    pub entra: Option<EntraContext>,
}

impl TargetContext {
    pub fn new(target: Target, probe_timeout: Duration) -> TargetContext {
        let ad = target.ad.clone().map(|cfg| AdContext::new(cfg, probe_timeout));
        let entra = target.entra.clone().map(|cfg| EntraContext::new(&target.name, cfg, probe_timeout));
        TargetContext { target, ad, entra }
    }

    /// `entra_sspr` looks back one of its intervals on its first run; only the caller knows that interval
    /// (default: 5 minutes).
    pub fn set_sspr_lookback(&self, interval: Duration) {
        if let Some(entra) = &self.entra {
            entra.set_sspr_lookback(interval);
        }
    }
}

/// The probes that apply to a target, in the order `check` reports them.
pub fn probes_for(target: &Target) -> Vec<ProbeName> {
    let mut probes = Vec::new();
    if target.ad.is_some() {
        probes.extend([ProbeName::AdTopology, ProbeName::AdPolicy, ProbeName::AdConnector, ProbeName::AdAcl]);
        if target.ad.as_ref().is_some_and(|ad| ad.user_scan) {
            probes.push(ProbeName::AdUsers);
        }
        if target.ad.as_ref().is_some_and(|ad| ad.gpo) {
            probes.push(ProbeName::AdGpo);
        }
    }
    if let Some(entra) = &target.entra {
        probes.extend([ProbeName::EntraLicenses, ProbeName::EntraSync]);
        if entra.sspr_audit {
            probes.push(ProbeName::EntraSspr);
        }
    }
    probes
}

/// Runs one probe once, bounded by `timeout`.
///
/// # Errors
/// The classified failure; a timeout is [`ProbeError::Timeout`].
pub async fn run_probe(probe: ProbeName, ctx: &TargetContext, timeout: Duration) -> Result<ProbeOutput, ProbeError> {
    let run = async {
        if let Some(entra) = &ctx.entra {
            match probe {
                ProbeName::EntraLicenses => return graph::licenses::run(entra).await,
                ProbeName::EntraSync => return graph::sync::run(entra).await,
                ProbeName::EntraSspr => return graph::sspr::run(entra).await,
                _ => {}
            }
        }
        match (probe, &ctx.ad) {
            (ProbeName::AdTopology, Some(ad)) => ad::topology::run(ad).await,
            (ProbeName::AdPolicy, Some(ad)) => ad::policy::run(ad).await,
            (ProbeName::AdConnector, Some(ad)) => ad::connector_health::run(ad).await,
            (ProbeName::AdAcl, Some(ad)) => ad::acl::run(ad).await,
            (ProbeName::AdUsers, Some(ad)) => ad::users::run(ad).await,
            (ProbeName::AdGpo, Some(ad)) => ad::gpo::run(ad).await,
            (other, _) => Err(ProbeError::Config(format!("probe {other} does not apply to this target"))),
        }
    };
    tokio::time::timeout(timeout, run).await.unwrap_or(Err(ProbeError::Timeout(timeout)))
}
