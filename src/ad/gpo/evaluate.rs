//! From what `ad_gpo` read to its samples and checks: winners by precedence, drift, RestrictRemoteSAM verdicts.

use std::collections::HashSet;

use super::links::{account_policy_order, domain_controller_order, Link, LinkedAt};
use super::metrics as m;
use super::template::{sam_allows, Setting, Template};
use super::{Gpo, Observed, TemplateState};
use crate::ad::connector::Engine;
use crate::base::{Check, ProbeOutput, Status};

/// GPMC path of the minimum password age setting (the seed's words).
const MIN_AGE_PATH: &str = "Computer Configuration > Policies > Windows Settings > Security Settings > Account \
                            Policies > Password Policy > Minimum password age";
const SAM_PATH: &str = "Computer Configuration > Policies > Windows Settings > Security Settings > Local Policies > \
                        Security Options > Network access: Restrict clients allowed to make remote calls to SAM";

fn flag(b: bool) -> f64 {
    f64::from(u8::from(b))
}

impl Observed {
    fn gpo(&self, guid: &str) -> Option<&(Gpo, TemplateState)> {
        self.gpos.iter().find(|(g, _)| g.guid == guid)
    }

    fn template(&self, guid: &str) -> Option<&Template> {
        match self.gpo(guid) {
            Some((_, TemplateState::Read(t))) => Some(t),
            _ => None,
        }
    }

    fn domain_value(&self, setting: Setting) -> Option<f64> {
        self.domain_values.iter().find(|(s, _)| *s == setting).map(|(_, v)| *v)
    }
}

/// Where a winning value came from.
struct Winner<'a> {
    gpo: &'a Gpo,
    link: &'a Link,
    value: f64,
    /// Higher-precedence GPOs whose template could not be read: the winner is then uncertain.
    unknown_above: Vec<&'a str>,
}

fn winner<'a>(
    obs: &'a Observed,
    order: &[&'a Link],
    value_of: impl Fn(&Template) -> Option<f64>,
) -> Option<Winner<'a>> {
    let mut unknown_above = Vec::new();
    for link in order {
        let Some((gpo, state)) = obs.gpo(&link.guid) else { continue };
        match state {
            TemplateState::Read(t) => {
                if let Some(value) = value_of(t) {
                    return Some(Winner { gpo, link, value, unknown_above });
                }
            }
            TemplateState::Malformed(_) => unknown_above.push(gpo.name.as_str()),
            TemplateState::Absent | TemplateState::Skipped => {}
        }
    }
    None
}

/// GPMC states password ages in days.
fn days_text(seconds: f64) -> String {
    let days = seconds / 86_400.0;
    if days == 1.0 {
        "1 day".to_string()
    } else {
        format!("{days} days")
    }
}

fn describe_link(gpo: &Gpo, link: &Link) -> String {
    let at = match link.at {
        LinkedAt::Domain => "the domain root",
        LinkedAt::DomainControllers => "the Domain Controllers OU",
    };
    let enforced = if link.enforced { ", enforced" } else { "" };
    format!("GPO \"{}\" {} (link order {} at {at}{enforced})", gpo.name, gpo.guid, link.order)
}

pub fn evaluate(obs: &Observed) -> ProbeOutput {
    let mut out = ProbeOutput::default();
    let domain = obs.domain.as_str();
    link_series(obs, &mut out);
    for link in &obs.dangling {
        out.checks.push(Check {
            id: "ad_gpo_link",
            subject: link.guid.clone(),
            title: "Linked Group Policy object exists".to_string(),
            status: Status::Warn,
            observed: format!("linked at {} but no such groupPolicyContainer: {}", link.at.label(), link.dn),
            remediation: Some("Remove the stale link in Group Policy Management (or Remove-GPLink).".to_string()),
        });
    }
    for (gpo, state) in &obs.gpos {
        if let TemplateState::Malformed(message) = state {
            out.checks.push(Check {
                id: "ad_gpo_template",
                subject: gpo.name.clone(),
                title: "GPO security template readable".to_string(),
                status: Status::Warn,
                observed: message.clone(),
                remediation: Some(
                    "Its security settings are unknown to this check. Open the GPO in Group Policy Management and \
                     save its Security Settings again (that rewrites GptTmpl.inf), or correct the file in SYSVOL."
                        .to_string(),
                ),
            });
        }
    }

    let account_order = account_policy_order(&obs.links);
    for link in &account_order {
        if let Some(age) = obs.template(&link.guid).and_then(|t| t.get(Setting::MinPasswordAge)) {
            if let Some((gpo, _)) = obs.gpo(&link.guid) {
                out.sample(&m::AD_GPO_MIN_PASSWORD_AGE, &[domain, &gpo.name], age);
            }
        }
    }
    min_age_check(obs, &account_order, &mut out);
    drift(obs, &account_order, &mut out);
    restrict_remote_sam(obs, &mut out);
    dedupe(&mut out);
    out
}

/// One series per label set: a GPO linked twice to one container, or two GPOs sharing a display name.
fn dedupe(out: &mut ProbeOutput) {
    let mut seen = HashSet::new();
    out.samples.retain(|s| seen.insert((s.metric.name, s.labels.clone())));
}

fn link_series(obs: &Observed, out: &mut ProbeOutput) {
    let domain = obs.domain.as_str();
    for link in obs.links.iter().filter(|l| l.enabled) {
        let Some((gpo, state)) = obs.gpo(&link.guid) else { continue };
        let at = link.at.label();
        out.sample(&m::AD_GPO_INFO, &[domain, &gpo.name, &gpo.guid, at], 1.0);
        out.sample(&m::AD_GPO_LINK_ORDER, &[domain, &gpo.name, at], link.order as f64);
        let readable = !matches!(state, TemplateState::Malformed(_));
        out.sample(&m::AD_GPO_TEMPLATE_READABLE, &[domain, &gpo.name], flag(readable));
    }
}

fn min_age_check(obs: &Observed, order: &[&Link], out: &mut ProbeOutput) {
    let found = winner(obs, order, |t| t.get(Setting::MinPasswordAge));
    let check = match found {
        None => Check {
            id: "ad_gpo_min_password_age",
            subject: obs.domain.clone(),
            title: "Winning GPO's minimum password age is 0".to_string(),
            status: Status::Pass,
            observed: "no GPO linked at the domain root sets Minimum password age (the domain object's minPwdAge \
                       applies: see ad_domain_min_password_age)"
                .to_string(),
            remediation: None,
        },
        Some(w) => {
            let days = days_text(w.value);
            let mut observed = format!("{} sets Minimum password age = {days}", describe_link(w.gpo, w.link));
            if !w.unknown_above.is_empty() {
                observed.push_str(&format!(
                    "; GPOs with higher precedence could not be read: {}",
                    w.unknown_above.join(", ")
                ));
            }
            let ok = w.value == 0.0;
            Check {
                id: "ad_gpo_min_password_age",
                subject: w.gpo.name.clone(),
                title: "Winning GPO's minimum password age is 0".to_string(),
                status: if ok { Status::Pass } else { Status::Fail },
                observed,
                remediation: (!ok).then(|| {
                    format!(
                        "Users who changed their password within {days} cannot reset it through writeback \
                         (event 33008). In Group Policy Management edit \"{}\": {MIN_AGE_PATH} = 0 days, then run \
                         `gpupdate /force` on the PDC emulator.",
                        w.gpo.name
                    )
                }),
            }
        }
    };
    out.checks.push(check);
}

fn drift(obs: &Observed, order: &[&Link], out: &mut ProbeOutput) {
    let domain = obs.domain.as_str();
    let mut drifting = 0;
    for setting in Setting::ALL {
        let Some(w) = winner(obs, order, |t| t.get(setting)) else { continue };
        let Some(actual) = obs.domain_value(setting) else { continue };
        let differs = w.value != actual;
        out.sample(&m::AD_GPO_PASSWORD_POLICY_DRIFT, &[domain, setting.label()], flag(differs));
        if differs {
            drifting += 1;
            out.checks.push(Check {
                id: "ad_gpo_password_policy_drift",
                subject: format!("{domain} {}", setting.label()),
                title: "Domain password policy matches the winning GPO".to_string(),
                status: Status::Warn,
                observed: format!(
                    "GPO \"{}\" says {} = {}, the domain still enforces {} = {}",
                    w.gpo.name,
                    setting.inf_key(),
                    setting.describe(w.value),
                    setting.attribute(),
                    setting.describe(actual)
                ),
                remediation: Some(
                    "The GPO has not been applied to the domain object yet: run `gpupdate /force` on the PDC \
                     emulator, or wait for the next refresh (about 5 minutes on domain controllers, security \
                     settings at least every 16 hours). If it persists, check that the PDC emulator receives the GPO \
                     (gpresult /h) and that SYSVOL replicates."
                        .to_string(),
                ),
            });
        }
    }
    if drifting == 0 && out.samples.iter().any(|s| s.metric.name == m::AD_GPO_PASSWORD_POLICY_DRIFT.name) {
        out.checks.push(Check {
            id: "ad_gpo_password_policy_drift",
            subject: domain.to_string(),
            title: "Domain password policy matches the winning GPO".to_string(),
            status: Status::Pass,
            observed: "every setting the domain-linked GPOs define is in effect on the domain object".to_string(),
            remediation: None,
        });
    }
}

fn restrict_remote_sam(obs: &Observed, out: &mut ProbeOutput) {
    let domain = obs.domain.as_str();
    let order = domain_controller_order(&obs.links, obs.dc_ou_blocked);
    let mut seen = HashSet::new();
    let mut verdicts: Vec<(&Gpo, &Link, String, Vec<Option<bool>>)> = Vec::new();
    for link in order {
        if !seen.insert(link.guid.as_str()) {
            continue;
        }
        let (gpo, configured) = match obs.gpo(&link.guid) {
            Some((gpo, TemplateState::Read(template))) => (gpo, template.restrict_remote_sam.as_ref()),
            // No template: the GPO sets no security option at all.
            Some((gpo, TemplateState::Absent)) => (gpo, None),
            _ => continue,
        };
        out.sample(&m::AD_RESTRICT_REMOTE_SAM_CONFIGURED, &[domain, &gpo.name], flag(configured.is_some()));
        let Some((sddl, _line)) = configured else { continue };
        let mut allows = Vec::new();
        for account in &obs.connectors {
            match sam_allows(sddl, obs.domain_sid.as_ref(), &account.token) {
                Ok(ok) => {
                    out.sample(
                        &m::AD_RESTRICT_REMOTE_SAM_ALLOWS_CONNECTOR,
                        &[domain, &gpo.name, &account.sam],
                        flag(ok),
                    );
                    allows.push(Some(ok));
                }
                Err(e) => {
                    tracing::warn!(gpo = %gpo.name, error = %e, "RestrictRemoteSAM SDDL does not parse");
                    allows.push(None);
                }
            }
        }
        verdicts.push((gpo, link, sddl.clone(), allows));
    }
    // The first GPO in precedence order that sets it is the one in effect on the DCs.
    let Some((gpo, link, sddl, allows)) = verdicts.first() else {
        out.checks.push(Check {
            id: "ad_gpo_restrict_remote_sam",
            subject: domain.to_string(),
            title: "RestrictRemoteSAM allows the writeback accounts".to_string(),
            status: Status::Pass,
            observed: "no GPO linked at the domain root or the Domain Controllers OU sets RestrictRemoteSAM \
                       (domain controllers then allow remote SAM calls)"
                .to_string(),
            remediation: None,
        });
        return;
    };
    for (account, verdict) in obs.connectors.iter().zip(allows) {
        let (status, what) = match verdict {
            Some(true) => (Status::Pass, "allows"),
            Some(false) => (Status::Fail, "blocks"),
            None => (Status::Warn, "cannot be evaluated for"),
        };
        out.checks.push(Check {
            id: "ad_gpo_restrict_remote_sam",
            subject: account.sam.clone(),
            title: match account.engine {
                Engine::Connect => "RestrictRemoteSAM allows the connector account",
                Engine::CloudSync => "RestrictRemoteSAM allows the Cloud Sync gMSA",
            }
            .to_string(),
            status,
            observed: format!(
                "{} sets RestrictRemoteSAM = {sddl}, which {what} {}",
                describe_link(gpo, link),
                account.sam
            ),
            remediation: (status != Status::Pass).then(|| {
                format!(
                    "Password writeback fails with SSPR_0029 while the domain controllers refuse the connector's \
                     remote SAM calls. In Group Policy Management edit \"{}\": {SAM_PATH} > Edit Security, add {} (or \
                     a group it is in) with Allow Remote Access, then run `gpupdate /force` on the domain controllers.",
                    gpo.name, account.sam
                )
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::links::parse_gplink;
    use super::*;
    use crate::ad::security::{Sid, Token};

    const A: &str = "{AAAAAAAA-0000-0000-0000-000000000001}";
    const B: &str = "{BBBBBBBB-0000-0000-0000-000000000002}";
    const C: &str = "{CCCCCCCC-0000-0000-0000-000000000003}";

    fn gpo(guid: &str, name: &str, computer_disabled: bool) -> Gpo {
        Gpo { guid: guid.into(), name: name.into(), file_sys_path: None, version: Some(1), computer_disabled }
    }

    fn sets(settings: &[(Setting, f64)], sam: Option<&str>) -> TemplateState {
        TemplateState::Read(Template {
            settings: settings.to_vec(),
            restrict_remote_sam: sam.map(|s| (s.to_string(), 3)),
        })
    }

    fn links(domain: &str, ou: &str) -> Vec<Link> {
        let mut links = parse_gplink(domain, LinkedAt::Domain).0;
        links.extend(parse_gplink(ou, LinkedAt::DomainControllers).0);
        links
    }

    fn observed(links: Vec<Link>, gpos: Vec<(Gpo, TemplateState)>) -> Observed {
        let domain_sid: Sid = "S-1-5-21-1-2-3".parse().unwrap();
        let account = crate::ad::connector::ConnectorAccount {
            sam: "MSOL_1".into(),
            engine: crate::ad::connector::Engine::Connect,
            dn: "CN=MSOL_1,CN=Users,DC=corp".into(),
            sid: domain_sid.with_rid(1105),
            description: None,
            user_account_control: 512,
            pwd_last_set: None,
            lockout_time: None,
            computed_flags: None,
            password_expiry: None,
            token: Token::new(domain_sid.with_rid(1105), [domain_sid.with_rid(513)]),
            groups_known: true,
        };
        Observed {
            domain: "corp.example.test".into(),
            domain_dn: "DC=corp,DC=example,DC=test".into(),
            links,
            dc_ou_blocked: false,
            gpos,
            dangling: Vec::new(),
            domain_values: vec![(Setting::MinPasswordAge, 86_400.0)],
            domain_sid: Some(domain_sid),
            connectors: vec![account],
        }
    }

    fn link_text(guid: &str, options: u32) -> String {
        format!("[LDAP://cn={guid},cn=policies,cn=system,DC=corp,DC=example,DC=test;{options}]")
    }

    fn status(out: &ProbeOutput, id: &str) -> Vec<(Status, String)> {
        out.checks.iter().filter(|c| c.id == id).map(|c| (c.status, c.subject.clone())).collect()
    }

    #[test]
    fn disabled_links_and_computer_sides_do_not_win() {
        // A (order 1) has its computer side disabled, B (order 2) is linked but disabled, C (order 3) sets 2 days.
        let domain = format!("{}{}{}", link_text(C, 0), link_text(B, 1), link_text(A, 0));
        let obs = observed(
            links(&domain, ""),
            vec![
                (gpo(A, "A", true), TemplateState::Skipped),
                (gpo(B, "B", false), sets(&[(Setting::MinPasswordAge, 0.0)], None)),
                (gpo(C, "C", false), sets(&[(Setting::MinPasswordAge, 172_800.0)], None)),
            ],
        );
        let out = evaluate(&obs);
        assert_eq!(status(&out, "ad_gpo_min_password_age"), [(Status::Fail, "C".to_string())]);
        assert_eq!(
            status(&out, "ad_gpo_password_policy_drift"),
            [(Status::Warn, "corp.example.test min_password_age".to_string())]
        );
        let info: Vec<&str> =
            out.samples.iter().filter(|s| s.metric.name == m::AD_GPO_INFO.name).map(|s| s.labels[1].as_str()).collect();
        assert_eq!(info, ["C", "A"], "a disabled link has no info series");
    }

    #[test]
    fn enforced_domain_link_beats_the_domain_controllers_ou() {
        let allow_all = "O:BAG:BAD:(A;;RC;;;AU)";
        let admins = "O:BAG:BAD:(A;;RC;;;BA)";
        let gpos = || {
            vec![
                (gpo(A, "Domain SAM", false), sets(&[], Some(admins))),
                (gpo(B, "DC SAM", false), sets(&[], Some(allow_all))),
            ]
        };
        // Not enforced: the OU's GPO wins and allows.
        let out = evaluate(&observed(links(&link_text(A, 0), &link_text(B, 0)), gpos()));
        assert_eq!(status(&out, "ad_gpo_restrict_remote_sam"), [(Status::Pass, "MSOL_1".to_string())]);
        // Enforced at the domain: the domain's GPO wins and blocks.
        let out = evaluate(&observed(links(&link_text(A, 2), &link_text(B, 0)), gpos()));
        assert_eq!(status(&out, "ad_gpo_restrict_remote_sam"), [(Status::Fail, "MSOL_1".to_string())]);
        let blocks = out
            .samples
            .iter()
            .filter(|s| s.metric.name == m::AD_RESTRICT_REMOTE_SAM_ALLOWS_CONNECTOR.name)
            .map(|s| (s.labels[1].as_str(), s.value))
            .collect::<Vec<_>>();
        assert_eq!(blocks, [("Domain SAM", 0.0), ("DC SAM", 1.0)]);
    }

    #[test]
    fn duplicate_names_give_one_series() {
        let domain = format!("{}{}", link_text(B, 0), link_text(A, 0));
        let obs = observed(
            links(&domain, ""),
            vec![(gpo(A, "Same", false), TemplateState::Absent), (gpo(B, "Same", false), TemplateState::Absent)],
        );
        let out = evaluate(&obs);
        let info = out.samples.iter().filter(|s| s.metric.name == m::AD_GPO_TEMPLATE_READABLE.name).count();
        assert_eq!(info, 1);
    }
}
