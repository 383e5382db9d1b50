//! Which probes a target runs, and the one place a probe run is started (under its timeout).

use std::time::Duration;

use super::{ProbeError, ProbeName, ProbeOutput};
use crate::ad::{self, AdContext};
use crate::config::{Config, Target};
use crate::graph::{self, EntraContext};

/// The share of the connector probes' shortest interval during which one read of the connector accounts is reused.
const CONNECTOR_REUSE: f64 = 0.9;

/// Per-target state that outlives single probe runs (e.g. DC host names learned earlier, for stable labels).
#[derive(Debug)]
pub struct TargetContext {
    pub target: Target,
    pub ad: Option<AdContext>,
    pub entra: Option<EntraContext>,
}

impl TargetContext {
    /// For the scheduler: the connector accounts are read once per cycle of the most frequent probe that needs
    /// them and shared (for a little less than that interval, so that its next run always reads them afresh).
    pub fn new(target: Target, config: &Config) -> TargetContext {
        let cycle = [ProbeName::AdConnector, ProbeName::AdAcl, ProbeName::AdUsers, ProbeName::AdGpo]
            .into_iter()
            .map(|p| config.interval(p))
            .min()
            .unwrap_or_default();
        TargetContext::build(target, config, cycle.mul_f64(CONNECTOR_REUSE))
    }

    /// For `check`, which runs each probe once: one read of the connector accounts serves the whole run.
    pub fn single_run(target: Target, config: &Config) -> TargetContext {
        TargetContext::build(target, config, Duration::MAX)
    }

    /// Keeps what must survive a reload from the context of the same target in the previous configuration: the
    /// SSPR event cursor and counter (see [`EntraContext::carry_over`]).
    pub fn carry_over(&self, previous: &TargetContext) {
        if let (Some(entra), Some(old)) = (&self.entra, &previous.entra) {
            entra.carry_over(old);
        }
    }

    fn build(target: Target, config: &Config, connector_reuse: Duration) -> TargetContext {
        let probe_timeout = config.timeout();
        let ad = target.ad.clone().map(|cfg| AdContext::new(cfg, probe_timeout, connector_reuse));
        let entra = target.entra.clone().map(|cfg| {
            let entra = EntraContext::new(&target.name, cfg, probe_timeout);
            // On its first run `entra_sspr` looks back one of its intervals.
            entra.set_sspr_lookback(config.interval(ProbeName::EntraSspr));
            entra
        });
        TargetContext { target, ad, entra }
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
