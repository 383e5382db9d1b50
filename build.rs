//! Records the git revision and the compiler version for `writeback_exporter_build_info`, and the build date for
//! `--version`.

use std::process::Command;

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
}

/// `secs` since the Unix epoch as RFC 3339 UTC (`2026-12-03T07:00:00Z`); days to civil date after H. Hinnant's
/// `civil_from_days`, so that the build script needs no date crate.
fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3_600, rem % 3_600 / 60, rem % 60)
}

/// SOURCE_DATE_EPOCH when set (reproducible builds: the same sources give the same binary), else now.
fn build_date() -> String {
    let secs = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) => text.trim().parse::<u64>().unwrap_or_else(|_| panic!("SOURCE_DATE_EPOCH={text:?} is not a number")),
        Err(_) => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
    };
    rfc3339(secs)
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let rustc_version = output_of(&rustc, &["--version"])
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string());
    let revision = std::env::var("WRITEBACK_EXPORTER_REVISION")
        .ok()
        .or_else(|| output_of("git", &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=WRITEBACK_EXPORTER_RUSTC_VERSION={rustc_version}");
    println!("cargo:rustc-env=WRITEBACK_EXPORTER_REVISION={revision}");
    println!("cargo:rustc-env=WRITEBACK_EXPORTER_BUILD_DATE={}", build_date());
    println!("cargo:rerun-if-env-changed=WRITEBACK_EXPORTER_REVISION");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // The date must follow the code: run again whenever the crate itself is rebuilt.
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=Cargo.toml");
    println!("cargo:rerun-if-changed=Cargo.lock");
    // The revision follows HEAD. In a `git worktree` `.git` is a file and HEAD lives elsewhere; a path that does not
    // exist would make cargo rerun this script (and rebuild the crate) on every build, so only existing ones count.
    let git_dir = output_of("git", &["rev-parse", "--git-dir"]);
    let common_dir = output_of("git", &["rev-parse", "--git-common-dir"]);
    let watched = [(&git_dir, "HEAD"), (&common_dir, "refs/heads"), (&common_dir, "packed-refs")];
    for (dir, name) in watched {
        if let Some(path) = dir.as_ref().map(|d| std::path::Path::new(d).join(name)).filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
