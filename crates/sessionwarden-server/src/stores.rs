//! Opening the configured store, and the `sessions` admin commands that act on it.

use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use sessionwarden::{
    Backend, Clock as _, CookieStore, MemoryStore, SessionHandle, SessionStore, SystemClock,
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

/// The session backend for `args`, and the server-side store behind it (none for cookies).
///
/// # Errors
/// When the store cannot be opened or reached.
pub async fn open(args: &StoreSettings) -> Result<(Backend, Option<Arc<dyn SessionStore>>)> {
    let store: Arc<dyn SessionStore> = match args.store {
        StoreKind::Cookie => {
            let store = if args.encrypt_cookies { CookieStore::encrypted() } else { CookieStore::signed() };
            return Ok((store.into(), None));
        }
        StoreKind::Memory => Arc::new(MemoryStore::with_capacity(args.memory_capacity)),
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
        StoreKind::Redis => {
            let store = RedisStore::connect_any(&args.redis_url).await.context("Redis store")?;
            let store =
                store.try_with_prefix(args.redis_prefix.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
            if args.local_cache > 0 {
                Arc::new(store.with_local_cache(args.local_cache).await)
            } else {
                Arc::new(store)
            }
        }
        StoreKind::FlaskCookie => return Ok((crate::flask::cookie_store(args)?.into(), None)),
        StoreKind::FlaskRedis => {
            let store = sessionwarden_flask::adapter::FlaskRedisStore::connect(&args.redis_url)
                .await
                .context("Flask-Session Redis store")?
                .with_prefix(args.redis_prefix.clone())
                .with_lifetime(args.permanent_session_lifetime);
            Arc::new(store)
        }
    };
    Ok((Backend::Server(store.clone()), Some(store)))
}

/// Runs a `sessions` subcommand against the store `args` configure, writing to `out`.
///
/// # Errors
/// When the store cannot be reached, the handle is malformed, or nothing matched.
pub async fn run(cmd: &SessionsCommand, args: &StoreSettings, out: &mut impl std::io::Write) -> Result<()> {
    // Through the cache on Redis, so a revocation from the CLI is published to the servers'
    // local caches (if they run one) instead of waiting out their time to live.
    let mut args = args.clone();
    if matches!(args.store, StoreKind::Redis) && args.local_cache == 0 {
        args.local_cache = 1;
    }
    let (_, store) = open(&args).await?;
    let Some(store) = store else {
        bail!(
            "the cookie store keeps nothing on the server: there is nothing to list or revoke (rotate and retire keys instead)"
        );
    };
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
