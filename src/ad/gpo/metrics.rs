//! The metrics of probe `ad_gpo` (emitted by `evaluate`).

use crate::base::{gauge, MetricDef};
pub static AD_GPO_INFO: MetricDef = gauge(
    "writeback_ad_gpo_info",
    &["domain", "gpo", "guid", "linked_at"],
    "1 per Group Policy object linked with an enabled link at the domain root (linked_at=domain) or the Domain Controllers OU (linked_at=domain_controllers); gpo is its display name, guid its {GUID}.",
);
pub static AD_GPO_LINK_ORDER: MetricDef = gauge(
    "writeback_ad_gpo_link_order",
    &["domain", "gpo", "linked_at"],
    "The GPO link's precedence on its container, as GPMC shows it (1 = wins).",
);
pub static AD_GPO_MIN_PASSWORD_AGE: MetricDef = gauge(
    "writeback_ad_gpo_min_password_age_seconds",
    &["domain", "gpo"],
    "MinimumPasswordAge as a domain-linked GPO's GptTmpl.inf in SYSVOL sets it, in seconds (days x 86400); absent when the GPO does not set it. Writeback wants 0.",
);
pub static AD_GPO_PASSWORD_POLICY_DRIFT: MetricDef = gauge(
    "writeback_ad_gpo_password_policy_drift",
    &["domain", "setting"],
    "1 when the winning domain-linked GPO's value of this setting (min_password_age, max_password_age, min_password_length, password_history_length, complexity, lockout_threshold) differs from what the domain object holds (not applied yet: gpupdate on the PDC emulator), 0 when they agree; absent when no GPO sets it.",
);
pub static AD_RESTRICT_REMOTE_SAM_CONFIGURED: MetricDef = gauge(
    "writeback_ad_restrict_remote_sam_configured",
    &["domain", "gpo"],
    "1 when the GPO (linked at the domain root or the Domain Controllers OU) sets RestrictRemoteSAM (Network access: Restrict clients allowed to make remote calls to SAM), else 0.",
);
pub static AD_RESTRICT_REMOTE_SAM_ALLOWS_CONNECTOR: MetricDef = gauge(
    "writeback_ad_restrict_remote_sam_allows_connector",
    &["domain", "gpo", "account"],
    "1 when the GPO's RestrictRemoteSAM SDDL grants the connector account remote SAM access (READ_CONTROL, with its groups), 0 when it would block password writeback (SSPR_0029).",
);
pub static AD_GPO_TEMPLATE_READABLE: MetricDef = gauge(
    "writeback_ad_gpo_template_readable",
    &["domain", "gpo"],
    "1 when the GPO's GptTmpl.inf was read and parsed (or the GPO has none: it sets no security settings), 0 when it is malformed (its settings are then unknown and it is skipped when choosing winners).",
);
