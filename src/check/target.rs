//! One target's part of the report: its probes, each with its state and checks, in registry order. Both the
//! per-check report and the grouping by cause read it.

use serde::Serialize;

use crate::base::Check;

#[derive(Debug, Serialize)]
pub struct TargetReport {
    pub name: String,
    pub probes: Vec<ProbeReport>,
}

#[derive(Debug, Serialize)]
pub struct ProbeReport {
    pub probe: &'static str,
    /// `ok`, `failed`, or `pending` (not run yet).
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// When the last run ended (RFC 3339, UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// The same in Unix seconds, for the landing page's "ago".
    #[serde(skip)]
    pub finished: Option<f64>,
    pub checks: Vec<Check>,
}
