//! Logging setup for `--log.level` and `--log.format` (logfmt or JSON on stderr, as Prometheus exporters do).

use tracing::level_filters::LevelFilter;
use tracing_log::log;
use tracing_subscriber::layer::SubscriberExt;

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

/// The crates of the SMB client (`smb`, `smb_transport`, `smb_msg`, ...), which log through the `log` crate.
const SMB_CRATES: &str = "smb";

/// What becomes of a `log` record on its way into tracing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// As it is.
    Keep,
    /// At debug level.
    Demote,
    /// Not at all.
    Drop,
}

fn is_smb(target: &str) -> bool {
    let crate_name = target.split("::").next().unwrap_or_default();
    crate_name == SMB_CRATES || crate_name.starts_with("smb_")
}

/// The SMB client logs at error level when the server closes a connection, which Samba and Windows do after a
/// logoff ("Got IO error: early eof -- Connection Error, notify NotConnected!", "Connection was force-closed by
/// the server."), so a successful `ad_gpo` run would leave two error lines. Every real failure reaches probe
/// `ad_gpo` as an error, which it reports itself (the `probe failed` line, the metrics, the check); the crate's
/// error and warn lines are therefore details, shown with `--log.level=debug`. Its own info and debug lines stay
/// out, like every library's: they may carry protocol dumps.
fn route(target: &str, level: log::Level) -> Route {
    if !is_smb(target) {
        return Route::Keep;
    }
    match level {
        log::Level::Error | log::Level::Warn => Route::Demote,
        log::Level::Info | log::Level::Debug | log::Level::Trace => Route::Drop,
    }
}

/// The `log` → tracing bridge, with [`route`] applied first.
struct Bridge(tracing_log::LogTracer);

impl log::Log for Bridge {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        match route(metadata.target(), metadata.level()) {
            Route::Keep => self.0.enabled(metadata),
            Route::Demote => {
                self.0.enabled(&log::Metadata::builder().level(log::Level::Debug).target(metadata.target()).build())
            }
            Route::Drop => false,
        }
    }

    fn log(&self, record: &log::Record<'_>) {
        match route(record.target(), record.level()) {
            Route::Keep => self.0.log(record),
            Route::Demote => self.0.log(
                &log::Record::builder()
                    .level(log::Level::Debug)
                    .target(record.target())
                    .args(*record.args())
                    .module_path(record.module_path())
                    .file(record.file())
                    .line(record.line())
                    .build(),
            ),
            Route::Drop => {}
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

/// Installs the global subscriber. Only this crate logs at debug; dependencies stay at warn so that a debug
/// log never carries protocol dumps (which could include credentials); the SMB client's error and warn lines are
/// debug (see [`route`]).
///
/// logfmt lines carry the emitting module as `module_path`, not as tracing's `target`: the `target` key is the
/// configured target's name (`target=corp`), and a key must appear once per line.
pub fn init(level: Level, format: Format) {
    let own = match level {
        Level::Debug => LevelFilter::DEBUG,
        Level::Info => LevelFilter::INFO,
        Level::Warn => LevelFilter::WARN,
        Level::Error => LevelFilter::ERROR,
    };
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(own.min(LevelFilter::WARN))
        .with_target(SMB_CRATES, own)
        .with_target("writeback_exporter", own);
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        Format::Logfmt => tracing::subscriber::set_global_default(registry.with(
            tracing_logfmt::builder().with_target(false).with_module_path(true).layer().with_writer(std::io::stderr),
        )),
        Format::Json => tracing::subscriber::set_global_default(
            registry.with(tracing_subscriber::fmt::layer().json().with_writer(std::io::stderr)),
        ),
    };
    if let Err(e) = result {
        eprintln!("logging already initialised: {e}");
        return;
    }
    // Libraries that log through the `log` crate (the SMB client, rustls, ...) reach the same subscriber.
    if log::set_boxed_logger(Box::new(Bridge(tracing_log::LogTracer::new()))).is_ok() {
        log::set_max_level(as_log(LevelFilter::current()));
    }
}

fn as_log(filter: LevelFilter) -> log::LevelFilter {
    match filter.into_level() {
        None => log::LevelFilter::Off,
        Some(tracing::Level::ERROR) => log::LevelFilter::Error,
        Some(tracing::Level::WARN) => log::LevelFilter::Warn,
        Some(tracing::Level::INFO) => log::LevelFilter::Info,
        Some(tracing::Level::DEBUG) => log::LevelFilter::Debug,
        Some(tracing::Level::TRACE) => log::LevelFilter::Trace,
    }
}

#[cfg(test)]
mod tests {
    use super::{route, Route};
    use tracing_log::log::Level;

    #[test]
    fn smb_errors_are_demoted_and_its_chatter_dropped() {
        let cases = [
            ("smb_transport::tcp::transport", Level::Error, Route::Demote),
            ("smb::connection::worker::parallel::async_backend", Level::Error, Route::Demote),
            ("smb::session", Level::Warn, Route::Demote),
            ("smb_msg", Level::Info, Route::Drop),
            ("smb::connection", Level::Debug, Route::Drop),
            ("smb", Level::Trace, Route::Drop),
            ("rustls::conn", Level::Error, Route::Keep),
            ("rustls::conn", Level::Debug, Route::Keep),
            ("smbios", Level::Error, Route::Keep),
            ("writeback_exporter::app", Level::Info, Route::Keep),
        ];
        for (target, level, expected) in cases {
            assert_eq!(route(target, level), expected, "{target} {level}");
        }
    }
}
