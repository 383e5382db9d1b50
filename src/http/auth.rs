//! Basic authentication (exporter-toolkit `basic_auth_users`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::web_config::WebConfig;

/// Applies the web config's response headers and, when users are configured, basic auth to every
/// route and the fallback. `serve` calls this itself; call it only when serving some other way.
pub fn protect(app: Router, web: &WebConfig) -> Router {
    let mut app = app;
    if !web.basic_auth_users().is_empty() {
        let auth = BasicAuth::new(web.basic_auth_users().clone());
        auth.warm_up();
        app = app.layer(from_fn_with_state(auth, require_basic_auth));
    }
    let headers: Vec<(HeaderName, HeaderValue)> = web
        .http()
        .headers
        .iter()
        .filter_map(|(n, v)| Some((HeaderName::try_from(n.as_str()).ok()?, HeaderValue::from_str(v).ok()?)))
        .collect();
    if !headers.is_empty() {
        // Outermost, so 401 responses carry the headers too (as in exporter-toolkit).
        app = app.layer(from_fn_with_state(Arc::new(headers), add_headers));
    }
    app
}

async fn add_headers(State(headers): State<Arc<Vec<(HeaderName, HeaderValue)>>>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    for (name, value) in headers.iter() {
        // exporter-toolkit sets them before the handler runs, so the handler's own value wins.
        resp.headers_mut().entry(name).or_insert_with(|| value.clone());
    }
    resp
}

async fn require_basic_auth(State(auth): State<BasicAuth>, req: Request, next: Next) -> Response {
    if auth.check(req.headers().get(header::AUTHORIZATION)).await {
        next.run(req).await
    } else {
        (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic")]).into_response()
    }
}

/// Verifies `Authorization: Basic` credentials against bcrypt hashes.
///
/// Timing: every request that carries credentials costs one bcrypt verification unless the exact
/// password was verified for that user before. Unknown users are checked against a dummy hash of
/// the highest configured cost, so "no such user" and "wrong password" take the same time.
///
/// Caching: one entry per configured user holding the last password that verified, compared with
/// `subtle`. Only successes are cached, so the cache is bounded by the number of users and a flood
/// of wrong guesses cannot grow it; the plaintext stays in process memory only (no hash crate is
/// available to store a digest instead). bcrypt runs on the blocking pool, at most a few at once,
/// so a flood of bad credentials cannot take every core.
#[derive(Clone)]
pub struct BasicAuth {
    inner: Arc<Inner>,
}

struct Inner {
    users: BTreeMap<String, String>,
    verified: Mutex<HashMap<String, Vec<u8>>>,
    dummy_cost: u32,
    dummy_hash: OnceLock<Option<String>>,
    bcrypt_slots: Arc<Semaphore>,
}

impl Inner {
    fn dummy_hash(&self) -> Option<&str> {
        self.dummy_hash.get_or_init(|| bcrypt::hash(b"no such user", self.dummy_cost).ok()).as_deref()
    }
}

impl BasicAuth {
    /// `users` maps user names to bcrypt hashes (as validated by `web_config`).
    pub fn new(users: BTreeMap<String, String>) -> Self {
        let dummy_cost = users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        let slots = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        BasicAuth {
            inner: Arc::new(Inner {
                users,
                verified: Mutex::new(HashMap::new()),
                dummy_cost,
                dummy_hash: OnceLock::new(),
                bcrypt_slots: Arc::new(Semaphore::new(slots)),
            }),
        }
    }

    /// Computes the dummy hash in the background so the first unknown user does not pay twice.
    fn warm_up(&self) {
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let inner = self.inner.clone();
            rt.spawn_blocking(move || {
                inner.dummy_hash();
            });
        }
    }

    /// True when the header holds a configured user and that user's password.
    pub async fn check(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some((user, pass)) = authorization.and_then(|v| parse_basic(v.as_bytes())) else {
            return false;
        };
        let user = String::from_utf8(user).ok();
        let hash = user.as_ref().and_then(|u| self.inner.users.get(u)).cloned();
        if let (Some(u), Some(_)) = (&user, &hash) {
            if let Ok(cache) = self.inner.verified.lock() {
                if cache.get(u).is_some_and(|p| bool::from(p.as_slice().ct_eq(&pass))) {
                    return true;
                }
            }
        }
        let Ok(slot) = self.inner.bcrypt_slots.clone().acquire_owned().await else {
            return false;
        };
        let inner = self.inner.clone();
        let pass_for_cache = pass.clone();
        let ok = tokio::task::spawn_blocking(move || {
            // Released only when bcrypt is done, even if the request was dropped meanwhile.
            let _slot = slot;
            match &hash {
                Some(h) => bcrypt::verify(&pass, h).unwrap_or(false),
                None => {
                    // Same work as a real check; the result is irrelevant.
                    if let Some(d) = inner.dummy_hash() {
                        let _ = bcrypt::verify(&pass, d);
                    }
                    false
                }
            }
        })
        .await
        .unwrap_or(false);
        if ok {
            if let (Some(u), Ok(mut cache)) = (user, self.inner.verified.lock()) {
                cache.insert(u, pass_for_cache);
            }
        }
        ok
    }
}

/// Splits `Basic base64(user:pass)` like Go's `Request.BasicAuth` (scheme case-insensitive).
fn parse_basic(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    const PREFIX: &[u8] = b"basic ";
    if value.len() < PREFIX.len() || !value[..PREFIX.len()].eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let decoded = base64_decode(&value[PREFIX.len()..])?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some((decoded[..colon].to_vec(), decoded[colon + 1..].to_vec()))
}

/// Standard, padded base64 (RFC 4648); no base64 crate is a direct dependency.
fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    if !input.len().is_multiple_of(4) {
        return None;
    }
    let chunks = input.len() / 4;
    let mut out = Vec::with_capacity(chunks * 3);
    for (i, chunk) in input.chunks(4).enumerate() {
        let mut n: u32 = 0;
        let mut pad = 0;
        for &c in chunk {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' if i + 1 == chunks => {
                    pad += 1;
                    0
                }
                _ => return None,
            };
            if pad > 0 && c != b'=' {
                return None;
            }
            n = (n << 6) | u32::from(v);
        }
        if pad > 2 {
            return None;
        }
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_basic_header() {
        assert_eq!(parse_basic(b"Basic dXNlcjpwYTpzcw=="), Some((b"user".to_vec(), b"pa:ss".to_vec())));
        assert_eq!(parse_basic(b"bAsIc YTpi"), Some((b"a".to_vec(), b"b".to_vec())));
        assert_eq!(parse_basic(b"Basic dXNlcg=="), None, "no colon");
        assert_eq!(parse_basic(b"Bearer YTpi"), None);
        assert_eq!(base64_decode(b"YQ=a"), None);
        assert_eq!(base64_decode(b"YQ==YTpi"), None);
        assert_eq!(base64_decode(b"YWI="), Some(b"ab".to_vec()));
        assert_eq!(base64_decode(b""), Some(Vec::new()));
    }

    #[test]
    fn dummy_hash_costs_as_much_as_the_dearest_user() {
        let users = [("a", 4), ("b", 5)].map(|(u, c)| (u.to_string(), bcrypt::hash("pw", c).unwrap()));
        let auth = BasicAuth::new(users.into_iter().collect());
        let dummy = auth.inner.dummy_hash().unwrap();
        assert_eq!(dummy.parse::<bcrypt::HashParts>().unwrap().get_cost(), 5);
        assert!(crate::http::web_config::check_bcrypt_hash(dummy).is_ok());
    }
}
