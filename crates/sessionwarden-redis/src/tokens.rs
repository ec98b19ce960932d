//! [`RedisTokenStore`]: `sessionwarden-jwt`'s [`RefreshStore`] and [`Revocations`] in Redis or
//! Redis Cluster, so refresh tokens and revocations reach every node of a fleet.
//!
//! It mirrors the SQL token store (`sessionwarden-sql`'s `tokens.rs`) operation for operation,
//! and passes the same suites (`sessionwarden_test::tokens`) on a single node and on a cluster.
//!
//! # Key layout (token format version 1)
//!
//! `<hex>` is a [`TokenHash`] (SHA-256 of a refresh token) in 64 lower-case hex digits; the
//! raw token is never stored, so a dump of Redis yields no usable token. `<fam>` is a
//! [`FamilyId`]. With the default prefix `sw:` ([`DEFAULT_TOKEN_PREFIX`]):
//!
//! | key | type | content |
//! | --- | --- | --- |
//! | `sw:rt:<hex>` | string | the id of the family the token belongs to |
//! | `sw:rf:<fam>` | hash | the family: `sub`, `sid` (absent if none), `created_at`, `expires_at` (Unix seconds), `revoked` (`0`/`1`); and one field per token of the family, `t:<hex>` → `<issued_at>` while active, `<issued_at>:<successor hex>:<rotated_at>` once rotated |
//! | `sw:rfu:<sub>` | sorted set | the user's family ids, scored by their `expires_at`: what `revoke_user` walks |
//! | `sw:rfs:<sid>` | sorted set | the same for one session handle: what `revoke_session` walks |
//! | `sw:rvj:<jti>` | string | access token `jti` denied until this time (Unix seconds) |
//! | `sw:rvs:<sid>` | string | tokens of session handle `sid` denied until this time |
//! | `sw:rvu:<sub>` | string | the user's cutoff: tokens with `iat` before it are refused |
//!
//! # Why one key per script: Redis Cluster
//!
//! A Lua script is atomic only over keys of one hash slot. Every script here touches exactly
//! one key, so the layout needs no hash tags and spreads over every slot of a cluster.
//! The one operation the trait requires to be atomic, [`RefreshStore::rotate`], is one script
//! on the family's hash, which holds the family *and* its tokens: "the family is not revoked,
//! the presented token is active; mark it rotated and add its successor" is decided and done
//! in one step, exactly as the SQL store's guarded `UPDATE` in a transaction. Of two
//! concurrent rotations of one token exactly one wins, and a rotation never lands on a family
//! revoked before it.
//!
//! A token is found by its hash alone, so the family's id is kept under the token's own key
//! (`rt:<hex>`). A rotation writes that pointer for the successor *before* the script makes
//! the successor part of the family, so a successor that was handed out always resolves. The
//! successor is derived from the presented token, so two racing rotations write the same
//! pointer; the loser never deletes it. Only when the script proves the pointer can never be
//! used (the presented token is unknown to the family, was rotated to a different successor
//! — another rotation key — or its family was revoked while it was active) is it deleted, best
//! effort; its TTL removes it otherwise.
//!
//! Costs: `lookup` is two round trips (pointer, then family); `rotate` three (the family's
//! deadline and revoked flag, the pointer, the script); `create_family` one (its writes go out
//! concurrently). The family hash grows by one field per rotation (about 150 bytes), which is
//! what lets a replay of any old token of the family be detected as a reuse.
//!
//! `revoke_session` and `revoke_user` read their index, then revoke each family with a script
//! on its hash. The index entries are written together with the family, so every family whose
//! `create_family` returned before the revoke started is revoked; a family created
//! concurrently may survive, as with any store (it is ordered after the revoke).
//!
//! [`Revocations::check`] is one `MGET` of the three denylist keys. On a single node that is
//! one round trip. On a cluster the keys sit in different slots: the client splits the `MGET`
//! by slot and sends the parts to their nodes concurrently, so a check costs one round trip per
//! node involved (at most three), in parallel. Put a
//! [`CachedRevocations`](sessionwarden_jwt::CachedRevocations) in front of it on every node.
//!
//! # TTLs: nothing to purge by hand
//!
//! Every key expires by itself. Expiry is decided in Rust at the caller's `now` (a family past
//! `expires_at`, a token unused for the idle lifetime, a denylist entry past its `until` are
//! refused whatever Redis still holds); TTLs only free memory:
//!
//! - token pointers and family hashes: `EXPIREAT` the family's `expires_at` plus 60 s;
//! - the per-user and per-session indexes: the latest `expires_at` of their families plus
//!   60 s; each addition also drops entries whose family Redis has already expired;
//! - `jti` and session denylist entries: their `until` plus 60 s;
//! - user cutoffs: the cutoff plus a long retention, 365 days by default
//!   ([`RedisTokenStore::DEFAULT_CUTOFF_RETENTION`], [`RedisTokenStore::with_cutoff_retention`]). A cutoff must outlive every access token
//!   issued before it, so the retention must exceed the longest access-token lifetime plus
//!   leeway (the reference server makes sure of it).
//!
//! A deadline already past on the Redis clock (or only just ahead) still gets the 60 s margin,
//! so a caller whose clock differs from Redis's reads consistent data. Both `purge_expired`
//! methods therefore do nothing, as the traits allow for stores with native expiry: an expired
//! family that Redis has not dropped yet is refused as expired, one that it has dropped as
//! unknown.
//!
//! # Failures
//!
//! Every driver error, and every step that takes longer than two seconds, is
//! [`JwtError::Store`]: callers fail closed (503, no token, no verdict). Connections are the
//! session store's ([`RedisTokenStore::from_store`] shares them): 1 s connect and response
//! timeouts, reconnecting by themselves.
//!
//! Run Redis with `maxmemory-policy noeviction` (the default). Under an evicting policy
//! (`volatile-*`, `allkeys-*`) Redis may drop keys that carry a TTL, which here is every key:
//! a dropped denylist entry or cutoff lets a revoked access token through again until it
//! expires, a dropped family logs its user out. Only the first fails open, and no store code
//! can detect it.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::try_join_all;
use redis::{RedisResult, Script};
use sessionwarden_core::StoreError;
use sessionwarden_jwt::{
    FamilyId, FamilyRecord, JwtError, RefreshStore, RevocationQuery, Revocations, RevokedBy, TokenHash,
    TokenRecord, TokenState,
};

use crate::conn::Conn;
use crate::store::{InvalidPrefix, RedisStore, bounded_step, checked_prefix};

/// The default key prefix of [`RedisTokenStore`].
///
/// ```
/// assert_eq!(sessionwarden_redis::DEFAULT_TOKEN_PREFIX, "sw:");
/// ```
pub const DEFAULT_TOKEN_PREFIX: &str = "sw:";

/// Seconds every TTL runs past the deadline it stands for (see the module docs, "TTLs").
const TTL_MARGIN_SECS: u64 = 60;

/// Sets `key`'s TTL to `deadline + margin`, at least `margin` from the Redis clock's now and
/// at most a century (`EXPIREAT` takes no more; deadlines past it are broken clocks).
const PRELUDE: &str = r"
local function expire_at(key, deadline, margin)
  local now = tonumber(redis.call('TIME')[1])
  local at = math.max(tonumber(deadline) or 0, now) + tonumber(margin)
  local ceiling = now + 100 * 365 * 24 * 3600
  if at > ceiling then at = ceiling end
  redis.call('EXPIREAT', key, string.format('%d', at))
  return at
end
";

/// `create_family`. KEYS: family. ARGV: expires_at, margin, sub, created_at, first token's
/// field, its issued_at, has_sid (`1`/`0`), sid. Returns 1, or 0 if the id is taken.
const CREATE_FAMILY: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'sub', ARGV[3], 'created_at', ARGV[4], 'expires_at', ARGV[1],
  'revoked', '0', ARGV[5], ARGV[6])
if ARGV[7] == '1' then redis.call('HSET', KEYS[1], 'sid', ARGV[8]) end
expire_at(KEYS[1], ARGV[1], ARGV[2])
return 1
";

/// A token's pointer to its family. KEYS: pointer. ARGV: family id, deadline, margin.
const SET_POINTER: &str = r"
redis.call('SET', KEYS[1], ARGV[1])
expire_at(KEYS[1], ARGV[2], ARGV[3])
return 1
";

/// Adds a family to a user's or session's index. KEYS: index. ARGV: family id, its
/// expires_at, margin. Drops entries whose family Redis has expired; the index lives as long
/// as its newest family.
const INDEX_FAMILY: &str = r"
local now = tonumber(redis.call('TIME')[1])
local margin = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('(%d', now - margin))
local want = math.max(tonumber(ARGV[2]) or 0, now) + margin
local ttl = redis.call('TTL', KEYS[1])
if ttl == -1 or (ttl >= 0 and now + ttl < want) then expire_at(KEYS[1], ARGV[2], ARGV[3]) end
return 1
";

/// `rotate`. KEYS: family. ARGV: the presented token's field, the successor's field, the
/// successor's hex, rotated_at, the successor's issued_at.
///
/// Returns 1 (rotated); 0 (refused, and the successor is already this token's: a concurrent
/// rotation won); -1 (refused, and the successor will never belong to the family: the token is
/// unknown to it, was rotated to another successor, or the family was revoked while the token
/// was active).
const ROTATE: &str = r"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return -1 end
local colon = string.find(old, ':', 1, true)
if colon then
  if string.sub(old, colon + 1, colon + 64) == ARGV[3] then return 0 end
  return -1
end
if redis.call('HGET', KEYS[1], 'revoked') ~= '0' then return -1 end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[5], ARGV[1], old .. ':' .. ARGV[3] .. ':' .. ARGV[4])
return 1
";

/// `revoke_family`. KEYS: family. Returns 1 if it went from live to revoked. A missing
/// family stays missing (no stub that a later create would trip over).
const REVOKE_FAMILY: &str = r"
if redis.call('HGET', KEYS[1], 'revoked') == '0' then
  redis.call('HSET', KEYS[1], 'revoked', '1')
  return 1
end
return 0
";

/// A denylist entry that only ever grows. KEYS: entry. ARGV: value (Unix seconds), TTL margin.
const RAISE: &str = r"
local v = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '')
if cur and cur >= v then
  v = cur
else
  redis.call('SET', KEYS[1], ARGV[1])
end
expire_at(KEYS[1], v, ARGV[2])
return 1
";

struct Scripts {
    create_family: Script,
    set_pointer: Script,
    index_family: Script,
    rotate: Script,
    revoke_family: Script,
    raise: Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| {
    let with_prelude = |body: &str| Script::new(&format!("{PRELUDE}\n{body}"));
    Scripts {
        create_family: with_prelude(CREATE_FAMILY),
        set_pointer: with_prelude(SET_POINTER),
        index_family: with_prelude(INDEX_FAMILY),
        rotate: Script::new(ROTATE),
        revoke_family: Script::new(REVOKE_FAMILY),
        raise: with_prelude(RAISE),
    }
});

/// JWT refresh tokens and access-token revocations in Redis or Redis Cluster: both
/// [`RefreshStore`] and [`Revocations`]. See the [module docs](self) for the key layout and
/// why each operation is safe on a cluster.
///
/// Cloning is cheap: clones share the connection(s). `Debug` shows the topology, the node
/// addresses, the prefix and the cutoff retention: never a password, a token hash, a user or
/// a session handle.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use sessionwarden_jwt::{RevocationQuery, Revocations, RevokedBy};
/// use sessionwarden_redis::RedisTokenStore;
/// let store = RedisTokenStore::connect_any("redis://127.0.0.1:6379/").await?.with_prefix("myapp:jwt:");
/// store.revoke_jti("j1", 2_000).await?;
/// let q = RevocationQuery { jti: "j1", sub: "alice", sid: None, iat: 900, now: 1_000 };
/// assert_eq!(store.check(&q).await?, Some(RevokedBy::Jti));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisTokenStore {
    conn: Conn,
    prefix: Arc<str>,
    // `host:port` of each configured node: no user name, no password.
    nodes: Arc<[String]>,
    cutoff_retention: u64,
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Node addresses only: URLs may carry credentials.
        f.debug_struct("RedisTokenStore")
            .field("topology", &if self.is_cluster() { "cluster" } else { "single" })
            .field("nodes", &self.nodes)
            .field("prefix", &self.prefix)
            .field("cutoff_retention_secs", &self.cutoff_retention)
            .finish()
    }
}

impl RedisTokenStore {
    /// How long a user cutoff is kept past the cutoff by default: a year, far beyond any sane
    /// access-token lifetime.
    ///
    /// ```
    /// use sessionwarden_redis::RedisTokenStore;
    /// assert_eq!(RedisTokenStore::DEFAULT_CUTOFF_RETENTION.as_secs(), 365 * 24 * 3600);
    /// ```
    pub const DEFAULT_CUTOFF_RETENTION: Duration = Duration::from_secs(365 * 24 * 3600);

    /// A token store on the connection(s) of `store` (one server or a cluster), under
    /// [`DEFAULT_TOKEN_PREFIX`]. The session store's own prefix is not used: the two key
    /// spaces are separate even when the prefixes are equal (see the module docs).
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// use sessionwarden_redis::{RedisStore, RedisTokenStore};
    /// let sessions = RedisStore::connect_any("redis://127.0.0.1:6379/").await?;
    /// let tokens = RedisTokenStore::from_store(&sessions);
    /// assert_eq!(tokens.prefix(), "sw:");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn from_store(store: &RedisStore) -> Self {
        Self {
            conn: store.conn.clone(),
            prefix: DEFAULT_TOKEN_PREFIX.into(),
            nodes: store.nodes.clone(),
            cutoff_retention: Self::DEFAULT_CUTOFF_RETENTION.as_secs(),
        }
    }

    /// Connects to whatever `url` names, as [`RedisStore::connect_any`]: a cluster for a
    /// comma-separated list or a `redis+cluster://` URL, a single node otherwise.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the URL does not parse or no server can be reached.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// let store = sessionwarden_redis::RedisTokenStore::connect_any("redis://127.0.0.1:6379/").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_any(url: &str) -> Result<Self, StoreError> {
        RedisStore::connect_any(url).await.map(|store| Self::from_store(&store))
    }

    /// The same store with every key under `prefix` instead of [`DEFAULT_TOKEN_PREFIX`].
    ///
    /// # Panics
    /// Panics if `prefix` contains `{` or `}`. Use [`RedisTokenStore::try_with_prefix`] to
    /// handle that.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// let store = sessionwarden_redis::RedisTokenStore::connect_any("redis://127.0.0.1:6379/").await?
    ///     .with_prefix("shop:jwt:");
    /// assert_eq!(store.prefix(), "shop:jwt:");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_prefix(self, prefix: impl Into<String>) -> Self {
        self.try_with_prefix(prefix).expect("redis key prefix must not contain `{` or `}`")
    }

    /// The same store with every key under `prefix`.
    ///
    /// # Errors
    /// [`InvalidPrefix`] if `prefix` contains `{` or `}`: a hash tag in the prefix would put
    /// every key of the store in one cluster slot, on one node.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// let store = sessionwarden_redis::RedisTokenStore::connect_any("redis://127.0.0.1:6379/").await?;
    /// assert!(store.try_with_prefix("bad{prefix}:").is_err());
    /// # Ok(()) }
    /// ```
    pub fn try_with_prefix(mut self, prefix: impl Into<String>) -> Result<Self, InvalidPrefix> {
        self.prefix = checked_prefix(prefix.into())?;
        Ok(self)
    }

    /// Keeps user cutoffs ([`Revocations::revoke_user_before`]) for `retention` past the
    /// cutoff (default 365 days; at least one minute). It must exceed the longest access-token
    /// lifetime plus leeway, or a token issued before the cutoff is accepted again once the
    /// cutoff is gone.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// use std::time::Duration;
    /// let store = sessionwarden_redis::RedisTokenStore::connect_any("redis://127.0.0.1:6379/").await?
    ///     .with_cutoff_retention(Duration::from_secs(30 * 24 * 3600));
    /// assert_eq!(store.cutoff_retention(), Duration::from_secs(30 * 24 * 3600));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_cutoff_retention(mut self, retention: Duration) -> Self {
        self.cutoff_retention = retention.as_secs().max(TTL_MARGIN_SECS);
        self
    }

    /// How long user cutoffs are kept past the cutoff.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// let store = sessionwarden_redis::RedisTokenStore::connect_any("redis://127.0.0.1:6379/").await?;
    /// assert_eq!(store.cutoff_retention().as_secs(), 365 * 24 * 3600);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn cutoff_retention(&self) -> Duration {
        Duration::from_secs(self.cutoff_retention)
    }

    /// The key prefix.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// let store = sessionwarden_redis::RedisTokenStore::connect_any("redis://127.0.0.1:6379/").await?;
    /// assert_eq!(store.prefix(), "sw:");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether this store talks to a Redis Cluster.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// let store = sessionwarden_redis::RedisTokenStore::connect_any("redis://127.0.0.1:6379/").await?;
    /// assert!(!store.is_cluster());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }

    /// The key of the pointer from a refresh token's hash to its family: `<prefix>rt:<hex>`.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// use sessionwarden_jwt::TokenHash;
    /// let store = sessionwarden_redis::RedisTokenStore::connect_any("redis://127.0.0.1:6379/").await?;
    /// let key = store.token_key(&TokenHash::from_bytes([0xab; 32]));
    /// assert_eq!(key, format!("sw:rt:{}", "ab".repeat(32)));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn token_key(&self, hash: &TokenHash) -> String {
        format!("{}rt:{}", self.prefix, hex(hash))
    }

    /// The key of a family's hash (the family and its tokens): `<prefix>rf:<fam>`.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// use sessionwarden_jwt::FamilyId;
    /// let store = sessionwarden_redis::RedisTokenStore::connect_any("redis://127.0.0.1:6379/").await?;
    /// assert_eq!(store.family_key(&FamilyId::from_stored("f1".into())), "sw:rf:f1");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn family_key(&self, family: &FamilyId) -> String {
        format!("{}rf:{}", self.prefix, family.as_str())
    }

    fn user_families_key(&self, sub: &str) -> String {
        format!("{}rfu:{sub}", self.prefix)
    }

    fn session_families_key(&self, sid: &str) -> String {
        format!("{}rfs:{sid}", self.prefix)
    }

    fn denied_jti_key(&self, jti: &str) -> String {
        format!("{}rvj:{jti}", self.prefix)
    }

    fn denied_sid_key(&self, sid: &str) -> String {
        format!("{}rvs:{sid}", self.prefix)
    }

    fn cutoff_key(&self, sub: &str) -> String {
        format!("{}rvu:{sub}", self.prefix)
    }

    /// Revokes every family listed in `index`; how many went from live to revoked.
    async fn revoke_indexed(&self, op: &'static str, index: String) -> Result<usize, JwtError> {
        let mut conn = self.conn.clone();
        let families: Vec<String> =
            step(op, redis::cmd("ZRANGE").arg(index).arg(0).arg(-1).query_async(&mut conn)).await?;
        let revocations = families.iter().map(|family| {
            let mut conn = self.conn.clone();
            let mut inv = SCRIPTS.revoke_family.prepare_invoke();
            inv.key(format!("{}rf:{family}", self.prefix));
            async move { inv.invoke_async::<i64>(&mut conn).await }
        });
        let changed = step(op, try_join_all(revocations)).await?;
        Ok(changed.into_iter().filter(|&n| n == 1).count())
    }

    async fn raise(&self, op: &'static str, key: String, value: u64, margin: u64) -> Result<(), JwtError> {
        let mut inv = SCRIPTS.raise.prepare_invoke();
        inv.key(key).arg(value).arg(margin);
        let mut conn = self.conn.clone();
        let _: i64 = step(op, inv.invoke_async(&mut conn)).await?;
        Ok(())
    }
}

/// Runs one step of an operation, bounded like the session store's steps; every failure is
/// [`JwtError::Store`] (fail closed).
async fn step<T>(operation: &'static str, fut: impl Future<Output = RedisResult<T>>) -> Result<T, JwtError> {
    bounded_step(operation, fut, JwtError::store).await
}

fn corrupt(operation: &'static str) -> JwtError {
    JwtError::store(operation, "malformed sessionwarden token entry in redis")
}

fn hex(hash: &TokenHash) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(64);
    for b in hash.as_bytes() {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

fn unhex(text: &str, operation: &'static str) -> Result<TokenHash, JwtError> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return Err(corrupt(operation));
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        _ => Err(corrupt(operation)),
    };
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Ok(TokenHash::from_bytes(out))
}

fn token_field(hash: &TokenHash) -> String {
    format!("t:{}", hex(hash))
}

fn number(text: Option<&str>, operation: &'static str) -> Result<u64, JwtError> {
    text.and_then(|t| t.parse().ok()).ok_or_else(|| corrupt(operation))
}

/// Decodes a token field: `<issued_at>` or `<issued_at>:<successor hex>:<rotated_at>`.
fn token_state(value: &str, operation: &'static str) -> Result<(u64, TokenState), JwtError> {
    let mut parts = value.split(':');
    let issued_at = number(parts.next(), operation)?;
    match (parts.next(), parts.next(), parts.next()) {
        (None, _, _) => Ok((issued_at, TokenState::Active)),
        (Some(successor), Some(at), None) => Ok((
            issued_at,
            TokenState::Rotated { successor: unhex(successor, operation)?, at: number(Some(at), operation)? },
        )),
        _ => Err(corrupt(operation)),
    }
}

#[async_trait]
impl RefreshStore for RedisTokenStore {
    async fn create_family(&self, family: FamilyRecord, first: TokenRecord) -> Result<(), JwtError> {
        const OP: &str = "create_family";
        let expires_at = family.expires_at;
        let mut create = SCRIPTS.create_family.prepare_invoke();
        create
            .key(self.family_key(&family.id))
            .arg(expires_at)
            .arg(TTL_MARGIN_SECS)
            .arg(&family.sub)
            .arg(family.created_at)
            .arg(token_field(&first.hash))
            .arg(first.issued_at)
            .arg(if family.sid.is_some() { "1" } else { "0" })
            .arg(family.sid.as_deref().unwrap_or(""));
        let mut pointer = SCRIPTS.set_pointer.prepare_invoke();
        pointer.key(self.token_key(&first.hash)).arg(family.id.as_str()).arg(expires_at).arg(TTL_MARGIN_SECS);
        let index = |key: String| {
            let mut inv = SCRIPTS.index_family.prepare_invoke();
            inv.key(key).arg(family.id.as_str()).arg(expires_at).arg(TTL_MARGIN_SECS);
            inv
        };
        let by_user = index(self.user_families_key(&family.sub));
        let by_session = family.sid.as_deref().map(|sid| index(self.session_families_key(sid)));

        // Independent keys: sent together, one round trip. The index entries need not precede
        // the family: a revoke that runs concurrently with a creation may miss it either way.
        let (mut c1, mut c2, mut c3, mut c4) =
            (self.conn.clone(), self.conn.clone(), self.conn.clone(), self.conn.clone());
        let session_index = async {
            match &by_session {
                Some(inv) => inv.invoke_async::<i64>(&mut c4).await,
                None => Ok(1),
            }
        };
        let (created, _, _, _) = step(
            OP,
            futures_util::future::try_join4(
                create.invoke_async::<i64>(&mut c1),
                pointer.invoke_async::<i64>(&mut c2),
                by_user.invoke_async::<i64>(&mut c3),
                session_index,
            ),
        )
        .await?;
        if created != 1 {
            return Err(JwtError::store(OP, "refresh-token family id already exists"));
        }
        Ok(())
    }

    async fn lookup(&self, hash: &TokenHash) -> Result<Option<(TokenRecord, FamilyRecord)>, JwtError> {
        const OP: &str = "lookup";
        let mut conn = self.conn.clone();
        let family: Option<String> =
            step(OP, redis::cmd("GET").arg(self.token_key(hash)).query_async(&mut conn)).await?;
        let Some(family) = family else { return Ok(None) };
        let family = FamilyId::from_stored(family);
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.family_key(&family))
            .arg("sub")
            .arg("sid")
            .arg("created_at")
            .arg("expires_at")
            .arg("revoked")
            .arg(token_field(hash));
        let fields: Vec<Option<String>> = step(OP, cmd.query_async(&mut conn)).await?;
        let [sub, sid, created_at, expires_at, revoked, token] = <[Option<String>; 6]>::try_from(fields)
            .map_err(|_| JwtError::store(OP, "unexpected reply to HMGET"))?;
        // A family Redis expired, or a pointer whose rotation never happened: unknown.
        let (Some(sub), Some(token)) = (sub, token) else { return Ok(None) };
        let (issued_at, state) = token_state(&token, OP)?;
        let revoked = match revoked.as_deref() {
            Some("0") => false,
            Some("1") => true,
            _ => return Err(corrupt(OP)),
        };
        let family = FamilyRecord {
            id: family,
            sub,
            sid,
            created_at: number(created_at.as_deref(), OP)?,
            expires_at: number(expires_at.as_deref(), OP)?,
            revoked,
        };
        let token = TokenRecord { hash: *hash, family: family.id.clone(), issued_at, state };
        Ok(Some((token, family)))
    }

    async fn rotate(&self, old: &TokenHash, new: TokenRecord, at: u64) -> Result<bool, JwtError> {
        const OP: &str = "rotate";
        let family_key = self.family_key(&new.family);
        let mut conn = self.conn.clone();
        // The family's deadline, for the successor pointer's TTL; a revoked or vanished family
        // is refused before anything is written. The script below checks again, atomically.
        let (expires_at, revoked): (Option<String>, Option<String>) = step(
            OP,
            redis::cmd("HMGET").arg(&family_key).arg("expires_at").arg("revoked").query_async(&mut conn),
        )
        .await?;
        let Some(expires_at) = expires_at else { return Ok(false) };
        if revoked.as_deref() != Some("0") {
            return Ok(false);
        }
        let expires_at = number(Some(&expires_at), OP)?;

        // The successor's pointer first: once the old token names the successor, it resolves.
        let successor_key = self.token_key(&new.hash);
        let mut pointer = SCRIPTS.set_pointer.prepare_invoke();
        pointer.key(&successor_key).arg(new.family.as_str()).arg(expires_at).arg(TTL_MARGIN_SECS);
        let _: i64 = step(OP, pointer.invoke_async(&mut conn)).await?;

        let mut inv = SCRIPTS.rotate.prepare_invoke();
        inv.key(&family_key)
            .arg(token_field(old))
            .arg(token_field(&new.hash))
            .arg(hex(&new.hash))
            .arg(at)
            .arg(new.issued_at);
        match step(OP, inv.invoke_async::<i64>(&mut conn)).await? {
            1 => Ok(true),
            // A concurrent rotation won with this very successor: its pointer stays.
            0 => Ok(false),
            _ => {
                // The successor can never belong to the family: drop its pointer. Best effort;
                // its TTL removes it otherwise, and it resolves to nothing meanwhile.
                let _ = step::<i64>(OP, redis::cmd("DEL").arg(&successor_key).query_async(&mut conn)).await;
                Ok(false)
            }
        }
    }

    async fn revoke_family(&self, family: &FamilyId) -> Result<(), JwtError> {
        let mut inv = SCRIPTS.revoke_family.prepare_invoke();
        inv.key(self.family_key(family));
        let mut conn = self.conn.clone();
        let _: i64 = step("revoke_family", inv.invoke_async(&mut conn)).await?;
        Ok(())
    }

    async fn revoke_session(&self, sid: &str) -> Result<usize, JwtError> {
        self.revoke_indexed("revoke_session", self.session_families_key(sid)).await
    }

    async fn revoke_user(&self, sub: &str) -> Result<usize, JwtError> {
        self.revoke_indexed("revoke_user", self.user_families_key(sub)).await
    }

    async fn purge_expired(&self, now: u64) -> Result<(), JwtError> {
        // Families and token pointers carry TTLs at their deadline (module docs, "TTLs"); an
        // expired family Redis still holds is refused as expired by the manager.
        let _ = now;
        Ok(())
    }
}

#[async_trait]
impl Revocations for RedisTokenStore {
    async fn check(&self, q: &RevocationQuery<'_>) -> Result<Option<RevokedBy>, JwtError> {
        const OP: &str = "check";
        // One MGET: one round trip on a single node; on a cluster the client splits it by slot
        // and asks the nodes concurrently.
        let mut cmd = redis::cmd("MGET");
        cmd.arg(self.denied_jti_key(q.jti)).arg(self.cutoff_key(q.sub));
        if let Some(sid) = q.sid {
            cmd.arg(self.denied_sid_key(sid));
        }
        let mut conn = self.conn.clone();
        let values: Vec<Option<String>> = step(OP, cmd.query_async(&mut conn)).await?;
        let value = |i: usize| -> Result<Option<u64>, JwtError> {
            match values.get(i) {
                Some(Some(v)) => number(Some(v), OP).map(Some),
                Some(None) => Ok(None),
                None if i == 2 && q.sid.is_none() => Ok(None),
                None => Err(JwtError::store(OP, "unexpected reply to MGET")),
            }
        };
        let (jti, cutoff, sid) = (value(0)?, value(1)?, value(2)?);
        // The order of the other stores: jti, session, user cutoff.
        if jti.is_some_and(|until| q.now < until) {
            return Ok(Some(RevokedBy::Jti));
        }
        if sid.is_some_and(|until| q.now < until) {
            return Ok(Some(RevokedBy::Session));
        }
        if cutoff.is_some_and(|cutoff| q.iat < cutoff) {
            return Ok(Some(RevokedBy::UserCutoff));
        }
        Ok(None)
    }

    async fn revoke_jti(&self, jti: &str, until: u64) -> Result<(), JwtError> {
        self.raise("revoke", self.denied_jti_key(jti), until, TTL_MARGIN_SECS).await
    }

    async fn revoke_sid(&self, sid: &str, until: u64) -> Result<(), JwtError> {
        self.raise("revoke", self.denied_sid_key(sid), until, TTL_MARGIN_SECS).await
    }

    async fn revoke_user_before(&self, sub: &str, cutoff: u64) -> Result<(), JwtError> {
        self.raise("revoke", self.cutoff_key(sub), cutoff, self.cutoff_retention).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_garbage() {
        let hash = TokenHash::of(b"token");
        assert_eq!(unhex(&hex(&hash), "t").ok(), Some(hash));
        assert!(unhex("AB", "t").is_err());
        assert!(unhex(&"g".repeat(64), "t").is_err());
        assert!(unhex(&"AB".repeat(32), "t").is_err(), "upper case is not what we write");
    }

    #[test]
    fn token_fields_decode() {
        let hash = TokenHash::of(b"next");
        assert_eq!(token_state("12", "t").ok(), Some((12, TokenState::Active)));
        let rotated = format!("12:{}:15", hex(&hash));
        assert_eq!(
            token_state(&rotated, "t").ok(),
            Some((12, TokenState::Rotated { successor: hash, at: 15 }))
        );
        for bad in ["", "x", "12:ab:15", "12::15", &format!("12:{}", hex(&hash)), &format!("{rotated}:9")] {
            assert!(token_state(bad, "t").is_err(), "{bad:?}");
        }
    }
}
