//! The `writeback_exporter` binary: flags, logging, the daemon or `check`, exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use writeback_exporter::{app, check, explain, logging, metrics};

/// `--web.max-connections` by default: well under the packaged unit's LimitNOFILE=4096.
const DEFAULT_MAX_CONNECTIONS: u32 = 512;

#[derive(Parser)]
#[command(
    name = "writeback_exporter",
    about = "Checks whether Microsoft Entra ID password writeback can work",
    disable_version_flag = true
)]
struct Cli {
    /// Print the version, the git revision, the build date and the compiler, then exit.
    #[arg(long, short = 'V')]
    version: bool,
    /// The YAML configuration file.
    #[arg(long = "config.file", default_value = "writeback_exporter.yml", global = true)]
    config_file: PathBuf,
    /// Parse and validate the configuration (no network), print errors, exit 0 or 1.
    #[arg(long = "config.check")]
    config_check: bool,
    /// Address to listen on; may be repeated.
    #[arg(long = "web.listen-address", default_value = ":9862")]
    listen_addresses: Vec<String>,
    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    telemetry_path: String,
    /// exporter-toolkit web configuration (TLS, basic auth).
    #[arg(long = "web.config.file")]
    web_config_file: Option<PathBuf>,
    /// Serve POST /-/reload (403 without this flag, as in Prometheus); SIGHUP reloads either way.
    #[arg(long = "web.enable-lifecycle")]
    enable_lifecycle: bool,
    /// Concurrent HTTP connections over all listen addresses; at the cap the longest-idle one is closed to admit a
    /// new one (keep it well under the process' file descriptor limit).
    #[arg(long = "web.max-connections", default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Only log messages at this level or above; other crates' messages at warn and above only, whatever the level.
    #[arg(long = "log.level", value_enum, default_value = "info", global = true)]
    log_level: logging::Level,
    /// Format of the log lines on stderr.
    #[arg(long = "log.format", value_enum, default_value = "logfmt", global = true)]
    log_format: logging::Format,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run every probe once, print a PASS/WARN/FAIL report and exit (0 PASS, 1 WARN, 2 FAIL, 3 error).
    Check {
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        /// Only this target.
        #[arg(long)]
        target: Option<String>,
    },
    /// Judge one user (sAMAccountName, UPN or DN): each right's deciding ACE, the policy that applies, the fix
    /// (exit 0 ready, 1 not ready, 3 cannot judge).
    Explain {
        #[arg(long, value_enum, default_value = "text")]
        output: Output,
        /// The target to read (may be left out when the configuration has one target with `ad:`).
        #[arg(long)]
        target: Option<String>,
        /// sAMAccountName (or DOMAIN\name), userPrincipalName, or distinguished name.
        user: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Json,
}

/// `--version` in the layout of the Prometheus exporters (`node_exporter, version 1.8.2 (branch: ..., revision:
/// ...)`), so that the same scripts read both.
fn version_text() -> String {
    let features: &[&str] = if cfg!(feature = "gssapi") { &["gssapi"] } else { &[] };
    format!(
        "writeback_exporter, version {} (revision: {}, built: {})\n  rustc:    {}\n  platform: {}/{}\n  features: {}\n",
        metrics::VERSION,
        metrics::REVISION,
        env!("WRITEBACK_EXPORTER_BUILD_DATE"),
        metrics::RUSTC_VERSION,
        std::env::consts::OS,
        std::env::consts::ARCH,
        if features.is_empty() { "none".to_string() } else { features.join(",") },
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.version {
        print!("{}", version_text());
        return ExitCode::SUCCESS;
    }
    logging::init(cli.log_level, cli.log_format);
    let _ = rustls::crypto::ring::default_provider().install_default();

    if cli.config_check {
        return match app::load_config(&cli.config_file) {
            Ok(cfg) => {
                println!("{}: OK, {} target(s)", cli.config_file.display(), cfg.targets.len());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(1)
            }
        };
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Some(Command::Check { output, target }) => runtime.block_on(run_check(&cli.config_file, output, target)),
        Some(Command::Explain { output, target, user }) => {
            runtime.block_on(run_explain(&cli.config_file, output, target, &user))
        }
        None => {
            let opts = app::Options {
                config_file: cli.config_file,
                listen_addresses: cli.listen_addresses,
                telemetry_path: cli.telemetry_path,
                web_config_file: cli.web_config_file,
                enable_lifecycle: cli.enable_lifecycle,
                max_connections: usize::try_from(cli.max_connections).unwrap_or(usize::MAX),
            };
            match runtime.block_on(app::run(opts, shutdown_signal())) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "exiting");
                    eprintln!("{e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

async fn run_check(file: &std::path::Path, output: Output, only: Option<String>) -> ExitCode {
    let mut cfg = match app::load_config(file) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(3);
        }
    };
    if let Some(name) = only {
        cfg.targets.retain(|t| t.name == name);
        if cfg.targets.is_empty() {
            eprintln!("no target named {name:?} in {}", file.display());
            return ExitCode::from(3);
        }
    }
    let report = check::run_once(&cfg).await;
    match output {
        Output::Text => print!("{}", report.to_text()),
        Output::Json => match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("cannot encode the report: {e}");
                return ExitCode::from(3);
            }
        },
    }
    ExitCode::from(u8::try_from(report.summary.exit_code).unwrap_or(3))
}

/// `explain`: the user on every DC of the target, with the target's `ad_gpo` results read at the same time; both
/// under the configured probe timeout. Exit 0 ready, 1 not ready, 3 cannot judge (including not found).
async fn run_explain(file: &std::path::Path, output: Output, target: Option<String>, user: &str) -> ExitCode {
    let fail = |reason: &str, message: String| {
        match output {
            Output::Text => eprintln!("{message}"),
            Output::Json => println!("{}", serde_json::json!({"error": message, "reason": reason})),
        }
        ExitCode::from(3)
    };
    let cfg = match app::load_config(file) {
        Ok(cfg) => cfg,
        Err(e) => return fail("config", e.to_string()),
    };
    let with_ad: Vec<_> = cfg.targets.iter().filter(|t| t.ad.is_some()).collect();
    let chosen = match (&target, with_ad.as_slice()) {
        (Some(name), _) => cfg.targets.iter().find(|t| &t.name == name),
        (None, [only]) => Some(*only),
        (None, _) => {
            return fail("config", format!("give --target: {} has several targets with `ad:`", file.display()))
        }
    };
    let Some(chosen) = chosen else {
        return fail("config", format!("no target named {:?} in {}", target.unwrap_or_default(), file.display()));
    };
    let query = match explain::UserQuery::parse(user) {
        Ok(q) => q,
        Err(e) => return fail(e.reason(), e.to_string()),
    };
    let ctx = writeback_exporter::probe::TargetContext::single_run(chosen.clone(), &cfg);
    let Some(ad) = &ctx.ad else {
        return fail("config", format!("target {} has no `ad:` section", chosen.name));
    };
    let timeout = cfg.timeout();
    let related = explain::related::run(ad, timeout);
    let explained = explain::explain(ad, &chosen.name, &query, explain::Related::default(), timeout);
    let (related, explained) = tokio::join!(related, explained);
    let mut explanation = match explained {
        Ok(e) => e,
        Err(e) => return fail(e.reason(), e.to_string()),
    };
    explanation.set_related(related);
    match output {
        Output::Text => print!("{}", explain::render::text(&explanation)),
        Output::Json => match serde_json::to_string_pretty(&explanation) {
            Ok(json) => println!("{json}"),
            Err(e) => return fail("other", format!("cannot encode the explanation: {e}")),
        },
    }
    ExitCode::from(explanation.exit_code())
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
