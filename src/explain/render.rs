//! An explanation as text (the CLI, at most 100 columns where words allow) and as an HTML fragment (every value
//! escaped).

use std::fmt::Write;

use super::{AccountRights, DcExplanation, Explanation, RightExplanation};
use crate::base::escape_html as escape;

/// Text width the CLI wraps at.
pub const WIDTH: usize = 100;

/// `text` wrapped at [`WIDTH`], every line after the first indented by `indent` spaces; a word longer than a line
/// (an SDDL string, a long DN) gets a line of its own.
fn wrap(out: &mut String, first_prefix: &str, indent: usize, text: &str) {
    let pad = " ".repeat(indent);
    let mut line = first_prefix.to_string();
    // After a label (`fix:`), the first word follows a space; after mere indentation, directly.
    let mut empty = first_prefix.trim().is_empty();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = pad.clone();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn right_line(r: &RightExplanation) -> String {
    let verdict = match r.decision {
        "granted" => "ALLOWED",
        "denied" => "DENIED",
        "no_dacl" => "ALLOWED (no DACL)",
        _ => "MISSING",
    };
    match &r.ace {
        None if r.decision == "not_granted" => format!("{}: {verdict}: no ACE grants it", r.title),
        None => format!("{}: {verdict}", r.title),
        Some(ace) => {
            let who = if ace.trustee.path.len() > 1 { ace.trustee.path.join(" > ") } else { ace.trustee.name.clone() };
            let what = match &ace.object_type {
                Some(o) => format!("{} on {}", ace.access, o.name),
                None => format!("{} on the whole object", ace.access),
            };
            format!(
                "{}: {verdict} by ACE #{} ({} {who}: {what}; {}) {}",
                r.title,
                ace.position,
                ace.effect,
                ace.source.describe(),
                ace.sddl
            )
        }
    }
}

fn object_lines(out: &mut String, view: &DcExplanation) {
    let Some(o) = &view.object else { return };
    let locked = o.locked.map_or("unknown", yes);
    wrap(
        out,
        "  object:",
        4,
        &format!(
            "class {}, enabled {}, locked {locked}, user cannot change password {}, protected (adminCount=1) {}, \
             inheritance disabled {}, pwdLastSet {}{}, {} ACEs",
            o.object_class,
            yes(o.enabled),
            yes(o.cannot_change_password),
            yes(o.protected),
            yes(o.inheritance_disabled),
            o.pwd_last_set.as_deref().unwrap_or("never"),
            if o.must_change_password { " (must change at next logon)" } else { "" },
            o.dacl_aces.map_or_else(|| "no DACL:".to_string(), |n| n.to_string()),
        ),
    );
}

fn account_lines(out: &mut String, a: &AccountRights) {
    let state = match a.cause {
        None => "ready".to_string(),
        Some(cause) => format!("NOT READY ({cause})"),
    };
    let mut head = format!("{}: {state}", a.account);
    if !a.account_enabled {
        head.push_str(" [account disabled: not judged when an enabled one exists]");
    }
    if !a.groups_known {
        head.push_str(" [tokenGroups unreadable: group rights not seen]");
    }
    wrap(out, "  ", 4, &head);
    for r in &a.rights {
        wrap(out, "    - ", 6, &right_line(r));
    }
}

/// The plain-text form.
pub fn text(e: &Explanation) -> String {
    let mut out = String::new();
    wrap(&mut out, "user", 2, &format!("{} (target {}, domain {}, read {})", e.dn, e.target, e.domain, e.generated_at));
    for view in &e.dcs {
        let _ = writeln!(out, "on {}", view.dc);
        if let Some(error) = &view.error {
            wrap(&mut out, "  could not judge:", 4, error);
        }
        object_lines(&mut out, view);
        for a in &view.accounts {
            account_lines(&mut out, a);
        }
    }
    match &e.policy {
        None => out.push_str("password policy: not read\n"),
        Some(p) => {
            let source = match (&p.pso, p.source) {
                (Some(pso), _) => format!(
                    "PSO {} (precedence {}, {})",
                    pso.name,
                    pso.precedence.map_or("?".into(), |n| n.to_string()),
                    pso.applies
                ),
                (None, _) => "the domain policy".to_string(),
            };
            let mut line = format!("{source}: minimum password age {}", p.min_age);
            match (&p.may_change_at, &p.pwd_last_set) {
                (Some(at), Some(set)) => {
                    let _ = write!(
                        line,
                        "; password set {set}, may change again at {at}: a writeback reset fails until then"
                    );
                }
                (None, Some(set)) => {
                    let _ = write!(line, "; password set {set}, may change now");
                }
                _ => {}
            }
            wrap(&mut out, "password policy:", 2, &line);
            if let Some(note) = &p.note {
                wrap(&mut out, "  note:", 4, note);
            }
        }
    }
    if let Some(why) = &e.related.unavailable {
        wrap(&mut out, "group policy:", 2, why);
    }
    for c in &e.related.checks {
        wrap(
            &mut out,
            "group policy:",
            2,
            &format!("{} {} [{}]: {}", c.status.as_str(), c.title, c.subject, c.observed),
        );
    }
    for note in &e.notes {
        wrap(&mut out, "note:", 2, note);
    }
    wrap(&mut out, "verdict:", 2, &e.verdict.summary);
    for fix in &e.verdict.fixes {
        let who = fix.account.as_deref().map(|a| format!(" ({a})")).unwrap_or_default();
        wrap(&mut out, &format!("  fix {}{who}:", fix.cause), 4, &fix.text);
    }
    out
}

/// An HTML fragment (no `<html>`/`<body>`): a section per DC with a table per account, the policy, the related
/// Group Policy results and the verdict with its fixes. Every value from the directory is escaped.
pub fn html(e: &Explanation) -> String {
    let mut h = String::new();
    let state = e.verdict.state.as_str();
    let _ = write!(
        h,
        "<section class=\"explain\"><h2>{}</h2><p class=\"verdict {state}\"><strong>{}</strong></p>",
        escape(&e.dn),
        escape(&e.verdict.summary)
    );
    if !e.verdict.fixes.is_empty() {
        h.push_str("<ul class=\"fixes\">");
        for fix in &e.verdict.fixes {
            let who = fix.account.as_deref().map(|a| format!(" ({})", escape(a))).unwrap_or_default();
            let _ = write!(h, "<li><strong>{}</strong>{who}: {}</li>", escape(fix.cause), escape(&fix.text));
        }
        h.push_str("</ul>");
    }
    for view in &e.dcs {
        let _ = write!(h, "<h3>{}</h3>", escape(&view.dc));
        if let Some(error) = &view.error {
            let _ = write!(h, "<p class=\"failed\">could not judge: {}</p>", escape(error));
        }
        if let Some(o) = &view.object {
            let _ = write!(
                h,
                "<p>class {}, enabled {}, locked {}, user cannot change password {}, protected {}, inheritance \
                 disabled {}, pwdLastSet {}</p>",
                escape(&o.object_class),
                yes(o.enabled),
                o.locked.map_or("unknown", yes),
                yes(o.cannot_change_password),
                yes(o.protected),
                yes(o.inheritance_disabled),
                escape(o.pwd_last_set.as_deref().unwrap_or("never"))
            );
        }
        for a in &view.accounts {
            let cause = a.cause.map(|c| format!(" not ready ({c})")).unwrap_or_else(|| " ready".to_string());
            let _ = write!(
                h,
                "<table><caption>{}{}</caption><tr><th>right</th><th>decision</th><th>deciding ACE</th><th>trustee</th>\
                 <th>source</th></tr>",
                escape(&a.account),
                escape(&cause)
            );
            for r in &a.rights {
                let (ace, trustee, source) = match &r.ace {
                    Some(ace) => (
                        format!("#{} {} <code>{}</code>", ace.position, ace.effect, escape(&ace.sddl)),
                        escape(&if ace.trustee.path.is_empty() {
                            ace.trustee.name.clone()
                        } else {
                            ace.trustee.path.join(" > ")
                        }),
                        escape(&ace.source.describe()),
                    ),
                    None => ("no ACE grants it".to_string(), String::new(), String::new()),
                };
                let _ = write!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{ace}</td><td>{trustee}</td><td>{source}</td></tr>",
                    escape(r.title),
                    escape(r.decision)
                );
            }
            h.push_str("</table>");
        }
    }
    if let Some(p) = &e.policy {
        let pso = p.pso.as_ref().map_or_else(|| "domain policy".to_string(), |pso| format!("PSO {}", pso.name));
        let _ = write!(h, "<p>Password policy: {}, minimum age {}", escape(&pso), escape(&p.min_age));
        if let Some(at) = &p.may_change_at {
            let _ = write!(h, "; may change again at {}", escape(at));
        }
        if let Some(note) = &p.note {
            let _ = write!(h, " ({})", escape(note));
        }
        h.push_str("</p>");
    }
    if !e.related.checks.is_empty() || e.related.unavailable.is_some() {
        h.push_str("<ul class=\"related\">");
        if let Some(why) = &e.related.unavailable {
            let _ = write!(h, "<li>{}</li>", escape(why));
        }
        for c in &e.related.checks {
            let _ = write!(
                h,
                "<li class=\"{0}\">{0} {1} [{2}]: {3}</li>",
                c.status.as_str(),
                escape(&c.title),
                escape(&c.subject),
                escape(&c.observed)
            );
        }
        h.push_str("</ul>");
    }
    for note in &e.notes {
        let _ = write!(h, "<p class=\"note\">{}</p>", escape(note));
    }
    h.push_str("</section>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_lines_within_the_width() {
        let mut out = String::new();
        let text = "word ".repeat(60) + &"x".repeat(150);
        wrap(&mut out, "  fix:", 4, &text);
        assert!(out.starts_with("  fix: word word"), "{out}");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 3, "{out}");
        for line in &lines {
            assert!(line.chars().count() <= WIDTH || !line.trim().contains(' '), "{line:?}");
        }
        assert!(lines[1].starts_with("    word"), "{out}");
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
