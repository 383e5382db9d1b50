//! The per-target state probes run on, built once per configuration (and carried over a reload where it must).

use std::sync::Arc;

use crate::ad::{AdContext, Reuse};
use crate::base::Need;
use crate::config::{Config, Target};
use crate::explain::judge::AdJudge;
use crate::graph::EntraContext;

use super::registry::{reuse_window, Descriptor};

/// A target's contexts: what survives between probe runs (shared per-cycle reads, tokens, cursors, DC names).
#[derive(Debug)]
pub struct TargetContext {
    pub target: Target,
    pub ad: Option<AdContext>,
    pub entra: Option<EntraContext>,
}

impl TargetContext {
    /// For the scheduler: each shared read (DC list, connector accounts, forest domains, Group Policy) is reused for a little
    /// less than the shortest interval of the probes that need it.
    pub fn new(target: Target, config: &Config) -> TargetContext {
        let reuse = reuse(&target, config);
        TargetContext::build(target, config, reuse)
    }

    /// A reload kept this context (same target settings) under `config`, whose intervals may differ: the shared
    /// reads follow the new intervals.
    pub fn reconfigure(&self, config: &Config) {
        if let Some(ad) = &self.ad {
            ad.set_reuse(reuse(&self.target, config));
        }
    }

    /// For `check`, which runs each probe once: one read of each shared fact serves the whole run.
    pub fn single_run(target: Target, config: &Config) -> TargetContext {
        TargetContext::build(target, config, Reuse::FOREVER)
    }

    /// Keeps what must survive a reload from the context of the same target in the previous configuration: the
    /// SSPR event cursor and counter (see [`EntraContext::carry_over`]).
    pub fn carry_over(&self, previous: &TargetContext) {
        if let (Some(entra), Some(old)) = (&self.entra, &previous.entra) {
            entra.carry_over(old);
        }
    }

    fn build(target: Target, config: &Config, reuse: Reuse) -> TargetContext {
        let probe_timeout = config.timeout();
        let ad = target.ad.clone().map(|cfg| AdContext::new(cfg, probe_timeout, reuse));
        let entra = target.entra.clone().map(|cfg| {
            let explain_failures = cfg.sspr_audit && cfg.sspr_explain_limit > 0;
            let mut entra = EntraContext::new(&target.name, cfg, probe_timeout);
            // On its first run `entra_sspr` looks back one of its intervals.
            entra.set_sspr_lookback(Descriptor::Entra(&crate::graph::sspr::PROBE).interval(config));
            // SSPR failures are judged on the AD side of the same target, on a context of the judge's own.
            if let (Some(ad), true) = (&target.ad, explain_failures) {
                let ctx = AdContext::new(ad.clone(), probe_timeout, reuse);
                entra.set_judge(Arc::new(AdJudge::new(ctx, &target.name)));
            }
            entra
        });
        TargetContext { target, ad, entra }
    }
}

/// Each shared read is reused for a little less than the shortest interval of the target's probes that need it.
fn reuse(target: &Target, config: &Config) -> Reuse {
    Reuse {
        dcs: reuse_window(target, config, Need::DomainControllers),
        connectors: reuse_window(target, config, Need::ConnectorAccounts),
        forest: reuse_window(target, config, Need::ForestDomains),
        group_policy: reuse_window(target, config, Need::GroupPolicy),
    }
}
