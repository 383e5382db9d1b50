//! SSPR failures explained on the AD side: the Graph fake serves failed self-service events whose
//! `targetResources` name a ready user, a user denied by an ACE, a user under a PSO with a minimum age and a user
//! who exists only in the cloud; probe `entra_sspr` counts each under its cause
//! (`writeback_entra_sspr_failures_explained_total`), against a real Samba DC seeded with the integration
//! scenario. Also: the per-run limit (the rest is `unknown`), and the look-up by userPrincipalName when Graph
//! refuses User.Read.All.

mod support;

use std::time::Duration;

use support::directory::{user_dn, Seed};
use support::exporter::{write_file, Exporter, Metrics};
use support::graph_fake::{
    audit, audit_for, graph_user, now_unix, secret_credential, user_path, Credential, GraphFake, Reply, AUDITS, SECRET,
    USERS,
};
use support::samba::{self, SambaDc, DOMAIN_DN};
use support::scenario::{self, STAFF};

const WAIT: Duration = Duration::from_secs(120);
/// The `cause` values METRICS.md lists, written out here rather than taken from the exporter: the test's oracle.
const CAUSES: [&str; 10] = [
    "protected",
    "inheritance_disabled",
    "object_class",
    "denied",
    "not_granted",
    "min_password_age",
    "restrict_remote_sam",
    "ready",
    "not_found",
    "unknown",
];
const RESET: &str = "Reset password (self-service)";

/// Entra object ids of the users the events name.
const HENRY: &str = "11111111-0000-0000-0000-000000000001";
const BOB: &str = "11111111-0000-0000-0000-000000000002";
const ALICE: &str = "11111111-0000-0000-0000-000000000003";
const ZOE: &str = "11111111-0000-0000-0000-000000000004";
const CAROL: &str = "11111111-0000-0000-0000-000000000005";

fn upn(name: &str) -> String {
    format!("{name}@corp.example.test")
}

fn explained(m: &Metrics, cause: &str) -> f64 {
    m.value("writeback_entra_sspr_failures_explained_total", &[("target", scenario::TARGET), ("cause", cause)])
        .unwrap_or(-1.0)
}

fn all(m: &Metrics) -> Vec<(&'static str, f64)> {
    CAUSES.iter().map(|c| (*c, explained(m, c))).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sspr_failures_are_counted_under_their_ad_cause() {
    let dc = SambaDc::start().unwrap_or_else(|e| panic!("Samba DC: {e}"));
    scenario::seed_domain(&dc);
    // The domain's own minimum age to 0, so that only alice's PSO (helpdesk-strict, 1 day) keeps one; henry is a
    // plain user of Staff, which the connector is granted on.
    Seed::default()
        .modify(&format!("dn: {DOMAIN_DN}\nchangetype: modify\nreplace: minPwdAge\nminPwdAge: 0\n-\n"))
        .user("henry", "Lab-User-Passw0rd!", Some(STAFF))
        .apply(&dc);
    let fake = GraphFake::start(Credential::Secret(SECRET.to_string())).await;
    scenario::seed_tenant(&fake);
    fake.set_collection(
        USERS,
        vec![
            graph_user(HENRY, &upn("henry"), Some(&user_dn("henry", Some(STAFF)))),
            graph_user(BOB, &upn("bob"), Some(&user_dn("bob", Some(STAFF)))),
            graph_user(ALICE, &upn("alice"), Some(&user_dn("alice", Some(STAFF)))),
            graph_user(ZOE, "zoe@contoso.example", None),
            graph_user(CAROL, &upn("carol"), Some(&user_dn("carol", Some(STAFF)))),
        ],
    );
    // Dated a little ahead, so that the first run's look-back includes them whenever it starts.
    let at = now_unix() + 5.0;
    fake.push_items(
        AUDITS,
        vec![
            audit_for("e1", at, RESET, "failure", HENRY, &upn("henry")),
            audit_for("e2", at + 0.1, RESET, "failure", BOB, &upn("bob")),
            audit_for("e3", at + 0.2, "Change password (self-service)", "failure", ALICE, &upn("alice")),
            audit_for("e4", at + 0.3, RESET, "failure", ZOE, "zoe@contoso.example"),
            // Over the limit of 4 per run: counted, not judged.
            audit_for("e5", at + 0.4, "Unlock user account (self-service)", "failure", CAROL, &upn("carol")),
            // Not failures, or not user-facing: not explained.
            audit_for("e6", at + 0.5, RESET, "success", HENRY, &upn("henry")),
            audit("e7", at + 0.6, "Self-service password reset flow activity progress", "failure"),
        ],
    );

    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "ad.password", samba::ADMIN_PASSWORD);
    secret_credential(dir.path(), SECRET);
    let secret = dir.path().join("graph.secret");
    // As the administrator (the PSO is readable), without Group Policy (the scenario's RestrictRemoteSAM GPO would
    // be a cause for everyone), the entra_sspr probe every 2 s.
    let text = scenario::exporter_config(&dc, samba::ADMIN_UPN, &pw, &fake, &secret, "1h")
        .replace("  timeout: 30s\n", "  timeout: 30s\n  intervals:\n    entra_sspr: 2s\n")
        .replace("    entra:\n", "      gpo: false\n    entra:\n")
        .replace("      graph_url: ", "      sspr_explain_limit: 4\n      graph_url: ");
    assert!(text.contains("sspr_explain_limit: 4") && text.contains("gpo: false"), "{text}");
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    let exporter = Exporter::start(&cfg, &[]);

    let m = exporter
        .wait_for_metrics(WAIT, "five failures explained", |m| all(m).iter().map(|c| c.1).sum::<f64>() >= 5.0)
        .await;
    let expected: Vec<(&str, f64)> = CAUSES
        .iter()
        .map(|c| (*c, f64::from(u8::from(["ready", "denied", "min_password_age", "not_found", "unknown"].contains(c)))))
        .collect();
    assert_eq!(all(&m), expected, "henry ready, bob denied, alice under the PSO, zoe cloud-only, carol over the limit");
    // The landing page lists them, newest first, with their causes.
    let (_, page) = exporter.get("/").await;
    for line in [
        format!("{}: ready", upn("henry")),
        format!("{}: denied", upn("bob")),
        format!("{}: min_password_age", upn("alice")),
        "zoe@contoso.example: not_found".to_string(),
        "1 over sspr_explain_limit counted as unknown".to_string(),
    ] {
        assert!(page.contains(&line), "{line} not on the landing page");
    }

    // Without User.Read.All the users are looked up in AD by userPrincipalName: the same answers.
    for id in [HENRY, BOB] {
        fake.always(
            &user_path(id),
            Some(Reply::graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )),
        );
    }
    let at = now_unix() + 5.0;
    fake.push_items(
        AUDITS,
        vec![
            audit_for("f1", at, RESET, "failure", HENRY, &upn("henry")),
            audit_for("f2", at + 0.1, RESET, "failure", BOB, &upn("bob")),
        ],
    );
    let m = exporter
        .wait_for_metrics(WAIT, "two more failures explained", |m| all(m).iter().map(|c| c.1).sum::<f64>() >= 7.0)
        .await;
    assert_eq!((explained(&m, "ready"), explained(&m, "denied")), (2.0, 2.0), "{:?}", all(&m));
    assert_eq!(all(&m).iter().map(|c| c.1).sum::<f64>(), 7.0, "each event explained once: {:?}", all(&m));
    let (_, page) = exporter.get("/").await;
    assert!(page.contains("User.Read.All not granted: users looked up in AD by userPrincipalName"), "{page:.2000}");
    assert!(!exporter.log().contains(SECRET), "the client secret reached the log");
}
