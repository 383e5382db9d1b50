//! The `check` subcommand: run every probe of every (or one) target once, now, and report.

mod group;
mod report;
pub mod runbook;
mod target;
mod text;

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::join_all;
pub use group::{probe_errors, Fix, Group, Member, ProbeErrors};
pub use report::{Report, Summary};
pub use target::{ProbeReport, TargetReport};
pub use text::causes;

use crate::config::Config;
use crate::probe::{probes_for, run_probe, TargetContext};
use crate::snapshot::Store;

/// Runs every probe of every target once, all at the same time, and builds the report. A target's probes share
/// one context: what one needs that another needs too (the DC list, the connector accounts, the forest's domains)
/// is read once and awaited, so a target costs about as much as its slowest probe. The report lists probes in
/// registry order whatever order they finish in.
pub async fn run_once(config: &Config) -> Report {
    let store = Store::new();
    let shared = &store;
    let contexts: Vec<TargetContext> =
        config.targets.iter().map(|target| TargetContext::single_run(target.clone(), config)).collect();
    let runs = contexts.iter().flat_map(|ctx| {
        probes_for(&ctx.target).into_iter().map(move |probe| {
            let store = Arc::clone(shared);
            let name = ctx.target.name.as_str();
            store.register(name, probe.name, probe.probe.interval(config));
            async move {
                let started = Instant::now();
                let result = run_probe(probe, ctx, config.timeout()).await;
                let result = result.map_err(|e| (e.reason(), e.to_string()));
                store.record(name, probe.name, started.elapsed(), result);
            }
        })
    });
    join_all(runs).await;
    Report::from_store(&store, config)
}
