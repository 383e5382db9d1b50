//! Shared helpers for the integration tests. Each test binary uses only part of them.
#![allow(dead_code)]

pub mod directory;
pub mod dns;
pub mod exporter;
pub mod graph_fake;
pub mod ldap_wire;
pub mod limits_dc;
pub mod prometheus;
pub mod promql;
pub mod proxy;
pub mod referral_dc;
pub mod rejecting_dc;
pub mod samba;
pub mod scenario;
pub mod sysvol;
