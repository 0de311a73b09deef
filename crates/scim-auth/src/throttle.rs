//! Throttling of failed authentication per client address (and, at the token endpoint, per
//! OAuth client id): a token bucket of failures. Once an address (or a client id) has spent its
//! failures, further *failures* get `429` with `Retry-After` instead of `401`; a valid key (or
//! client secret) is always verified and always admitted, so a flood of bad keys from an
//! address, or of wrong secrets for a client id, never locks out a good one.

use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Most addresses remembered; past it, addresses whose bucket has refilled are forgotten.
const MAX_ADDRESSES: usize = 100_000;

/// How many failures an address may make.
#[derive(Debug, Clone, Copy)]
pub struct FailureLimit {
    /// Failures an address may make at once.
    pub burst: f64,
    /// Failures per minute it earns back (0 turns throttling off).
    pub per_minute: f64,
}

impl Default for FailureLimit {
    fn default() -> Self {
        Self {
            burst: 20.0,
            per_minute: 10.0,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Failure buckets by address (or by another key, such as a client id), in this process.
#[derive(Debug)]
pub struct FailureThrottle<K = IpAddr> {
    limit: FailureLimit,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K> Default for FailureThrottle<K> {
    fn default() -> Self {
        Self {
            limit: FailureLimit::default(),
            buckets: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Hash + Eq> FailureThrottle<K> {
    /// A throttle with `limit`.
    pub fn new(limit: FailureLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failed authentication from `addr` at `now`; `Some(wait)` when the address has
    /// no failures left (answer `429`), `None` to answer the usual `401`.
    pub fn failed(&self, addr: K, now: Instant) -> Option<Duration> {
        if self.limit.per_minute <= 0.0 {
            return None;
        }
        let per_second = self.limit.per_minute / 60.0;
        let mut buckets = match self.buckets.lock() {
            Ok(b) => b,
            Err(poisoned) => poisoned.into_inner(),
        };
        if buckets.len() >= MAX_ADDRESSES {
            let (burst, limit) = (self.limit.burst, per_second);
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * limit < burst
            });
        }
        let bucket = buckets.entry(addr).or_insert(Bucket {
            tokens: self.limit.burst,
            at: now,
        });
        let earned = now.saturating_duration_since(bucket.at).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + earned).min(self.limit.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_throttled_after_its_burst_and_earns_failures_back() {
        let t = FailureThrottle::new(FailureLimit {
            burst: 3.0,
            per_minute: 60.0,
        });
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(t.failed(a, now), None);
        }
        let wait = t.failed(a, now).expect("throttled");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(t.failed(b, now), None, "other addresses are not affected");
        assert_eq!(
            t.failed(a, now + Duration::from_secs(2)),
            None,
            "earned back"
        );
    }
}
