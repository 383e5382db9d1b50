//! SYSVOL over SMB 2/3 (pure-Rust `smb` crate): one signed, NTLM-authenticated session to the DC being probed,
//! reading whole small files. Guest and anonymous sessions are refused and every message after the session setup
//! must carry a valid signature (the crate's default, `allow_unsigned_guest_access = false`), so a server or a
//! network that strips signing fails the probe instead of feeding it forged policy.

use std::net::IpAddr;
use std::time::Duration;

use smb::{Client, ClientConfig, FileAccessMask, FileCreateArgs, Resource, UncPath};

use super::inf::MAX_TEMPLATE_BYTES;
use crate::base::{ProbeError, Reason, Scrub};
use crate::config::SecretError;

/// Why SYSVOL could not be read. `server` is the DC's address or name; never a password. Each `detail` taken from
/// an SMB error passes through the session's [`Scrub`]: bounded, the password replaced.
#[derive(Debug, thiserror::Error)]
pub enum SysvolError {
    #[error("cannot reach SYSVOL over SMB on {server}:{port}: {detail}")]
    Connect { server: String, port: u16, detail: String },
    #[error("{server} refused the SMB logon as {user}: {detail}")]
    Auth { server: String, user: String, detail: String },
    #[error("{server}: access denied to \\\\{server}\\SYSVOL\\{path}: {detail}")]
    Permission { server: String, path: String, detail: String },
    #[error("{server}: SMB {operation} timed out after {after:?}")]
    Timeout { server: String, operation: &'static str, after: Duration },
    #[error("{server}: SMB {operation}: {detail}")]
    Protocol { server: String, operation: &'static str, detail: String },
    #[error("SMB logon: {0}")]
    Config(String),
    /// The bind password could not be read (reason `config`, or `other` when the process is out of descriptors).
    #[error("SMB logon: bind password: {0}")]
    Secret(SecretError),
}

impl SysvolError {
    pub fn reason(&self) -> Reason {
        match self {
            SysvolError::Connect { .. } => Reason::Connect,
            SysvolError::Auth { .. } => Reason::Auth,
            SysvolError::Permission { .. } => Reason::Permission,
            SysvolError::Timeout { .. } => Reason::Timeout,
            SysvolError::Protocol { .. } => Reason::Protocol,
            SysvolError::Config(_) => Reason::Config,
            SysvolError::Secret(e) => e.reason(),
        }
    }
}

const STATUS_ACCESS_DENIED: u32 = 0xC000_0022;
const STATUS_NETWORK_ACCESS_DENIED: u32 = 0xC000_00CA;
const STATUS_OBJECT_NAME_NOT_FOUND: u32 = 0xC000_0034;
const STATUS_OBJECT_PATH_NOT_FOUND: u32 = 0xC000_003A;
const STATUS_NO_SUCH_FILE: u32 = 0xC000_000F;
/// Logon failures: bad name or password, restrictions, disabled, expired, locked, must change.
const LOGON_STATUSES: [u32; 9] = [
    0xC000_006D,
    0xC000_0064,
    0xC000_006A,
    0xC000_006E,
    0xC000_0072,
    0xC000_0071,
    0xC000_0193,
    0xC000_0234,
    0xC000_0224,
];

fn status_of(e: &smb::Error) -> Option<u32> {
    match e {
        smb::Error::ReceivedErrorMessage(status, _) | smb::Error::UnexpectedMessageStatus(status) => Some(*status),
        _ => None,
    }
}

/// A connected `\\<dc>\SYSVOL` share.
pub struct Sysvol {
    client: Client,
    share: UncPath,
    server: String,
    timeout: Duration,
    /// The password, kept out of error texts.
    scrub: Scrub,
}

impl Sysvol {
    /// Connects to `address:port` (the DC's address, resolved by the caller), negotiates SMB 2/3 with signing,
    /// authenticates with NTLM as `user` (UPN or `DOMAIN\name`) and connects the SYSVOL share.
    ///
    /// # Errors
    /// Classified connect, logon, permission and timeout failures.
    pub async fn connect(
        server: &str,
        address: IpAddr,
        port: u16,
        user: &str,
        password: String,
        timeout: Duration,
    ) -> Result<Sysvol, SysvolError> {
        if user.contains('=') {
            return Err(SysvolError::Config(format!(
                "bind.user {user:?} is a DN; NTLM needs a UPN (user@domain) or DOMAIN\\name"
            )));
        }
        let mut config = ClientConfig { dfs: false, ..ClientConfig::default() };
        config.connection.port = Some(port);
        config.connection.timeout = Some(timeout);
        config.connection.allow_unsigned_guest_access = false;
        config.connection.auth_methods.ntlm = true;
        let client = Client::new(config);
        let share = UncPath::new(&address.to_string())
            .and_then(|u| u.with_share("SYSVOL"))
            .map_err(|e| SysvolError::Config(e.to_string()))?;
        let server = server.to_string();
        let scrub = Scrub::new([password.as_str()]);
        let connect = client.share_connect(&share, user, password);
        let connected = tokio::time::timeout(timeout, connect).await.map_err(|_| SysvolError::Timeout {
            server: server.clone(),
            operation: "session setup",
            after: timeout,
        })?;
        if let Err(e) = connected {
            let _ = client.close().await;
            return Err(classify_connect(&server, port, user, timeout, e, &scrub));
        }
        Ok(Sysvol { client, share, server, timeout, scrub })
    }

    /// Reads a file of the share (`corp.example.test\Policies\{GUID}\...`). `Ok(None)` when it does not exist.
    ///
    /// # Errors
    /// Access denied, a file over [`MAX_TEMPLATE_BYTES`], timeouts, protocol failures.
    pub async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SysvolError> {
        let timeout = self.timeout;
        let server = self.server.clone();
        match tokio::time::timeout(timeout, self.read_inner(path)).await {
            Ok(result) => result,
            Err(_) => Err(SysvolError::Timeout { server, operation: "read", after: timeout }),
        }
    }

    async fn read_inner(&self, path: &str) -> Result<Option<Vec<u8>>, SysvolError> {
        let target = self.share.clone().with_path(path);
        let args = FileCreateArgs::make_open_existing(FileAccessMask::new().with_generic_read(true));
        let resource = match self.client.create_file(&target, &args).await {
            Ok(resource) => resource,
            Err(e) => {
                return match status_of(&e) {
                    Some(STATUS_OBJECT_NAME_NOT_FOUND | STATUS_OBJECT_PATH_NOT_FOUND | STATUS_NO_SUCH_FILE) => Ok(None),
                    Some(STATUS_ACCESS_DENIED | STATUS_NETWORK_ACCESS_DENIED) => Err(SysvolError::Permission {
                        server: self.server.clone(),
                        path: path.to_string(),
                        detail: self.scrub.text(&e.to_string()),
                    }),
                    _ => Err(self.protocol("open", &e)),
                };
            }
        };
        let Resource::File(file) = resource else {
            return Err(SysvolError::Protocol {
                server: self.server.clone(),
                operation: "open",
                detail: format!("{path} is not a file"),
            });
        };
        let mut data = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        let result = loop {
            let offset = u64::try_from(data.len()).unwrap_or(u64::MAX);
            match file.read_block(&mut buf, offset, None, false).await {
                Ok(0) => break Ok(Some(data)),
                Ok(n) => {
                    data.extend_from_slice(buf.get(..n).unwrap_or_default());
                    if data.len() > MAX_TEMPLATE_BYTES {
                        break Err(SysvolError::Protocol {
                            server: self.server.clone(),
                            operation: "read",
                            detail: format!("{path} is larger than {MAX_TEMPLATE_BYTES} bytes"),
                        });
                    }
                }
                Err(e) => {
                    break Err(SysvolError::Protocol {
                        server: self.server.clone(),
                        operation: "read",
                        detail: self.scrub.text(&e.to_string()),
                    })
                }
            }
        };
        let _ = file.close().await;
        result
    }

    fn protocol(&self, operation: &'static str, e: &smb::Error) -> SysvolError {
        SysvolError::Protocol { server: self.server.clone(), operation, detail: self.scrub.text(&e.to_string()) }
    }

    /// Logs off and disconnects; errors are irrelevant at this point.
    pub async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.client.close()).await;
    }
}

fn classify_connect(
    server: &str,
    port: u16,
    user: &str,
    timeout: Duration,
    e: smb::Error,
    scrub: &Scrub,
) -> SysvolError {
    let server = server.to_string();
    let detail = scrub.text(&e.to_string());
    match (&e, status_of(&e)) {
        (_, Some(status)) if LOGON_STATUSES.contains(&status) => {
            SysvolError::Auth { server, user: user.to_string(), detail }
        }
        (_, Some(STATUS_ACCESS_DENIED | STATUS_NETWORK_ACCESS_DENIED)) => {
            SysvolError::Permission { server, path: String::new(), detail }
        }
        (smb::Error::SspiError(_), _) => SysvolError::Auth { server, user: user.to_string(), detail },
        (smb::Error::OperationTimeout(..), _) => SysvolError::Timeout { server, operation: "connect", after: timeout },
        (
            smb::Error::IoError(_)
            | smb::Error::TransportError(_)
            | smb::Error::ConnectionStopped
            | smb::Error::NotFound(_),
            _,
        ) => SysvolError::Connect { server, port, detail },
        _ => SysvolError::Protocol { server, operation: "session setup", detail },
    }
}

/// The path inside the SYSVOL share of a GPO's security template, from its `gPCFileSysPath`
/// (`\\corp.example.test\SysVol\corp.example.test\Policies\{GUID}`); falls back to the standard location when the
/// attribute is absent or does not point into a SYSVOL share.
pub fn template_path(file_sys_path: Option<&str>, domain: &str, guid: &str) -> String {
    const TAIL: &str = r"MACHINE\Microsoft\Windows NT\SecEdit\GptTmpl.inf";
    let inside = file_sys_path.and_then(|p| {
        let rest = p.strip_prefix(r"\\")?;
        let mut parts = rest.splitn(3, '\\');
        let _server = parts.next()?;
        let share = parts.next()?;
        let path = parts.next()?.trim_end_matches('\\');
        (share.eq_ignore_ascii_case("sysvol") && !path.is_empty() && !path.contains("..")).then(|| path.to_string())
    });
    let base = inside.unwrap_or_else(|| format!(r"{domain}\Policies\{guid}"));
    format!(r"{base}\{TAIL}")
}

impl From<SysvolError> for ProbeError {
    fn from(e: SysvolError) -> ProbeError {
        ProbeError::Failed { reason: e.reason(), message: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_paths() {
        let guid = "{31B2F340-016D-11D2-945F-00C04FB984F9}";
        let expected = format!(r"corp.example.test\Policies\{guid}\MACHINE\Microsoft\Windows NT\SecEdit\GptTmpl.inf");
        let fs = format!(r"\\corp.example.test\SysVol\corp.example.test\Policies\{guid}");
        assert_eq!(template_path(Some(&fs), "corp.example.test", guid), expected);
        assert_eq!(template_path(None, "corp.example.test", guid), expected);
        assert_eq!(template_path(Some(r"\\x\other\y"), "corp.example.test", guid), expected);
        assert_eq!(template_path(Some(r"\\x\sysvol\..\..\z"), "corp.example.test", guid), expected);
    }

    #[test]
    fn dn_users_are_refused_before_any_traffic() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let result = rt.block_on(Sysvol::connect(
            "dc",
            IpAddr::from([127, 0, 0, 1]),
            1,
            "CN=svc,DC=corp",
            "x".into(),
            Duration::from_secs(1),
        ));
        assert!(matches!(result, Err(SysvolError::Config(_))));
    }

    #[test]
    fn smb_error_text_is_bounded_and_scrubbed() {
        let scrub = Scrub::new(["Smb-Pw-7"]);
        let huge = format!("logon failed for Smb-Pw-7 {}", "q".repeat(10_000));
        let e = smb::Error::InvalidState(huge);
        let out = classify_connect("dc", 445, "svc", Duration::from_secs(1), e, &scrub).to_string();
        assert!(!out.contains("Smb-Pw-7") && out.contains("<redacted>"), "{out}");
        assert!(out.len() < 1_000, "{} bytes", out.len());
    }
}
