//! [`Limiter`]: one GCRA rate over many keys, in this process or in a shared store.

use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::nanos::Nanos;
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};
use sessionwarden_core::client::IpPrefix;
use sessionwarden_core::store::{Rate, RateDecision, RateLimitStore};
use sha2::{Digest, Sha256};

use crate::error::StoreError;
use crate::time::Clock;

/// Whose events a limit counts: a client's IP prefix (its /24 or /48, so one host cannot
/// dodge the limit by walking its own network), or a user name (hashed: a name of any length
/// makes a 16-byte key, and a store dump lists no names in clear).
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::throttle::LimitKey;
/// let a = LimitKey::client("192.0.2.7".parse().unwrap());
/// assert_eq!(a, LimitKey::client("192.0.2.200".parse().unwrap()), "one /24, one key");
/// assert_eq!(a.to_string(), "c:192.0.2.0/24");
/// assert_ne!(LimitKey::user("alice"), LimitKey::user("Alice"));
/// assert!(!LimitKey::user("alice").to_string().contains("alice"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitKey {
    /// A client network.
    Client(IpPrefix),
    /// The first 16 bytes of SHA-256 over a domain tag and the user name.
    User([u8; 16]),
}

impl LimitKey {
    /// The key of the client at `addr`: its /24 (IPv4) or /48 (IPv6).
    #[must_use]
    pub fn client(addr: IpAddr) -> Self {
        Self::Client(IpPrefix::from_addr(addr))
    }

    /// The key of the user name `name`, exactly as given: pass it the way your user lookup
    /// normalises it, or a case change dodges the limit.
    #[must_use]
    pub fn user(name: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"sessionwarden throttle user\0");
        h.update(name.as_bytes());
        let digest = h.finalize();
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        Self::User(key)
    }

    /// The client prefix, for keys of a client.
    #[must_use]
    pub fn prefix(&self) -> Option<IpPrefix> {
        match self {
            Self::Client(p) => Some(*p),
            Self::User(_) => None,
        }
    }
}

impl fmt::Display for LimitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Client(p) => write!(f, "c:{p}"),
            Self::User(h) => {
                f.write_str("u:")?;
                h.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl fmt::Debug for LimitKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LimitKey({self})")
    }
}

/// The layer's clock as governor reads it: milliseconds since the epoch, in nanoseconds.
#[derive(Clone)]
struct MillisClock(Arc<dyn Clock>);

impl GovernorClock for MillisClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        let ms = u64::try_from(self.0.now_ms()).unwrap_or(0);
        Nanos::new(ms.saturating_mul(1_000_000))
    }
}

type Local = RateLimiter<
    LimitKey,
    HashMapStateStore<LimitKey>,
    MillisClock,
    governor::middleware::NoOpMiddleware<Nanos>,
>;

/// One rate over many keys: GCRA (a burst, then one event per interval), either in this
/// process ([`Limiter::in_process`], through `governor`) or in a shared
/// [`RateLimitStore`] ([`Limiter::shared`]), where every node of a fleet counts against the
/// same state, so N nodes together allow what one allows.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use std::{sync::Arc, time::Duration};
/// use sessionwarden::{ManualClock, Timestamp, store::Rate, throttle::{LimitKey, Limiter}};
/// # futures_util::FutureExt::now_or_never(async {
/// let clock = ManualClock::new(Timestamp::from_unix(1_700_000_000));
/// let limiter = Limiter::in_process(Rate::per(2, Duration::from_secs(60)), Arc::new(clock.clone()));
/// let key = LimitKey::client("192.0.2.1".parse().unwrap());
/// assert!(limiter.check(&key).await?.allowed);
/// assert!(limiter.check(&key).await?.allowed);
/// let third = limiter.check(&key).await?;
/// assert!(!third.allowed);
/// assert_eq!(third.retry_after, Duration::from_secs(30));
/// clock.advance(Duration::from_secs(30));
/// assert!(limiter.check(&key).await?.allowed);
/// # Ok::<(), sessionwarden::StoreError>(()) }).unwrap().unwrap();
/// ```
pub struct Limiter {
    rate: Rate,
    backend: Backend,
}

enum Backend {
    Local {
        limiter: Local,
        clock: MillisClock,
        /// Checks since the last sweep of keys back at their full burst.
        since_sweep: AtomicU32,
    },
    Shared {
        store: Arc<dyn RateLimitStore>,
        clock: Arc<dyn Clock>,
        /// Prefixed to each key: which rule's state this is.
        namespace: String,
    },
}

/// The in-process limiter drops keys whose state has run out (exactly as if never seen)
/// once every this many checks, so its memory follows the keys active within one period.
const SWEEP_EVERY: u32 = 4096;

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limiter").field("rate", &self.rate).field("shared", &self.is_shared()).finish()
    }
}

impl Limiter {
    /// A limiter in this process's memory, reading time from `clock`.
    #[must_use]
    pub fn in_process(rate: Rate, clock: Arc<dyn Clock>) -> Self {
        // invariant: a Rate's interval is at least a millisecond here and its burst at least 1
        // after `max(1)`, so the quota exists.
        let interval = rate.interval.max(Duration::from_millis(1));
        let burst = NonZeroU32::new(rate.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(interval).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN));
        let clock = MillisClock(clock);
        let limiter = RateLimiter::hashmap_with_clock(quota.allow_burst(burst), clock.clone());
        Self { rate, backend: Backend::Local { limiter, clock, since_sweep: AtomicU32::new(0) } }
    }

    /// A limiter over `store`'s shared state, its keys prefixed with `namespace` (one per
    /// rule: two rules must not share a key's state).
    #[must_use]
    pub fn shared(
        rate: Rate,
        store: Arc<dyn RateLimitStore>,
        namespace: &str,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { rate, backend: Backend::Shared { store, clock, namespace: namespace.to_owned() } }
    }

    /// Whether the state is shared (a store) rather than this process's.
    #[must_use]
    pub fn is_shared(&self) -> bool {
        matches!(self.backend, Backend::Shared { .. })
    }

    /// The rate.
    #[must_use]
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Counts one event of `key`: allowed (and counted), or refused with how long until one
    /// would be allowed (a refused event is not counted).
    ///
    /// In process this never waits and never fails; shared, it is one store round trip.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the shared store cannot be reached.
    pub async fn check(&self, key: &LimitKey) -> Result<RateDecision, StoreError> {
        match &self.backend {
            Backend::Local { limiter, clock, since_sweep } => {
                if since_sweep.fetch_add(1, Ordering::Relaxed) >= SWEEP_EVERY {
                    since_sweep.store(0, Ordering::Relaxed);
                    limiter.retain_recent();
                }
                Ok(match limiter.check_key(key) {
                    Ok(()) => RateDecision { allowed: true, retry_after: Duration::ZERO },
                    Err(not_until) => RateDecision {
                        allowed: false,
                        retry_after: not_until.wait_time_from(GovernorClock::now(clock)),
                    },
                })
            }
            Backend::Shared { store, clock, namespace } => {
                store.check(&format!("{namespace}{key}"), self.rate, 1, clock.now_ms()).await
            }
        }
    }

    /// How many keys the in-process limiter holds (0 when shared): for tests and metrics.
    #[must_use]
    pub fn local_keys(&self) -> usize {
        match &self.backend {
            Backend::Local { limiter, .. } => limiter.len(),
            Backend::Shared { .. } => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{ManualClock, Timestamp};
    use futures_util::FutureExt as _;

    fn check(l: &Limiter, k: &LimitKey) -> RateDecision {
        l.check(k).now_or_never().unwrap().unwrap()
    }

    /// The in-process limiter decides exactly as the stores' GCRA step does.
    #[test]
    fn governor_agrees_with_the_stores_gcra() {
        let clock = ManualClock::new(Timestamp::from_unix(1_700_000_000));
        for rate in [Rate::per(3, Duration::from_secs(3)), Rate::per(20, Duration::from_secs(60))] {
            let local = Limiter::in_process(rate, Arc::new(clock.clone()));
            let store: Arc<dyn RateLimitStore> = Arc::new(crate::MemoryStore::default());
            let shared = Limiter::shared(rate, store, "t:", Arc::new(clock.clone()));
            let key = LimitKey::client("198.51.100.3".parse().unwrap());
            for step in 0..200u64 {
                // Irregular arrivals: bursts and pauses of 0..4 s.
                if step % 7 == 3 {
                    clock.advance(Duration::from_secs(step % 5));
                }
                let (a, b) = (check(&local, &key), check(&shared, &key));
                assert_eq!(a.allowed, b.allowed, "{rate:?} step {step}");
                assert_eq!(a.retry_after.as_secs(), b.retry_after.as_secs(), "{rate:?} step {step}");
            }
        }
    }

    #[test]
    fn keys_are_independent_and_swept() {
        let clock = ManualClock::new(Timestamp::from_unix(1_700_000_000));
        let l = Limiter::in_process(Rate::per(1, Duration::from_secs(60)), Arc::new(clock.clone()));
        let a = LimitKey::client("192.0.2.1".parse().unwrap());
        let b = LimitKey::client("198.51.100.1".parse().unwrap());
        assert!(check(&l, &a).allowed);
        assert!(!check(&l, &a).allowed);
        assert!(check(&l, &b).allowed, "another client is unaffected");
        // governor keeps a key one interval past its TAT; two periods later both are stale.
        clock.advance(Duration::from_secs(121));
        assert_eq!(l.local_keys(), 2);
        for _ in 0..=SWEEP_EVERY {
            let _ = check(&l, &LimitKey::user("u"));
        }
        assert_eq!(l.local_keys(), 1, "the two expired keys were swept, the live one kept");
    }
}
