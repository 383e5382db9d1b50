//! The lab scenario: a domain and a tenant with the breakage password writeback meets in real ones. Shared by the
//! lab (examples/lab.rs) and the dashboard proof (tests/dashboard.rs), so that what the lab shows is what is tested.

use std::path::Path;

use serde_json::json;

use super::directory::{user_dn, Seed};
use super::graph_fake::{audit, now_unix, organization, sku, sync_object, GraphFake, AUDITS, SKUS, SYNC};
use super::samba::{self, SambaDc};
use super::sysvol::{self, password_policy, restrict_remote_sam, utf16, write_template};

pub const TARGET: &str = "corp";
pub const CONNECTOR: &str = "MSOL_0123456789ab";
/// A second, disabled connector account, as a stale Connect installation leaves behind.
pub const STALE_CONNECTOR: &str = "MSOL_fedcba987654";
pub const STAFF: &str = "OU=Staff,DC=corp,DC=example,DC=test";
/// An OU with inheritance disabled: the grant on the domain root does not reach it.
pub const LEGACY: &str = "OU=Legacy,DC=corp,DC=example,DC=test";
/// A fine-grained password policy with a minimum age of 1 day.
pub const PSO: &str = "helpdesk-strict";
const USER_CLASS: &str = "bf967aba-0de6-11d0-a285-00aa003049e2";
const P1: (&str, &str) = ("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM");
const EXCHANGE: (&str, &str) = ("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE");
const SHAREPOINT: (&str, &str) = ("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE");
/// The Connect build the tenant reports: at or below 1.0.8641.0, so writeback is gone and the version unsupported.
pub const CONNECT_VERSION: &str = "1.0.8641.0";

fn connector_description(server: &str) -> String {
    format!(
        "Account created by Microsoft Azure Active Directory Connect with installation identifier \
         0123456789ab4cdef0123456789abcde running on computer {server} configured to synchronize to tenant \
         contoso.onmicrosoft.com. This account must have directory replication permissions in the local Active \
         Directory and write permission on certain attributes to enable Hybrid Deployment."
    )
}

/// Seeds the domain: the connector account holds Microsoft's grant on the domain root (Reset Password, Write
/// lockoutTime, Write pwdLastSet on descendant users); a stale, disabled MSOL_ account; among the users one with
/// "User cannot change password" (deny ACEs), an inetOrgPerson, an AdminSDHolder-protected admin, one with
/// inheritance disabled; an OU (Legacy) with inheritance disabled, so it lacks the grant; a PSO with a minimum
/// age of 1 day. The domain's minimum password age stays at Samba's default of 1 day.
pub fn seed_domain(dc: &SambaDc) {
    let grant = |guid: &str, right: &str| format!("(OA;CIIO;{right};{guid};{USER_CLASS};{{sid:{CONNECTOR}}})");
    let pw = "Lab-User-Passw0rd!";
    let dn = |name: &str, ou: &str| format!("CN={name},{ou}");
    Seed::default()
        .user_with_description(CONNECTOR, "Lab-Connector-Passw0rd!", &connector_description("CONNECT01"))
        .user_with_description(STALE_CONNECTOR, "Lab-Stale-Passw0rd!", &connector_description("OLDSYNC"))
        .modify(&format!(
            "dn: {}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 514\n",
            user_dn(STALE_CONNECTOR, None)
        ))
        .ace(samba::DOMAIN_DN, &grant("00299570-246d-11d0-a768-00aa006e0529", "CR"))
        .ace(samba::DOMAIN_DN, &grant("28630ebf-41d5-11d1-a9c1-0000f80367c1", "WP"))
        .ace(samba::DOMAIN_DN, &grant("bf967a0a-0de6-11d0-a285-00aa003049e2", "WP"))
        .ou(STAFF)
        .ou(LEGACY)
        .user("alice", pw, Some(STAFF))
        .user("bob", pw, Some(STAFF))
        .ace(&dn("bob", STAFF), "(OD;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;WD)")
        .ace(&dn("bob", STAFF), "(OD;;CR;ab721a53-1e2f-11d0-9819-00aa0040529b;;PS)")
        .inet_org_person("carol", pw, Some(STAFF))
        .user("dave", pw, Some(STAFF))
        .sdprop(&dn("dave", STAFF))
        .user("erin", pw, Some(STAFF))
        .protect(&dn("erin", STAFF))
        .protect(LEGACY)
        .user("frank", pw, Some(LEGACY))
        .apply(dc);
    dc.samba_tool(&["domain", "passwordsettings", "pso", "create", PSO, "10", "--min-pwd-age=1"])
        .unwrap_or_else(|e| panic!("create PSO: {e}"));
    dc.samba_tool(&["domain", "passwordsettings", "pso", "apply", PSO, "alice"])
        .unwrap_or_else(|e| panic!("apply PSO: {e}"));
    seed_group_policy(dc);
}

/// Group Policy as Windows domains have it, plus a hardened DC policy: the Default Domain Policy sets the password
/// policy with a minimum age of 1 day (what the domain object holds, so no drift), and the Default Domain
/// Controllers Policy lets only Administrators make remote calls to SAM, which blocks the connector (SSPR_0029).
pub fn seed_group_policy(dc: &SambaDc) {
    write_template(dc, sysvol::DEFAULT_DOMAIN_POLICY, &utf16(&password_policy(1)));
    let dc_policy = sysvol::template("", &restrict_remote_sam("O:BAG:BAD:(A;;RC;;;BA)"));
    write_template(dc, sysvol::DEFAULT_DC_POLICY, &utf16(&dc_policy));
}

/// Programs the tenant: Microsoft 365 E3 with Entra ID P1 (units to spare), EMS (P1) with units in the warning
/// state, Office 365 E3 (no P1/P2); sync enabled but the last sync 4 hours ago; the Connect server CONNECT01 on
/// [`CONNECT_VERSION`]; no self-service events yet ([`sspr_events`] adds some).
pub fn seed_tenant(fake: &GraphFake) {
    let mut ems = sku("EMS", &[P1], 10, 10, "Warning");
    ems["prepaidUnits"]["warning"] = json!(5);
    fake.set_collection(
        SKUS,
        vec![
            sku("SPE_E3", &[EXCHANGE, P1], 100, 40, "Enabled"),
            ems,
            sku("ENTERPRISEPACK", &[EXCHANGE, SHAREPOINT], 500, 480, "Enabled"),
        ],
    );
    let now = now_unix();
    fake.set_organization(organization(Some(true), Some(now - 4.0 * 3600.0), Some(now - 300.0)));
    fake.set_collection(SYNC, vec![sync_object(CONNECT_VERSION, "CONNECT01.corp.example.test", true)]);
}

/// Self-service events as users cause them: two resets, a change and a failed reset (account locked). Dated a few
/// seconds ahead, so that the exporter's next audit query (it looks back one interval on its first run, then from
/// the newest event seen) includes them whatever the phase of its schedule.
pub fn sspr_events(fake: &GraphFake, id_prefix: &str) {
    let at = now_unix() + 5.0;
    let events = [
        ("Reset password (self-service)", "success"),
        ("Change password (self-service)", "success"),
        ("Reset password (self-service)", "success"),
        ("Reset password (self-service)", "failure"),
    ];
    let items = events
        .iter()
        .enumerate()
        .map(|(i, (activity, result))| audit(&format!("{id_prefix}-{i}"), at + i as f64 * 0.1, activity, result))
        .collect();
    fake.push_items(AUDITS, items);
}

/// The exporter's configuration for target [`TARGET`]: the DC (bound as `bind_upn`), scopes domain root, Staff
/// and Legacy, and the Graph fake. `interval` applies to every probe.
pub fn exporter_config(
    dc: &SambaDc,
    bind_upn: &str,
    bind_password_file: &Path,
    fake: &GraphFake,
    secret_file: &Path,
    interval: &str,
) -> String {
    format!(
        "global:\n  interval: {interval}\n  timeout: 30s\ntargets:\n  - name: {TARGET}\n    ad:\n      servers: [\"{url}\"]\n      bind:\n        user: \"{bind_upn}\"\n        password_file: \"{pw}\"\n      tls:\n        ca_file: \"{ca}\"\n      scopes: [\"{root}\", \"{STAFF}\", \"{LEGACY}\"]\n    entra:\n      tenant_id: {tenant}\n      client_id: {client}\n      client_secret_file: \"{secret}\"\n      authority_url: {graph}\n      graph_url: {graph}\n      ca_file: \"{graph_ca}\"\n",
        url = dc.ldaps_url(),
        pw = bind_password_file.display(),
        ca = dc.ca_pem_path().display(),
        root = samba::DOMAIN_DN,
        tenant = super::graph_fake::TENANT,
        client = super::graph_fake::CLIENT_ID,
        secret = secret_file.display(),
        graph = fake.url(),
        graph_ca = fake.ca_file().display(),
    )
}
