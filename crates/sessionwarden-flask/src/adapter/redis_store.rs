//! Flask-Session 0.8's Redis records as a sessionwarden server-side store.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script, Value};
use sessionwarden_tower::store::{SaveOutcome, SessionStore};
use sessionwarden_tower::{Record, StoreError, StoreKey, Timestamp};
use sha1::{Digest as _, Sha1};

use super::record::{map_from_record, record_from_map};
use crate::{DEFAULT_KEY_PREFIX, DEFAULT_MAX_AGE, Error, decode_redis_record, encode_redis_record};

/// Every Redis round trip is bounded: a stuck server is an outage (503), not a hang.
const STEP_TIMEOUT: Duration = Duration::from_secs(2);

/// GET and PTTL in one step.
const LOAD: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then return false end
return {v, redis.call('PTTL', KEYS[1])}
";

/// Compare-and-set on the record's bytes: ARGV[1] is the version (the first 16 hex digits
/// of SHA-1 of the value the writer loaded), ARGV[2] the new value, ARGV[3] the TTL.
/// 1 = saved, 0 = gone, a bulk string = the newer value.
const SAVE: &str = r"
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if string.sub(redis.sha1hex(cur), 1, 16) ~= ARGV[1] then return cur end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
";

/// Moves KEYS[1] to KEYS[2] with its remaining TTL, unless KEYS[2] exists.
const CYCLE: &str = r"
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[2], v, 'PX', ttl) else redis.call('SET', KEYS[2], v) end
redis.call('DEL', KEYS[1])
return 1
";

/// Flask-Session 0.8 (`SESSION_TYPE = "redis"`) records as a [`SessionStore`], on one Redis
/// node: the key is `SESSION_KEY_PREFIX + sid`, the value the MessagePack map Flask-Session
/// writes (with `_permanent`), the TTL `PERMANENT_SESSION_LIFETIME`, reset on every write.
/// Use it with [`super::FlaskSids`] as the layer's id codec.
///
/// - **Reading** accepts MessagePack and JSON records (msgspec's two formats), with the
///   MessagePack timestamp extension for datetimes. It **never unpickles**: a pickled or
///   unreadable record is [`StoreError::Corrupt`], which the layer treats as no session,
///   deletes and reports (`corrupt_record`); a pickle is also logged under
///   `sessionwarden_tower::flask`.
/// - **Versions**: Flask-Session stores none, so a record's version is the first 8 bytes of
///   SHA-1 of its stored value, and a save compares it inside a Lua script
///   (`redis.sha1hex`) before writing. A Flask write in between changes the bytes, so the
///   layer merges its changes onto Flask's record instead of overwriting it.
/// - **Core only**: it implements [`SessionStore`] and nothing else. Flask-Session keeps no
///   index of sessions by user or handle (only `prefix + sid` keys), so it is not a
///   [`SessionIndex`](sessionwarden_tower::SessionIndex): nothing can list its sessions or revoke
///   them by handle or user, and code that needs to finds out at compile time or start-up,
///   never through an empty list. Redis expires the records by their TTL and there is no
///   index to clean, so it is not an [`ExpiredDeletion`](sessionwarden_tower::ExpiredDeletion)
///   either and needs no sweeper. Redis Cluster is not supported.
/// - **Record fields Flask-Session does not keep**: the version is a hash of the stored bytes
///   (see above), and the deadlines and creation time are derived from the Redis TTL at load,
///   so what was created is not what loads field for field (the core conformance suite names
///   these divergences at its mount).
/// - Flask-Session cannot store `Markup` (and reads tuples back as lists, UUIDs as strings);
///   saving a session holding `Markup` fails as Flask's own request would.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use sessionwarden_tower::{SessionLayer, keyring::{Keyring, KeySet}, Timestamp};
/// use sessionwarden_flask::adapter::{FlaskRedisStore, FlaskSids, flask_expiry};
///
/// let store = FlaskRedisStore::connect("redis://127.0.0.1:6379/").await?
///     .with_prefix("session:")
///     .with_lifetime(2_678_400);
/// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
/// let layer = SessionLayer::new(Arc::new(store) as Arc<dyn sessionwarden_tower::SessionStore>, keyring)
///     .with_id_codec(Arc::new(FlaskSids::plain()))
///     .with_expiry(flask_expiry(2_678_400, true));
/// # let _ = layer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct FlaskRedisStore {
    conn: ConnectionManager,
    prefix: String,
    lifetime: u64,
    load: Script,
    save: Script,
    cycle: Script,
}

impl fmt::Debug for FlaskRedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlaskRedisStore")
            .field("prefix", &self.prefix)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl FlaskRedisStore {
    /// Connects to one Redis server (`redis://[user:password@]host:port[/db]`), with
    /// Flask-Session's defaults: prefix `session:`, lifetime 31 days.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the URL does not parse or the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::unavailable("connect", e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(STEP_TIMEOUT))
            .set_response_timeout(Some(STEP_TIMEOUT))
            .set_number_of_retries(1);
        let conn = step("connect", ConnectionManager::new_with_config(client, config)).await?;
        Ok(Self {
            conn,
            prefix: DEFAULT_KEY_PREFIX.to_owned(),
            lifetime: DEFAULT_MAX_AGE,
            load: Script::new(LOAD),
            save: Script::new(SAVE),
            cycle: Script::new(CYCLE),
        })
    }

    /// Sets `SESSION_KEY_PREFIX`.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets `PERMANENT_SESSION_LIFETIME` in seconds: the TTL of every write.
    #[must_use]
    pub fn with_lifetime(mut self, seconds: u64) -> Self {
        self.lifetime = seconds.max(1);
        self
    }

    /// The Redis key of the session filed under `key` (`prefix + sid`).
    #[must_use]
    pub fn redis_key(&self, key: &StoreKey) -> String {
        format!("{}{}", self.prefix, URL_SAFE_NO_PAD.encode(key.as_bytes()))
    }

    fn encode(record: &Record) -> Result<Vec<u8>, StoreError> {
        let map = map_from_record(record)
            .map_err(|_| StoreError::Corrupt { reason: "session holds a malformed typed-JSON marker" })?;
        encode_redis_record(&map)
            .map_err(|_| StoreError::Corrupt { reason: "session holds a value Flask-Session cannot store" })
    }

    /// The record for stored `bytes` with `pttl_ms` left, at `now`.
    fn decode(&self, bytes: &[u8], pttl_ms: i64, now: Timestamp) -> Result<Record, StoreError> {
        let map = decode_redis_record(bytes).map_err(|e| match e {
            Error::Pickle => {
                tracing::warn!(
                    target: "sessionwarden::flask",
                    "refused a pickled Flask-Session record (whoever wrote it could run code in the Flask app)"
                );
                StoreError::Corrupt { reason: "flask-session record is a pickle (never loaded)" }
            }
            _ => StoreError::Corrupt { reason: "flask-session record is neither msgpack nor json" },
        })?;
        let lifetime = i64::try_from(self.lifetime).unwrap_or(i64::MAX);
        let ttl = (pttl_ms > 0).then(|| (pttl_ms + 999) / 1000);
        // Flask-Session resets the TTL to the lifetime on every write: that dates the last one.
        let written =
            Timestamp::from_unix(now.unix().saturating_sub(ttl.map_or(0, |t| lifetime.saturating_sub(t))));
        let mut record = record_from_map(map, written);
        let secs = |s: i64| Duration::from_secs(u64::try_from(s).unwrap_or(0));
        record.idle_deadline = ttl.map(|t| now.plus(secs(t)));
        record.absolute_deadline = Some(now.plus(secs(lifetime)));
        record.version = version_of(bytes);
        Ok(record)
    }
}

/// A record's version: the first 8 bytes of SHA-1 of its stored bytes (what the save
/// script compares with `redis.sha1hex`).
fn version_of(bytes: &[u8]) -> u64 {
    let digest = Sha1::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Runs one Redis step, bounded by [`STEP_TIMEOUT`]; every failure is
/// [`StoreError::Unavailable`] (fail closed).
async fn step<T>(
    operation: &'static str,
    fut: impl Future<Output = RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(StoreError::unavailable(operation, e)),
        Err(elapsed) => Err(StoreError::unavailable(operation, elapsed)),
    }
}

fn unexpected(operation: &'static str) -> StoreError {
    StoreError::unavailable(operation, "unexpected reply from redis")
}

#[async_trait]
impl SessionStore for FlaskRedisStore {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        let mut conn = self.conn.clone();
        let mut inv = self.load.prepare_invoke();
        inv.key(self.redis_key(key));
        match step("load", inv.invoke_async(&mut conn)).await? {
            Value::Nil => Ok(None),
            Value::Array(items) => match items.as_slice() {
                [Value::BulkString(bytes), Value::Int(pttl)] => {
                    let record = self.decode(bytes, *pttl, now)?;
                    Ok((!record.is_expired(now)).then_some(record))
                }
                _ => Err(unexpected("load")),
            },
            _ => Err(unexpected("load")),
        }
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<bool, StoreError> {
        let bytes = Self::encode(record)?;
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.redis_key(key)).arg(bytes).arg("NX").arg("EX").arg(self.lifetime);
        let reply: Value = step("create", cmd.query_async(&mut conn)).await?;
        Ok(!matches!(reply, Value::Nil))
    }

    async fn save(
        &self,
        key: &StoreKey,
        record: &Record,
        expected_version: u64,
    ) -> Result<SaveOutcome, StoreError> {
        let bytes = Self::encode(record)?;
        let mut conn = self.conn.clone();
        let mut inv = self.save.prepare_invoke();
        inv.key(self.redis_key(key)).arg(format!("{expected_version:016x}")).arg(bytes).arg(self.lifetime);
        match step("save", inv.invoke_async(&mut conn)).await? {
            Value::Int(1) => Ok(SaveOutcome::Saved),
            Value::Int(0) | Value::Nil => Ok(SaveOutcome::Missing),
            Value::BulkString(current) => {
                // The TTL was just reset by the other writer: a full lifetime.
                let pttl = i64::try_from(self.lifetime.saturating_mul(1000)).unwrap_or(i64::MAX);
                let now = Timestamp::from_unix(record.last_seen.unix());
                Ok(SaveOutcome::Conflict(self.decode(&current, pttl, now)?))
            }
            _ => Err(unexpected("save")),
        }
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.redis_key(key));
        let _: Value = step("delete", cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    async fn cycle(&self, from: &StoreKey, to: &StoreKey) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let mut inv = self.cycle.prepare_invoke();
        inv.key(self.redis_key(from)).key(self.redis_key(to));
        let moved: i64 = step("cycle", inv.invoke_async(&mut conn)).await?;
        Ok(moved == 1)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: String = step("ping", redis::cmd("PING").query_async(&mut conn)).await?;
        Ok(())
    }
}
