//! The probe descriptor: everything the rest of the exporter needs to know about one probe, declared once in the
//! probe's own module. The registry (`probe::registry::PROBES`) lists the descriptors; probe names, the
//! `global.intervals` keys, which probes a target runs, the shared per-cycle reads and the metric catalog all
//! derive from that list.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{MetricDef, ProbeOutput, Reason};

/// A probe's name (the `probe` label) and its position in the registry, which orders every listing (/metrics,
/// `check`, the landing page) the same way. Made by the registry from a descriptor's name and its place in the list.
#[derive(Debug, Clone, Copy)]
pub struct ProbeName {
    rank: usize,
    name: &'static str,
}

impl ProbeName {
    pub const fn new(rank: usize, name: &'static str) -> ProbeName {
        ProbeName { rank, name }
    }

    pub fn as_str(self) -> &'static str {
        self.name
    }
}

impl PartialEq for ProbeName {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ProbeName {}

impl Hash for ProbeName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl PartialOrd for ProbeName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ProbeName {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.rank, self.name).cmp(&(other.rank, other.name))
    }
}

impl fmt::Display for ProbeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// What a probe needs that other probes need too: read once per cycle by the target's shared source and awaited
/// by each probe that names it, never left behind by one probe for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Need {
    /// The domain's DCs: the configured servers (or DNS SRV) plus the DCs the directory lists.
    DomainControllers,
    /// The connector accounts (configured or discovered `MSOL_*`) with their tokens (tokenGroups).
    ConnectorAccounts,
    /// The forest's domains (crossRef objects), for default scopes and scopes in other domains.
    ForestDomains,
    /// The bound domain's Group Policy: GPO links and objects, and their templates in SYSVOL (one SMB logon).
    GroupPolicy,
}

impl Need {
    pub const ALL: [Need; 4] =
        [Need::DomainControllers, Need::ConnectorAccounts, Need::ForestDomains, Need::GroupPolicy];
}

/// A failed probe run: the bounded reason (the label) and the message (logs and the landing page, never a label).
/// Each layer's own error enum converts into it, keeping its classification.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("configuration: {0}")]
    Config(String),
    /// A classified failure of a lower layer (LDAP, SMB, Graph), in that layer's words.
    #[error("{message}")]
    Failed { reason: Reason, message: String },
    #[error("{0}")]
    Other(String),
}

impl ProbeError {
    pub fn reason(&self) -> Reason {
        match self {
            ProbeError::Timeout(_) => Reason::Timeout,
            ProbeError::Config(_) => Reason::Config,
            ProbeError::Failed { reason, .. } => *reason,
            ProbeError::Other(_) => Reason::Other,
        }
    }
}

/// One run of a probe on its context (borrowed for the run).
pub type BoxRun<'a> = BoxFuture<'a, Result<ProbeOutput, ProbeError>>;

/// A probe, described once in its own module. `Ctx` is the per-target state it runs on (e.g. the AD context),
/// `Cfg` the target's configuration section that decides whether it runs.
pub struct Probe<Ctx: 'static, Cfg: 'static> {
    /// The `probe` label and the `global.intervals` key.
    pub name: &'static str,
    /// Every metric a run may yield (checked in debug builds); the metric catalog is the union of these lists.
    pub metrics: &'static [&'static MetricDef],
    /// What it awaits from the target's shared per-cycle source.
    pub needs: &'static [Need],
    /// Its interval when `global.intervals` does not name it; `None`: `global.interval`.
    pub default_interval: Option<Duration>,
    /// Whether a target with this configuration runs it.
    pub enabled: fn(&Cfg) -> bool,
    pub run: for<'a> fn(&'a Ctx) -> BoxRun<'a>,
}

impl<Ctx, Cfg> fmt::Debug for Probe<Ctx, Cfg> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Probe").field("name", &self.name).field("needs", &self.needs).finish_non_exhaustive()
    }
}
