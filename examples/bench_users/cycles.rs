//! Step 5 of the benchmark: a full cycle of `ad_users`, then an incremental one, in one process that keeps the
//! target's state between them as the exporter does; and the memory that process holds.
//!
//! Each round starts a child process (this example again, `--cycles CONFIG`) that holds a [`TargetContext`] and runs
//! the probe when the parent says so, while the parent changes the directory and reads Samba's CPU time. Why a child
//! per round rather than the parent itself:
//! - memory: the child's VmHWM and VmRSS are those of a process that only ran the probe, as the exporter is. The
//!   parent has held ldapsearch's LDIF of all N entries (hundreds of MiB at 100,000 users), which its peak would show;
//! - every round starts alike: a fresh process, a fresh context (which always scans in full), so the rounds'
//!   figures are comparable and their median means something.
//!
//! The child configures two connector accounts by name (the memory goal is for two), `MSOL_0123456789ab` and
//! `MSOL_fedcba987654`, both with the writeback grant on the domain root. The second one is created only now, after
//! the `check` rounds, so that the figures of steps 3-4 keep one connector and stay comparable with earlier ones;
//! Samba then rewrites the inherited ACEs of every object of the domain once (timed and printed, not measured).
//!
//! Before the measured cycles the child runs `ad_acl` once: the DC list, the connector accounts and the forest's
//! domains are read once per cycle for every probe that needs them, and reused for the rest of the round (the
//! config's interval is 1h), so neither measured cycle pays for them and both measure `ad_users` alone.
//!
//! Between the two cycles the parent changes 1 % of the N users: half through their OU, half on each user.
//! - `OU=Sub,OU=Bench` (0.5 % of the users) gets or loses [`TOGGLED_ACE`], inheritable on descendant users: their
//!   inherited ACEs change, but Samba leaves their uSNChanged alone, so the probe must notice the OU's change. It was
//!   seeded with the ACE; odd rounds remove it, even rounds add it back.
//! - 0.5 % of the users of `OU=Bench` itself, spread over it, get a `description` of this round (a real change every
//!   round, so their uSNChanged moves).
//!
//! The changes go through Samba's own modules on the DC's database (as `tests/support/seed.py` does), in a Python
//! process of their own, outside the measured intervals. So every round's incremental cycle has the same work.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use writeback_exporter::base::ProbeOutput;
use writeback_exporter::probe::{probes_for, run_probe, TargetContext};

use super::samba::SambaDc;
use super::{grant, mid, samba_sched, show, status_kib, write_config, BENCH_OU, CONNECTOR, SUB_OU};

/// The second connector account (the memory goal is for two).
const CONNECTOR_2: &str = "MSOL_fedcba987654";
/// Inheritable on descendant users: Authenticated Users may read their `description`. Harmless to readiness, but
/// it changes the inherited ACEs of every user below the OU that holds it.
pub const TOGGLED_ACE: &str =
    "(OA;CIIO;RP;bf967950-0de6-11d0-a285-00aa003049e2;bf967aba-0de6-11d0-a285-00aa003049e2;AU)";
const OBJECTS_READ: &str = "writeback_ad_users_objects_read";
/// Memory goal of the state, for 100,000 users and two connector accounts.
const MEMORY_GOAL_MIB: f64 = 64.0;

/// Users seeded into `OU=Sub` (and as many get a new description each round): 0.5 % of `n`.
pub fn sub_users(n: u32) -> u32 {
    n / 200
}

/// Applies one round's change (JSON on stdin: `ou`, `ace`, `add`, `users`, `description`), the descriptions in one
/// transaction; fails unless the ACE is there after an add and gone after a removal. ACEs are compared by value:
/// `SDUtils.dacl_delete_aces` compares them by identity and so never finds one.
const CHANGE_PY: &str = r#"
import json, sys
from samba.auth import system_session
from samba.dcerpc import security
from samba.ndr import ndr_deepcopy
from samba.param import LoadParm
from samba.samdb import SamDB
from samba.sd_utils import SDUtils

def key(ace):
    k = (ace.type, ace.flags, ace.access_mask, str(ace.trustee))
    if ace.type in (security.SEC_ACE_TYPE_ACCESS_ALLOWED_OBJECT, security.SEC_ACE_TYPE_ACCESS_DENIED_OBJECT):
        f = ace.object.flags
        k += (str(ace.object.type) if f & security.SEC_ACE_OBJECT_TYPE_PRESENT else None,
              str(ace.object.inherited_type) if f & security.SEC_ACE_INHERITED_OBJECT_TYPE_PRESENT else None)
    return k

smb_conf, sam_ldb = sys.argv[1:3]
op = json.load(sys.stdin)
lp = LoadParm()
lp.load(smb_conf)
samdb = SamDB(url=sam_ldb, session_info=system_session(), lp=lp)
sdu = SDUtils(samdb)
ou, flags = op["ou"], ["sd_flags:1:4"]
toggled = key(security.descriptor.from_sddl("D:" + op["ace"], security.dom_sid(samdb.get_domain_sid())).dacl.aces[0])
present = lambda: any(key(a) == toggled for a in sdu.read_sd_on_dn(ou, controls=flags).dacl.aces)
if present() == op["add"]:
    raise SystemExit("the ACE is already %s" % ("there" if op["add"] else "gone"))
if op["add"]:
    sdu.dacl_prepend_aces(ou, op["ace"])
else:
    sd = sdu.read_sd_on_dn(ou, controls=flags)
    # Without the inherited ACEs too (the DC derives them again); a copy to iterate, as deletions shift the array.
    for ace in ndr_deepcopy(sd.dacl).aces:
        if ace.flags & security.SEC_ACE_FLAG_INHERITED_ACE or key(ace) == toggled:
            try:
                sd.dacl_del_ace(ace)
            except Exception:
                pass  # an equal ACE went with an earlier one
    sdu.modify_sd_on_dn(ou, sd, controls=flags)
if present() != op["add"]:
    raise SystemExit("the ACE was not %s" % ("added" if op["add"] else "removed"))
samdb.transaction_start()
try:
    for dn in op["users"]:
        samdb.modify_ldif("dn: %s\nchangetype: modify\nreplace: description\ndescription: %s\n" % (dn, op["description"]))
except BaseException:
    samdb.transaction_cancel()
    raise
samdb.transaction_commit()
"#;

/// One cycle of `ad_users` in the child, with the Samba CPU time the parent saw meanwhile.
#[derive(Debug, Default, Clone)]
struct Cycle {
    wall: f64,
    /// User + system CPU seconds of the child during the cycle.
    cpu: f64,
    samba_cpu: f64,
    samba_wait: f64,
    /// `mode` label and value of `writeback_ad_users_objects_read` (summed over scopes).
    mode: String,
    read: f64,
    /// `writeback_ad_users` (summed over scopes), and `writeback_ad_users_ready` per account: the incremental cycle
    /// must give the same totals as the full one.
    users: f64,
    ready: Vec<(String, f64)>,
    /// The child's VmRSS before the cycle, VmRSS and VmHWM after it (KiB).
    rss_before: u64,
    rss_after: u64,
    hwm: u64,
}

/// Runs `reps` rounds (child process: full cycle, change, incremental cycle) and prints their tables.
pub fn run(dc: &SambaDc, n: u32, reps: usize) {
    eprintln!("bench: creating {CONNECTOR_2} with the grant (Samba rewrites the inherited ACEs of the domain)...");
    let t = Instant::now();
    grant(dc, CONNECTOR_2);
    eprintln!("bench: second connector granted in {:.1} s", t.elapsed().as_secs_f64());
    let config = write_config(dc, "cycles", &format!("{CONNECTOR}, {CONNECTOR_2}"));
    let exe = std::env::current_exe().expect("path of this example");
    let expected = 2 * sub_users(n);
    let mut rounds = Vec::new();
    for rep in 1..=reps {
        eprintln!("bench: cycles {rep}/{reps}");
        let mut child = Proc::start(&exe, &config);
        let full = child.cycle("full");
        let t = Instant::now();
        change(dc, n, rep);
        eprintln!("bench: changed {expected} users in {:.1} s", t.elapsed().as_secs_f64());
        let incremental = child.cycle("incremental");
        child.finish();
        for (what, c) in [("full", &full), ("incremental", &incremental)] {
            if c.users != f64::from(n) {
                eprintln!("bench: WARNING: the {what} cycle of round {rep} judged {} users, not {n}", c.users);
            }
        }
        if full.ready != incremental.ready {
            eprintln!("bench: WARNING: ready users differ: full {:?}, incremental {:?}", full.ready, incremental.ready);
        }
        if full.mode != "full" || incremental.mode != "incremental" {
            eprintln!("bench: WARNING: round {rep} ran {} then {}", full.mode, incremental.mode);
        }
        rounds.push((full, incremental));
    }
    print(n, reps, expected, &rounds);
}

fn print(n: u32, reps: usize, expected: u32, rounds: &[(Cycle, Cycle)]) {
    let fulls: Vec<Cycle> = rounds.iter().map(|r| r.0.clone()).collect();
    let incs: Vec<Cycle> = rounds.iter().map(|r| r.1.clone()).collect();
    let m = |cycles: &[Cycle], f: fn(&Cycle) -> f64| mid(cycles.iter().map(f).collect());
    let modes = |cycles: &[Cycle]| {
        let mut modes: Vec<&str> = cycles.iter().map(|c| c.mode.as_str()).collect();
        modes.sort_unstable();
        modes.dedup();
        modes.join("/")
    };
    println!("\nad_users cycles in one process, accounts {CONNECTOR} and {CONNECTOR_2} configured, medians of {reps} rounds:");
    println!(
        "\n| cycle | mode (objects read) | users judged | wall s | exporter CPU s | Samba CPU s | Samba CPU wait s |"
    );
    println!("|---|---|---|---|---|---|---|");
    let sub = sub_users(n);
    // objects_read also counts the containers the cycle looked at.
    let inc_name =
        format!("incremental ({expected} users changed: {sub} below an OU whose DACL changed, {sub} themselves)");
    for (name, cycles) in [("full", &fulls), (inc_name.as_str(), &incs)] {
        let (read, users) = (m(cycles, |c| c.read), m(cycles, |c| c.users));
        let (wall, cpu, samba, wait) =
            (m(cycles, |c| c.wall), m(cycles, |c| c.cpu), m(cycles, |c| c.samba_cpu), m(cycles, |c| c.samba_wait));
        let mode = modes(cycles);
        println!("| {name} | {mode} ({read:.0}) | {users:.0} | {wall:.2} | {cpu:.2} | {samba:.2} | {wait:.2} |");
    }
    // Within each round, then the median (the machine's speed drifts between rounds).
    let ratio = |f: fn(&Cycle) -> f64| -> Vec<f64> { rounds.iter().map(|(a, b)| f(b) / f(a)).collect() };
    let (cpu_ratios, wall_ratios) = (ratio(|c| c.samba_cpu), ratio(|c| c.wall));
    println!("\nincremental / full per round: Samba CPU {}; wall {}", show(&cpu_ratios), show(&wall_ratios));
    println!("\n| N | full Samba CPU s | incremental Samba CPU s | ratio | full wall s | incremental wall s | ratio | target |");
    println!("|---|---|---|---|---|---|---|---|");
    let (fc, ic, fw, iw) =
        (m(&fulls, |c| c.samba_cpu), m(&incs, |c| c.samba_cpu), m(&fulls, |c| c.wall), m(&incs, |c| c.wall));
    let (rc, rw) = (100.0 * mid(cpu_ratios), 100.0 * mid(wall_ratios));
    println!("| {n} | {fc:.2} | {ic:.3} | {rc:.1} % | {fw:.2} | {iw:.3} | {rw:.1} % | Samba CPU ≤ 5 % |");

    // The state is what the process keeps after the full cycle beyond what it had before it. VmRSS growth is an upper
    // bound: pages the allocator freed but kept (per-thread arenas) count too.
    let mib = |kib: f64| kib / 1024.0;
    let growth: Vec<f64> = fulls.iter().map(|c| c.rss_after as f64 - c.rss_before as f64).collect();
    println!(
        "\n| N | accounts | VmRSS before MiB | VmRSS after full MiB | growth MiB (per round) | VmHWM after full MiB | VmRSS after incremental MiB | VmHWM at end MiB | target |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let (before, after) = (m(&fulls, |c| c.rss_before as f64), m(&fulls, |c| c.rss_after as f64));
    let (hwm, inc_rss, inc_hwm) =
        (m(&fulls, |c| c.hwm as f64), m(&incs, |c| c.rss_after as f64), m(&incs, |c| c.hwm as f64));
    let per_round = show(&growth.iter().map(|g| mib(*g)).collect::<Vec<_>>());
    println!(
        "| {n} | 2 | {:.1} | {:.1} | {:.1} ({per_round}) | {:.1} | {:.1} | {:.1} | ≤ {MEMORY_GOAL_MIB} MiB at 100,000 |",
        mib(before),
        mib(after),
        mib(mid(growth)),
        mib(hwm),
        mib(inc_rss),
        mib(inc_hwm)
    );
}

/// The child process of one round, and the pipes that drive it.
struct Proc {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Proc {
    fn start(exe: &Path, config: &Path) -> Proc {
        let mut child = Command::new(exe)
            .arg("--cycles")
            .arg(config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the cycles child");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut proc = Proc { child, stdin, stdout };
        let ready = proc.read();
        assert_eq!(ready["ready"], true, "the cycles child did not start: {ready}");
        proc
    }

    /// One line of JSON from the child.
    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("read from the cycles child");
        assert!(!line.is_empty(), "the cycles child ended early (its error is above)");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("cycles child printed {line:?}: {e}"))
    }

    /// Has the child run `ad_users` once, reading Samba's CPU time around it (the child excluded).
    fn cycle(&mut self, what: &str) -> Cycle {
        let pid = Some(self.child.id());
        let before = samba_sched(pid);
        writeln!(self.stdin, "{what}").and_then(|()| self.stdin.flush()).expect("write to the cycles child");
        let v = self.read();
        let after = samba_sched(pid);
        let f = |k: &str| v[k].as_f64().unwrap_or_else(|| panic!("cycles child: no {k} in {v}"));
        let kib = |k: &str| f(k) as u64;
        let ready = v["ready"].as_object().into_iter().flatten();
        Cycle {
            wall: f("wall"),
            cpu: f("cpu"),
            samba_cpu: after.0 - before.0,
            samba_wait: after.1 - before.1,
            mode: v["mode"].as_str().unwrap_or("none").to_string(),
            read: f("read"),
            users: f("users"),
            ready: ready.map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(f64::NAN))).collect(),
            rss_before: kib("rss_before"),
            rss_after: kib("rss_after"),
            hwm: kib("hwm"),
        }
    }

    fn finish(self) {
        let Proc { mut child, stdin, .. } = self;
        drop(stdin);
        let status = child.wait().expect("wait for the cycles child");
        assert!(status.success(), "the cycles child failed: {status}");
    }
}

/// Round `rep`'s change of 1 % of the users (see the module's comment).
fn change(dc: &SambaDc, n: u32, rep: usize) {
    let sub = sub_users(n);
    let step = ((n - sub) / sub.max(1)).max(1);
    let users: Vec<String> = (0..sub).map(|i| format!("CN=bench{:06},{BENCH_OU}", i * step)).collect();
    let op = json!({"ou": SUB_OU, "ace": TOGGLED_ACE, "add": rep.is_multiple_of(2), "users": users,
        "description": format!("bench round {rep}")});
    let mut child = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(CHANGE_PY)
        .arg(dc.smb_conf_path())
        .arg(dc.dir().join("private/sam.ldb"))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run python3 for the change");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(op.to_string().as_bytes()).expect("write the change");
    drop(stdin);
    let status = child.wait().expect("wait for python3");
    assert!(status.success(), "the change of round {rep} failed: {status}");
}

/// The child: holds one target context and runs `ad_users` once per line on stdin, printing a JSON line each time.
pub fn child(config: &Path) {
    // BENCH_TRACE=1: each LDAP session and search of the cycles on stderr, with its time (where a cycle's cost goes).
    if std::env::var_os("BENCH_TRACE").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter("writeback_exporter::ad::session=trace")
            .with_writer(std::io::stderr)
            .init();
    }
    let config = writeback_exporter::app::load_config(config).unwrap_or_else(|e| panic!("bench config: {e}"));
    let target = config.targets[0].clone();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let ctx = TargetContext::new(target.clone(), &config);
    let probe = |name: &str| probes_for(&target).into_iter().find(|p| p.name.as_str() == name);
    let users = probe("ad_users").expect("ad_users applies to the bench target");
    let timeout = config.timeout();
    if let Some(acl) = probe("ad_acl") {
        runtime.block_on(run_probe(acl, &ctx, timeout)).unwrap_or_else(|e| panic!("ad_acl: {e}"));
    }
    let mut out = std::io::stdout().lock();
    let mut say = |v: Value| writeln!(out, "{v}").and_then(|()| out.flush()).expect("write to the parent");
    say(json!({"ready": true}));
    for line in std::io::stdin().lock().lines() {
        line.expect("read from the parent");
        let rss_before = status_kib("self", "VmRSS:").unwrap_or(0);
        let cpu_before = self_cpu();
        let start = Instant::now();
        let output = runtime.block_on(run_probe(users, &ctx, timeout)).unwrap_or_else(|e| panic!("ad_users: {e}"));
        let wall = start.elapsed().as_secs_f64();
        let cpu = self_cpu() - cpu_before;
        let (rss_after, hwm) = (status_kib("self", "VmRSS:").unwrap_or(0), status_kib("self", "VmHWM:").unwrap_or(0));
        let (mode, read) = objects_read(&output);
        let users = sum(&output, "writeback_ad_users", None);
        let ready: serde_json::Map<String, Value> =
            sum(&output, "writeback_ad_users_ready", Some("account")).into_iter().map(|(k, v)| (k, json!(v))).collect();
        say(json!({"wall": wall, "cpu": cpu, "mode": mode, "read": read, "users": users[0].1, "ready": ready,
            "rss_before": rss_before, "rss_after": rss_after, "hwm": hwm}));
    }
    runtime.shutdown_timeout(Duration::from_secs(5));
}

/// The `mode` label and the summed value of `writeback_ad_users_objects_read` ("none" if the probe has no such
/// sample).
fn objects_read(output: &ProbeOutput) -> (String, f64) {
    let samples: Vec<_> = output.samples.iter().filter(|s| s.metric.name == OBJECTS_READ).collect();
    let Some(first) = samples.first() else { return ("none".to_string(), 0.0) };
    let at = first.metric.labels.iter().position(|l| *l == "mode").expect("objects_read has a mode label");
    let mut modes: Vec<&str> = samples.iter().map(|s| s.labels[at].as_str()).collect();
    modes.sort_unstable();
    modes.dedup();
    (modes.join("/"), samples.iter().map(|s| s.value).sum())
}

/// Sums a metric's samples, per value of the label `by` (or all together).
fn sum(output: &ProbeOutput, metric: &str, by: Option<&str>) -> Vec<(String, f64)> {
    let mut sums: Vec<(String, f64)> = Vec::new();
    if by.is_none() {
        sums.push((String::new(), 0.0));
    }
    for s in output.samples.iter().filter(|s| s.metric.name == metric) {
        let key = by.and_then(|b| s.metric.labels.iter().position(|l| *l == b)).map_or("", |i| s.labels[i].as_str());
        match sums.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 += s.value,
            None => sums.push((key.to_string(), s.value)),
        }
    }
    sums.sort_by(|a, b| a.0.cmp(&b.0));
    sums
}

/// User + system CPU seconds of this process so far, all threads (also those that ended): `/proc/self/stat`
/// fields 14 and 15, in USER_HZ ticks (100 per second on Linux, whatever the kernel's own HZ).
fn self_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
