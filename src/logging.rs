//! Logging setup for `--log.level` and `--log.format` (logfmt or JSON on stderr, as Prometheus exporters do).

use tracing::level_filters::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Logfmt,
    Json,
}

/// Installs the global subscriber. Only this crate logs at debug; dependencies stay at warn so that a debug
/// log never carries protocol dumps (which could include credentials).
pub fn init(level: Level, format: Format) {
    let own = match level {
        Level::Debug => LevelFilter::DEBUG,
        Level::Info => LevelFilter::INFO,
        Level::Warn => LevelFilter::WARN,
        Level::Error => LevelFilter::ERROR,
    };
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(own.min(LevelFilter::WARN))
        .with_target("writeback_exporter", own);
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        Format::Logfmt => registry.with(tracing_logfmt::builder().layer().with_writer(std::io::stderr)).try_init(),
        Format::Json => registry.with(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr)).try_init(),
    };
    if let Err(e) = result {
        eprintln!("logging already initialised: {e}");
    }
}
