//! The cached, provisioned template and the preparation of an instance from it (address, TLS, smb.conf).

use super::*;

// ---------------------------------------------------------------------------------------------------------------
// Template

pub(super) fn rig_root() -> Result<PathBuf, RigError> {
    let root = PathBuf::from(RIG_ROOT);
    mkdir_0755(&root)?;
    Ok(root)
}

/// Returns the directory of the provisioned template, provisioning it under an exclusive file lock if needed.
/// Remembered per process once it exists.
pub(super) fn ensure_template() -> Result<PathBuf, RigError> {
    static TEMPLATE: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);
    let mut cached = TEMPLATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(tpl) = cached.as_ref().filter(|t| t.join(COMPLETE_MARKER).exists()) {
        return Ok(tpl.clone());
    }
    let tpl = find_or_provision_template()?;
    *cached = Some(tpl.clone());
    Ok(tpl)
}

pub(super) fn find_or_provision_template() -> Result<PathBuf, RigError> {
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

pub(super) fn provision(target: &Path) -> Result<(), RigError> {
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

/// A fresh instance directory `instances/<ip>-xxxx` (removed when the value drops), with the template's copy when
/// given, and the directories Samba's smb.conf points at.
pub(super) fn instance_dir(ip: Ipv4Addr, template: Option<&Path>) -> Result<tempfile::TempDir, RigError> {
    let instances = rig_root()?.join("instances");
    mkdir_0755(&instances)?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("{ip}-"))
        .tempdir_in(&instances)
        .ctx(|| format!("creating instance directory in {}", instances.display()))?;
    // mkdtemp gives 0700; smbd opens SYSVOL files as the user's mapped uid, so the chain must be traversable.
    set_mode(dir.path(), 0o755)?;
    if let Some(template) = template {
        copy_template(template, dir.path())?;
    }
    for sub in ["cache", "run", "log", "tls"] {
        mkdir_0755(&dir.path().join(sub))?;
    }
    Ok(dir)
}

pub(super) fn copy_template(template: &Path, dest: &Path) -> Result<(), RigError> {
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
pub(super) fn reserve_ip() -> Result<(Ipv4Addr, File), RigError> {
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

pub(super) fn ports_free(ip: Ipv4Addr) -> Result<bool, RigError> {
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

pub(super) fn remove_stale_instances(ip: Ipv4Addr) {
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

pub(super) fn ca_params(cn: &str) -> Result<(rcgen::CertificateParams, rcgen::KeyPair), RigError> {
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
pub(super) fn write_tls(dir: &Path, ip: Ipv4Addr, host_name: &str, ca: &RigCa) -> Result<(PathBuf, Vec<u8>), RigError> {
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
pub(super) fn write_smb_conf(
    dir: &Path,
    ip: Ipv4Addr,
    netbios: &str,
    private_run_samba: bool,
) -> Result<PathBuf, RigError> {
    let d = dir.to_str().ok_or_else(|| RigError::new("non-UTF-8 instance path"))?;
    // With a private /run/samba the default winbindd socket directory is both private and where smbd looks.
    let winbindd_socket =
        if private_run_samba { String::new() } else { format!("\twinbindd socket directory = {d}/run/winbindd\n") };
    let conf = format!(
        "# Generated by tests/support/samba/\n\
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
