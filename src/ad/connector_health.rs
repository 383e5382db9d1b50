//! Probe `ad_connector`: is each writeback account usable? A connector account disabled, locked out or with an
//! expired password cannot write anything back; several enabled `MSOL_` accounts usually mean stale installations.
//! A Cloud Sync gMSA only needs to be enabled and unlocked: the DC rotates its password.

use super::connector::{server_from_description, ConnectorAccount, Engine};
use super::values::{dn_to_dns_name, filetime_to_unix, interval_seconds};
use super::AdContext;
use crate::base::{gauge, unix_now, Check, MetricDef, Need, Probe, ProbeError, ProbeOutput, Status};
use crate::config::AdTarget;

// --- metrics served by this probe
pub static AD_ACCOUNT_INFO: MetricDef = gauge(
    "writeback_ad_account_info",
    &["domain", "account", "engine"],
    "1 per writeback account judged; engine is connect (MSOL_ or configured connector account) or cloud_sync (Entra Cloud Sync provisioning agent gMSA).",
);
pub static AD_CONNECTOR_ACCOUNT_INFO: MetricDef = gauge(
    "writeback_ad_connector_account_info",
    &["domain", "account", "sid", "server"],
    "1 per connector account monitored; server is the Connect server named in the account's description (empty when absent).",
);
pub static AD_CONNECTOR_ACCOUNT_ENABLED: MetricDef = gauge(
    "writeback_ad_connector_account_enabled",
    &["domain", "account"],
    "1 if the connector account is enabled (userAccountControl bit 0x2 clear).",
);
pub static AD_CONNECTOR_ACCOUNT_LOCKED: MetricDef = gauge(
    "writeback_ad_connector_account_locked",
    &["domain", "account"],
    "1 if the connector account is locked out (msDS-User-Account-Control-Computed 0x10, else lockoutTime within the lockout duration).",
);
pub static AD_CONNECTOR_ACCOUNT_PASSWORD_LAST_SET: MetricDef = gauge(
    "writeback_ad_connector_account_password_last_set_timestamp_seconds",
    &["domain", "account"],
    "When the connector account's password was last set (pwdLastSet), Unix seconds; absent when it must change at next logon.",
);
pub static AD_CONNECTOR_ACCOUNT_PASSWORD_EXPIRY: MetricDef = gauge(
    "writeback_ad_connector_account_password_expiry_timestamp_seconds",
    &["domain", "account"],
    "When the connector account's password expires (msDS-UserPasswordExpiryTimeComputed), Unix seconds; +Inf when it never expires; absent for Cloud Sync gMSAs (the DC rotates their password).",
);

const UF_ACCOUNTDISABLE: i64 = 0x2;
const UF_LOCKOUT: i64 = 0x10;
const UF_PASSWORD_EXPIRED: i64 = 0x80_0000;
/// Warn this long before the connector's password expires.
const EXPIRY_WARNING_SECONDS: f64 = 14.0 * 86_400.0;

/// The probe: is each connector account usable?
pub static PROBE: Probe<AdContext, AdTarget> = Probe {
    name: "ad_connector",
    metrics: &[
        &AD_ACCOUNT_INFO,
        &AD_CONNECTOR_ACCOUNT_INFO,
        &AD_CONNECTOR_ACCOUNT_ENABLED,
        &AD_CONNECTOR_ACCOUNT_LOCKED,
        &AD_CONNECTOR_ACCOUNT_PASSWORD_LAST_SET,
        &AD_CONNECTOR_ACCOUNT_PASSWORD_EXPIRY,
    ],
    needs: &[Need::DomainControllers, Need::ConnectorAccounts],
    default_interval: None,
    enabled: |_| true,
    run: |ctx| Box::pin(run(ctx)),
};

/// # Errors
/// When no DC answers or the accounts cannot be searched.
pub async fn run(ctx: &AdContext) -> Result<ProbeOutput, ProbeError> {
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
        out.sample(&AD_ACCOUNT_INFO, &[&domain, sam, account.engine.label()], 1.0);
        out.sample(&AD_CONNECTOR_ACCOUNT_INFO, &[&domain, sam, &account.sid.to_string(), &server], 1.0);
        out.sample(&AD_CONNECTOR_ACCOUNT_ENABLED, &[&domain, sam], f64::from(u8::from(state.enabled)));
        out.sample(&AD_CONNECTOR_ACCOUNT_LOCKED, &[&domain, sam], f64::from(u8::from(state.locked)));
        if let Some(at) = state.password_last_set {
            out.sample(&AD_CONNECTOR_ACCOUNT_PASSWORD_LAST_SET, &[&domain, sam], at);
        }
        if account.engine == Engine::Connect {
            out.sample(&AD_CONNECTOR_ACCOUNT_PASSWORD_EXPIRY, &[&domain, sam], state.password_expiry);
        }
        out.checks.push(match account.engine {
            Engine::Connect => state.check(sam, now),
            Engine::CloudSync => state.gmsa_check(sam),
        });
    }
    let enabled_msol =
        connectors.of(Engine::Connect).filter(|a| a.user_account_control & UF_ACCOUNTDISABLE == 0).count();
    if connectors.discovered && enabled_msol > 1 {
        let names: Vec<&str> = connectors.of(Engine::Connect).map(|a| a.sam.as_str()).collect();
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

    /// A Cloud Sync gMSA: enabled and not locked; its password is the DC's business (msDS-ManagedPasswordInterval).
    fn gmsa_check(&self, account: &str) -> Check {
        let mut problems = Vec::new();
        if !self.enabled {
            problems.push("disabled");
        }
        if self.locked {
            problems.push("locked out");
        }
        let status = if problems.is_empty() { Status::Pass } else { Status::Fail };
        Check {
            id: "ad_connector_account_usable",
            subject: account.to_string(),
            title: "Cloud Sync gMSA is enabled and unlocked".to_string(),
            status,
            observed: if problems.is_empty() {
                "enabled, not locked (password rotated by the DC)".to_string()
            } else {
                problems.join(", ")
            },
            remediation: (status != Status::Pass).then(|| {
                format!(
                    "The Cloud Sync provisioning agent (service \"Microsoft Azure AD Connect Provisioning Agent\") runs \
                     as this gMSA and writes passwords back with it: Enable-ADAccount / Unlock-ADAccount -Identity \
                     '{account}', then restart the agent's service."
                )
            }),
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
