//! Test rig: a real Samba AD DC (Samba 4.17, `samba -i -M single`) on its own loopback address.
//!
//! Used by the integration tests (`mod support;` → `support::samba`) and by `examples/lab.rs`
//! (`#[path = "../tests/support/samba.rs"] mod samba;`), so this file must stay self-contained: plain std, `rcgen`,
//! `tempfile`, `ldap3` and `rustls`; no `super::` references, no panics in library functions.
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
        let instances = rig_root()?.join("instances");
        mkdir_0755(&instances)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{ip}-"))
            .tempdir_in(&instances)
            .ctx(|| format!("creating instance directory in {}", instances.display()))?;
        // mkdtemp gives 0700; smbd opens SYSVOL files as the user's mapped uid, so the chain must be traversable.
        set_mode(dir.path(), 0o755)?;
        copy_template(&template, dir.path())?;
        for sub in ["cache", "run", "log", "tls"] {
            mkdir_0755(&dir.path().join(sub))?;
        }
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

    /// Joins another DC (`dc2`, then `dc3`, ...) to the domain of `primary` (any running DC of it) and starts it on a
    /// new loopback address: `samba-tool domain join ... DC --server=<primary IP>` (about 3-11 s), its own instance
    /// directory, smb.conf and private mount namespace, and a server certificate with SAN `dcN.corp.example.test` +
    /// its IP signed by the primary's CA (so [`Self::ca_pem_path`] of either DC trusts both). Waits until its LDAPS
    /// answers a simple bind. The new DC appears to all DCs as a `server` object under `CN=Sites` with its
    /// `dNSHostName` and an `nTDSDSA` child, and replicates with them (see the module docs).
    ///
    /// Needs the private mount namespace ([`Self::smb_auth_available`]): replication depends on the per-DC hosts file.
    /// Dropping a joined DC stops it but leaves its objects in the directory (no demotion); the other DCs then fail to
    /// replicate from it, quickly (its names no longer resolve).
    pub fn join(primary: &SambaDc) -> Result<SambaDc, RigError> {
        if !primary.private_run_samba {
            return Err(RigError::new(
                "joining a second DC needs a private mount namespace per DC (root with CAP_SYS_ADMIN and unshare): \
                 replication resolves the DCs through a bind-mounted /etc/hosts",
            ));
        }
        let t1 = Instant::now();
        // Joins of one domain run one at a time (they add objects to the same directory and rewrite the hosts files).
        let mut st = primary.domain.lock();
        let index = st.next_index;
        st.next_index += 1;
        let netbios = format!("DC{index}");
        let host_name = format!("dc{index}.{DNS_DOMAIN}");

        let (ip, ip_lock) = reserve_ip()?;
        let instances = rig_root()?.join("instances");
        mkdir_0755(&instances)?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("{ip}-"))
            .tempdir_in(&instances)
            .ctx(|| format!("creating instance directory in {}", instances.display()))?;
        set_mode(dir.path(), 0o755)?;
        let d = dir.path().to_str().ok_or_else(|| RigError::new("non-UTF-8 instance path"))?;
        for sub in ["cache", "run", "log", "tls"] {
            mkdir_0755(&dir.path().join(sub))?;
        }

        if !st.primary_spns {
            // The template's DC1 lacks its replication SPNs (they come from samba_spnupdate, which the rig disables):
            // without them no KDC issues tickets for DRS binds to DC1 ("Server not found in Kerberos database").
            // Added before the join, so that the new DC (its own KDC) has them too.
            let first = &st.members[0];
            let first_dir = first.hosts_file.parent().and_then(Path::parent).map(Path::to_path_buf);
            let first_dir = first_dir.ok_or_else(|| RigError::new("primary instance directory"))?;
            let guids = ntds_guids(&first_dir.join("private").join("sam.ldb"))?;
            let first_guid = guids
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&first.netbios))
                .map(|(_, g)| g.clone())
                .ok_or_else(|| RigError(format!("no nTDSDSA object of {} (found {guids:?})", first.netbios)))?;
            add_drs_spns(&first_dir, &first.netbios, &first.host_name, &first_guid)?;
            st.primary_spns = true;
        }

        let t_join = Instant::now();
        let join_cmd = || {
            let mut cmd = samba_tool_as_admin(&["domain", "join", DNS_DOMAIN, "DC"]);
            cmd.arg(format!("--targetdir={d}"))
                .arg(format!("--server={}", primary.ip))
                .arg("--dns-backend=NONE")
                .arg(format!("--option=interfaces={ip}/8"))
                .arg("--option=bind interfaces only=yes")
                .arg(format!("--option=netbios name={netbios}"));
            cmd
        };
        let what = format!("samba-tool domain join as {netbios} via {}", primary.ip);
        let join_log = dir.path().join("log").join("join.out");
        if let Err(first) = run_bounded(&mut join_cmd(), JOIN_TIMEOUT, &join_log, &what) {
            // Once more on a loaded machine (the join removes what a failed attempt left in the directory).
            eprintln!("samba rig: {first}\nsamba rig: retrying the join once");
            for sub in ["etc", "private", "state", "bind-dns"] {
                let _ = fs::remove_dir_all(dir.path().join(sub));
            }
            std::thread::sleep(Duration::from_secs(2));
            run_bounded(&mut join_cmd(), JOIN_TIMEOUT, &join_log, &what)
                .map_err(|second| RigError(format!("{second}\n(first attempt: {first})")))?;
        }
        let join_time = t_join.elapsed();

        let (ca_pem, ca_der) = write_tls(&dir.path().join("tls"), ip, &host_name, &primary.ca)?;
        let conf = write_smb_conf(dir.path(), ip, &netbios, true)?;
        write_krb5_conf(dir.path(), &netbios)?;

        // NTDS GUIDs of all DCs (the new one has the whole configuration partition now).
        let guids = ntds_guids(&dir.path().join("private").join("sam.ldb"))?;
        for m in st.members.iter_mut() {
            if m.ntds_guid.is_none() {
                m.ntds_guid = guids.iter().find(|(n, _)| n.eq_ignore_ascii_case(&m.netbios)).map(|(_, g)| g.clone());
            }
        }
        let guid = guids
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&netbios))
            .map(|(_, g)| g.clone())
            .ok_or_else(|| RigError(format!("no nTDSDSA object of {netbios} after the join (found {guids:?})")))?;
        st.members.push(Member {
            netbios: netbios.clone(),
            host_name: host_name.clone(),
            ip,
            ntds_guid: Some(guid),
            hosts_file: hosts_path(dir.path()),
            running: false,
            separate_kdc: true,
        });
        st.write_hosts()?;
        drop(st);
        let prepare_time = t1.elapsed().saturating_sub(join_time);

        let mut dc = SambaDc {
            ip,
            netbios,
            host_name,
            child: None,
            conf,
            ca_pem,
            ca_der,
            private_run_samba: true,
            process_model: "standard",
            timings: StartTimings { join: join_time, prepare: prepare_time, ..StartTimings::default() },
            ca: primary.ca.clone(),
            domain: primary.domain.clone(),
            dir,
            _ip_lock: ip_lock,
        };
        dc.spawn_and_wait()?;

        // The new DC pulls from the DC it joined through (the join set that up); for the way back, the existing DC
        // needs a connection object and repsFrom, which its KCC would only create at its next run (up to 5 min):
        // run it now, so that changes on the new DC reach it on their own too.
        let t_kcc = Instant::now();
        let mut cmd = samba_tool_as_admin(&["drs", "kcc", &primary.ip.to_string()]);
        let log = dc.dir.path().join("log").join("kcc.out");
        run_bounded(&mut cmd, REPLICATE_TIMEOUT, &log, &format!("samba-tool drs kcc {}", primary.ip))?;
        dc.timings.prepare += t_kcc.elapsed();
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

    /// Forces inbound replication of the domain partition from `source` into this DC: `samba-tool drs replicate
    /// <this IP> <source> DC=corp,...` (DsReplicaSync, which returns once this DC has pulled the changes). Both must run
    /// and belong to the same domain; bounded (120 s). Takes about a second.
    pub fn replicate_from(&self, source: &SambaDc) -> Result<(), RigError> {
        self.replicate_nc_from(source, DOMAIN_DN)
    }

    /// Like [`Self::replicate_from`] for another naming context (e.g. `CN=Configuration,DC=corp,DC=example,DC=test`).
    pub fn replicate_nc_from(&self, source: &SambaDc, nc: &str) -> Result<(), RigError> {
        if !Arc::ptr_eq(&self.domain, &source.domain) {
            return Err(RigError(format!(
                "{} ({}) and {} ({}) are not DCs of the same rig domain",
                self.host_name, self.ip, source.host_name, source.ip
            )));
        }
        let mut cmd = samba_tool_as_admin(&["drs", "replicate", &self.ip.to_string(), &source.netbios, nc]);
        let log = self.dir.path().join("log").join("replicate.out");
        let what = format!("samba-tool drs replicate {} <- {} {nc}", self.netbios, source.netbios);
        run_bounded(&mut cmd, REPLICATE_TIMEOUT, &log, &what).map(|_| ())
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

// ---------------------------------------------------------------------------------------------------------------
// Domain: the DCs of one domain copy (a primary and the DCs joined to it)

/// The CA of a rig domain (generated by [`SambaDc::start`], shared with joined DCs).
struct RigCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    pem: String,
    der: Vec<u8>,
}

impl RigCa {
    fn generate(cn: &str) -> Result<RigCa, RigError> {
        let (params, key) = ca_params(cn)?;
        let cert = params.self_signed(&key).ctx(|| "signing CA".into())?;
        Ok(RigCa { pem: cert.pem(), der: cert.der().to_vec(), issuer: rcgen::Issuer::new(params, key) })
    }
}

struct Domain {
    state: Mutex<DomainState>,
}

struct DomainState {
    /// N of the next joined DC's name (`DCN`); never reused (a dropped DC's objects stay in the directory).
    next_index: u32,
    /// Whether the replication SPNs of the first DC were added.
    primary_spns: bool,
    members: Vec<Member>,
}

struct Member {
    netbios: String,
    host_name: String,
    ip: Ipv4Addr,
    /// objectGUID of its `CN=NTDS Settings` (known after the first join).
    ntds_guid: Option<String>,
    /// `<instance>/etc/hosts`, bind-mounted over `/etc/hosts` in its mount namespace.
    hosts_file: PathBuf,
    running: bool,
    /// Runs with `-M standard`: its KDC is a process of its own, so it can be its own KDC and never blocks others.
    separate_kdc: bool,
}

impl Domain {
    fn lock(&self) -> MutexGuard<'_, DomainState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_running(&self, netbios: &str, running: bool) {
        let mut st = self.lock();
        if let Some(m) = st.members.iter_mut().find(|m| m.netbios == netbios) {
            if m.running != running {
                m.running = running;
                let _ = st.write_hosts();
            }
        }
    }

    fn leave(&self, netbios: &str) {
        let mut st = self.lock();
        st.members.retain(|m| m.netbios != netbios);
        let _ = st.write_hosts();
    }
}

impl DomainState {
    /// The KDC a DC uses (see the module docs): a joined DC (`-M standard`) its own; the `-M single` DC never its
    /// own but a running joined DC, else any other running DC, else any other DC, else 127.0.0.1 (nothing listens
    /// there: refused at once).
    fn kdc_for(&self, netbios: &str) -> Ipv4Addr {
        if let Some(me) = self.members.iter().find(|m| m.netbios == netbios && m.separate_kdc) {
            return me.ip;
        }
        let others = || self.members.iter().filter(|m| m.netbios != netbios);
        others()
            .find(|m| m.running && m.separate_kdc)
            .or_else(|| others().find(|m| m.running))
            .or_else(|| others().next())
            .map_or(Ipv4Addr::LOCALHOST, |m| m.ip)
    }

    fn hosts_content(&self) -> String {
        let mut out = String::from(
            "# Generated by tests/support/samba.rs: name resolution inside the mount namespaces of this rig domain\n\
             127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        );
        for m in &self.members {
            let short = m.netbios.to_ascii_lowercase();
            out.push_str(&format!("{}\t{} {short}", m.ip, m.host_name));
            if let Some(guid) = &m.ntds_guid {
                out.push_str(&format!(" {guid}._msdcs.{DNS_DOMAIN}"));
            }
            out.push('\n');
        }
        for m in &self.members {
            out.push_str(&format!("{}\t{}\n", self.kdc_for(&m.netbios), kdc_alias(&m.netbios)));
        }
        out
    }

    /// Rewrites every member's hosts file in place (a bind mount pins the inode: no rename).
    fn write_hosts(&self) -> Result<(), RigError> {
        let content = self.hosts_content();
        for m in &self.members {
            write_file(&m.hosts_file, content.as_bytes(), 0o644)?;
        }
        Ok(())
    }
}

fn hosts_path(dir: &Path) -> PathBuf {
    dir.join("etc").join("hosts")
}

fn krb5_conf_path(dir: &Path) -> PathBuf {
    dir.join("etc").join("krb5.conf")
}

/// Host name under which a DC finds its KDC (see [`DomainState::kdc_for`]).
fn kdc_alias(netbios: &str) -> String {
    format!("kdc-for-{}.rig.invalid", netbios.to_ascii_lowercase())
}

/// `<dir>/etc/krb5.conf`: the realm's KDC is [`kdc_alias`] (resolved through the DC's hosts file), for both spellings
/// of the realm (drepl asks for `...@corp.example.test`), no DNS lookups.
fn write_krb5_conf(dir: &Path, netbios: &str) -> Result<(), RigError> {
    let kdc = kdc_alias(netbios);
    let lower = REALM.to_ascii_lowercase();
    let conf = format!(
        "# Generated by tests/support/samba.rs\n\
[libdefaults]\n\
\tdefault_realm = {REALM}\n\
\tdns_lookup_realm = false\n\
\tdns_lookup_kdc = false\n\
\n\
[realms]\n\
\t{REALM} = {{\n\t\tkdc = {kdc}\n\t}}\n\
\t{lower} = {{\n\t\tkdc = {kdc}\n\t}}\n\
\n\
[domain_realm]\n\
\t.{DNS_DOMAIN} = {REALM}\n\
\t{DNS_DOMAIN} = {REALM}\n"
    );
    write_file(&krb5_conf_path(dir), conf.as_bytes(), 0o644)
}

/// (NetBIOS name of the server, objectGUID of its `NTDS Settings`) for every DC in the configuration partition of
/// the database at `sam` (read with `ldbsearch`, which loads Samba's modules and prints GUIDs as text).
fn ntds_guids(sam: &Path) -> Result<Vec<(String, String)>, RigError> {
    let out = run(
        Command::new(find_tool("ldbsearch"))
            .arg("-H")
            .arg(sam)
            .arg("-b")
            .arg(format!("CN=Sites,{CONFIG_DN}"))
            .arg("(objectClass=nTDSDSA)")
            .arg("objectGUID"),
        "ldbsearch for nTDSDSA objects",
    )?;
    // Unfold LDIF continuation lines first.
    let mut lines: Vec<String> = Vec::new();
    for line in out.lines() {
        match line.strip_prefix(' ') {
            Some(rest) if !lines.is_empty() => lines.last_mut().unwrap().push_str(rest),
            _ => lines.push(line.to_string()),
        }
    }
    let mut found = Vec::new();
    let mut server = None;
    for line in &lines {
        if let Some(dn) = line.strip_prefix("dn: ") {
            // CN=NTDS Settings,CN=DC2,CN=Servers,...
            server = dn.split(',').nth(1).and_then(|rdn| rdn.strip_prefix("CN=")).map(str::to_string);
        } else if let Some(guid) = line.strip_prefix("objectGUID: ") {
            if let Some(server) = server.take() {
                found.push((server, guid.trim().to_string()));
            }
        }
    }
    Ok(found)
}

/// Adds the SPNs that other DCs use for DRS binds to the computer object of `netbios` in the database of the
/// instance `dir` (directly in its sam.ldb, like `samba-tool -H`; the change replicates like any other).
fn add_drs_spns(dir: &Path, netbios: &str, host_name: &str, guid: &str) -> Result<(), RigError> {
    let ldif = format!(
        "dn: CN={netbios},OU=Domain Controllers,{DOMAIN_DN}\n\
changetype: modify\n\
add: servicePrincipalName\n\
servicePrincipalName: {DRS_SPN_CLASS}/{guid}/{DNS_DOMAIN}\n\
servicePrincipalName: GC/{host_name}/{DNS_DOMAIN}\n\
servicePrincipalName: ldap/{guid}._msdcs.{DNS_DOMAIN}\n"
    );
    let path = dir.join("log").join("drs-spns.ldif");
    write_file(&path, ldif.as_bytes(), 0o644)?;
    let sam = dir.join("private").join("sam.ldb");
    match run(Command::new(find_tool("ldbmodify")).arg("-H").arg(&sam).arg(&path), "ldbmodify (DRS SPNs)") {
        Ok(_) => Ok(()),
        // Already there (e.g. added by hand): fine.
        Err(e) if e.0.contains("exists") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes a second, unrelated CA certificate to `<dir>/foreign-ca.pem` (to prove that a wrong CA is rejected).
pub fn foreign_ca_pem(dir: &Path) -> Result<PathBuf, RigError> {
    let (params, key) = ca_params("writeback-exporter foreign test CA")?;
    let cert = params.self_signed(&key).ctx(|| "signing foreign CA".into())?;
    let path = dir.join("foreign-ca.pem");
    write_file(&path, cert.pem().as_bytes(), 0o644)?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------------------------------
// Template

fn rig_root() -> Result<PathBuf, RigError> {
    let root = PathBuf::from(RIG_ROOT);
    mkdir_0755(&root)?;
    Ok(root)
}

/// Returns the directory of the provisioned template, provisioning it under an exclusive file lock if needed.
/// Remembered per process once it exists.
fn ensure_template() -> Result<PathBuf, RigError> {
    static TEMPLATE: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);
    let mut cached = TEMPLATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(tpl) = cached.as_ref().filter(|t| t.join(COMPLETE_MARKER).exists()) {
        return Ok(tpl.clone());
    }
    let tpl = find_or_provision_template()?;
    *cached = Some(tpl.clone());
    Ok(tpl)
}

fn find_or_provision_template() -> Result<PathBuf, RigError> {
    let root = rig_root()?;
    let version = run(Command::new(find_tool("samba")).arg("--version"), "samba --version")?;
    let mut key = Fnv::new();
    for part in [TEMPLATE_FORMAT, version.trim(), REALM, ADMIN_PASSWORD, MONITOR_USER, MONITOR_PASSWORD] {
        key.write(part.as_bytes());
        key.write(&[0]);
    }
    let tpl = root.join(format!("template-{:016x}", key.0));
    if tpl.join(COMPLETE_MARKER).exists() {
        return Ok(tpl);
    }
    let lock_path = root.join("template.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .ctx(|| format!("opening {}", lock_path.display()))?;
    lock.lock().ctx(|| format!("locking {}", lock_path.display()))?;
    if tpl.join(COMPLETE_MARKER).exists() {
        return Ok(tpl); // another process provisioned it while we waited
    }
    let partial = root.join(format!("template-{:016x}.partial", key.0));
    for stale in [&partial, &tpl] {
        if stale.exists() {
            fs::remove_dir_all(stale).ctx(|| format!("removing {}", stale.display()))?;
        }
    }
    provision(&partial)?;
    write_file(&partial.join(COMPLETE_MARKER), version.as_bytes(), 0o644)?;
    fs::rename(&partial, &tpl).ctx(|| format!("renaming {} to {}", partial.display(), tpl.display()))?;
    Ok(tpl)
}

fn provision(target: &Path) -> Result<(), RigError> {
    let target_s = target.to_str().ok_or_else(|| RigError::new("non-UTF-8 rig path"))?;
    let adminpass = format!("--adminpass={ADMIN_PASSWORD}");
    let targetdir = format!("--targetdir={target_s}");
    run(
        Command::new(find_tool("samba-tool")).args([
            "domain",
            "provision",
            &format!("--realm={REALM}"),
            &format!("--domain={NETBIOS_DOMAIN}"),
            "--server-role=dc",
            "--dns-backend=NONE",
            &adminpass,
            &targetdir,
            "--host-name=dc1",
            "--option=interfaces=127.0.0.1/8",
            "--option=bind interfaces only=yes",
        ]),
        "samba-tool domain provision",
    )?;
    let sam = target.join("private").join("sam.ldb");
    let conf = target.join("etc").join("smb.conf");
    samba_tool_at(&["user", "create", MONITOR_USER, MONITOR_PASSWORD, "--use-username-as-cn"], Some(&sam), &conf)?;
    // The template may be weeks old: default maxPwdAge (42 days) must not expire these passwords.
    for user in [MONITOR_USER, ADMIN_USER] {
        samba_tool_at(&["user", "setexpiry", user, "--noexpiry"], Some(&sam), &conf)?;
    }
    Ok(())
}

fn copy_template(template: &Path, dest: &Path) -> Result<(), RigError> {
    // `cp -a` keeps the xattrs (security.NTACL) and POSIX ACLs of SYSVOL and the sparse tdb files.
    let mut src = template.as_os_str().to_owned();
    src.push("/.");
    run(Command::new("cp").arg("-a").arg("--reflink=auto").arg(&src).arg(dest), "copying the Samba template")?;
    let _ = fs::remove_file(dest.join(COMPLETE_MARKER));
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Instance preparation

/// Reserves `127.0.0.N`: an exclusive lock on `<root>/ips/127.0.0.N.lock` plus free Samba ports. Removes instance
/// directories of that address left behind by processes that died (they held the lock for their whole life).
fn reserve_ip() -> Result<(Ipv4Addr, File), RigError> {
    let ips = rig_root()?.join("ips");
    mkdir_0755(&ips)?;
    for n in FIRST_OCTET..=LAST_OCTET {
        let ip = Ipv4Addr::new(127, 0, 0, n);
        let path = ips.join(format!("{ip}.lock"));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .ctx(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => continue,
            Err(fs::TryLockError::Error(e)) => return Err(RigError(format!("locking {}: {e}", path.display()))),
        }
        if !ports_free(ip)? {
            continue; // lock released on drop; something else uses this address
        }
        remove_stale_instances(ip);
        return Ok((ip, file));
    }
    Err(RigError::new(format!("no free loopback address 127.0.0.{FIRST_OCTET}-{LAST_OCTET} for a Samba DC")))
}

fn ports_free(ip: Ipv4Addr) -> Result<bool, RigError> {
    for port in SAMBA_TCP_PORTS {
        match TcpListener::bind((ip, port)) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(RigError(format!("cannot bind {ip}:{port} ({e}): the Samba rig must run as root")))
            }
            Err(_) => return Ok(false),
        }
    }
    Ok(true)
}

fn remove_stale_instances(ip: Ipv4Addr) {
    let Ok(entries) = fs::read_dir(Path::new(RIG_ROOT).join("instances")) else { return };
    let prefix = format!("{ip}-");
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let conf = entry.path().join("etc").join("smb.conf");
            kill_strays(&conf, Duration::from_secs(2));
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn ca_params(cn: &str) -> Result<(rcgen::CertificateParams, rcgen::KeyPair), RigError> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let key = KeyPair::generate().ctx(|| "generating CA key".into())?;
    let mut params = CertificateParams::new(Vec::<String>::new()).ctx(|| "CA parameters".into())?;
    params.distinguished_name.push(DnType::OrganizationName, "writeback-exporter tests");
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2099, 12, 31);
    Ok((params, key))
}

/// Writes `ca.pem` (the domain's CA), `cert.pem` (SAN `host_name` + `ip`, signed by that CA), `key.pem` (0600: Samba
/// refuses readable keys). ECDSA P-256 (ring cannot generate RSA keys); GnuTLS and rustls both accept it. Returns the
/// CA path and DER.
fn write_tls(dir: &Path, ip: Ipv4Addr, host_name: &str, ca: &RigCa) -> Result<(PathBuf, Vec<u8>), RigError> {
    use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};
    let key = KeyPair::generate().ctx(|| "generating server key".into())?;
    let mut params =
        CertificateParams::new(vec![host_name.to_string(), ip.to_string()]).ctx(|| "server parameters".into())?;
    params.distinguished_name.push(DnType::CommonName, host_name);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyAgreement];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    params.not_after = rcgen::date_time_ymd(2099, 12, 31);
    let cert = params.signed_by(&key, &ca.issuer).ctx(|| "signing server certificate".into())?;

    let ca_path = dir.join("ca.pem");
    write_file(&ca_path, ca.pem.as_bytes(), 0o644)?;
    write_file(&dir.join("cert.pem"), cert.pem().as_bytes(), 0o644)?;
    write_file(&dir.join("key.pem"), key.serialize_pem().as_bytes(), 0o600)?;
    Ok((ca_path, ca.der.clone()))
}

/// Writes `<dir>/etc/smb.conf` from scratch: every path inside the instance directory (the template's smb.conf
/// points at the template), own pid/lock/socket directories so instances never share `/run/samba` (the pid file
/// there makes a second `samba` refuse to start).
fn write_smb_conf(dir: &Path, ip: Ipv4Addr, netbios: &str, private_run_samba: bool) -> Result<PathBuf, RigError> {
    let d = dir.to_str().ok_or_else(|| RigError::new("non-UTF-8 instance path"))?;
    // With a private /run/samba the default winbindd socket directory is both private and where smbd looks.
    let winbindd_socket =
        if private_run_samba { String::new() } else { format!("\twinbindd socket directory = {d}/run/winbindd\n") };
    let conf = format!(
        "# Generated by tests/support/samba.rs\n\
[global]\n\
\tnetbios name = {netbios}\n\
\trealm = {REALM}\n\
\tworkgroup = {NETBIOS_DOMAIN}\n\
\tserver role = active directory domain controller\n\
\tinterfaces = {ip}/8\n\
\tbind interfaces only = yes\n\
\tprivate dir = {d}/private\n\
\tbinddns dir = {d}/bind-dns\n\
\tlock directory = {d}\n\
\tstate directory = {d}/state\n\
\tcache directory = {d}/cache\n\
\tpid directory = {d}/run\n\
\tncalrpc dir = {d}/run/ncalrpc\n\
{winbindd_socket}\
\tntp signd socket directory = {d}/run/ntp_signd\n\
\tlog file = {d}/log/log.%m\n\
\tlogging = file\n\
\tmax log size = 10000\n\
\t# No DNS (dns-backend NONE), no NetBIOS/WINS, no periodic samba_dnsupdate; keeps ldap, kdc, smb (s3fs),\n\
\t# rpc, winbindd and drepl/kcc (for a second DC).\n\
\tserver services = -dns -nbt -wrepl -dnsupdate -ntp_signd\n\
\ttls enabled = yes\n\
\ttls certfile = {d}/tls/cert.pem\n\
\ttls keyfile = {d}/tls/key.pem\n\
\ttls cafile = {d}/tls/ca.pem\n\
\n\
[sysvol]\n\
\tpath = {d}/state/sysvol\n\
\tread only = No\n\
\n\
[netlogon]\n\
\tpath = {d}/state/sysvol/{DNS_DOMAIN}/scripts\n\
\tread only = No\n"
    );
    let path = dir.join("etc").join("smb.conf");
    write_file(&path, conf.as_bytes(), 0o644)?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------------------------------
// Processes

/// Run by `/bin/sh -c` inside `unshare --mount`: a private tmpfs on /run/samba, the instance's hosts file (if
/// `RIG_HOSTS_FILE` is set) over /etc/hosts, then exec samba ("$0" "$@").
const PRIVATE_RUN_SAMBA_SCRIPT: &str =
    "mount -t tmpfs -o mode=0755,size=4m writeback-exporter-samba-run /run/samba && \
     { [ -z \"$RIG_HOSTS_FILE\" ] || mount --bind \"$RIG_HOSTS_FILE\" /etc/hosts; } && exec \"$0\" \"$@\"";

/// Whether DCs can get a private `/run/samba` (mount namespace + tmpfs; needs root with CAP_SYS_ADMIN and
/// `unshare` from util-linux). Probed once per process.
fn private_run_samba_available() -> bool {
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

fn find_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(extra)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn run(cmd: &mut Command, what: &str) -> Result<String, RigError> {
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
fn run_bounded(cmd: &mut Command, timeout: Duration, log: &Path, what: &str) -> Result<String, RigError> {
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
fn samba_tool_as_admin(args: &[&str]) -> Command {
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

fn samba_tool_at(args: &[&str], sam: Option<&Path>, conf: &Path) -> Result<String, RigError> {
    let mut cmd = Command::new(find_tool("samba-tool"));
    cmd.args(args);
    if let Some(sam) = sam {
        cmd.arg("-H").arg(sam);
    }
    cmd.arg("-s").arg(conf);
    run(&mut cmd, &format!("samba-tool {}", args.join(" ")))
}

fn wait_child(child: &mut Child, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if Instant::now() >= deadline => return false,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn signal(target: &str, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(target)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn signal_group(pgid: u32, sig: &str) {
    signal(&format!("-{pgid}"), sig);
}

/// PIDs of live processes whose command line mentions `conf` (smbd and winbindd get `--configfile=<conf>` and run
/// in process groups of their own).
fn pids_using(conf: &Path) -> Vec<u32> {
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

fn kill_strays(conf: &Path, timeout: Duration) {
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

fn port_open(ip: Ipv4Addr, port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from((ip, port)), Duration::from_millis(500)).is_ok()
}

/// Simple bind over LDAPS, verifying the server certificate against `ca_der`. Runs a current-thread Tokio runtime
/// on a thread of its own, so it works whether or not the caller is inside a runtime.
fn ldaps_bind_probe(url: &str, ca_der: &[u8], user: &str, password: &str) -> Result<(), String> {
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

fn mkdir_0755(path: &Path) -> Result<(), RigError> {
    fs::create_dir_all(path).ctx(|| format!("creating {}", path.display()))?;
    set_mode(path, 0o755)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), RigError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).ctx(|| format!("chmod {mode:o} {}", path.display()))
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<(), RigError> {
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

fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// FNV-1a 64: a hash that is stable across Rust versions (for the template directory name).
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
