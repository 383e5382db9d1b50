//! The LDAP reads of one `ad_users` cycle on one DC: a full scan that builds a scope's state, or an incremental
//! cycle that patches it with what changed since the state's watermark.
//!
//! What an incremental cycle must catch, and how:
//! - a user added, changed (explicit ACE, inheritance switched, adminCount, re-enabled) or moved into the scope:
//!   its own uSNChanged moves; read with its descriptor;
//! - a user moved out of the scope or disabled: its uSNChanged moves; a domain-wide search without descriptors
//!   finds it outside the scope, or disabled, and drops it;
//! - a container's DACL changed: the DC re-propagates the inherited ACEs into the subtree, but Samba does not move
//!   the descendants' uSNChanged (only the container's). Every container in the scope, and each one above the
//!   scope's root, is listed (GUID, DN, uSNChanged; cheap: few objects, no descriptors); one that is new, renamed,
//!   moved, or changed with a different descriptor has its subtree re-read;
//! - a container that left the scope: missing from the listing, so what lay below it is dropped;
//! - a deletion: tombstones (Show Deleted) with uSNChanged above the watermark, where the monitoring account may
//!   read them; where it may not, the full scan every `full_scan_interval` drops deleted users.

use std::collections::HashMap;

use ldap3::Scope;

use super::entries::{guid, guid_dn, guid_filter, outermost, put_container, put_user, show_deleted, usn_changed};
use super::state::{DcIdentity, DcView, Guid, ScopeState};
use crate::ad::dn;
use crate::ad::session::sd_flags_dacl;
use crate::ad::{Entry, LdapError, Session};

/// Enabled people of class user or inetOrgPerson (computers are users too, but not persons).
pub const USERS: &str = "(&(objectCategory=person)(|(objectClass=user)(objectClass=inetOrgPerson))(!(userAccountControl:1.2.840.113556.1.4.803:=2)))";
/// Every person, enabled or not (to see who was disabled or left the scope).
pub const PERSONS: &str = "(&(objectCategory=person)(|(objectClass=user)(objectClass=inetOrgPerson)))";
/// The classes users live in (organizationalUnit, container, the domain root, Builtin, LostAndFound).
const CONTAINERS: &str = "(|(objectClass=organizationalUnit)(objectClass=container)(objectClass=domainDNS)(objectClass=builtinDomain)(objectClass=lostAndFound))";
const CONTAINER_CLASSES: [&str; 5] = ["organizationalUnit", "container", "domainDNS", "builtinDomain", "lostAndFound"];
/// uSNChanged only to learn whether the monitoring account may read it on this user (see `ScopeState::untracked`).
/// Equality terms per search when changes are listed by USN, and the longest span listed that way. Samba checks
/// every candidate against the whole filter, so a search of n terms costs n² (1,000 terms: 0.5 s of DC CPU; 100:
/// 6 ms); these searches are not paged (their results are bounded by the terms).
const USN_TERMS_PER_SEARCH: u64 = 100;
const MAX_USN_TERMS: u64 = 20_000;
/// GUIDs per search when objects are read by GUID.
const GUIDS_PER_SEARCH: usize = 100;
pub const USER_ATTRS: [&str; 5] = ["objectGUID", "nTSecurityDescriptor", "objectClass", "adminCount", "uSNChanged"];

/// What the DC says about itself before a cycle reads anything: its USN and database identity. `None` when its
/// rootDSE or nTDSDSA object does not say (every cycle is then a full scan, and no state is kept).
///
/// # Errors
/// LDAP failures of the two reads.
pub async fn dc_view(session: &mut Session) -> Result<Option<DcView>, LdapError> {
    let root = session.read("", &["highestCommittedUSN", "dsServiceName"], "read the DC's USN").await?;
    let Some(root) = root else { return Ok(None) };
    let usn = root.int("highestCommittedUSN").ok().flatten().and_then(|u| u64::try_from(u).ok());
    let (Some(usn), Some(dsa)) = (usn, root.first("dsServiceName")) else { return Ok(None) };
    let dsa = dsa.to_string();
    let settings = match session.read(&dsa, &["invocationId"], "read the DC's invocationId").await {
        Ok(settings) => settings,
        // Unreadable here: every cycle a full scan, as without the attribute.
        Err(LdapError::Permission { .. }) => None,
        Err(e) => return Err(e),
    };
    let Some(invocation_id) = settings.and_then(|e| e.raw("invocationId").first().cloned()) else { return Ok(None) };
    Ok(Some(DcView { identity: DcIdentity { dsa, invocation_id }, usn }))
}

/// One cycle's reads of one scope.
pub struct Reader<'a> {
    pub session: &'a mut Session,
    pub scope: &'a str,
    /// The domain's naming context (moves out of the scope, ancestors and tombstones are looked up there).
    pub nc: &'a str,
    pub page_size: u32,
    /// Objects whose security descriptor this cycle read.
    pub read: u64,
}

impl Reader<'_> {
    /// Reads the whole scope into a new state with `watermark` (the DC's USN read before this cycle began).
    ///
    /// # Errors
    /// LDAP failures; the new state is discarded then.
    pub async fn full(&mut self, dc: DcIdentity, watermark: u64) -> Result<ScopeState, LdapError> {
        let mut state = ScopeState::new(dc, watermark);
        let (scope, page) = (self.scope.to_string(), self.page_size);
        self.read_containers_below(&mut state, &scope).await?;
        for above in dn::ancestors_up_to(self.scope, self.nc) {
            if let Some(e) = self.read_descriptor(&above).await? {
                put_container(&mut state, &e, true);
            }
        }
        let mut read = 0;
        let mut failed = None;
        self.session
            .search_paged(&scope, Scope::Subtree, USERS, &USER_ATTRS, vec![sd_flags_dacl()], page, "scan users", |e| {
                read += 1;
                if let Err(err) = put_user(&mut state, &e) {
                    failed.get_or_insert(err);
                }
            })
            .await?;
        self.read += read;
        match failed {
            Some(detail) => Err(self.protocol("scan users", detail)),
            None => Ok(state),
        }
    }

    /// Patches `state` with what changed since `since`, then moves its watermark to `usn`.
    ///
    /// # Errors
    /// LDAP failures; `state` is half-patched then and must not be patched again (the caller marks it untrusted).
    pub async fn incremental(&mut self, state: &mut ScopeState, since: u64, usn: u64) -> Result<(), LdapError> {
        let rescan = self.changed_containers(state, since).await?;

        // Users who changed anywhere in the domain, read by GUID with the scan's filter: judged afresh in the scope,
        // dropped when they left it, were disabled or are no longer users.
        let (changed, deleted) = self.changed_since(since, usn).await?;
        self.reread_users(state, &changed).await?;

        // Subtrees whose inherited ACEs may have changed without their users' uSNChanged moving: what the state
        // holds below a container whose descriptor changed is re-read by GUID; a container new to the scope (or
        // renamed, or moved) is searched, since what lies below it was never read.
        let (searched, cached): (Vec<_>, Vec<_>) = rescan.into_iter().partition(|r| matches!(r, Rescan::Subtree(_)));
        for base in outermost(cached.into_iter().map(Rescan::into_dn).collect()) {
            let base_n = dn::normalize(&base);
            let below = |d: &str| dn::is_at_or_below(&dn::normalize(d), &base_n);
            let users: Vec<Guid> = state.users.iter().filter(|(_, u)| below(&u.dn)).map(|(g, _)| *g).collect();
            let containers: Vec<Guid> =
                state.containers.iter().filter(|(_, c)| !c.ancestor && below(&c.dn)).map(|(g, _)| *g).collect();
            self.reread_users(state, &users).await?;
            self.reread_containers(state, &containers).await?;
        }
        for base in outermost(searched.into_iter().map(Rescan::into_dn).collect()) {
            state.remove_below(&base);
            self.read_users(state, &base, USERS, "re-read a subtree").await?;
            self.read_containers_below(state, &base).await?;
        }

        self.reread_untracked(state).await?;
        for g in &deleted {
            state.remove(g);
        }
        state.watermark = usn;
        Ok(())
    }

    /// The GUIDs of the objects of the domain whose uSNChanged lies in `since + 1 ..= usn` (and, when that span is
    /// long, above it): live ones, and deleted ones (tombstones). Samba 4.17 has no range index on uSNChanged:
    /// `(uSNChanged>=N)` reads every object of the partition, a cost that grows with the directory (measured:
    /// docs/benchmarks.md), while each `(uSNChanged=N)` is an index lookup. So a short span is asked for as equality
    /// terms, a long one (a busy DC, a long pause) as a range, which Windows serves from its index anyway.
    ///
    /// Tombstones come with the same searches (Show Deleted) where the monitoring account may see them: a deletion
    /// raises the tombstone's uSNChanged. They need List Contents and Read Property on CN=Deleted Objects
    /// (administrators only, by default on Windows); without them the DC leaves them out, and deletions wait for
    /// the next full scan. (A search of its own for them cost ~0.1 s of Samba CPU per cycle at 10,000 users.)
    async fn changed_since(&mut self, since: u64, usn: u64) -> Result<(Vec<Guid>, Vec<Guid>), LdapError> {
        let first = since.saturating_add(1);
        // Equality terms: a bounded result, searched without paging; a range: paged.
        let filters: Vec<String> = if usn < first {
            Vec::new()
        } else if usn - first < MAX_USN_TERMS {
            let terms = |start: u64| {
                let end = usn.min(start + USN_TERMS_PER_SEARCH - 1);
                let mut f = String::from("(|");
                for u in start..=end {
                    f.push_str(&format!("(uSNChanged={u})"));
                }
                f + ")"
            };
            (first..=usn).step_by(USN_TERMS_PER_SEARCH as usize).map(terms).collect()
        } else {
            vec![format!("(uSNChanged>={first})")]
        };
        let nc = self.nc.to_string();
        let (mut changed, mut deleted) = (Vec::new(), Vec::new());
        for filter in filters {
            let on_entry = |e: Entry| {
                let into = if e.first("isDeleted").is_some_and(|v| v.eq_ignore_ascii_case("TRUE")) {
                    &mut deleted
                } else {
                    &mut changed
                };
                into.extend(guid(&e));
            };
            let (attrs, op, controls) = (&["objectGUID", "isDeleted"], "list changed objects", vec![show_deleted()]);
            if filter.starts_with("(|") {
                self.session.search_bounded(&nc, Scope::Subtree, &filter, attrs, controls, op, on_entry).await?;
            } else {
                self.session
                    .search_paged(&nc, Scope::Subtree, &filter, attrs, controls, self.page_size, op, on_entry)
                    .await?;
            }
        }
        Ok((changed, deleted))
    }

    /// Reads these objects by GUID with the scan's filter and their descriptors: users in the scope are judged
    /// afresh; those the state holds that are now outside it, disabled, or not returned at all are dropped.
    async fn reread_users(&mut self, state: &mut ScopeState, guids: &[Guid]) -> Result<(), LdapError> {
        let scope_n = dn::normalize(self.scope);
        let nc = self.nc.to_string();
        for chunk in guids.chunks(GUIDS_PER_SEARCH) {
            let filter = format!("(&{USERS}{})", guid_filter(chunk));
            let (mut returned, mut read, mut failed) = (Vec::new(), 0, None);
            self.session
                .search_bounded(
                    &nc,
                    Scope::Subtree,
                    &filter,
                    &USER_ATTRS,
                    vec![sd_flags_dacl()],
                    "read changed users",
                    |e| {
                        read += 1;
                        let Some(g) = guid(&e) else { return };
                        returned.push(g);
                        if !dn::is_at_or_below(&dn::normalize(&e.dn), &scope_n) {
                            state.remove_user(&g);
                        } else if let Err(err) = put_user(state, &e) {
                            failed.get_or_insert(err);
                        }
                    },
                )
                .await?;
            self.read += read;
            if let Some(detail) = failed {
                return Err(self.protocol("read changed users", detail));
            }
            for g in chunk.iter().filter(|g| !returned.contains(g)) {
                state.remove_user(g);
            }
        }
        Ok(())
    }

    /// Reads the descriptors of these containers by GUID (their inherited ACEs may have changed unseen), one by one
    /// (see [`Reader::read_containers_below`]).
    async fn reread_containers(&mut self, state: &mut ScopeState, guids: &[Guid]) -> Result<(), LdapError> {
        for g in guids {
            match self.read_descriptor(&guid_dn(g)).await? {
                Some(e) => put_container(state, &e, false),
                None => state.remove(g),
            }
        }
        Ok(())
    }

    /// Lists the containers at and below `base` without their descriptors, then reads each descriptor on its own:
    /// over a Kerberos-sealed session a listing with descriptors loses the connection ("decoding error" while
    /// ldap3 unwraps Samba's SASL buffers; the kerberos test), and containers are few.
    async fn read_containers_below(&mut self, state: &mut ScopeState, base: &str) -> Result<(), LdapError> {
        let mut containers = Vec::new();
        self.session
            .search_paged(
                base,
                Scope::Subtree,
                CONTAINERS,
                &["objectGUID"],
                Vec::new(),
                self.page_size,
                "list containers",
                |e| {
                    containers.push(e.dn);
                },
            )
            .await?;
        for dn in containers {
            if let Some(e) = self.read_descriptor(&dn).await? {
                put_container(state, &e, false);
            }
        }
        Ok(())
    }

    /// Lists the containers of the scope and those above it; returns what must be re-read below which of them,
    /// and drops from `state` what lay below containers that left the scope.
    async fn changed_containers(&mut self, state: &mut ScopeState, since: u64) -> Result<Vec<Rescan>, LdapError> {
        let mut listed: Vec<(Guid, String, u64, bool)> = Vec::new();
        let scope = self.scope.to_string();
        self.session
            .search_paged(
                &scope,
                Scope::Subtree,
                CONTAINERS,
                &["objectGUID", "uSNChanged"],
                Vec::new(),
                self.page_size,
                "list containers",
                |e| {
                    if let Some(g) = guid(&e) {
                        listed.push((g, e.dn.clone(), usn_changed(&e), false));
                    }
                },
            )
            .await?;
        for above in dn::ancestors_up_to(self.scope, self.nc) {
            if let Some(e) = self.session.read(&above, &["objectGUID", "uSNChanged"], "list containers").await? {
                if let Some(g) = guid(&e) {
                    listed.push((g, e.dn.clone(), usn_changed(&e), true));
                }
            }
        }

        let present: HashMap<Guid, ()> = listed.iter().map(|(g, ..)| (*g, ())).collect();
        let gone: Vec<Guid> = state.containers.keys().filter(|g| !present.contains_key(*g)).copied().collect();
        let mut rescan = Vec::new();
        for g in gone {
            if state.containers.get(&g).is_some_and(|c| c.ancestor) {
                // The chain above the scope changed (the scope was moved): everything is suspect.
                rescan.push(Rescan::Subtree(scope.clone()));
            }
            state.remove(&g);
        }
        for (g, dn, usn, ancestor) in listed {
            let known = state.containers.get(&g).map(|c| (dn::normalize(&c.dn) == dn::normalize(&dn), c.sd));
            let renamed = matches!(known, Some((false, _)));
            if known.is_some() && !renamed && usn <= since {
                continue;
            }
            if renamed {
                // Below its old DN lie users whose DNs are stale now; the new subtree is searched.
                let old = state.containers.get(&g).map(|c| c.dn.to_string()).unwrap_or_default();
                state.remove_below(&old);
            }
            let Some(entry) = self.read_descriptor(&dn).await? else { continue };
            let before = known.and_then(|(_, sd)| sd).map(|id| state.sds.bytes(id).to_vec());
            put_container(state, &entry, ancestor);
            let after = state.containers.get(&g).and_then(|c| c.sd).map(|id| state.sds.bytes(id).to_vec());
            let base = if ancestor { scope.clone() } else { dn };
            if known.is_none() || renamed {
                rescan.push(Rescan::Subtree(base));
            } else if before != after {
                rescan.push(Rescan::Cached(base));
            }
        }
        Ok(rescan)
    }

    /// Reads users (and, with a filter that asks for them, containers) below `base` into `state`.
    async fn read_users(
        &mut self,
        state: &mut ScopeState,
        base: &str,
        filter: &str,
        op: &'static str,
    ) -> Result<(), LdapError> {
        let (mut read, mut failed) = (0, None);
        self.session
            .search_paged(base, Scope::Subtree, filter, &USER_ATTRS, vec![sd_flags_dacl()], self.page_size, op, |e| {
                read += 1;
                let is_container =
                    e.values("objectClass").any(|c| CONTAINER_CLASSES.iter().any(|k| k.eq_ignore_ascii_case(c)));
                if is_container {
                    put_container(state, &e, false);
                } else if let Err(err) = put_user(state, &e) {
                    failed.get_or_insert(err);
                }
            })
            .await?;
        self.read += read;
        failed.map_or(Ok(()), |detail| Err(self.protocol(op, detail)))
    }

    async fn read_descriptor(&mut self, dn: &str) -> Result<Option<Entry>, LdapError> {
        let entry = self
            .session
            .read_with(dn, &["objectGUID", "nTSecurityDescriptor"], vec![sd_flags_dacl()], "read a container")
            .await?;
        self.read += u64::from(entry.is_some());
        Ok(entry)
    }

    pub(super) fn protocol(&self, operation: &'static str, detail: String) -> LdapError {
        LdapError::Protocol { server: self.session.server().to_string(), operation, detail }
    }
}

/// What a changed container asks to re-read below it.
enum Rescan {
    /// Its descriptor changed: the users and containers the state holds below it, by GUID.
    Cached(String),
    /// New to the scope, renamed or moved: everything below it, by a subtree search.
    Subtree(String),
}

impl Rescan {
    fn into_dn(self) -> String {
        match self {
            Rescan::Cached(dn) | Rescan::Subtree(dn) => dn,
        }
    }
}
