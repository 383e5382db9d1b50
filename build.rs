//! Records the git revision and the compiler version for `writeback_exporter_build_info`.

use std::process::Command;

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (out.status.success() && !text.is_empty()).then(|| text.to_string())
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
    println!("cargo:rerun-if-env-changed=WRITEBACK_EXPORTER_REVISION");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
