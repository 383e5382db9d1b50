//! The landing page: a banner with the verdict per target, the explain form, then per target the causes to act on
//! (probes that could not run, FAIL, then WARN; each with its subjects, its fix to copy and its runbook), the PASS
//! checks folded, and each probe's state, last run and last error. Every value is escaped.

mod assets;
mod groups;

use std::fmt::Write;

use assets::{SCRIPT, STYLE};

use crate::base::{escape_html as escape, unix_now, Status};
use crate::check::{causes, probe_errors, Group, Report, TargetReport};
use crate::config::Config;
use crate::graph::time::format_rfc3339;

/// The `/probe` URL of a target: its name percent-encoded as a query value (a name with `&` or a space must still
/// reach its own target).
fn probe_href(target: &str) -> String {
    let value: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
    format!("/probe?target={value}")
}

/// "2025-01-01T12:00:00Z (42 s ago)": when a probe last finished, relative to when the page was rendered.
fn last_run(finished: Option<f64>, now: f64) -> String {
    let Some(at) = finished else { return "not yet".to_string() };
    let ago = (now - at).max(0.0);
    let ago = if ago < 90.0 {
        format!("{ago:.0} s ago")
    } else if ago < 90.0 * 60.0 {
        format!("{:.0} min ago", ago / 60.0)
    } else {
        format!("{:.1} h ago", ago / 3600.0)
    };
    format!("{} ({ago})", format_rfc3339(at))
}

/// Counts of one target for the banner.
struct Counts {
    fail: (usize, usize),
    warn: (usize, usize),
    pass: usize,
    errors: usize,
    pending: usize,
}

impl Counts {
    fn of(target: &TargetReport, groups: &[&Group]) -> Counts {
        let errors = target.probes.iter().filter(|p| p.state == "failed").count();
        let pending = target.probes.iter().filter(|p| p.state == "pending").count();
        Counts {
            fail: causes(groups, Status::Fail),
            warn: causes(groups, Status::Warn),
            pass: causes(groups, Status::Pass).1,
            errors,
            pending,
        }
    }
}

fn causes_text(n: (usize, usize)) -> String {
    match n {
        (0, _) => "0".to_string(),
        (1, 1) => "1 cause (1 check)".to_string(),
        (1, c) => format!("1 cause ({c} checks)"),
        (n, c) => format!("{n} causes ({c} checks)"),
    }
}

/// The banner: one sentence for the worst state over all targets, then a row per target.
fn banner(html: &mut String, report: &Report, counts: &[Counts]) {
    let sum = |f: fn(&Counts) -> usize| counts.iter().map(f).sum::<usize>();
    let (fail, fail_checks) = (sum(|c| c.fail.0), sum(|c| c.fail.1));
    let (warn, errors, pending) = (sum(|c| c.warn.0), sum(|c| c.errors), sum(|c| c.pending));
    let (class, verdict) = if fail > 0 {
        let many = if fail == 1 { "1 cause".to_string() } else { format!("{fail} causes") };
        let checks =
            if fail_checks == 1 { "1 failing check".to_string() } else { format!("{fail_checks} failing checks") };
        let verdict = format!("Password writeback is blocked by {many} ({checks}).");
        ("FAIL", verdict)
    } else if errors > 0 {
        ("ERROR", format!("{errors} probe runs failed: what they check is unknown."))
    } else if warn > 0 {
        (
            "WARN",
            format!("No check fails; {warn} {} a warning.", if warn == 1 { "cause raises" } else { "causes raise" }),
        )
    } else if pending > 0 {
        ("pending", format!("{pending} probes have not run yet."))
    } else {
        ("PASS", "Every check passes.".to_string())
    };
    let mut extra = Vec::new();
    if fail > 0 && warn > 0 {
        extra.push(format!("{warn} WARN {}", if warn == 1 { "cause" } else { "causes" }));
    }
    if fail > 0 && errors > 0 {
        extra.push(format!("{errors} probe {}", if errors == 1 { "error" } else { "errors" }));
    }
    let extra = if extra.is_empty() { String::new() } else { format!(" Also: {}.", extra.join(", ")) };
    let _ = write!(
        html,
        "<section class=\"banner {class}\" id=\"summary\"><p class=\"verdict\">{verdict}{extra}</p>\
         <table class=\"counts\"><tr><th>Target</th><th>FAIL</th><th>WARN</th><th>PASS</th><th>Probe errors</th></tr>"
    );
    for (i, (target, c)) in report.targets.iter().zip(counts).enumerate() {
        let cell = |n: usize, class: &str| {
            if n == 0 {
                "<td>0</td>".to_string()
            } else {
                format!("<td class=\"{class}\">{n}</td>")
            }
        };
        let causes_cell = |n: (usize, usize), class: &str| match n.0 {
            0 => "<td>0</td>".to_string(),
            _ => format!("<td class=\"{class}\">{}</td>", causes_text(n)),
        };
        let _ = write!(
            html,
            "<tr><td><a href=\"#target-{i}\">{}</a></td>{}{}{}{}</tr>",
            escape(&target.name),
            causes_cell(c.fail, "FAIL"),
            causes_cell(c.warn, "WARN"),
            cell(c.pass, "PASS"),
            cell(c.errors, "ERROR"),
        );
    }
    html.push_str("</table></section>");
}

/// The form of `GET /explain`: one user's verdict, read from the directory on request.
fn explain_form(html: &mut String, config: &Config) {
    html.push_str(
        "<form class=\"explain\" method=\"get\" action=\"explain\"><fieldset><legend>Explain a user's verdict</legend>\
         <label>Target <select name=\"target\">",
    );
    for target in &config.targets {
        let name = escape(&target.name);
        let _ = write!(html, "<option value=\"{name}\">{name}</option>");
    }
    html.push_str(
        "</select></label><label>User <input type=\"text\" name=\"user\" required \
         placeholder=\"sAMAccountName, UPN or DN\"></label><button type=\"submit\">Explain</button></fieldset></form>",
    );
}

fn probes_table(html: &mut String, target: &TargetReport, now: f64) {
    html.push_str(
        "<table class=\"probes\"><tr><th>Probe</th><th>State</th><th>Last run</th><th>Duration</th>\
         <th>Last error</th></tr>",
    );
    for probe in &target.probes {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"{}\">{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(probe.probe),
            escape(probe.state),
            escape(probe.state),
            probe.reason.map(|r| format!(" ({})", escape(r))).unwrap_or_default(),
            escape(&last_run(probe.finished, now)),
            probe.duration_seconds.map(|d| format!("{d:.1} s")).unwrap_or_default(),
            escape(probe.error.as_deref().unwrap_or("")),
        );
    }
    html.push_str("</table>");
}

/// `telemetry_path` is `--web.telemetry-path`, so the link leads to the metrics wherever they are served.
pub fn render(report: &Report, config: &Config, telemetry_path: &str) -> String {
    let now = unix_now();
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>writeback_exporter</title>\
         <style>{STYLE}</style></head><body><header><h1>writeback_exporter</h1><p>Version {} ({}). Checks whether \
         Microsoft Entra ID password writeback can work. Metrics: <a href=\"{path}\">{path}</a>. Configuration: {}. \
         Page rendered at {}.</p></header>",
        escape(crate::metrics::VERSION),
        escape(crate::metrics::REVISION),
        escape(&config.file.display().to_string()),
        escape(&format_rfc3339(now)),
        path = escape(telemetry_path),
    );
    let groups: Vec<Vec<&Group>> = report.targets.iter().map(|t| report.groups_of(&t.name).collect()).collect();
    let counts: Vec<Counts> = report.targets.iter().zip(&groups).map(|(t, g)| Counts::of(t, g)).collect();
    banner(&mut html, report, &counts);
    explain_form(&mut html, config);
    for (i, (target, groups)) in report.targets.iter().zip(&groups).enumerate() {
        let (name, href) = (escape(&target.name), escape(&probe_href(&target.name)));
        let _ = write!(
            html,
            "<section class=\"target\" id=\"target-{i}\"><h2>Target {name}</h2>\
             <p><a href=\"{href}\">metrics of this target</a></p><h3>Causes to act on</h3>"
        );
        let errors = probe_errors(target);
        let causes: Vec<&&Group> = groups.iter().filter(|g| g.status != Status::Pass).collect();
        if errors.is_empty() && causes.is_empty() {
            html.push_str("<p class=\"PASS\">Nothing fails or warns.</p>");
        }
        for e in &errors {
            groups::probe_errors(&mut html, e);
        }
        for g in causes {
            groups::cause(&mut html, g);
        }
        groups::passed(&mut html, groups);
        html.push_str("<h3>Probes</h3>");
        probes_table(&mut html, target, now);
        html.push_str("</section>");
    }
    let _ = writeln!(html, "<script>{SCRIPT}</script></body></html>");
    html
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::{last_run, probe_href, render};
    use crate::base::{Check, ProbeName, ProbeOutput, Reason, Status};
    use crate::check::Report;
    use crate::snapshot::Store;

    const HOSTILE: &str = "a <script>alert(1)</script>";

    fn page() -> String {
        let yaml = format!(
            "targets:\n  - name: \"{HOSTILE}\"\n    ad:\n      servers: [ldaps://dc:636]\n      bind: {{user: u, password_env: PATH}}\n"
        );
        let config = crate::config::parse(&yaml, Path::new("test.yml"), &[]).expect("valid test config");
        let store = Store::new();
        let (topology, acl, users) =
            (ProbeName::new(0, "ad_topology"), ProbeName::new(1, "ad_acl"), ProbeName::new(2, "ad_users"));
        for probe in [topology, acl, users] {
            store.register(HOSTILE, probe, Duration::from_secs(60));
        }
        let check = |id, status, subject: &str, fix: Option<&str>| Check {
            id,
            subject: subject.to_string(),
            title: format!("{id} <b>title</b>"),
            status,
            observed: format!("observed {subject}"),
            remediation: fix.map(String::from),
        };
        let checks = vec![
            check("ad_dc_up", Status::Pass, "dc1", None),
            check("ad_dc_policy_hints_supported", Status::Warn, "dc1", Some("upgrade")),
        ];
        store.record(HOSTILE, topology, Duration::ZERO, Ok(ProbeOutput { checks, ..ProbeOutput::default() }));
        let checks = vec![
            check("ad_scope_permissions", Status::Fail, "OU=A", Some("dsacls \"OU=A\" <x>")),
            check("ad_scope_permissions", Status::Fail, "OU=B", Some("dsacls \"OU=B\" <x>")),
        ];
        store.record(HOSTILE, acl, Duration::ZERO, Ok(ProbeOutput { checks, ..ProbeOutput::default() }));
        store.record(HOSTILE, users, Duration::ZERO, Err((Reason::Connect, "refused <now>".into())));
        render(&Report::from_store(&store, &config), &config, "/metrics")
    }

    #[test]
    fn causes_lead_and_every_value_is_escaped() {
        let page = page();
        assert!(!page.contains("<script>alert") && !page.contains("<b>") && !page.contains("<x>"), "{page}");
        assert!(page.contains("Target a &lt;script&gt;alert(1)&lt;/script&gt;"), "{page}");
        assert!(page.contains("<section class=\"banner FAIL\" id=\"summary\">"), "{page}");
        assert!(page.contains("blocked by 1 cause (2 failing checks). Also: 1 WARN cause, 1 probe error."), "{page}");
        let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("{needle} not in {page}"));
        // Probes that could not run, then FAIL, then WARN, then the folded PASS checks, then the probe table.
        let order = [
            at("Probe could not run (connect)"),
            at("<article class=\"group FAIL\">"),
            at("<article class=\"group WARN\">"),
            at("<details class=\"pass\">"),
            at("<table class=\"probes\">"),
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}\n{page}");
        // One entry for both scopes, each fix once in its own code block.
        assert_eq!(page.matches("<article class=\"group FAIL\">").count(), 1, "{page}");
        assert!(page.contains("· 2 subjects"), "{page}");
        assert!(page.contains("<pre><code>dsacls &quot;OU=A&quot; &lt;x&gt;</code></pre>"), "{page}");
        assert!(page.contains("<p>Fix for OU=B</p>"), "{page}");
        assert!(page.contains("docs/runbooks.md#writebackscopepermissionmissing\">runbook</a>"), "{page}");
        assert!(page.contains("docs/runbooks.md#writebackprobefailing\">runbook</a>"), "{page}");
    }

    #[test]
    fn offers_the_explain_form_for_each_target() {
        let page = page();
        assert!(page.contains("<form class=\"explain\" method=\"get\" action=\"explain\">"), "{page}");
        assert!(page.contains("<legend>Explain a user's verdict</legend>"), "{page}");
        let option = "<option value=\"a &lt;script&gt;alert(1)&lt;/script&gt;\">";
        assert!(page.contains(option) && page.contains("name=\"user\""), "{page}");
    }

    #[test]
    fn every_runbook_link_has_its_heading() {
        let runbooks = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/runbooks.md")).unwrap();
        let headings: Vec<String> =
            runbooks.lines().filter_map(|l| l.strip_prefix("## ")).map(str::to_lowercase).collect();
        let page = page();
        let links: Vec<&str> = page.split("runbooks.md#").skip(1).filter_map(|rest| rest.split('"').next()).collect();
        assert!(links.len() >= 4, "{page}");
        for anchor in links {
            assert!(headings.iter().any(|h| h == anchor), "#{anchor} is not a heading of docs/runbooks.md");
        }
    }

    #[test]
    fn last_run_is_absolute_and_relative() {
        assert_eq!(last_run(None, 100.0), "not yet");
        assert_eq!(last_run(Some(1_735_732_800.0), 1_735_732_842.0), "2025-01-01T12:00:00Z (42 s ago)");
        assert_eq!(last_run(Some(1_735_732_800.0), 1_735_732_800.0 + 600.0), "2025-01-01T12:00:00Z (10 min ago)");
        assert_eq!(last_run(Some(1_735_732_800.0), 1_735_732_800.0 + 9000.0), "2025-01-01T12:00:00Z (2.5 h ago)");
    }

    #[test]
    fn probe_links_encode_the_target_name() {
        assert_eq!(probe_href("corp"), "/probe?target=corp");
        assert_eq!(probe_href("a&b c=d"), "/probe?target=a%26b+c%3Dd");
        // The server decodes it back to the name (axum's Query is form-urlencoded).
        let decoded: Vec<(String, String)> =
            url::form_urlencoded::parse(probe_href("a&b c=d").split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect();
        assert_eq!(decoded, [("target".to_string(), "a&b c=d".to_string())]);
    }
}
