//! The accounts that write passwords back: Entra Connect's AD DS connector accounts (configured ones, or every
//! `MSOL_*` account) and Entra Cloud Sync's provisioning agent gMSAs (configured ones, or `provAgentgMSA$`),
//! resolved to their SID and group SIDs (the access token the permission probes evaluate).

use ldap3::{ldap_escape, Scope};

use super::security::{Sid, Token};
use super::{Entry, LdapError, Session};

/// Which sync engine writes passwords back as an account: the `engine` label of `writeback_ad_account_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// Entra Connect (Sync): its AD DS connector account.
    Connect,
    /// Entra Cloud Sync: its provisioning agent's group managed service account, whose password the DC rotates.
    CloudSync,
}

impl Engine {
    pub fn label(self) -> &'static str {
        match self {
            Engine::Connect => "connect",
            Engine::CloudSync => "cloud_sync",
        }
    }

    /// The account as a check's title names it.
    pub fn account_title(self) -> &'static str {
        match self {
            Engine::Connect => "Connector account",
            Engine::CloudSync => "Cloud Sync gMSA",
        }
    }
}

/// The gMSA the Cloud Sync provisioning agent's installer creates (and every agent of a domain shares).
pub const CLOUD_SYNC_DEFAULT_GMSA: &str = "provAgentgMSA$";

/// One writeback account (a connector account or a Cloud Sync gMSA) as the permission probes need it.
#[derive(Debug, Clone)]
pub struct ConnectorAccount {
    /// `sAMAccountName`: the `account` label.
    pub sam: String,
    /// The engine that writes back as this account: it decides the health checks and the fix texts.
    pub engine: Engine,
    pub dn: String,
    pub sid: Sid,
    pub description: Option<String>,
    pub user_account_control: i64,
    /// Raw `pwdLastSet`, `lockoutTime` (FILETIME) and the constructed state attributes, read with `tokenGroups`.
    pub pwd_last_set: Option<i64>,
    pub lockout_time: Option<i64>,
    pub computed_flags: Option<i64>,
    pub password_expiry: Option<i64>,
    pub token: Token,
    /// False when `tokenGroups` could not be read: group memberships are then not considered (and `check` says so).
    pub groups_known: bool,
}

/// Accounts named in the config that were not found, and the ones that were (both engines).
#[derive(Debug, Default)]
pub struct Connectors {
    pub accounts: Vec<ConnectorAccount>,
    /// Configured connector accounts (`connector_accounts`) not found.
    pub missing: Vec<String>,
    /// True when the connector accounts were discovered (`MSOL_*`) rather than configured.
    pub discovered: bool,
    /// Configured Cloud Sync gMSAs (`cloud_sync_accounts`) not found.
    pub missing_cloud_sync: Vec<String>,
    /// True when the Cloud Sync gMSAs were discovered (`provAgentgMSA$`) rather than configured.
    pub cloud_sync_discovered: bool,
}

impl Connectors {
    /// The accounts of one engine.
    pub fn of(&self, engine: Engine) -> impl Iterator<Item = &ConnectorAccount> {
        self.accounts.iter().filter(move |a| a.engine == engine)
    }
}

/// Which accounts to resolve: the configured names per engine (empty: discover that engine's default accounts);
/// `None` for Cloud Sync leaves its gMSAs out.
#[derive(Debug, Clone, Copy)]
pub struct Wanted<'a> {
    pub connect: &'a [String],
    pub cloud_sync: Option<&'a [String]>,
}

const ATTRS: [&str; 4] = ["sAMAccountName", "objectSid", "description", "userAccountControl"];
const BASE_ATTRS: [&str; 5] = [
    "tokenGroups",
    "pwdLastSet",
    "lockoutTime",
    "msDS-User-Account-Control-Computed",
    "msDS-UserPasswordExpiryTimeComputed",
];

/// Resolves the configured connector accounts (sAMAccountName, `DOMAIN\name`, UPN or DN), or discovers every
/// `MSOL_*` account under `domain_dn` when none are configured; and the same for the Cloud Sync gMSAs (configured
/// by sAMAccountName, `DOMAIN\name` or DN, else every `provAgentgMSA$`). An account found twice (by SID) is
/// judged once, under the engine that found it first (Connect). Reads `tokenGroups` and the account's state once
/// per account.
///
/// # Errors
/// LDAP failures; an account that does not exist is reported in [`Connectors::missing`] (or
/// [`Connectors::missing_cloud_sync`]), not as an error.
pub async fn resolve(
    session: &mut Session,
    wanted: Wanted<'_>,
    domain_dn: &str,
    page_size: u32,
) -> Result<Connectors, LdapError> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    let discovered = wanted.connect.is_empty();
    if discovered {
        let filter = "(&(objectCategory=person)(objectClass=user)(sAMAccountName=MSOL_*))";
        search(session, domain_dn, filter, page_size, "find MSOL_ accounts", |e| found.push((Engine::Connect, e)))
            .await?;
    } else {
        for name in wanted.connect {
            match find_one(session, name, domain_dn, page_size).await? {
                Some(entry) => found.push((Engine::Connect, entry)),
                None => missing.push(name.clone()),
            }
        }
    }
    let mut missing_cloud_sync = Vec::new();
    let cloud_sync_discovered = wanted.cloud_sync.is_some_and(<[String]>::is_empty);
    match wanted.cloud_sync {
        None => {}
        Some([]) => {
            let filter = format!(
                "(&(objectClass=msDS-GroupManagedServiceAccount)(sAMAccountName={}))",
                ldap_escape(CLOUD_SYNC_DEFAULT_GMSA)
            );
            search(session, domain_dn, &filter, page_size, "find Cloud Sync gMSAs", |e| {
                found.push((Engine::CloudSync, e));
            })
            .await?;
        }
        Some(names) => {
            for name in names {
                match find_one(session, &gmsa_name(name), domain_dn, page_size).await? {
                    Some(entry) => found.push((Engine::CloudSync, entry)),
                    None => missing_cloud_sync.push(name.clone()),
                }
            }
        }
    }
    let mut accounts: Vec<ConnectorAccount> = Vec::with_capacity(found.len());
    for (engine, entry) in found {
        let Some((sid, _)) = entry.raw("objectSid").first().and_then(|b| Sid::from_bytes(b).ok()) else {
            tracing::warn!(dn = %entry.dn, "writeback account has no readable objectSid; skipped");
            continue;
        };
        if accounts.iter().any(|a| a.sid == sid) {
            continue;
        }
        // One BASE read per account: tokenGroups and the constructed attributes are only computed at BASE scope.
        let groups = session.read(&entry.dn, &BASE_ATTRS, "read tokenGroups").await?;
        let state = |name: &str| groups.as_ref().and_then(|g| g.int(name).ok().flatten());
        let group_sids: Vec<Sid> = groups
            .as_ref()
            .map(|g| g.raw("tokenGroups").iter().filter_map(|b| Sid::from_bytes(b).ok().map(|(s, _)| s)).collect())
            .unwrap_or_default();
        let groups_known = !group_sids.is_empty();
        let sam = entry.first("sAMAccountName").unwrap_or_default().to_string();
        if !groups_known {
            tracing::warn!(account = %sam, "tokenGroups of the writeback account not readable: group memberships are not considered");
        }
        accounts.push(ConnectorAccount {
            token: Token::new(sid.clone(), group_sids),
            sam,
            engine,
            dn: entry.dn.clone(),
            sid,
            description: entry.first("description").map(str::to_string),
            user_account_control: entry.int("userAccountControl").ok().flatten().unwrap_or(0),
            pwd_last_set: state("pwdLastSet"),
            lockout_time: state("lockoutTime"),
            computed_flags: state("msDS-User-Account-Control-Computed"),
            password_expiry: state("msDS-UserPasswordExpiryTimeComputed"),
            groups_known,
        });
    }
    accounts.sort_by_key(|a| a.sam.to_ascii_lowercase());
    Ok(Connectors { accounts, missing, discovered, missing_cloud_sync, cloud_sync_discovered })
}

/// A gMSA's sAMAccountName always ends in `$`; a configured name without it (not a DN) gets it.
fn gmsa_name(name: &str) -> String {
    let name = name.trim();
    if name.contains('=') || name.ends_with('$') || name.contains('@') {
        name.to_string()
    } else {
        format!("{name}$")
    }
}

async fn search(
    session: &mut Session,
    domain_dn: &str,
    filter: &str,
    page_size: u32,
    operation: &'static str,
    each: impl FnMut(Entry),
) -> Result<(), LdapError> {
    session.search_paged(domain_dn, Scope::Subtree, filter, &ATTRS, Vec::new(), page_size, operation, each).await?;
    Ok(())
}

async fn find_one(
    session: &mut Session,
    name: &str,
    domain_dn: &str,
    page_size: u32,
) -> Result<Option<Entry>, LdapError> {
    let name = name.trim();
    if name.contains('=') {
        return session.read(name, &ATTRS, "read connector account").await;
    }
    let filter = match name.split_once('\\') {
        Some((_, sam)) => format!("(sAMAccountName={})", ldap_escape(sam)),
        None if name.contains('@') => format!("(userPrincipalName={})", ldap_escape(name)),
        None => format!("(sAMAccountName={})", ldap_escape(name)),
    };
    let filter = format!("(&(objectClass=user){filter})");
    let mut first = None;
    session
        .search_paged(
            domain_dn,
            Scope::Subtree,
            &filter,
            &ATTRS,
            Vec::new(),
            page_size,
            "find connector account",
            |e| {
                first.get_or_insert(e);
            },
        )
        .await?;
    Ok(first)
}

/// The Connect server named in an express-install description: "... running on computer HOST configured to
/// synchronize to tenant ..." (the same in the Azure AD Connect and Entra Connect wordings). Lower case.
pub fn server_from_description(description: &str) -> Option<String> {
    const MARKER: &str = "running on computer ";
    let start = description.find(MARKER)? + MARKER.len();
    let host: String = description[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .collect();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    // A label value: a DNS name is at most 253 characters; anything longer is not a host name.
    (!host.is_empty() && host.len() <= 253).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::{gmsa_name, server_from_description, Engine};

    #[test]
    fn gmsa_names_get_their_dollar() {
        assert_eq!(gmsa_name("provAgentgMSA$"), "provAgentgMSA$");
        assert_eq!(gmsa_name(" custom-gmsa "), "custom-gmsa$");
        assert_eq!(gmsa_name("CORP\\custom-gmsa"), "CORP\\custom-gmsa$");
        let dn = "CN=custom-gmsa,CN=Managed Service Accounts,DC=corp,DC=example,DC=test";
        assert_eq!(gmsa_name(dn), dn);
        assert_eq!((Engine::Connect.label(), Engine::CloudSync.label()), ("connect", "cloud_sync"));
    }

    #[test]
    fn server_names_come_from_both_wordings() {
        let azure = "Account created by Microsoft Azure Active Directory Connect with installation identifier \
                     0123456789ab4cdef running on computer CONNECT01 configured to synchronize to tenant contoso.onmicrosoft.com.";
        let entra = "Account created by Microsoft Entra Connect with installation identifier 0123 running on computer \
                     sync-02.corp.example.test configured to synchronize to tenant contoso.onmicrosoft.com. ...";
        assert_eq!(server_from_description(azure).as_deref(), Some("connect01"));
        assert_eq!(server_from_description(entra).as_deref(), Some("sync-02.corp.example.test"));
        assert_eq!(server_from_description("Service account for writeback"), None);
        assert_eq!(server_from_description("running on computer "), None);
        let huge = format!("running on computer {} configured", "a".repeat(1_000_000));
        assert_eq!(server_from_description(&huge), None, "never an unbounded label");
    }
}
