//! Proves the Samba AD DC test rig (`tests/support/samba.rs`): LDAPS with the rig's CA, the monitoring account,
//! rootDSE, `minPwdAge` and its change, stop/restart, two DCs at once, and no Samba left behind when the test
//! process is killed. Needs root and Samba (`scripts/install-deps.sh`).

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use rustls::pki_types::{pem::PemObject, CertificateDer};
use support::samba::{self, SambaDc};

const LDAP_SERVER_SD_FLAGS_OID: &str = "1.2.840.113556.1.4.801";
const LDAP_PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

fn start_dc() -> SambaDc {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("starting Samba DC: {e}"));
    eprintln!("samba DC on {}: {:?}", dc.ip(), dc.timings());
    dc
}

fn tls_config(ca_pem: &Path) -> rustls::ClientConfig {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem).expect("CA PEM") {
        roots.add(cert.expect("CA certificate")).expect("adding CA");
    }
    rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth()
}

async fn connect_with(url: &str, settings: LdapConnSettings) -> ldap3::result::Result<Ldap> {
    let (conn, ldap) = LdapConnAsync::with_settings(settings.set_conn_timeout(Duration::from_secs(5)), url).await?;
    ldap3::drive!(conn);
    Ok(ldap)
}

async fn connect(url: &str, ca_pem: &Path) -> ldap3::result::Result<Ldap> {
    connect_with(url, LdapConnSettings::new().set_config(Arc::new(tls_config(ca_pem)))).await
}

async fn bind(dc: &SambaDc, user: &str, password: &str) -> Ldap {
    let mut conn = connect(&dc.ldaps_url(), dc.ca_pem_path()).await.expect("LDAPS connect");
    conn.simple_bind(user, password).await.expect("bind").success().expect("bind result");
    conn
}

async fn read_attr(conn: &mut Ldap, base: &str, attr: &str) -> Vec<String> {
    let (entries, _) = conn.search(base, Scope::Base, "(objectClass=*)", vec![attr]).await.unwrap().success().unwrap();
    let entry = SearchEntry::construct(entries.into_iter().next().expect("one entry"));
    entry.attrs.get(attr).cloned().unwrap_or_default()
}

#[tokio::test]
async fn monitor_account_reads_rootdse_and_min_pwd_age() {
    let dc = start_dc();
    let mut conn = bind(&dc, samba::MONITOR_UPN, samba::MONITOR_PASSWORD).await;

    assert_eq!(read_attr(&mut conn, "", "defaultNamingContext").await, vec![samba::DOMAIN_DN.to_string()]);
    let controls = read_attr(&mut conn, "", "supportedControl").await;
    assert!(controls.iter().any(|c| c == LDAP_PAGED_RESULTS_OID), "{controls:?}");
    assert!(controls.iter().any(|c| c == LDAP_SERVER_SD_FLAGS_OID), "{controls:?}");

    // A fresh domain has a minimum password age of one day (in 100 ns units, negative).
    assert_eq!(read_attr(&mut conn, dc.domain_dn(), "minPwdAge").await, vec!["-864000000000".to_string()]);
    dc.set_min_pwd_age_days(0).unwrap();
    assert_eq!(read_attr(&mut conn, dc.domain_dn(), "minPwdAge").await, vec!["0".to_string()]);
    conn.unbind().await.unwrap();

    // Users created through the rig can bind by DN.
    let dn = dc.create_user("rig-user1", "Rig-User1-Passw0rd!").unwrap();
    assert_eq!(dn, format!("CN=rig-user1,CN=Users,{}", samba::DOMAIN_DN));
    bind(&dc, &dn, "Rig-User1-Passw0rd!").await.unbind().await.unwrap();

    // A wrong password is refused (invalidCredentials).
    let mut conn = connect(&dc.ldaps_url(), dc.ca_pem_path()).await.unwrap();
    assert_eq!(conn.simple_bind(samba::MONITOR_UPN, "wrong").await.unwrap().rc, 49);

    // Another CA does not verify the server certificate.
    let tmp = tempfile::tempdir().unwrap();
    let foreign = samba::foreign_ca_pem(tmp.path()).unwrap();
    assert!(connect(&dc.ldaps_url(), &foreign).await.is_err(), "a foreign CA must be rejected");

    // Plain LDAP refuses simple binds (strongerAuthRequired).
    let mut plain = connect_with(&dc.ldap_url(), LdapConnSettings::new()).await.unwrap();
    assert_eq!(plain.simple_bind(samba::MONITOR_UPN, samba::MONITOR_PASSWORD).await.unwrap().rc, 8);

    // The monitoring account reads SYSVOL over SMB (the Default Domain Policy's GPT.INI).
    if dc.smb_auth_available() {
        let gpt = read_sysvol_file(
            &dc,
            samba::MONITOR_USER,
            samba::MONITOR_PASSWORD,
            r"corp.example.test\Policies\{31B2F340-016D-11D2-945F-00C04FB984F9}\GPT.INI",
        );
        assert!(gpt.contains("[General]"), "{gpt:?}");
    } else {
        eprintln!("skipping the SMB check: no private /run/samba for this DC (no mount namespace)");
    }
}

/// Reads a file from the DC's SYSVOL share over SMB as a domain user, with the Samba Python bindings of the system
/// interpreter (python3-samba).
fn read_sysvol_file(dc: &SambaDc, user: &str, password: &str, path: &str) -> String {
    const SCRIPT: &str = r#"
import sys
from samba import credentials
from samba.samba3 import libsmb_samba_internal as libsmb
from samba.samba3 import param as s3param
host, user, password, domain, path = sys.argv[1:]
lp = s3param.get_context()
lp.load("/dev/null")
creds = credentials.Credentials()
creds.guess(lp)
creds.set_username(user)
creds.set_password(password)
creds.set_domain(domain)
creds.set_kerberos_state(credentials.DONT_USE_KERBEROS)
conn = libsmb.Conn(host, "sysvol", lp, creds)
sys.stdout.write(conn.loadfile(path).decode("utf-8", "replace"))
"#;
    let out = Command::new("/usr/bin/python3")
        .args(["-c", SCRIPT, &dc.ip().to_string(), user, password, samba::NETBIOS_DOMAIN, path])
        .output()
        .expect("running /usr/bin/python3");
    assert!(out.status.success(), "SMB read failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn stop_refuses_and_restart_serves_again() {
    let mut dc = start_dc();
    let ip = dc.ip();
    let t = Instant::now();
    dc.stop();
    eprintln!("stop on {ip} took {:?}", t.elapsed());
    assert!(!dc.is_running());
    assert!(connect(&dc.ldaps_url(), dc.ca_pem_path()).await.is_err(), "LDAPS must refuse after stop");

    let t = Instant::now();
    dc.restart().unwrap();
    eprintln!("restart on {ip} took {:?} ({:?})", t.elapsed(), dc.timings());
    assert_eq!(dc.ip(), ip);
    let mut conn = bind(&dc, samba::MONITOR_UPN, samba::MONITOR_PASSWORD).await;
    assert_eq!(read_attr(&mut conn, "", "defaultNamingContext").await, vec![samba::DOMAIN_DN.to_string()]);
}

#[tokio::test]
async fn two_dcs_run_side_by_side() {
    let t = Instant::now();
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(start_dc);
        let b = s.spawn(start_dc);
        (a.join().unwrap(), b.join().unwrap())
    });
    eprintln!("two DCs started concurrently in {:?}", t.elapsed());
    assert_ne!(a.ip(), b.ip());
    assert_ne!(a.dir(), b.dir());

    // Each has its own data: a change on one is invisible on the other.
    a.create_user("only-on-a", "Only-On-A-Passw0rd!").unwrap();
    for (dc, expected) in [(&a, 1), (&b, 0)] {
        let mut conn = bind(dc, samba::MONITOR_UPN, samba::MONITOR_PASSWORD).await;
        let (entries, _) = conn
            .search(dc.domain_dn(), Scope::Subtree, "(sAMAccountName=only-on-a)", vec!["dn"])
            .await
            .unwrap()
            .success()
            .unwrap();
        assert_eq!(entries.len(), expected, "on {}", dc.ip());
    }

    // SMB works on both at once (each smbd talks to its own winbindd), also for a user that exists on one only.
    if a.smb_auth_available() {
        let gpt = r"corp.example.test\Policies\{31B2F340-016D-11D2-945F-00C04FB984F9}\GPT.INI";
        assert!(read_sysvol_file(&a, "only-on-a", "Only-On-A-Passw0rd!", gpt).contains("[General]"));
        assert!(read_sysvol_file(&b, samba::MONITOR_USER, samba::MONITOR_PASSWORD, gpt).contains("[General]"));
    }
}

/// Child half of `killed_test_process_leaves_no_samba` (does nothing unless that test started it).
#[test]
#[ignore = "helper process for killed_test_process_leaves_no_samba"]
fn hold_dc_until_killed() {
    if std::env::var_os("SAMBA_RIG_HOLD").is_none() {
        return;
    }
    let dc = start_dc();
    println!("READY {} {}", dc.ip(), dc.dir().display());
    // Hold the DC until the parent goes away (EOF on stdin) or kills this process.
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    drop(dc);
}

#[test]
fn killed_test_process_leaves_no_samba() {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "hold_dc_until_killed", "--ignored", "--nocapture", "--test-threads=1"])
        .env("SAMBA_RIG_HOLD", "1")
        .stdin(Stdio::piped()) // if this test process dies, the child sees EOF and ends too
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut ready = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        // libtest prints "test hold_dc_until_killed ... " without a newline before the test's own output.
        if let Some((_, rest)) = line.split_once("READY ") {
            let (ip, dir) = rest.trim().split_once(' ').unwrap();
            ready = Some((ip.to_string(), dir.to_string()));
            break;
        }
    }
    let (ip, dir) = ready.expect("child did not report a running DC");
    let conf = format!("{dir}/etc/smb.conf");
    assert!(samba_processes(&conf) > 0, "samba of the child should be running");

    child.kill().unwrap(); // SIGKILL: no Drop runs in the child
    child.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(15);
    while (samba_processes(&conf) > 0 || port_open(&ip, 636)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(samba_processes(&conf), 0, "samba processes of the killed test survived");
    assert!(!port_open(&ip, 636), "LDAPS on {ip} still answers");
    let _ = std::fs::remove_dir_all(&dir); // normally collected by the next user of the address
}

/// Live processes belonging to the instance: smbd/winbindd name the config file; the samba master and its task
/// processes rename themselves ("samba: ...") and are found through their working tree's pid file instead.
fn samba_processes(conf: &str) -> usize {
    let out = Command::new("pgrep").args(["-f", conf]).output().unwrap();
    let by_conf = String::from_utf8_lossy(&out.stdout).lines().count();
    let pid_file = Path::new(conf).parent().unwrap().parent().unwrap().join("run").join("samba.pid");
    let master_alive =
        std::fs::read_to_string(pid_file).ok().and_then(|s| s.trim().parse::<u32>().ok()).is_some_and(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|stat| !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        });
    by_conf + usize::from(master_alive)
}

fn port_open(ip: &str, port: u16) -> bool {
    let addr = format!("{ip}:{port}").parse().unwrap();
    std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}
