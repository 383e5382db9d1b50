//! What uSNChanged does not show an incremental cycle: deletions (read from tombstones where the monitoring account
//! may) and users whose uSNChanged the monitoring account cannot read (re-read one by one).

use ldap3::Scope;

use super::entries::{guid, guid_dn, put_user, show_deleted};
use super::read::{Reader, PERSONS, USERS, USER_ATTRS};
use super::state::{Guid, ScopeState};
use crate::ad::dn;
use crate::ad::session::sd_flags_dacl;
use crate::ad::{Entry, LdapError};

/// The well-known GUID of the Deleted Objects container (GUID_DELETED_OBJECTS_CONTAINER_W).
const DELETED_OBJECTS: &str = "18e2ea80684f11d2b9aa00c04f79f805";

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

    /// Drops users (and containers) whose tombstones are newer than the watermark. Needs List Contents and Read
    /// Property on CN=Deleted Objects (administrators only, by default on Windows): without them the DC shows no
    /// Deleted Objects container, and deletions wait for the next full scan.
    pub(super) async fn drop_deleted(&mut self, state: &mut ScopeState, since: u64) -> Result<(), LdapError> {
        let container = format!("<WKGUID={DELETED_OBJECTS},{}>", self.nc);
        let readable =
            self.session.read_with(&container, &["objectGUID"], vec![show_deleted()], "read Deleted Objects").await;
        match readable {
            Ok(Some(_)) => {}
            Ok(None) | Err(LdapError::Permission { .. }) => {
                tracing::debug!(nc = %self.nc, "tombstones not readable: deletions are seen by the next full scan");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let filter = format!("(&(isDeleted=TRUE)(uSNChanged>={}))", since.saturating_add(1));
        let nc = self.nc.to_string();
        let mut deleted = Vec::new();
        self.session
            .search_paged(
                &nc,
                Scope::Subtree,
                &filter,
                &["objectGUID"],
                vec![show_deleted()],
                self.page_size,
                "read tombstones",
                |e| {
                    deleted.extend(guid(&e));
                },
            )
            .await?;
        for g in &deleted {
            state.remove(g);
        }
        Ok(())
    }
}
