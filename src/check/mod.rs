//! The `check` subcommand: run every probe of every (or one) target once, now, and report.

mod report;

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
pub use report::{ProbeReport, Report, Summary, TargetReport};

use crate::config::Config;
use crate::probe::{probes_for, run_probe, TargetContext};
use crate::snapshot::Store;

/// Runs the probes (all targets concurrently, a target's probes in order) and builds the report.
pub async fn run_once(config: &Config) -> Report {
    let store = Store::new();
    let runs = config.targets.iter().map(|target| {
        let store = Arc::clone(&store);
        async move {
            let ctx = TargetContext::single_run(target.clone(), config);
            for probe in probes_for(target) {
                store.register(&target.name, probe.name, probe.probe.interval(config));
                let started = Instant::now();
                let result = run_probe(probe, &ctx, config.timeout()).await;
                let result = result.map_err(|e| (e.reason(), e.to_string()));
                store.record(&target.name, probe.name, started.elapsed(), result);
            }
        }
    });
    join_all(runs).await;
    Report::from_store(&store, config)
}
