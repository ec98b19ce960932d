//! A bounded local read cache in front of a remote store, kept coherent across a fleet.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;

use super::{
    AccountLocks, Admission, DisabledUser, ExpiredDeletion, ListQuery, SaveOutcome, SessionIndex,
    SessionInfo, SessionLimit, SessionPage, SessionStore, UserSessionCap,
};
use crate::error::StoreError;
use crate::id::{SessionHandle, StoreKey};
use crate::record::Record;
use crate::time::Timestamp;

/// How many invalidation counters fills are checked against (by handle). More stripes:
/// fewer fills discarded because an unrelated session was invalidated meanwhile.
const STRIPES: usize = 64;

/// What a write tells the other caches of the fleet.
///
/// Carries a [`SessionHandle`] (the first 16 bytes of the store key), never a session id or
/// a whole store key: the channel reveals nothing that could be turned into a cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Invalidation {
    /// The session named by this handle changed or was removed.
    Session(SessionHandle),
    /// Every session of this user was revoked.
    User(String),
    /// Drop everything (an invalidation the receiver did not understand, a reset).
    All,
}

impl Invalidation {
    /// The wire form, versioned: `s1 <handle>`, `u1 <user>` or `a1`.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::store::Invalidation;
    /// assert_eq!(Invalidation::User("alice".into()).to_wire(), "u1 alice");
    /// assert_eq!(Invalidation::from_wire(b"u1 alice"), Invalidation::User("alice".into()));
    /// assert_eq!(Invalidation::from_wire(b"x9 ?"), Invalidation::All);
    /// ```
    #[must_use]
    pub fn to_wire(&self) -> String {
        match self {
            Self::Session(h) => format!("s1 {h}"),
            Self::User(u) => format!("u1 {u}"),
            Self::All => "a1".to_owned(),
        }
    }

    /// Parses [`Invalidation::to_wire`]'s form. Anything else is [`Invalidation::All`]: a
    /// receiver that cannot tell what changed drops everything (fail safe).
    #[must_use]
    pub fn from_wire(bytes: &[u8]) -> Self {
        let Ok(text) = std::str::from_utf8(bytes) else { return Self::All };
        if let Some(h) = text.strip_prefix("s1 ").and_then(SessionHandle::parse) {
            return Self::Session(h);
        }
        if let Some(u) = text.strip_prefix("u1 ") {
            return Self::User(u.to_owned());
        }
        Self::All
    }
}

/// The channel over which a fleet's caches tell each other what changed.
///
/// An implementation must deliver every published [`Invalidation`] to every subscribed
/// sink (its own included), and report the subscription's health: call
/// [`InvalidationSink::reset`] whenever the subscription is lost or (re-)established, and
/// [`InvalidationSink::confirm`] with an instant `t` only once every invalidation published
/// before `t` has been applied to the sink. Without confirmations the cache serves no hits.
#[async_trait]
pub trait Invalidator: Send + Sync + fmt::Debug + 'static {
    /// Tells every cache of the fleet about `invalidation`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if it could not be sent.
    async fn publish(&self, invalidation: &Invalidation) -> Result<(), StoreError>;

    /// Starts delivering invalidations (and health) to `sink`, typically from a task it
    /// spawns, until [`InvalidationSink::is_closed`].
    fn subscribe(&self, sink: InvalidationSink);

    /// Whether `publish` applies the invalidation to every sink before it returns (an
    /// in-process channel). Then the cache needs no confirmations.
    fn is_synchronous(&self) -> bool {
        false
    }
}

/// Settings of a [`CachedStore`].
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use std::time::Duration;
/// use sessionwarden::store::CacheConfig;
/// let config = CacheConfig::new(50_000).with_time_to_live(Duration::from_secs(2));
/// assert_eq!(config.capacity(), 50_000);
/// ```
#[derive(Debug, Clone)]
pub struct CacheConfig {
    capacity: u64,
    time_to_live: Duration,
    max_staleness: Duration,
}

impl CacheConfig {
    /// At most `capacity` sessions cached; 5 s time to live; 1 s maximum staleness.
    #[must_use]
    pub fn new(capacity: u64) -> Self {
        Self { capacity, time_to_live: Duration::from_secs(5), max_staleness: Duration::from_secs(1) }
    }

    /// How long an entry may stay cached at most, whatever the invalidations say. The
    /// bound on staleness if an invalidation is lost while the channel looks healthy.
    #[must_use]
    pub fn with_time_to_live(mut self, ttl: Duration) -> Self {
        self.time_to_live = ttl;
        self
    }

    /// How old the invalidator's last confirmation may be while hits are served: the bound
    /// on how late another server's write is seen here.
    #[must_use]
    pub fn with_max_staleness(mut self, staleness: Duration) -> Self {
        self.max_staleness = staleness;
        self
    }

    /// The bound on cached sessions.
    #[must_use]
    pub fn capacity(&self) -> u64 {
        self.capacity
    }
}

/// One cached record. The key is kept to tell apart two keys sharing a handle.
struct Entry {
    key: StoreKey,
    record: Record,
}

/// The cache and its health; shared with the invalidator through [`InvalidationSink`].
struct State {
    cache: moka::sync::Cache<SessionHandle, Arc<Entry>>,
    config: CacheConfig,
    /// Invalidations per stripe of handles, for fill tickets.
    stripes: [AtomicU64; STRIPES],
    /// Whole-cache invalidations (resets, revoke-alls).
    global: AtomicU64,
    /// Deliveries are synchronous: no confirmation needed.
    synchronous: bool,
    /// Microseconds after `base` (+1; 0 = never) of the newest confirmed instant.
    confirmed: AtomicU64,
    /// Microseconds after `base` (+1) of the last reset: older confirmations don't count.
    reset_at: AtomicU64,
    base: Instant,
    store_ok: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
    /// Hit and miss counters, once [`CachedStore::with_metrics`] registered them.
    #[cfg(feature = "metrics")]
    lookups: std::sync::OnceLock<[metrics::Counter; 2]>,
}

fn stripe(handle: &SessionHandle) -> usize {
    let h = handle.as_str().bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
    h % STRIPES
}

impl State {
    fn micros(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_micros()).unwrap_or(u64::MAX - 1) + 1
    }

    fn channel_confirmed(&self) -> bool {
        if self.synchronous {
            return true;
        }
        let confirmed = self.confirmed.load(Ordering::SeqCst);
        if confirmed == 0 {
            return false;
        }
        let now = self.micros(Instant::now());
        let window = u64::try_from(self.config.max_staleness.as_micros()).unwrap_or(u64::MAX);
        now.saturating_sub(confirmed) < window
    }

    fn serving(&self) -> bool {
        self.store_ok.load(Ordering::SeqCst) && self.channel_confirmed()
    }

    fn ticket(&self, handle: &SessionHandle) -> (u64, u64) {
        (self.global.load(Ordering::SeqCst), self.stripes[stripe(handle)].load(Ordering::SeqCst))
    }

    fn apply(&self, invalidation: &Invalidation) {
        match invalidation {
            Invalidation::Session(h) => {
                // Bump first, then remove: a fill that inserts after the removal sees the bump.
                self.stripes[stripe(h)].fetch_add(1, Ordering::SeqCst);
                self.cache.invalidate(h);
            }
            Invalidation::User(_) | Invalidation::All => self.clear(),
        }
    }

    fn clear(&self) {
        self.global.fetch_add(1, Ordering::SeqCst);
        self.cache.invalidate_all();
    }

    fn reset(&self) {
        self.reset_at.store(self.micros(Instant::now()), Ordering::SeqCst);
        self.confirmed.store(0, Ordering::SeqCst);
        self.clear();
    }

    fn confirm(&self, sent_at: Instant) {
        let at = self.micros(sent_at);
        if at <= self.reset_at.load(Ordering::SeqCst) {
            return;
        }
        self.confirmed.fetch_max(at, Ordering::SeqCst);
    }

    /// Records whether the store answered, from an operation's result.
    fn note<T>(&self, result: &Result<T, StoreError>) {
        match result {
            Ok(_) | Err(StoreError::Corrupt { .. }) => self.store_ok.store(true, Ordering::SeqCst),
            // An outage, or a kind of failure this version does not know: fail closed.
            Err(_) => self.store_ok.store(false, Ordering::SeqCst),
        }
    }
}

/// Where an [`Invalidator`] delivers invalidations and reports the subscription's health.
///
/// Cheap to clone. It does not keep the cache alive: once the [`CachedStore`] is dropped,
/// [`InvalidationSink::is_closed`] turns true and calls do nothing.
#[derive(Clone)]
pub struct InvalidationSink {
    state: Weak<State>,
}

impl fmt::Debug for InvalidationSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvalidationSink").field("closed", &self.is_closed()).finish()
    }
}

impl InvalidationSink {
    /// Applies an invalidation heard on the channel: drops the entries it names.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// # use sessionwarden::{MemoryStore, store::{CachedStore, Invalidation, LocalInvalidator}};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let store = CachedStore::new(MemoryStore::default(), LocalInvalidator::default(), 100);
    /// store.sink().apply(&Invalidation::All);
    /// # }
    /// ```
    pub fn apply(&self, invalidation: &Invalidation) {
        if let Some(state) = self.state.upgrade() {
            state.apply(invalidation);
        }
    }

    /// The subscription was lost or (re-)established: invalidations may have been missed,
    /// so the cache is emptied and serves no hits until the next [`InvalidationSink::confirm`]
    /// of an instant after this call.
    pub fn reset(&self) {
        if let Some(state) = self.state.upgrade() {
            state.reset();
        }
    }

    /// Vouches that every invalidation published before `sent_at` has been applied (for
    /// example: a PING sent at `sent_at` on the subscription connection was answered, and
    /// the messages that arrived before the answer were applied).
    pub fn confirm(&self, sent_at: Instant) {
        if let Some(state) = self.state.upgrade() {
            state.confirm(sent_at);
        }
    }

    /// Whether the cache is gone; the invalidator may stop delivering.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.state.strong_count() == 0
    }
}

/// Hit and miss counts of a [`CachedStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CacheStats {
    /// Loads answered from the cache.
    pub hits: u64,
    /// Loads that went to the store.
    pub misses: u64,
}

/// A [`SessionStore`] with a bounded local read cache, coherent across a fleet through an
/// [`Invalidator`].
///
/// A bounded local read cache in front of a remote store, kept coherent across a fleet.
///
/// [`CachedStore`] wraps any [`SessionStore`] and answers `load` from process memory when it
/// can, so a read-mostly request costs no network round trip. Everything else goes to the
/// store. Its companion is an [`Invalidator`]: the channel over which every server of the
/// fleet tells the others "this session changed" or "this user was revoked" (Redis pub/sub in
/// `sessionwarden-redis`, or the in-process [`LocalInvalidator`]).
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::MemoryStore;
/// use sessionwarden::store::{CachedStore, LocalInvalidator};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = CachedStore::new(MemoryStore::default(), LocalInvalidator::default(), 10_000);
/// assert!(store.is_serving_hits());
/// # }
/// ```
///
/// # Design
///
/// - The cache maps a session's [`SessionHandle`] to the record last loaded for it (with
///   its [`StoreKey`], checked on every hit). It is bounded (`moka`, `capacity` entries) and
///   every entry also expires after [`CacheConfig::with_time_to_live`] (5 s by default): a
///   safety net, not the mechanism.
/// - `load` fills the cache; misses (`None`) are never cached, so a new session needs no
///   invalidation anywhere.
/// - Every write that changes or removes a record (`save`, `delete`, `cycle`, `revoke`,
///   `revoke_user`) drops the local entry *and* publishes an [`Invalidation`] before it
///   returns. Every cache of the fleet (this one included) drops the entry when it hears it.
///   A revoke-all drops the whole cache (rare, and obviously complete).
/// - A fill that raced an invalidation is undone: each fill takes a ticket (an invalidation
///   counter per stripe of handles, plus a global one) before reading the store, inserts,
///   then checks the ticket again and removes its own entry if anything was invalidated
///   meanwhile. So an old record read before a write is never cached after its invalidation.
///
/// # Fail closed
///
/// The cache serves hits only while both hold:
///
/// 1. the invalidation channel is *confirmed*: the [`Invalidator`] has vouched (through
///    [`InvalidationSink::confirm`]) that every invalidation published before some instant
///    less than [`CacheConfig::with_max_staleness`] ago (1 s by default) has been applied;
/// 2. the last round trip to the store did not fail.
///
/// Otherwise every `load` goes to the store, whose errors fail the request with 503 as
/// without a cache, and nothing is filled. When the subscription is lost or re-established
/// the invalidator calls [`InvalidationSink::reset`], which empties the cache: invalidations
/// may have been missed in between.
///
/// # Guarantees and their limits
///
/// - A write or revocation on one server is seen by every other server's `load` within
///   `max_staleness` (1 s), as long as the write's publish succeeded: either the
///   invalidation has reached the other cache, or that cache has stopped serving hits.
/// - If the publish fails after the store write succeeded, the write returns
///   [`StoreError::Unavailable`] (operation `invalidate`): the change is stored, but other
///   servers may serve the old record until the entry's time to live ends (5 s).
/// - Expiry is checked on every hit at the caller's `now`; an expired entry is a miss.
/// - The cache trusts the invalidator's confirmation. An invalidator over a store with
///   several nodes (Redis Cluster) can only vouch for the nodes it talks to; see its docs.
///
/// `Debug` shows the inner store and the cache's size and health, never a record.
#[derive(Clone)]
pub struct CachedStore<S> {
    inner: S,
    state: Arc<State>,
    invalidator: Arc<dyn Invalidator>,
}

impl<S: fmt::Debug> fmt::Debug for CachedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedStore")
            .field("inner", &self.inner)
            .field("capacity", &self.state.config.capacity)
            .field("entries", &self.state.cache.entry_count())
            .field("serving_hits", &self.state.serving())
            .field("invalidator", &self.invalidator)
            .finish()
    }
}

impl<S: SessionStore> CachedStore<S> {
    /// Caches up to `capacity` sessions of `inner`, kept coherent by `invalidator`, with the
    /// default [`CacheConfig`].
    ///
    /// Subscribes at once: call it inside the async runtime the invalidator spawns on.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// # use sessionwarden::{MemoryStore, store::{CachedStore, LocalInvalidator}};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let store = CachedStore::new(MemoryStore::default(), LocalInvalidator::default(), 100);
    /// assert_eq!(store.stats().hits, 0);
    /// # }
    /// ```
    pub fn new(inner: S, invalidator: impl Invalidator, capacity: u64) -> Self {
        Self::with_config(inner, Arc::new(invalidator), CacheConfig::new(capacity))
    }

    /// As [`CachedStore::new`] with explicit settings and a shared invalidator.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// # use std::{sync::Arc, time::Duration};
    /// # use sessionwarden::{MemoryStore, store::{CacheConfig, CachedStore, LocalInvalidator}};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let config = CacheConfig::new(100).with_max_staleness(Duration::from_millis(500));
    /// let store = CachedStore::with_config(MemoryStore::default(), Arc::new(LocalInvalidator::default()), config);
    /// # let _ = store;
    /// # }
    /// ```
    pub fn with_config(inner: S, invalidator: Arc<dyn Invalidator>, config: CacheConfig) -> Self {
        let cache = moka::sync::Cache::builder()
            .max_capacity(config.capacity)
            .time_to_live(config.time_to_live)
            .build();
        let state = Arc::new(State {
            cache,
            config,
            stripes: std::array::from_fn(|_| AtomicU64::new(0)),
            global: AtomicU64::new(0),
            synchronous: invalidator.is_synchronous(),
            confirmed: AtomicU64::new(0),
            reset_at: AtomicU64::new(0),
            base: Instant::now(),
            store_ok: AtomicBool::new(true),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            #[cfg(feature = "metrics")]
            lookups: std::sync::OnceLock::new(),
        });
        let store = Self { inner, state, invalidator };
        store.invalidator.subscribe(store.sink());
        store
    }

    /// The wrapped store.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// # use sessionwarden::{MemoryStore, store::{CachedStore, LocalInvalidator}};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let store = CachedStore::new(MemoryStore::with_capacity(7), LocalInvalidator::default(), 100);
    /// assert_eq!(store.inner().capacity(), 7);
    /// # }
    /// ```
    #[must_use]
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// A sink feeding this cache (the invalidator got one at construction).
    #[must_use]
    pub fn sink(&self) -> InvalidationSink {
        InvalidationSink { state: Arc::downgrade(&self.state) }
    }

    /// Whether a `load` may be answered from the cache now (see "Fail closed").
    #[must_use]
    pub fn is_serving_hits(&self) -> bool {
        self.state.serving()
    }

    /// Also counts hits and misses in [`CACHE_LOOKUPS`](crate::metrics::CACHE_LOOKUPS)
    /// (`result="hit"` / `"miss"`), registered with the current recorder. Clones share the
    /// counters; a second call changes nothing.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// # use sessionwarden::{MemoryStore, store::{CachedStore, LocalInvalidator}};
    /// let store = CachedStore::new(MemoryStore::default(), LocalInvalidator::default(), 100).with_metrics();
    /// # drop(store);
    /// ```
    #[cfg(feature = "metrics")]
    #[must_use]
    pub fn with_metrics(self) -> Self {
        let name = crate::metrics::CACHE_LOOKUPS;
        self.state.lookups.get_or_init(|| {
            [metrics::counter!(name, "result" => "hit"), metrics::counter!(name, "result" => "miss")]
        });
        self
    }

    /// Hits and misses so far.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.state.hits.load(Ordering::Relaxed),
            misses: self.state.misses.load(Ordering::Relaxed),
        }
    }

    /// How many sessions are cached, after pending evictions have run.
    #[must_use]
    pub fn entry_count(&self) -> u64 {
        self.state.cache.run_pending_tasks();
        self.state.cache.entry_count()
    }

    /// Drops `handle` here and tells the fleet. Runs after a write reached the store.
    async fn invalidate(&self, invalidation: Invalidation) -> Result<(), StoreError> {
        self.state.apply(&invalidation);
        match self.invalidator.publish(&invalidation).await {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::warn!(target: "sessionwarden::cache", error = %e, "invalidation not published; other caches may serve the old record until its time to live");
                Err(match e {
                    StoreError::Unavailable { source, .. } => {
                        StoreError::Unavailable { operation: "invalidate", source }
                    }
                    other => other,
                })
            }
        }
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for CachedStore<S> {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        let handle = key.handle();
        let state = &self.state;
        let serving = state.serving();
        if serving
            && let Some(entry) = state.cache.get(&handle)
            && entry.key == *key
            && !entry.record.is_expired(now)
        {
            state.hits.fetch_add(1, Ordering::Relaxed);
            #[cfg(feature = "metrics")]
            if let Some([hit, _]) = state.lookups.get() {
                hit.increment(1);
            }
            return Ok(Some(entry.record.clone()));
        }
        state.misses.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        if let Some([_, miss]) = state.lookups.get() {
            miss.increment(1);
        }
        let ticket = state.ticket(&handle);
        let result = self.inner.load(key, now).await;
        state.note(&result);
        if serving && let Ok(Some(record)) = &result {
            state.cache.insert(handle.clone(), Arc::new(Entry { key: *key, record: record.clone() }));
            // Anything invalidated (or the channel lost) while we read: our copy may be older
            // than the invalidation, so it must not stay.
            if state.ticket(&handle) != ticket || !state.serving() {
                state.cache.invalidate(&handle);
            }
        }
        result
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<bool, StoreError> {
        // Misses are never cached, so no cache anywhere holds this key: nothing to publish.
        let result = self.inner.create(key, record).await;
        self.state.note(&result);
        result
    }

    async fn save(&self, key: &StoreKey, record: &Record, expected: u64) -> Result<SaveOutcome, StoreError> {
        let result = self.inner.save(key, record, expected).await;
        self.state.note(&result);
        match result? {
            SaveOutcome::Saved => {
                self.invalidate(Invalidation::Session(key.handle())).await?;
                Ok(SaveOutcome::Saved)
            }
            // Someone else changed or removed it: our copy (if any) is old. They published.
            other => {
                self.state.apply(&Invalidation::Session(key.handle()));
                Ok(other)
            }
        }
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        let result = self.inner.delete(key).await;
        self.state.note(&result);
        result?;
        self.invalidate(Invalidation::Session(key.handle())).await
    }

    async fn cycle(&self, from: &StoreKey, to: &StoreKey) -> Result<bool, StoreError> {
        let result = self.inner.cycle(from, to).await;
        self.state.note(&result);
        if result? {
            self.invalidate(Invalidation::Session(from.handle())).await?;
            Ok(true)
        } else {
            self.state.apply(&Invalidation::Session(from.handle()));
            Ok(false)
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let result = self.inner.ping().await;
        self.state.note(&result);
        result
    }
}

#[async_trait]
impl<S: SessionIndex> SessionIndex for CachedStore<S> {
    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<SessionInfo>, StoreError> {
        let result = self.inner.list_user(user, now).await;
        self.state.note(&result);
        result
    }

    async fn list(&self, now: Timestamp, limit: usize) -> Result<Vec<SessionInfo>, StoreError> {
        let result = self.inner.list(now, limit).await;
        self.state.note(&result);
        result
    }

    async fn list_page(&self, query: &ListQuery, now: Timestamp) -> Result<SessionPage, StoreError> {
        let result = self.inner.list_page(query, now).await;
        self.state.note(&result);
        result
    }

    async fn count(&self, user: Option<&str>, now: Timestamp) -> Result<u64, StoreError> {
        let result = self.inner.count(user, now).await;
        self.state.note(&result);
        result
    }

    async fn revoke(&self, handle: &SessionHandle) -> Result<bool, StoreError> {
        let result = self.inner.revoke(handle).await;
        self.state.note(&result);
        let found = result?;
        // Published even when nothing was found here: a stale copy elsewhere must go too.
        self.invalidate(Invalidation::Session(handle.clone())).await?;
        Ok(found)
    }

    async fn revoke_user(&self, user: &str) -> Result<u64, StoreError> {
        let result = self.inner.revoke_user(user).await;
        self.state.note(&result);
        let n = result?;
        self.invalidate(Invalidation::User(user.to_owned())).await?;
        Ok(n)
    }
}

/// Admission creates a record (never cached before) and deletes others: the deleted ones are
/// published like any delete, so no node keeps serving an evicted session from its cache.
#[async_trait]
impl<S: UserSessionCap> UserSessionCap for CachedStore<S> {
    async fn admit(
        &self,
        key: &StoreKey,
        record: &Record,
        replaces: Option<&StoreKey>,
        limit: SessionLimit,
        now: Timestamp,
    ) -> Result<Admission, StoreError> {
        let result = self.inner.admit(key, record, replaces, limit, now).await;
        self.state.note(&result);
        let admission = result?;
        if let Admission::Admitted { evicted } = &admission {
            for handle in evicted {
                self.invalidate(Invalidation::Session(handle.clone())).await?;
            }
            if let Some(old) = replaces {
                self.invalidate(Invalidation::Session(old.handle())).await?;
            }
        }
        Ok(admission)
    }
}

/// Not cached: a disable must be seen by every node at once.
#[async_trait]
impl<S: AccountLocks> AccountLocks for CachedStore<S> {
    async fn disable(&self, user: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.inner.disable(user, now).await
    }
    async fn enable(&self, user: &str) -> Result<bool, StoreError> {
        self.inner.enable(user).await
    }
    async fn is_disabled(&self, user: &str) -> Result<bool, StoreError> {
        self.inner.is_disabled(user).await
    }
    async fn list_disabled(&self) -> Result<Vec<DisabledUser>, StoreError> {
        self.inner.list_disabled().await
    }
}

#[async_trait]
impl<S: ExpiredDeletion> ExpiredDeletion for CachedStore<S> {
    async fn delete_expired(&self, now: Timestamp, batch: usize) -> Result<u64, StoreError> {
        // Swept records were expired, and hits refuse expired records: nothing to publish.
        let result = self.inner.delete_expired(now, batch).await;
        self.state.note(&result);
        result
    }
}

/// An in-process [`Invalidator`]: clones share one channel, so several [`CachedStore`]s in
/// one process (tests, or stores sharing a backend) keep each other coherent. Delivery is
/// synchronous, so no heartbeat is needed.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// # use sessionwarden::{MemoryStore, store::{CachedStore, LocalInvalidator}};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let channel = LocalInvalidator::default();
/// let backend = MemoryStore::default();
/// let a = CachedStore::new(backend.clone(), channel.clone(), 100);
/// let b = CachedStore::new(backend, channel, 100);
/// # let _ = (a, b);
/// # }
/// ```
#[derive(Clone, Default)]
pub struct LocalInvalidator {
    sinks: Arc<Mutex<Vec<InvalidationSink>>>,
}

impl fmt::Debug for LocalInvalidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalInvalidator").field("subscribers", &self.sinks.lock().len()).finish()
    }
}

#[async_trait]
impl Invalidator for LocalInvalidator {
    async fn publish(&self, invalidation: &Invalidation) -> Result<(), StoreError> {
        let mut sinks = self.sinks.lock();
        sinks.retain(|s| !s.is_closed());
        for sink in sinks.iter() {
            sink.apply(invalidation);
        }
        Ok(())
    }

    fn subscribe(&self, sink: InvalidationSink) {
        self.sinks.lock().push(sink);
    }

    fn is_synchronous(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Expiry, MemoryStore, SessionId};

    const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);

    fn record(user: Option<&str>) -> Record {
        let mut r = Record::new(NOW, &Expiry::default());
        r.version = 1;
        r.user = user.map(str::to_owned);
        r
    }

    #[tokio::test]
    async fn stays_within_its_bound() {
        let store = CachedStore::new(MemoryStore::default(), LocalInvalidator::default(), 100);
        for _ in 0..1000 {
            let k = SessionId::generate().store_key();
            store.create(&k, &record(None)).await.unwrap();
            store.load(&k, NOW).await.unwrap().unwrap();
        }
        let n = store.entry_count();
        assert!(n <= 100, "{n} entries cached, bound 100");
        assert!(n > 0);
    }

    #[tokio::test]
    async fn hits_after_the_first_load_and_sees_local_writes() {
        let store = CachedStore::new(MemoryStore::default(), LocalInvalidator::default(), 100);
        let k = SessionId::generate().store_key();
        store.create(&k, &record(None)).await.unwrap();
        store.load(&k, NOW).await.unwrap().unwrap();
        store.load(&k, NOW).await.unwrap().unwrap();
        assert_eq!(store.stats(), CacheStats { hits: 1, misses: 1 });
        let mut v2 = record(None);
        v2.version = 2;
        assert_eq!(store.save(&k, &v2, 1).await.unwrap(), SaveOutcome::Saved);
        assert_eq!(store.load(&k, NOW).await.unwrap().unwrap().version, 2);
    }

    /// Two caches over one store, one channel: a write or revocation through one is seen
    /// by the other at once.
    #[tokio::test]
    async fn a_fleet_sees_each_others_writes_and_revocations() {
        let backend = MemoryStore::default();
        let channel = LocalInvalidator::default();
        let a = CachedStore::new(backend.clone(), channel.clone(), 100);
        let b = CachedStore::new(backend, channel, 100);
        let (k1, k2, k3) = (
            SessionId::generate().store_key(),
            SessionId::generate().store_key(),
            SessionId::generate().store_key(),
        );
        for k in [&k1, &k2, &k3] {
            a.create(k, &record(Some("carol"))).await.unwrap();
            a.load(k, NOW).await.unwrap();
            b.load(k, NOW).await.unwrap();
            b.load(k, NOW).await.unwrap();
        }
        assert_eq!(b.stats().hits, 3);
        let mut v2 = record(Some("carol"));
        v2.version = 2;
        a.save(&k1, &v2, 1).await.unwrap();
        assert_eq!(b.load(&k1, NOW).await.unwrap().unwrap().version, 2);
        assert!(a.revoke(&k2.handle()).await.unwrap());
        assert!(b.load(&k2, NOW).await.unwrap().is_none());
        assert_eq!(a.revoke_user("carol").await.unwrap(), 2);
        assert!(b.load(&k1, NOW).await.unwrap().is_none());
        assert!(b.load(&k3, NOW).await.unwrap().is_none());
    }

    /// A remote-style invalidator that never confirms: the cache must never serve a hit.
    #[derive(Debug)]
    struct Silent;

    #[async_trait]
    impl Invalidator for Silent {
        async fn publish(&self, _: &Invalidation) -> Result<(), StoreError> {
            Ok(())
        }
        fn subscribe(&self, _: InvalidationSink) {}
    }

    #[tokio::test]
    async fn serves_no_hit_without_a_confirmed_channel_and_forgets_on_reset() {
        let store = CachedStore::new(MemoryStore::default(), Silent, 100);
        let k = SessionId::generate().store_key();
        store.create(&k, &record(None)).await.unwrap();
        store.load(&k, NOW).await.unwrap();
        store.load(&k, NOW).await.unwrap();
        assert_eq!(store.stats().hits, 0, "unconfirmed channel");
        store.sink().confirm(Instant::now());
        store.load(&k, NOW).await.unwrap();
        store.load(&k, NOW).await.unwrap();
        assert_eq!(store.stats().hits, 1);
        // A confirmation older than a reset does not count, and the reset empties the cache.
        let before = Instant::now();
        store.sink().reset();
        store.sink().confirm(before);
        assert!(!store.is_serving_hits());
        assert_eq!(store.entry_count(), 0);
        store.sink().confirm(Instant::now());
        assert!(store.is_serving_hits());
    }

    #[tokio::test]
    async fn confirmations_go_stale() {
        let config = CacheConfig::new(10).with_max_staleness(Duration::from_millis(50));
        let store = CachedStore::with_config(MemoryStore::default(), Arc::new(Silent), config);
        store.sink().confirm(Instant::now());
        assert!(store.is_serving_hits());
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(!store.is_serving_hits(), "a confirmation older than max_staleness");
    }

    /// A store failure stops hits until the store answers again.
    #[tokio::test]
    async fn a_failed_round_trip_stops_hits() {
        let store = CachedStore::new(MemoryStore::default(), LocalInvalidator::default(), 10);
        store.state.note::<()>(&Err(StoreError::unavailable("load", std::io::Error::other("down"))));
        assert!(!store.is_serving_hits());
        store.ping().await.unwrap();
        assert!(store.is_serving_hits());
    }

    /// A store whose `load` waits on a gate, so a test can land an invalidation mid-read.
    #[derive(Debug, Clone)]
    struct Gated {
        inner: MemoryStore,
        gate: Arc<tokio::sync::Notify>,
        entered: Arc<tokio::sync::Notify>,
    }

    #[async_trait]
    impl SessionStore for Gated {
        async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
            let record = self.inner.load(key, now).await;
            self.entered.notify_one();
            self.gate.notified().await;
            record
        }
        async fn create(&self, key: &StoreKey, record: &Record) -> Result<bool, StoreError> {
            self.inner.create(key, record).await
        }
        async fn save(&self, key: &StoreKey, r: &Record, expected: u64) -> Result<SaveOutcome, StoreError> {
            self.inner.save(key, r, expected).await
        }
        async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
            self.inner.delete(key).await
        }
        async fn cycle(&self, from: &StoreKey, to: &StoreKey) -> Result<bool, StoreError> {
            self.inner.cycle(from, to).await
        }
        async fn ping(&self) -> Result<(), StoreError> {
            self.inner.ping().await
        }
    }

    /// A fill reads version 1; before it inserts, another server saves version 2 and its
    /// invalidation arrives. The old copy must not stay cached.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fill_racing_an_invalidation_is_discarded() {
        let backend = MemoryStore::default();
        let gated = Gated { inner: backend.clone(), gate: Arc::default(), entered: Arc::default() };
        let store = CachedStore::new(gated.clone(), LocalInvalidator::default(), 10);
        let k = SessionId::generate().store_key();
        backend.create(&k, &record(None)).await.unwrap();
        let filler = {
            let store = store.clone();
            tokio::spawn(async move { store.load(&k, NOW).await.unwrap().unwrap().version })
        };
        gated.entered.notified().await;
        let mut v2 = record(None);
        v2.version = 2;
        backend.save(&k, &v2, 1).await.unwrap();
        store.sink().apply(&Invalidation::Session(k.handle()));
        gated.gate.notify_one();
        assert_eq!(filler.await.unwrap(), 1, "the racing read returns what it read");
        // The next load must not be a hit on version 1.
        gated.gate.notify_one();
        let next = tokio::spawn({
            let store = store.clone();
            async move { store.load(&k, NOW).await.unwrap().unwrap().version }
        });
        gated.gate.notify_one();
        assert_eq!(next.await.unwrap(), 2);
    }

    #[test]
    fn wire_round_trips() {
        let h = SessionId::generate().store_key().handle();
        for inv in [Invalidation::Session(h), Invalidation::User("a b".into()), Invalidation::All] {
            assert_eq!(Invalidation::from_wire(inv.to_wire().as_bytes()), inv);
        }
        assert_eq!(Invalidation::from_wire(b"s1 not-a-handle"), Invalidation::All);
        assert_eq!(Invalidation::from_wire(&[0xff, 0xfe]), Invalidation::All);
    }
}
