//! The cache between probes and scrapes: per (target, probe) the last complete output and the run history.
//!
//! A run's output replaces the previous one whole; a failed run removes it (stale values are worse than none).
//! Scrapes, the landing page and `/-/ready` only read from here.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::base::{unix_now, ProbeName, ProbeOutput, Reason};

/// What is known about one probe of one target.
#[derive(Debug, Clone, Default)]
pub struct ProbeState {
    /// The last successful run's output; `None` before the first success and after a failure.
    pub output: Option<Arc<ProbeOutput>>,
    pub last_run: Option<RunInfo>,
    /// Unix seconds at the end of the last successful run.
    pub last_success: Option<f64>,
    pub failures: BTreeMap<Reason, u64>,
    /// How often the scheduler runs it (the HELP text of its metrics says so).
    pub interval: Duration,
}

#[derive(Debug, Clone)]
pub struct RunInfo {
    pub success: bool,
    pub duration: Duration,
    /// The failure in words (landing page, logs); never a label.
    pub error: Option<String>,
    pub reason: Option<Reason>,
    /// Unix seconds at the end of the run: the landing page and `check --output json` show when it ran.
    pub finished: f64,
}

type Key = (String, ProbeName);

#[derive(Debug, Default)]
pub struct Store {
    states: RwLock<HashMap<Key, ProbeState>>,
}

impl Store {
    pub fn new() -> Arc<Store> {
        Arc::new(Store::default())
    }

    /// Records a run's result: the output replaces the previous one, or a failure removes it and is counted.
    /// Pairs that are not registered (any more) are ignored, so a late result cannot resurrect a removed target.
    pub fn record(
        &self,
        target: &str,
        probe: ProbeName,
        duration: Duration,
        result: Result<ProbeOutput, (Reason, String)>,
    ) {
        let Ok(mut states) = self.states.write() else { return };
        let Some(state) = states.get_mut(&(target.to_string(), probe)) else { return };
        let finished = unix_now();
        match result {
            Ok(output) => {
                for reason in &output.partial_failures {
                    *state.failures.entry(*reason).or_default() += 1;
                }
                state.output = Some(Arc::new(output));
                state.last_success = Some(finished);
                state.last_run = Some(RunInfo { success: true, duration, error: None, reason: None, finished });
            }
            Err((reason, error)) => {
                state.output = None;
                *state.failures.entry(reason).or_default() += 1;
                state.last_run =
                    Some(RunInfo { success: false, duration, error: Some(error), reason: Some(reason), finished });
            }
        }
    }

    /// Makes sure a (target, probe) pair is known before its first run, so that the landing page lists it, and
    /// records its interval.
    pub fn register(&self, target: &str, probe: ProbeName, interval: Duration) {
        if let Ok(mut states) = self.states.write() {
            states.entry((target.to_string(), probe)).or_default().interval = interval;
        }
    }

    /// Forgets every pair that is not in `keep` (a reload removed a target or a probe).
    pub fn retain(&self, keep: &[(String, ProbeName)]) {
        if let Ok(mut states) = self.states.write() {
            states.retain(|key, _| keep.contains(key));
        }
    }

    /// A consistent copy of every state, sorted by target then probe.
    pub fn snapshot(&self) -> Vec<(String, ProbeName, ProbeState)> {
        let Ok(states) = self.states.read() else { return Vec::new() };
        let mut all: Vec<_> = states.iter().map(|((t, p), s)| (t.clone(), *p, s.clone())).collect();
        all.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        all
    }

    /// True once every registered pair has finished at least one run.
    pub fn all_ran(&self) -> bool {
        self.states.read().map(|s| s.values().all(|st| st.last_run.is_some())).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_failures_of_a_successful_run_are_counted() {
        let store = Store::new();
        let acl = ProbeName::new(3, "ad_acl");
        store.register("corp", acl, Duration::from_secs(60));
        let output = ProbeOutput { partial_failures: vec![Reason::Connect], ..ProbeOutput::default() };
        store.record("corp", acl, Duration::from_secs(1), Ok(output));
        store.record("corp", acl, Duration::from_secs(1), Err((Reason::Timeout, "t".to_string())));
        let (_, _, state) = store.snapshot().remove(0);
        assert_eq!(state.failures.get(&Reason::Connect), Some(&1));
        assert_eq!(state.failures.get(&Reason::Timeout), Some(&1));
        assert!(state.last_success.is_some());
    }
}
