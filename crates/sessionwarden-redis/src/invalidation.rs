//! [`RedisInvalidator`]: the fleet's cache invalidations over Redis pub/sub, and

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::{FutureExt as _, StreamExt as _};
use sessionwarden_core::{SessionStore as _, StoreError};
use sessionwarden_tower::store::{CacheConfig, CachedStore, Invalidation, InvalidationSink, Invalidator};

use crate::store::{RedisStore, step};

/// How often the subscription is checked with a `PING`.
const HEARTBEAT: Duration = Duration::from_millis(200);
/// How long a heartbeat `PING` may take before the connection counts as lost.
const PING_TIMEOUT: Duration = Duration::from_millis(800);
/// Bounds on the wait between reconnection attempts.
const MIN_RETRY: Duration = Duration::from_millis(50);
const MAX_RETRY: Duration = Duration::from_secs(1);
/// How long [`RedisStore::with_local_cache`] waits for the first confirmation.
const FIRST_CONFIRMATION: Duration = Duration::from_secs(2);

/// Cache invalidations over Redis pub/sub, on a single server or a cluster.
///
/// [`RedisInvalidator`]: the fleet's cache invalidations over Redis pub/sub, and
/// [`RedisStore::with_local_cache`].
///
/// # Channel
///
/// One channel, `<prefix>invalidate` (`session:invalidate` by default), carrying
/// [`Invalidation::to_wire`] messages (`s1 <handle>`, `u1 <user>`, `a1`). Handles, never ids
/// or store keys: listening in yields nothing that could be turned into a cookie.
///
/// # Redis Cluster: plain `PUBLISH`
///
/// On a cluster, plain `PUBLISH` is forwarded over the cluster bus to every node, so a
/// subscriber can listen on *any* node it can reach, and moving to another node after a
/// failure needs no knowledge of slots. `SPUBLISH`/`SSUBSCRIBE` would keep the traffic on
/// one shard, but a subscriber must then follow the channel's slot through resharding and
/// failover, and a missed move is a silently missed invalidation: the one failure this
/// channel must never have. Invalidations are sent only on writes (not on reads), so the
/// cluster-wide fan-out costs little.
///
/// # Health
///
/// The subscription task sends `PING` on the subscription connection every 200 ms. Redis
/// answers in order, after every message it delivered before, so once the answer is in and
/// the messages before it are applied, every invalidation published before the `PING` was
/// sent has been applied: that instant is what the task confirms to the cache
/// ([`InvalidationSink::confirm`]). The same heartbeat pings the store's own connection; if
/// that fails the cache is emptied and stops serving hits at once. When the subscription
/// connection drops (Redis restarts, the node dies), the cache is emptied and the task
/// reconnects, trying the configured nodes in turn, and empties the cache again once
/// subscribed; hits resume with the first confirmation after that.
///
/// # Limits
///
/// - Pub/sub is at most once. A message lost while both connections stay up (which Redis
///   does not do on a healthy connection) would leave a stale entry until its 5 s time to
///   live ends.
/// - On a cluster the heartbeat proves the subscription node and the node the store's
///   `PING` reaches; a master that became unreachable on its own is noticed by the first
///   miss or write that touches it, or when the cluster fails it over. Until then a cached
///   session of that master can still be served (for at most the time to live).
///
/// ```no_run
/// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
/// use sessionwarden_tower::store::CachedStore;
/// use sessionwarden_redis::{RedisInvalidator, RedisStore};
/// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?;
/// let invalidator = RedisInvalidator::new(&store);
/// assert_eq!(invalidator.channel(), "session:invalidate");
/// let cached = CachedStore::new(store, invalidator, 100_000);
/// # let _ = cached;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisInvalidator {
    store: RedisStore,
    channel: Arc<str>,
}

impl fmt::Debug for RedisInvalidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisInvalidator")
            .field("channel", &self.channel)
            .field("store", &self.store)
            .finish()
    }
}

impl RedisInvalidator {
    /// Invalidations on `<prefix>invalidate`, published over `store`'s connection and
    /// heard on a dedicated subscription connection to one of its nodes.
    #[must_use]
    pub fn new(store: &RedisStore) -> Self {
        Self { channel: format!("{}invalidate", store.prefix()).into(), store: store.clone() }
    }

    /// The channel's name.
    #[must_use]
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// Subscribes through the `index`-th configured node (modulo their number).
    async fn subscribe_once(&self, index: usize) -> Result<redis::aio::PubSub, StoreError> {
        let Some(client) = self.store.clients.get(index % self.store.clients.len().max(1)) else {
            return Err(StoreError::unavailable("subscribe", "no redis node configured"));
        };
        let mut pubsub = step("subscribe", client.get_async_pubsub()).await?;
        step("subscribe", pubsub.subscribe(&*self.channel)).await?;
        Ok(pubsub)
    }

    /// Delivers messages and confirmations until the connection is lost or the cache is gone.
    async fn listen(&self, sink: &InvalidationSink, pubsub: redis::aio::PubSub) {
        // Subscribed from here on; whatever was published before may have been missed.
        sink.reset();
        let (mut commands, mut messages) = pubsub.split();
        let mut beat = tokio::time::interval(HEARTBEAT);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !sink.is_closed() {
            tokio::select! {
                message = messages.next() => match message {
                    Some(m) => sink.apply(&Invalidation::from_wire(m.get_payload_bytes())),
                    None => return,
                },
                _ = beat.tick() => {
                    let sent = Instant::now();
                    match tokio::time::timeout(PING_TIMEOUT, commands.ping::<redis::Value>()).await {
                        Ok(Ok(_)) => {}
                        _ => return,
                    }
                    // Redis answered after delivering everything published before `sent`:
                    // apply what is already queued, then vouch for `sent`.
                    loop {
                        match messages.next().now_or_never() {
                            Some(Some(m)) => sink.apply(&Invalidation::from_wire(m.get_payload_bytes())),
                            Some(None) => return,
                            None => break,
                        }
                    }
                    if self.store.ping().await.is_ok() {
                        sink.confirm(sent);
                    } else {
                        // The store cannot be reached: stop serving hits now, not in a second.
                        sink.reset();
                    }
                }
            }
        }
    }
}

#[async_trait]
impl Invalidator for RedisInvalidator {
    async fn publish(&self, invalidation: &Invalidation) -> Result<(), StoreError> {
        let mut conn = self.store.conn.clone();
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(&*self.channel).arg(invalidation.to_wire());
        let _receivers: i64 = step("invalidate", cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    fn subscribe(&self, sink: InvalidationSink) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut node = 0usize;
            let mut delay = MIN_RETRY;
            while !sink.is_closed() {
                match this.subscribe_once(node).await {
                    Ok(pubsub) => {
                        delay = MIN_RETRY;
                        this.listen(&sink, pubsub).await;
                        sink.reset();
                        if !sink.is_closed() {
                            tracing::warn!(target: "sessionwarden::cache", channel = %this.channel, "invalidation subscription lost; local cache emptied and bypassed until resubscribed");
                        }
                    }
                    Err(e) => {
                        tracing::debug!(target: "sessionwarden::cache", error = %e, "invalidation subscription failed; retrying");
                    }
                }
                node = node.wrapping_add(1);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY);
            }
        });
    }
}

impl RedisStore {
    /// This store behind a local read cache of up to `capacity` sessions, kept coherent
    /// across the fleet by a [`RedisInvalidator`] (see [`CachedStore`] for the guarantees).
    ///
    /// Waits up to two seconds for the subscription's first confirmation; until there is
    /// one, every load goes to Redis. Call it inside a Tokio runtime: the subscription runs
    /// on a task of its own, which ends when the returned store (and its clones) is dropped.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// let store = sessionwarden_redis::RedisStore::connect("redis://127.0.0.1:6379/").await?
    ///     .with_local_cache(100_000)
    ///     .await;
    /// assert!(store.is_serving_hits());
    /// # Ok(()) }
    /// ```
    pub async fn with_local_cache(self, capacity: u64) -> CachedStore<RedisStore> {
        self.with_local_cache_config(CacheConfig::new(capacity)).await
    }

    /// As [`RedisStore::with_local_cache`], with explicit cache settings.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// use sessionwarden_tower::store::CacheConfig;
    /// let store = sessionwarden_redis::RedisStore::connect("redis://127.0.0.1:6379/").await?
    ///     .with_local_cache_config(CacheConfig::new(1000))
    ///     .await;
    /// # let _ = store;
    /// # Ok(()) }
    /// ```
    pub async fn with_local_cache_config(self, config: CacheConfig) -> CachedStore<RedisStore> {
        let invalidator = Arc::new(RedisInvalidator::new(&self));
        let cached = CachedStore::with_config(self, invalidator, config);
        let deadline = Instant::now() + FIRST_CONFIRMATION;
        while !cached.is_serving_hits() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cached
    }
}
