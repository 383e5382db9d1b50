//! The password policy that applies to one user: the resultant PSO (`msDS-ResultantPSO` where readable, else the
//! PSOs that name the user or one of its groups, by precedence), else the domain policy; and when the user may
//! change the password again. A password reset through writeback fails inside the minimum age (event 33008).

use ldap3::Scope;
use serde::Serialize;

use crate::ad::security::{Guid, Sid};
use crate::ad::values::{describe_seconds, filetime_to_unix, interval_seconds};
use crate::ad::{dn, Entry, LdapError, Session};
use crate::graph::time::format_rfc3339;

/// Most `msDS-PSOAppliesTo` subjects resolved to SIDs (each is one read).
pub const MAX_SUBJECTS: usize = 64;

/// The policy in force for the user.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PasswordPolicy {
    /// `resultant_pso` (the DC's msDS-ResultantPSO), `pso` (computed from the readable PSOs), `domain`.
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pso: Option<PsoRef>,
    /// `None` when the PSO that applies could not be read.
    pub min_age_seconds: Option<f64>,
    pub min_age: String,
    /// When the password was last set (RFC 3339); `None`: never, or must change at next logon.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pwd_last_set: Option<String>,
    /// `pwdLastSet` + minimum age, when that is in the future.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub may_change_at: Option<String>,
    /// A writeback reset now would fail for the minimum age.
    pub blocked_now: bool,
    /// What could not be read (PSOs hidden from the monitoring account), when it matters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PsoRef {
    pub dn: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precedence: Option<i64>,
    /// `direct` (names the user), `group` (names one of its groups), or `resultant` (named by the DC).
    pub applies: &'static str,
}

/// A PSO that applies to the user, for [`resultant`].
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub dn: String,
    pub name: String,
    pub precedence: i64,
    pub guid: Guid,
    pub min_age_seconds: f64,
    /// It names the user itself (not a group).
    pub direct: bool,
}

/// MS-ADTS 3.1.1.5.2.4 / Microsoft's rules: a PSO linked to the user beats any linked to its groups; among those,
/// the lowest `msDS-PasswordSettingsPrecedence` wins; a tie goes to the lowest objectGUID.
pub fn resultant(candidates: &[Candidate]) -> Option<&Candidate> {
    let direct = candidates.iter().any(|c| c.direct);
    candidates.iter().filter(|c| c.direct || !direct).min_by_key(|c| (c.precedence, c.guid.to_u128()))
}

/// What the user entry gave for the policy.
pub struct UserFacts<'a> {
    pub dn: &'a str,
    pub sid: Option<&'a Sid>,
    pub groups: &'a [Sid],
    pub pwd_last_set: Option<i64>,
    pub resultant_pso: Option<&'a str>,
}

const PSO_ATTRS: [&str; 5] =
    ["cn", "msDS-MinimumPasswordAge", "msDS-PasswordSettingsPrecedence", "msDS-PSOAppliesTo", "objectGUID"];

struct PsoRead {
    dn: String,
    name: String,
    min_age: Option<f64>,
    precedence: Option<i64>,
    applies_to: Vec<String>,
    guid: Option<Guid>,
}

fn pso_from(e: &Entry) -> PsoRead {
    PsoRead {
        dn: e.dn.clone(),
        name: e.first("cn").unwrap_or_default().to_string(),
        min_age: e.int("msDS-MinimumPasswordAge").ok().flatten().map(interval_seconds),
        precedence: e.int("msDS-PasswordSettingsPrecedence").ok().flatten(),
        applies_to: e.values("msDS-PSOAppliesTo").map(str::to_string).collect(),
        guid: e.raw("objectGUID").first().and_then(|b| Guid::from_slice(b).ok()),
    }
}

/// Reads the policy for `user`: the DC's resultant PSO, else the PSOs, else the domain's `minPwdAge` (`domain_min_age`
/// in seconds, read by the caller from the domain root). `now` is Unix seconds.
///
/// # Errors
/// Connection failures; what is merely unreadable is said in [`PasswordPolicy::note`].
pub async fn read(
    session: &mut Session,
    domain_dn: &str,
    domain_min_age: Option<f64>,
    user: &UserFacts<'_>,
    page_size: u32,
    now: f64,
) -> Result<PasswordPolicy, LdapError> {
    let mut note = None;
    let mut chosen: Option<(PsoRef, Option<f64>)> = None;
    let mut source = "domain";
    if let Some(pso_dn) = user.resultant_pso {
        source = "resultant_pso";
        let read = optional(session.read(pso_dn, &PSO_ATTRS, "read the resultant PSO").await)?;
        let pso = read.as_ref().map(pso_from);
        let name = pso.as_ref().map(|p| p.name.clone()).filter(|n| !n.is_empty()).unwrap_or_else(|| rdn_value(pso_dn));
        let min_age = pso.as_ref().and_then(|p| p.min_age);
        if min_age.is_none() {
            note = Some(format!("the DC names PSO {name} for this user, but its settings are not readable"));
        }
        let precedence = pso.and_then(|p| p.precedence);
        chosen = Some((PsoRef { dn: pso_dn.to_string(), name, precedence, applies: "resultant" }, min_age));
    } else {
        match applicable_psos(session, domain_dn, user, page_size).await? {
            Ok(candidates) => {
                if let Some(c) = resultant(&candidates) {
                    source = "pso";
                    let applies = if c.direct { "direct" } else { "group" };
                    let pso =
                        PsoRef { dn: c.dn.clone(), name: c.name.clone(), precedence: Some(c.precedence), applies };
                    chosen = Some((pso, Some(c.min_age_seconds)));
                }
            }
            Err(unreadable) => note = Some(unreadable),
        }
    }
    let (pso, min_age) = match chosen {
        Some((pso, age)) => (Some(pso), age),
        None => (None, domain_min_age),
    };
    Ok(timing(source, pso, min_age, user.pwd_last_set, now, note))
}

/// The policy with its times: `pwdLastSet` + the minimum age against `now`.
pub fn timing(
    source: &'static str,
    pso: Option<PsoRef>,
    min_age: Option<f64>,
    pwd_last_set: Option<i64>,
    now: f64,
    note: Option<String>,
) -> PasswordPolicy {
    let last = pwd_last_set.and_then(filetime_to_unix);
    let until = match (last, min_age) {
        (Some(last), Some(age)) if age > 0.0 && age.is_finite() => Some(last + age),
        _ => None,
    };
    let blocked_now = until.is_some_and(|t| t > now);
    // AD always holds pwdLastSet (0 when never set): absent means hidden from the monitoring account.
    let note = match (pwd_last_set, min_age) {
        (None, Some(age)) if age > 0.0 => {
            let hidden = "pwdLastSet is not readable by the monitoring account: when the user may change the password \
                          again is unknown";
            Some(note.map_or_else(|| hidden.to_string(), |n| format!("{n}; {hidden}")))
        }
        _ => note,
    };
    PasswordPolicy {
        source,
        pso,
        min_age_seconds: min_age,
        min_age: min_age.map_or_else(|| "unknown".to_string(), describe_seconds),
        pwd_last_set: last.map(format_rfc3339),
        may_change_at: until.filter(|t| *t > now).map(format_rfc3339),
        blocked_now,
        note,
    }
}

fn optional(read: Result<Option<Entry>, LdapError>) -> Result<Option<Entry>, LdapError> {
    match read {
        Err(LdapError::Permission { .. } | LdapError::Referral { .. }) => Ok(None),
        other => other,
    }
}

fn rdn_value(dn: &str) -> String {
    dn.split(',').next().and_then(|r| r.split_once('=')).map_or_else(|| dn.to_string(), |(_, v)| v.to_string())
}

/// The readable PSOs that name the user or one of its groups; the inner error says why they cannot be told.
async fn applicable_psos(
    session: &mut Session,
    domain_dn: &str,
    user: &UserFacts<'_>,
    page_size: u32,
) -> Result<Result<Vec<Candidate>, String>, LdapError> {
    let container = format!("CN=Password Settings Container,CN=System,{domain_dn}");
    let entry = optional(session.read(&container, &["cn"], "read the Password Settings Container").await)?;
    if entry.as_ref().is_none_or(|e| e.first("cn").is_none()) {
        return Ok(Err("the Password Settings Container is not readable by the monitoring account: a \
                       fine-grained policy may apply; the domain policy is shown"
            .to_string()));
    }
    let mut psos = Vec::new();
    session
        .search_paged(
            &container,
            Scope::OneLevel,
            "(objectClass=msDS-PasswordSettings)",
            &PSO_ATTRS,
            Vec::new(),
            page_size,
            "read PSOs",
            |e| psos.push(pso_from(&e)),
        )
        .await?;
    if psos.iter().any(|p| p.min_age.is_none() || p.guid.is_none()) {
        return Ok(Err("some fine-grained password policies are visible but not readable by the monitoring \
                       account; the domain policy is shown"
            .to_string()));
    }
    let user_dn = dn::normalize(user.dn);
    let mut resolved = 0;
    let mut candidates = Vec::new();
    for pso in psos {
        let mut direct = false;
        let mut via_group = false;
        for subject in &pso.applies_to {
            if dn::normalize(subject) == user_dn {
                direct = true;
                continue;
            }
            if via_group || user.groups.is_empty() {
                continue;
            }
            resolved += 1;
            if resolved > MAX_SUBJECTS {
                return Ok(Err(format!(
                    "the PSOs name more than {MAX_SUBJECTS} subjects; not all were resolved, so the domain policy \
                     is shown"
                )));
            }
            let read = optional(session.read(subject, &["objectSid"], "read a PSO subject").await)?;
            let sid = read.and_then(|e| e.raw("objectSid").first().and_then(|b| Sid::from_bytes(b).ok()));
            via_group = sid.is_some_and(|(s, _)| user.groups.contains(&s) && Some(&s) != user.sid);
        }
        if direct || via_group {
            candidates.push(Candidate {
                dn: pso.dn,
                name: pso.name,
                precedence: pso.precedence.unwrap_or(i64::MAX),
                guid: pso.guid.unwrap_or(Guid([0; 16])),
                min_age_seconds: pso.min_age.unwrap_or(0.0),
                direct,
            });
        }
    }
    Ok(Ok(candidates))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(name: &str, precedence: i64, guid: u128, direct: bool) -> Candidate {
        Candidate {
            dn: format!("CN={name},CN=Password Settings Container,CN=System,DC=d"),
            name: name.to_string(),
            precedence,
            guid: Guid::from_u128(guid),
            min_age_seconds: 86_400.0,
            direct,
        }
    }

    #[test]
    fn precedence_rules() {
        let cases: &[(&[Candidate], Option<&str>)] = &[
            (&[], None),
            (&[candidate("a", 10, 1, false), candidate("b", 5, 2, false)], Some("b")),
            // A PSO on the user itself beats a group's, whatever the precedence.
            (&[candidate("group", 1, 1, false), candidate("user", 50, 2, true)], Some("user")),
            (&[candidate("u1", 20, 1, true), candidate("u2", 10, 2, true), candidate("g", 1, 3, false)], Some("u2")),
            // A tie goes to the lowest GUID.
            (&[candidate("hi", 10, 0xff, false), candidate("lo", 10, 0x0f, false)], Some("lo")),
        ];
        for (candidates, winner) in cases {
            assert_eq!(resultant(candidates).map(|c| c.name.as_str()), *winner, "{candidates:?}");
        }
    }

    #[test]
    fn may_change_again_after_the_minimum_age() {
        // pwdLastSet 2024-01-01T00:00:00Z, minimum age 1 day.
        let set = 133_485_408_000_000_000;
        let now = 1_704_067_200.0 + 3_600.0;
        let p = timing("domain", None, Some(86_400.0), Some(set), now, None);
        assert_eq!(p.pwd_last_set.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(p.may_change_at.as_deref(), Some("2024-01-02T00:00:00Z"));
        assert!(p.blocked_now);
        assert_eq!(p.min_age, "1 day");
        let later = timing("domain", None, Some(86_400.0), Some(set), now + 86_400.0, None);
        assert!(!later.blocked_now && later.may_change_at.is_none());
        // Must change at next logon (0) and a minimum of 0 never block.
        assert!(!timing("domain", None, Some(86_400.0), Some(0), now, None).blocked_now);
        assert!(!timing("domain", None, Some(0.0), Some(set), now, None).blocked_now);
        assert_eq!(timing("pso", None, None, Some(set), now, None).min_age, "unknown");
    }
}
