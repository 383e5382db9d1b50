//! What a GPO's security template says about writeback: the `[System Access]` password and lockout settings, and
//! the `RestrictRemoteSAM` SDDL of `[Registry Values]`, evaluated for a connector account's token. Pure.

use super::inf::{split_list, Inf, InfError};
use crate::ad::security::flags::{GENERIC_ALL, GENERIC_READ, INHERIT_ONLY, READ_CONTROL};
use crate::ad::security::{parse_sddl, AceType, Sid, Token};
use crate::ad::values::describe_seconds;

const SYSTEM_ACCESS: &str = "System Access";
const REGISTRY_VALUES: &str = "Registry Values";
pub const RESTRICT_REMOTE_SAM: &str = r"MACHINE\System\CurrentControlSet\Control\Lsa\RestrictRemoteSAM";
const DAY: f64 = 86_400.0;

/// The account policy settings a GPO and the domain object both hold (the `setting` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Setting {
    MinPasswordAge,
    MaxPasswordAge,
    MinPasswordLength,
    PasswordHistoryLength,
    Complexity,
    LockoutThreshold,
}

impl Setting {
    pub const ALL: [Setting; 6] = [
        Setting::MinPasswordAge,
        Setting::MaxPasswordAge,
        Setting::MinPasswordLength,
        Setting::PasswordHistoryLength,
        Setting::Complexity,
        Setting::LockoutThreshold,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Setting::MinPasswordAge => "min_password_age",
            Setting::MaxPasswordAge => "max_password_age",
            Setting::MinPasswordLength => "min_password_length",
            Setting::PasswordHistoryLength => "password_history_length",
            Setting::Complexity => "complexity",
            Setting::LockoutThreshold => "lockout_threshold",
        }
    }

    /// The key in `[System Access]`.
    pub fn inf_key(self) -> &'static str {
        match self {
            Setting::MinPasswordAge => "MinimumPasswordAge",
            Setting::MaxPasswordAge => "MaximumPasswordAge",
            Setting::MinPasswordLength => "MinimumPasswordLength",
            Setting::PasswordHistoryLength => "PasswordHistorySize",
            Setting::Complexity => "PasswordComplexity",
            Setting::LockoutThreshold => "LockoutBadCount",
        }
    }

    /// The domain root attribute it becomes.
    pub fn attribute(self) -> &'static str {
        match self {
            Setting::MinPasswordAge => "minPwdAge",
            Setting::MaxPasswordAge => "maxPwdAge",
            Setting::MinPasswordLength => "minPwdLength",
            Setting::PasswordHistoryLength => "pwdHistoryLength",
            Setting::Complexity => "pwdProperties",
            Setting::LockoutThreshold => "lockoutThreshold",
        }
    }

    /// The template's raw value in the unit the metrics use (seconds for ages, `+Inf` for "never expires").
    fn metric_value(self, raw: i64) -> Result<f64, String> {
        let days = || raw as f64 * DAY;
        match self {
            Setting::MinPasswordAge if raw < 0 => Err(format!("MinimumPasswordAge = {raw} is negative")),
            Setting::MinPasswordAge => Ok(days()),
            // -1 and 0 both mean "passwords never expire".
            Setting::MaxPasswordAge if raw <= 0 => Ok(f64::INFINITY),
            Setting::MaxPasswordAge => Ok(days()),
            Setting::Complexity => Ok(if raw == 0 { 0.0 } else { 1.0 }),
            _ if raw < 0 => Err(format!("{} = {raw} is negative", self.inf_key())),
            _ => Ok(raw as f64),
        }
    }

    /// Human form for check reports.
    pub fn describe(self, value: f64) -> String {
        match self {
            Setting::MinPasswordAge | Setting::MaxPasswordAge => describe_seconds(value),
            Setting::Complexity => if value != 0.0 { "enabled" } else { "disabled" }.to_string(),
            _ => format!("{value}"),
        }
    }
}

/// The settings of one template that matter here.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Template {
    /// Settings the template sets, with their value in metric units.
    pub settings: Vec<(Setting, f64)>,
    /// The RestrictRemoteSAM SDDL when the template sets a non-empty one, with its line.
    pub restrict_remote_sam: Option<(String, usize)>,
}

impl Template {
    pub fn get(&self, setting: Setting) -> Option<f64> {
        self.settings.iter().find(|(s, _)| *s == setting).map(|(_, v)| *v)
    }

    /// Reads the relevant settings of a parsed template.
    ///
    /// # Errors
    /// A setting that is not an integer or out of range; a RestrictRemoteSAM value that is not `1,"<SDDL>"`.
    pub fn from_inf(inf: &Inf) -> Result<Template, InfError> {
        let mut template = Template::default();
        for setting in Setting::ALL {
            if let Some(raw) = inf.int(SYSTEM_ACCESS, setting.inf_key())? {
                let line = inf.get(SYSTEM_ACCESS, setting.inf_key()).map_or(0, |e| e.line);
                let value = setting.metric_value(raw).map_err(|problem| InfError { line, problem })?;
                template.settings.push((setting, value));
            }
        }
        if let Some(entry) = inf.get(REGISTRY_VALUES, RESTRICT_REMOTE_SAM) {
            let bad = |problem: &str| InfError { line: entry.line, problem: format!("RestrictRemoteSAM {problem}") };
            let value = entry.value.as_deref().ok_or_else(|| bad("has no value"))?;
            let parts = split_list(value);
            match parts.as_slice() {
                [kind, sddl] if kind.trim() == "1" => {
                    if !sddl.trim().is_empty() {
                        template.restrict_remote_sam = Some((sddl.trim().to_string(), entry.line));
                    }
                }
                _ => return Err(bad("is not `1,\"<SDDL>\"` (a REG_SZ holding a security descriptor)")),
            }
        }
        Ok(template)
    }
}

/// Whether a RestrictRemoteSAM SDDL lets `token` call SAM remotely: the SAM server's access check asks for
/// READ_CONTROL (Microsoft: "Network access: Restrict clients allowed to make remote calls to SAM"). The caller
/// arrives with a network logon, so NETWORK (S-1-5-2) is in its token too. A NULL DACL allows everyone.
///
/// # Errors
/// SDDL that does not parse (the message names the position).
pub fn sam_allows(sddl: &str, domain_sid: Option<&Sid>, token: &Token) -> Result<bool, String> {
    let parsed = parse_sddl(sddl, domain_sid).map_err(|e| e.to_string())?;
    let Some(aces) = parsed.dacl else { return Ok(true) };
    let network: Sid = "S-1-5-2".parse().map_err(|_| "S-1-5-2".to_string())?;
    let token = Token::from_sids(token.sids().iter().cloned().chain([network]));
    for ace in &aces {
        if ace.flags & INHERIT_ONLY != 0 || ace.mask & (READ_CONTROL | GENERIC_READ | GENERIC_ALL) == 0 {
            continue;
        }
        let allow = match ace.ace_type {
            AceType::AccessAllowed => true,
            AceType::AccessDenied => false,
            _ => continue,
        };
        if token.contains(ace.sid.as_bytes()) {
            return Ok(allow);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ad::security::well_known;

    fn domain() -> Sid {
        "S-1-5-21-1-2-3".parse().unwrap()
    }

    fn connector(groups: &[&str]) -> Token {
        Token::new(domain().with_rid(1105), groups.iter().map(|g| g.parse().unwrap()))
    }

    #[test]
    fn system_access_settings_convert() {
        let inf = super::super::inf::parse(
            "[System Access]\nMinimumPasswordAge = 1\nMaximumPasswordAge = -1\nMinimumPasswordLength = 7\n\
             PasswordComplexity = 1\nPasswordHistorySize = 24\nLockoutBadCount = 0\n",
        )
        .unwrap();
        let t = Template::from_inf(&inf).unwrap();
        assert_eq!(t.get(Setting::MinPasswordAge), Some(86_400.0));
        assert_eq!(t.get(Setting::MaxPasswordAge), Some(f64::INFINITY));
        assert_eq!(t.get(Setting::MinPasswordLength), Some(7.0));
        assert_eq!(t.get(Setting::Complexity), Some(1.0));
        assert_eq!(t.get(Setting::PasswordHistoryLength), Some(24.0));
        assert_eq!(t.get(Setting::LockoutThreshold), Some(0.0));
        assert_eq!(t.restrict_remote_sam, None);
    }

    #[test]
    fn bad_values_name_their_line() {
        let inf = super::super::inf::parse("[System Access]\n\nMinimumPasswordAge = -3\n").unwrap();
        let e = Template::from_inf(&inf).unwrap_err();
        assert_eq!(e.line, 3);
        let inf = super::super::inf::parse(&format!("[Registry Values]\n{RESTRICT_REMOTE_SAM}=4,1\n")).unwrap();
        assert_eq!(Template::from_inf(&inf).unwrap_err().line, 2);
    }

    #[test]
    fn restrict_remote_sam_is_read() {
        let text = format!("[Registry Values]\n{RESTRICT_REMOTE_SAM}=1,\"O:BAG:BAD:(A;;RC;;;BA)\"\n");
        let t = Template::from_inf(&super::super::inf::parse(&text).unwrap()).unwrap();
        assert_eq!(t.restrict_remote_sam, Some(("O:BAG:BAD:(A;;RC;;;BA)".to_string(), 2)));
        let empty = format!("[Registry Values]\n{RESTRICT_REMOTE_SAM}=1,\"\"\n");
        assert_eq!(Template::from_inf(&super::super::inf::parse(&empty).unwrap()).unwrap().restrict_remote_sam, None);
    }

    #[test]
    fn sam_sddl_is_evaluated_per_token() {
        let d = domain();
        let plain = connector(&[]);
        let admin = connector(&["S-1-5-32-544"]);
        let sync_group = d.with_rid(1200).to_string();
        let in_group = connector(&[&sync_group]);
        let only_admins = "O:BAG:BAD:(A;;RC;;;BA)";
        assert!(!sam_allows(only_admins, Some(&d), &plain).unwrap());
        assert!(sam_allows(only_admins, Some(&d), &admin).unwrap());
        let with_group = format!("O:BAG:BAD:(A;;RC;;;BA)(A;;RC;;;{sync_group})");
        assert!(sam_allows(&with_group, Some(&d), &in_group).unwrap());
        assert!(!sam_allows(&with_group, Some(&d), &plain).unwrap());
        // Deny first wins; an allow without READ_CONTROL does not count; inherit-only is skipped.
        let deny = format!("O:BAG:BAD:(D;;RC;;;{sync_group})(A;;RC;;;AU)");
        assert!(!sam_allows(&deny, Some(&d), &in_group).unwrap());
        assert!(sam_allows(&deny, Some(&d), &plain).unwrap());
        assert!(!sam_allows("O:BAG:BAD:(A;;WP;;;AU)", Some(&d), &plain).unwrap());
        assert!(!sam_allows("O:BAG:BAD:(A;IO;RC;;;AU)", Some(&d), &plain).unwrap());
        assert!(sam_allows("O:BAG:BAD:(A;;GA;;;NU)", Some(&d), &plain).unwrap());
        assert!(sam_allows("O:BAG:BA", Some(&d), &plain).is_ok_and(|ok| ok), "no DACL: everyone");
        assert!(sam_allows("D:(A;;RC;;;", Some(&d), &plain).is_err());
        let _ = well_known::everyone();
    }
}
