//! Opening the configured store with its capabilities, and the `sessions` admin commands
//! that act on it.

use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use sessionwarden::store::{AccountLocks, UserSessionCap};
use sessionwarden::{
    Backend, Clock as _, CookieStore, ExpiredDeletion, MemoryStore, SessionHandle, SessionIndex,
    SessionStore, SystemClock,
};
use sessionwarden_redis::RedisStore;
use sessionwarden_sql::{PostgresStore, SqliteStore};

use crate::cli::{SessionsCommand, StoreKind};

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
    /// The per-user session cap (`--max-sessions-per-user`), or why the store has none.
    pub session_cap: Result<Arc<dyn UserSessionCap>, Unsupported>,
    /// Disabled accounts (`users disable`), or why the store keeps none.
    pub account_locks: Result<Arc<dyn AccountLocks>, Unsupported>,
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

fn no_policy(kind: StoreKind) -> Unsupported {
    missing_policy(kind).unwrap_or(Unsupported { store: store_name(kind), reason: "has no session policy" })
}

/// [`missing_index`] of a kind that has no index.
fn no_index(kind: StoreKind) -> Unsupported {
    missing_index(kind).unwrap_or(Unsupported { store: store_name(kind), reason: "has no session index" })
}

impl Stores {
    /// A store with every capability.
    fn indexed<S: SessionIndex + ExpiredDeletion + UserSessionCap + AccountLocks>(store: S) -> Self {
        let store = Arc::new(store);
        Self {
            backend: Backend::Server(store.clone()),
            store: Some(store.clone()),
            index: Ok(store.clone()),
            expired_deletion: Some(store.clone()),
            session_cap: Ok(store.clone()),
            account_locks: Ok(store),
        }
    }

    /// A cookie store: nothing on the server.
    fn cookie(backend: Backend, kind: StoreKind) -> Self {
        Self {
            backend,
            store: None,
            index: Err(no_index(kind)),
            expired_deletion: None,
            session_cap: Err(no_policy(kind)),
            account_locks: Err(no_policy(kind)),
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
    Ok(match args.store {
        StoreKind::Cookie => {
            let store = if args.encrypt_cookies { CookieStore::encrypted() } else { CookieStore::signed() };
            Stores::cookie(store.into(), args.store)
        }
        StoreKind::Memory => Stores::indexed(MemoryStore::with_capacity(args.memory_capacity)),
        StoreKind::Sqlite => {
            let path = match args.database_url.as_deref() {
                Some(url) => {
                    url.strip_prefix("sqlite://").or(url.strip_prefix("sqlite:")).unwrap_or(url).into()
                }
                None => args.data_dir.join("sessions.db"),
            };
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            }
            Stores::indexed(
                SqliteStore::open(&path).await.with_context(|| format!("SQLite store {}", path.display()))?,
            )
        }
        StoreKind::Postgres => {
            let Some(url) = args.database_url.as_deref() else {
                bail!("--store postgres needs --database-url (or SESSIONWARDEN_DATABASE_URL)");
            };
            Stores::indexed(PostgresStore::connect(url).await.context("PostgreSQL store")?)
        }
        StoreKind::Redis => {
            let store = RedisStore::connect_any(&args.redis_url).await.context("Redis store")?;
            let store =
                store.try_with_prefix(args.redis_prefix.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
            if args.local_cache > 0 {
                Stores::indexed(store.with_local_cache(args.local_cache).await)
            } else {
                Stores::indexed(store)
            }
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
            let store: Arc<dyn SessionStore> = Arc::new(store);
            Stores {
                backend: Backend::Server(store.clone()),
                store: Some(store),
                index: Err(no_index(args.store)),
                expired_deletion: None,
                session_cap: Err(no_policy(args.store)),
                account_locks: Err(no_policy(args.store)),
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
    let store = open(&args).await?.index?;
    let now = SystemClock.now();
    match cmd {
        SessionsCommand::List { user, json } => {
            let sessions = match user {
                Some(u) => store.list_user(u, now).await?,
                None => store.list(now, 10_000).await?,
            };
            if *json {
                writeln!(out, "{}", serde_json::to_string_pretty(&sessions)?)?;
            } else {
                writeln!(
                    out,
                    "{:<24} {:<20} {:<12} {:<12} EXPIRES",
                    "HANDLE", "USER", "CREATED", "LAST_SEEN"
                )?;
                for s in &sessions {
                    writeln!(
                        out,
                        "{:<24} {:<20} {:<12} {:<12} {}",
                        s.handle,
                        s.user.as_deref().unwrap_or("-"),
                        s.created,
                        s.last_seen,
                        s.expires_at.map_or_else(|| "never".to_owned(), |t| t.to_string()),
                    )?;
                }
            }
        }
        SessionsCommand::Revoke { handle } => {
            let Some(h) = SessionHandle::parse(handle) else {
                bail!(
                    "{handle:?} is not a session handle (22 characters of base64url, as `sessions list` prints)"
                );
            };
            if !store.revoke(&h).await? {
                bail!("no live session has handle {h}");
            }
            writeln!(out, "revoked session {h}")?;
        }
        SessionsCommand::RevokeUser { user } => {
            let n = store.revoke_user(user).await?;
            writeln!(out, "revoked {n} session(s) of {user}")?;
        }
    }
    Ok(())
}
