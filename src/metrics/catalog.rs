//! Every metric the exporter serves: name, type, labels and HELP text (the contract of METRICS.md).
//!
//! Probe metrics name their probe so that the rendered HELP can say how often the cached value is refreshed.

use crate::probe::ProbeName;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

#[derive(Debug, PartialEq, Eq)]
pub struct MetricDef {
    pub name: &'static str,
    pub kind: Kind,
    /// Label names after `target`, which every probe metric carries first.
    pub labels: &'static [&'static str],
    pub help: &'static str,
    /// The probe that computes it; `None` for exporter-level metrics.
    pub probe: Option<ProbeName>,
}

const fn gauge(name: &'static str, probe: ProbeName, labels: &'static [&'static str], help: &'static str) -> MetricDef {
    MetricDef { name, kind: Kind::Gauge, labels, help, probe: Some(probe) }
}

// --- ad_topology
pub static AD_DC_UP: MetricDef = gauge(
    "writeback_ad_dc_up",
    ProbeName::AdTopology,
    &["domain", "dc"],
    "1 if the domain controller accepted the bind and answered the rootDSE.",
);
pub static AD_DC_POLICY_HINTS_SUPPORTED: MetricDef = gauge(
    "writeback_ad_dc_policy_hints_supported",
    ProbeName::AdTopology,
    &["domain", "dc"],
    "1 if the DC's rootDSE supportedControl lists LDAP_SERVER_POLICY_HINTS_OID 1.2.840.113556.1.4.2066, which Entra Connect needs for password writeback.",
);

// --- ad_policy (domain part)
pub static AD_DOMAIN_MIN_PASSWORD_AGE: MetricDef = gauge(
    "writeback_ad_domain_min_password_age_seconds",
    ProbeName::AdPolicy,
    &["domain"],
    "Domain minPwdAge in seconds; password writeback needs 0.",
);
pub static AD_DOMAIN_MAX_PASSWORD_AGE: MetricDef = gauge(
    "writeback_ad_domain_max_password_age_seconds",
    ProbeName::AdPolicy,
    &["domain"],
    "Domain maxPwdAge in seconds; +Inf when passwords never expire.",
);
pub static AD_DOMAIN_MIN_PASSWORD_LENGTH: MetricDef =
    gauge("writeback_ad_domain_min_password_length", ProbeName::AdPolicy, &["domain"], "Domain minPwdLength.");
pub static AD_DOMAIN_PASSWORD_HISTORY_LENGTH: MetricDef =
    gauge("writeback_ad_domain_password_history_length", ProbeName::AdPolicy, &["domain"], "Domain pwdHistoryLength.");
pub static AD_DOMAIN_PASSWORD_COMPLEXITY_ENABLED: MetricDef = gauge(
    "writeback_ad_domain_password_complexity_enabled",
    ProbeName::AdPolicy,
    &["domain"],
    "1 if the domain's pwdProperties has the complexity bit (0x1).",
);
pub static AD_DOMAIN_LOCKOUT_THRESHOLD: MetricDef = gauge(
    "writeback_ad_domain_lockout_threshold",
    ProbeName::AdPolicy,
    &["domain"],
    "Domain lockoutThreshold (bad password attempts before lockout; 0 = never locks).",
);

pub static AD_PSO_READABLE: MetricDef = gauge(
    "writeback_ad_pso_readable",
    ProbeName::AdPolicy,
    &["domain"],
    "1 if the Password Settings Container could be read (0: fine-grained policies cannot be checked, which is not the same as none).",
);
pub static AD_PSO_MIN_PASSWORD_AGE: MetricDef = gauge(
    "writeback_ad_pso_min_password_age_seconds",
    ProbeName::AdPolicy,
    &["domain", "pso"],
    "msDS-MinimumPasswordAge of a fine-grained password policy, in seconds; writeback wants 0.",
);
pub static AD_PSO_PRECEDENCE: MetricDef = gauge(
    "writeback_ad_pso_precedence",
    ProbeName::AdPolicy,
    &["domain", "pso"],
    "msDS-PasswordSettingsPrecedence of a fine-grained password policy (lower wins).",
);

// --- ad_acl
pub static AD_SCOPE_PERMISSION: MetricDef = gauge(
    "writeback_ad_scope_permission",
    ProbeName::AdAcl,
    &["domain", "dc", "scope", "account", "permission"],
    "1 if a user object created directly in the scope would give the connector account this right, as read on this DC (the user class's default security descriptor followed by the scope's inheritable ACEs; deny ACEs, groups and well-known SIDs considered).",
);
pub static AD_DOMAIN_UNEXPIRE_PASSWORD: MetricDef = gauge(
    "writeback_ad_domain_unexpire_password",
    ProbeName::AdAcl,
    &["domain", "dc", "account"],
    "1 if the connector account holds Unexpire Password on the domain root, as read on this DC.",
);

// --- ad_users
pub static AD_USERS: MetricDef = gauge(
    "writeback_ad_users",
    ProbeName::AdUsers,
    &["domain", "scope"],
    "Enabled user accounts (classes user and inetOrgPerson) under the scope.",
);
pub static AD_USERS_READY: MetricDef = gauge(
    "writeback_ad_users_ready",
    ProbeName::AdUsers,
    &["domain", "scope", "account"],
    "Users on whose own DACL the connector account effectively holds all four writeback rights.",
);
pub static AD_USERS_MISSING_PERMISSION: MetricDef = gauge(
    "writeback_ad_users_missing_permission",
    ProbeName::AdUsers,
    &["domain", "scope", "account", "permission"],
    "Users on which the connector account lacks this right.",
);
pub static AD_USERS_NOT_READY: MetricDef = gauge(
    "writeback_ad_users_not_ready",
    ProbeName::AdUsers,
    &["domain", "scope", "account", "reason"],
    "Users not ready for writeback, by first cause: protected (adminCount=1), inheritance_disabled, object_class, denied, not_granted.",
);
pub static AD_USERS_INHERITANCE_DISABLED: MetricDef = gauge(
    "writeback_ad_users_inheritance_disabled",
    ProbeName::AdUsers,
    &["domain", "scope"],
    "Users whose DACL is protected from inheritance (SE_DACL_PROTECTED).",
);
pub static AD_USERS_PROTECTED: MetricDef = gauge(
    "writeback_ad_users_protected",
    ProbeName::AdUsers,
    &["domain", "scope"],
    "Users with adminCount=1 (AdminSDHolder-protected).",
);
pub static AD_USERS_UNREADABLE: MetricDef = gauge(
    "writeback_ad_users_unreadable",
    ProbeName::AdUsers,
    &["domain", "scope"],
    "Users whose security descriptor could not be read or parsed (not counted as ready or not ready; the log names them).",
);

// --- ad_connector
pub static AD_CONNECTOR_ACCOUNT_INFO: MetricDef = gauge(
    "writeback_ad_connector_account_info",
    ProbeName::AdConnector,
    &["domain", "account", "sid", "server"],
    "1 per connector account monitored; server is the Connect server named in the account's description (empty when absent).",
);
pub static AD_CONNECTOR_ACCOUNT_ENABLED: MetricDef = gauge(
    "writeback_ad_connector_account_enabled",
    ProbeName::AdConnector,
    &["domain", "account"],
    "1 if the connector account is enabled (userAccountControl bit 0x2 clear).",
);
pub static AD_CONNECTOR_ACCOUNT_LOCKED: MetricDef = gauge(
    "writeback_ad_connector_account_locked",
    ProbeName::AdConnector,
    &["domain", "account"],
    "1 if the connector account is locked out (msDS-User-Account-Control-Computed 0x10, else lockoutTime within the lockout duration).",
);
pub static AD_CONNECTOR_ACCOUNT_PASSWORD_LAST_SET: MetricDef = gauge(
    "writeback_ad_connector_account_password_last_set_timestamp_seconds",
    ProbeName::AdConnector,
    &["domain", "account"],
    "When the connector account's password was last set (pwdLastSet), Unix seconds; absent when it must change at next logon.",
);
pub static AD_CONNECTOR_ACCOUNT_PASSWORD_EXPIRY: MetricDef = gauge(
    "writeback_ad_connector_account_password_expiry_timestamp_seconds",
    ProbeName::AdConnector,
    &["domain", "account"],
    "When the connector account's password expires (msDS-UserPasswordExpiryTimeComputed), Unix seconds; +Inf when it never expires.",
);

// --- ad_gpo (src/ad/gpo/)
pub static AD_GPO_INFO: MetricDef = gauge(
    "writeback_ad_gpo_info",
    ProbeName::AdGpo,
    &["domain", "gpo", "guid", "linked_at"],
    "1 per Group Policy object linked with an enabled link at the domain root (linked_at=domain) or the Domain Controllers OU (linked_at=domain_controllers); gpo is its display name, guid its {GUID}.",
);
pub static AD_GPO_LINK_ORDER: MetricDef = gauge(
    "writeback_ad_gpo_link_order",
    ProbeName::AdGpo,
    &["domain", "gpo", "linked_at"],
    "The GPO link's precedence on its container, as GPMC shows it (1 = wins).",
);
pub static AD_GPO_MIN_PASSWORD_AGE: MetricDef = gauge(
    "writeback_ad_gpo_min_password_age_seconds",
    ProbeName::AdGpo,
    &["domain", "gpo"],
    "MinimumPasswordAge as a domain-linked GPO's GptTmpl.inf in SYSVOL sets it, in seconds (days x 86400); absent when the GPO does not set it. Writeback wants 0.",
);
pub static AD_GPO_PASSWORD_POLICY_DRIFT: MetricDef = gauge(
    "writeback_ad_gpo_password_policy_drift",
    ProbeName::AdGpo,
    &["domain", "setting"],
    "1 when the winning domain-linked GPO's value of this setting (min_password_age, max_password_age, min_password_length, password_history_length, complexity, lockout_threshold) differs from what the domain object holds (not applied yet: gpupdate on the PDC emulator), 0 when they agree; absent when no GPO sets it.",
);
pub static AD_RESTRICT_REMOTE_SAM_CONFIGURED: MetricDef = gauge(
    "writeback_ad_restrict_remote_sam_configured",
    ProbeName::AdGpo,
    &["domain", "gpo"],
    "1 when the GPO (linked at the domain root or the Domain Controllers OU) sets RestrictRemoteSAM (Network access: Restrict clients allowed to make remote calls to SAM), else 0.",
);
pub static AD_RESTRICT_REMOTE_SAM_ALLOWS_CONNECTOR: MetricDef = gauge(
    "writeback_ad_restrict_remote_sam_allows_connector",
    ProbeName::AdGpo,
    &["domain", "gpo", "account"],
    "1 when the GPO's RestrictRemoteSAM SDDL grants the connector account remote SAM access (READ_CONTROL, with its groups), 0 when it would block password writeback (SSPR_0029).",
);
pub static AD_GPO_TEMPLATE_READABLE: MetricDef = gauge(
    "writeback_ad_gpo_template_readable",
    ProbeName::AdGpo,
    &["domain", "gpo"],
    "1 when the GPO's GptTmpl.inf was read and parsed (or the GPO has none: it sets no security settings), 0 when it is malformed (its settings are then unknown and it is skipped when choosing winners).",
);

// --- entra_* (probes entra_licenses, entra_sync, entra_sspr; src/graph/)
const fn counter(
    name: &'static str,
    probe: ProbeName,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDef {
    MetricDef { name, kind: Kind::Counter, labels, help, probe: Some(probe) }
}

pub static ENTRA_LICENSE_UNITS: MetricDef = gauge(
    "writeback_entra_license_units",
    ProbeName::EntraLicenses,
    &["sku", "state"],
    "Licence units of a subscribed SKU (skuPartNumber) by state: enabled, warning, suspended, locked_out (prepaidUnits) and consumed (consumedUnits).",
);
pub static ENTRA_LICENSE_SKU_WRITEBACK_CAPABLE: MetricDef = gauge(
    "writeback_entra_license_sku_writeback_capable",
    ProbeName::EntraLicenses,
    &["sku"],
    "1 if the SKU includes Entra ID P1 or P2 (service plan AAD_PREMIUM or AAD_PREMIUM_P2, matched by id), which SSPR with password writeback needs.",
);
pub static ENTRA_SYNC_ENABLED: MetricDef = gauge(
    "writeback_entra_sync_enabled",
    ProbeName::EntraSync,
    &[],
    "1 if the organization's onPremisesSyncEnabled is true (false or null: 0).",
);
pub static ENTRA_LAST_SYNC: MetricDef = gauge(
    "writeback_entra_last_sync_timestamp_seconds",
    ProbeName::EntraSync,
    &[],
    "The organization's onPremisesLastSyncDateTime, Unix seconds; absent when never synchronized.",
);
pub static ENTRA_LAST_PASSWORD_SYNC: MetricDef = gauge(
    "writeback_entra_last_password_sync_timestamp_seconds",
    ProbeName::EntraSync,
    &[],
    "The organization's onPremisesLastPasswordSyncDateTime, Unix seconds; absent when Graph does not report it.",
);
pub static ENTRA_PASSWORD_WRITEBACK_FEATURE_ENABLED: MetricDef = gauge(
    "writeback_entra_password_writeback_feature_enabled",
    ProbeName::EntraSync,
    &[],
    "features.passwordWritebackEnabled of beta directory/onPremisesSynchronization (informational: Microsoft documents it as not in use; never alert on it alone).",
);
pub static CONNECT_INFO: MetricDef = gauge(
    "writeback_connect_info",
    ProbeName::EntraSync,
    &["server", "version"],
    "1 for the Entra Connect server that last exported (currentExportData.clientMachineName, lower case) with its synchronizationClientVersion.",
);
pub static CONNECT_VERSION_SUPPORTED: MetricDef = gauge(
    "writeback_connect_version_supported",
    ProbeName::EntraSync,
    &["server"],
    "1 if the Entra Connect version is at least the configured min_connect_version (default 2.5.79.0), compared numerically.",
);
pub static ENTRA_API_PERMISSION_MISSING: MetricDef = gauge(
    "writeback_entra_api_permission_missing",
    ProbeName::EntraSync,
    &["endpoint"],
    "1 if Graph refused this endpoint with 403 (the app lacks its application permission or admin consent), so the metrics it feeds are absent; 0 when it answered.",
);
pub static ENTRA_SSPR_EVENTS_TOTAL: MetricDef = counter(
    "writeback_entra_sspr_events_total",
    ProbeName::EntraSspr,
    &["activity", "result"],
    "Self-service Password Management audit events seen since the exporter (re)loaded its configuration; activity is the snake_case of the documented activity name or other, result is success, failure, timeout or other.",
);

/// Every probe metric.
pub static PROBE_METRICS: &[&MetricDef] = &[
    &AD_DC_UP,
    &AD_DC_POLICY_HINTS_SUPPORTED,
    &AD_DOMAIN_MIN_PASSWORD_AGE,
    &AD_DOMAIN_MAX_PASSWORD_AGE,
    &AD_DOMAIN_MIN_PASSWORD_LENGTH,
    &AD_DOMAIN_PASSWORD_HISTORY_LENGTH,
    &AD_DOMAIN_PASSWORD_COMPLEXITY_ENABLED,
    &AD_DOMAIN_LOCKOUT_THRESHOLD,
    &AD_PSO_READABLE,
    &AD_PSO_MIN_PASSWORD_AGE,
    &AD_PSO_PRECEDENCE,
    &AD_SCOPE_PERMISSION,
    &AD_DOMAIN_UNEXPIRE_PASSWORD,
    &AD_USERS,
    &AD_USERS_READY,
    &AD_USERS_MISSING_PERMISSION,
    &AD_USERS_NOT_READY,
    &AD_USERS_INHERITANCE_DISABLED,
    &AD_USERS_PROTECTED,
    &AD_USERS_UNREADABLE,
    &AD_CONNECTOR_ACCOUNT_INFO,
    &AD_CONNECTOR_ACCOUNT_ENABLED,
    &AD_CONNECTOR_ACCOUNT_LOCKED,
    &AD_CONNECTOR_ACCOUNT_PASSWORD_LAST_SET,
    &AD_CONNECTOR_ACCOUNT_PASSWORD_EXPIRY,
    &AD_GPO_INFO,
    &AD_GPO_LINK_ORDER,
    &AD_GPO_MIN_PASSWORD_AGE,
    &AD_GPO_PASSWORD_POLICY_DRIFT,
    &AD_RESTRICT_REMOTE_SAM_CONFIGURED,
    &AD_RESTRICT_REMOTE_SAM_ALLOWS_CONNECTOR,
    &AD_GPO_TEMPLATE_READABLE,
    // entra_*
    &ENTRA_LICENSE_UNITS,
    &ENTRA_LICENSE_SKU_WRITEBACK_CAPABLE,
    &ENTRA_SYNC_ENABLED,
    &ENTRA_LAST_SYNC,
    &ENTRA_LAST_PASSWORD_SYNC,
    &ENTRA_PASSWORD_WRITEBACK_FEATURE_ENABLED,
    &CONNECT_INFO,
    &CONNECT_VERSION_SUPPORTED,
    &ENTRA_API_PERMISSION_MISSING,
    &ENTRA_SSPR_EVENTS_TOTAL,
];
