//! Probe `ad_connector`: is each connector account usable? Disabled, locked out or with an expired password,
//! it cannot write anything back; several enabled `MSOL_` accounts usually mean stale installations.

use super::connector::{server_from_description, ConnectorAccount};
use super::values::{dn_to_dns_name, filetime_to_unix, interval_seconds};
use crate::metrics::catalog as m;
use crate::probe::{Check, ProbeError, ProbeOutput, Status};
use crate::snapshot::unix_now;

const UF_ACCOUNTDISABLE: i64 = 0x2;
const UF_LOCKOUT: i64 = 0x10;
const UF_PASSWORD_EXPIRED: i64 = 0x80_0000;
/// Warn this long before the connector's password expires.
const EXPIRY_WARNING_SECONDS: f64 = 14.0 * 86_400.0;

/// # Errors
/// When no DC answers or the accounts cannot be searched.
pub async fn run(ctx: &super::AdContext) -> Result<ProbeOutput, ProbeError> {
    let (mut session, root) = ctx.any_dc().await?;
    let domain_dn = root.default_naming_context.clone();
    let result = async {
        let lockout = session.read(&domain_dn, &["lockoutDuration"], "read the lockout duration").await?;
        let lockout_duration = lockout.and_then(|e| e.int("lockoutDuration").ok().flatten()).map(interval_seconds);
        let connectors = ctx.connectors(&mut session, &domain_dn).await?;
        Ok::<_, ProbeError>((lockout_duration, connectors))
    }
    .await;
    session.close().await;
    let (lockout_duration, connectors) = result?;
    let domain =
        dn_to_dns_name(&domain_dn).ok_or_else(|| ProbeError::Other(format!("no domain name in {domain_dn}")))?;

    let mut out = ProbeOutput::default();
    let now = unix_now();
    for account in &connectors.accounts {
        let state = State::of(account, lockout_duration, now);
        let sam = account.sam.as_str();
        let server = account.description.as_deref().and_then(server_from_description).unwrap_or_default();
        out.sample(&m::AD_CONNECTOR_ACCOUNT_INFO, &[&domain, sam, &account.sid.to_string(), &server], 1.0);
        out.sample(&m::AD_CONNECTOR_ACCOUNT_ENABLED, &[&domain, sam], f64::from(u8::from(state.enabled)));
        out.sample(&m::AD_CONNECTOR_ACCOUNT_LOCKED, &[&domain, sam], f64::from(u8::from(state.locked)));
        if let Some(at) = state.password_last_set {
            out.sample(&m::AD_CONNECTOR_ACCOUNT_PASSWORD_LAST_SET, &[&domain, sam], at);
        }
        out.sample(&m::AD_CONNECTOR_ACCOUNT_PASSWORD_EXPIRY, &[&domain, sam], state.password_expiry);
        out.checks.push(state.check(sam, now));
    }
    let enabled_msol = connectors.accounts.iter().filter(|a| a.user_account_control & UF_ACCOUNTDISABLE == 0).count();
    if connectors.discovered && enabled_msol > 1 {
        let names: Vec<&str> = connectors.accounts.iter().map(|a| a.sam.as_str()).collect();
        out.checks.push(Check {
            id: "ad_connector_accounts_stale",
            subject: domain.clone(),
            title: "One enabled MSOL_ account".to_string(),
            status: Status::Warn,
            observed: format!("{enabled_msol} enabled MSOL_ accounts: {}", names.join(", ")),
            remediation: Some(
                "Several MSOL_ accounts usually mean stale Connect installations (or a staging server): find the \
                 active one (its description names the server), disable the others, and name the active one in \
                 `connector_accounts`."
                    .to_string(),
            ),
        });
    }
    Ok(out)
}

/// What the account's attributes say about its usability.
struct State {
    enabled: bool,
    locked: bool,
    expired: bool,
    password_last_set: Option<f64>,
    /// Unix seconds; `+Inf` when the password never expires.
    password_expiry: f64,
}

impl State {
    fn of(account: &ConnectorAccount, lockout_duration: Option<f64>, now: f64) -> State {
        let computed = account.computed_flags;
        let locked = match computed {
            Some(flags) => flags & UF_LOCKOUT != 0,
            // Without the constructed attribute: locked while lockoutTime + duration lies ahead.
            None => account
                .lockout_time
                .and_then(filetime_to_unix)
                .is_some_and(|at| lockout_duration.is_none_or(|d| d.is_infinite() || d == 0.0 || at + d > now)),
        };
        let password_expiry = account.password_expiry.and_then(filetime_to_unix).unwrap_or(f64::INFINITY);
        let expired = computed.is_some_and(|f| f & UF_PASSWORD_EXPIRED != 0) || password_expiry <= now;
        State {
            enabled: account.user_account_control & UF_ACCOUNTDISABLE == 0,
            locked,
            expired,
            password_last_set: account.pwd_last_set.and_then(filetime_to_unix),
            password_expiry,
        }
    }

    fn check(&self, account: &str, now: f64) -> Check {
        let mut problems = Vec::new();
        if !self.enabled {
            problems.push("disabled");
        }
        if self.locked {
            problems.push("locked out");
        }
        if self.expired {
            problems.push("password expired");
        }
        let days_left = (self.password_expiry - now) / 86_400.0;
        let (status, observed) = if !problems.is_empty() {
            (Status::Fail, problems.join(", "))
        } else if self.password_expiry - now < EXPIRY_WARNING_SECONDS {
            (Status::Warn, format!("password expires in {days_left:.1} days"))
        } else if self.password_expiry.is_infinite() {
            (Status::Pass, "enabled, not locked, password never expires".to_string())
        } else {
            (Status::Pass, format!("enabled, not locked, password expires in {days_left:.0} days"))
        };
        Check {
            id: "ad_connector_account_usable",
            subject: account.to_string(),
            title: "Connector account is enabled, unlocked and its password valid".to_string(),
            status,
            observed,
            remediation: (status != Status::Pass).then(|| {
                format!(
                    "Writeback runs as this account (event 33005 disabled, 33006 locked out). Enable-ADAccount / \
                     Unlock-ADAccount -Identity {account}; for the password, set a new one on the account and in \
                     Entra Connect (Synchronization Service > Connectors > the AD connector > Properties > Connect to \
                     Active Directory Forest), and exempt the account from expiry (PasswordNeverExpires) or track it."
                )
            }),
        }
    }
}
