//! Runs every (target, probe) in the background: first run after a random delay (so a restart does not hit every
//! DC at once), then once per interval, each run under the probe timeout and never overlapping itself (one task
//! per pair runs its probe to completion before sleeping). Results go to the [`Store`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::probe::{probes_for, run_probe, Registered, TargetContext};
use crate::snapshot::Store;

/// Upper bound of the first run's random delay; with long intervals a full-interval delay would leave a freshly
/// started exporter empty for minutes.
const MAX_START_JITTER: Duration = Duration::from_secs(30);

/// The running probe tasks of one configuration. Dropping it does not stop them: call [`Scheduler::stop`].
pub struct Scheduler {
    tasks: JoinSet<()>,
    cancel: CancellationToken,
    contexts: Vec<Arc<TargetContext>>,
}

impl Scheduler {
    /// Starts a task per (target, probe) of `config`. `cancel` stops them (on reload or shutdown). `previous`: the
    /// stopped scheduler this one replaces (a reload), whose per-target state carries over by target name.
    pub fn start(
        config: Arc<Config>,
        store: Arc<Store>,
        cancel: CancellationToken,
        previous: Option<&Scheduler>,
    ) -> Scheduler {
        let mut tasks = JoinSet::new();
        let mut pairs = Vec::new();
        let mut contexts = Vec::new();
        for target in &config.targets {
            let ctx = Arc::new(TargetContext::new(target.clone(), &config));
            if let Some(old) = previous.and_then(|p| p.contexts.iter().find(|c| c.target.name == target.name)) {
                ctx.carry_over(old);
            }
            contexts.push(Arc::clone(&ctx));
            for probe in probes_for(target) {
                let interval = probe.probe.interval(&config);
                pairs.push((target.name.clone(), probe.name));
                store.register(&target.name, probe.name, interval);
                let jitter = interval.min(MAX_START_JITTER).mul_f64(rand::rng().random_range(0.0..1.0));
                tasks.spawn(probe_loop(
                    ctx.clone(),
                    probe,
                    interval,
                    config.timeout(),
                    jitter,
                    store.clone(),
                    cancel.clone(),
                ));
            }
        }
        store.retain(&pairs);
        Scheduler { tasks, cancel, contexts }
    }

    /// A scheduler with no tasks (stands in while a reload swaps schedulers).
    pub fn idle() -> Scheduler {
        Scheduler { tasks: JoinSet::new(), cancel: CancellationToken::new(), contexts: Vec::new() }
    }

    /// Cancels every task and waits for them, at most `grace`. The per-target state stays, for a successor.
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
