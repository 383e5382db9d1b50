"""Seeds a scenario into a test DC's local database in one process (each samba-tool call would cost a Python start).

Usage: /usr/bin/python3 seed.py SMB_CONF SAM_LDB OPS_JSON. OPS_JSON is a list of operations, applied in order:
  {"op": "ou", "dn": DN}
  {"op": "user", "name": SAM, "password": PW, "ou": DN or null, "description": TEXT or null}
  {"op": "inetorgperson", "name": SAM, "password": PW, "ou": DN or null}
  {"op": "group", "name": NAME}
  {"op": "member", "group": NAME, "member": SAM}
  {"op": "ace", "dn": DN, "sddl": "(A;...)"}      (Samba puts the new ACE first; {sid:NAME} is replaced by NAME's SID)
  {"op": "protect", "dn": DN}                        (inheritance disabled, inherited ACEs removed)
  {"op": "protect_converting", "dn": DN}             (inheritance disabled, inherited ACEs kept as explicit ones)
  {"op": "sdprop", "dn": DN}                         (as SDProp leaves a protected account: AdminSDHolder's DACL)
  {"op": "modify", "ldif": LDIF}
  {"op": "bulk_users", "ou": DN, "prefix": P, "count": N, "inetorgperson_every": K, "batch": B}
                                                     (N minimal enabled users CN=P000000.., no password; every Kth
                                                     an inetOrgPerson (0: none); B adds per transaction)
  {"op": "contacts", "ou": DN, "prefix": P, "count": N}   (CN=<P>0000.. contacts, in one transaction)
  {"op": "add", "ldif": LDIF, "controls": [..]}   (any object; e.g. a crossRef for a domain no DC serves, which
                                                   needs "relax:0": its nCName names no existing object)
  {"op": "delete", "dn": DN}                         (the object becomes a tombstone)
  {"op": "rename", "dn": DN, "new_dn": DN}           (modrdn: a move to another container, or a new name)
  {"op": "remove_member", "group": NAME, "member": SAM}
  {"op": "enable", "name": SAM} / {"op": "disable", "name": SAM}   (userAccountControl ACCOUNTDISABLE)
  {"op": "remove_ace", "dn": DN, "sddl": "(A;...)"}  (removes the explicit ACEs equal to it; {sid:NAME} as for "ace")
  {"op": "inherit", "dn": DN}                        (inheritance enabled again: Samba adds the inherited ACEs back)
Used by the integration tests and the examples (tests/support/directory.rs).
"""
import json
import sys

from samba.auth import system_session
from samba.dcerpc import security
from samba.ndr import ndr_deepcopy
from samba.param import LoadParm
from samba.samdb import SamDB
from samba.sd_utils import SDUtils


def main():
    smb_conf, sam_ldb, ops_file = sys.argv[1:4]
    lp = LoadParm()
    lp.load(smb_conf)
    with open(ops_file) as f:
        ops = json.load(f)
    options = None
    if any(op["op"] == "bulk_users" for op in ops):
        # ldb's batch mode (as provision and join use it): no sub-transaction per add. Without it each add's
        # sub-transaction commit copies the index lists it touched (objectCategory=person lists every user), so bulk
        # adds get quadratic: ~13 s per 1000 users at 5000 users instead of ~2 s. The price: a failed operation
        # aborts the whole transaction, which is fine for seeding.
        options = ["batch_mode:1", "transaction_index_cache_size:202481"]
    samdb = SamDB(url=sam_ldb, session_info=system_session(), lp=lp, options=options)
    sdu = SDUtils(samdb)
    domain_dn = str(samdb.domain_dn())
    for op in ops:
        kind = op["op"]
        if kind == "ou":
            samdb.create_ou(op["dn"])
        elif kind == "user":
            ou = op.get("ou")
            samdb.newuser(op["name"], op["password"], userou=relative(ou, domain_dn),
                          description=op.get("description"), setpassword=True)
        elif kind == "inetorgperson":
            ou = op.get("ou") or "CN=Users," + domain_dn
            dn = "CN=%s,%s" % (op["name"], ou)
            samdb.add({"dn": dn, "objectClass": "inetOrgPerson", "sAMAccountName": op["name"],
                       "userPrincipalName": "%s@%s" % (op["name"], samdb.domain_dns_name())})
            samdb.setpassword("(sAMAccountName=%s)" % op["name"], op["password"])
            samdb.enable_account("(sAMAccountName=%s)" % op["name"])
        elif kind == "group":
            samdb.newgroup(op["name"])
        elif kind == "member":
            samdb.add_remove_group_members(op["group"], [op["member"]], add_members_operation=True)
        elif kind == "ace":
            sdu.dacl_add_ace(op["dn"], resolve_sids(samdb, op["sddl"]))
        elif kind == "protect":
            sd = sdu.read_sd_on_dn(op["dn"], controls=["sd_flags:1:4"])
            for ace in list(sd.dacl.aces):
                if ace.flags & security.SEC_ACE_FLAG_INHERITED_ACE:
                    try:
                        sd.dacl_del_ace(ace)
                    except Exception:
                        pass  # an identical ACE was already removed with an earlier one
            sd.type |= security.SEC_DESC_DACL_PROTECTED
            sdu.modify_sd_on_dn(op["dn"], sd, controls=["sd_flags:1:4"])
        elif kind == "protect_converting":
            # ADUC's "Convert inherited permissions into explicit permissions on this object".
            sd = sdu.read_sd_on_dn(op["dn"], controls=["sd_flags:1:4"])
            for ace in sd.dacl.aces:
                ace.flags &= ~security.SEC_ACE_FLAG_INHERITED_ACE
            sd.type |= security.SEC_DESC_DACL_PROTECTED
            sdu.modify_sd_on_dn(op["dn"], sd, controls=["sd_flags:1:4"])
        elif kind == "sdprop":
            # What SDProp does to a protected account: adminCount=1 and the DACL of AdminSDHolder, inheritance off.
            holder = "CN=AdminSDHolder,CN=System," + domain_dn
            sd = sdu.read_sd_on_dn(holder, controls=["sd_flags:1:4"])
            for ace in list(sd.dacl.aces):
                ace.flags &= ~security.SEC_ACE_FLAG_INHERITED_ACE
            sd.type |= security.SEC_DESC_DACL_PROTECTED
            sdu.modify_sd_on_dn(op["dn"], sd, controls=["sd_flags:1:4"])
            samdb.modify_ldif("dn: %s\nchangetype: modify\nreplace: adminCount\nadminCount: 1\n-\n" % op["dn"])
        elif kind == "modify":
            samdb.modify_ldif(op["ldif"])
        elif kind == "contacts":
            # One transaction: thousands of separate adds would take minutes.
            samdb.transaction_start()
            try:
                for i in range(op["count"]):
                    samdb.add({"dn": "CN=%s%04d,%s" % (op["prefix"], i, op["ou"]), "objectClass": "contact"})
            except Exception:
                samdb.transaction_cancel()
                raise
            samdb.transaction_commit()
        elif kind == "add":
            samdb.add_ldif(op["ldif"], controls=op.get("controls") or None)
        elif kind == "bulk_users":
            bulk_users(samdb, op)
        elif kind == "delete":
            samdb.delete(op["dn"])
        elif kind == "rename":
            samdb.rename(op["dn"], op["new_dn"])
        elif kind == "remove_member":
            samdb.add_remove_group_members(op["group"], [op["member"]], add_members_operation=False)
        elif kind == "enable":
            samdb.enable_account("(sAMAccountName=%s)" % op["name"])
        elif kind == "disable":
            samdb.disable_account("(sAMAccountName=%s)" % op["name"])
        elif kind == "remove_ace":
            remove_ace(samdb, sdu, op["dn"], resolve_sids(samdb, op["sddl"]))
        elif kind == "inherit":
            sd = sdu.read_sd_on_dn(op["dn"], controls=["sd_flags:1:4"])
            sd.type &= ~security.SEC_DESC_DACL_PROTECTED
            sdu.modify_sd_on_dn(op["dn"], sd, controls=["sd_flags:1:4"])
        else:
            raise SystemExit("unknown op %r" % kind)


def bulk_users(samdb, op):
    """Minimal users for benchmarks: no password (userAccountControl 544 = NORMAL_ACCOUNT | PASSWD_NOTREQD, so
    enabled), only the attributes Samba needs, `batch` adds per transaction (each transaction ends in an fsync)."""
    ou, prefix, count = op["ou"], op["prefix"], int(op["count"])
    every = int(op.get("inetorgperson_every") or 0)
    batch = int(op.get("batch") or count) or 1
    for start in range(0, count, batch):
        samdb.transaction_start()
        try:
            for i in range(start, min(start + batch, count)):
                name = "%s%06d" % (prefix, i)
                cls = "inetOrgPerson" if every and i % every == every - 1 else "user"
                samdb.add({"dn": "CN=%s,%s" % (name, ou), "objectClass": cls, "sAMAccountName": name,
                           "userAccountControl": "544"})
        except BaseException:
            samdb.transaction_cancel()
            raise
        samdb.transaction_commit()


def remove_ace(samdb, sdu, dn, sddl):
    """Removes the explicit ACEs equal to `sddl` (SDUtils.dacl_delete_aces compares ACE objects by identity, so it
    never finds one). Inherited ACEs are left out of the written DACL: the DC derives them again."""
    wanted = ace_key(security.descriptor.from_sddl("D:" + sddl, security.dom_sid(samdb.get_domain_sid())).dacl.aces[0])
    sd = sdu.read_sd_on_dn(dn, controls=["sd_flags:1:4"])
    # A copy to iterate: the ACE objects of sd.dacl.aces point into the array that each deletion shifts.
    for ace in ndr_deepcopy(sd.dacl).aces:
        inherited = ace.flags & security.SEC_ACE_FLAG_INHERITED_ACE
        if (inherited and not sd.type & security.SEC_DESC_DACL_PROTECTED) or ace_key(ace) == wanted:
            try:
                sd.dacl_del_ace(ace)
            except Exception:
                pass  # an equal ACE was already removed with an earlier one
    sdu.modify_sd_on_dn(dn, sd, controls=["sd_flags:1:4"])


def ace_key(ace):
    key = (ace.type, ace.flags, ace.access_mask, str(ace.trustee))
    if ace.type in (security.SEC_ACE_TYPE_ACCESS_ALLOWED_OBJECT, security.SEC_ACE_TYPE_ACCESS_DENIED_OBJECT):
        flags = ace.object.flags
        object_type = str(ace.object.type) if flags & security.SEC_ACE_OBJECT_TYPE_PRESENT else None
        inherited = (str(ace.object.inherited_type)
                     if flags & security.SEC_ACE_INHERITED_OBJECT_TYPE_PRESENT else None)
        key += (object_type, inherited)
    return key


def resolve_sids(samdb, sddl):
    """Replaces {sid:NAME} with the objectSid of the account or group NAME."""
    while "{sid:" in sddl:
        start = sddl.index("{sid:")
        end = sddl.index("}", start)
        name = sddl[start + 5:end]
        res = samdb.search(base=samdb.domain_dn(), expression="(sAMAccountName=%s)" % name, attrs=["objectSid"])
        sid = samdb.schema_format_value("objectSid", res[0]["objectSid"][0]).decode()
        sddl = sddl[:start] + sid + sddl[end + 1:]
    return sddl


def relative(ou, domain_dn):
    """newuser() wants the OU without the domain part."""
    if not ou:
        return None
    suffix = "," + domain_dn
    return ou[: -len(suffix)] if ou.lower().endswith(suffix.lower()) else ou


if __name__ == "__main__":
    main()
