//! Running Samba and its tools (bounded, logged), stopping process trees, network probes and file helpers.

use super::*;

// ---------------------------------------------------------------------------------------------------------------
// Processes

/// Run by `/bin/sh -c` inside `unshare --mount`: a private tmpfs on /run/samba, the instance's hosts file (if
/// `RIG_HOSTS_FILE` is set) over /etc/hosts, then exec samba ("$0" "$@").
pub(super) const PRIVATE_RUN_SAMBA_SCRIPT: &str =
    "mount -t tmpfs -o mode=0755,size=4m writeback-exporter-samba-run /run/samba && \
     { [ -z \"$RIG_HOSTS_FILE\" ] || mount --bind \"$RIG_HOSTS_FILE\" /etc/hosts; } && exec \"$0\" \"$@\"";

/// Whether DCs can get a private `/run/samba` (mount namespace + tmpfs; needs root with CAP_SYS_ADMIN and
/// `unshare` from util-linux). Probed once per process.
pub(super) fn private_run_samba_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        fs::create_dir_all("/run/samba").is_ok()
            && Command::new(find_tool("unshare"))
                .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c", PRIVATE_RUN_SAMBA_SCRIPT])
                .arg("true")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|st| st.success())
    })
}

pub(super) fn find_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(extra)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

pub(super) fn run(cmd: &mut Command, what: &str) -> Result<String, RigError> {
    let out = cmd.stdin(Stdio::null()).output().ctx(|| format!("{what}: cannot run"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(RigError(format!(
            "{what} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Runs `cmd` in a process group of its own with stdout and stderr going to `log`; kills the group after `timeout`.
/// Returns the output; the error contains the status (or the timeout) and the output's tail.
pub(super) fn run_bounded(cmd: &mut Command, timeout: Duration, log: &Path, what: &str) -> Result<String, RigError> {
    let out = File::create(log).ctx(|| format!("creating {}", log.display()))?;
    let err = out.try_clone().ctx(|| "duplicating log handle".into())?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .ctx(|| format!("{what}: cannot run"))?;
    let finished = wait_child(&mut child, timeout);
    if !finished {
        signal_group(child.id(), "KILL");
        let _ = child.kill();
    }
    let status = child.wait().ctx(|| format!("{what}: wait"))?;
    let text = fs::read_to_string(log).unwrap_or_default();
    if !finished {
        return Err(RigError(format!("{what}: no result after {timeout:?}; output tail:\n{}", log_tail(log, 30))));
    }
    if !status.success() {
        return Err(RigError(format!("{what} failed ({status}); output tail:\n{}", log_tail(log, 30))));
    }
    Ok(text)
}

/// `samba-tool ARGS` talking to a DC over the network as the domain administrator, with NTLM (no smb.conf of an
/// instance: the client side needs none).
pub(super) fn samba_tool_as_admin(args: &[&str]) -> Command {
    let mut cmd = Command::new(find_tool("samba-tool"));
    cmd.args(args)
        .arg(format!("--username={ADMIN_USER}"))
        .arg(format!("--password={ADMIN_PASSWORD}"))
        // Without it the client names the domain WORKGROUP (from /etc/samba/smb.conf): the DC then passes the NTLM
        // logon on to its winbindd, which fails (LOGON_FAILURE, NO_LOGON_SERVERS) while that is still starting up.
        .arg(format!("--workgroup={NETBIOS_DOMAIN}"))
        // Kerberos would first look for the realm's KDC in DNS (seconds of timeouts), then fall back to NTLM.
        .arg("--use-kerberos=off");
    cmd
}

pub(super) fn samba_tool_at(args: &[&str], sam: Option<&Path>, conf: &Path) -> Result<String, RigError> {
    let mut cmd = Command::new(find_tool("samba-tool"));
    cmd.args(args);
    if let Some(sam) = sam {
        cmd.arg("-H").arg(sam);
    }
    cmd.arg("-s").arg(conf);
    run(&mut cmd, &format!("samba-tool {}", args.join(" ")))
}

pub(super) fn wait_child(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

pub(super) fn signal(target: &str, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

pub(super) fn signal_group(pgid: u32, sig: &str) {
    signal(&format!("-{pgid}"), sig);
}

/// PIDs of live processes whose command line mentions `conf` (smbd and winbindd get `--configfile=<conf>` and run
/// in process groups of their own).
pub(super) fn pids_using(conf: &Path) -> Vec<u32> {
    let needle = conf.as_os_str().as_encoded_bytes();
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let mut buf = Vec::new();
            File::open(format!("/proc/{pid}/cmdline")).and_then(|mut f| f.read_to_end(&mut buf)).is_ok()
                && buf.split(|&b| b == 0).any(|arg| arg.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

pub(super) fn kill_strays(conf: &Path, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    let mut sig = "TERM";
    loop {
        let pids = pids_using(conf);
        if pids.is_empty() {
            return;
        }
        for pid in &pids {
            signal(&pid.to_string(), sig);
        }
        if Instant::now() >= deadline {
            if sig == "KILL" {
                return;
            }
            sig = "KILL";
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Network probes

pub(super) fn port_open(ip: Ipv4Addr, port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from((ip, port)), Duration::from_millis(500)).is_ok()
}

/// Simple bind over LDAPS, verifying the server certificate against `ca_der`. Runs a current-thread Tokio runtime
/// on a thread of its own, so it works whether or not the caller is inside a runtime.
pub(super) fn ldaps_bind_probe(url: &str, ca_der: &[u8], user: &str, password: &str) -> Result<(), String> {
    let (url, ca_der, user, password) = (url.to_owned(), ca_der.to_vec(), user.to_owned(), password.to_owned());
    let probe = move || -> Result<(), String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(rustls::pki_types::CertificateDer::from(ca_der)).map_err(|e| format!("CA: {e}"))?;
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS config: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let settings = ldap3::LdapConnSettings::new().set_config(Arc::new(cfg)).set_conn_timeout(PROBE_TIMEOUT);
        let rt =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| format!("runtime: {e}"))?;
        rt.block_on(async move {
            let (conn, mut ldap) =
                ldap3::LdapConnAsync::with_settings(settings, &url).await.map_err(|e| format!("connect: {e}"))?;
            let driver = tokio::spawn(conn.drive());
            let res = ldap.with_timeout(PROBE_TIMEOUT).simple_bind(&user, &password).await;
            let _ = ldap.unbind().await;
            driver.abort();
            res.map_err(|e| format!("bind: {e}"))?.success().map_err(|e| format!("bind: {e}"))?;
            Ok(())
        })
    };
    std::thread::spawn(probe).join().map_err(|_| "LDAPS probe panicked".to_string())?
}

// ---------------------------------------------------------------------------------------------------------------
// Files

pub(super) fn mkdir_0755(path: &Path) -> Result<(), RigError> {
    fs::create_dir_all(path).ctx(|| format!("creating {}", path.display()))?;
    set_mode(path, 0o755)
}

pub(super) fn set_mode(path: &Path, mode: u32) -> Result<(), RigError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).ctx(|| format!("chmod {mode:o} {}", path.display()))
}

pub(super) fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), RigError> {
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(mode)
        .open(path)
        .ctx(|| format!("creating {}", path.display()))?;
    f.write_all(data).ctx(|| format!("writing {}", path.display()))?;
    set_mode(path, mode)
}

pub(super) fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// FNV-1a 64: a hash that is stable across Rust versions (for the template directory name).
pub(super) struct Fnv(pub(super) u64);

impl Fnv {
    pub(super) fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    pub(super) fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
