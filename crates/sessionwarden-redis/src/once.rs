//! [`OneTimeKeys`] for [`RedisStore`]: one-shot keys every node of a fleet shares.
//!
//! # Layout
//!
//! | key | type | content |
//! | --- | --- | --- |
//! | `<prefix>once:<hex>` | string | the key's `expires_at` (Unix seconds); `<hex>` is the [`OnceKey`] (already a SHA-256) in 64 lower-case hex digits |
//!
//! `put` and `take` are one script each on that one key, atomic on a single node and on a
//! cluster: of concurrent `take`s exactly one finds the key and deletes it, of concurrent
//! `put`s exactly one stores it. Liveness is decided at the caller's `now` against the stored
//! `expires_at` (a key is live while `now < expires_at`), never by Redis's clock, so tests and
//! nodes with their own clocks agree with every other store.
//!
//! # Expiry
//!
//! Each key gets a TTL of `expires_at − now` plus [`ONCE_TTL_MARGIN_SECS`] (at most a century; relative, so a
//! Redis clock that differs from the callers' does not shorten it), after which Redis drops it;
//! until then an expired key is simply not live. Nothing needs purging.

use async_trait::async_trait;
use redis::Script;
use sessionwarden_core::store::{OnceKey, OneTimeKeys};
use sessionwarden_core::{StoreError, Timestamp};

use crate::store::{RedisStore, step};

/// Seconds a one-time key's TTL runs past its `expires_at`, for callers whose clocks lag.
pub const ONCE_TTL_MARGIN_SECS: i64 = 60;

/// The longest TTL a one-time key gets (a century); its stored `expires_at` still decides.
const ONCE_TTL_CEILING_SECS: i64 = 100 * 365 * 24 * 3600;

/// KEYS: key. ARGV: expires_at, now, ttl seconds. Returns 1 if stored (or nothing live was
/// there and the key was already expired), 0 if a live one is there.
const PUT: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]) or '')
if cur ~= nil and cur > tonumber(ARGV[2]) then return 0 end
if tonumber(ARGV[1]) <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
";

/// KEYS: key. ARGV: now. Returns 1 if a live key was there (and is now gone), else 0.
const TAKE: &str = r"
local cur = tonumber(redis.call('GET', KEYS[1]) or '')
if cur == nil then return 0 end
if cur > tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

static SCRIPTS: std::sync::LazyLock<[Script; 2]> =
    std::sync::LazyLock::new(|| [Script::new(PUT), Script::new(TAKE)]);

impl RedisStore {
    fn once_key(&self, key: &OnceKey) -> String {
        let hex: String = key.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("{}once:{hex}", self.prefix())
    }
}

/// One-shot keys under `<prefix>once:<hex>`; see the [module docs](self).
#[async_trait]
impl OneTimeKeys for RedisStore {
    async fn put(&self, key: &OnceKey, expires_at: Timestamp, now: Timestamp) -> Result<bool, StoreError> {
        let ttl = expires_at
            .unix()
            .saturating_sub(now.unix())
            .max(0)
            .saturating_add(ONCE_TTL_MARGIN_SECS)
            .min(ONCE_TTL_CEILING_SECS);
        let mut inv = SCRIPTS[0].key(self.once_key(key));
        inv.arg(expires_at.unix()).arg(now.unix()).arg(ttl);
        let mut conn = self.conn.clone();
        let stored: i64 = step("once_put", inv.invoke_async(&mut conn)).await?;
        Ok(stored == 1)
    }

    async fn take(&self, key: &OnceKey, now: Timestamp) -> Result<bool, StoreError> {
        let mut inv = SCRIPTS[1].key(self.once_key(key));
        inv.arg(now.unix());
        let mut conn = self.conn.clone();
        let taken: i64 = step("once_take", inv.invoke_async(&mut conn)).await?;
        Ok(taken == 1)
    }
}
