//! The landing page: version, targets, each probe's state and last error, each check with its fix.

use std::fmt::Write;

use crate::check::Report;
use crate::config::Config;

/// The `/probe` URL of a target: its name percent-encoded as a query value (a name with `&` or a space must still
/// reach its own target).
fn probe_href(target: &str) -> String {
    let value: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
    format!("/probe?target={value}")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;width:100%}\
td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}.PASS{color:#1a7f37}\
.WARN{color:#9a6700}.FAIL,.failed{color:#cf222e}.fix{font-size:.9em;color:#444}";

/// `telemetry_path` is `--web.telemetry-path`, so the link leads to the metrics wherever they are served.
pub fn render(report: &Report, config: &Config, telemetry_path: &str) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>writeback_exporter</title><style>{STYLE}</style>\
         </head><body><h1>writeback_exporter</h1><p>Version {} ({}). Checks whether Microsoft Entra ID password \
         writeback can work. Metrics: <a href=\"{path}\">{path}</a>. Configuration: {}.</p>",
        escape(crate::metrics::VERSION),
        escape(crate::metrics::REVISION),
        escape(&config.file.display().to_string()),
        path = escape(telemetry_path),
    );
    let s = &report.summary;
    let _ = write!(html, "<p>{} PASS, {} WARN, {} FAIL, {} probe errors.</p>", s.pass, s.warn, s.fail, s.probe_errors);
    for target in &report.targets {
        let (name, href) = (escape(&target.name), escape(&probe_href(&target.name)));
        let _ = write!(html, "<h2>Target {name}</h2><p><a href=\"{href}\">metrics of this target</a></p>");
        html.push_str("<table><tr><th>Probe</th><th>State</th><th>Last error</th></tr>");
        for probe in &target.probes {
            let _ = write!(
                html,
                "<tr><td>{}</td><td class=\"{}\">{}{}</td><td>{}</td></tr>",
                probe.probe,
                probe.state,
                probe.state,
                probe.reason.map(|r| format!(" ({r})")).unwrap_or_default(),
                escape(probe.error.as_deref().unwrap_or("")),
            );
        }
        html.push_str(
            "</table><h3>Checks</h3><table><tr><th>Status</th><th>Check</th><th>Subject</th><th>Observed</th></tr>",
        );
        for probe in &target.probes {
            for check in &probe.checks {
                let status = check.status.as_str();
                let _ = write!(
                    html,
                    "<tr><td class=\"{status}\">{status}</td><td>{}{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&check.title),
                    check
                        .remediation
                        .as_deref()
                        .map(|fix| format!("<div class=\"fix\">Fix: {}</div>", escape(fix)))
                        .unwrap_or_default(),
                    escape(&check.subject),
                    escape(&check.observed),
                );
            }
        }
        html.push_str("</table>");
    }
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::{escape, probe_href};

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

    #[test]
    fn escapes_markup() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }
}
