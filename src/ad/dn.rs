//! Distinguished names as AD returns them and users write them: compared by a normal form, walked up by RDN.

/// Lower case without spaces around separators: enough to compare DNs as AD returns and users write them.
pub fn normalize(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| match rdn.split_once('=') {
            Some((a, v)) => format!("{}={}", a.trim(), v.trim()),
            None => rdn.trim().to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase()
}

/// `dn` is `base` or lies below it (both in [`normalize`]d form).
pub fn is_at_or_below(dn: &str, base: &str) -> bool {
    dn.len() >= base.len()
        && dn.ends_with(base)
        && (dn.len() == base.len() || dn.as_bytes()[dn.len() - base.len() - 1] == b',')
}

/// The parent DN: everything after the first comma that is not escaped (`CN=a\,b,OU=x` → `OU=x`).
pub fn parent(dn: &str) -> Option<&str> {
    let mut escaped = false;
    for (i, c) in dn.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => return Some(dn[i + 1..].trim_start()).filter(|p| !p.is_empty()),
            _ => escaped = false,
        }
    }
    None
}

/// The DNs strictly above `dn` up to and including `top` (nearest first); empty when `dn` is not below `top`.
pub fn ancestors_up_to(dn: &str, top: &str) -> Vec<String> {
    let top_n = normalize(top);
    if !is_at_or_below(&normalize(dn), &top_n) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut current = dn;
    while normalize(current) != top_n {
        let Some(up) = parent(current) else { break };
        out.push(up.to_string());
        current = up;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_means_a_whole_rdn_suffix() {
        let base = normalize("OU=A, DC=x");
        assert!(is_at_or_below(&normalize("ou=a,dc=x"), &base));
        assert!(is_at_or_below(&normalize("CN=u,OU=A,DC=x"), &base));
        assert!(!is_at_or_below(&normalize("CN=u,OU=AA,DC=x"), &base));
        assert!(!is_at_or_below(&normalize("DC=x"), &base));
    }

    #[test]
    fn parents_skip_escaped_commas() {
        assert_eq!(parent(r"CN=Smith\, John,OU=A,DC=x"), Some("OU=A,DC=x"));
        assert_eq!(parent("DC=x"), None);
        assert_eq!(ancestors_up_to("OU=B,OU=A,DC=x,DC=y", "dc=x,dc=y"), ["OU=A,DC=x,DC=y", "DC=x,DC=y"]);
        assert_eq!(ancestors_up_to("DC=x,DC=y", "DC=x,DC=y"), Vec::<String>::new());
        assert_eq!(ancestors_up_to("OU=B,DC=z", "DC=x,DC=y"), Vec::<String>::new());
    }
}
