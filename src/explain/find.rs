//! Finding the user: a DN (contains `=`), a UPN (contains `@`) or a sAMAccountName (`DOMAIN\name` too). The value
//! may come from a web form, so it is escaped (RFC 4515) before it reaches a filter.

use ldap3::{ldap_escape, Scope};
use serde::Serialize;

use super::ExplainError;
use crate::ad::{LdapError, Session};

/// People of class user or inetOrgPerson (what `ad_users` judges; computers are users but not persons).
pub const PERSON: &str = "(&(objectCategory=person)(|(objectClass=user)(objectClass=inetOrgPerson)))";
/// Longest accepted query: a DN is at most a few hundred characters.
pub const MAX_QUERY: usize = 1024;

/// Who to explain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum UserQuery {
    Dn(String),
    Upn(String),
    SamAccountName(String),
}

impl UserQuery {
    /// # Errors
    /// An empty value, one over [`MAX_QUERY`] characters, or one with control characters.
    pub fn parse(text: &str) -> Result<UserQuery, ExplainError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ExplainError::Query("the user is empty".to_string()));
        }
        if text.chars().count() > MAX_QUERY {
            return Err(ExplainError::Query(format!("the user is longer than {MAX_QUERY} characters")));
        }
        if text.chars().any(char::is_control) {
            return Err(ExplainError::Query("the user contains control characters".to_string()));
        }
        Ok(if text.contains('=') {
            UserQuery::Dn(text.to_string())
        } else if text.contains('@') {
            UserQuery::Upn(text.to_string())
        } else {
            let sam = text.split_once('\\').map_or(text, |(_, sam)| sam);
            if sam.is_empty() {
                return Err(ExplainError::Query("no account name after the domain".to_string()));
            }
            UserQuery::SamAccountName(sam.to_string())
        })
    }

    pub fn value(&self) -> &str {
        match self {
            UserQuery::Dn(v) | UserQuery::Upn(v) | UserQuery::SamAccountName(v) => v,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            UserQuery::Dn(_) => "DN",
            UserQuery::Upn(_) => "userPrincipalName",
            UserQuery::SamAccountName(_) => "sAMAccountName",
        }
    }

    /// The search filter for a UPN or sAMAccountName, the value escaped; `None` for a DN (read at BASE scope).
    pub fn filter(&self) -> Option<String> {
        match self {
            UserQuery::Dn(_) => None,
            UserQuery::Upn(v) => Some(format!("(&{PERSON}(userPrincipalName={}))", ldap_escape(v))),
            UserQuery::SamAccountName(v) => Some(format!("(&{PERSON}(sAMAccountName={}))", ldap_escape(v))),
        }
    }
}

/// The DN of the one person the query names in `domain_dn`.
///
/// # Errors
/// [`ExplainError::NotFound`], [`ExplainError::Ambiguous`], or LDAP failures.
pub async fn locate(session: &mut Session, domain_dn: &str, query: &UserQuery) -> Result<String, ExplainError> {
    let not_found = || ExplainError::NotFound { kind: query.kind(), query: query.value().to_string() };
    let Some(filter) = query.filter() else {
        let found = session.read_matching(query.value(), PERSON, &["objectClass"], Vec::new(), "find the user").await;
        return match found {
            Ok(Some(entry)) => Ok(entry.dn),
            Ok(None) | Err(LdapError::Referral { .. }) => Err(not_found()),
            // invalidDNSyntax (34): what was typed is not a DN the DC can parse.
            Err(LdapError::Protocol { detail, .. }) if detail.starts_with("result code 34") => Err(not_found()),
            Err(e) => Err(e.into()),
        };
    };
    let mut found = Vec::new();
    session
        .search_bounded(domain_dn, Scope::Subtree, &filter, &["objectClass"], Vec::new(), "find the user", |e| {
            found.push(e.dn)
        })
        .await?;
    match found.len() {
        0 => Err(not_found()),
        1 => Ok(found.remove(0)),
        count => Err(ExplainError::Ambiguous { query: query.value().to_string(), count }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_decides_the_kind_and_values_are_escaped() {
        assert_eq!(UserQuery::parse(" alice ").unwrap(), UserQuery::SamAccountName("alice".into()));
        assert_eq!(UserQuery::parse("CORP\\alice").unwrap(), UserQuery::SamAccountName("alice".into()));
        assert_eq!(
            UserQuery::parse("alice@corp.example.test").unwrap(),
            UserQuery::Upn("alice@corp.example.test".into())
        );
        assert_eq!(UserQuery::parse("CN=alice,OU=Staff,DC=x").unwrap(), UserQuery::Dn("CN=alice,OU=Staff,DC=x".into()));
        let hostile = UserQuery::parse("*)(sAMAccountName=*").unwrap();
        // `=` makes it a DN (read at BASE scope, never a filter); without `=` the value is escaped.
        assert!(matches!(hostile, UserQuery::Dn(_)));
        let filter = UserQuery::parse("*)(cn*").unwrap().filter().unwrap();
        assert!(filter.ends_with("(sAMAccountName=\\2a\\29\\28cn\\2a))"), "{filter}");
        let filter = UserQuery::parse("a*)(b\\c@x").unwrap().filter().unwrap();
        assert!(filter.contains("(userPrincipalName=a\\2a\\29\\28b\\5cc@x)"), "{filter}");
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in ["", "   ", "a\u{0}b", "a\nb", "CORP\\"] {
            assert!(UserQuery::parse(bad).is_err(), "{bad:?}");
        }
        assert!(UserQuery::parse(&"a".repeat(MAX_QUERY + 1)).is_err());
        assert!(UserQuery::parse(&"a".repeat(MAX_QUERY)).is_ok());
    }
}
