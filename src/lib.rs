//! writeback_exporter: checks continuously whether Microsoft Entra ID password writeback can work, and serves
//! the answers as Prometheus metrics.
//!
//! Data flows one way, and the modules follow it:
//!
//! - [`base`]: the bottom layer every other one uses: probe output (samples, checks), failure reasons, metric
//!   definitions, the probe descriptor. It imports nothing of the crate.
//! - [`config`]: the YAML file, parsed strictly and validated (every error names file, line and key).
//! - [`ad`]: LDAP sessions to domain controllers, SYSVOL over SMB, the per-target shared reads (DC list,
//!   connector accounts, forest domains) and the Active Directory probes, each one module with its descriptor.
//! - [`graph`]: Microsoft Graph client (clouds, tokens, throttling, paging) and the Entra ID probes.
//! - [`probe`]: the registry (the one list of probe descriptors) and the per-target context probes run on.
//! - [`scheduler`]: runs every (target, probe) in the background on its interval, under its timeout.
//! - [`snapshot`]: the cache; each run replaces its probe's series whole.
//! - [`metrics`]: renders the cache (and the exporter's own metrics) as Prometheus text.
//! - [`http`]: endpoints, web config (TLS, basic auth) and the landing page; it only reads the cache.
//! - [`check`]: the PASS/WARN/FAIL report of the `check` subcommand and the landing page.
//! - [`explain`]: one user judged on demand: each right's deciding ACE, the policy that applies, the fix.
//! - [`app`]: wires the stages, owns reload and shutdown.

pub mod ad;
pub mod app;
pub mod base;
pub mod check;
pub mod config;
pub mod explain;
pub mod graph;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod probe;
pub mod scheduler;
pub mod snapshot;
pub mod trust;
pub mod version;
