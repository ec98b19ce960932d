//! [`RedisStore`]: the [`SessionStore`] implementation.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::try_join_all;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::{IntoConnectionInfo, RedisError, RedisResult, Value};
use sessionwarden_core::{
    ExpiredDeletion, ListQuery, Record, SaveOutcome, SessionHandle, SessionIndex, SessionInfo, SessionPage,
    SessionStore, StoreError, StoreKey, Timestamp,
};

use crate::conn::Conn;
use crate::scripts::SCRIPTS;

/// The default key prefix, Flask-Session's.
///
/// ```
/// assert_eq!(sessionwarden_redis::DEFAULT_PREFIX, "session:");
/// ```
pub const DEFAULT_PREFIX: &str = "session:";

/// How many buckets the key space is split into (one hash tag each): the first byte of the
/// store key. Part of the wire layout: changing it moves every key.
const BUCKETS: u16 = 256;

/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long Redis may take to answer one command.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// The bound on one step of a store operation, reconnect attempts included: a request
/// never waits longer than this for an answer it will not get.
pub(crate) const STEP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the per-user revocation counters live after the last revoke-all. Longer than
/// any revoke-all or cycle can take with [`STEP_TIMEOUT`].
const REVOCATION_MARK_TTL_SECS: u64 = 300;
/// How often `cycle` re-copies a record that a concurrent save changed under it.
const MAX_CYCLE_ATTEMPTS: usize = 5;

/// Sessions in Redis or Redis Cluster. See the [crate docs](crate) for the key layout and
/// the reasoning behind it.
///
/// Cloning is cheap: clones share the connection(s). `Debug` shows the topology, the node
/// addresses and the prefix, never a password.
///
/// ```no_run
/// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
/// use sessionwarden_redis::RedisStore;
/// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?.with_prefix("myapp:session:");
/// assert_eq!(store.prefix(), "myapp:session:");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    pub(crate) conn: Conn,
    // One client per configured node, for connections of another kind (pub/sub). Never in
    // `Debug`: their connection info may hold a password.
    #[cfg_attr(not(feature = "cache"), allow(dead_code))] // the cache's invalidator subscribes with them
    pub(crate) clients: Arc<[redis::Client]>,
    prefix: Arc<str>,
    // `host:port` of each configured node: no user name, no password.
    pub(crate) nodes: Arc<[String]>,
}

/// A key prefix [`RedisStore::try_with_prefix`] refused: it contains `{` or `}`, which
/// would change the hash tags the layout relies on.
///
/// ```
/// let e = sessionwarden_redis::InvalidPrefix;
/// assert!(e.to_string().contains("without braces"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPrefix;

impl fmt::Display for InvalidPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("redis key prefix contains `{` or `}`; choose a prefix without braces (they would move the hash tag)")
    }
}

impl std::error::Error for InvalidPrefix {}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Node addresses only: URLs may carry credentials.
        f.debug_struct("RedisStore")
            .field("topology", &if self.is_cluster() { "cluster" } else { "single" })
            .field("nodes", &self.nodes)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl RedisStore {
    /// Connects to one Redis server (`redis://[user:password@]host:port[/db]`, or
    /// `rediss://` if the `redis` crate is built with TLS).
    ///
    /// The connection reconnects by itself: while Redis is down operations fail with
    /// [`StoreError::Unavailable`] within about two seconds, and succeed again as soon as it is
    /// back.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if the URL does not parse or the server cannot be reached.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// let store = sessionwarden_redis::RedisStore::connect("redis://127.0.0.1:6379/").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::unavailable("connect", e))?;
        let nodes: Arc<[String]> = Arc::new([client.get_connection_info().addr().to_string()]);
        let clients: Arc<[redis::Client]> = Arc::new([client.clone()]);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            // Few, short retries: a request waits on a reconnect in progress, and every
            // request that fails while Redis is down starts a fresh attempt anyway.
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(250));
        let manager = step("connect", ConnectionManager::new_with_config(client, config)).await?;
        Ok(Self { conn: Conn::Single(manager), clients, prefix: DEFAULT_PREFIX.into(), nodes })
    }

    /// Connects to a Redis Cluster through any of its nodes (`redis://host:port` each).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] if a URL does not parse or no node can be reached.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// let nodes = vec!["redis://127.0.0.1:7001/".to_owned(), "redis://127.0.0.1:7002/".to_owned()];
    /// let store = sessionwarden_redis::RedisStore::connect_cluster(&nodes).await?;
    /// assert!(store.is_cluster());
    /// # Ok(()) }
    /// ```
    pub async fn connect_cluster(urls: &[String]) -> Result<Self, StoreError> {
        let mut nodes = Vec::with_capacity(urls.len());
        let mut clients = Vec::with_capacity(urls.len());
        for url in urls {
            clients
                .push(redis::Client::open(url.as_str()).map_err(|e| StoreError::unavailable("connect", e))?);
            let info =
                url.as_str().into_connection_info().map_err(|e| StoreError::unavailable("connect", e))?;
            nodes.push(info.addr().to_string());
        }
        let client = ClusterClient::builder(urls.iter().map(String::as_str))
            .connection_timeout(CONNECT_TIMEOUT)
            .response_timeout(RESPONSE_TIMEOUT)
            .retries(2)
            .min_retry_wait(50)
            .max_retry_wait(250)
            .build()
            .map_err(|e| StoreError::unavailable("connect", e))?;
        let conn = step("connect", client.get_async_connection()).await?;
        Ok(Self {
            conn: Conn::Cluster(conn),
            clients: clients.into(),
            prefix: DEFAULT_PREFIX.into(),
            nodes: nodes.into(),
        })
    }

    /// Connects to whatever `url` names: a cluster for a comma-separated list of URLs or a
    /// `redis+cluster://host1:port1,host2:port2` URL (`rediss+cluster://` for TLS), a single
    /// node otherwise.
    ///
    /// # Errors
    /// As [`RedisStore::connect`] and [`RedisStore::connect_cluster`].
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// use sessionwarden_redis::RedisStore;
    /// let cluster = RedisStore::connect_any("redis+cluster://127.0.0.1:7001,127.0.0.1:7002").await?;
    /// let single = RedisStore::connect_any("redis://127.0.0.1:6379/").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_any(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        for (scheme, base) in [("redis+cluster://", "redis://"), ("rediss+cluster://", "rediss://")] {
            if let Some(rest) = url.strip_prefix(scheme) {
                let urls: Vec<String> = rest
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| format!("{base}{s}"))
                    .collect();
                return Self::connect_cluster(&urls).await;
            }
        }
        if url.contains(',') {
            let urls: Vec<String> =
                url.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
            return Self::connect_cluster(&urls).await;
        }
        Self::connect(url).await
    }

    /// The same store with every key under `prefix` instead of [`DEFAULT_PREFIX`].
    ///
    /// # Panics
    /// Panics if `prefix` contains `{` or `}`. Use [`RedisStore::try_with_prefix`] to handle
    /// that.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// let store = sessionwarden_redis::RedisStore::connect("redis://127.0.0.1:6379/").await?
    ///     .with_prefix("shop:session:");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_prefix(self, prefix: impl Into<String>) -> Self {
        self.try_with_prefix(prefix).expect("redis key prefix must not contain `{` or `}`")
    }

    /// The same store with every key under `prefix`.
    ///
    /// # Errors
    /// [`InvalidPrefix`] if `prefix` contains `{` or `}`: braces would change the hash tags
    /// the layout uses to keep a bucket on one cluster slot.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// let store = sessionwarden_redis::RedisStore::connect("redis://127.0.0.1:6379/").await?;
    /// assert!(store.clone().try_with_prefix("bad{prefix}:").is_err());
    /// # Ok(()) }
    /// ```
    pub fn try_with_prefix(mut self, prefix: impl Into<String>) -> Result<Self, InvalidPrefix> {
        self.prefix = checked_prefix(prefix.into())?;
        Ok(self)
    }

    /// The key prefix.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// let store = sessionwarden_redis::RedisStore::connect("redis://127.0.0.1:6379/").await?;
    /// assert_eq!(store.prefix(), "session:");
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
    /// let store = sessionwarden_redis::RedisStore::connect("redis://127.0.0.1:6379/").await?;
    /// assert!(!store.is_cluster());
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }

    /// The Redis key the record for `key` lives under: `<prefix>{<bb>}:<hex>`, where `<hex>`
    /// is the store key in lower-case hex and `<bb>` its first two digits.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
    /// use sessionwarden_core::StoreKey;
    /// let store = sessionwarden_redis::RedisStore::connect("redis://127.0.0.1:6379/").await?;
    /// let key = StoreKey::from_bytes([0xab; 32]);
    /// assert_eq!(store.record_key(&key), format!("session:{{ab}}:{}", key.to_hex()));
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn record_key(&self, key: &StoreKey) -> String {
        format!("{}{}", self.base(key.as_bytes()[0]), key.to_hex())
    }

    pub(crate) fn base(&self, bucket: u8) -> String {
        format!("{}{{{bucket:02x}}}:", self.prefix)
    }

    fn revocation_key(&self, user: &str) -> String {
        format!("{}revoking:{user}", self.prefix)
    }

    /// Runs `f` once per bucket, concurrently (the multiplexed connections pipeline them).
    async fn each_bucket<T, F, Fut>(&self, op: &'static str, f: F) -> Result<Vec<T>, StoreError>
    where
        F: Fn(Conn, String) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let calls =
            (0..BUCKETS).filter_map(|b| u8::try_from(b).ok()).map(|b| f(self.conn.clone(), self.base(b)));
        step(op, try_join_all(calls)).await
    }

    pub(crate) async fn create_inner(
        &self,
        op: &'static str,
        key: &StoreKey,
        record: &Record,
    ) -> Result<bool, StoreError> {
        let bytes = record.to_bytes()?;
        let mut inv = SCRIPTS.create.prepare_invoke();
        inv.key(self.record_key(key))
            .arg(self.base(key.as_bytes()[0]))
            .arg(key.to_hex())
            .arg(record.last_seen.unix());
        push_record(&mut inv, record, bytes);
        let mut conn = self.conn.clone();
        let reply: i64 = step(op, inv.invoke_async(&mut conn)).await?;
        Ok(reply == 1)
    }

    async fn save_inner(
        &self,
        op: &'static str,
        key: &StoreKey,
        record: &Record,
        expected: u64,
    ) -> Result<SaveOutcome, StoreError> {
        let bytes = record.to_bytes()?;
        let mut inv = SCRIPTS.save.prepare_invoke();
        inv.key(self.record_key(key))
            .arg(self.base(key.as_bytes()[0]))
            .arg(key.to_hex())
            .arg(record.last_seen.unix())
            .arg(expected.to_string());
        push_record(&mut inv, record, bytes);
        let mut conn = self.conn.clone();
        match step(op, inv.invoke_async(&mut conn)).await? {
            Value::Int(1) => Ok(SaveOutcome::Saved),
            Value::Int(0) | Value::Nil => Ok(SaveOutcome::Missing),
            Value::BulkString(current) => Ok(SaveOutcome::Conflict(Record::from_bytes(&current)?)),
            _ => Err(unexpected(op)),
        }
    }

    pub(crate) async fn delete_inner(&self, op: &'static str, key: &StoreKey) -> Result<bool, StoreError> {
        let mut inv = SCRIPTS.delete.prepare_invoke();
        inv.key(self.record_key(key)).arg(self.base(key.as_bytes()[0])).arg(key.to_hex());
        let mut conn = self.conn.clone();
        let reply: i64 = step(op, inv.invoke_async(&mut conn)).await?;
        Ok(reply == 1)
    }

    /// The user's revoke-all counters: (started, finished).
    async fn revocation_marks(&self, op: &'static str, user: &str) -> Result<(i64, i64), StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.revocation_key(user)).arg("s").arg("f");
        let (s, f): (Option<i64>, Option<i64>) = step(op, cmd.query_async(&mut conn)).await?;
        Ok((s.unwrap_or(0), f.unwrap_or(0)))
    }

    async fn mark_revocation(&self, user: &str, field: &str) -> Result<(), StoreError> {
        let mut inv = SCRIPTS.mark_revocation.prepare_invoke();
        inv.key(self.revocation_key(user)).arg(field).arg(REVOCATION_MARK_TTL_SECS);
        let mut conn = self.conn.clone();
        let _: i64 = step("revoke_user", inv.invoke_async(&mut conn)).await?;
        Ok(())
    }

    /// The move itself. `inserted` tells the caller whether a copy may sit at `to` when an
    /// error cuts the move short.
    async fn cycle_steps(
        &self,
        from: &StoreKey,
        to: &StoreKey,
        mut record: Record,
        inserted: &mut bool,
    ) -> Result<Cycled, StoreError> {
        const OP: &str = "cycle";
        let guard = match &record.user {
            Some(user) => Some((user.clone(), self.revocation_marks(OP, user).await?)),
            None => None,
        };
        *inserted = true;
        if !self.create_inner(OP, to, &record).await? {
            *inserted = false;
            return Ok(Cycled::Taken);
        }
        let mut taken = false;
        for _ in 0..MAX_CYCLE_ATTEMPTS {
            let mut inv = SCRIPTS.take.prepare_invoke();
            inv.key(self.record_key(from))
                .arg(self.base(from.as_bytes()[0]))
                .arg(from.to_hex())
                .arg(record.version.to_string());
            let mut conn = self.conn.clone();
            match step(OP, inv.invoke_async(&mut conn)).await? {
                Value::Int(1) => {
                    taken = true;
                    break;
                }
                // Deleted or revoked meanwhile: the copy must not outlive it.
                Value::Int(0) => return Ok(Cycled::Undo),
                // A concurrent save landed on the old key: carry it over and try again.
                Value::BulkString(current) => {
                    let newer = Record::from_bytes(&current)?;
                    match self.save_inner(OP, to, &newer, record.version).await? {
                        SaveOutcome::Saved => record = newer,
                        // The copy was revoked meanwhile: so is the session.
                        SaveOutcome::Missing | SaveOutcome::Conflict(_) => {
                            self.delete_inner(OP, from).await?;
                            return Ok(Cycled::Undo);
                        }
                    }
                }
                _ => return Err(unexpected(OP)),
            }
        }
        if !taken {
            // Saves kept landing on the old key: leave the session where it is.
            return Ok(Cycled::Undo);
        }
        // A revoke-all of this user that ran while the session was in flight may have seen
        // neither copy (see the crate docs): then the session counts as revoked.
        if let Some((user, before)) = guard {
            let after = self.revocation_marks(OP, &user).await?;
            if before.0 != before.1 || after != before {
                return Ok(Cycled::Undo);
            }
        }
        Ok(Cycled::Moved)
    }
}

impl RedisStore {
    /// One bucket's part of a listing page: up to `need` live sessions after `after` (hex, or
    /// `""`) in key order, kept to `user`'s if given, and the last hex read if the bucket holds
    /// more past it.
    async fn page_bucket(
        &self,
        bucket: u8,
        after: String,
        now: Timestamp,
        need: usize,
        user: Option<&str>,
    ) -> Result<(Vec<SessionInfo>, Option<String>), StoreError> {
        const OP: &str = "list_page";
        let base = self.base(bucket);
        let mut conn = self.conn.clone();
        let mut infos = Vec::new();
        if let Some(user) = user {
            // The user's set in this bucket is small: list it whole, keep what follows `after`.
            let mut inv = SCRIPTS.list_user.prepare_invoke();
            inv.key(format!("{base}user:{user}")).arg(&base);
            let reply: Value = step(OP, inv.invoke_async(&mut conn)).await?;
            live_infos(reply, now, &mut infos);
            infos.retain(|s| {
                after.is_empty() || handle_hex(&s.handle).is_some_and(|h| h.as_str() > &after[..32])
            });
            infos.sort_by_key(|s| handle_hex(&s.handle));
            infos.truncate(need);
            return Ok((infos, None));
        }
        let mut inv = SCRIPTS.list_page.prepare_invoke();
        inv.key(format!("{base}expiry")).arg(&base).arg(now.unix()).arg(&after).arg(need);
        let reply: Value = step(OP, inv.invoke_async(&mut conn)).await?;
        let Value::Array(mut parts) = reply else { return Err(unexpected(OP)) };
        if parts.len() != 3 {
            return Err(unexpected(OP));
        }
        let entries = parts.pop().unwrap_or(Value::Nil);
        let last = match parts.pop() {
            Some(Value::BulkString(b)) => String::from_utf8(b).map_err(|_| unexpected(OP))?,
            _ => return Err(unexpected(OP)),
        };
        let more = matches!(parts.pop(), Some(Value::Int(1)));
        live_infos(entries, now, &mut infos);
        Ok((infos, more.then_some(last)))
    }
}

/// The 32 lower-case hex digits of the key prefix a handle names.
fn handle_hex(handle: &SessionHandle) -> Option<String> {
    Some(handle.key_prefix()?.iter().map(|b| format!("{b:02x}")).collect())
}

/// How `cycle_steps` ended.
enum Cycled {
    /// The record is under `to` only.
    Moved,
    /// `to` was taken; nothing changed.
    Taken,
    /// The copy under `to` must go (the old record vanished, or a revoke-all raced).
    Undo,
}

/// Appends the record's fields: version, bytes, deadline (`""` if none), has_user, user.
fn push_record(inv: &mut redis::ScriptInvocation<'_>, record: &Record, bytes: Vec<u8>) {
    inv.arg(record.version.to_string())
        .arg(bytes)
        .arg(record.expires_at().map(|t| t.unix().to_string()).unwrap_or_default())
        .arg(if record.user.is_some() { "1" } else { "0" })
        .arg(record.user.as_deref().unwrap_or(""));
}

/// A key prefix, refused if it holds `{` or `}`: a hash tag in the prefix would change the
/// slots the layouts rely on (and could put every key of a store on one cluster node).
pub(crate) fn checked_prefix(prefix: String) -> Result<Arc<str>, InvalidPrefix> {
    if prefix.contains(['{', '}']) {
        return Err(InvalidPrefix);
    }
    Ok(prefix.into())
}

/// Runs one step of an operation, bounded by [`STEP_TIMEOUT`]; a driver error or the timeout
/// becomes `fail(operation, cause)`, so every failure fails closed in the caller's error type.
pub(crate) async fn bounded_step<T, E>(
    operation: &'static str,
    fut: impl Future<Output = RedisResult<T>>,
    fail: fn(&'static str, sessionwarden_core::BoxError) -> E,
) -> Result<T, E> {
    match tokio::time::timeout(STEP_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(fail(operation, e.into())),
        Err(elapsed) => Err(fail(operation, elapsed.into())),
    }
}

/// [`bounded_step`] for the session store: every failure is [`StoreError::Unavailable`].
pub(crate) async fn step<T>(
    operation: &'static str,
    fut: impl Future<Output = RedisResult<T>>,
) -> Result<T, StoreError> {
    bounded_step(operation, fut, StoreError::unavailable).await
}

pub(crate) fn unexpected(operation: &'static str) -> StoreError {
    StoreError::unavailable(operation, "unexpected reply from a sessionwarden script")
}

fn is_wrong_type(e: &StoreError) -> bool {
    match e {
        StoreError::Unavailable { source, .. } => {
            source.downcast_ref::<RedisError>().is_some_and(|e| e.code() == Some("WRONGTYPE"))
        }
        _ => false,
    }
}

/// Decodes a record and checks it against the version field the scripts compare.
fn decode(version: Option<&str>, bytes: &[u8]) -> Result<Record, StoreError> {
    let record = Record::from_bytes(bytes)?;
    if version.and_then(|v| v.parse::<u64>().ok()) != Some(record.version) {
        return Err(StoreError::Corrupt { reason: "redis version field disagrees with the record" });
    }
    Ok(record)
}

/// Decodes the flat `hex, bytes, hex, bytes, ...` array the listing scripts return, keeping
/// the records live at `now`. Undecodable entries are left out of listings (a load of the
/// same key reports them as corrupt).
fn live_infos(reply: Value, now: Timestamp, out: &mut Vec<SessionInfo>) {
    let Value::Array(items) = reply else { return };
    for pair in items.chunks_exact(2) {
        let (Value::BulkString(hex), Value::BulkString(bytes)) = (&pair[0], &pair[1]) else {
            continue;
        };
        let Some(key) = std::str::from_utf8(hex).ok().and_then(StoreKey::from_hex) else {
            continue;
        };
        let Ok(record) = Record::from_bytes(bytes) else {
            continue;
        };
        if !record.is_expired(now) {
            out.push(SessionInfo::new(&key, &record));
        }
    }
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.record_key(key)).arg("v").arg("d");
        let reply: Result<(Option<String>, Option<Vec<u8>>), _> =
            step("load", cmd.query_async(&mut conn)).await;
        let (version, bytes) = match reply {
            Ok(fields) => fields,
            Err(e) if is_wrong_type(&e) => {
                return Err(StoreError::Corrupt { reason: "record key holds another redis type" });
            }
            Err(e) => return Err(e),
        };
        let Some(bytes) = bytes else { return Ok(None) };
        let record = decode(version.as_deref(), &bytes)?;
        // Redis TTLs are a backstop only: expiry is decided here, at the caller's `now`.
        Ok((!record.is_expired(now)).then_some(record))
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<bool, StoreError> {
        self.create_inner("create", key, record).await
    }

    async fn save(&self, key: &StoreKey, record: &Record, expected: u64) -> Result<SaveOutcome, StoreError> {
        self.save_inner("save", key, record, expected).await
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.delete_inner("delete", key).await.map(drop)
    }

    async fn cycle(&self, from: &StoreKey, to: &StoreKey) -> Result<bool, StoreError> {
        if from == to {
            return Ok(false);
        }
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("HMGET");
        cmd.arg(self.record_key(from)).arg("v").arg("d");
        let (version, bytes): (Option<String>, Option<Vec<u8>>) =
            step("cycle", cmd.query_async(&mut conn)).await?;
        let Some(bytes) = bytes else { return Ok(false) };
        let record = decode(version.as_deref(), &bytes)?;
        let mut inserted = false;
        match self.cycle_steps(from, to, record, &mut inserted).await {
            Ok(Cycled::Moved) => Ok(true),
            Ok(Cycled::Taken) => Ok(false),
            Ok(Cycled::Undo) => {
                self.delete_inner("cycle", to).await?;
                Ok(false)
            }
            Err(e) => {
                if inserted {
                    // Best effort: nobody holds the new id yet, so a copy left behind is
                    // unreachable, and its TTL and `delete_expired` remove it in any case.
                    let _ = self.delete_inner("cycle", to).await;
                }
                Err(e)
            }
        }
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: Value = step("ping", redis::cmd("PING").query_async(&mut conn)).await?;
        Ok(())
    }
}

#[async_trait]
impl SessionIndex for RedisStore {
    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<SessionInfo>, StoreError> {
        let replies = self
            .each_bucket("list_user", |mut conn, base| async move {
                let mut inv = SCRIPTS.list_user.prepare_invoke();
                inv.key(format!("{base}user:{user}")).arg(&base);
                inv.invoke_async::<Value>(&mut conn).await
            })
            .await?;
        let mut out = Vec::new();
        for reply in replies {
            live_infos(reply, now, &mut out);
        }
        out.sort_by_key(|s| s.created);
        Ok(out)
    }

    async fn list(&self, now: Timestamp, limit: usize) -> Result<Vec<SessionInfo>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let replies = self
            .each_bucket("list", |mut conn, base| async move {
                let mut inv = SCRIPTS.list.prepare_invoke();
                inv.key(format!("{base}expiry")).arg(&base).arg(now.unix()).arg(limit);
                inv.invoke_async::<Value>(&mut conn).await
            })
            .await?;
        let mut out = Vec::new();
        for reply in replies {
            live_infos(reply, now, &mut out);
        }
        out.sort_by_key(|s| std::cmp::Reverse(s.last_seen));
        out.truncate(limit);
        Ok(out)
    }

    async fn list_page(&self, query: &ListQuery, now: Timestamp) -> Result<SessionPage, StoreError> {
        if query.limit == 0 {
            return Ok(SessionPage::default());
        }
        let (mut bucket, mut after) = match &query.after {
            None => (0u16, String::new()),
            Some(h) => match h.cursor_key() {
                Some(k) => (u16::from(k.as_bytes()[0]), k.to_hex()),
                None => return Ok(SessionPage::default()),
            },
        };
        let want = query.limit.saturating_add(1);
        let mut out = Vec::new();
        // Buckets are key ranges in key order, so the listing walks them in turn. Dense stores
        // fill a page from one bucket; sparse ones would cost a round trip per bucket, so each
        // round asks twice as many buckets at once as the last (at most 8 rounds for 256).
        let mut window = 1u16;
        while bucket < BUCKETS && out.len() < want {
            let end = (bucket + window).min(BUCKETS);
            let need = want - out.len();
            let calls = (bucket..end).filter_map(|b| u8::try_from(b).ok()).map(|b| {
                let start = if u16::from(b) == bucket { after.clone() } else { String::new() };
                self.page_bucket(b, start, now, need, query.user.as_deref())
            });
            let replies = try_join_all(calls).await?;
            let mut resume = None;
            for (b, (infos, more)) in (bucket..end).zip(replies) {
                out.extend(infos);
                if out.len() >= want {
                    break;
                }
                // This bucket holds more than it was asked for: finish it before the next.
                if let Some(last) = more {
                    resume = Some((b, last));
                    break;
                }
            }
            match resume {
                Some((b, last)) => (bucket, after) = (b, last),
                None => (bucket, after) = (end, String::new()),
            }
            window = window.saturating_mul(2);
        }
        let more = out.len() > query.limit;
        out.truncate(query.limit);
        Ok(SessionPage::new(out, more))
    }

    async fn count(&self, user: Option<&str>, now: Timestamp) -> Result<u64, StoreError> {
        if let Some(user) = user {
            return Ok(self.list_user(user, now).await?.len() as u64);
        }
        // The expiry index's live entries: one ZCOUNT (O(log n)) per bucket.
        let counts = self
            .each_bucket("count", |mut conn, base| async move {
                let mut cmd = redis::cmd("ZCOUNT");
                cmd.arg(format!("{base}expiry")).arg(format!("({}", now.unix())).arg("+inf");
                cmd.query_async::<u64>(&mut conn).await
            })
            .await?;
        Ok(counts.into_iter().sum())
    }

    async fn revoke(&self, handle: &SessionHandle) -> Result<bool, StoreError> {
        let Ok(prefix) = URL_SAFE_NO_PAD.decode(handle.as_str()) else {
            return Ok(false);
        };
        let Some(&first) = prefix.first() else {
            return Ok(false);
        };
        if prefix.len() != 16 {
            return Ok(false);
        }
        let hex: String = prefix.iter().map(|b| format!("{b:02x}")).collect();
        let base = self.base(first);
        let mut inv = SCRIPTS.revoke_handle.prepare_invoke();
        inv.key(format!("{base}handles")).arg(&base).arg(hex);
        let mut conn = self.conn.clone();
        let reply: i64 = step("revoke", inv.invoke_async(&mut conn)).await?;
        Ok(reply == 1)
    }

    async fn revoke_user(&self, user: &str) -> Result<u64, StoreError> {
        // Started/finished marks let a concurrent `cycle` of this user's session notice
        // the revoke (see the crate docs). An unfinished revoke leaves them unequal until
        // they expire, failing such cycles closed meanwhile.
        self.mark_revocation(user, "s").await?;
        let counts = self
            .each_bucket("revoke_user", |mut conn, base| async move {
                let mut inv = SCRIPTS.revoke_user.prepare_invoke();
                inv.key(format!("{base}user:{user}")).arg(&base);
                inv.invoke_async::<i64>(&mut conn).await
            })
            .await?;
        self.mark_revocation(user, "f").await?;
        Ok(counts.into_iter().map(|n| u64::try_from(n).unwrap_or(0)).sum())
    }
}

/// Redis TTLs free the records themselves, but not the index entries that name them (the
/// `expiry` sorted set, the user and handle sets), and records without deadline get no TTL:
/// deleting expired records and their entries is real work here, not a formality.
#[async_trait]
impl ExpiredDeletion for RedisStore {
    async fn delete_expired(&self, now: Timestamp, batch: usize) -> Result<u64, StoreError> {
        if batch == 0 {
            return Ok(0);
        }
        // Count first (cheap, concurrent), then sweep only buckets with work, in turn, so
        // no more than `batch` sessions go in one call.
        let counts = self
            .each_bucket("sweep", |mut conn, base| async move {
                let mut cmd = redis::cmd("ZCOUNT");
                cmd.arg(format!("{base}expiry")).arg("-inf").arg(now.unix());
                cmd.query_async::<u64>(&mut conn).await
            })
            .await?;
        let mut removed = 0u64;
        let mut remaining = batch as u64;
        for (bucket, count) in counts.into_iter().enumerate() {
            if remaining == 0 {
                break;
            }
            let Ok(bucket) = u8::try_from(bucket) else {
                break;
            };
            if count == 0 {
                continue;
            }
            let base = self.base(bucket);
            let mut inv = SCRIPTS.sweep.prepare_invoke();
            inv.key(format!("{base}expiry")).arg(&base).arg(now.unix()).arg(remaining);
            let mut conn = self.conn.clone();
            let n: u64 = step("sweep", inv.invoke_async(&mut conn)).await?;
            removed += n;
            remaining = remaining.saturating_sub(n);
        }
        Ok(removed)
    }
}
