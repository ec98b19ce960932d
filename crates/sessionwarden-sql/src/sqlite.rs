//! The SQLite store: one file, one writer connection, a few readers, WAL and `synchronous=FULL`.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sessionwarden_core::StoreError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::columns::unavailable;
use crate::dialect::Sqlite;
use crate::store::SqlStore;

/// How long a connection waits on SQLite's file lock before giving up. Only other processes
/// can hold it (this store funnels its own writes through one connection), e.g. a backup or
/// the `sessionwarden sessions` CLI run beside the server.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long an operation waits for a pooled connection. Waiting here is queueing behind this
/// process's other writes, not a network outage, so it is longer than PostgreSQL's; past it
/// the store is overloaded and the request fails closed.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Read connections. WAL lets readers run beside the writer; more than the machine's cores
/// buys nothing for point lookups.
const READERS: u32 = 4;

/// Sessions in a SQLite database file: the embedded default for a single server.
///
/// The database runs in WAL mode with `synchronous = FULL`, so a write that `create`, `save`
/// or `delete` acknowledged survives `kill -9` and power loss. All writes go through one
/// connection (SQLite allows one writer at a time; queueing in the pool is fairer and cheaper
/// than letting connections spin on the file lock), and reads use a small pool of their own.
///
/// `Debug` shows the database path. The statements are [`SqlStore`]'s, shared with
/// [`PostgresStore`](crate::PostgresStore).
///
/// ```no_run
/// # async fn f() -> Result<(), sessionwarden_core::StoreError> {
/// use sessionwarden_sql::SqliteStore;
/// let store = SqliteStore::open("data/sessions.db").await?;
/// # Ok(()) }
/// ```
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// # Errors
    /// Returns [`StoreError::Unavailable`] if the file cannot be opened or created, or a
    /// migration fails.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path: PathBuf = path.as_ref().to_owned();
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: the WAL is fsynced at every commit, so an acknowledged write survives
            // power loss (NORMAL, the usual WAL pairing, may lose the last commits).
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        let writer = one_connection()
            .connect_with(options.clone().create_if_missing(true))
            .await
            .map_err(unavailable("open"))?;
        migrate(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(unavailable("open"))?;
        Ok(Self::from_pools(writer, Some(reader), describe(&path.display().to_string())))
    }

    /// A private in-memory database, lost when the store (and its clones) are dropped.
    ///
    /// For tests and demos: it has one connection for reads and writes, and no durability.
    ///
    /// # Errors
    /// Returns [`StoreError::Unavailable`] if SQLite cannot start or the migration fails.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), sessionwarden_core::StoreError> {
    /// use sessionwarden_core::SessionStore;
    /// let store = sessionwarden_sql::SqliteStore::in_memory().await?;
    /// store.ping().await?;
    /// # Ok(()) }
    /// ```
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:").map_err(unavailable("open"))?;
        // Every connection to `:memory:` is a separate database, so there is exactly one.
        let pool = one_connection().connect_with(options).await.map_err(unavailable("open"))?;
        migrate(&pool).await?;
        Ok(Self::from_pools(pool, None, describe(":memory:")))
    }
}

/// A pool of exactly one connection that is never closed for idleness or age: the writer (SQLite
/// allows one at a time), or the only connection to an in-memory database.
fn one_connection() -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // A local file's connection cannot break silently; pinging it before every use
        // would only add a round trip through SQLite's worker thread.
        .test_before_acquire(false)
        .idle_timeout(None)
        .max_lifetime(None)
}

async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut migrator = sqlx::migrate!("./migrations/sqlite");
    // The application may keep its own migrations in the same database and table.
    migrator.set_ignore_missing(true);
    migrator.run(pool).await.map_err(|e| StoreError::unavailable("migrate", e))
}

/// The store's `Debug` output: the database's location.
fn describe(location: &str) -> String {
    format!("SqliteStore {{ path: {location:?}, .. }}")
}
