//! The configuration file's shape (docs/configuration.md), parsed strictly: unknown keys are errors.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::duration::PromDuration;
use crate::version::ConnectVersion;

/// The raw file, before secrets are checked and defaults are resolved (`Config` in `mod.rs` is the result).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub global: RawGlobal,
    /// Spanned, so that "at least one target is required" names the line of `targets: []`.
    pub targets: Spanned<Vec<RawTarget>>,
}

/// `global` as written: each duration keeps its place in the file for the range checks' errors. Validation turns
/// it into [`Global`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawGlobal {
    pub interval: Spanned<PromDuration>,
    pub timeout: Spanned<PromDuration>,
    /// Per-probe interval overrides by probe name; the names are checked against the probe registry.
    pub intervals: BTreeMap<String, Spanned<PromDuration>>,
}

impl Default for RawGlobal {
    fn default() -> Self {
        let nowhere = serde_saphyr::Location::UNKNOWN;
        let Global { interval, timeout, intervals } = Global::default();
        RawGlobal {
            interval: Spanned::new(interval, nowhere, nowhere),
            timeout: Spanned::new(timeout, nowhere, nowhere),
            intervals,
        }
    }
}

/// `global`, validated.
#[derive(Debug, Clone)]
pub struct Global {
    pub interval: PromDuration,
    pub timeout: PromDuration,
    pub intervals: BTreeMap<String, Spanned<PromDuration>>,
}

impl Default for Global {
    fn default() -> Self {
        Global {
            interval: PromDuration::from_secs(300),
            timeout: PromDuration::from_secs(120),
            intervals: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub name: Spanned<String>,
    pub ad: Option<Spanned<AdConfig>>,
    pub entra: Option<Spanned<EntraConfig>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdConfig {
    #[serde(default)]
    pub servers: Vec<Spanned<String>>,
    pub domain: Option<String>,
    /// DNS servers for SRV discovery and DC names (`IP` or `IP:port`); empty: the system's resolver.
    #[serde(default)]
    pub dns_servers: Vec<Spanned<String>>,
    #[serde(default = "yes")]
    pub all_dcs: bool,
    pub bind: Spanned<BindConfig>,
    #[serde(default)]
    pub tls: TlsConfig,
    #[serde(default)]
    pub allow_plaintext: bool,
    #[serde(default)]
    pub connector_accounts: Vec<String>,
    /// Entra Cloud Sync provisioning agent gMSAs; empty: discover `provAgentgMSA$`.
    #[serde(default)]
    pub cloud_sync_accounts: Vec<Spanned<String>>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default = "yes")]
    pub user_scan: bool,
    #[serde(default = "default_page_size")]
    pub page_size: Spanned<u32>,
    /// Probe `ad_users` runs incremental cycles in between full reconciliation scans this far apart.
    #[serde(default = "default_full_scan_interval")]
    pub full_scan_interval: Spanned<PromDuration>,
    /// Probe `ad_gpo` (reads SYSVOL over SMB, TCP 445 to the DC). Default: on with a simple bind, off with gssapi
    /// (SMB authenticates with the bind password).
    #[serde(default)]
    pub gpo: Option<Spanned<bool>>,
    #[serde(default)]
    pub smb: SmbConfig,
}

/// SYSVOL access for probe `ad_gpo`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmbConfig {
    #[serde(default = "default_smb_port")]
    pub port: Spanned<u16>,
}

impl Default for SmbConfig {
    fn default() -> Self {
        SmbConfig { port: default_smb_port() }
    }
}

fn default_full_scan_interval() -> Spanned<PromDuration> {
    let nowhere = serde_saphyr::Location::UNKNOWN;
    Spanned::new(PromDuration::from_secs(6 * 3600), nowhere, nowhere)
}

fn default_smb_port() -> Spanned<u16> {
    let nowhere = serde_saphyr::Location::UNKNOWN;
    Spanned::new(445, nowhere, nowhere)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BindMechanism {
    #[default]
    Simple,
    Gssapi,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindConfig {
    pub user: Option<String>,
    pub password_file: Option<Spanned<PathBuf>>,
    pub password_env: Option<Spanned<String>>,
    #[serde(default)]
    pub mechanism: BindMechanism,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default)]
    pub start_tls: bool,
    pub ca_file: Option<Spanned<PathBuf>>,
    pub server_name: Option<String>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    #[default]
    Global,
    Usgov,
    Usgovdod,
    China,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraConfig {
    pub tenant_id: Spanned<String>,
    pub client_id: Spanned<String>,
    pub client_secret_file: Option<Spanned<PathBuf>>,
    pub client_secret_env: Option<Spanned<String>>,
    pub certificate_file: Option<Spanned<PathBuf>>,
    pub private_key_file: Option<Spanned<PathBuf>>,
    pub federated_token_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    pub cloud: Cloud,
    pub authority_url: Option<Spanned<String>>,
    pub graph_url: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    pub proxy_url: Option<Spanned<String>>,
    #[serde(default = "default_min_connect_version")]
    pub min_connect_version: ConnectVersion,
    #[serde(default = "yes")]
    pub sspr_audit: bool,
    #[serde(default = "default_sspr_explain_limit")]
    pub sspr_explain_limit: Spanned<u32>,
}

fn default_sspr_explain_limit() -> Spanned<u32> {
    let nowhere = serde_saphyr::Location::UNKNOWN;
    Spanned::new(20, nowhere, nowhere)
}

fn yes() -> bool {
    true
}

fn default_page_size() -> Spanned<u32> {
    let nowhere = serde_saphyr::Location::UNKNOWN;
    Spanned::new(1000, nowhere, nowhere)
}

fn default_min_connect_version() -> ConnectVersion {
    ConnectVersion([2, 5, 79, 0])
}
