//! The list of probes. Adding a probe: write its module with a `PROBE` descriptor, add one line to [`PROBES`].
//! Its name, its `global.intervals` key, whether a target runs it, the shared reads it awaits and its metrics all
//! come from the descriptor.

use std::time::Duration;

use crate::ad::{self, AdContext};
use crate::base::{BoxRun, MetricDef, Need, Probe, ProbeError, ProbeName, ProbeOutput};
use crate::config::{AdTarget, Config, EntraTarget, Target};
use crate::graph::{self, EntraContext};

use super::TargetContext;

/// A descriptor of either family: AD probes run on a target's AD context, Entra probes on its Entra context.
#[derive(Debug, Clone, Copy)]
pub enum Descriptor {
    Ad(&'static Probe<AdContext, AdTarget>),
    Entra(&'static Probe<EntraContext, EntraTarget>),
}

/// Every probe, in the order `check`, the landing page and /metrics list them.
pub static PROBES: [Descriptor; 11] = [
    Descriptor::Ad(&ad::topology::PROBE),
    Descriptor::Ad(&ad::policy::PROBE),
    Descriptor::Ad(&ad::connector_health::PROBE),
    Descriptor::Ad(&ad::acl::PROBE),
    Descriptor::Ad(&ad::users::PROBE),
    Descriptor::Ad(&ad::gpo::PROBE),
    Descriptor::Ad(&ad::monitoring_read::PROBE),
    Descriptor::Entra(&graph::licenses::PROBE),
    Descriptor::Entra(&graph::sync::PROBE),
    Descriptor::Entra(&graph::cloud_sync::PROBE),
    Descriptor::Entra(&graph::sspr::PROBE),
];

impl Descriptor {
    pub fn name(self) -> &'static str {
        match self {
            Descriptor::Ad(p) => p.name,
            Descriptor::Entra(p) => p.name,
        }
    }

    pub fn metrics(self) -> &'static [&'static MetricDef] {
        match self {
            Descriptor::Ad(p) => p.metrics,
            Descriptor::Entra(p) => p.metrics,
        }
    }

    pub fn needs(self) -> &'static [Need] {
        match self {
            Descriptor::Ad(p) => p.needs,
            Descriptor::Entra(p) => p.needs,
        }
    }

    /// Whether `target` runs this probe: it has the probe's section and the section enables it.
    pub fn enabled(self, target: &Target) -> bool {
        match self {
            Descriptor::Ad(p) => target.ad.as_ref().is_some_and(p.enabled),
            Descriptor::Entra(p) => target.entra.as_ref().is_some_and(p.enabled),
        }
    }

    /// The probe's interval: `global.intervals.<name>`, else its own default, else `global.interval`.
    pub fn interval(self, config: &Config) -> Duration {
        let default = match self {
            Descriptor::Ad(p) => p.default_interval,
            Descriptor::Entra(p) => p.default_interval,
        };
        config.interval_override(self.name()).or(default).unwrap_or(config.global.interval.0)
    }

    /// One run on the target's context; `None` when the target lacks the probe's section.
    fn start(self, ctx: &TargetContext) -> Option<BoxRun<'_>> {
        match self {
            Descriptor::Ad(p) => ctx.ad.as_ref().map(|ad| (p.run)(ad)),
            Descriptor::Entra(p) => ctx.entra.as_ref().map(|entra| (p.run)(entra)),
        }
    }
}

/// A probe as the scheduler and the store know it: its descriptor and its name, ranked by its place in [`PROBES`].
#[derive(Debug, Clone, Copy)]
pub struct Registered {
    pub name: ProbeName,
    pub probe: Descriptor,
}

fn registered() -> impl Iterator<Item = Registered> {
    PROBES
        .iter()
        .enumerate()
        .map(|(rank, probe)| Registered { name: ProbeName::new(rank, probe.name()), probe: *probe })
}

/// The probe names: the values of the `probe` label and the keys `global.intervals` accepts.
pub fn names() -> Vec<&'static str> {
    PROBES.iter().map(|p| p.name()).collect()
}

/// Every metric a probe serves (the catalog), in registry order.
pub fn metrics() -> impl Iterator<Item = &'static MetricDef> {
    PROBES.iter().flat_map(|p| p.metrics().iter().copied())
}

/// The probes that apply to a target, in registry order.
pub fn probes_for(target: &Target) -> Vec<Registered> {
    registered().filter(|r| r.probe.enabled(target)).collect()
}

/// Runs one probe once, bounded by `timeout`.
///
/// # Errors
/// The classified failure; a timeout is [`ProbeError::Timeout`].
pub async fn run_probe(probe: Registered, ctx: &TargetContext, timeout: Duration) -> Result<ProbeOutput, ProbeError> {
    let Some(run) = probe.probe.start(ctx) else {
        return Err(ProbeError::Config(format!("probe {} does not apply to this target", probe.name)));
    };
    let output = tokio::time::timeout(timeout, run).await.unwrap_or(Err(ProbeError::Timeout(timeout)))?;
    debug_assert!(
        output.samples.iter().all(|s| probe.probe.metrics().iter().any(|m| std::ptr::eq(*m, s.metric))),
        "probe {} yielded a metric its descriptor does not list",
        probe.name
    );
    Ok(output)
}

/// How long each shared read of a target is reused: a little less than the shortest interval of the target's
/// probes that need it, so that the next run of that probe always reads afresh.
pub(super) fn reuse_window(target: &Target, config: &Config, need: Need) -> Duration {
    /// The share of that interval during which one read is reused.
    const REUSE: f64 = 0.9;
    probes_for(target)
        .into_iter()
        .filter(|r| r.probe.needs().contains(&need))
        .map(|r| r.probe.interval(config))
        .min()
        .unwrap_or_default()
        .mul_f64(REUSE)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_and_metrics_are_unique() {
        let names = names();
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len(), "{names:?}");
        let metrics: Vec<&str> = metrics().map(|m| m.name).collect();
        assert_eq!(metrics.iter().collect::<HashSet<_>>().len(), metrics.len(), "a metric listed twice");
        assert!(metrics.iter().all(|m| m.starts_with("writeback_")), "{metrics:?}");
    }

    #[test]
    fn ranks_follow_the_list() {
        // Sorting by name puts the probes back in list order, whatever order they came in.
        let mut shuffled: Vec<Registered> = registered().collect();
        shuffled.reverse();
        shuffled.sort_by_key(|r| r.name);
        let order: Vec<&str> = shuffled.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(order, names());
    }
}
