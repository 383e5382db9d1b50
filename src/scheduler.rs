//! Runs every (target, probe) in the background: first run after a random delay (so a restart does not hit every
//! DC at once), then once per interval, each run under the probe timeout and never overlapping itself (one task
//! per pair runs its probe to completion before sleeping). Results go to the [`Store`].
//!
//! A reload changes only what changed: a target whose settings (and the probe timeout) are the same keeps its
//! context (its shared reads, tokens, cursors), and a probe whose interval is also the same keeps its task, run in
//! flight and schedule included. So reloads, however frequent, never stall probing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::base::ProbeName;
use crate::config::Config;
use crate::probe::{probes_for, run_probe, Registered, TargetContext};
use crate::snapshot::Store;

/// Upper bound of the first run's random delay; with long intervals a full-interval delay would leave a freshly
/// started exporter empty for minutes.
const MAX_START_JITTER: Duration = Duration::from_secs(30);

/// One running probe task and what it was started with.
struct Running {
    interval: Duration,
    cancel: CancellationToken,
}

/// A target's context and its running probes.
struct TargetTasks {
    ctx: Arc<TargetContext>,
    timeout: Duration,
    probes: HashMap<ProbeName, Running>,
}

/// The running probe tasks. Dropping it does not stop them: call [`Scheduler::stop`].
pub struct Scheduler {
    tasks: JoinSet<()>,
    store: Arc<Store>,
    /// Cancels every task (shutdown); each task also has a child token of its own (a reload that changes it).
    cancel: CancellationToken,
    targets: HashMap<String, TargetTasks>,
}

impl Scheduler {
    /// Starts a task per (target, probe) of `config`. `cancel` stops them all (shutdown).
    pub fn start(config: &Config, store: Arc<Store>, cancel: CancellationToken) -> Scheduler {
        let mut scheduler = Scheduler { tasks: JoinSet::new(), store, cancel, targets: HashMap::new() };
        scheduler.apply(config);
        scheduler
    }

    /// Brings the running tasks in line with `config`: tasks of removed targets and probes, and of changed ones, are
    /// cancelled; unchanged ones go on untouched; new ones start after a random delay.
    pub fn apply(&mut self, config: &Config) {
        let timeout = config.timeout();
        let mut previous = std::mem::take(&mut self.targets);
        let mut pairs = Vec::new();
        for target in &config.targets {
            let old = previous.remove(&target.name);
            let mut tasks = match old {
                Some(old) if old.ctx.target == *target && old.timeout == timeout => {
                    old.ctx.reconfigure(config);
                    old
                }
                old => {
                    let ctx = Arc::new(TargetContext::new(target.clone(), config));
                    if let Some(old) = old {
                        ctx.carry_over(&old.ctx);
                        old.probes.values().for_each(|r| r.cancel.cancel());
                    }
                    TargetTasks { ctx, timeout, probes: HashMap::new() }
                }
            };
            let mut keep = HashMap::new();
            for probe in probes_for(target) {
                let interval = probe.probe.interval(config);
                pairs.push((target.name.clone(), probe.name));
                self.store.register(&target.name, probe.name, interval);
                match tasks.probes.remove(&probe.name) {
                    Some(running) if running.interval == interval => {
                        keep.insert(probe.name, running);
                    }
                    stale => {
                        if let Some(stale) = stale {
                            stale.cancel.cancel();
                        }
                        keep.insert(probe.name, self.spawn(&tasks.ctx, probe, interval, timeout));
                    }
                }
            }
            tasks.probes.values().for_each(|r| r.cancel.cancel());
            tasks.probes = keep;
            self.targets.insert(target.name.clone(), tasks);
        }
        for gone in previous.into_values() {
            gone.probes.values().for_each(|r| r.cancel.cancel());
        }
        // Cancelled tasks record nothing more; the store forgets the pairs that no longer exist.
        self.store.retain(&pairs);
    }

    fn spawn(&mut self, ctx: &Arc<TargetContext>, probe: Registered, interval: Duration, timeout: Duration) -> Running {
        let cancel = self.cancel.child_token();
        let jitter = interval.min(MAX_START_JITTER).mul_f64(rand::rng().random_range(0.0..1.0));
        self.tasks.spawn(probe_loop(
            Arc::clone(ctx),
            probe,
            interval,
            timeout,
            jitter,
            self.store.clone(),
            cancel.clone(),
        ));
        // Reap finished tasks so that the set does not grow with every reload.
        while self.tasks.try_join_next().is_some() {}
        Running { interval, cancel }
    }

    /// Cancels every task and waits for them, at most `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        self.cancel.cancel();
        let drained = tokio::time::timeout(grace, async { while self.tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!("probe tasks did not stop within {grace:?}; aborting them");
            self.tasks.abort_all();
        }
    }
}

async fn probe_loop(
    ctx: Arc<TargetContext>,
    probe: Registered,
    interval: Duration,
    timeout: Duration,
    jitter: Duration,
    store: Arc<Store>,
    cancel: CancellationToken,
) {
    let target = ctx.target.name.as_str();
    let name = probe.name;
    tokio::select! {
        () = cancel.cancelled() => return,
        () = tokio::time::sleep(jitter) => {}
    }
    loop {
        let started = Instant::now();
        let result = tokio::select! {
            () = cancel.cancelled() => return,
            result = run_probe(probe, &ctx, timeout) => result,
        };
        let duration = started.elapsed();
        // A task cancelled by a reload while its result was on the way must not record it.
        if cancel.is_cancelled() {
            return;
        }
        match result {
            Ok(output) => {
                tracing::debug!(target, probe = %name, ?duration, samples = output.samples.len(), "probe succeeded");
                store.record(target, name, duration, Ok(output));
            }
            Err(e) => {
                let reason = e.reason();
                tracing::warn!(target, probe = %name, reason = reason.as_str(), error = %e, "probe failed");
                store.record(target, name, duration, Err((reason, e.to_string())));
            }
        }
        let next = started + interval;
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep_until(next.into()) => {}
        }
    }
}
