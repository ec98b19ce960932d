//! Opening the configured store with its capabilities, and the `sessions` admin commands
//! that act on it.

use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use sessionwarden::store::ListQuery;
use sessionwarden::store::{AccountLocks, AuditLog, KeyringStore, RateLimitStore, UserSessionCap};
use sessionwarden::{
    Backend, Clock as _, CookieStore, ExpiredDeletion, MemoryStore, SessionHandle, SessionIndex, SessionInfo,
    SessionStore, StoreKey, SystemClock, Timestamp,
};
use sessionwarden_redis::RedisStore;
use sessionwarden_sql::{PostgresStore, SqliteStore};

use sessionwarden::metrics::InstrumentedStore;

use crate::cli::{SessionsCommand, StoreKind};
use crate::display;
use crate::metrics::ServerMetrics;

/// The store settings `serve` and `sessions` take from their command line.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Which store.
    pub store: StoreKind,
    /// PostgreSQL URL, or SQLite path / `sqlite:` URL.
    pub database_url: Option<String>,
    /// Redis URL(s).
    pub redis_url: String,
    /// Session key prefix in Redis.
    pub redis_prefix: String,
    /// JWT refresh-token and revocation key prefix in Redis.
    pub redis_token_prefix: String,
    /// Local session cache size for Redis (0 = off).
    pub local_cache: u64,
    /// Memory store capacity.
    pub memory_capacity: usize,
    /// Encrypt cookie-store sessions.
    pub encrypt_cookies: bool,
    /// The data directory (default SQLite file).
    pub data_dir: std::path::PathBuf,
    /// Flask stores: `PERMANENT_SESSION_LIFETIME`, seconds.
    pub permanent_session_lifetime: u64,
    /// Flask stores: Flask's secrets.
    pub flask_secrets: crate::flask::FlaskSecrets,
}

/// A capability the configured store does not have: which store, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported {
    /// The store, as `--store` names it.
    pub store: &'static str,
    /// Why it cannot, as the end of a sentence that starts with the store.
    pub reason: &'static str,
}

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the {} store {}", self.store, self.reason)
    }
}

impl std::error::Error for Unsupported {}

/// What `POST /logout-everywhere` can do about the user's sessions under the configured
/// store, decided once at start-up (so a request never ends half done).
#[derive(Debug, Clone)]
pub enum UserRevocation {
    /// Sessions live in cookies: there is nothing on the server to end (their tokens are
    /// still revoked; other browsers keep their cookie until it expires).
    NoServerSessions,
    /// The store revokes every session of a user.
    Index(Arc<dyn SessionIndex>),
    /// The store keeps sessions but cannot find them by user: logout everywhere is refused
    /// before anything is revoked.
    Unsupported(Unsupported),
}

/// The configured store and its capabilities, as types: what needs listing, revocation or
/// expired-record deletion takes it from here, and finds out at start-up if the store
/// cannot, never through an empty answer at run time.
#[derive(Debug, Clone)]
pub struct Stores {
    /// What the session layer uses.
    pub backend: Backend,
    /// The server-side store behind it (none for cookie stores).
    pub store: Option<Arc<dyn SessionStore>>,
    /// Listing and revocation of sessions, or why the store has none.
    pub index: Result<Arc<dyn SessionIndex>, Unsupported>,
    /// Deletion of expired records in batches, if the store needs it (the sweeper runs only
    /// then).
    pub expired_deletion: Option<Arc<dyn ExpiredDeletion>>,
    /// The store's audit records (the admin API's event history, the audit sink), or why
    /// the store keeps none.
    pub audit: Result<Arc<dyn AuditLog>, Unsupported>,
    /// The per-user session cap (`--max-sessions-per-user`), or why the store has none.
    pub session_cap: Result<Arc<dyn UserSessionCap>, Unsupported>,
    /// Disabled accounts (`users disable`), or why the store keeps none.
    pub account_locks: Result<Arc<dyn AccountLocks>, Unsupported>,
    /// Rate-limit state every server sharing the store counts against (the fleet-wide
    /// limits of `crate::throttle`), or why the store cannot host it (the limits are then
    /// this process's own).
    pub rate_limit: Result<Arc<dyn RateLimitStore>, Unsupported>,
    /// Deletes expired rate-limit rows and one-time keys (SQL stores; Redis expires its own).
    pub capability_purge: Option<CapabilityPurge>,
}

/// A purge of expired capability rows (at a time, in batches of a size): the SQL stores'
/// `purge_expired_capabilities`, behind one type for every dialect.
#[derive(Clone)]
pub struct CapabilityPurge(Arc<dyn Fn(Timestamp, usize) -> PurgeFuture + Send + Sync>);

type PurgeFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, sessionwarden::StoreError>> + Send>>;

impl std::fmt::Debug for CapabilityPurge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CapabilityPurge(..)")
    }
}

impl CapabilityPurge {
    /// Deletes up to `batch` expired rate-limit rows and one-time keys at `now`; returns how
    /// many went.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn run(&self, now: Timestamp, batch: usize) -> Result<u64, sessionwarden::StoreError> {
        (self.0)(now, batch).await
    }
}

/// Why `kind` cannot host rate-limit state a fleet shares, if it cannot.
#[must_use]
pub fn missing_shared_limits(kind: StoreKind) -> Option<Unsupported> {
    let reason = match kind {
        StoreKind::Sqlite | StoreKind::Postgres | StoreKind::Redis => return None,
        StoreKind::Memory => "keeps rate-limit state in this process only",
        StoreKind::Cookie | StoreKind::FlaskCookie => {
            "keeps nothing on the server, rate-limit state included"
        }
        StoreKind::FlaskRedis => "keeps Flask-Session's records only, no rate-limit state",
    };
    Some(Unsupported { store: store_name(kind), reason })
}

/// `store`'s rate-limit state and its purge, for the SQL stores.
fn sql_limits<S: RateLimitStore + SqlCapabilityPurge + Clone>(
    store: &S,
) -> (Arc<dyn RateLimitStore>, CapabilityPurge) {
    let purge = store.clone();
    let purge = CapabilityPurge(Arc::new(move |now, batch| {
        let store = purge.clone();
        Box::pin(async move { store.purge(now, batch).await })
    }));
    (Arc::new(store.clone()), purge)
}

/// The SQL stores' purge of expired capability rows, as one trait for [`sql_limits`].
trait SqlCapabilityPurge: Send + Sync + 'static {
    fn purge(
        &self,
        now: Timestamp,
        batch: usize,
    ) -> impl std::future::Future<Output = Result<u64, sessionwarden::StoreError>> + Send;
}

impl SqlCapabilityPurge for SqliteStore {
    fn purge(
        &self,
        now: Timestamp,
        batch: usize,
    ) -> impl std::future::Future<Output = Result<u64, sessionwarden::StoreError>> + Send {
        self.purge_expired_capabilities(now, batch)
    }
}

impl SqlCapabilityPurge for PostgresStore {
    fn purge(
        &self,
        now: Timestamp,
        batch: usize,
    ) -> impl std::future::Future<Output = Result<u64, sessionwarden::StoreError>> + Send {
        self.purge_expired_capabilities(now, batch)
    }
}

/// Why `kind` cannot list or revoke sessions, if it cannot: known from the kind alone, so
/// the `sessions` commands refuse before connecting to anything.
#[must_use]
pub fn missing_index(kind: StoreKind) -> Option<Unsupported> {
    let reason = match kind {
        StoreKind::Sqlite | StoreKind::Memory | StoreKind::Postgres | StoreKind::Redis => return None,
        StoreKind::Cookie | StoreKind::FlaskCookie => {
            "keeps nothing on the server: there is nothing to list or revoke (rotate and retire keys instead)"
        }
        StoreKind::FlaskRedis => {
            "cannot list or revoke sessions: Flask-Session keeps no index of sessions by user or handle"
        }
    };
    Some(Unsupported { store: store_name(kind), reason })
}

/// The memory store answers in well under a microsecond, where timing every operation would
/// cost about 4 % of a read through the layer; one operation in four is timed there (the
/// histogram's count is then a quarter of the operations, its distribution unchanged).
/// Network stores time every operation: there the timer is far below 1 %.
fn sampled<S>(store: InstrumentedStore<S>) -> InstrumentedStore<S> {
    if store.backend() == "memory" { store.with_latency_sampling(MEMORY_LATENCY_SAMPLING) } else { store }
}

/// One memory-store operation in this many is timed: the memory store answers in well under
/// a microsecond, and timing each operation would cost about 4 % of a read.
pub const MEMORY_LATENCY_SAMPLING: u32 = 4;

/// Why `kind` keeps no audit records.
fn no_audit(kind: StoreKind) -> Unsupported {
    let reason = match kind {
        StoreKind::Cookie | StoreKind::FlaskCookie => {
            "keeps nothing on the server: there is nowhere to keep audit records"
        }
        _ => "keeps no audit records",
    };
    Unsupported { store: store_name(kind), reason }
}

/// Why `kind` can neither cap sessions per user nor keep disabled accounts, if it cannot
/// (the same stores as [`missing_index`]: both need sessions found by user on the server).
#[must_use]
pub fn missing_policy(kind: StoreKind) -> Option<Unsupported> {
    let reason = match kind {
        StoreKind::Sqlite | StoreKind::Memory | StoreKind::Postgres | StoreKind::Redis => return None,
        StoreKind::Cookie | StoreKind::FlaskCookie => {
            "keeps no sessions on the server: it cannot count a user's sessions or refuse a disabled user's"
        }
        StoreKind::FlaskRedis => {
            "cannot cap or disable users: Flask-Session keeps no index of sessions by user"
        }
    };
    Some(Unsupported { store: store_name(kind), reason })
}

fn no_shared_limits(kind: StoreKind) -> Unsupported {
    missing_shared_limits(kind)
        .unwrap_or(Unsupported { store: store_name(kind), reason: "keeps no shared rate-limit state" })
}

fn no_policy(kind: StoreKind) -> Unsupported {
    missing_policy(kind).unwrap_or(Unsupported { store: store_name(kind), reason: "has no session policy" })
}

/// [`missing_index`] of a kind that has no index.
fn no_index(kind: StoreKind) -> Unsupported {
    missing_index(kind).unwrap_or(Unsupported { store: store_name(kind), reason: "has no session index" })
}

impl Stores {
    /// A store with every capability.
    fn indexed<S: SessionIndex + ExpiredDeletion + AuditLog + UserSessionCap + AccountLocks>(
        store: S,
    ) -> Self {
        let store = Arc::new(store);
        Self::indexed_with_audit(store.clone(), store)
    }

    /// A store with every capability, its audit records kept by `audit` (the store behind a
    /// cache: audit records are not cached).
    fn indexed_with_audit<S: SessionIndex + ExpiredDeletion + UserSessionCap + AccountLocks>(
        store: Arc<S>,
        audit: Arc<dyn AuditLog>,
    ) -> Self {
        Self {
            backend: Backend::Server(store.clone()),
            store: Some(store.clone()),
            index: Ok(store.clone()),
            expired_deletion: Some(store.clone()),
            audit: Ok(audit),
            session_cap: Ok(store.clone()),
            account_locks: Ok(store),
            rate_limit: Err(Unsupported {
                store: "memory",
                reason: "keeps rate-limit state in this process only",
            }),
            capability_purge: None,
        }
    }

    /// These stores with `limits` as the fleet's shared rate-limit state.
    fn with_shared_limits(mut self, limits: Arc<dyn RateLimitStore>, purge: Option<CapabilityPurge>) -> Self {
        self.rate_limit = Ok(limits);
        self.capability_purge = purge;
        self
    }

    /// [`Stores::indexed`], wrapped in [`InstrumentedStore`] when metrics are on.
    fn instrumented<S: SessionIndex + ExpiredDeletion + AuditLog + UserSessionCap + AccountLocks>(
        store: S,
        backend: &'static str,
        metrics: Option<&ServerMetrics>,
    ) -> Self {
        match metrics {
            Some(m) => Self::indexed(m.register(|| sampled(InstrumentedStore::new(store, backend)))),
            None => Self::indexed(store),
        }
    }

    /// [`Stores::indexed_with_audit`], wrapped in [`InstrumentedStore`] when metrics are on.
    fn instrumented_with_audit<S: SessionIndex + ExpiredDeletion + UserSessionCap + AccountLocks>(
        store: S,
        audit: Arc<dyn AuditLog>,
        backend: &'static str,
        metrics: Option<&ServerMetrics>,
    ) -> Self {
        match metrics {
            Some(m) => Self::indexed_with_audit(
                Arc::new(m.register(|| InstrumentedStore::new(store, backend))),
                audit,
            ),
            None => Self::indexed_with_audit(Arc::new(store), audit),
        }
    }

    /// A cookie store: nothing on the server.
    fn cookie(backend: Backend, kind: StoreKind) -> Self {
        Self {
            backend,
            store: None,
            index: Err(no_index(kind)),
            expired_deletion: None,
            audit: Err(no_audit(kind)),
            session_cap: Err(no_policy(kind)),
            account_locks: Err(no_policy(kind)),
            rate_limit: Err(no_shared_limits(kind)),
            capability_purge: None,
        }
    }

    /// What `POST /logout-everywhere` can do about sessions.
    #[must_use]
    pub fn user_revocation(&self) -> UserRevocation {
        match (&self.store, &self.index) {
            (None, _) => UserRevocation::NoServerSessions,
            (Some(_), Ok(index)) => UserRevocation::Index(index.clone()),
            (Some(_), Err(why)) => UserRevocation::Unsupported(*why),
        }
    }
}

/// Why `kind` cannot keep a keyring the fleet shares (`--keyring-store`), if it cannot.
#[must_use]
pub fn missing_keyring_store(kind: StoreKind) -> Option<Unsupported> {
    let reason = match kind {
        StoreKind::Sqlite | StoreKind::Postgres | StoreKind::Redis => return None,
        StoreKind::Memory => {
            "lives in one process: there is no fleet to share a keyring with (use the keyring file)"
        }
        StoreKind::Cookie | StoreKind::FlaskCookie => {
            "keeps nothing on the server: there is nowhere to share a keyring (use the keyring file)"
        }
        StoreKind::FlaskRedis => "keeps Flask-Session's records only, no keyring (use the keyring file)",
    };
    Some(Unsupported { store: store_name(kind), reason })
}

/// The store `args` configure, as the keeper of the shared keyring (its own connection, opened
/// before the session store, since the keys come first).
///
/// # Errors
/// When the store cannot keep a keyring ([`missing_keyring_store`]) or cannot be reached.
pub async fn open_keyring_store(args: &StoreSettings) -> Result<Arc<dyn KeyringStore>> {
    if let Some(why) = missing_keyring_store(args.store) {
        bail!("--keyring-store: {why}");
    }
    Ok(match args.store {
        StoreKind::Sqlite => {
            let path = sqlite_path(args)?;
            Arc::new(
                SqliteStore::open(&path).await.with_context(|| format!("SQLite store {}", path.display()))?,
            )
        }
        StoreKind::Postgres => {
            let Some(url) = args.database_url.as_deref() else {
                bail!("--store postgres needs --database-url (or SESSIONWARDEN_DATABASE_URL)");
            };
            Arc::new(PostgresStore::connect(url).await.context("PostgreSQL store")?)
        }
        _ => {
            let store = RedisStore::connect_any(&args.redis_url).await.context("Redis store")?;
            Arc::new(store.try_with_prefix(args.redis_prefix.clone()).map_err(|e| anyhow::anyhow!("{e}"))?)
        }
    })
}

/// The SQLite file `args` name (default `<data-dir>/sessions.db`), its directory created.
fn sqlite_path(args: &StoreSettings) -> Result<std::path::PathBuf> {
    let path: std::path::PathBuf = match args.database_url.as_deref() {
        Some(url) => url.strip_prefix("sqlite://").or(url.strip_prefix("sqlite:")).unwrap_or(url).into(),
        None => args.data_dir.join("sessions.db"),
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    Ok(path)
}

/// The store's name as `--store` spells it.
#[must_use]
pub fn store_name(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::Sqlite => "sqlite",
        StoreKind::Memory => "memory",
        StoreKind::Cookie => "cookie",
        StoreKind::Postgres => "postgres",
        StoreKind::Redis => "redis",
        StoreKind::FlaskCookie => "flask-cookie",
        StoreKind::FlaskRedis => "flask-redis",
    }
}

/// The store `args` configure, with its capabilities.
///
/// # Errors
/// When the store cannot be opened or reached.
pub async fn open(args: &StoreSettings) -> Result<Stores> {
    open_instrumented(args, None).await
}

/// [`open`], with every operation timed and counted in `metrics` when given: the store is
/// wrapped in [`InstrumentedStore`] labelled with its `--store` name, and the memory store's
/// evictions and the Redis local cache's hits and misses are counted too.
///
/// # Errors
/// When the store cannot be opened or reached.
pub async fn open_instrumented(args: &StoreSettings, metrics: Option<&ServerMetrics>) -> Result<Stores> {
    let backend = store_name(args.store);
    Ok(match args.store {
        StoreKind::Cookie => {
            let store = if args.encrypt_cookies { CookieStore::encrypted() } else { CookieStore::signed() };
            Stores::cookie(store.into(), args.store)
        }
        StoreKind::Memory => {
            let store = MemoryStore::with_capacity(args.memory_capacity);
            let store = match metrics {
                Some(m) => m.register(|| store.with_metrics()),
                None => store,
            };
            Stores::instrumented(store, backend, metrics)
        }
        StoreKind::Sqlite => {
            let path = sqlite_path(args)?;
            let store =
                SqliteStore::open(&path).await.with_context(|| format!("SQLite store {}", path.display()))?;
            let (limits, purge) = sql_limits(&store);
            Stores::instrumented(store, backend, metrics).with_shared_limits(limits, Some(purge))
        }
        StoreKind::Postgres => {
            let Some(url) = args.database_url.as_deref() else {
                bail!("--store postgres needs --database-url (or SESSIONWARDEN_DATABASE_URL)");
            };
            let store = PostgresStore::connect(url).await.context("PostgreSQL store")?;
            let (limits, purge) = sql_limits(&store);
            Stores::instrumented(store, backend, metrics).with_shared_limits(limits, Some(purge))
        }
        StoreKind::Redis => {
            let store = RedisStore::connect_any(&args.redis_url).await.context("Redis store")?;
            let store =
                store.try_with_prefix(args.redis_prefix.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
            // Rate-limit state goes to the store itself: it is never cached, and expires by TTL.
            let limits: Arc<dyn RateLimitStore> = Arc::new(store.clone());
            let stores = if args.local_cache > 0 {
                // Audit records go to the store behind the cache: they are not cached.
                let audit: Arc<dyn AuditLog> = Arc::new(store.clone());
                let cached = store.with_local_cache(args.local_cache).await;
                let cached = match metrics {
                    Some(m) => m.register(|| cached.with_metrics()),
                    None => cached,
                };
                Stores::instrumented_with_audit(cached, audit, backend, metrics)
            } else {
                Stores::instrumented(store, backend, metrics)
            };
            stores.with_shared_limits(limits, None)
        }
        StoreKind::FlaskCookie => Stores::cookie(crate::flask::cookie_store(args)?.into(), args.store),
        StoreKind::FlaskRedis => {
            let store = sessionwarden_flask::adapter::FlaskRedisStore::connect(&args.redis_url)
                .await
                .context("Flask-Session Redis store")?
                .with_prefix(args.redis_prefix.clone())
                .with_lifetime(args.permanent_session_lifetime);
            // Core only: Flask-Session keeps no index to list or revoke by, and Redis expires
            // its records by TTL with nothing left behind to sweep.
            let store: Arc<dyn SessionStore> = match metrics {
                Some(m) => Arc::new(m.register(|| InstrumentedStore::new(store, backend))),
                None => Arc::new(store),
            };
            Stores {
                backend: Backend::Server(store.clone()),
                store: Some(store),
                index: Err(no_index(args.store)),
                expired_deletion: None,
                audit: Err(no_audit(args.store)),
                session_cap: Err(no_policy(args.store)),
                account_locks: Err(no_policy(args.store)),
                rate_limit: Err(no_shared_limits(args.store)),
                capability_purge: None,
            }
        }
    })
}

/// Runs a `sessions` subcommand against the store `args` configure, writing to `out`.
///
/// # Errors
/// When the store cannot list or revoke sessions (before it is opened), cannot be reached,
/// the handle is malformed, or nothing matched.
pub async fn run(cmd: &SessionsCommand, args: &StoreSettings, out: &mut impl std::io::Write) -> Result<()> {
    // Refused before connecting to anything, naming the store and why.
    if let Some(why) = missing_index(args.store) {
        return Err(why.into());
    }
    // Through the cache on Redis, so a revocation from the CLI is published to the servers'
    // local caches (if they run one) instead of waiting out their time to live.
    let mut args = args.clone();
    if matches!(args.store, StoreKind::Redis) && args.local_cache == 0 {
        args.local_cache = 1;
    }
    let stores = open(&args).await?;
    let store = stores.index?;
    let now = SystemClock.now();
    // What an operator ends from here is audited as the admin API's revocations are.
    let audit = |entry: sessionwarden::store::AuditEntry| {
        let log = stores.audit.clone();
        async move {
            if let Ok(log) = log
                && let Err(e) = log.append(&entry).await
            {
                tracing::warn!(target: "sessionwarden::audit", error = %e, "audit record not written");
            }
        }
    };
    match cmd {
        SessionsCommand::List { user, json, limit, cursor, count } => {
            let after = cursor.as_deref().map(parse_handle).transpose()?;
            let mut query = ListQuery::first(*limit as usize).with_after(after);
            query.user.clone_from(user);
            let page = store.list_page(&query, now).await?;
            let total = if *count { Some(store.count(user.as_deref(), now).await?) } else { None };
            let note = match (&page.next, total) {
                (Some(next), Some(t)) => {
                    Some(format!("{} shown of {t}; more sessions: --cursor {next}", page.sessions.len()))
                }
                (Some(next), None) => Some(format!("more sessions: --cursor {next}")),
                (None, Some(t)) => Some(format!("{} shown of {t}; no more sessions", page.sessions.len())),
                (None, None) => None,
            };
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&page.sessions)?)?;
                // stdout stays one JSON array; the cursor goes where scripts can still read it.
                if let Some(note) = &note {
                    eprintln!("{note}");
                }
            } else {
                let rows = page.sessions.iter().map(|s| {
                    vec![
                        s.handle.to_string(),
                        s.user.clone().unwrap_or_else(|| "-".into()),
                        display::when(s.created, now),
                        display::when(s.last_seen, now),
                        s.expires_at.map_or_else(|| "never".to_owned(), |t| display::when(t, now)),
                        client_summary(s),
                    ]
                });
                writeln!(
                    out,
                    "{}",
                    display::table(&["HANDLE", "USER", "CREATED", "LAST SEEN", "EXPIRES", "CLIENT"], rows)
                )?;
                match note {
                    Some(note) => writeln!(out, "{note}")?,
                    None => writeln!(out, "{} session(s)", page.sessions.len())?,
                }
            }
        }
        SessionsCommand::Show { handle, json } => {
            let h = parse_handle(handle)?;
            let Some(s) = find(&*store, &h, now).await? else {
                bail!("no live session has handle {h}");
            };
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&s)?)?;
            } else {
                let c = s.client.clone().unwrap_or_default();
                let rows = [
                    ("handle", s.handle.to_string()),
                    ("user", s.user.clone().unwrap_or_else(|| "-".into())),
                    ("created", display::when(s.created, now)),
                    ("last seen", display::when(s.last_seen, now)),
                    ("expires", s.expires_at.map_or_else(|| "never".to_owned(), |t| display::when(t, now))),
                    ("ip prefix", c.ip_prefix.map_or_else(|| "-".into(), |p| p.to_string())),
                    ("device", c.device.as_ref().map_or_else(|| "-".into(), device)),
                    ("login", login(&c, now)),
                    ("user agent hash", c.user_agent_hash.map_or_else(|| "-".into(), |h| h.to_string())),
                ];
                writeln!(
                    out,
                    "{}",
                    display::table(&["FIELD", "VALUE"], rows.map(|(k, v)| vec![k.to_owned(), v]))
                )?;
            }
        }
        SessionsCommand::Revoke { handle } => {
            let h = parse_handle(handle)?;
            if !store.revoke(&h).await? {
                bail!("no live session has handle {h}");
            }
            audit(sessionwarden::store::AuditEntry::new(now, "session_revoked").with_handle(h.clone())).await;
            writeln!(out, "revoked session {h}")?;
        }
        SessionsCommand::RevokeUser { user } => {
            let n = store.revoke_user(user).await?;
            audit(
                sessionwarden::store::AuditEntry::new(now, "sessions_revoked")
                    .with_user(user.clone())
                    .with_detail("sessions", n),
            )
            .await;
            writeln!(out, "revoked {n} session(s) of {user}")?;
        }
        SessionsCommand::RevokeAll { yes } => {
            if !*yes {
                bail!(
                    "revoke-all ends every session in the {} store (everyone is logged out); add --yes to do it",
                    store_name(args.store)
                );
            }
            let n = revoke_all(&*store, now).await?;
            writeln!(out, "revoked {n} session(s)")?;
        }
    }
    Ok(())
}

/// A handle from the command line, or an error that says what one looks like.
fn parse_handle(text: &str) -> Result<SessionHandle> {
    SessionHandle::parse(text).with_context(|| {
        format!("{text:?} is not a session handle (22 characters of base64url, as `sessions list` prints)")
    })
}

/// The client summary for a table cell (the CLI's tables and the dashboard's).
pub(crate) fn client_summary(s: &SessionInfo) -> String {
    let Some(c) = &s.client else { return "-".into() };
    let ip = c.ip_prefix.map_or_else(|| "-".into(), |p| p.to_string());
    match &c.device {
        Some(d) => format!("{ip} {}", device(d)),
        None => ip,
    }
}

/// `Firefox 121 / Linux`, with `?` for what the user agent did not say.
fn device(d: &sessionwarden::DeviceSummary) -> String {
    let major = d.browser_major().map_or_else(String::new, |m| format!(" {m}"));
    format!("{}{major} / {}", d.browser().unwrap_or("?"), d.os().unwrap_or("?"))
}

/// When and how the user logged in to the session, if they did.
fn login(c: &sessionwarden::ClientInfo, now: Timestamp) -> String {
    match (c.login_at, &c.login_method) {
        (Some(at), Some(method)) => format!("{} by {method}", display::when(at, now)),
        (Some(at), None) => display::when(at, now),
        (None, _) => "-".into(),
    }
}

/// The live session `handle` names: the first one listed after the position just before it.
async fn find(
    store: &dyn SessionIndex,
    handle: &SessionHandle,
    now: Timestamp,
) -> Result<Option<SessionInfo>> {
    let Some(prefix) = handle.key_prefix() else { return Ok(None) };
    // The handle one before: its cursor sorts just below every key `handle` names.
    let after = u128::from_be_bytes(prefix).checked_sub(1).map(|p| {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&p.to_be_bytes());
        StoreKey::from_bytes(key).handle()
    });
    let page = store.list_page(&ListQuery::first(1).with_after(after), now).await?;
    Ok(page.sessions.into_iter().next().filter(|s| s.handle == *handle))
}

/// Revokes every session, a page at a time; how many. Sessions created while it runs, behind
/// its cursor, survive it (as a login after a revoke-all would).
async fn revoke_all(store: &dyn SessionIndex, now: Timestamp) -> Result<u64> {
    let mut revoked = 0;
    let mut query = ListQuery::first(500);
    loop {
        let page = store.list_page(&query, now).await?;
        for s in &page.sessions {
            if store.revoke(&s.handle).await? {
                revoked += 1;
            }
        }
        match page.next {
            Some(next) => query.after = Some(next),
            None => return Ok(revoked),
        }
    }
}
