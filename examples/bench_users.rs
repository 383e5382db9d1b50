//! Benchmark: the per-user scan (probe `ad_users`) against bare `ldapsearch` on the same Samba AD DC.
//!
//! `scripts/bench-users.sh [N] [REPS]` (as root, release build; N users, default 10000; REPS rounds, default 3):
//! 1. Starts a DC with the rig, gives `MSOL_0123456789ab` the writeback grant on the domain root as examples/lab.rs
//!    does (every user inherits it, so the evaluation does real work), bulk-seeds N enabled users into `OU=Bench`
//!    (every 10th an inetOrgPerson, so not ready) and times that.
//! 2. Checks that `ldapsearch` returns N entries, each with its security descriptor (a fair comparison).
//! 3. Each round runs once, under `/usr/bin/time -v` (wall, client CPU, peak RSS), also noting how long the Samba
//!    processes ran and waited for a CPU (schedstat): `writeback_exporter check --output json` (ad_topology,
//!    ad_policy, ad_acl, then ad_users, whose `duration_seconds` we take; scope `OU=Bench`, page size 1000) with the
//!    connector accounts discovered (`MSOL_*`, the default) and configured by name; `ldapsearch` with paging (1000),
//!    the SD flags control (DACL), the same filter and attributes; the same without `nTSecurityDescriptor`; the
//!    domain-wide `MSOL_*` discovery search alone.
//! 4. Prints medians, the ratio ad_users / ldapsearch and the ratio of the whole `check`'s wall time to
//!    ldapsearch's, each as the median of the per-round ratios.
//! 5. Full against incremental cycles of `ad_users` in one process holding the target's state, and that process's
//!    memory: see [`cycles`]. 0.5 % of the users sit in `OU=Sub,OU=Bench` for that (seeded there, so every step
//!    above scans them too).
//!
//! The figures and their reading: docs/benchmarks.md. With `BENCH_USERS_HOLD=1` the DC stays up afterwards until
//! Enter. `bench_users --cycles CONFIG` is the child process of step 5, not for use by hand.

#[path = "../tests/support/samba/mod.rs"]
#[allow(dead_code)]
mod samba;

#[path = "../tests/support/directory.rs"]
#[allow(dead_code)]
mod directory;

#[path = "bench_users/cycles.rs"]
mod cycles;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use samba::SambaDc;

const BENCH_OU: &str = "OU=Bench,DC=corp,DC=example,DC=test";
/// Holds 0.5 % of the users: the ones an OU DACL change reaches in the incremental cycles.
const SUB_OU: &str = "OU=Sub,OU=Bench,DC=corp,DC=example,DC=test";
const USER_CLASS: &str = "bf967aba-0de6-11d0-a285-00aa003049e2";
/// The filter and attributes of the full scan in `src/ad/users/read.rs` (keep in sync; the descriptor first).
const FILTER: &str =
    "(&(objectCategory=person)(|(objectClass=user)(objectClass=inetOrgPerson))(!(userAccountControl:1.2.840.113556.1.4.803:=2)))";
const ATTRS: [&str; 5] = ["nTSecurityDescriptor", "objectGUID", "objectClass", "adminCount", "uSNChanged"];
/// The connector discovery filter of `src/ad/connector.rs` (keep in sync).
const DISCOVERY: &str = "(&(objectCategory=person)(objectClass=user)(sAMAccountName=MSOL_*))";
const CONNECTOR: &str = "MSOL_0123456789ab";
/// LDAP_SERVER_SD_FLAGS_OID, critical, value DACL_SECURITY_INFORMATION (BER 30 03 02 01 04), as ldapsearch wants it.
const SD_FLAGS_DACL: &str = "!1.2.840.113556.1.4.801=::MAMCAQQ=";
/// Adds per database transaction while seeding.
const SEED_BATCH: u32 = 10_000;
const TIME: &str = "/usr/bin/time";

/// One measured run of a client process.
#[derive(Debug, Default, Clone, Copy)]
struct Run {
    wall: f64,
    /// User + system CPU seconds of the client process.
    cpu: f64,
    /// Seconds the DC's processes ran on a CPU meanwhile, and waited for one (other load on the machine).
    samba_cpu: f64,
    samba_wait: f64,
    rss_kib: u64,
    /// `duration_seconds` of ad_users (exporter runs only).
    probe: f64,
}

/// What to run: the exporter (`check` with one of two configs) or `ldapsearch`.
struct Variant {
    name: &'static str,
    argv: Vec<String>,
    exporter: bool,
    runs: Vec<Run>,
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--cycles") {
        let config = std::env::args().nth(2).expect("--cycles CONFIG");
        return cycles::child(Path::new(&config));
    }
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().map_or(10_000, |a| a.replace('_', "").parse().expect("N: a number of users"));
    let reps: usize = args.next().map_or(3, |a| a.parse().expect("REPS: a number of runs"));
    let exe = std::env::current_exe().expect("path of this example");
    // target/release/examples/bench_users -> target/release/writeback_exporter
    let exporter = exe.parent().and_then(Path::parent).expect("target directory").join("writeback_exporter");
    assert!(exporter.is_file(), "{} missing: run `cargo build --release --bin writeback_exporter`", exporter.display());
    if !Path::new(TIME).is_file() {
        eprintln!("bench: no {TIME} (Debian package `time`): peak RSS sampled from /proc, client CPU not measured");
    }

    eprintln!("bench: starting a Samba AD DC...");
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("cannot start the Samba DC (run as root): {e}"));
    grant(&dc, CONNECTOR);
    let sub = cycles::sub_users(n);
    eprintln!("bench: seeding {n} users into {BENCH_OU}, {sub} of them into {SUB_OU}...");
    let t = Instant::now();
    // OU=Sub starts with the toggled ACE, so that the first round's change removes it (the second adds it back).
    directory::Seed::default()
        .ou(BENCH_OU)
        .ou(SUB_OU)
        .ace(SUB_OU, cycles::TOGGLED_ACE)
        .bulk_users(BENCH_OU, "bench", n - sub, 10, SEED_BATCH)
        .bulk_users(SUB_OU, "sub", sub, 10, SEED_BATCH)
        .apply(&dc);
    let seed = t.elapsed().as_secs_f64();
    eprintln!("bench: seeded in {seed:.1} s ({:.0} users/s)", f64::from(n) / seed);

    // BENCH_USERS_ONLY_CYCLES=1: only the full/incremental cycles (e.g. with BENCH_TRACE=1 to see where they go).
    if std::env::var_os("BENCH_USERS_ONLY_CYCLES").is_none() {
        let url = dc.ldaps_url();
        let ldapsearch = |base: &str, filter: &str, attrs: &[&str], sd: bool| -> Vec<String> {
            let (user, password) = (samba::MONITOR_UPN, samba::MONITOR_PASSWORD);
            let mut argv =
                vec!["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-D", user, "-w", password, "-H", &url];
            argv.extend(["-b", base, "-s", "sub", "-E", "pr=1000/noprompt"]);
            argv.extend(if sd { vec!["-E", SD_FLAGS_DACL] } else { vec![] });
            argv.push(filter);
            argv.extend(attrs);
            argv.into_iter().map(String::from).collect()
        };
        let check = |config: PathBuf| -> Vec<String> {
            let argv = [exporter.as_os_str(), "check".as_ref(), "--config.file".as_ref(), config.as_os_str()];
            argv.iter().map(|a| a.to_string_lossy().into_owned()).chain(["--output".into(), "json".into()]).collect()
        };
        let variant = |name, argv, exporter| Variant { name, argv, exporter, runs: Vec::new() };
        let mut variants = [
            variant(
                "exporter, connector accounts discovered (MSOL_*)",
                check(write_config(&dc, "discovered", "")),
                true,
            ),
            variant("exporter, connector account configured", check(write_config(&dc, "configured", CONNECTOR)), true),
            variant("ldapsearch scope scan, SD flags, 5 attributes", ldapsearch(BENCH_OU, FILTER, &ATTRS, true), false),
            variant(
                "ldapsearch scope scan, no SD (4 attributes)",
                ldapsearch(BENCH_OU, FILTER, &ATTRS[1..], false),
                false,
            ),
            variant(
                "ldapsearch MSOL_* discovery",
                ldapsearch(samba::DOMAIN_DN, DISCOVERY, &["objectSid"], false),
                false,
            ),
        ];
        let ca = dc.ca_pem_path().display().to_string();
        let env = [("LDAPTLS_CACERT", ca.as_str())];

        // Fairness check (doubles as warm-up of the DC's caches): N entries, each with its descriptor.
        let out = measure(&dc, &variants[2].argv, &env, true).1;
        let lines = || out.split(|&b| b == b'\n');
        let entries = lines().filter(|l| l.starts_with(b"dn:")).count();
        let sds = lines().filter(|l| l.to_ascii_lowercase().starts_with(b"ntsecuritydescriptor::")).count();
        drop(out);
        assert!(
            entries == n as usize && sds == entries,
            "ldapsearch returned {entries} entries, {sds} SDs; expected {n}"
        );
        eprintln!("bench: ldapsearch returns {entries} entries, each with its nTSecurityDescriptor");

        let load_before = loadavg();
        for rep in 1..=reps {
            eprintln!("bench: run {rep}/{reps}");
            for v in &mut variants {
                let (mut run, out) = measure(&dc, &v.argv, &env, v.exporter);
                if v.exporter {
                    run.probe = ad_users_seconds(&out, n);
                }
                v.runs.push(run);
            }
        }

        println!("\nN = {n}, seeding {seed:.1} s, medians of {reps} runs, load average {load_before} -> {}", loadavg());
        println!("\n| client | ad_users s | wall s | client CPU s | Samba CPU s | Samba CPU wait s | peak RSS MiB |");
        println!("|---|---|---|---|---|---|---|");
        for v in &variants {
            let r = median(&v.runs);
            let probe = if v.exporter { format!("{:.2}", r.probe) } else { String::new() };
            let rss = r.rss_kib as f64 / 1024.0;
            let (wall, cpu, samba, wait) = (r.wall, r.cpu, r.samba_cpu, r.samba_wait);
            println!("| {} | {probe} | {wall:.2} | {cpu:.2} | {samba:.2} | {wait:.2} | {rss:.1} |", v.name);
        }
        // The machine's speed drifts between rounds (shared cores), so compare within each round, then take the median.
        let ratios = |i: usize, of: fn(&Run) -> f64| -> Vec<f64> {
            variants[i].runs.iter().zip(&variants[2].runs).map(|(e, l)| of(e) / l.wall).collect()
        };
        let (discovered, configured) = (ratios(0, |r| r.probe), ratios(1, |r| r.probe));
        println!(
            "\nad_users / ldapsearch per round: {} (account configured: {})",
            show(&discovered),
            show(&configured)
        );
        // The whole `check` (process start, config, ad_topology, ad_policy, ad_acl, ad_users, report) against the bare scan.
        let (check_discovered, check_configured) = (ratios(0, |r| r.wall), ratios(1, |r| r.wall));
        println!(
            "check / ldapsearch (wall) per round: {} (account configured: {})",
            show(&check_discovered),
            show(&check_configured)
        );
        let (ex, ls) = (median(&variants[0].runs), median(&variants[2].runs));
        println!(
            "\n| N | seed s | ad_users s | ldapsearch s | ratio | ratio, account configured | exporter peak RSS MiB |"
        );
        println!("|---|---|---|---|---|---|---|");
        let (rss, r1, r2) = (ex.rss_kib as f64 / 1024.0, mid(discovered), mid(configured));
        println!("| {n} | {seed:.1} | {:.2} | {:.2} | {r1:.2}× | {r2:.2}× | {rss:.1} |", ex.probe, ls.wall);
        let configured_wall = median(&variants[1].runs).wall;
        println!("\n| N | check wall s | check wall s, account configured | ldapsearch s | ratio | ratio, account configured | target |");
        println!("|---|---|---|---|---|---|---|");
        let (r1, r2) = (mid(check_discovered), mid(check_configured));
        println!("| {n} | {:.2} | {configured_wall:.2} | {:.2} | {r1:.2}× | {r2:.2}× | ≤ 1.1× |", ex.wall, ls.wall);
    }
    cycles::run(&dc, n, reps);
    if std::env::var_os("BENCH_USERS_HOLD").is_some() {
        eprintln!("bench: DC kept for inspection at {} (dir {}); Enter stops it", dc.ldaps_url(), dc.dir().display());
        let _ = std::io::stdin().read_line(&mut String::new());
    }
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// Rounded figures of one run each, joined for a "per round" line.
fn show(r: &[f64]) -> String {
    r.iter().map(|x| format!("{x:.2}")).collect::<Vec<_>>().join(", ")
}

/// A connector account with the grant `Set-ADSyncPasswordWritebackPermissions` writes on the domain root.
fn grant(dc: &SambaDc, account: &str) {
    let ace = |guid: &str, right: &str| format!("(OA;CIIO;{right};{guid};{USER_CLASS};{{sid:{account}}})");
    directory::Seed::default()
        .user_with_description(account, "Bench-Connector-Passw0rd!", "Entra Connect (bench)")
        .ace(samba::DOMAIN_DN, &ace("00299570-246d-11d0-a768-00aa006e0529", "CR"))
        .ace(samba::DOMAIN_DN, &ace("28630ebf-41d5-11d1-a9c1-0000f80367c1", "WP"))
        .ace(samba::DOMAIN_DN, &ace("bf967a0a-0de6-11d0-a285-00aa003049e2", "WP"))
        .apply(dc);
}

/// Writes `<dc>/bench/<name>.yml`: scope OU=Bench, page size 1000, `connector_accounts: [connector]` if not empty
/// (a YAML list's inside: `A, B` names two).
fn write_config(dc: &SambaDc, name: &str, connector: &str) -> PathBuf {
    let dir = dc.dir().join("bench");
    fs::create_dir_all(&dir).expect("create the bench directory");
    let connectors =
        if connector.is_empty() { String::new() } else { format!("      connector_accounts: [{connector}]\n") };
    let config = format!(
        "global:\n  interval: 1h\n  timeout: 30m\ntargets:\n  - name: bench\n    ad:\n      servers: [\"{url}\"]\n      bind:\n        user: {user}\n        password_file: ad.password\n      tls:\n        ca_file: \"{ca}\"\n      scopes: [\"{BENCH_OU}\"]\n      page_size: 1000\n{connectors}",
        url = dc.ldaps_url(),
        user = samba::MONITOR_UPN,
        ca = dc.ca_pem_path().display(),
    );
    let path = dir.join(format!("{name}.yml"));
    fs::write(dir.join("ad.password"), samba::MONITOR_PASSWORD).expect("write ad.password");
    fs::write(&path, config).expect("write the exporter config");
    path
}

/// ad_users' `duration_seconds` from the `check` JSON; panics unless the probe ran and judged `n` users.
fn ad_users_seconds(json: &[u8], n: u32) -> f64 {
    let report: serde_json::Value = serde_json::from_slice(json).expect("check --output json prints JSON");
    let probes = report["targets"][0]["probes"].as_array().expect("targets[0].probes");
    let probe = probes.iter().find(|p| p["probe"] == "ad_users").expect("an ad_users probe in the report");
    assert_eq!(probe["state"], "ok", "ad_users failed: {}", probe["error"]);
    let observed = probe["checks"].as_array().into_iter().flatten().find(|c| c["id"] == "ad_users_ready");
    let observed = observed.and_then(|c| c["observed"].as_str()).expect("an ad_users_ready check");
    assert!(observed.ends_with(&format!(" of {n} enabled users ready")), "ad_users judged: {observed}");
    probe["duration_seconds"].as_f64().expect("ad_users duration_seconds")
}

/// Runs `argv` (under /usr/bin/time -v when present) and returns its figures and its stdout (if `capture`).
fn measure(dc: &SambaDc, argv: &[String], env: &[(&str, &str)], capture: bool) -> (Run, Vec<u8>) {
    let report = dc.dir().join("bench").join("time.txt");
    let use_time = Path::new(TIME).is_file();
    let mut cmd = Command::new(if use_time { TIME } else { &argv[0] });
    if use_time {
        cmd.arg("-v").arg("-o").arg(&report).arg(&argv[0]);
    }
    cmd.args(&argv[1..])
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(if capture { Stdio::piped() } else { Stdio::null() })
        .stderr(Stdio::piped());
    let samba_before = samba_sched(None);
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", argv[0]));
    // Drain the pipes while the child runs (a full pipe would stall it).
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            pipe.map(|mut p| p.read_to_end(&mut buf));
            buf
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let mut rss_kib = 0;
    let status = if use_time {
        child.wait().expect("wait for the child")
    } else {
        loop {
            if let Some(status) = child.try_wait().expect("wait for the child") {
                break status;
            }
            rss_kib = vm_hwm_kib(child.id()).unwrap_or(rss_kib);
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    let wall = start.elapsed().as_secs_f64();
    let (stdout, stderr) = (stdout.join().expect("stdout reader"), stderr.join().expect("stderr reader"));
    // check exits 0-2 by verdict (a fresh domain FAILs on minPwdAge); 3 and others are errors.
    let ok = status.code().is_some_and(|c| c <= 2);
    assert!(ok, "{} failed ({status}):\n{}", argv[0], String::from_utf8_lossy(&stderr));
    let samba_after = samba_sched(None);
    let (samba_cpu, samba_wait) = (samba_after.0 - samba_before.0, samba_after.1 - samba_before.1);
    let mut run = Run { wall, samba_cpu, samba_wait, rss_kib, ..Run::default() };
    if use_time {
        let text = fs::read_to_string(&report).expect("read the /usr/bin/time report");
        let field = |name: &str| -> f64 {
            let line = text.lines().find_map(|l| l.trim().strip_prefix(name)).unwrap_or_else(|| panic!("no {name:?}"));
            line.trim().parse().unwrap_or_else(|_| panic!("{name:?}: not a number: {line}"))
        };
        run.cpu = field("User time (seconds):") + field("System time (seconds):");
        run.rss_kib = field("Maximum resident set size (kbytes):") as u64;
    }
    (run, stdout)
}

/// Peak RSS so far of a live process (VmHWM), the fallback without /usr/bin/time.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    status_kib(&pid.to_string(), "VmHWM:")
}

/// A `kB` field of `/proc/<pid>/status` (`pid` may be `self`).
fn status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(field))?.trim().trim_end_matches("kB").trim().parse().ok()
}

/// Seconds the DC's processes (this process's descendants while no measured client is alive, except `skip`, a
/// measured client that is: Samba renames its root process, so its command line no longer names its smb.conf) have
/// run on a CPU, and waited for one, so far.
fn samba_sched(skip: Option<u32>) -> (f64, f64) {
    let Ok(entries) = fs::read_dir("/proc") else { return (0.0, 0.0) };
    let parent_of = |pid: u32| -> Option<u32> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
    };
    let procs: Vec<(u32, u32)> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter_map(|pid| Some((pid, parent_of(pid)?)))
        .collect();
    let mut tree = vec![std::process::id()];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(procs.iter().filter(|p| p.1 == parent && Some(p.0) != skip).map(|p| p.0));
        i += 1;
    }
    let (mut run, mut wait) = (0.0, 0.0);
    for pid in &tree[1..] {
        // schedstat: nanoseconds on a CPU, nanoseconds runnable but waiting, timeslices; per thread.
        let tasks = fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
        for text in tasks.filter_map(|t| fs::read_to_string(t.path().join("schedstat")).ok()) {
            let mut f = text.split_whitespace().map(|v| v.parse::<f64>().unwrap_or(0.0) / 1e9);
            run += f.next().unwrap_or(0.0);
            wait += f.next().unwrap_or(0.0);
        }
    }
    (run, wait)
}

/// Field-wise medians.
fn median(runs: &[Run]) -> Run {
    let m = |f: fn(&Run) -> f64| mid(runs.iter().map(f).collect());
    Run {
        wall: m(|r| r.wall),
        cpu: m(|r| r.cpu),
        samba_cpu: m(|r| r.samba_cpu),
        samba_wait: m(|r| r.samba_wait),
        rss_kib: m(|r| r.rss_kib as f64) as u64,
        probe: m(|r| r.probe),
    }
}

/// The median (the upper one of an even count).
fn mid(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}
