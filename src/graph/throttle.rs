//! Throttling: how long to wait before a retry (Retry-After, else exponential backoff with jitter), and the
//! request budget of the reports/audit APIs (5 requests per 10 s per app and tenant), kept by construction.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rand::Rng;
use tokio::time::Instant;

/// Attempts per request (the first one included) when Graph answers 429, 503 or 504.
pub const MAX_ATTEMPTS: u32 = 5;
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// The reports and audit-log APIs accept this many requests per window per app and tenant.
const AUDIT_REQUESTS: usize = 5;
const AUDIT_WINDOW: Duration = Duration::from_secs(10);

/// `Retry-After` in seconds (Graph's form); an HTTP date or garbage counts as absent.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Backoff before attempt `attempt + 1` (0-based) without Retry-After: "equal jitter" around base × 2^attempt.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE.saturating_mul(2u32.saturating_pow(attempt.min(16))).min(BACKOFF_CAP);
    let half = ceiling / 2;
    half + half.mul_f64(rand::rng().random_range(0.0..=1.0))
}

/// Requests sent in the last window. Shared by every target that uses the same app in the same tenant, and kept
/// across reloads (the budget belongs to the app, not to this process' configuration).
#[derive(Debug, Default)]
pub struct RateLimiter {
    sent: tokio::sync::Mutex<VecDeque<Instant>>,
}

impl RateLimiter {
    /// The process-wide limiter of one (token endpoint, tenant, client id).
    pub fn shared(key: &str) -> Arc<RateLimiter> {
        static ALL: OnceLock<Mutex<HashMap<String, Arc<RateLimiter>>>> = OnceLock::new();
        let all = ALL.get_or_init(Mutex::default);
        match all.lock() {
            Ok(mut map) => map.entry(key.to_string()).or_default().clone(),
            // A poisoned map only loses sharing, never correctness within one target.
            Err(_) => Arc::new(RateLimiter::default()),
        }
    }

    /// Waits for a slot in the budget, unless that would pass `deadline`.
    ///
    /// # Errors
    /// The time the next slot frees, when it lies beyond the deadline.
    pub async fn acquire(&self, deadline: Instant) -> Result<(), Duration> {
        let mut sent = self.sent.lock().await;
        loop {
            let now = Instant::now();
            match next_slot(&mut sent, now) {
                None => {
                    sent.push_back(now);
                    return Ok(());
                }
                Some(at) if at > deadline => return Err(at - now),
                Some(at) => tokio::time::sleep_until(at).await,
            }
        }
    }
}

/// Drops requests older than the window; `None` when one may be sent now, else when the next one may.
fn next_slot(sent: &mut VecDeque<Instant>, now: Instant) -> Option<Instant> {
    while sent.front().is_some_and(|t| now.duration_since(*t) >= AUDIT_WINDOW) {
        sent.pop_front();
    }
    if sent.len() < AUDIT_REQUESTS {
        return None;
    }
    let first = sent.len() - AUDIT_REQUESTS;
    sent.get(first).map(|t| *t + AUDIT_WINDOW)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_per_ten_seconds() {
        let start = Instant::now();
        let mut sent = VecDeque::new();
        for i in 0..5 {
            let now = start + Duration::from_millis(i * 100);
            assert_eq!(next_slot(&mut sent, now), None, "request {i} goes at once");
            sent.push_back(now);
        }
        let sixth = start + Duration::from_millis(600);
        assert_eq!(next_slot(&mut sent, sixth), Some(start + AUDIT_WINDOW));
        // At the window's end the oldest request drops out and one slot is free.
        assert_eq!(next_slot(&mut sent, start + AUDIT_WINDOW), None);
        assert_eq!(sent.len(), 4);
    }

    #[test]
    fn backoff_grows_and_stays_capped() {
        for attempt in 0..40 {
            let d = backoff(attempt);
            let ceiling = BACKOFF_BASE.saturating_mul(2u32.saturating_pow(attempt.min(16))).min(BACKOFF_CAP);
            assert!(d >= ceiling / 2 && d <= ceiling, "attempt {attempt}: {d:?}");
        }
        assert!(backoff(0) <= Duration::from_millis(500));
    }

    #[test]
    fn retry_after_seconds_only() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(reqwest::header::RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&headers), None);
    }
}
