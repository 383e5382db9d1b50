//! What uSNChanged does not show an incremental cycle: users whose uSNChanged the monitoring account cannot read
//! (re-read one by one). Deletions come with the changed objects, as tombstones (see `Reader::changed_since`).

use super::entries::{guid_dn, put_user};
use super::read::{Reader, PERSONS, USERS, USER_ATTRS};
use super::state::{Guid, ScopeState};
use crate::ad::dn;
use crate::ad::session::sd_flags_dacl;
use crate::ad::{Entry, LdapError};

impl Reader<'_> {
    /// Reads each user whose uSNChanged the monitoring account cannot see by its GUID (wherever it is now), with the
    /// scan's filter as the DC evaluates it: dropped when gone, disabled or out of the scope, else judged afresh.
    pub(super) async fn reread_untracked(&mut self, state: &mut ScopeState) -> Result<(), LdapError> {
        let scope_n = dn::normalize(self.scope);
        let guids: Vec<Guid> = state.untracked.iter().copied().collect();
        for g in guids {
            let base = guid_dn(&g);
            let entry =
                self.session.read_matching(&base, USERS, &USER_ATTRS, vec![sd_flags_dacl()], "re-read a user").await?;
            self.read += u64::from(entry.is_some());
            let in_scope = |e: &Entry| dn::is_at_or_below(&dn::normalize(&e.dn), &scope_n);
            if let Some(e) = entry.filter(in_scope) {
                put_user(state, &e).map_err(|detail| self.protocol("re-read a user", detail))?;
                continue;
            }
            // Disabled but still in the scope: no longer counted, still watched (re-enabling it moves no uSNChanged
            // that the monitoring account could see).
            let still =
                self.session.read_matching(&base, PERSONS, &["objectGUID"], Vec::new(), "re-read a user").await?;
            if still.as_ref().is_some_and(in_scope) {
                state.users.remove(&g);
            } else {
                state.remove(&g);
            }
        }
        Ok(())
    }
}
