//! The fixed set of probe names (the `probe` label).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProbeName {
    AdTopology,
    AdPolicy,
    AdConnector,
    AdAcl,
    AdUsers,
    AdGpo,
    EntraLicenses,
    EntraSync,
    EntraSspr,
}

impl ProbeName {
    pub const ALL: [ProbeName; 9] = [
        ProbeName::AdTopology,
        ProbeName::AdPolicy,
        ProbeName::AdConnector,
        ProbeName::AdAcl,
        ProbeName::AdUsers,
        ProbeName::AdGpo,
        ProbeName::EntraLicenses,
        ProbeName::EntraSync,
        ProbeName::EntraSspr,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProbeName::AdTopology => "ad_topology",
            ProbeName::AdPolicy => "ad_policy",
            ProbeName::AdConnector => "ad_connector",
            ProbeName::AdAcl => "ad_acl",
            ProbeName::AdUsers => "ad_users",
            ProbeName::AdGpo => "ad_gpo",
            ProbeName::EntraLicenses => "entra_licenses",
            ProbeName::EntraSync => "entra_sync",
            ProbeName::EntraSspr => "entra_sspr",
        }
    }
}

impl fmt::Display for ProbeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
