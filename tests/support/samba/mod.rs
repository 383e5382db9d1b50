//! Test rig: a real Samba AD DC (Samba 4.17, `samba -i -M single`) on its own loopback address.
//!
//! Used by the integration tests (`mod support;` → `support::samba`) and by `examples/lab.rs`
//! (`#[path = "../tests/support/samba/mod.rs"] mod samba;`), so this module must stay self-contained: plain std,
//! `rcgen`, `tempfile`, `ldap3` and `rustls`; nothing outside `samba/`, no panics in library functions. Its parts:
//! `setup` (template, instance), `domain` (the DCs of one domain: join, replication), `process` (running and stopping Samba, files).
//!
//! How it works (see `REFERENCE.md` §6 for the Samba background):
//! * The domain `corp.example.test` is provisioned once into a cached template
//!   (`/tmp/writeback-exporter-samba/template-<key>`, key = rig format + `samba --version` + credentials), guarded by
//!   a lock file so concurrent test binaries don't race. The template already holds the monitoring account
//!   [`MONITOR_USER`]; its password and the Administrator's never expire, so an old template keeps working.
//! * Every [`SambaDc`] reserves a loopback address `127.0.0.N` (N ≥ 10) with a lock file
//!   (`/tmp/writeback-exporter-samba/ips/127.0.0.N.lock`, held for the life of the value) after checking that Samba's
//!   TCP ports on it are free, copies the template (`cp -a`: SYSVOL's NT ACLs live in xattrs) into a fresh instance
//!   directory, generates a CA and a server certificate (SAN `dc1.corp.example.test` + the IP), writes its own
//!   `smb.conf` and starts `samba -i -M single` in its own process group.
//! * SMB: smbd maps SIDs to uids through winbindd, and libwbclient only ever looks at the compiled-in
//!   `/run/samba/winbindd` (it ignores `winbindd socket directory` and `WINBINDD_SOCKET_DIR`). So each DC runs in a
//!   mount namespace with a private tmpfs on `/run/samba` (`unshare --mount`); without that (container lacking
//!   CAP_SYS_ADMIN) LDAP/Kerberos still work but SMB session setup fails: see [`SambaDc::smb_auth_available`].
//! * No orphans: Samba's stdin is a pipe held only by this process; in interactive mode Samba terminates its whole
//!   tree on EOF ("EOF on stdin"), so if the test process dies (even `kill -9`) the DC goes away. `stop`/`Drop` also
//!   close the pipe, then signal the process group, then kill stray `smbd`/`winbindd` (they run in process groups
//!   of their own) found by their `--configfile`.
//! * Instance directories are named `127.0.0.N-xxxx`; whoever takes the lock of `127.0.0.N` deletes stale directories
//!   of that address left behind by killed processes.
//! * Second DC of a domain ([`SambaDc::join`]): `samba-tool domain join` against the primary (plain LDAP with NTLM
//!   sign/seal and DRSUAPI; no LDAPS involved), then the same instance layout, a server certificate signed by the
//!   primary's CA, and the same mount namespace. What makes DC-to-DC replication work without DNS:
//!   - Name resolution: every DC of the domain bind-mounts its own `etc/hosts` over `/etc/hosts` inside its mount
//!     namespace. The rig writes the same content into all of them (rewritten in place on join/stop/start/drop):
//!     `dcN.corp.example.test` and `<NTDS GUID>._msdcs.corp.example.test` (the name drepl connects to) per DC.
//!   - Kerberos: DRS binds need a ticket, and a `-M single` Samba that asks a KDC blocks its whole process until the
//!     answer comes (a nested event loop): asking its own KDC deadlocks for about a minute, and two such DCs asking
//!     each other at the same moment do too. So joined DCs run `-M standard` (every task, the KDC too, in a process
//!     of its own: about 10 processes instead of 1) and are their own KDC; the `-M single` DC from [`SambaDc::start`]
//!     uses a running joined DC's KDC. Each DC's `etc/krb5.conf` (read by Samba's own krb5 contexts, and through
//!     `KRB5_CONFIG` by the GSSAPI ones) names the KDC `kdc-for-dcN.rig.invalid`, which the hosts file points at the
//!     chosen DC (127.0.0.1 while there is none: refused at once). The template's DC1 never ran the `dnsupdate`
//!     service (`samba_spnupdate`), so its DRS SPNs (`E3514235-4B06-11D1-AB04-00C04FC2DCD2/<NTDS GUID>/<domain>`,
//!     ...) are added before the first join; after a join the rig runs the existing DC's KCC (`samba-tool drs kcc`)
//!     so that it pulls from the new DC at once rather than after its next KCC run (up to 5 min).
//!   - `samba-tool` over the network (join, `drs replicate`, `drs kcc`) runs with `--workgroup=CORP` and
//!     `--use-kerberos=off`: NTLM, checked by the DC itself (with the default `WORKGROUP` the DC hands the logon to its
//!     winbindd, which fails while it is still starting up).
//!
//!   Samba replicates on its own: a change is pulled by the partners within about 5-10 s (drepl notify), a started DC
//!   pulls from its partners 15 s after start-up and then every 300 s. A change made while the partner is stopped gives
//!   a real divergence until then; [`SambaDc::replicate_from`] converges at once.
//!
//! Needs root (ports 88, 389, 445, 636) and the Debian packages installed by `scripts/install-deps.sh`.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod domain;
mod process;
mod setup;

use domain::*;
use process::*;
use setup::*;
// Not every test binary uses it.
#[allow(unused_imports)]
pub use domain::foreign_ca_pem;

/// Kerberos realm of the test domain.
pub const REALM: &str = "CORP.EXAMPLE.TEST";
/// DNS name of the test domain.
pub const DNS_DOMAIN: &str = "corp.example.test";
/// NetBIOS name of the test domain.
pub const NETBIOS_DOMAIN: &str = "CORP";
/// Distinguished name of the domain root.
pub const DOMAIN_DN: &str = "DC=corp,DC=example,DC=test";
/// Host name of the DC that [`SambaDc::start`] starts (each such domain copy runs on its own IP); also in the server
/// certificate's SAN. DCs joined to it are `dc2.corp.example.test`, `dc3...` ([`SambaDc::host_name`]).
pub const DC_HOST_NAME: &str = "dc1.corp.example.test";
/// Built-in domain administrator.
pub const ADMIN_USER: &str = "Administrator";
/// UPN of the administrator (simple bind over LDAPS).
pub const ADMIN_UPN: &str = "Administrator@corp.example.test";
/// Password of the administrator (never expires in the template).
pub const ADMIN_PASSWORD: &str = "Adm1n-Rig-Passw0rd!";
/// Plain domain user (no extra rights) the exporter binds as; created in the template.
pub const MONITOR_USER: &str = "svc-wbmon";
/// UPN of [`MONITOR_USER`] (simple bind over LDAPS).
pub const MONITOR_UPN: &str = "svc-wbmon@corp.example.test";
/// Password of [`MONITOR_USER`] (never expires).
pub const MONITOR_PASSWORD: &str = "Mon1tor-Rig-Passw0rd!";
/// DN of [`MONITOR_USER`].
pub const MONITOR_DN: &str = "CN=svc-wbmon,CN=Users,DC=corp,DC=example,DC=test";

/// Bump when the template's content changes (new objects, other provision options).
const TEMPLATE_FORMAT: &str = "v1";
const RIG_ROOT: &str = "/tmp/writeback-exporter-samba";
const COMPLETE_MARKER: &str = ".rig-template-complete";
/// Lowest last octet handed out (127.0.0.1-9 stay free for other uses).
const FIRST_OCTET: u8 = 10;
const LAST_OCTET: u8 = 250;
/// TCP ports Samba binds on the instance address; all must be free before an address is used.
const SAMBA_TCP_PORTS: [u16; 9] = [88, 135, 139, 389, 445, 464, 636, 3268, 3269];
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// `samba-tool domain join` takes 3-11 s here (more on a loaded machine).
const JOIN_TIMEOUT: Duration = Duration::from_secs(300);
const REPLICATE_TIMEOUT: Duration = Duration::from_secs(120);
/// Service class of the DRS replication SPN (`<class>/<NTDS GUID>/<domain>`).
const DRS_SPN_CLASS: &str = "E3514235-4B06-11D1-AB04-00C04FC2DCD2";
/// Partition DN of the configuration naming context.
const CONFIG_DN: &str = "CN=Configuration,DC=corp,DC=example,DC=test";
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Error of a rig operation: a message with context (and the tail of Samba's log where useful).
#[derive(Debug, Clone)]
pub struct RigError(String);

impl RigError {
    pub fn new(msg: impl Into<String>) -> Self {
        RigError(msg.into())
    }
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RigError {}

/// Adds context to foreign errors.
trait Ctx<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, RigError>;
}

impl<T, E: fmt::Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, RigError> {
        self.map_err(|e| RigError(format!("{}: {e}", what())))
    }
}

/// Where the time of [`SambaDc::start`] (or the last [`SambaDc::restart`]) went.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartTimings {
    /// Waiting for / provisioning the cached template (about 0 when it already exists; 0 for joined DCs).
    pub template: Duration,
    /// `samba-tool domain join` (joined DCs only).
    pub join: Duration,
    /// Reserving the address, copying the template (primary), certificates, smb.conf, krb5.conf, hosts and SPNs.
    pub prepare: Duration,
    /// From spawning `samba` until LDAPS answers a simple bind and SMB accepts connections.
    pub ready: Duration,
}

/// A running Samba AD DC of the domain `corp.example.test` on `127.0.0.N`. Dropping it stops Samba, releases the
/// address and deletes the instance directory.
pub struct SambaDc {
    ip: Ipv4Addr,
    /// `DC1`, `DC2`, ...
    netbios: String,
    /// `dc1.corp.example.test`, ...
    host_name: String,
    child: Option<Child>,
    conf: PathBuf,
    ca_pem: PathBuf,
    ca_der: Vec<u8>,
    private_run_samba: bool,
    /// `single` for DCs from [`Self::start`], `standard` for joined DCs (see the module docs).
    process_model: &'static str,
    timings: StartTimings,
    /// The domain's CA (of the primary): signs the server certificates of joined DCs.
    ca: Arc<RigCa>,
    /// Membership shared by the primary and the DCs joined to it (hosts files, KDC aliases).
    domain: Arc<Domain>,
    // Field order matters for Drop: the directory goes before the address is released.
    dir: tempfile::TempDir,
    _ip_lock: File,
}

impl SambaDc {
    /// Provisions the cached template if needed, reserves a free loopback address, prepares a fresh copy of the
    /// domain, starts Samba and waits (at most 60 s) until LDAPS on `IP:636` accepts a simple bind and SMB on
    /// `IP:445` accepts connections.
    pub fn start() -> Result<SambaDc, RigError> {
        let t0 = Instant::now();
        let template = ensure_template()?;
        let template_time = t0.elapsed();

        let t1 = Instant::now();
        let (ip, ip_lock) = reserve_ip()?;
        let dir = instance_dir(ip, Some(&template))?;
        let ca = Arc::new(RigCa::generate(&format!("writeback-exporter test CA {ip}"))?);
        let (ca_pem, ca_der) = write_tls(&dir.path().join("tls"), ip, DC_HOST_NAME, &ca)?;
        let private_run_samba = private_run_samba_available();
        let netbios = "DC1".to_string();
        let conf = write_smb_conf(dir.path(), ip, &netbios, private_run_samba)?;
        write_krb5_conf(dir.path(), &netbios)?;
        let domain =
            Arc::new(Domain { state: Mutex::new(DomainState { next_index: 2, primary_spns: false, members: vec![] }) });
        {
            let mut st = domain.lock();
            st.members.push(Member {
                netbios: netbios.clone(),
                host_name: DC_HOST_NAME.to_string(),
                ip,
                ntds_guid: None,
                hosts_file: hosts_path(dir.path()),
                running: false,
                separate_kdc: false,
            });
            st.write_hosts()?;
        }
        let prepare_time = t1.elapsed();

        let mut dc = SambaDc {
            ip,
            netbios,
            host_name: DC_HOST_NAME.to_string(),
            child: None,
            conf,
            ca_pem,
            ca_der,
            private_run_samba,
            process_model: "single",
            timings: StartTimings { template: template_time, prepare: prepare_time, ..StartTimings::default() },
            ca,
            domain,
            dir,
            _ip_lock: ip_lock,
        };
        dc.spawn_and_wait()?;
        Ok(dc)
    }

    /// `dc1.corp.example.test` for a DC from [`Self::start`], `dc2.corp.example.test`, ... for joined DCs: its
    /// `dNSHostName` and the DNS SAN of its certificate.
    pub fn host_name(&self) -> &str {
        &self.host_name
    }

    /// `DC1`, `DC2`, ...: the NetBIOS name, also the CN of its `server` and computer objects.
    pub fn netbios_name(&self) -> &str {
        &self.netbios
    }

    /// The loopback address this DC listens on.
    pub fn ip(&self) -> Ipv4Addr {
        self.ip
    }

    /// `ldaps://127.0.0.N:636` (the certificate's SAN contains the IP, so this URL verifies).
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://{}:636", self.ip)
    }

    /// `ldap://127.0.0.N:389` (simple bind is refused there: `strongerAuthRequired`).
    pub fn ldap_url(&self) -> String {
        format!("ldap://{}:389", self.ip)
    }

    /// PEM file of the CA that signed the server certificate.
    pub fn ca_pem_path(&self) -> &Path {
        &self.ca_pem
    }

    /// DER of the CA certificate (same as [`Self::ca_pem_path`]).
    pub fn ca_der(&self) -> &[u8] {
        &self.ca_der
    }

    /// `DC=corp,DC=example,DC=test`.
    pub fn domain_dn(&self) -> &str {
        DOMAIN_DN
    }

    /// The instance directory (`etc/smb.conf`, `private/sam.ldb`, `state/sysvol`, `log/samba.out`, `tls/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// This instance's `smb.conf`.
    pub fn smb_conf_path(&self) -> &Path {
        &self.conf
    }

    /// `<dir>/state/sysvol/corp.example.test` (contains `Policies/{GUID}/...`). Files written here behind Samba's
    /// back need `samba_tool_conf(&["ntacl", "sysvolreset"])` before SMB clients can read them.
    pub fn sysvol_domain_dir(&self) -> PathBuf {
        self.dir.path().join("state").join("sysvol").join(DNS_DOMAIN)
    }

    /// Timings of the last start/restart.
    pub fn timings(&self) -> StartTimings {
        self.timings
    }

    /// Whether SMB sessions (e.g. reading SYSVOL as a domain user) can work on this DC. smbd maps SIDs to uids
    /// through winbindd, and libwbclient only looks at the compiled-in `/run/samba/winbindd` (it ignores
    /// `winbindd socket directory` and `WINBINDD_SOCKET_DIR`). The rig therefore runs each DC in a mount namespace
    /// with a private `/run/samba`; where that is impossible (container without CAP_SYS_ADMIN) each instance gets
    /// its own socket directory instead, LDAP/Kerberos work, and SMB session setup fails with
    /// `NT_STATUS_INTERNAL_ERROR`: then this returns false.
    pub fn smb_auth_available(&self) -> bool {
        self.private_run_samba
    }

    /// Whether the Samba process is running (it may have died on its own).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Stops Samba and all its processes, then waits (bounded) until port 636 refuses connections. Idempotent.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        // First, so that the other DCs stop using this one as their KDC.
        self.domain.set_running(&self.netbios, false);
        let pgid = child.id();
        // EOF on stdin: Samba SIGTERMs its process group and exits; smbd/winbindd follow their parent.
        drop(child.stdin.take());
        if !wait_child(&mut child, Duration::from_secs(5)) {
            signal_group(pgid, "TERM");
            if !wait_child(&mut child, Duration::from_secs(2)) {
                signal_group(pgid, "KILL");
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        kill_strays(&self.conf, Duration::from_secs(5));
        let deadline = Instant::now() + Duration::from_secs(5);
        while port_open(self.ip, 636) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts Samba again on the same address and data (stopping it first if it runs) and waits until it is ready.
    pub fn restart(&mut self) -> Result<(), RigError> {
        self.stop();
        self.spawn_and_wait()
    }

    /// Runs `samba-tool ARGS -H <dir>/private/sam.ldb -s <dir>/etc/smb.conf` (the local database; `samba-tool` over
    /// LDAPS does not work here) and returns its stdout. The error contains the exit status, stdout and stderr.
    pub fn samba_tool(&self, args: &[&str]) -> Result<String, RigError> {
        let sam = self.dir.path().join("private").join("sam.ldb");
        samba_tool_at(args, Some(&sam), &self.conf)
    }

    /// Runs `samba-tool ARGS -s <dir>/etc/smb.conf` without `-H`: for subcommands that take no `-H`
    /// (`ntacl sysvolreset`) or that get their own (`gpo ... -H ldap://IP -U Administrator%...`).
    pub fn samba_tool_conf(&self, args: &[&str]) -> Result<String, RigError> {
        samba_tool_at(args, None, &self.conf)
    }

    /// Creates an enabled domain user `CN=<sam>,CN=Users,<domain>` with the given password; returns its DN.
    pub fn create_user(&self, sam: &str, password: &str) -> Result<String, RigError> {
        self.samba_tool(&["user", "create", sam, password, "--use-username-as-cn"])?;
        Ok(format!("CN={sam},CN=Users,{DOMAIN_DN}"))
    }

    /// Sets the domain's minimum password age (`minPwdAge`) to `days` days.
    pub fn set_min_pwd_age_days(&self, days: u32) -> Result<(), RigError> {
        let arg = format!("--min-pwd-age={days}");
        self.samba_tool(&["domain", "passwordsettings", "set", &arg]).map(|_| ())
    }

    fn spawn_and_wait(&mut self) -> Result<(), RigError> {
        let log_path = self.dir.path().join("log").join("samba.out");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .ctx(|| format!("opening {}", log_path.display()))?;
        let log2 = log.try_clone().ctx(|| "duplicating log handle".into())?;
        let t = Instant::now();
        let mut cmd = if self.private_run_samba {
            // A mount namespace with its own tmpfs on /run/samba: smbd finds *this* instance's winbindd at the
            // compiled-in /run/samba/winbindd (see `private_run_samba_available`). unshare and sh exec, so the
            // child's pid is samba's.
            let mut c = Command::new(find_tool("unshare"));
            c.args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c", PRIVATE_RUN_SAMBA_SCRIPT])
                .arg(find_tool("samba"));
            c
        } else {
            Command::new(find_tool("samba"))
        };
        let child = cmd
            .args(["-i", "-M", self.process_model, "-s"])
            .arg(&self.conf)
            // Samba's own krb5 contexts read <dir of smb.conf>/krb5.conf; the GSSAPI ones only KRB5_CONFIG.
            .env("KRB5_CONFIG", krb5_conf_path(self.dir.path()))
            .env("RIG_HOSTS_FILE", hosts_path(self.dir.path()))
            // The only write end of this pipe stays in this process (std pipes are CLOEXEC): when the process ends,
            // however it ends, Samba reads EOF and shuts its whole tree down.
            .stdin(Stdio::piped())
            .stdout(log)
            .stderr(log2)
            .process_group(0)
            .spawn()
            .ctx(|| "spawning samba".into())?;
        self.child = Some(child);
        match self.wait_ready(&log_path) {
            Ok(()) => {
                self.timings.ready = t.elapsed();
                self.domain.set_running(&self.netbios, true);
                Ok(())
            }
            Err(e) => {
                self.stop();
                Err(e)
            }
        }
    }

    fn wait_ready(&mut self, log_path: &Path) -> Result<(), RigError> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last_err = String::from("LDAPS/SMB ports not open yet");
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(RigError(format!(
                        "samba on {} exited during start-up ({status}); log tail:\n{}",
                        self.ip,
                        log_tail(log_path, 40)
                    )));
                }
            }
            if port_open(self.ip, 636) && port_open(self.ip, 445) {
                match ldaps_bind_probe(&self.ldaps_url(), &self.ca_der, ADMIN_UPN, ADMIN_PASSWORD) {
                    Ok(()) => return Ok(()),
                    Err(e) => last_err = e,
                }
            }
            if Instant::now() >= deadline {
                return Err(RigError(format!(
                    "samba on {} not ready after {READY_TIMEOUT:?} (last error: {last_err}); log tail:\n{}",
                    self.ip,
                    log_tail(log_path, 40)
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        self.stop();
        self.domain.leave(&self.netbios);
        // Then `dir` is removed and the address lock released (field order).
    }
}
