//! Why a user is not ready for writeback (the first cause, in the order docs/metrics.md ranks them), and the fix.

use crate::ad::security::Decision;

/// Why a user is not ready, in the order docs/metrics.md ranks first causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Protected,
    InheritanceDisabled,
    ObjectClass,
    Denied,
    NotGranted,
}

impl Cause {
    pub const ALL: [Cause; 5] =
        [Cause::Protected, Cause::InheritanceDisabled, Cause::ObjectClass, Cause::Denied, Cause::NotGranted];

    pub fn label(self) -> &'static str {
        match self {
            Cause::Protected => "protected",
            Cause::InheritanceDisabled => "inheritance_disabled",
            Cause::ObjectClass => "object_class",
            Cause::Denied => "denied",
            Cause::NotGranted => "not_granted",
        }
    }

    /// The first cause of a user whose four rights were decided so (`None`: ready). The order is a contract
    /// (docs/metrics.md): the protection SDProp enforces explains everything else, then the DACL's shape, then its ACEs.
    /// `protected`: AdminSDHolder protects the user (adminCount=1 as read, or its DACL is AdminSDHolder's).
    pub fn first(
        protected: bool,
        inheritance_disabled: bool,
        inet_org_person: bool,
        decisions: &[Decision],
    ) -> Option<Cause> {
        if decisions.iter().all(|d| d.allowed()) {
            None
        } else if protected {
            Some(Cause::Protected)
        } else if inheritance_disabled {
            Some(Cause::InheritanceDisabled)
        } else if inet_org_person {
            Some(Cause::ObjectClass)
        } else if decisions.iter().any(|d| matches!(d, Decision::Denied { .. })) {
            Some(Cause::Denied)
        } else {
            Some(Cause::NotGranted)
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn fix(self) -> &'static str {
        match self {
            Cause::Protected => {
                "adminCount=1 users are AdminSDHolder-protected: SDProp rewrites their DACL every 60 minutes and \
                 disables inheritance. Microsoft expects them not to get writeback; keep privileged accounts out of SSPR \
                 writeback (or grant the rights on CN=AdminSDHolder,CN=System, which widens who can reset admins)."
            }
            Cause::InheritanceDisabled => {
                "Re-enable inheritance on these users (ADUC > Security > Advanced > Enable inheritance, or \
                 dsacls \"<user DN>\" /P:N); Microsoft's Get-ADSyncObjectsWithInheritanceDisabled lists them."
            }
            Cause::ObjectClass => {
                "These users are not of class user (e.g. inetOrgPerson): an ACE scoped to Descendant User objects \
                 reaches them inherit-only. Add the same ACEs scoped to inetOrgPerson (or to all descendant objects)."
            }
            Cause::Denied => "A deny ACE removes a needed right: remove or narrow the deny ACE shown in the scope check.",
            Cause::NotGranted => "No ACE grants the right on these users: see the ad_acl scope check for the grant to add.",
        }
    }
}
