//! Proves the Samba AD DC test rig (`tests/support/samba/`): LDAPS with the rig's CA, the monitoring account,
//! rootDSE, `minPwdAge` and its change, stop/restart, two DCs at once, a second DC joined to the same domain
//! (replication both ways, divergence while one is stopped, failover when the first stops), no Samba left behind when
//! the test process is killed; and the fake DNS server (`tests/support/dns.rs`). Needs root and Samba
//! (`scripts/install-deps.sh`).

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use rustls::pki_types::{pem::PemObject, CertificateDer};
use support::dns::{DnsBehavior, FakeDns, Record};
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

/// `dNSHostName` of every `server` object under `CN=Sites` that has an `nTDSDSA` child (i.e. is a DC), as seen by `dc`
/// over LDAPS, keyed by the server's CN.
async fn dcs_in_sites(dc: &SambaDc, ca_pem: &Path) -> BTreeMap<String, String> {
    let mut conn = connect(&dc.ldaps_url(), ca_pem).await.expect("LDAPS connect");
    conn.simple_bind(samba::MONITOR_UPN, samba::MONITOR_PASSWORD).await.unwrap().success().unwrap();
    let sites = format!("CN=Sites,CN=Configuration,{}", samba::DOMAIN_DN);
    let (servers, _) = conn
        .search(&sites, Scope::Subtree, "(objectClass=server)", vec!["dNSHostName"])
        .await
        .unwrap()
        .success()
        .unwrap();
    let (dsas, _) =
        conn.search(&sites, Scope::Subtree, "(objectClass=nTDSDSA)", vec!["dn"]).await.unwrap().success().unwrap();
    let dsa_parents: Vec<String> = dsas
        .into_iter()
        .map(|e| SearchEntry::construct(e).dn.split_once(',').map(|(_, parent)| parent.to_ascii_lowercase()).unwrap())
        .collect();
    let _ = conn.unbind().await;
    servers
        .into_iter()
        .map(SearchEntry::construct)
        .filter(|s| dsa_parents.contains(&s.dn.to_ascii_lowercase()))
        .map(|s| {
            let cn = s.dn.split(',').next().unwrap().trim_start_matches("CN=").to_string();
            (cn, s.attrs.get("dNSHostName").and_then(|v| v.first()).cloned().unwrap_or_default())
        })
        .collect()
}

/// Number of objects with this sAMAccountName that `dc` returns over LDAPS (CA of the domain: `ca_pem`).
async fn count_sam(dc: &SambaDc, ca_pem: &Path, sam: &str) -> usize {
    let mut conn = connect(&dc.ldaps_url(), ca_pem).await.expect("LDAPS connect");
    conn.simple_bind(samba::MONITOR_UPN, samba::MONITOR_PASSWORD).await.unwrap().success().unwrap();
    let filter = format!("(sAMAccountName={sam})");
    let (entries, _) =
        conn.search(samba::DOMAIN_DN, Scope::Subtree, &filter, vec!["dn"]).await.unwrap().success().unwrap();
    let _ = conn.unbind().await;
    entries.len()
}

#[tokio::test]
async fn second_dc_joins_replicates_and_serves_when_the_first_stops() {
    let mut dc1 = start_dc();
    let t = Instant::now();
    let mut dc2 = SambaDc::join(&dc1).unwrap_or_else(|e| panic!("joining a second DC: {e}"));
    eprintln!("dc2 joined and started on {} in {:?}: {:?}", dc2.ip(), t.elapsed(), dc2.timings());
    assert_eq!(dc1.host_name(), samba::DC_HOST_NAME);
    assert_eq!(dc2.host_name(), "dc2.corp.example.test");
    assert_eq!(dc2.netbios_name(), "DC2");
    assert_ne!(dc1.ip(), dc2.ip());
    // One CA for the domain: the primary's CA file verifies both DCs (SAN: host name + IP).
    assert_eq!(dc1.ca_der(), dc2.ca_der());
    let ca = dc1.ca_pem_path().to_path_buf();

    // Both DCs list both as servers with an nTDSDSA child.
    let expected: BTreeMap<String, String> = [("DC1", "dc1.corp.example.test"), ("DC2", "dc2.corp.example.test")]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    for dc in [&dc1, &dc2] {
        assert_eq!(dcs_in_sites(dc, &ca).await, expected, "DCs seen by {}", dc.host_name());
    }
    // The monitoring account (from the template) was replicated to the new DC.
    assert_eq!(count_sam(&dc2, &ca, samba::MONITOR_USER).await, 1);

    // dc1 -> dc2 and dc2 -> dc1, forced.
    dc1.create_user("made-on-dc1", "Made-On-Dc1-Passw0rd!").unwrap();
    let t = Instant::now();
    dc2.replicate_from(&dc1).unwrap();
    eprintln!("replicate dc1 -> dc2 took {:?}", t.elapsed());
    assert_eq!(count_sam(&dc2, &ca, "made-on-dc1").await, 1);
    dc2.create_user("made-on-dc2", "Made-On-Dc2-Passw0rd!").unwrap();
    let t = Instant::now();
    dc1.replicate_from(&dc2).unwrap();
    eprintln!("replicate dc2 -> dc1 took {:?}", t.elapsed());
    assert_eq!(count_sam(&dc1, &ca, "made-on-dc2").await, 1);

    // A change while dc2 is stopped: a real divergence (read from dc2's database while it is down) until replicated.
    dc2.stop();
    dc1.create_user("while-dc2-down", "While-Dc2-Down-Passw0rd!").unwrap();
    let err = dc2.samba_tool(&["user", "show", "while-dc2-down"]).expect_err("dc2 must not have the new user yet");
    assert!(err.message().contains("while-dc2-down"), "{err}");
    let t = Instant::now();
    dc2.restart().unwrap();
    eprintln!("dc2 restart took {:?}", t.elapsed());
    dc2.replicate_from(&dc1).unwrap();
    assert_eq!(count_sam(&dc2, &ca, "while-dc2-down").await, 1);

    // The first DC stops: the second still answers (binds, searches), replication from the first fails quickly.
    dc1.stop();
    assert!(connect(&dc1.ldaps_url(), &ca).await.is_err(), "dc1 must refuse after stop");
    let t = Instant::now();
    let mut conn = bind(&dc2, samba::MONITOR_UPN, samba::MONITOR_PASSWORD).await;
    assert_eq!(read_attr(&mut conn, "", "dnsHostName").await, vec!["dc2.corp.example.test".to_string()]);
    assert_eq!(count_sam(&dc2, &ca, "made-on-dc1").await, 1);
    eprintln!("dc2 answered in {:?} with dc1 stopped", t.elapsed());
    let t = Instant::now();
    assert!(dc2.replicate_from(&dc1).is_err(), "replicating from a stopped DC must fail");
    eprintln!("replicate from stopped dc1 failed after {:?}", t.elapsed());
    // dc2 stays responsive afterwards (it never waits on a KDC inside its own process).
    assert_eq!(count_sam(&dc2, &ca, "made-on-dc2").await, 1);

    // And the first comes back.
    dc1.restart().unwrap();
    assert_eq!(count_sam(&dc1, &ca, "while-dc2-down").await, 1);
    let t = Instant::now();
    drop(dc2);
    drop(dc1);
    eprintln!("dropping both took {:?}", t.elapsed());
}

fn dns_query(
    server: SocketAddr,
    name: &str,
    qtype: hickory_proto::rr::RecordType,
    tcp: bool,
) -> hickory_proto::op::Message {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::Name;
    use std::io::{Read, Write};
    let mut msg = Message::query();
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    let bytes = msg.to_vec().unwrap();
    let answer = if tcp {
        let mut s = std::net::TcpStream::connect_timeout(&server, Duration::from_secs(2)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(&(bytes.len() as u16).to_be_bytes()).unwrap();
        s.write_all(&bytes).unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut buf).unwrap();
        buf
    } else {
        let s = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.send_to(&bytes, server).unwrap();
        let mut buf = vec![0u8; 4096];
        let (len, _) = s.recv_from(&mut buf).expect("DNS answer");
        buf.truncate(len);
        buf
    };
    let reply = Message::from_vec(&answer).unwrap();
    assert_eq!(reply.metadata.id, msg.metadata.id);
    reply
}

#[tokio::test]
async fn fake_dns_answers_a_and_srv_and_changes_at_runtime() {
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::{RData, RecordType};
    const SRV: &str = "_ldap._tcp.dc._msdcs.corp.example.test";
    let dns = FakeDns::start(vec![
        Record::srv(SRV, 0, 100, 636, "dc1.corp.example.test"),
        Record::srv(SRV, 10, 50, 389, "dc2.corp.example.test."),
        Record::a("dc1.corp.example.test", Ipv4Addr::new(127, 0, 0, 10)),
        Record::a("DC2.corp.example.test.", Ipv4Addr::new(127, 0, 0, 11)),
    ]);
    assert!(dns.addr.ip().is_loopback());

    let srv_targets = |m: &hickory_proto::op::Message| -> Vec<(u16, u16, u16, String)> {
        let mut v: Vec<_> = m
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::SRV(s) => Some((s.priority, s.weight, s.port, s.target.to_ascii())),
                _ => None,
            })
            .collect();
        v.sort();
        v
    };
    let reply = dns_query(dns.addr, &format!("{SRV}."), RecordType::SRV, false);
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        srv_targets(&reply),
        vec![(0, 100, 636, "dc1.corp.example.test.".to_string()), (10, 50, 389, "dc2.corp.example.test.".to_string())]
    );
    // A, case-insensitive.
    let reply = dns_query(dns.addr, "Dc2.Corp.Example.Test.", RecordType::A, false);
    let ips: Vec<_> =
        reply.answers.iter().filter_map(|r| if let RData::A(a) = &r.data { Some(a.0) } else { None }).collect();
    assert_eq!(ips, vec![Ipv4Addr::new(127, 0, 0, 11)]);
    // Unknown name: NXDOMAIN; known name, other type: NODATA.
    assert_eq!(
        dns_query(dns.addr, "dc9.corp.example.test.", RecordType::A, false).metadata.response_code,
        ResponseCode::NXDomain
    );
    let nodata = dns_query(dns.addr, "dc1.corp.example.test.", RecordType::AAAA, false);
    assert_eq!((nodata.metadata.response_code, nodata.answers.len()), (ResponseCode::NoError, 0));
    // TCP on the same port.
    if dns.serves_tcp() {
        assert_eq!(srv_targets(&dns_query(dns.addr, &format!("{SRV}."), RecordType::SRV, true)).len(), 2);
    }

    // The exporter's own resolver (hickory-resolver via `Dns`) discovers both DCs and resolves their names here.
    let resolver = writeback_exporter::ad::discovery::Dns::new(&[dns.addr]).unwrap();
    let mut found = resolver.srv_dcs("corp.example.test", Duration::from_secs(5)).await.unwrap();
    found.sort_by(|a, b| a.host.cmp(&b.host));
    let hosts: Vec<_> = found.iter().map(|t| (t.host.as_str(), t.port)).collect();
    assert_eq!(hosts, vec![("dc1.corp.example.test", 636), ("dc2.corp.example.test", 389)]);
    let ips = resolver.resolve("dc1.corp.example.test", Duration::from_secs(5)).await.unwrap();
    assert_eq!(ips, vec![std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10))]);
    assert!(dns.queries_for(SRV, "SRV") >= 2, "{:?}", dns.query_log());

    // Remove a DC at runtime.
    dns.remove_name("dc2.corp.example.test");
    assert_eq!(srv_targets(&dns_query(dns.addr, &format!("{SRV}."), RecordType::SRV, false)).len(), 1);
    assert_eq!(
        dns_query(dns.addr, "dc2.corp.example.test.", RecordType::A, false).metadata.response_code,
        ResponseCode::NXDomain
    );
    let found = resolver.srv_dcs("corp.example.test", Duration::from_secs(5)).await.unwrap();
    assert_eq!(found.len(), 1, "TTL 0: the resolver must not serve the old answer from its cache");

    // Failure modes.
    dns.set_behavior(DnsBehavior::ServFail);
    assert_eq!(
        dns_query(dns.addr, &format!("{SRV}."), RecordType::SRV, false).metadata.response_code,
        ResponseCode::ServFail
    );
    dns.set_behavior(DnsBehavior::Ignore);
    assert!(resolver.srv_dcs("corp.example.test", Duration::from_secs(1)).await.is_err());
    dns.set_behavior(DnsBehavior::Answer);

    let before = dns.queries();
    assert!(before >= 10, "{before} queries: {:?}", dns.query_log());
    dns.set_records(vec![]);
    assert_eq!(
        dns_query(dns.addr, &format!("{SRV}."), RecordType::SRV, false).metadata.response_code,
        ResponseCode::NXDomain
    );
    assert_eq!(dns.queries(), before + 1);
}
