//! Why a probe run failed, and the bounded `reason` label each failure maps to.

use std::time::Duration;

/// The fixed `reason` label values of `writeback_probe_failures_total` (METRICS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    Timeout,
    Connect,
    Tls,
    Auth,
    Permission,
    Throttled,
    Protocol,
    Config,
    Other,
}

impl Reason {
    pub const ALL: [Reason; 9] = [
        Reason::Timeout,
        Reason::Connect,
        Reason::Tls,
        Reason::Auth,
        Reason::Permission,
        Reason::Throttled,
        Reason::Protocol,
        Reason::Config,
        Reason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Timeout => "timeout",
            Reason::Connect => "connect",
            Reason::Tls => "tls",
            Reason::Auth => "auth",
            Reason::Permission => "permission",
            Reason::Throttled => "throttled",
            Reason::Protocol => "protocol",
            Reason::Config => "config",
            Reason::Other => "other",
        }
    }
}

/// A failed probe run. The message is for logs and the landing page, never for a label: [`ProbeError::reason`] is.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Ldap(#[from] crate::ad::LdapError),
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    #[error(transparent)]
    Sysvol(#[from] crate::ad::gpo::SysvolError),
    #[error("configuration: {0}")]
    Config(String),
    #[error("{0}")]
    Other(String),
}

impl ProbeError {
    pub fn reason(&self) -> Reason {
        match self {
            ProbeError::Timeout(_) => Reason::Timeout,
            ProbeError::Ldap(e) => e.reason(),
            ProbeError::Graph(e) => e.reason(),
            ProbeError::Sysvol(e) => e.reason(),
            ProbeError::Config(_) => Reason::Config,
            ProbeError::Other(_) => Reason::Other,
        }
    }
}
