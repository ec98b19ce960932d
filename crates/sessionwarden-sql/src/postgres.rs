//! The PostgreSQL store: for a fleet of servers sharing sessions.

use std::str::FromStr;
use std::time::Duration;

use sessionwarden_core::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::columns::unavailable;
use crate::dialect::Postgres;
use crate::store::SqlStore;

/// How a [`PostgresStore`] connects: pool size, timeouts and the name it shows the server.
///
/// The defaults fail fast and recover by themselves: an operation waits at most one second
/// for a connection, every pooled connection is checked before use (so connections killed by
/// a database restart are replaced, not handed out), and idle connections are recycled.
///
/// ```
/// use std::time::Duration;
/// use sessionwarden_sql::PostgresOptions;
/// let options = PostgresOptions::default()
///     .with_max_connections(20)
///     .with_application_name("shop-sessions")
///     .with_acquire_timeout(Duration::from_millis(500));
/// assert_eq!(options.max_connections(), 20);
/// ```
#[derive(Clone, Debug)]
#[must_use = "options do nothing until passed to PostgresStore::connect_with"]
pub struct PostgresOptions {
    max_connections: u32,
    acquire_timeout: Duration,
    application_name: String,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            // An outage shows as a 503 within a second rather than requests piling up.
            acquire_timeout: Duration::from_secs(1),
            application_name: "sessionwarden".into(),
        }
    }
}

impl PostgresOptions {
    /// The most connections the pool opens (at least 1; default 10).
    pub fn with_max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long an operation waits for a connection before failing with
    /// [`StoreError::Unavailable`] (default 1 s).
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// The `application_name` the store's connections report to the server, as seen in
    /// `pg_stat_activity` (default `sessionwarden`).
    pub fn with_application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = name.into();
        self
    }

    /// The pool's size limit.
    #[must_use]
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }
}

/// Sessions in a PostgreSQL table, shared by every server of a fleet.
///
/// Writes are single statements under PostgreSQL's default `synchronous_commit = on`, so an
/// acknowledged write is durable. `Debug` shows the host, port, database, user and
/// application name, never the password.
///
/// ```no_run
/// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
/// use sessionwarden_sql::PostgresStore;
/// let store = PostgresStore::connect("postgres://sessions@db.internal/app").await?;
/// # Ok(()) }
/// ```
pub type PostgresStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects with [`PostgresOptions::default`] and brings the schema up to date.
    ///
    /// # Errors
    /// Returns [`StoreError::Unavailable`] if the URL does not parse, the server cannot be
    /// reached within the acquire timeout, or a migration fails.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects with `options` and brings the schema up to date.
    ///
    /// # Errors
    /// As [`PostgresStore::connect`].
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(unavailable("connect"))?
            .application_name(&options.application_name)
            // The server gives up on a statement that runs away (a lock queue, a stuck
            // sweep) before the client-side operation timeout fires.
            .options([("statement_timeout", "4s")]);
        let description = format!(
            "PostgresStore {{ host: {:?}, port: {}, database: {:?}, user: {:?}, application_name: {:?} }}",
            connect.get_host(),
            connect.get_port(),
            connect.get_database(),
            connect.get_username(),
            options.application_name,
        );
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            // Checking each connection before use costs a round trip but means a connection
            // the server killed (restart, failover, pg_terminate_backend) is replaced instead
            // of failing a request.
            .test_before_acquire(true)
            .idle_timeout(Some(Duration::from_secs(60)))
            .max_lifetime(Some(Duration::from_secs(30 * 60)))
            .connect_with(connect)
            .await
            .map_err(unavailable("connect"))?;
        let mut migrator = sqlx::migrate!("./migrations/postgres");
        // The application may keep its own migrations in the same database and table.
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await.map_err(|e| StoreError::unavailable("migrate", e))?;
        // Reads and writes share the pool: the server runs them side by side.
        Ok(Self::from_pools(pool, None, description))
    }
}
