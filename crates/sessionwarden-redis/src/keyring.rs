//! [`KeyringStore`] for [`RedisStore`]: keyrings a fleet shares, and the leases that let one
//! node at a time rotate them.
//!
//! # Layout
//!
//! | key | type | content |
//! | --- | --- | --- |
//! | `<prefix>keyring:<name>` | hash | `version` (decimal), `document` (the keyring's bytes, secrets already wrapped) |
//! | `<prefix>lease:<name>` | hash | `holder`, `expires_at` (Unix seconds, the callers' clock) |
//!
//! Each write is one script on one key, so it is atomic on a single node and on a cluster: of
//! concurrent swaps from one version exactly one bumps it, of holders racing for a free lease
//! exactly one gets it. Neither key has a TTL: a keyring must never vanish, and a lease is
//! decided by its stored `expires_at` at the caller's `now` (never Redis's clock), so nodes and
//! tests with injected clocks agree with every other store. The version poll is one `HGET`.

use async_trait::async_trait;
use redis::Script;
use sessionwarden_core::store::{KeyringStore, KeyringVersion, lease_secs};
use sessionwarden_core::{StoreError, Timestamp};

use crate::store::{RedisStore, step};

/// KEYS: the keyring. ARGV: expected version (`""` for none), document. Returns 1 if stored.
const SWAP: &str = r"
local cur = redis.call('HGET', KEYS[1], 'version')
if ARGV[1] == '' then
  if cur then return 0 end
  redis.call('HSET', KEYS[1], 'version', '1', 'document', ARGV[2])
  return 1
end
if cur ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', tostring(tonumber(cur) + 1), 'document', ARGV[2])
return 1
";

/// KEYS: the lease. ARGV: holder, expires_at, now. Returns 1 if the holder holds it after.
const ACQUIRE: &str = r"
local h = redis.call('HMGET', KEYS[1], 'holder', 'expires_at')
if h[1] and h[1] ~= ARGV[1] and tonumber(h[2]) > tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'expires_at', ARGV[2])
return 1
";

/// KEYS: the lease. ARGV: holder. Returns 1 if it was the holder's (and is now gone).
const RELEASE: &str = r"
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

static SCRIPTS: std::sync::LazyLock<[Script; 3]> =
    std::sync::LazyLock::new(|| [Script::new(SWAP), Script::new(ACQUIRE), Script::new(RELEASE)]);

impl RedisStore {
    /// The key keyring `name` lives under: `<prefix>keyring:<name>`.
    #[must_use]
    pub fn keyring_key(&self, name: &str) -> String {
        format!("{}keyring:{name}", self.prefix())
    }

    fn lease_key(&self, name: &str) -> String {
        format!("{}lease:{name}", self.prefix())
    }
}

fn version(v: &str) -> Result<u64, StoreError> {
    v.parse().map_err(|_| StoreError::Corrupt { reason: "keyring version is not a number" })
}

/// Keyrings under `<prefix>keyring:<name>`, leases under `<prefix>lease:<name>`; see the
/// [module docs](self).
#[async_trait]
impl KeyringStore for RedisStore {
    async fn keyring_version(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("HGET");
        cmd.arg(self.keyring_key(name)).arg("version");
        let v: Option<String> = step("keyring_version", cmd.query_async(&mut conn)).await?;
        v.as_deref().map(version).transpose()
    }

    async fn load_keyring(&self, name: &str) -> Result<Option<KeyringVersion>, StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.keyring_key(name)).arg("version").arg("document");
        let (v, doc): (Option<String>, Option<Vec<u8>>) =
            step("keyring_load", cmd.query_async(&mut conn)).await?;
        match (v, doc) {
            (Some(v), Some(doc)) => Ok(Some(KeyringVersion::new(version(&v)?, doc))),
            (None, None) => Ok(None),
            _ => Err(StoreError::Corrupt { reason: "keyring hash lacks its version or document" }),
        }
    }

    async fn swap_keyring(
        &self,
        name: &str,
        expected: Option<u64>,
        document: &[u8],
    ) -> Result<bool, StoreError> {
        let mut inv = SCRIPTS[0].key(self.keyring_key(name));
        inv.arg(expected.map(|v| v.to_string()).unwrap_or_default()).arg(document);
        let mut conn = self.conn.clone();
        let stored: i64 = step("keyring_swap", inv.invoke_async(&mut conn)).await?;
        Ok(stored == 1)
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut inv = SCRIPTS[1].key(self.lease_key(name));
        inv.arg(holder).arg(now.unix().saturating_add(lease_secs(ttl))).arg(now.unix());
        let mut conn = self.conn.clone();
        let held: i64 = step("lease_acquire", inv.invoke_async(&mut conn)).await?;
        Ok(held == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let mut inv = SCRIPTS[2].key(self.lease_key(name));
        inv.arg(holder);
        let mut conn = self.conn.clone();
        let released: i64 = step("lease_release", inv.invoke_async(&mut conn)).await?;
        Ok(released == 1)
    }
}
