//! A short-lived, per-node cache in front of a shared revocation store.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::RwLock;

use crate::JwtError;
use crate::revocation::{RevocationQuery, Revocations, RevokedBy};

/// Longest accepted TTL: the fleet-wide revocation promise is one second.
pub const MAX_REVOCATION_CACHE_TTL: Duration = Duration::from_secs(1);

#[derive(Clone, Copy)]
struct Entry {
    at: Instant,
    verdict: Option<RevokedBy>,
}

/// [`Revocations`] with a bounded local cache of verdicts.
///
/// A short-lived, per-node cache in front of a shared revocation store.
///
/// # Why a cache, and why at most a second
///
/// A fleet shares one revocation store (SQL or Redis), so a token revoked on one node is refused
/// on all of them. Asking that store on every request costs a network round trip; caching the
/// answer locally costs freshness. [`CachedRevocations`] keeps each verdict for at most its TTL
/// (default 500 ms, capped at 1 s), keyed by the token's `jti`, so:
///
/// - a hit is a hash lookup under a read lock (well under a microsecond);
/// - a revocation made on another node is seen here within the TTL: "revocation reaches every
///   server of a fleet within 1 second" holds with room to spare;
/// - a revocation made through *this* cache is seen here at once (it clears the cache).
///
/// The `jti` identifies the token, and with it the `sub`, `sid` and `iat` the verdict depends on,
/// so one verdict per `jti` is exact.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use sessionwarden_jwt::{CachedRevocations, MemoryRevocations, RevocationQuery, Revocations};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let shared = Arc::new(MemoryRevocations::new());
/// let node = CachedRevocations::new(shared.clone(), Duration::from_millis(500))?;
/// let q = RevocationQuery { jti: "j1", sub: "alice", sid: None, iat: 10, now: 20 };
/// assert_eq!(node.check(&q).await?, None);
/// // Revoked through this node: seen at once.
/// node.revoke_jti("j1", 100).await?;
/// assert!(node.check(&q).await?.is_some());
/// # Ok::<(), sessionwarden_jwt::JwtError>(()) }).unwrap();
/// ```
pub struct CachedRevocations {
    inner: Arc<dyn Revocations>,
    ttl: Duration,
    capacity: usize,
    entries: RwLock<HashMap<String, Entry>>,
    // Bumped by every local revocation: a verdict fetched before a bump is not cached, so a
    // lookup racing a revocation cannot put a stale "not revoked" back.
    generation: AtomicU64,
}

impl fmt::Debug for CachedRevocations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Left out: the cached jtis.
        f.debug_struct("CachedRevocations")
            .field("ttl", &self.ttl)
            .field("capacity", &self.capacity)
            .field("entries", &self.entries.read().len())
            .finish_non_exhaustive()
    }
}

impl CachedRevocations {
    /// A cache of at most 100,000 verdicts, each kept for `ttl`.
    ///
    /// # Errors
    /// [`JwtError::Config`] if `ttl` exceeds [`MAX_REVOCATION_CACHE_TTL`].
    pub fn new(inner: Arc<dyn Revocations>, ttl: Duration) -> Result<Self, JwtError> {
        if ttl > MAX_REVOCATION_CACHE_TTL {
            return Err(JwtError::Config { what: "revocation cache TTL above 1 s" });
        }
        Ok(Self {
            inner,
            ttl,
            capacity: 100_000,
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        })
    }

    /// How many verdicts are cached (live or stale).
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    /// Whether nothing is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.entries.write().clear();
    }

    fn remember(&self, jti: &str, verdict: Option<RevokedBy>, generation: u64, at: Instant) {
        let mut entries = self.entries.write();
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, e| at.saturating_duration_since(e.at) < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(jti.to_owned(), Entry { at, verdict });
    }
}

#[async_trait]
impl Revocations for CachedRevocations {
    async fn check(&self, query: &RevocationQuery<'_>) -> Result<Option<RevokedBy>, JwtError> {
        let start = Instant::now();
        if let Some(entry) = self.entries.read().get(query.jti).copied()
            && start.saturating_duration_since(entry.at) < self.ttl
        {
            return Ok(entry.verdict);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let verdict = self.inner.check(query).await?;
        // Aged from before the lookup, so an entry never outlives the TTL measured from the
        // moment the shared store was asked.
        self.remember(query.jti, verdict, generation, start);
        Ok(verdict)
    }

    async fn revoke_jti(&self, jti: &str, until: u64) -> Result<(), JwtError> {
        let result = self.inner.revoke_jti(jti, until).await;
        self.invalidate();
        result
    }

    async fn revoke_sid(&self, sid: &str, until: u64) -> Result<(), JwtError> {
        let result = self.inner.revoke_sid(sid, until).await;
        self.invalidate();
        result
    }

    async fn revoke_user_before(&self, sub: &str, cutoff: u64) -> Result<(), JwtError> {
        let result = self.inner.revoke_user_before(sub, cutoff).await;
        self.invalidate();
        result
    }

    async fn purge_expired(&self, now: u64) -> Result<(), JwtError> {
        self.inner.purge_expired(now).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::MemoryRevocations;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn a_revocation_elsewhere_is_seen_after_the_ttl_and_not_before() {
        block_on(async {
            let shared = Arc::new(MemoryRevocations::new());
            let node = CachedRevocations::new(shared.clone(), Duration::from_millis(200)).unwrap();
            let q = RevocationQuery { jti: "j", sub: "u", sid: Some("s"), iat: 1, now: 2 };
            assert_eq!(node.check(&q).await.unwrap(), None);
            // Another node revokes in the shared store.
            shared.revoke_sid("s", 100).await.unwrap();
            assert_eq!(node.check(&q).await.unwrap(), None, "cached for the TTL");
            std::thread::sleep(Duration::from_millis(250));
            assert_eq!(node.check(&q).await.unwrap(), Some(RevokedBy::Session));
        });
    }

    #[test]
    fn ttl_is_capped_and_the_cache_is_bounded() {
        let shared = Arc::new(MemoryRevocations::new());
        assert!(CachedRevocations::new(shared.clone(), Duration::from_millis(1001)).is_err());
        let mut node = CachedRevocations::new(shared, Duration::from_secs(1)).unwrap();
        node.capacity = 3;
        block_on(async {
            for i in 0..10 {
                let jti = format!("j{i}");
                let q = RevocationQuery { jti: &jti, sub: "u", sid: None, iat: 1, now: 2 };
                node.check(&q).await.unwrap();
                assert!(node.len() <= 3);
            }
        });
    }
}
