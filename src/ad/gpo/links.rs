//! `gPLink` values and Group Policy precedence (MS-GPOL 2.2.2, 3.2.5.1): which linked GPO wins a setting.
//!
//! A container's `gPLink` is `[LDAP://<GPO DN>;<options>]...`; options bit 0x1 disables the link, 0x2 enforces it.
//! New links are prepended, and the client applies the list from its end: the last entry is GPMC's link order 1,
//! applied last, so it wins.

/// `gPLink` options bit: the link is disabled.
const LINK_DISABLED: u32 = 0x1;
/// `gPLink` options bit: the link is enforced ("No Override").
const LINK_ENFORCED: u32 = 0x2;

/// Where a GPO is linked (the `linked_at` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkedAt {
    Domain,
    DomainControllers,
}

impl LinkedAt {
    pub fn label(self) -> &'static str {
        match self {
            LinkedAt::Domain => "domain",
            LinkedAt::DomainControllers => "domain_controllers",
        }
    }
}

/// One link of a container's `gPLink`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The GPO's DN as the link names it (`cn={GUID},cn=policies,cn=system,DC=...`).
    pub dn: String,
    /// `{GUID}` in upper case, from the DN's first RDN.
    pub guid: String,
    pub at: LinkedAt,
    /// GPMC's link order: 1 wins.
    pub order: usize,
    pub enabled: bool,
    pub enforced: bool,
}

/// Parses a `gPLink` value. Malformed parts are skipped (and returned as the second value, for the log): AD does
/// not validate the attribute, and one bad link must not hide the others.
pub fn parse_gplink(value: &str, at: LinkedAt) -> (Vec<Link>, Vec<String>) {
    let mut parsed = Vec::new();
    let mut bad = Vec::new();
    for part in value.split(']').map(str::trim).filter(|p| !p.is_empty()) {
        let Some(body) = part.strip_prefix('[').filter(|b| b.len() > 7 && b.is_char_boundary(7)) else {
            bad.push(part.to_string());
            continue;
        };
        let (scheme, rest) = body.split_at(7);
        let parsed_link = scheme.eq_ignore_ascii_case("LDAP://").then_some(()).and_then(|()| {
            let (dn, options) = rest.rsplit_once(';')?;
            let options = options.trim().parse::<u32>().ok()?;
            let guid = guid_of(dn)?;
            Some((dn.to_string(), guid, options))
        });
        match parsed_link {
            Some(link) => parsed.push(link),
            None => bad.push(part.to_string()),
        }
    }
    let count = parsed.len();
    let links = parsed
        .into_iter()
        .enumerate()
        .map(|(index, (dn, guid, options))| Link {
            dn,
            guid,
            at,
            order: count - index,
            enabled: options & LINK_DISABLED == 0,
            enforced: options & LINK_ENFORCED != 0,
        })
        .collect();
    (links, bad)
}

/// `{31B2F340-016D-11D2-945F-00C04FB984F9}` from `cn={31b2f340-...},cn=policies,...`.
fn guid_of(dn: &str) -> Option<String> {
    let first = dn.split(',').next()?.trim();
    let (attr, value) = first.split_once('=')?;
    let value = value.trim();
    let ok = attr.trim().eq_ignore_ascii_case("cn")
        && value.len() == 38
        && value.starts_with('{')
        && value.ends_with('}')
        && value.chars().all(|c| c.is_ascii_hexdigit() || matches!(c, '{' | '}' | '-'));
    ok.then(|| value.to_ascii_uppercase())
}

/// Enabled domain-root links, highest precedence first: what decides account policies (password, lockout),
/// which Windows takes only from GPOs linked at the domain root.
pub fn account_policy_order(links: &[Link]) -> Vec<&Link> {
    let mut order: Vec<&Link> = links.iter().filter(|l| l.enabled && l.at == LinkedAt::Domain).collect();
    order.sort_by_key(|l| l.order);
    order
}

/// Enabled links that apply to a domain controller, highest precedence first: enforced links (the domain's before
/// the OU's), then the Domain Controllers OU's, then the domain's, each by link order. `blocked` is the OU's
/// "Block Inheritance" (`gPOptions` 1), which drops the domain's non-enforced links.
pub fn domain_controller_order(links: &[Link], blocked: bool) -> Vec<&Link> {
    let rank = |l: &Link| match (l.enforced, l.at) {
        (true, LinkedAt::Domain) => 0,
        (true, LinkedAt::DomainControllers) => 1,
        (false, LinkedAt::DomainControllers) => 2,
        (false, LinkedAt::Domain) => 3,
    };
    let mut order: Vec<&Link> =
        links.iter().filter(|l| l.enabled && !(blocked && !l.enforced && l.at == LinkedAt::Domain)).collect();
    order.sort_by_key(|l| (rank(l), l.order));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    const DDP: &str = "{31B2F340-016D-11D2-945F-00C04FB984F9}";
    const DDCP: &str = "{6AC1786C-016F-11D2-945F-00C04FB984F9}";
    const OTHER: &str = "{0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0}";

    fn link(guid: &str, options: u32) -> String {
        format!("[LDAP://cn={guid},cn=policies,cn=system,DC=corp,DC=example,DC=test;{options}]")
    }

    #[test]
    fn last_link_is_order_one() {
        let value = format!("{}{}", link(OTHER, 0), link(&DDP.to_ascii_lowercase(), 0));
        let (links, bad) = parse_gplink(&value, LinkedAt::Domain);
        assert!(bad.is_empty());
        assert_eq!(links.iter().map(|l| (l.guid.as_str(), l.order)).collect::<Vec<_>>(), [(OTHER, 2), (DDP, 1)]);
        let order: Vec<&str> = account_policy_order(&links).iter().map(|l| l.guid.as_str()).collect();
        assert_eq!(order, [DDP, OTHER]);
    }

    #[test]
    fn options_disable_and_enforce() {
        let value = format!("{}{}{}", link(OTHER, 1), link(DDP, 2), link(DDCP, 3));
        let (links, _) = parse_gplink(&value, LinkedAt::Domain);
        let flags: Vec<(bool, bool)> = links.iter().map(|l| (l.enabled, l.enforced)).collect();
        assert_eq!(flags, [(false, false), (true, true), (false, true)]);
        assert_eq!(account_policy_order(&links).len(), 1);
    }

    #[test]
    fn malformed_parts_are_skipped_not_fatal() {
        let value = format!("garbage]{}[LDAP://cn=notaguid,cn=x;0][LDAP://cn={OTHER};x][FILE://a;0]", link(DDP, 0));
        let (links, bad) = parse_gplink(&value, LinkedAt::Domain);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].order, 1);
        assert_eq!(bad.len(), 4);
        assert_eq!(parse_gplink("", LinkedAt::Domain).0, []);
        assert_eq!(parse_gplink(" ", LinkedAt::Domain).0, []);
        assert_eq!(parse_gplink("[LDAP://é;0]", LinkedAt::Domain).1.len(), 1);
    }

    #[test]
    fn domain_controllers_precedence() {
        let (mut links, _) = parse_gplink(&format!("{}{}", link(OTHER, 0), link(DDP, 0)), LinkedAt::Domain);
        links.extend(parse_gplink(&link(DDCP, 0), LinkedAt::DomainControllers).0);
        let guids = |order: Vec<&Link>| order.iter().map(|l| l.guid.clone()).collect::<Vec<_>>();
        assert_eq!(guids(domain_controller_order(&links, false)), [DDCP, DDP, OTHER]);
        assert_eq!(guids(domain_controller_order(&links, true)), [DDCP]);
        links[0].enforced = true;
        assert_eq!(guids(domain_controller_order(&links, true)), [OTHER, DDCP]);
    }
}
