//! What a successful probe run yields: its complete set of samples and the checks it judged.

use serde::Serialize;

use super::{MetricDef, Reason};

/// One series value. `labels` are the values of `metric.labels` in order, without `target` (added when rendered).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub metric: &'static MetricDef,
    pub labels: Vec<String>,
    pub value: f64,
}

impl Sample {
    pub fn new(metric: &'static MetricDef, labels: &[&str], value: f64) -> Sample {
        debug_assert_eq!(labels.len(), metric.labels.len(), "label count of {}", metric.name);
        Sample { metric, labels: labels.iter().map(|l| (*l).to_string()).collect(), value }
    }
}

/// A check's verdict, as `check` prints it and as the landing page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One judged condition, with what was observed and, when it is not a PASS, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier (`ad_domain_min_password_age`), for scripts reading `check --output json`.
    pub id: &'static str,
    /// What the check is about: a domain, a DC, an account.
    pub subject: String,
    pub title: String,
    pub status: Status,
    pub observed: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ProbeOutput {
    pub samples: Vec<Sample>,
    pub checks: Vec<Check>,
    /// Parts of a successful run that failed on their own (a forest domain no DC of which answered): each is
    /// counted in `writeback_probe_failures_total` with its reason, while the run still succeeds.
    pub partial_failures: Vec<Reason>,
}

impl ProbeOutput {
    pub fn sample(&mut self, metric: &'static MetricDef, labels: &[&str], value: f64) {
        self.samples.push(Sample::new(metric, labels, value));
    }

    /// Takes in the output of a part of the run (e.g. another domain of the forest) that succeeded on its own.
    pub fn merge(&mut self, part: ProbeOutput) {
        self.samples.extend(part.samples);
        self.checks.extend(part.checks);
        self.partial_failures.extend(part.partial_failures);
    }
}
