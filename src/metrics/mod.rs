//! Renders the cache as Prometheus text: the exporter's own metrics, then every probe's cached series.
//!
//! Rendering only reads the [`Store`]; it never triggers directory or Graph traffic.

use std::collections::BTreeMap;
use std::time::Duration;

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder, IntGauge, Opts, Registry, TextEncoder};

use crate::base::{Kind, MetricDef, ProbeName, Reason};
use crate::config::PromDuration;
use crate::snapshot::{ProbeState, Store};

/// Owns the registry of process-level metrics and renders everything else from the store on each scrape.
pub struct Metrics {
    registry: Registry,
    reload_successful: IntGauge,
}

/// The build's identity, set by build.rs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("WRITEBACK_EXPORTER_REVISION");
pub const RUSTC_VERSION: &str = env!("WRITEBACK_EXPORTER_RUSTC_VERSION");

impl Metrics {
    /// # Errors
    /// Only if two collectors register the same name, which the fixed set here rules out.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let build_info = IntGauge::with_opts(
            Opts::new(
                "writeback_exporter_build_info",
                "A metric with a constant '1' value labeled by version, revision and rustc_version.",
            )
            .const_label("version", VERSION)
            .const_label("revision", REVISION)
            .const_label("rustc_version", RUSTC_VERSION),
        )?;
        build_info.set(1);
        registry.register(Box::new(build_info))?;
        let reload_successful = IntGauge::new(
            "writeback_exporter_config_last_reload_successful",
            "1 if the last configuration (re)load succeeded.",
        )?;
        registry.register(Box::new(reload_successful.clone()))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))?;
        Ok(Metrics { registry, reload_successful })
    }

    pub fn set_reload_successful(&self, ok: bool) {
        self.reload_successful.set(i64::from(ok));
    }

    /// `/metrics`: exporter metrics and every target's cached series.
    pub fn render_all(&self, store: &Store) -> String {
        let mut families = self.registry.gather();
        families.extend(probe_families(store, None));
        encode(&families)
    }

    /// `/probe?target=NAME`: one target's cached series and its probes' health.
    pub fn render_target(&self, store: &Store, target: &str) -> String {
        encode(&probe_families(store, Some(target)))
    }
}

fn encode(families: &[MetricFamily]) -> String {
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(families, &mut buf) {
        tracing::error!(error = %e, "cannot encode metrics");
    }
    String::from_utf8(buf).unwrap_or_default()
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(name, value)| {
            let mut pair = LabelPair::default();
            pair.set_name((*name).to_string());
            pair.set_value((*value).to_string());
            pair
        })
        .collect()
}

fn gauge(pairs: &[(&str, &str)], value: f64) -> Metric {
    let mut g = Gauge::default();
    g.set_value(value);
    let mut m = Metric::from_gauge(g);
    m.set_label(labels(pairs));
    m
}

fn counter(pairs: &[(&str, &str)], value: f64) -> Metric {
    let mut c = Counter::default();
    c.set_value(value);
    let mut m = Metric::default();
    m.set_counter(c);
    m.set_label(labels(pairs));
    m
}

fn family(name: &str, help: String, kind: Kind, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_string());
    f.set_help(help);
    f.set_field_type(match kind {
        Kind::Gauge => MetricType::GAUGE,
        Kind::Counter => MetricType::COUNTER,
    });
    f.set_metric(metrics);
    f
}

/// HELP suffix saying the value is cached and how often it is refreshed.
fn cached_help(help: &str, probe: ProbeName, interval: Duration) -> String {
    let every = PromDuration(interval);
    format!("{help} Served from cache; computed by background probe {probe} every {every}.")
}

fn probe_families(store: &Store, only: Option<&str>) -> Vec<MetricFamily> {
    let states: Vec<(String, ProbeName, ProbeState)> =
        store.snapshot().into_iter().filter(|(t, _, _)| only.is_none_or(|o| o == t)).collect();
    let mut out = self_families(&states);

    // Group the cached samples by metric; families come out sorted by name. Each metric belongs to one probe,
    // whose interval its HELP names.
    let mut by_metric: BTreeMap<&'static str, (&'static MetricDef, String, Vec<Metric>)> = BTreeMap::new();
    for (target, probe, state) in &states {
        let Some(output) = &state.output else { continue };
        for sample in &output.samples {
            let def = sample.metric;
            let mut pairs: Vec<(&str, &str)> = vec![("target", target.as_str())];
            pairs.extend(def.labels.iter().copied().zip(sample.labels.iter().map(String::as_str)));
            let metric = match def.kind {
                Kind::Gauge => gauge(&pairs, sample.value),
                Kind::Counter => counter(&pairs, sample.value),
            };
            let help = || cached_help(def.help, *probe, state.interval);
            by_metric.entry(def.name).or_insert_with(|| (def, help(), Vec::new())).2.push(metric);
        }
    }
    for (name, (def, help, metrics)) in by_metric {
        out.push(family(name, help, def.kind, metrics));
    }
    out
}

/// `writeback_probe_*`: the health of every probe of the selected targets.
fn self_families(states: &[(String, ProbeName, ProbeState)]) -> Vec<MetricFamily> {
    let mut success = Vec::new();
    let mut duration = Vec::new();
    let mut last_success = Vec::new();
    let mut failures = Vec::new();
    for (target, probe, state) in states {
        let pairs = [("target", target.as_str()), ("probe", probe.as_str())];
        if let Some(run) = &state.last_run {
            success.push(gauge(&pairs, f64::from(u8::from(run.success))));
            duration.push(gauge(&pairs, run.duration.as_secs_f64()));
        }
        if let Some(at) = state.last_success {
            last_success.push(gauge(&pairs, at));
        }
        // Every reason starts at 0 so that rate() and increase() see the first failure.
        for reason in Reason::ALL {
            let n = state.failures.get(&reason).copied().unwrap_or(0);
            let with_reason = [pairs[0], pairs[1], ("reason", reason.as_str())];
            failures.push(counter(&with_reason, n as f64));
        }
    }
    let mut out = Vec::new();
    let mut push = |name: &str, help: &str, kind, metrics: Vec<Metric>| {
        if !metrics.is_empty() {
            out.push(family(name, help.to_string(), kind, metrics));
        }
    };
    push("writeback_probe_success", "1 if the probe's last run succeeded.", Kind::Gauge, success);
    push("writeback_probe_duration_seconds", "Duration of the probe's last run.", Kind::Gauge, duration);
    push(
        "writeback_probe_last_success_timestamp_seconds",
        "Unix time at the end of the probe's last successful run.",
        Kind::Gauge,
        last_success,
    );
    push(
        "writeback_probe_failures_total",
        "Failed probe runs by bounded reason (timeout, connect, tls, auth, permission, throttled, protocol, config, other).",
        Kind::Counter,
        failures,
    );
    out
}
