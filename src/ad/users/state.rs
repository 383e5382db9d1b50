//! What `ad_users` remembers of one scope on one DC between cycles, so that a cycle reads only what changed.
//!
//! Users and containers are keyed by objectGUID (a DN changes on a move, the GUID never does). Each distinct
//! security descriptor is kept once and referred to by index: the users of an OU almost always share one, so
//! 100,000 users cost a few hundred descriptors, not 100,000 copies. Verdicts are not stored: they are recomputed
//! from the descriptors each cycle (see `tally.rs`), which is what lets a changed connector token or schema default
//! re-judge everyone without a read.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::ad::dn;

/// An objectGUID as the directory returns it (16 bytes).
pub type Guid = [u8; 16];

/// Index of a distinct security descriptor in [`Descriptors`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SdId(u32);

/// Each distinct security descriptor once.
#[derive(Debug, Default)]
pub struct Descriptors {
    ids: HashMap<Arc<[u8]>, SdId>,
    list: Vec<Arc<[u8]>>,
}

impl Descriptors {
    pub fn intern(&mut self, bytes: &[u8]) -> SdId {
        if let Some(id) = self.ids.get(bytes) {
            return *id;
        }
        let id = SdId(u32::try_from(self.list.len()).unwrap_or(u32::MAX));
        let shared: Arc<[u8]> = Arc::from(bytes);
        self.list.push(Arc::clone(&shared));
        self.ids.insert(shared, id);
        id
    }

    pub fn contains(&self, bytes: &[u8]) -> bool {
        self.ids.contains_key(bytes)
    }

    pub fn bytes(&self, id: SdId) -> &[u8] {
        self.list.get(id.0 as usize).map_or(&[], |b| b)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }
}

/// Which DC's database a state describes. A restored DC gets a new invocationId; its USNs mean something else then.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DcIdentity {
    /// The DC's nTDSDSA object (rootDSE `dsServiceName`).
    pub dsa: String,
    pub invocation_id: Vec<u8>,
}

/// What a cycle learns of the DC before it reads anything else.
#[derive(Debug, Clone)]
pub struct DcView {
    pub identity: DcIdentity,
    /// rootDSE `highestCommittedUSN`: everything committed so far has a uSNChanged at or below it.
    pub usn: u64,
}

/// A user in scope (enabled: a disabled user is dropped, and comes back through its uSNChanged when re-enabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub dn: Box<str>,
    /// `None`: the DC returned no descriptor, or one that cannot be parsed (counted as unreadable).
    pub sd: Option<SdId>,
    pub inet_org_person: bool,
    /// adminCount=1 (AdminSDHolder-protected).
    pub admin_count: bool,
}

/// An OU, container or domain root in the scope, or one above it: its DACL reaches the users below it by
/// inheritance, and Samba does not move the users' uSNChanged when it re-propagates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub dn: Box<str>,
    pub sd: Option<SdId>,
    /// Above the scope's root (only a change of its descriptor matters; it cannot leave the scope).
    pub ancestor: bool,
}

/// A user as tests compare it: GUID, DN, descriptor bytes, inetOrgPerson, adminCount.
#[cfg(test)]
pub type UserContent = (Guid, String, Option<Vec<u8>>, bool, bool);

/// How the next cycle reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    /// Objects with uSNChanged above `since`.
    Incremental {
        since: u64,
    },
}

impl Mode {
    pub fn label(self) -> &'static str {
        match self {
            Mode::Full => "full",
            Mode::Incremental { .. } => "incremental",
        }
    }
}

/// One scope as read from one DC.
#[derive(Debug)]
pub struct ScopeState {
    pub dc: DcIdentity,
    /// The DC's highestCommittedUSN read before the last successful cycle began.
    pub watermark: u64,
    /// Unix seconds when the last full scan ended.
    pub last_full: f64,
    /// False after a cycle failed part-way: the next cycle rebuilds the state with a full scan.
    pub trusted: bool,
    pub users: HashMap<Guid, User>,
    /// Users whose uSNChanged the monitoring account may not read (e.g. inheritance off and the inherited read
    /// grants removed): no uSNChanged filter ever matches them, so each cycle reads them one by one (also when
    /// disabled, so that their re-enabling is seen; a GUID gone from the scope leaves this set at that read).
    pub untracked: HashSet<Guid>,
    pub containers: HashMap<Guid, Container>,
    pub sds: Descriptors,
}

impl ScopeState {
    pub fn new(dc: DcIdentity, watermark: u64) -> ScopeState {
        ScopeState {
            dc,
            watermark,
            last_full: 0.0,
            trusted: true,
            users: HashMap::new(),
            untracked: HashSet::new(),
            containers: HashMap::new(),
            sds: Descriptors::default(),
        }
    }

    /// Full scan unless this state can be trusted to be patched with what changed on `dc` since its watermark.
    pub fn plan(state: Option<&ScopeState>, dc: &DcView, now: f64, full_every: Duration) -> Mode {
        let Some(state) = state else { return Mode::Full };
        let due = now < state.last_full || now - state.last_full >= full_every.as_secs_f64();
        if !state.trusted || state.dc != dc.identity || dc.usn < state.watermark || due {
            return Mode::Full;
        }
        Mode::Incremental { since: state.watermark }
    }

    pub fn put_user(&mut self, guid: Guid, dn: &str, sd: Option<&[u8]>, inet_org_person: bool, admin_count: bool) {
        let sd = sd.map(|b| self.sds.intern(b));
        self.users.insert(guid, User { dn: dn.into(), sd, inet_org_person, admin_count });
    }

    pub fn put_container(&mut self, guid: Guid, dn: &str, sd: Option<&[u8]>, ancestor: bool) {
        let sd = sd.map(|b| self.sds.intern(b));
        self.containers.insert(guid, Container { dn: dn.into(), sd, ancestor });
    }

    /// Drops the object with this GUID (a user or a container, and then the users and containers below it).
    pub fn remove(&mut self, guid: &Guid) {
        self.users.remove(guid);
        self.untracked.remove(guid);
        if let Some(container) = self.containers.remove(guid) {
            self.remove_below(&container.dn);
        }
    }

    /// Drops a user (not a container of that GUID).
    pub fn remove_user(&mut self, guid: &Guid) {
        self.users.remove(guid);
        self.untracked.remove(guid);
    }

    /// Drops every user and container at or below `base`.
    pub fn remove_below(&mut self, base: &str) {
        let base = dn::normalize(base);
        self.users.retain(|_, u| !dn::is_at_or_below(&dn::normalize(&u.dn), &base));
        self.containers.retain(|_, c| c.ancestor || !dn::is_at_or_below(&dn::normalize(&c.dn), &base));
    }

    /// Keeps only the descriptors still referred to, once the unused ones are many (moves and DACL changes leave
    /// old ones behind; a full scan starts afresh anyway).
    pub fn compact(&mut self) {
        let referred = self.users.values().filter_map(|u| u.sd).chain(self.containers.values().filter_map(|c| c.sd));
        let mut used = vec![false; self.sds.len()];
        let mut live = 0;
        for id in referred {
            if let Some(slot) = used.get_mut(id.0 as usize) {
                live += usize::from(!*slot);
                *slot = true;
            }
        }
        if self.sds.len() < 64 || live * 2 > self.sds.len() {
            return;
        }
        let mut fresh = Descriptors::default();
        let mut map = HashMap::new();
        for (old, keep) in used.iter().enumerate() {
            if *keep {
                let old = SdId(old as u32);
                map.insert(old, fresh.intern(self.sds.bytes(old)));
            }
        }
        let renumber = |sd: &mut Option<SdId>| *sd = sd.and_then(|id| map.get(&id).copied());
        self.users.values_mut().for_each(|u| renumber(&mut u.sd));
        self.containers.values_mut().for_each(|c| renumber(&mut c.sd));
        self.sds = fresh;
    }

    /// The same directory content, whatever the descriptor numbering (tests compare an incremental state with a
    /// full scan's).
    #[cfg(test)]
    pub fn content(&self) -> Vec<UserContent> {
        let mut users: Vec<_> = self
            .users
            .iter()
            .map(|(g, u)| {
                (*g, u.dn.to_string(), u.sd.map(|id| self.sds.bytes(id).to_vec()), u.inet_org_person, u.admin_count)
            })
            .collect();
        users.sort();
        users
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(dsa: &str, invocation: u8, usn: u64) -> DcView {
        DcView { identity: DcIdentity { dsa: dsa.to_string(), invocation_id: vec![invocation; 16] }, usn }
    }

    fn state(watermark: u64, last_full: f64) -> ScopeState {
        let mut s = ScopeState::new(view("CN=NTDS Settings,CN=DC1", 1, 0).identity, watermark);
        s.last_full = last_full;
        s
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_trusted_state_of_the_same_dc_is_patched() {
        let s = state(100, 1000.0);
        assert_eq!(
            ScopeState::plan(Some(&s), &view("CN=NTDS Settings,CN=DC1", 1, 150), 1010.0, HOUR),
            Mode::Incremental { since: 100 }
        );
        assert_eq!(
            ScopeState::plan(Some(&s), &view("CN=NTDS Settings,CN=DC1", 1, 100), 1010.0, HOUR),
            Mode::Incremental { since: 100 }
        );
    }

    #[test]
    fn a_state_that_cannot_be_trusted_is_rebuilt() {
        let same = view("CN=NTDS Settings,CN=DC1", 1, 150);
        assert_eq!(ScopeState::plan(None, &same, 1010.0, HOUR), Mode::Full, "no state yet");
        let mut failed = state(100, 1000.0);
        failed.trusted = false;
        assert_eq!(ScopeState::plan(Some(&failed), &same, 1010.0, HOUR), Mode::Full, "the last cycle failed part-way");
        let s = state(100, 1000.0);
        assert_eq!(
            ScopeState::plan(Some(&s), &view("CN=NTDS Settings,CN=DC1", 2, 150), 1010.0, HOUR),
            Mode::Full,
            "restored DC: new invocationId"
        );
        assert_eq!(
            ScopeState::plan(Some(&s), &view("CN=NTDS Settings,CN=DC1", 1, 99), 1010.0, HOUR),
            Mode::Full,
            "watermark went backwards"
        );
        assert_eq!(
            ScopeState::plan(Some(&s), &view("CN=NTDS Settings,CN=DC2", 1, 150), 1010.0, HOUR),
            Mode::Full,
            "another DC answered"
        );
        assert_eq!(ScopeState::plan(Some(&s), &same, 1000.0 + 3600.0, HOUR), Mode::Full, "full scan due");
        assert_eq!(ScopeState::plan(Some(&s), &same, 999.0, HOUR), Mode::Full, "clock went backwards");
    }

    #[test]
    fn equal_descriptors_are_kept_once() {
        let mut s = state(0, 0.0);
        for i in 0..1000u16 {
            let mut guid = [0; 16];
            guid[..2].copy_from_slice(&i.to_le_bytes());
            s.put_user(
                guid,
                &format!("CN=u{i},OU=A,DC=x"),
                Some(if i % 10 == 0 { b"other" } else { b"common" }),
                false,
                false,
            );
        }
        assert_eq!(s.users.len(), 1000);
        assert_eq!(s.sds.len(), 2);
    }

    #[test]
    fn removing_a_container_drops_what_lies_below_it() {
        let mut s = state(0, 0.0);
        s.put_container([1; 16], "OU=A,DC=x", Some(b"a"), false);
        s.put_container([2; 16], "OU=B,OU=A,DC=x", Some(b"b"), false);
        s.put_container([9; 16], "DC=x", Some(b"root"), true);
        s.put_user([3; 16], "CN=u1,OU=B,OU=A,DC=x", Some(b"u"), false, false);
        s.put_user([4; 16], "CN=u2,OU=AA,DC=x", Some(b"u"), false, false);
        s.put_user([5; 16], "CN=u3, ou=a ,DC=x", Some(b"u"), false, false);
        s.remove(&[1; 16]);
        let left: Vec<_> = s.content().into_iter().map(|u| u.1).collect();
        assert_eq!(left, ["CN=u2,OU=AA,DC=x"]);
        assert!(s.containers.contains_key(&[9; 16]), "an ancestor stays");
        assert_eq!(s.containers.len(), 1);
    }

    #[test]
    fn compaction_keeps_what_is_referred_to() {
        let mut s = state(0, 0.0);
        for i in 0..100u8 {
            s.put_user([i; 16], &format!("CN=u{i},DC=x"), Some(&[i]), false, false);
        }
        for i in 0..100u8 {
            s.put_user([i; 16], &format!("CN=u{i},DC=x"), Some(&[i % 3]), i == 7, false);
        }
        let before = s.content();
        s.compact();
        assert_eq!(s.sds.len(), 3);
        assert_eq!(s.content(), before);
    }
}
