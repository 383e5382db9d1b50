//! Basic authentication (exporter-toolkit `basic_auth_users`).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::failures::FailureBudget;
pub use super::failures::{FAILURE_BURST, FAILURE_REFILL};
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
    let client = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    match auth.check(req.headers().get(header::AUTHORIZATION), client).await {
        Verdict::Allowed => next.run(req).await,
        Verdict::Denied => (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic")]).into_response(),
        Verdict::Busy | Verdict::RateLimited => {
            (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, "1")], "too many authentication attempts\n")
                .into_response()
        }
    }
}

/// Extra verifications that may wait for a free verifier before further ones are answered 429.
pub const VERIFY_QUEUE: usize = 4;

/// Verifiers by default: one per core minus one (at least one), so a flood of guesses leaves a core to
/// scrapes and probes.
pub fn default_verifiers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1))
}

/// The answer to one request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A configured user with that user's password.
    Allowed,
    /// No, malformed or wrong credentials: 401.
    Denied,
    /// Every verifier is busy and the queue is full: 429, nothing verified.
    Busy,
    /// The client address spent its budget of failed attempts: 429, nothing verified.
    RateLimited,
}

/// Counters that show the verification bound holding (tests, benchmarks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// bcrypt verifications running now.
    pub in_flight: usize,
    /// The most that ever ran at once.
    pub peak_in_flight: usize,
    /// bcrypt verifications done (each a cache miss).
    pub verified: u64,
    pub rejected_busy: u64,
    pub rejected_rate_limited: u64,
}

/// Verifies `Authorization: Basic` credentials against bcrypt hashes.
///
/// Cost model: every request whose credentials are not the cached password of a configured user costs one
/// bcrypt verification at the hash's cost (cost 10: about 50–100 ms of one core). Unknown users are checked
/// against a dummy hash of the highest configured cost, so "no such user" and "wrong password" take the same
/// time. At most `verifiers` verifications run at once (default: cores − 1, at least 1), at most
/// [`VERIFY_QUEUE`] more wait, and beyond that the answer is 429 without verifying. Each client address (IPv6:
/// its /64) may make [`FAILURE_BURST`] unsuccessful attempts (denied or answered 429) in a burst, then one per
/// [`FAILURE_REFILL`]; beyond that, 429 without verifying.
///
/// Caching: one entry per configured user holding the last password that verified, compared with `subtle`;
/// a cached password costs no bcrypt and bypasses the limits. Only successes are cached, so the cache is bounded
/// by the number of users and a flood of wrong guesses cannot grow it; the plaintext stays in process memory
/// only (no hash crate is available to store a digest instead).
#[derive(Clone)]
pub struct BasicAuth {
    inner: Arc<Inner>,
}

struct Inner {
    users: BTreeMap<String, String>,
    verified: Mutex<HashMap<String, Vec<u8>>>,
    dummy_cost: u32,
    dummy_hash: OnceLock<Option<String>>,
    /// One permit per verifier: bounds the CPU bcrypt can take.
    verifiers: Arc<Semaphore>,
    /// Verifications admitted (running or waiting for a verifier); at most `admit_max`.
    admitted: AtomicUsize,
    admit_max: usize,
    failures: FailureBudget,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    verified_count: AtomicU64,
    rejected_busy: AtomicU64,
    rejected_rate_limited: AtomicU64,
}

impl Inner {
    fn dummy_hash(&self) -> Option<&str> {
        self.dummy_hash.get_or_init(|| bcrypt::hash(b"no such user", self.dummy_cost).ok()).as_deref()
    }
}

/// Holds one place among the admitted verifications until dropped (also when the request is dropped).
struct Admitted(Arc<Inner>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

impl BasicAuth {
    /// `users` maps user names to bcrypt hashes (as validated by `web_config`), with the default bounds.
    pub fn new(users: BTreeMap<String, String>) -> Self {
        BasicAuth::with_bounds(users, default_verifiers(), VERIFY_QUEUE)
    }

    /// At most `verifiers` (at least 1) bcrypt verifications at once and `queue` waiting.
    pub fn with_bounds(users: BTreeMap<String, String>, verifiers: usize, queue: usize) -> Self {
        let dummy_cost = users
            .values()
            .filter_map(|h| h.parse::<bcrypt::HashParts>().ok())
            .map(|p| p.get_cost())
            .max()
            .unwrap_or(bcrypt::DEFAULT_COST);
        let verifiers = verifiers.max(1);
        BasicAuth {
            inner: Arc::new(Inner {
                users,
                verified: Mutex::new(HashMap::new()),
                dummy_cost,
                dummy_hash: OnceLock::new(),
                verifiers: Arc::new(Semaphore::new(verifiers)),
                admitted: AtomicUsize::new(0),
                admit_max: verifiers + queue,
                failures: FailureBudget::default(),
                in_flight: AtomicUsize::new(0),
                peak_in_flight: AtomicUsize::new(0),
                verified_count: AtomicU64::new(0),
                rejected_busy: AtomicU64::new(0),
                rejected_rate_limited: AtomicU64::new(0),
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

    pub fn stats(&self) -> AuthStats {
        let i = &self.inner;
        AuthStats {
            in_flight: i.in_flight.load(Ordering::Acquire),
            peak_in_flight: i.peak_in_flight.load(Ordering::Acquire),
            verified: i.verified_count.load(Ordering::Acquire),
            rejected_busy: i.rejected_busy.load(Ordering::Acquire),
            rejected_rate_limited: i.rejected_rate_limited.load(Ordering::Acquire),
        }
    }

    /// Judges the `Authorization` header of a request from `client` (when known; it keys the failure budget).
    pub async fn check(&self, authorization: Option<&HeaderValue>, client: Option<IpAddr>) -> Verdict {
        let Some((user, pass)) = authorization.and_then(|v| parse_basic(v.as_bytes())) else {
            // No credentials is how every browser starts: a challenge, not a failed attempt.
            return Verdict::Denied;
        };
        let user = String::from_utf8(user).ok();
        let hash = user.as_ref().and_then(|u| self.inner.users.get(u)).cloned();
        if let (Some(u), Some(_)) = (&user, &hash) {
            if let Ok(cache) = self.inner.verified.lock() {
                if cache.get(u).is_some_and(|p| bool::from(p.as_slice().ct_eq(&pass))) {
                    return Verdict::Allowed;
                }
            }
        }
        if let Some(ip) = client {
            if !self.inner.failures.reserve(ip) {
                self.inner.rejected_rate_limited.fetch_add(1, Ordering::Relaxed);
                return Verdict::RateLimited;
            }
        }
        let Some(admitted) = self.admit() else {
            // The attempt stays spent: a flood that only meets a full queue still runs out of budget, so the queue
            // frees up for others once the bursts are spent.
            self.inner.rejected_busy.fetch_add(1, Ordering::Relaxed);
            return Verdict::Busy;
        };
        let Ok(slot) = self.inner.verifiers.clone().acquire_owned().await else {
            return Verdict::Denied;
        };
        let inner = self.inner.clone();
        let pass_for_cache = pass.clone();
        let ok = tokio::task::spawn_blocking(move || {
            // Both released only when bcrypt is done, even if the request was dropped meanwhile.
            let _slot = slot;
            let _admitted = admitted;
            let running = inner.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
            inner.peak_in_flight.fetch_max(running, Ordering::AcqRel);
            let ok = match &hash {
                Some(h) => bcrypt::verify(&pass, h).unwrap_or(false),
                None => {
                    // Same work as a real check; the result is irrelevant.
                    if let Some(d) = inner.dummy_hash() {
                        let _ = bcrypt::verify(&pass, d);
                    }
                    false
                }
            };
            inner.in_flight.fetch_sub(1, Ordering::AcqRel);
            inner.verified_count.fetch_add(1, Ordering::Relaxed);
            ok
        })
        .await
        .unwrap_or(false);
        if !ok {
            return Verdict::Denied;
        }
        if let Some(ip) = client {
            self.inner.failures.refund(ip);
        }
        if let (Some(u), Ok(mut cache)) = (user, self.inner.verified.lock()) {
            cache.insert(u, pass_for_cache);
        }
        Verdict::Allowed
    }

    fn admit(&self) -> Option<Admitted> {
        let max = self.inner.admit_max;
        self.inner.admitted.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max).then_some(n + 1)).ok()?;
        Some(Admitted(self.inner.clone()))
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
