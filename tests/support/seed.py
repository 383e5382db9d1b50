"""Seeds a scenario into a test DC's local database in one process (each samba-tool call would cost a Python start).

Usage: /usr/bin/python3 seed.py SMB_CONF SAM_LDB OPS_JSON. OPS_JSON is a list of operations, applied in order:
  {"op": "ou", "dn": DN}
  {"op": "user", "name": SAM, "password": PW, "ou": DN or null, "description": TEXT or null}
  {"op": "inetorgperson", "name": SAM, "password": PW, "ou": DN or null}
  {"op": "group", "name": NAME}
  {"op": "member", "group": NAME, "member": SAM}
  {"op": "ace", "dn": DN, "sddl": "(A;...)"}      (Samba puts the new ACE first; {sid:NAME} is replaced by NAME's SID)
  {"op": "protect", "dn": DN}                        (inheritance disabled, inherited ACEs removed)
  {"op": "sdprop", "dn": DN}                         (as SDProp leaves a protected account: AdminSDHolder's DACL)
  {"op": "modify", "ldif": LDIF}
  {"op": "bulk_users", "ou": DN, "prefix": P, "count": N, "inetorgperson_every": K, "batch": B}
                                                     (N minimal enabled users CN=P000000.., no password; every Kth
                                                     an inetOrgPerson (0: none); B adds per transaction)
Used by the integration tests and the examples (tests/support/directory.rs).
"""
import json
import sys

from samba.auth import system_session
from samba.dcerpc import security
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
        elif kind == "bulk_users":
            bulk_users(samdb, op)
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
