//! PromQL text helpers for the static checks of the alert rules and the dashboard.

/// Every series selector in `expr` of a metric named `writeback_*` or of `up`, as (name, the text between the
/// braces, empty without braces). A name inside a string (`job="writeback_exporter"`) or inside a longer name is
/// not one.
pub fn selectors(expr: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < expr.len() {
        let rest = &expr[i..];
        let at_name = (rest.starts_with("writeback_") || rest.starts_with("up{") || rest.starts_with("up "))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'_' | b'"')));
        if !at_name {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
        let name = rest[..end].to_string();
        let (matchers, len) = match rest[end..].find('}') {
            Some(close) if rest[end..].starts_with('{') => (rest[end + 1..end + close].to_string(), end + close + 1),
            _ => (String::new(), end),
        };
        i += len;
        out.push((name, matchers));
    }
    out
}
