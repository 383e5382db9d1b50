//! Through which groups a connector account holds a trustee SID: `tokenGroups` is flat, so the path is found by a
//! bounded breadth-first walk over `memberOf` (and the primary group) from the account upwards.

use std::collections::{HashMap, VecDeque};

use crate::ad::dn;
use crate::ad::security::Sid;
use crate::ad::{LdapError, Session};

/// Most groups read per account: a connector account is in a handful; a pathological nesting stops here.
pub const MAX_GROUPS: usize = 256;
/// Deepest nesting followed.
pub const MAX_DEPTH: usize = 16;

/// What the walk learnt: each node's parents (groups it is a member of), name and SID, by normalized DN.
#[derive(Debug, Default)]
pub struct Memberships {
    /// The account, normalized.
    pub start: String,
    parents: HashMap<String, Vec<String>>,
    names: HashMap<String, String>,
    sids: HashMap<String, Sid>,
    /// The primary group (from primaryGroupID), which `memberOf` never lists.
    primary: Option<String>,
    /// The walk stopped at [`MAX_GROUPS`] or [`MAX_DEPTH`]: a missing path may lie beyond.
    pub truncated: bool,
}

impl Memberships {
    /// A graph from known edges (unit tests, and the walk below).
    pub fn new(start: &str) -> Memberships {
        Memberships { start: dn::normalize(start), ..Memberships::default() }
    }

    pub fn add_node(&mut self, node_dn: &str, name: Option<&str>, sid: Option<Sid>, parents: &[String]) {
        let node = dn::normalize(node_dn);
        let fallback = node_dn.split(',').next().and_then(|rdn| rdn.split_once('=')).map(|(_, v)| v.to_string());
        if let Some(name) = name.map(str::to_string).or(fallback) {
            self.names.insert(node.clone(), name);
        }
        if let Some(sid) = sid {
            self.sids.insert(node.clone(), sid);
        }
        self.parents.entry(node).or_default().extend(parents.iter().map(|p| dn::normalize(p)));
    }

    pub fn set_primary(&mut self, group_dn: &str) {
        let group = dn::normalize(group_dn);
        self.primary = Some(group.clone());
        let start = self.start.clone();
        let parents = self.parents.entry(start).or_default();
        if !parents.contains(&group) {
            parents.push(group);
        }
    }

    /// The node holding `sid`, if the walk reached it.
    fn node_of(&self, sid: &Sid) -> Option<&str> {
        self.sids.iter().find(|(_, s)| *s == sid).map(|(n, _)| n.as_str())
    }

    /// The names from the group that holds `sid` down to the account (`G-Outer > G-Inner > MSOL_x` reads outer
    /// first), and whether the first step is the primary group; `None` when the walk did not reach it.
    pub fn path_to_sid(&self, sid: &Sid) -> Option<(Vec<String>, bool)> {
        let target = self.node_of(sid)?;
        let nodes = shortest_path(&self.parents, &self.start, target)?;
        let via_primary = nodes.get(1).is_some_and(|n| Some(n) == self.primary.as_ref());
        let names = nodes.iter().rev().map(|n| self.names.get(n).cloned().unwrap_or_else(|| n.clone())).collect();
        Some((names, via_primary))
    }

    /// The name of the node holding `sid` (any group the walk saw, reached or not).
    pub fn name_of(&self, sid: &Sid) -> Option<&str> {
        self.node_of(sid).and_then(|n| self.names.get(n)).map(String::as_str)
    }
}

/// Breadth-first over `parents` from `start` to `target` (normalized DNs): the nodes of a shortest path, both ends
/// included. Bounded by the graph (each node visited once).
pub fn shortest_path(parents: &HashMap<String, Vec<String>>, start: &str, target: &str) -> Option<Vec<String>> {
    let mut came_from: HashMap<&str, &str> = HashMap::new();
    let mut queue = VecDeque::from([start]);
    came_from.insert(start, start);
    while let Some(node) = queue.pop_front() {
        if node == target {
            let mut path = vec![node.to_string()];
            let mut at = node;
            while at != start {
                at = came_from.get(at).copied()?;
                path.push(at.to_string());
            }
            path.reverse();
            return Some(path);
        }
        for parent in parents.get(node).into_iter().flatten() {
            if !came_from.contains_key(parent.as_str()) {
                came_from.insert(parent, node);
                queue.push_back(parent);
            }
        }
    }
    None
}

const NODE_ATTRS: [&str; 4] = ["memberOf", "sAMAccountName", "objectSid", "primaryGroupID"];

/// Walks `memberOf` from the account up (its primary group included), at most [`MAX_GROUPS`] groups and
/// [`MAX_DEPTH`] levels, reading each group once.
///
/// # Errors
/// Connection failures; a group that cannot be read ends that branch only.
pub async fn walk(session: &mut Session, account_dn: &str, domain_sid: &Sid) -> Result<Memberships, LdapError> {
    let mut graph = Memberships::new(account_dn);
    let mut queue: VecDeque<(String, usize)> = VecDeque::from([(account_dn.to_string(), 0)]);
    let mut seen = std::collections::HashSet::from([dn::normalize(account_dn)]);
    let mut read = 0;
    while let Some((node, depth)) = queue.pop_front() {
        if read > MAX_GROUPS {
            graph.truncated = true;
            break;
        }
        read += 1;
        let entry = match session.read(&node, &NODE_ATTRS, "read group memberships").await {
            Ok(entry) => entry,
            Err(e @ (LdapError::Connect { .. } | LdapError::Timeout { .. } | LdapError::Exhausted { .. })) => {
                return Err(e)
            }
            Err(_) => None,
        };
        let Some(entry) = entry else { continue };
        let parents: Vec<String> = entry.values("memberOf").map(str::to_string).collect();
        let sid = entry.raw("objectSid").first().and_then(|b| Sid::from_bytes(b).ok()).map(|(s, _)| s);
        graph.add_node(&entry.dn, entry.first("sAMAccountName"), sid, &parents);
        let mut next = parents;
        if depth == 0 {
            let rid = entry.int("primaryGroupID").ok().flatten().and_then(|r| u32::try_from(r).ok());
            if let Some(group) = rid.and_then(|rid| domain_sid.try_with_rid(rid)) {
                if let Ok(Some(found)) =
                    session.read(&format!("<SID={group}>"), &["cn"], "read the primary group").await
                {
                    graph.set_primary(&found.dn);
                    next.push(found.dn);
                }
            }
        }
        if depth + 1 > MAX_DEPTH {
            graph.truncated |= !next.is_empty();
            continue;
        }
        for parent in next {
            if seen.insert(dn::normalize(&parent)) {
                queue.push_back((parent, depth + 1));
            }
        }
    }
    Ok(graph)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(text: &str) -> Sid {
        text.parse().unwrap()
    }

    #[test]
    fn the_shortest_path_reads_outer_group_first() {
        let mut g = Memberships::new("CN=MSOL_x,CN=Users,DC=d");
        g.add_node(
            "CN=MSOL_x,CN=Users,DC=d",
            Some("MSOL_x"),
            Some(sid("S-1-5-21-1-2-3-1105")),
            &["CN=G-Inner,OU=G,DC=d".into(), "CN=Other,OU=G,DC=d".into()],
        );
        g.add_node(
            "CN=G-Inner,OU=G,DC=d",
            Some("G-Inner"),
            Some(sid("S-1-5-21-1-2-3-1200")),
            &["CN=G-Outer,OU=G,DC=d".into()],
        );
        g.add_node("CN=Other,OU=G,DC=d", Some("Other"), Some(sid("S-1-5-21-1-2-3-1201")), &["CN=Mid,OU=G,DC=d".into()]);
        g.add_node("CN=Mid,OU=G,DC=d", Some("Mid"), None, &["CN=G-Outer,OU=G,DC=d".into()]);
        g.add_node(
            "CN=G-Outer,OU=G,DC=d",
            Some("G-Outer"),
            Some(sid("S-1-5-21-1-2-3-1300")),
            &[
                // A cycle must not loop.
                "CN=G-Inner,OU=G,DC=d".into(),
            ],
        );
        let (path, primary) = g.path_to_sid(&sid("S-1-5-21-1-2-3-1300")).unwrap();
        assert_eq!(path, ["G-Outer", "G-Inner", "MSOL_x"]);
        assert!(!primary);
        assert_eq!(g.path_to_sid(&sid("S-1-5-21-1-2-3-1105")).unwrap().0, ["MSOL_x"]);
        assert_eq!(g.path_to_sid(&sid("S-1-5-21-9-9-9-1")), None);
        assert_eq!(g.name_of(&sid("S-1-5-21-1-2-3-1201")), Some("Other"));
    }

    #[test]
    fn the_primary_group_is_a_parent_memberof_does_not_list() {
        let mut g = Memberships::new("CN=MSOL_x,DC=d");
        g.add_node("CN=MSOL_x,DC=d", Some("MSOL_x"), None, &[]);
        g.set_primary("CN=Domain Users,CN=Users,DC=d");
        g.add_node(
            "CN=Domain Users,CN=Users,DC=d",
            None,
            Some(sid("S-1-5-21-1-2-3-513")),
            &["CN=Users,CN=Builtin,DC=d".into()],
        );
        g.add_node("CN=Users,CN=Builtin,DC=d", Some("Users"), Some(sid("S-1-5-32-545")), &[]);
        let (path, primary) = g.path_to_sid(&sid("S-1-5-21-1-2-3-513")).unwrap();
        // Without sAMAccountName, the RDN value names the group.
        assert_eq!(path, ["Domain Users", "MSOL_x"]);
        assert!(primary);
        assert_eq!(g.path_to_sid(&sid("S-1-5-32-545")).unwrap().0, ["Users", "Domain Users", "MSOL_x"]);
    }

    #[test]
    fn unreachable_targets_and_self_loops_end() {
        let mut parents = HashMap::new();
        parents.insert("a".to_string(), vec!["a".to_string(), "b".to_string()]);
        parents.insert("b".to_string(), vec!["a".to_string()]);
        assert_eq!(shortest_path(&parents, "a", "c"), None);
        assert_eq!(shortest_path(&parents, "a", "b"), Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(shortest_path(&parents, "a", "a"), Some(vec!["a".to_string()]));
    }
}
