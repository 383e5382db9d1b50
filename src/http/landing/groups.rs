//! The landing page's cause entries: one per group of checks (see `check::group`) and one per set of probes that
//! failed alike, each with its subjects, its fix in a copyable block and its runbook link.

use std::fmt::Write;

use super::escape;
use crate::base::Status;
use crate::check::{runbook, Group, ProbeErrors};

/// A fix as a code block with a copy button; the button is hidden until the script finds a clipboard.
fn code_block(html: &mut String, text: &str) {
    let _ = write!(
        html,
        "<div class=\"code\"><pre><code>{}</code></pre><button type=\"button\" class=\"copy\" hidden>Copy</button></div>",
        escape(text)
    );
}

fn runbook_link(url: &str) -> String {
    format!("<a class=\"runbook\" href=\"{}\">runbook</a>", escape(url))
}

/// One FAIL or WARN cause.
pub fn cause(html: &mut String, g: &Group) {
    let status = g.status.as_str();
    let count = match g.count {
        1 => String::new(),
        n => format!(" <span class=\"count\">· {n} subjects</span>"),
    };
    let _ = write!(
        html,
        "<article class=\"group {status}\"><h4><span class=\"badge {status}\">{status}</span>{}{count}</h4>\
         <p class=\"meta\">check <code>{}</code> of probe <code>{}</code> · {}</p><ul class=\"subjects\">",
        escape(&g.title),
        escape(g.id),
        escape(g.probe),
        runbook_link(&g.runbook),
    );
    for m in &g.members {
        let _ = write!(
            html,
            "<li><span class=\"subject\">{}</span>: <span class=\"observed\">{}</span></li>",
            escape(&m.subject),
            escape(&m.observed)
        );
    }
    html.push_str("</ul>");
    for fix in &g.fixes {
        html.push_str("<div class=\"fix\">");
        if g.fixes.len() == 1 {
            html.push_str("<p>Fix</p>");
        } else {
            let subjects: Vec<String> = fix.subjects.iter().map(|s| escape(s)).collect();
            let _ = write!(html, "<p>Fix for {}</p>", subjects.join("; "));
        }
        code_block(html, &fix.text);
        html.push_str("</div>");
    }
    html.push_str("</article>");
}

/// Probes that could not run for the same reason: their checks are unknown.
pub fn probe_errors(html: &mut String, e: &ProbeErrors<'_>) {
    let (class, label) = if e.reason == "pending" { ("pending", "PENDING") } else { ("ERROR", "ERROR") };
    let what = match e.probes.len() {
        1 => "Probe could not run".to_string(),
        n => format!("{n} probes could not run"),
    };
    let probes: Vec<String> = e.probes.iter().map(|p| format!("<code>{}</code>", escape(p))).collect();
    let _ = write!(
        html,
        "<article class=\"group {class}\"><h4><span class=\"badge {class}\">{label}</span>{what} ({})</h4>\
         <p class=\"meta\">{} · {}</p><p class=\"observed\">{}</p></article>",
        escape(e.reason),
        probes.join(", "),
        runbook_link(&runbook::url(runbook::PROBE_FAILING)),
        escape(e.error),
    );
}

/// The PASS checks, folded: they are the least urgent part of the page.
pub fn passed(html: &mut String, groups: &[&Group]) {
    let pass: Vec<&&Group> = groups.iter().filter(|g| g.status == Status::Pass).collect();
    let total: usize = pass.iter().map(|g| g.count).sum();
    if total == 0 {
        return;
    }
    let _ = write!(
        html,
        "<details class=\"pass\"><summary><span class=\"badge PASS\">PASS</span>{total} {} passed</summary>\
         <ul class=\"passed\">",
        if total == 1 { "check" } else { "checks" }
    );
    for g in pass {
        for m in &g.members {
            let _ = write!(
                html,
                "<li>{} <span class=\"subject\">[{}]</span>: <span class=\"observed\">{}</span> <code>{}</code> · {}</li>",
                escape(&g.title),
                escape(&m.subject),
                escape(&m.observed),
                escape(g.id),
                runbook_link(&g.runbook),
            );
        }
    }
    html.push_str("</ul></details>");
}
