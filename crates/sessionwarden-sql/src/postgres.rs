//! The PostgreSQL store: for a fleet of servers sharing sessions.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sessionwarden::{
    Record, SaveOutcome, SessionHandle, SessionInfo, SessionStore, StoreError, StoreKey, Timestamp,
};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row as _};

use crate::columns::{
    Columns, INFO_COLUMNS, InfoRow, bounded, db_version, decode_live, handle_range, is_unique_violation,
    sql_limit, unavailable,
};

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
/// # async fn f() -> Result<(), sessionwarden::StoreError> {
/// use sessionwarden_sql::PostgresStore;
/// let store = PostgresStore::connect("postgres://sessions@db.internal/app").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    description: Arc<str>,
}

impl PostgresStore {
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
        Ok(Self { pool, description: description.into() })
    }

    /// Closes every connection, waiting for running operations to finish. Later operations
    /// on this store or its clones fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Built from the parsed options at connect time; the password was never copied in.
        f.write_str(&self.description)
    }
}

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

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

fn info_row(row: &PgRow) -> Result<InfoRow, sqlx::Error> {
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

impl PostgresStore {
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
        .fetch_optional(&self.pool)
        .await
        .map_err(unavailable(operation))?;
        data.map_or(Ok(None), |bytes| decode_live(&bytes, now))
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        bounded("load", self.load_live(key, now, "load")).await
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<bool, StoreError> {
        let c = Columns::new(record)?;
        // An expired row under the same key (not yet swept) may be replaced; a live one never.
        // ON CONFLICT makes the check and the write one atomic step against concurrent creates.
        let q = sqlx::query(
            "INSERT INTO sessionwarden_sessions (store_key, data, version, created, last_seen, \
             idle_deadline, absolute_deadline, expires_at, user_id, ip_prefix, ua_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (store_key) DO UPDATE SET data = EXCLUDED.data, version = EXCLUDED.version, \
             created = EXCLUDED.created, last_seen = EXCLUDED.last_seen, \
             idle_deadline = EXCLUDED.idle_deadline, absolute_deadline = EXCLUDED.absolute_deadline, \
             expires_at = EXCLUDED.expires_at, user_id = EXCLUDED.user_id, \
             ip_prefix = EXCLUDED.ip_prefix, ua_hash = EXCLUDED.ua_hash \
             WHERE sessionwarden_sessions.expires_at IS NOT NULL \
             AND sessionwarden_sessions.expires_at <= $12",
        )
        .bind(key.as_bytes().as_slice());
        let q = bind_columns(q, &c).bind(record.last_seen.unix());
        let done =
            bounded("create", async { q.execute(&self.pool).await.map_err(unavailable("create")) }).await?;
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
            let done = q.execute(&self.pool).await.map_err(unavailable("save"))?;
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
                .execute(&self.pool)
                .await
                .map_err(unavailable("delete"))
        })
        .await?;
        Ok(())
    }

    async fn cycle(&self, from: &StoreKey, to: &StoreKey) -> Result<bool, StoreError> {
        // One statement is one transaction: the row changes key in place, so there is no
        // moment where both keys or neither load. A concurrent insert under `to` that the
        // NOT EXISTS could not see yet trips the primary key instead, and we report "taken".
        let result = bounded("cycle", async {
            Ok(sqlx::query(
                "UPDATE sessionwarden_sessions SET store_key = $2 WHERE store_key = $1 \
                 AND NOT EXISTS (SELECT 1 FROM sessionwarden_sessions WHERE store_key = $2)",
            )
            .bind(from.as_bytes().as_slice())
            .bind(to.as_bytes().as_slice())
            .execute(&self.pool)
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
                .fetch_all(&self.pool)
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
                .fetch_all(&self.pool)
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
                .execute(&self.pool)
                .await
                .map_err(unavailable("revoke"))
        })
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_user(&self, user: &str) -> Result<u64, StoreError> {
        // One statement, one snapshot: every session of `user` committed before it started is
        // deleted. A login that commits after that point is ordered after the revoke (it is a
        // new login, not a survivor), and a later revoke_user removes it.
        let done = bounded("revoke_user", async {
            sqlx::query("DELETE FROM sessionwarden_sessions WHERE user_id = $1")
                .bind(user)
                .execute(&self.pool)
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
        // Bounded by `batch` and driven by the expires_at index. SKIP LOCKED lets sweepers on
        // several servers share the work instead of queueing on each other's rows.
        let done = bounded("sweep", async {
            sqlx::query(
                "DELETE FROM sessionwarden_sessions WHERE store_key IN (\
                 SELECT store_key FROM sessionwarden_sessions \
                 WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2 \
                 FOR UPDATE SKIP LOCKED)",
            )
            .bind(now.unix())
            .bind(sql_limit(batch))
            .execute(&self.pool)
            .await
            .map_err(unavailable("sweep"))
        })
        .await?;
        Ok(done.rows_affected())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        bounded("ping", async {
            sqlx::query("SELECT 1").execute(&self.pool).await.map_err(unavailable("ping"))
        })
        .await?;
        Ok(())
    }
}
