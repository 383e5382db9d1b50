//! Seeding permission scenarios into a test DC, and the DC's own access check as ground truth: bind as the
//! connector account and try each writeback operation on a user (REFERENCE.md, "Ground truth for tests").

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use ldap3::{LdapConnAsync, LdapConnSettings, Mod};
use serde_json::{json, Value};

use super::samba::{self, SambaDc};

/// A list of seeding operations, applied by `seed.py` in one Python process.
#[derive(Default)]
pub struct Seed {
    ops: Vec<Value>,
}

impl Seed {
    pub fn ou(mut self, dn: &str) -> Self {
        self.ops.push(json!({"op": "ou", "dn": dn}));
        self
    }
    pub fn user(mut self, name: &str, password: &str, ou: Option<&str>) -> Self {
        self.ops.push(json!({"op": "user", "name": name, "password": password, "ou": ou}));
        self
    }
    pub fn user_with_description(mut self, name: &str, password: &str, description: &str) -> Self {
        self.ops
            .push(json!({"op": "user", "name": name, "password": password, "ou": null, "description": description}));
        self
    }
    pub fn inet_org_person(mut self, name: &str, password: &str, ou: Option<&str>) -> Self {
        self.ops.push(json!({"op": "inetorgperson", "name": name, "password": password, "ou": ou}));
        self
    }
    pub fn group(mut self, name: &str) -> Self {
        self.ops.push(json!({"op": "group", "name": name}));
        self
    }
    pub fn member(mut self, group: &str, member: &str) -> Self {
        self.ops.push(json!({"op": "member", "group": group, "member": member}));
        self
    }
    /// Adds an ACE (SDDL) to the object's DACL; Samba inserts it first.
    pub fn ace(mut self, dn: &str, sddl: &str) -> Self {
        self.ops.push(json!({"op": "ace", "dn": dn, "sddl": sddl}));
        self
    }
    /// Disables inheritance on the object and removes its inherited ACEs.
    pub fn protect(mut self, dn: &str) -> Self {
        self.ops.push(json!({"op": "protect", "dn": dn}));
        self
    }
    /// Disables inheritance on the object and keeps the inherited ACEs as explicit ones (ADUC's "Convert").
    pub fn protect_converting(mut self, dn: &str) -> Self {
        self.ops.push(json!({"op": "protect_converting", "dn": dn}));
        self
    }
    /// Makes the account look as SDProp leaves an AdminSDHolder-protected one: adminCount=1, AdminSDHolder's DACL,
    /// inheritance disabled.
    pub fn sdprop(mut self, dn: &str) -> Self {
        self.ops.push(json!({"op": "sdprop", "dn": dn}));
        self
    }
    /// Adds `count` contacts `CN=<prefix>0000,<ou>`, ... in one transaction (cheap objects for huge multi-valued
    /// attributes).
    pub fn contacts(mut self, ou: &str, prefix: &str, count: usize) -> Self {
        self.ops.push(json!({"op": "contacts", "ou": ou, "prefix": prefix, "count": count}));
        self
    }

    /// Adds an object given as LDIF (`dn:` line first), through Samba's own modules, with LDB controls such as
    /// `relax:0` (lets a crossRef name a naming context that does not exist here).
    pub fn add(mut self, ldif: &str, controls: &[&str]) -> Self {
        self.ops.push(json!({"op": "add", "ldif": ldif, "controls": controls}));
        self
    }
    pub fn modify(mut self, ldif: &str) -> Self {
        self.ops.push(json!({"op": "modify", "ldif": ldif}));
        self
    }
    /// `count` minimal enabled users `CN=<prefix>000000,<ou>`, ... without a password (for benchmarks); every
    /// `inet_org_person_every`-th is an inetOrgPerson (0: none). `batch` adds per database transaction.
    pub fn bulk_users(mut self, ou: &str, prefix: &str, count: u32, inet_org_person_every: u32, batch: u32) -> Self {
        self.ops.push(json!({"op": "bulk_users", "ou": ou, "prefix": prefix, "count": count,
            "inetorgperson_every": inet_org_person_every, "batch": batch}));
        self
    }

    /// Deletes the object (a tombstone remains, as after an LDAP delete).
    pub fn delete(mut self, dn: &str) -> Self {
        self.ops.push(json!({"op": "delete", "dn": dn}));
        self
    }
    /// Moves or renames the object (modrdn).
    pub fn rename(mut self, dn: &str, new_dn: &str) -> Self {
        self.ops.push(json!({"op": "rename", "dn": dn, "new_dn": new_dn}));
        self
    }
    pub fn remove_member(mut self, group: &str, member: &str) -> Self {
        self.ops.push(json!({"op": "remove_member", "group": group, "member": member}));
        self
    }
    pub fn enable(mut self, name: &str) -> Self {
        self.ops.push(json!({"op": "enable", "name": name}));
        self
    }
    pub fn disable(mut self, name: &str) -> Self {
        self.ops.push(json!({"op": "disable", "name": name}));
        self
    }
    /// Removes the explicit ACEs equal to `sddl` from the object's DACL.
    pub fn remove_ace(mut self, dn: &str, sddl: &str) -> Self {
        self.ops.push(json!({"op": "remove_ace", "dn": dn, "sddl": sddl}));
        self
    }
    /// Enables inheritance on the object again (the reverse of [`Seed::protect`]): Samba adds the inherited ACEs.
    pub fn inherit(mut self, dn: &str) -> Self {
        self.ops.push(json!({"op": "inherit", "dn": dn}));
        self
    }

    /// Applies the operations to the DC's database.
    pub fn apply(self, dc: &SambaDc) {
        let dir = tempfile::tempdir().unwrap();
        let ops = dir.path().join("ops.json");
        std::fs::write(&ops, serde_json::to_vec(&self.ops).unwrap()).unwrap();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/seed.py");
        let out = Command::new("/usr/bin/python3")
            .arg(script)
            .arg(dc.smb_conf_path())
            .arg(dc.dir().join("private/sam.ldb"))
            .arg(&ops)
            .output()
            .expect("run seed.py");
        assert!(out.status.success(), "seed.py failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// The schema GUIDs writeback grants name (REFERENCE.md §1).
pub mod guids {
    pub const USER_CLASS: &str = "bf967aba-0de6-11d0-a285-00aa003049e2";
    pub const RESET_PASSWORD: &str = "00299570-246d-11d0-a768-00aa006e0529";
    pub const CHANGE_PASSWORD: &str = "ab721a53-1e2f-11d0-9819-00aa0040529b";
    pub const LOCKOUT_TIME: &str = "28630ebf-41d5-11d1-a9c1-0000f80367c1";
    pub const PWD_LAST_SET: &str = "bf967a0a-0de6-11d0-a285-00aa003049e2";
    pub const USER_ACCOUNT_RESTRICTIONS: &str = "4c164200-20c0-11d0-a768-00aa006e0529";
}

/// An ACE for the account `who` (`{sid:who}`, resolved by seed.py) on descendant user objects (`/I:S` with the
/// `user` class), as Microsoft's cmdlet writes it: `right` is `CR` or `WP`, `guid` the right or attribute.
pub fn grant(right: &str, guid: &str, who: &str) -> String {
    format!("(OA;CIIO;{right};{guid};{};{{sid:{who}}})", guids::USER_CLASS)
}

/// Microsoft's Set-ADSyncPasswordWritebackPermissions on `dn`: Reset, WP lockoutTime, WP pwdLastSet; no Change
/// Password (that comes from the schema default).
pub fn cmdlet_grants(seed: Seed, dn: &str, who: &str) -> Seed {
    seed.ace(dn, &grant("CR", guids::RESET_PASSWORD, who))
        .ace(dn, &grant("WP", guids::LOCKOUT_TIME, who))
        .ace(dn, &grant("WP", guids::PWD_LAST_SET, who))
}

/// What the DC allowed the connector to do to one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub reset_password: bool,
    pub change_password: bool,
    pub write_lockout_time: bool,
    pub write_pwd_last_set: bool,
}

impl Outcome {
    pub fn as_array(&self) -> [bool; 4] {
        [self.reset_password, self.change_password, self.write_lockout_time, self.write_pwd_last_set]
    }
    pub fn ready(&self) -> bool {
        self.as_array().iter().all(|b| *b)
    }
}

fn quoted_utf16(password: &str) -> Vec<u8> {
    format!("\"{password}\"").encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// Binds as `connector_upn` over LDAPS and tries, on `user_dn` whose current password is `user_password`: change
/// (needs the old password), reset, write pwdLastSet, write lockoutTime. 0 = allowed; 50
/// (insufficientAccessRights), or 19 for a change Samba refuses, = denied. Anything else fails the test.
pub async fn try_writeback(
    dc: &SambaDc,
    connector_upn: &str,
    connector_password: &str,
    user_dn: &str,
    user_password: &str,
) -> Outcome {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(dc.ca_der().to_vec())).unwrap();
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let settings = LdapConnSettings::new().set_config(Arc::new(config));
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &dc.ldaps_url()).await.unwrap();
    ldap3::drive!(conn);
    ldap.simple_bind(connector_upn, connector_password).await.unwrap().success().expect("connector binds");
    let allowed = |rc: u32, what: &str| match rc {
        0 => true,
        50 | 19 => false,
        other => panic!("{what} on {user_dn}: unexpected result code {other}"),
    };
    let changed = "Ch4nged-Pw-1!";
    let rc = ldap
        .modify(
            user_dn,
            vec![
                Mod::Delete(b"unicodePwd".to_vec(), [quoted_utf16(user_password)].into_iter().collect()),
                Mod::Add(b"unicodePwd".to_vec(), [quoted_utf16(changed)].into_iter().collect()),
            ],
        )
        .await
        .unwrap()
        .rc;
    let change_password = allowed(rc, "change password");
    let rc = ldap
        .modify(
            user_dn,
            vec![Mod::Replace(b"unicodePwd".to_vec(), [quoted_utf16("R3set-Pw-2!")].into_iter().collect())],
        )
        .await
        .unwrap()
        .rc;
    let reset_password = allowed(rc, "reset password");
    let rc = ldap.modify(user_dn, vec![Mod::Replace("pwdLastSet", ["0"].into_iter().collect())]).await.unwrap().rc;
    let write_pwd_last_set = allowed(rc, "write pwdLastSet");
    let rc = ldap.modify(user_dn, vec![Mod::Replace("lockoutTime", ["0"].into_iter().collect())]).await.unwrap().rc;
    let write_lockout_time = allowed(rc, "write lockoutTime");
    let _ = ldap.unbind().await;
    Outcome { reset_password, change_password, write_lockout_time, write_pwd_last_set }
}

/// The DN of a user created by [`Seed::user`].
pub fn user_dn(name: &str, ou: Option<&str>) -> String {
    match ou {
        Some(ou) => format!("CN={name},{ou}"),
        None => format!("CN={name},CN=Users,{}", samba::DOMAIN_DN),
    }
}
