use super::*;

fn event(id: &str, at: &str, activity: &str, result: &str) -> AuditEvent {
    AuditEvent {
        id: id.to_string(),
        activity_display_name: activity.to_string(),
        activity_date_time: at.to_string(),
        result: result.to_string(),
        result_reason: Some("reason".to_string()),
        target_resources: Vec::new(),
    }
}

fn failed(upn: &str, at: f64) -> Failed {
    Failed { at, user_id: None, upn: Some(upn.to_string()) }
}

#[test]
fn the_user_is_the_user_target_resource() {
    let mut e = event("a", "2025-01-01T11:55:00Z", "Reset password (self-service)", "failure");
    let resource = |kind: &str, upn: &str| TargetResource {
        id: Some(format!("id-{upn}")),
        kind: Some(kind.to_string()),
        user_principal_name: Some(upn.to_string()),
    };
    e.target_resources = vec![resource("Device", "x@y"), resource("User", "alice@corp")];
    assert_eq!(e.user().and_then(|u| u.user_principal_name.as_deref()), Some("alice@corp"));
    e.target_resources = vec![resource("Other", "bob@corp")];
    assert_eq!(e.user().and_then(|u| u.user_principal_name.as_deref()), Some("bob@corp"));
    let mut cursor = Cursor::new(Duration::from_secs(600));
    let since = parse_rfc3339("2025-01-01T11:50:00Z").unwrap();
    let added = cursor.absorb(since, &[e], true);
    assert_eq!(
        added.failed,
        [Failed { at: since + 300.0, user_id: Some("id-bob@corp".into()), upn: Some("bob@corp".into()) }]
    );
}

#[test]
fn explained_failures_are_counted_by_cause_and_the_last_ten_kept() {
    let mut cursor = Cursor::new(Duration::from_secs(600));
    let failures: Vec<Failed> = (0..12).map(|i| failed(&format!("u{i}@corp"), f64::from(i))).collect();
    let causes: Vec<&str> = (0..12).map(|i| if i % 3 == 0 { "denied" } else { "ready" }).collect();
    cursor.explained(&failures, &causes, Some("2 over sspr_explain_limit counted as unknown".into()));
    let mut out = ProbeOutput::default();
    cursor.samples(&mut out);
    let value = |cause: &str| {
        out.samples
            .iter()
            .find(|s| s.metric.name == ENTRA_SSPR_FAILURES_EXPLAINED_TOTAL.name && s.labels == [cause])
            .map(|s| s.value)
    };
    assert_eq!((value("denied"), value("ready"), value("unknown")), (Some(4.0), Some(8.0), Some(0.0)));
    assert_eq!(cursor.recent.len(), 10);
    assert_eq!(cursor.recent.front().map(|e| e.user.as_str()), Some("u2@corp"), "the oldest two dropped");
    // A run with no failure keeps what the last explaining run said.
    cursor.explained(&[], &[], None);
    let check = explained_check(&cursor.recent, &[], cursor.explain_note.as_deref());
    assert_eq!(check.status, Status::Pass, "no failure in this run");
    assert!(check.observed.starts_with("last 10 failures, newest first: 1970-01-01T00:00:11Z u11@corp: ready;"));
    assert!(check.observed.ends_with("(2 over sspr_explain_limit counted as unknown)"), "{}", check.observed);
    let check = explained_check(&cursor.recent, &["ready", "denied", "not_found"], None);
    assert_eq!(check.status, Status::Warn);
    assert!(check.remediation.unwrap().starts_with("1 failure(s) of this run had an AD cause (denied)"));
}

#[test]
fn labels_are_bounded() {
    assert_eq!(activity_label("Reset password (self-service)"), "reset_password_self_service");
    assert_eq!(activity_label(" reset PASSWORD (self-service) "), "reset_password_self_service");
    assert_eq!(activity_label("Self-serve password reset flow activity progress"), ACTIVITIES[6].1);
    assert_eq!(activity_label("Something new"), "other");
    assert_eq!(result_label("Failure"), "failure");
    assert_eq!(result_label("unknownFutureValue"), "other");
}

#[test]
fn no_event_counted_twice_across_runs() {
    let mut cursor = Cursor::new(Duration::from_secs(600));
    let now = parse_rfc3339("2025-01-01T12:00:00Z").unwrap();
    let since = cursor.since(now);
    assert_eq!(format_rfc3339(since), "2025-01-01T11:50:00Z", "first run looks back one interval");
    let first = [
        event("old", "2025-01-01T11:40:00Z", "Reset password (self-service)", "success"),
        event("a", "2025-01-01T11:55:00Z", "Reset password (self-service)", "success"),
        event("b", "2025-01-01T11:59:00Z", "Reset password (self-service)", "failure"),
    ];
    let added = cursor.absorb(since, &first, true);
    assert_eq!(added.counts.values().sum::<u64>(), 2, "the event before the look-back is not counted");
    assert_eq!(added.failure_reasons, ["reason"]);
    // The next run overlaps: a and b come again, plus a late-arriving event older than b, plus a new one.
    let since = cursor.since(now + 300.0);
    assert_eq!(format_rfc3339(since), "2025-01-01T11:44:00Z");
    let second = [
        event("a", "2025-01-01T11:55:00Z", "Reset password (self-service)", "success"),
        event("late", "2025-01-01T11:58:00Z", "Unlock user account (self-service)", "success"),
        event("b", "2025-01-01T11:59:00Z", "Reset password (self-service)", "failure"),
        event("c", "2025-01-01T12:04:00Z", "Something undocumented", "weird"),
    ];
    let added = cursor.absorb(since, &second, true);
    assert_eq!(added.counts.values().sum::<u64>(), 2);
    let mut out = ProbeOutput::default();
    cursor.samples(&mut out);
    let value = |a: &str, r: &str| out.samples.iter().find(|s| s.labels == [a, r]).map(|s| s.value);
    assert_eq!(value("reset_password_self_service", "success"), Some(1.0));
    assert_eq!(value("reset_password_self_service", "failure"), Some(1.0));
    assert_eq!(value("unlock_user_account_self_service", "success"), Some(1.0));
    assert_eq!(value("other", "other"), Some(1.0));
    assert_eq!(value("change_password_self_service", "timeout"), Some(0.0), "exported from 0");
    let events = out.samples.iter().filter(|s| s.metric.name == ENTRA_SSPR_EVENTS_TOTAL.name).count();
    assert_eq!(events, 10 * 4, "9 distinct activities + other, 4 results");
    assert_eq!(out.samples.len() - events, FAILURE_CAUSES.len(), "every cause from 0");
}

#[test]
fn a_reload_continues_the_stream_and_the_counter() {
    let now = parse_rfc3339("2025-01-01T12:00:00Z").unwrap();
    let mut old = Cursor::new(Duration::from_secs(600));
    let since = old.since(now);
    old.absorb(since, &[event("a", "2025-01-01T11:55:00Z", "Reset password (self-service)", "failure")], true);
    // The reload's new context, with another interval.
    let mut cursor = Cursor::new(Duration::from_secs(3600));
    cursor.take_over(&mut old);
    let since = cursor.since(now + 60.0);
    assert_eq!(format_rfc3339(since), "2025-01-01T11:40:00Z", "continues from the last event, not an hour back");
    let again = [
        event("a", "2025-01-01T11:55:00Z", "Reset password (self-service)", "failure"),
        event("b", "2025-01-01T12:00:30Z", "Reset password (self-service)", "failure"),
    ];
    let added = cursor.absorb(since, &again, true);
    assert_eq!(added.counts.values().sum::<u64>(), 1, "a was counted before the reload");
    let mut out = ProbeOutput::default();
    cursor.samples(&mut out);
    let value = out.samples.iter().find(|s| s.labels == ["reset_password_self_service", "failure"]);
    assert_eq!(value.map(|s| s.value), Some(2.0), "the counter goes on from where it stood");
    assert_eq!(cursor.lookback, Duration::from_secs(3600), "the new interval applies");
}

#[test]
fn a_cut_listing_continues_from_the_newest_event() {
    let mut cursor = Cursor::new(Duration::from_secs(600));
    let now = parse_rfc3339("2025-01-01T12:00:00Z").unwrap();
    let since = cursor.since(now);
    cursor.absorb(since, &[event("a", "2025-01-01T11:55:00Z", "Reset password (self-service)", "success")], false);
    assert_eq!(format_rfc3339(cursor.since(now)), "2025-01-01T11:55:00Z", "no overlap while catching up");
    cursor.absorb(cursor.since(now), &[], true);
    assert_eq!(format_rfc3339(cursor.since(now)), "2025-01-01T11:40:00Z", "overlap again once caught up");
}

#[test]
fn check_warns_on_user_facing_failures_only() {
    let mut added = Added::default();
    added.counts.insert(("self_service_password_reset_flow_activity_progress", "failure"), 4);
    assert_eq!(check(&added, 0.0).status, Status::Pass);
    added.counts.insert(("reset_password_self_service", "failure"), 1);
    added.failure_reasons.push("User's account is locked".to_string());
    let c = check(&added, 0.0);
    assert_eq!(c.status, Status::Warn);
    assert!(c.observed.contains("reset_password_self_service failure 1; failure reasons: User's account is locked"));
}
