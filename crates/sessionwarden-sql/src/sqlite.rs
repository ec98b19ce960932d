//! The SQLite store: one file, one writer connection, a few readers, WAL and `synchronous=FULL`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sessionwarden::{
    Record, SaveOutcome, SessionHandle, SessionInfo, SessionStore, StoreError, StoreKey, Timestamp,
};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row as _, Sqlite};

use crate::columns::{
    Columns, INFO_COLUMNS, InfoRow, bounded, db_version, decode_live, handle_range, is_unique_violation,
    sql_limit, unavailable,
};

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
/// `Debug` shows the database path.
///
/// ```no_run
/// # async fn f() -> Result<(), sessionwarden::StoreError> {
/// use sessionwarden_sql::SqliteStore;
/// let store = SqliteStore::open("data/sessions.db").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) writer: SqlitePool,
    pub(crate) reader: SqlitePool,
    location: Arc<str>,
}

impl SqliteStore {
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
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A local file's connection cannot break silently; pinging it before every use
            // would only add a round trip through SQLite's worker thread.
            .test_before_acquire(false)
            .idle_timeout(None)
            .max_lifetime(None)
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
        Ok(Self { writer, reader, location: path.display().to_string().into() })
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
    /// # async fn main() -> Result<(), sessionwarden::StoreError> {
    /// use sessionwarden::SessionStore;
    /// let store = sessionwarden_sql::SqliteStore::in_memory().await?;
    /// store.ping().await?;
    /// # Ok(()) }
    /// ```
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:").map_err(unavailable("open"))?;
        // Every connection to `:memory:` is a separate database, so there is exactly one, and
        // it must never be closed for idleness or age.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(unavailable("open"))?;
        migrate(&pool).await?;
        Ok(Self { writer: pool.clone(), reader: pool, location: ":memory:".into() })
    }

    /// Closes every connection, waiting for running operations to finish. Later operations
    /// on this store or its clones fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }
}

async fn migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut migrator = sqlx::migrate!("./migrations/sqlite");
    // The application may keep its own migrations in the same database and table.
    migrator.set_ignore_missing(true);
    migrator.run(pool).await.map_err(|e| StoreError::unavailable("migrate", e))
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.location).finish_non_exhaustive()
    }
}

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

/// Binds `c` as the next ten parameters, in the table's column order after `store_key`.
fn bind_columns<'q>(q: Query<'q>, c: &'q Columns) -> Query<'q> {
    q.bind(c.data.as_slice())
        .bind(c.version)
        .bind(c.created)
        .bind(c.last_seen)
        .bind(c.idle_deadline)
        .bind(c.absolute_deadline)
        .bind(c.expires_at)
        .bind(c.user_id.as_deref())
        .bind(c.ip_prefix.as_deref())
        .bind(c.ua_hash.as_deref())
}

fn info_row(row: &SqliteRow) -> Result<InfoRow, sqlx::Error> {
    Ok(InfoRow {
        store_key: row.try_get(0)?,
        created: row.try_get(1)?,
        last_seen: row.try_get(2)?,
        idle_deadline: row.try_get(3)?,
        absolute_deadline: row.try_get(4)?,
        user_id: row.try_get(5)?,
        ip_prefix: row.try_get(6)?,
        ua_hash: row.try_get(7)?,
    })
}

impl SqliteStore {
    async fn load_live(
        &self,
        key: &StoreKey,
        now: Timestamp,
        operation: &'static str,
    ) -> Result<Option<Record>, StoreError> {
        let data: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT data FROM sessionwarden_sessions \
             WHERE store_key = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(key.as_bytes().as_slice())
        .bind(now.unix())
        .fetch_optional(&self.reader)
        .await
        .map_err(unavailable(operation))?;
        data.map_or(Ok(None), |bytes| decode_live(&bytes, now))
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        bounded("load", self.load_live(key, now, "load")).await
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<bool, StoreError> {
        let c = Columns::new(record)?;
        // An expired row under the same key (not yet swept) may be replaced; a live one never.
        let q = sqlx::query(
            "INSERT INTO sessionwarden_sessions (store_key, data, version, created, last_seen, \
             idle_deadline, absolute_deadline, expires_at, user_id, ip_prefix, ua_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (store_key) DO UPDATE SET data = excluded.data, version = excluded.version, \
             created = excluded.created, last_seen = excluded.last_seen, \
             idle_deadline = excluded.idle_deadline, absolute_deadline = excluded.absolute_deadline, \
             expires_at = excluded.expires_at, user_id = excluded.user_id, \
             ip_prefix = excluded.ip_prefix, ua_hash = excluded.ua_hash \
             WHERE sessionwarden_sessions.expires_at IS NOT NULL \
             AND sessionwarden_sessions.expires_at <= $12",
        )
        .bind(key.as_bytes().as_slice());
        let q = bind_columns(q, &c).bind(record.last_seen.unix());
        let done =
            bounded("create", async { q.execute(&self.writer).await.map_err(unavailable("create")) }).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn save(&self, key: &StoreKey, record: &Record, expected: u64) -> Result<SaveOutcome, StoreError> {
        let c = Columns::new(record)?;
        let expected = db_version(expected)?;
        let now = record.last_seen;
        let q = sqlx::query(
            "UPDATE sessionwarden_sessions SET data = $2, version = $3, created = $4, \
             last_seen = $5, idle_deadline = $6, absolute_deadline = $7, expires_at = $8, \
             user_id = $9, ip_prefix = $10, ua_hash = $11 \
             WHERE store_key = $1 AND version = $12 AND (expires_at IS NULL OR expires_at > $13)",
        )
        .bind(key.as_bytes().as_slice());
        let q = bind_columns(q, &c).bind(expected).bind(now.unix());
        bounded("save", async {
            let done = q.execute(&self.writer).await.map_err(unavailable("save"))?;
            if done.rows_affected() == 1 {
                return Ok(SaveOutcome::Saved);
            }
            // Lost the race, or the record is gone: show the caller which.
            Ok(match self.load_live(key, now, "save").await? {
                Some(newer) => SaveOutcome::Conflict(newer),
                None => SaveOutcome::Missing,
            })
        })
        .await
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        bounded("delete", async {
            sqlx::query("DELETE FROM sessionwarden_sessions WHERE store_key = $1")
                .bind(key.as_bytes().as_slice())
                .execute(&self.writer)
                .await
                .map_err(unavailable("delete"))
        })
        .await?;
        Ok(())
    }

    async fn cycle(&self, from: &StoreKey, to: &StoreKey) -> Result<bool, StoreError> {
        // One statement is one transaction: the row changes key in place, so there is no
        // moment where both keys or neither load.
        let result = bounded("cycle", async {
            Ok(sqlx::query(
                "UPDATE sessionwarden_sessions SET store_key = $2 WHERE store_key = $1 \
                 AND NOT EXISTS (SELECT 1 FROM sessionwarden_sessions WHERE store_key = $2)",
            )
            .bind(from.as_bytes().as_slice())
            .bind(to.as_bytes().as_slice())
            .execute(&self.writer)
            .await)
        })
        .await?;
        match result {
            Ok(done) => Ok(done.rows_affected() == 1),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(StoreError::unavailable("cycle", e)),
        }
    }

    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<SessionInfo>, StoreError> {
        let sql = format!(
            "SELECT {INFO_COLUMNS} FROM sessionwarden_sessions \
             WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created"
        );
        let rows = bounded("list_user", async {
            sqlx::query(&sql)
                .bind(user)
                .bind(now.unix())
                .fetch_all(&self.reader)
                .await
                .map_err(unavailable("list_user"))
        })
        .await?;
        rows.iter().map(|row| info_row(row).map_err(unavailable("list_user"))?.into_info()).collect()
    }

    async fn list(&self, now: Timestamp, limit: usize) -> Result<Vec<SessionInfo>, StoreError> {
        let sql = format!(
            "SELECT {INFO_COLUMNS} FROM sessionwarden_sessions \
             WHERE expires_at IS NULL OR expires_at > $1 ORDER BY last_seen DESC LIMIT $2"
        );
        let rows = bounded("list", async {
            sqlx::query(&sql)
                .bind(now.unix())
                .bind(sql_limit(limit))
                .fetch_all(&self.reader)
                .await
                .map_err(unavailable("list"))
        })
        .await?;
        rows.iter().map(|row| info_row(row).map_err(unavailable("list"))?.into_info()).collect()
    }

    async fn revoke(&self, handle: &SessionHandle) -> Result<bool, StoreError> {
        let Some((low, high)) = handle_range(handle) else {
            return Ok(false);
        };
        let done = bounded("revoke", async {
            sqlx::query("DELETE FROM sessionwarden_sessions WHERE store_key >= $1 AND store_key <= $2")
                .bind(low.as_slice())
                .bind(high.as_slice())
                .execute(&self.writer)
                .await
                .map_err(unavailable("revoke"))
        })
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_user(&self, user: &str) -> Result<u64, StoreError> {
        // All writes share one connection, so no create can interleave with this statement:
        // a login is wholly before the revoke (and deleted) or wholly after it.
        let done = bounded("revoke_user", async {
            sqlx::query("DELETE FROM sessionwarden_sessions WHERE user_id = $1")
                .bind(user)
                .execute(&self.writer)
                .await
                .map_err(unavailable("revoke_user"))
        })
        .await?;
        Ok(done.rows_affected())
    }

    async fn sweep(&self, now: Timestamp, batch: usize) -> Result<u64, StoreError> {
        if batch == 0 {
            return Ok(0);
        }
        // Bounded by `batch` and driven by the expires_at index, so one call holds the write
        // lock briefly however many rows have expired.
        let done = bounded("sweep", async {
            sqlx::query(
                "DELETE FROM sessionwarden_sessions WHERE store_key IN (\
                 SELECT store_key FROM sessionwarden_sessions \
                 WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2)",
            )
            .bind(now.unix())
            .bind(sql_limit(batch))
            .execute(&self.writer)
            .await
            .map_err(unavailable("sweep"))
        })
        .await?;
        Ok(done.rows_affected())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        bounded("ping", async {
            sqlx::query("SELECT 1").execute(&self.reader).await.map_err(unavailable("ping"))?;
            sqlx::query("SELECT 1").execute(&self.writer).await.map_err(unavailable("ping"))
        })
        .await?;
        Ok(())
    }
}
