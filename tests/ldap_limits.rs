//! Windows' LDAP limits (issue 15, item 5), with the real binary against a scripted DC that enforces them on the user
//! scan of probe `ad_users` (tests/support/limits_dc.rs):
//! - a DC that returns fewer entries per page than asked (MaxPageSize, 1,000 on Windows, below the configured
//!   `page_size`) but a cookie: the scan follows the cookie to the end, whatever each page's length; a `page_size`
//!   above 1,000 is accepted and comes down to this case;
//! - sizeLimitExceeded (4) or adminLimitExceeded (11) ending a page after the first: `ad_users` fails with reason
//!   `protocol`, its message (log, landing page) names the limit, and no `writeback_ad_users*` series is served:
//!   neither the partial count nor the last complete one; also when that page still carries a cookie.
//!
//! Referrals, the third Windows limit of the item, are in tests/bounded.rs.

mod support;

use std::time::Duration;

use support::exporter::{write_file, Exporter, Metrics};
use support::limits_dc::{Limit, LimitsDc, DOMAIN, DOMAIN_DN};

/// Runs the exporter against `dc` with `ad_users` every 2 s (the other AD probes once an hour) and `page_size`.
fn start(dc: &LimitsDc, page_size: u32) -> (Exporter, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pw = write_file(dir.path(), "pw", "irrelevant");
    let target = dc.target(&pw, &format!("      page_size: {page_size}\n"));
    let text = format!("global:\n  interval: 1h\n  timeout: 20s\n  intervals:\n    ad_users: 2s\ntargets:\n{target}");
    let cfg = write_file(dir.path(), "writeback_exporter.yml", &text);
    (Exporter::start(&cfg, &[]), dir)
}

const SCOPE: [(&str, &str); 2] = [("domain", DOMAIN), ("scope", DOMAIN_DN)];
const USERS_PROBE: [(&str, &str); 1] = [("probe", "ad_users")];
const PROTOCOL: [(&str, &str); 2] = [("probe", "ad_users"), ("reason", "protocol")];

/// The sample lines of every `writeback_ad_users*` metric.
fn user_series(m: &Metrics) -> Vec<&str> {
    m.text.lines().filter(|l| l.starts_with("writeback_ad_users")).collect()
}

/// Waits for a cycle of `ad_users` that read `users` users, and checks the DC had to page them.
async fn expect_complete_scan(exporter: &Exporter, dc: &LimitsDc, users: usize, asked: u64, pages: u64) {
    let m = exporter
        .wait_for_metrics(Duration::from_secs(30), "an ad_users cycle", |m| {
            m.has("writeback_ad_users", &SCOPE) || m.value("writeback_probe_success", &USERS_PROBE) == Some(0.0)
        })
        .await;
    assert_eq!(m.value("writeback_ad_users", &SCOPE), Some(users as f64), "{}\n{}", m.text, exporter.log());
    assert_eq!(m.value("writeback_probe_success", &USERS_PROBE), Some(1.0), "{}", m.text);
    assert_eq!(m.value("writeback_ad_users_unreadable", &SCOPE), Some(0.0), "{}", m.text);
    assert_eq!(dc.largest_ask(), asked, "the page size the exporter asked for");
    assert!(dc.pages() >= pages, "{} pages served, expected at least {pages}", dc.pages());
}

/// The exporter asks for pages of 1,000; the DC hands out 2 entries per page and a cookie.
#[tokio::test]
async fn pages_shorter_than_asked_are_followed_to_the_end() {
    let dc = LimitsDc::start(7, 2).await;
    let (exporter, _dir) = start(&dc, 1000);
    expect_complete_scan(&exporter, &dc, 7, 1000, 4).await;
}

/// `page_size: 5000` is a valid configuration; a DC whose MaxPageSize is 1,000 serves the scan in pages of 1,000.
#[tokio::test]
async fn a_page_size_above_windows_max_page_size_reads_everything() {
    let dc = LimitsDc::start(2500, 1000).await;
    let (exporter, _dir) = start(&dc, 5000);
    expect_complete_scan(&exporter, &dc, 2500, 5000, 3).await;
}

#[tokio::test]
async fn size_limit_exceeded_fails_the_scan_and_serves_no_count() {
    a_limit_fails_the_scan(Limit::After1stPage(4), "sizeLimitExceeded").await;
}

#[tokio::test]
async fn admin_limit_exceeded_fails_the_scan_and_serves_no_count() {
    a_limit_fails_the_scan(Limit::After1stPage(11), "adminLimitExceeded").await;
}

/// A page cut short is no less a failure when the DC still hands a cookie and the pages after it are complete
/// (ldap3's paging adapter followed such a cookie and dropped the result code: 6 users of 7 were served).
#[tokio::test]
async fn a_page_cut_short_fails_the_scan_even_with_a_cookie() {
    a_limit_fails_the_scan(Limit::SecondPageCutShort(4), "sizeLimitExceeded").await;
}

/// A complete cycle first (so there is a count that could linger), then every scan's second page cut short as
/// `limit` says, after three users were read.
async fn a_limit_fails_the_scan(limit: Limit, name: &str) {
    let dc = LimitsDc::start(7, 2).await;
    let (exporter, _dir) = start(&dc, 1000);
    expect_complete_scan(&exporter, &dc, 7, 1000, 4).await;

    dc.set_limit(limit);
    let pages_before = dc.pages();
    let m = exporter
        .wait_for_metrics(Duration::from_secs(30), "ad_users failing with reason protocol", |m| {
            m.value("writeback_probe_failures_total", &PROTOCOL).is_some_and(|v| v >= 1.0) && user_series(m).is_empty()
        })
        .await;
    assert_eq!(m.value("writeback_probe_success", &USERS_PROBE), Some(0.0), "{}", m.text);
    assert!(dc.pages() >= pages_before + 2, "the failing cycle went past the first page");
    // Not a single cycle served a partial count: every one since the cut failed.
    let failures = m.value("writeback_probe_failures_total", &PROTOCOL).unwrap_or_default();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let m = Metrics::parse(&exporter.metrics().await);
    assert!(user_series(&m).is_empty(), "{}", m.text);
    assert!(m.value("writeback_probe_failures_total", &PROTOCOL).unwrap_or_default() > failures, "{}", m.text);

    let log = exporter.log();
    let line = log
        .lines()
        .find(|l| l.contains("probe failed") && l.contains("ad_users") && l.contains(name))
        .unwrap_or_else(|| panic!("no failure naming {name}:\n{log}"));
    assert!(line.contains("scan users") && line.contains("nothing of it is used"), "{line}");
    assert!(!log.contains("panicked"), "{log}");
    let (status, page) = exporter.get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("({name})")), "the landing page names {name}:\n{page}");
}
