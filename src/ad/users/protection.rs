//! What tells AdminSDHolder-protected users apart in one domain: AdminSDHolder's DACL and whether the monitoring
//! account reads adminCount, read once per cycle (never kept, so a changed AdminSDHolder re-judges the cache).

use super::tally::AdminSdHolder;
use crate::ad::monitoring_read::{admin_count_readable, monitor_principal};
use crate::ad::session::sd_flags_dacl;
use crate::ad::{AdContext, LdapError, Session};

/// What tells AdminSDHolder-protected users in one domain, read once per cycle (never kept: a changed AdminSDHolder
/// re-judges every cached user).
#[derive(Debug)]
pub struct Protection {
    /// AdminSDHolder's DACL; `None` when it could not be read (then only adminCount=1 tells).
    pub holder: Option<AdminSdHolder>,
    /// Whether the monitoring account reads adminCount (on the built-in Administrator); `None`: cannot tell.
    pub admin_count_readable: Option<bool>,
    /// The monitoring account as the grant names it.
    pub monitor: String,
}

impl Protection {
    /// # Errors
    /// LDAP failures other than a refused read.
    pub(super) async fn read(ctx: &AdContext, session: &mut Session, nc: &str) -> Result<Protection, LdapError> {
        let dn = format!("CN=AdminSDHolder,CN=System,{nc}");
        let holder = match session
            .read_with(&dn, &["nTSecurityDescriptor"], vec![sd_flags_dacl()], "read AdminSDHolder")
            .await
        {
            Ok(entry) => entry,
            Err(LdapError::Permission { .. }) => None,
            Err(e) => return Err(e),
        };
        let holder = holder
            .as_ref()
            .and_then(|e| e.raw("nTSecurityDescriptor").first())
            .and_then(|b| AdminSdHolder::from_descriptor(b));
        if holder.is_none() {
            tracing::warn!(%dn, "AdminSDHolder's DACL not readable: protected users are recognized by adminCount=1 only");
        }
        let admin_count_readable = admin_count_readable(session, nc).await?;
        Ok(Protection { holder, admin_count_readable, monitor: monitor_principal(ctx) })
    }
}
