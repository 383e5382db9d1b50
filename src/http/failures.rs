//! Per-client budget of failed basic-auth attempts, consulted by `auth` before paying for a bcrypt verification.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failed attempts a client address may make in a burst.
pub const FAILURE_BURST: f64 = 5.0;
/// One more failed attempt is allowed per this interval once the burst is spent.
pub const FAILURE_REFILL: Duration = Duration::from_secs(5);
/// Addresses tracked at once; beyond that, new addresses are not limited (the global queue still is).
const MAX_TRACKED: usize = 4096;

/// A token bucket per client address. IPv6 clients are keyed by their /64, which one host usually owns whole.
#[derive(Debug, Default)]
pub struct FailureBudget {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn refilled(self, now: Instant) -> f64 {
        let gained = now.saturating_duration_since(self.at).as_secs_f64() / FAILURE_REFILL.as_secs_f64();
        (self.tokens + gained).min(FAILURE_BURST)
    }
}

impl FailureBudget {
    /// Takes one attempt from `client`'s budget: false when it is spent (answer 429 without verifying).
    /// Give it back with [`FailureBudget::refund`] when the attempt succeeds.
    pub fn reserve(&self, client: IpAddr) -> bool {
        self.reserve_at(client, Instant::now())
    }

    pub fn refund(&self, client: IpAddr) {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = buckets.get_mut(&key(client)) {
            *b = Bucket { tokens: (b.refilled(now) + 1.0).min(FAILURE_BURST), at: now };
        }
    }

    fn reserve_at(&self, client: IpAddr, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let k = key(client);
        if !buckets.contains_key(&k) && buckets.len() >= MAX_TRACKED {
            // Forget the addresses whose budget is whole again; if none, leave the newcomer untracked.
            buckets.retain(|_, b| b.refilled(now) < FAILURE_BURST);
            if buckets.len() >= MAX_TRACKED {
                return true;
            }
        }
        let bucket = buckets.entry(k).or_insert(Bucket { tokens: FAILURE_BURST, at: now });
        let tokens = bucket.refilled(now);
        if tokens < 1.0 {
            return false;
        }
        *bucket = Bucket { tokens: tokens - 1.0, at: now };
        true
    }
}

fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_one_per_interval() {
        let budget = FailureBudget::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..FAILURE_BURST as usize {
            assert!(budget.reserve_at(a, t0));
        }
        assert!(!budget.reserve_at(a, t0), "burst spent");
        assert!(budget.reserve_at(b, t0), "other addresses keep their own budget");
        assert!(!budget.reserve_at(a, t0 + FAILURE_REFILL / 2));
        assert!(budget.reserve_at(a, t0 + FAILURE_REFILL * 2), "one refilled");
    }

    #[test]
    fn ipv6_keyed_by_slash_64() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(key(a), key(b));
        assert_ne!(key(a), key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(key(mapped), "192.0.2.1".parse::<IpAddr>().unwrap());
    }
}
