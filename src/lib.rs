//! writeback_exporter: checks continuously whether Microsoft Entra ID password writeback can work, and serves
//! the answers as Prometheus metrics.
//!
//! Data flows one way, and the modules follow it:
//!
//! - [`config`]: the YAML file, parsed strictly and validated (every error names file, line and key).
//! - [`scheduler`]: runs every (target, probe) in the background on its interval, under its timeout.
//! - [`probe`]: the probe names, the registry that runs them, their output (samples and checks) and errors.
//! - [`ad`]: LDAP sessions to domain controllers, SYSVOL over SMB, and the Active Directory probes.
//! - [`graph`]: Microsoft Graph client (clouds, tokens, throttling, paging) and the Entra ID probes.
//! - [`snapshot`]: the cache; each run replaces its probe's series whole.
//! - [`metrics`]: renders the cache (and the exporter's own metrics) as Prometheus text.
//! - [`http`]: endpoints, web config (TLS, basic auth) and the landing page; it only reads the cache.
//! - [`check`]: the PASS/WARN/FAIL report of the `check` subcommand and the landing page.
//! - [`app`]: wires the stages, owns reload and shutdown.

pub mod ad;
pub mod app;
pub mod check;
pub mod config;
pub mod graph;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod probe;
pub mod scheduler;
pub mod snapshot;
pub mod version;
