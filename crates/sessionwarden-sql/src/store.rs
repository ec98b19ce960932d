//! The session store, written once for both SQL dialects.
//!
//! [`SqlStore`] holds a writer pool and, on SQLite files, a separate reader pool. Its operations
//! come in three groups, each an `impl` block of its own below, matching the three store
//! contracts: the core record operations ([`SessionStore`]'s load, create, save, delete, cycle,
//! ping), the index (list and revoke by handle or user), and deletion of expired rows (the
//! sweep). The trait implementation at the end only forwards to them.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;
use sessionwarden_core::{
    ExpiredDeletion, ListQuery, Record, SaveOutcome, SessionHandle, SessionIndex, SessionInfo, SessionPage,
    SessionStore, StoreError, StoreKey, Timestamp,
};
use sqlx::Pool;

use crate::columns::{
    Columns, INFO_COLUMNS, bounded, db_version, decode_live, handle_range, is_unique_violation, sql_limit,
    unavailable,
};
use crate::dialect::Dialect;
use crate::dialect::driver::Param;

/// The sqlx database of dialect `D`.
type Db<D> = <D as crate::dialect::driver::Driver>::Db;

/// Sessions in a SQL table, on SQLite or PostgreSQL.
///
/// Use it as [`SqliteStore`](crate::SqliteStore) or [`PostgresStore`](crate::PostgresStore);
/// their constructors set up the connections and the schema for each database, and everything
/// else (statements, expiry checks, error mapping, timeouts) is this one type. Cloning is cheap
/// and shares the connection pools.
///
/// `Debug` shows where the store points (a SQLite path; a PostgreSQL host, port, database, user
/// and application name), never a password.
pub struct SqlStore<D: Dialect> {
    writer: Pool<Db<D>>,
    /// A pool of its own for reads (a SQLite file in WAL mode); `None` when the writer pool
    /// serves reads too.
    reader: Option<Pool<Db<D>>>,
    description: Arc<str>,
    dialect: PhantomData<fn() -> D>,
}

impl<D: Dialect> SqlStore<D> {
    /// A store over open, migrated pools. `description` is its whole `Debug` output.
    pub(crate) fn from_pools(writer: Pool<Db<D>>, reader: Option<Pool<Db<D>>>, description: String) -> Self {
        Self { writer, reader, description: description.into(), dialect: PhantomData }
    }

    /// Closes every connection, waiting for running operations to finish. Later operations
    /// on this store or its clones fail with [`StoreError::Unavailable`].
    pub async fn close(&self) {
        self.writer.close().await;
        if let Some(reader) = &self.reader {
            reader.close().await;
        }
    }

    fn reader(&self) -> &Pool<Db<D>> {
        self.reader.as_ref().unwrap_or(&self.writer)
    }

    /// The pool writes go to (SQLite's single writer connection orders them).
    pub(crate) fn writer_pool(&self) -> &Pool<Db<D>> {
        &self.writer
    }

    /// The pool reads go to.
    pub(crate) fn reader_pool(&self) -> &Pool<Db<D>> {
        self.reader()
    }
}

impl<D: Dialect> Clone for SqlStore<D> {
    fn clone(&self) -> Self {
        Self {
            writer: self.writer.clone(),
            reader: self.reader.clone(),
            description: self.description.clone(),
            dialect: PhantomData,
        }
    }
}

impl<D: Dialect> fmt::Debug for SqlStore<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Built by the constructor from the parsed options; a password was never copied in.
        f.write_str(&self.description)
    }
}

/// `store_key`, then a record's eleven columns in the table's order, then `tail`.
pub(crate) fn row_params<'a>(key: &'a StoreKey, c: &'a Columns, tail: &[Param<'a>]) -> Vec<Param<'a>> {
    let mut params = vec![
        Param::Bytes(key.as_bytes().as_slice()),
        Param::Bytes(c.data.as_slice()),
        Param::Int(c.version),
        Param::Int(c.created),
        Param::Int(c.last_seen),
        Param::OptInt(c.idle_deadline),
        Param::OptInt(c.absolute_deadline),
        Param::OptInt(c.expires_at),
        Param::OptText(c.user_id.as_deref()),
        Param::OptText(c.ip_prefix.as_deref()),
        Param::OptText(c.ua_hash.as_deref()),
        Param::OptText(c.client_info.as_deref()),
    ];
    params.extend_from_slice(tail);
    params
}

const LOAD: &str = "SELECT data FROM sessionwarden_sessions \
     WHERE store_key = $1 AND (expires_at IS NULL OR expires_at > $2)";

// An expired row under the same key (not yet swept) may be replaced; a live one never. ON
// CONFLICT makes the check and the write one atomic step against concurrent creates.
pub(crate) const CREATE: &str = "INSERT INTO sessionwarden_sessions (store_key, data, version, created, last_seen, \
     idle_deadline, absolute_deadline, expires_at, user_id, ip_prefix, ua_hash, client_info) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
     ON CONFLICT (store_key) DO UPDATE SET data = excluded.data, version = excluded.version, \
     created = excluded.created, last_seen = excluded.last_seen, \
     idle_deadline = excluded.idle_deadline, absolute_deadline = excluded.absolute_deadline, \
     expires_at = excluded.expires_at, user_id = excluded.user_id, \
     ip_prefix = excluded.ip_prefix, ua_hash = excluded.ua_hash, client_info = excluded.client_info \
     WHERE sessionwarden_sessions.expires_at IS NOT NULL \
     AND sessionwarden_sessions.expires_at <= $13";

const SAVE: &str = "UPDATE sessionwarden_sessions SET data = $2, version = $3, created = $4, \
     last_seen = $5, idle_deadline = $6, absolute_deadline = $7, expires_at = $8, \
     user_id = $9, ip_prefix = $10, ua_hash = $11, client_info = $12 \
     WHERE store_key = $1 AND version = $13 AND (expires_at IS NULL OR expires_at > $14)";

// One statement is one transaction: the row changes key in place, so there is no moment where
// both keys or neither load. On PostgreSQL, a concurrent insert under `to` that the NOT EXISTS
// could not see yet trips the primary key instead, and `cycle` reports "taken".
const CYCLE: &str = "UPDATE sessionwarden_sessions SET store_key = $2 WHERE store_key = $1 \
     AND NOT EXISTS (SELECT 1 FROM sessionwarden_sessions WHERE store_key = $2)";

/// The core record operations: what the session layer needs on every request.
impl<D: Dialect> SqlStore<D> {
    /// The live record under `key` at `now`, read on the reader pool.
    async fn load_live(
        &self,
        key: &StoreKey,
        now: Timestamp,
        operation: &'static str,
    ) -> Result<Option<Record>, StoreError> {
        let params = [Param::Bytes(key.as_bytes().as_slice()), Param::Int(now.unix())];
        let data = D::fetch_bytes(self.reader(), LOAD, &params).await.map_err(unavailable(operation))?;
        data.map_or(Ok(None), |bytes| decode_live(&bytes, now))
    }

    /// [`SessionStore::load`].
    async fn load_record(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        bounded("load", self.load_live(key, now, "load")).await
    }

    /// [`SessionStore::create`]: inserts, never overwriting a live row.
    async fn create_record(&self, key: &StoreKey, record: &Record) -> Result<bool, StoreError> {
        let c = Columns::new(record)?;
        let params = row_params(key, &c, &[Param::Int(record.last_seen.unix())]);
        let changed = bounded("create", async {
            D::execute(&self.writer, CREATE, &params).await.map_err(unavailable("create"))
        })
        .await?;
        Ok(changed == 1)
    }

    /// [`SessionStore::save`]: compare-and-set on `version`.
    async fn save_record(
        &self,
        key: &StoreKey,
        record: &Record,
        expected: u64,
    ) -> Result<SaveOutcome, StoreError> {
        let c = Columns::new(record)?;
        let now = record.last_seen;
        let params = row_params(key, &c, &[Param::Int(db_version(expected)?), Param::Int(now.unix())]);
        bounded("save", async {
            let changed = D::execute(&self.writer, SAVE, &params).await.map_err(unavailable("save"))?;
            if changed == 1 {
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

    /// [`SessionStore::delete`].
    async fn delete_record(&self, key: &StoreKey) -> Result<(), StoreError> {
        let params = [Param::Bytes(key.as_bytes().as_slice())];
        bounded("delete", async {
            D::execute(&self.writer, "DELETE FROM sessionwarden_sessions WHERE store_key = $1", &params)
                .await
                .map_err(unavailable("delete"))
        })
        .await?;
        Ok(())
    }

    /// [`SessionStore::cycle`]: moves the row to `to` in one statement.
    async fn cycle_record(&self, from: &StoreKey, to: &StoreKey) -> Result<bool, StoreError> {
        let params = [Param::Bytes(from.as_bytes().as_slice()), Param::Bytes(to.as_bytes().as_slice())];
        let result = bounded("cycle", async { Ok(D::execute(&self.writer, CYCLE, &params).await) }).await?;
        match result {
            Ok(changed) => Ok(changed == 1),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(StoreError::unavailable("cycle", e)),
        }
    }

    /// [`SessionStore::ping`]: every pool answers.
    async fn ping_pools(&self) -> Result<(), StoreError> {
        bounded("ping", async {
            if let Some(reader) = &self.reader {
                D::execute(reader, "SELECT 1", &[]).await.map_err(unavailable("ping"))?;
            }
            D::execute(&self.writer, "SELECT 1", &[]).await.map_err(unavailable("ping"))
        })
        .await?;
        Ok(())
    }
}

/// The index: listing and revoking sessions by handle or by user, from the metadata columns
/// alone (never decoding `data`, so a corrupt row still lists and can be revoked).
impl<D: Dialect> SqlStore<D> {
    /// The live sessions of `user` at `now`, oldest first.
    async fn list_user_sessions(&self, user: &str, now: Timestamp) -> Result<Vec<SessionInfo>, StoreError> {
        let sql = format!(
            "SELECT {INFO_COLUMNS} FROM sessionwarden_sessions \
             WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created"
        );
        let params = [Param::Text(user), Param::Int(now.unix())];
        let rows = bounded("list_user", async {
            D::fetch_info(self.reader(), &sql, &params).await.map_err(unavailable("list_user"))
        })
        .await?;
        rows.into_iter().map(|row| row.into_info()).collect()
    }

    /// Up to `limit` live sessions at `now`, the most recently seen first.
    async fn list_sessions(&self, now: Timestamp, limit: usize) -> Result<Vec<SessionInfo>, StoreError> {
        let sql = format!(
            "SELECT {INFO_COLUMNS} FROM sessionwarden_sessions \
             WHERE expires_at IS NULL OR expires_at > $1 ORDER BY last_seen DESC LIMIT $2"
        );
        let params = [Param::Int(now.unix()), Param::Int(sql_limit(limit))];
        let rows = bounded("list", async {
            D::fetch_info(self.reader(), &sql, &params).await.map_err(unavailable("list"))
        })
        .await?;
        rows.into_iter().map(|row| row.into_info()).collect()
    }

    /// One page in store-key order after `query.after`: a range read on the primary key
    /// (`store_key > cursor ORDER BY store_key LIMIT n+1`), so any page of a million-row table
    /// costs about the same as the first. With a user, the user's index finds their rows and
    /// the database sorts just those.
    async fn list_page_of(&self, query: &ListQuery, now: Timestamp) -> Result<SessionPage, StoreError> {
        if query.limit == 0 {
            return Ok(SessionPage::default());
        }
        // No cursor: the empty key, which sorts before every 32-byte key.
        let cursor = match &query.after {
            None => Vec::new(),
            Some(h) => match h.cursor_key() {
                Some(k) => k.as_bytes().to_vec(),
                None => return Ok(SessionPage::default()),
            },
        };
        let want = sql_limit(query.limit.saturating_add(1));
        let live = "(expires_at IS NULL OR expires_at > $2)";
        let (sql, params) = match &query.user {
            None => (
                format!(
                    "SELECT {INFO_COLUMNS} FROM sessionwarden_sessions \
                     WHERE store_key > $1 AND {live} ORDER BY store_key LIMIT $3"
                ),
                vec![Param::Bytes(cursor.as_slice()), Param::Int(now.unix()), Param::Int(want)],
            ),
            Some(user) => (
                format!(
                    "SELECT {INFO_COLUMNS} FROM sessionwarden_sessions \
                     WHERE store_key > $1 AND {live} AND user_id = $4 ORDER BY store_key LIMIT $3"
                ),
                vec![
                    Param::Bytes(cursor.as_slice()),
                    Param::Int(now.unix()),
                    Param::Int(want),
                    Param::Text(user.as_str()),
                ],
            ),
        };
        let rows = bounded("list_page", async {
            D::fetch_info(self.reader(), &sql, &params).await.map_err(unavailable("list_page"))
        })
        .await?;
        let mut sessions = rows.into_iter().map(|row| row.into_info()).collect::<Result<Vec<_>, _>>()?;
        let more = sessions.len() > query.limit;
        sessions.truncate(query.limit);
        Ok(SessionPage::new(sessions, more))
    }

    /// How many live rows (of `user`): `COUNT(*)`, a scan of every live row (or of the user's
    /// rows through their index).
    async fn count_live(&self, user: Option<&str>, now: Timestamp) -> Result<u64, StoreError> {
        let live = "(expires_at IS NULL OR expires_at > $1)";
        let (sql, params) = match user {
            None => (
                format!("SELECT COUNT(*) FROM sessionwarden_sessions WHERE {live}"),
                vec![Param::Int(now.unix())],
            ),
            Some(u) => (
                format!("SELECT COUNT(*) FROM sessionwarden_sessions WHERE user_id = $2 AND {live}"),
                vec![Param::Int(now.unix()), Param::Text(u)],
            ),
        };
        let n = bounded("count", async {
            D::fetch_int(self.reader(), &sql, &params).await.map_err(unavailable("count"))
        })
        .await?;
        Ok(n.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    /// Deletes the session `handle` names, by a primary-key range (a point lookup at any table
    /// size). Whether one was found.
    async fn revoke_handle(&self, handle: &SessionHandle) -> Result<bool, StoreError> {
        let Some((low, high)) = handle_range(handle) else {
            return Ok(false);
        };
        let params = [Param::Bytes(low.as_slice()), Param::Bytes(high.as_slice())];
        let changed = bounded("revoke", async {
            D::execute(
                &self.writer,
                "DELETE FROM sessionwarden_sessions WHERE store_key >= $1 AND store_key <= $2",
                &params,
            )
            .await
            .map_err(unavailable("revoke"))
        })
        .await?;
        Ok(changed > 0)
    }

    /// Deletes every session of `user`; how many.
    async fn revoke_user_sessions(&self, user: &str) -> Result<u64, StoreError> {
        // One statement, so no create interleaves with it: a login is wholly before the revoke
        // (and deleted) or wholly after it (a new login, not a survivor; a later revoke_user
        // removes it). On SQLite all writes share one connection; on PostgreSQL the statement
        // deletes every session of `user` committed before its snapshot.
        let params = [Param::Text(user)];
        bounded("revoke_user", async {
            D::execute(&self.writer, "DELETE FROM sessionwarden_sessions WHERE user_id = $1", &params)
                .await
                .map_err(unavailable("revoke_user"))
        })
        .await
    }
}

/// Deleting expired rows, in bounded batches (the sweeper's work).
impl<D: Dialect> SqlStore<D> {
    /// Deletes at most `batch` rows expired at `now`; how many.
    async fn delete_expired_rows(&self, now: Timestamp, batch: usize) -> Result<u64, StoreError> {
        if batch == 0 {
            return Ok(0);
        }
        // Bounded by `batch` and driven by the expires_at index, so one call holds the write
        // lock briefly however many rows have expired.
        let sql = format!(
            "DELETE FROM sessionwarden_sessions WHERE store_key IN (\
             SELECT store_key FROM sessionwarden_sessions \
             WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER BY expires_at LIMIT $2{})",
            D::SWEEP_LOCK
        );
        let params = [Param::Int(now.unix()), Param::Int(sql_limit(batch))];
        bounded("sweep", async {
            D::execute(&self.writer, &sql, &params).await.map_err(unavailable("sweep"))
        })
        .await
    }
}

#[async_trait]
impl<D: Dialect> SessionStore for SqlStore<D> {
    // Core.
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        self.load_record(key, now).await
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<bool, StoreError> {
        self.create_record(key, record).await
    }

    async fn save(&self, key: &StoreKey, record: &Record, expected: u64) -> Result<SaveOutcome, StoreError> {
        self.save_record(key, record, expected).await
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.delete_record(key).await
    }

    async fn cycle(&self, from: &StoreKey, to: &StoreKey) -> Result<bool, StoreError> {
        self.cycle_record(from, to).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.ping_pools().await
    }
}

#[async_trait]
impl<D: Dialect> SessionIndex for SqlStore<D> {
    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<SessionInfo>, StoreError> {
        self.list_user_sessions(user, now).await
    }

    async fn list(&self, now: Timestamp, limit: usize) -> Result<Vec<SessionInfo>, StoreError> {
        self.list_sessions(now, limit).await
    }

    async fn list_page(&self, query: &ListQuery, now: Timestamp) -> Result<SessionPage, StoreError> {
        self.list_page_of(query, now).await
    }

    async fn count(&self, user: Option<&str>, now: Timestamp) -> Result<u64, StoreError> {
        self.count_live(user, now).await
    }

    async fn revoke(&self, handle: &SessionHandle) -> Result<bool, StoreError> {
        self.revoke_handle(handle).await
    }

    async fn revoke_user(&self, user: &str) -> Result<u64, StoreError> {
        self.revoke_user_sessions(user).await
    }
}

#[async_trait]
impl<D: Dialect> ExpiredDeletion for SqlStore<D> {
    async fn delete_expired(&self, now: Timestamp, batch: usize) -> Result<u64, StoreError> {
        self.delete_expired_rows(now, batch).await
    }
}
