//! Text a server sent (LDAP diagnostic messages, referrals, SMB and Graph errors), made fit to store: it reaches
//! logs, `check` and the unauthenticated landing page, so it is cut to a fixed length and never carries a secret.

use std::fmt;

/// The most characters of one server text that are kept.
pub const MAX_SERVER_TEXT: usize = 512;
/// Appended where a text was cut.
pub const TRUNCATED: &str = "… (truncated)";
/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// `text` with every secret replaced by [`REDACTED`], control characters (line breaks included) as spaces, and cut
/// to [`MAX_SERVER_TEXT`] characters with [`TRUNCATED`] appended. Secrets are replaced before the cut, so a
/// secret that straddles the cut does not leave its first half behind.
pub fn bounded(text: &str, secrets: &[&str]) -> String {
    bounded_to(text, secrets, MAX_SERVER_TEXT)
}

/// [`bounded`] with a smaller limit (a one-line code, a label-like field).
pub fn bounded_to(text: &str, secrets: &[&str], max: usize) -> String {
    let scrubbed = redact(text, secrets);
    let mut out = String::with_capacity(scrubbed.len().min(max * 4) + TRUNCATED.len());
    for (n, c) in scrubbed.chars().enumerate() {
        if n == max {
            out.push_str(TRUNCATED);
            break;
        }
        out.push(if c.is_control() { ' ' } else { c });
    }
    out
}

/// `text` with every secret replaced by [`REDACTED`], nothing else changed (for a caller that cuts the text its own
/// way, e.g. to its first line).
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut scrubbed = text.to_string();
    // Longest first: a secret that contains another is replaced whole.
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| !s.is_empty()).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        if scrubbed.contains(secret) {
            scrubbed = scrubbed.replace(secret, REDACTED);
        }
    }
    scrubbed
}

/// The secrets of one session or client (a bind password, a client secret, a token), for [`bounded`]. Built where
/// the session is, so each error constructor that takes server text applies them once. `Debug` shows only how many.
#[derive(Clone, Default)]
pub struct Scrub(Vec<String>);

impl Scrub {
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Scrub {
        Scrub(secrets.into_iter().map(|s| s.as_ref().to_string()).filter(|s| !s.is_empty()).collect())
    }

    /// Adds a secret learnt later (a token fetched after the client was built).
    pub fn with(mut self, secret: &str) -> Scrub {
        if !secret.is_empty() {
            self.0.push(secret.to_string());
        }
        self
    }

    /// [`redact`] with these secrets.
    pub fn redact(&self, text: &str) -> String {
        let secrets: Vec<&str> = self.0.iter().map(String::as_str).collect();
        redact(text, &secrets)
    }

    /// [`bounded`] with these secrets.
    pub fn text(&self, text: &str) -> String {
        self.text_to(text, MAX_SERVER_TEXT)
    }

    /// [`bounded_to`] with these secrets.
    pub fn text_to(&self, text: &str, max: usize) -> String {
        let secrets: Vec<&str> = self.0.iter().map(String::as_str).collect();
        bounded_to(text, &secrets, max)
    }
}

impl fmt::Debug for Scrub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scrub({} secrets)", self.0.len())
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex digits: a tenant, client or object id as Entra writes it (checked
/// before an id from configuration or from Graph goes into a URL).
pub fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_cuts_and_redacts() {
        let long = "x".repeat(60_000);
        let cases: [(&str, &[&str], String); 9] = [
            ("invalid credentials", &[], "invalid credentials".into()),
            ("", &["pw"], String::new()),
            (
                "80090308: LdapErr: bad password Hunter2!",
                &["Hunter2!"],
                "80090308: LdapErr: bad password <redacted>".into(),
            ),
            ("s3cr3t and s3cr3t again", &["s3cr3t"], "<redacted> and <redacted> again".into()),
            // The longer secret wins where one contains the other.
            ("token abcdef", &["abc", "abcdef"], "token <redacted>".into()),
            ("line one\r\nline\ttwo", &[], "line one  line two".into()),
            ("no secret here", &[""], "no secret here".into()),
            (&long, &[], format!("{}{TRUNCATED}", "x".repeat(MAX_SERVER_TEXT))),
            ("ééé", &[], "ééé".into()),
        ];
        for (text, secrets, expected) in cases {
            assert_eq!(bounded(text, secrets), expected, "{:.40?}", text);
        }
    }

    #[test]
    fn a_secret_across_the_cut_leaves_nothing_behind() {
        let secret = "PASSWORD-PASSWORD";
        let text = format!("{}{secret}", "a".repeat(MAX_SERVER_TEXT - 4));
        let out = bounded(&text, &[secret]);
        assert!(!out.contains("PASS"), "{out}");
        assert_eq!(out, format!("{}<red{TRUNCATED}", "a".repeat(MAX_SERVER_TEXT - 4)));
        // Multi-byte characters are counted as characters, never split.
        assert_eq!(bounded_to("ééé", &[], 2), format!("éé{TRUNCATED}"));
    }

    #[test]
    fn scrub_applies_its_secrets_and_hides_them() {
        let scrub = Scrub::new(["pw1", ""]).with("tok").with("");
        assert_eq!(scrub.text("pw1 tok x"), "<redacted> <redacted> x");
        assert_eq!(scrub.text_to("abcdef", 3), format!("abc{TRUNCATED}"));
        assert_eq!(scrub.redact("a\ntok"), "a\n<redacted>");
        assert_eq!(format!("{scrub:?}"), "Scrub(2 secrets)");
    }
}
