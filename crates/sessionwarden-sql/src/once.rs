//! One-time keys in SQL (schema version 3): the statements behind
//! [`OneTimeKeys`](sessionwarden_core::store::OneTimeKeys) for both dialects.
//!
//! Table `sessionwarden_once_keys`: `once_key` (the 32-byte [`OnceKey`], already a SHA-256 of
//! namespace and value, primary key) and `expires_at` (Unix seconds, caller's clock). A key is
//! live while `now < expires_at`.
//!
//! Both operations are one statement, atomic under concurrency on either database:
//!
//! - `put`: `INSERT … ON CONFLICT DO UPDATE … WHERE` the stored key has expired: it writes a
//!   row (a new key, or one replacing an expired key) or, if a live key is there, nothing;
//! - `take`: `DELETE … WHERE once_key = $1 AND expires_at > now`: of concurrent takes exactly
//!   one deletes the row.
//!
//! Expired rows block nothing and are never taken; [`SqliteStore::purge_expired_capabilities`](crate::SqliteStore::purge_expired_capabilities)
//! (and its PostgreSQL twin)
//! deletes them in batches to reclaim space.

use sessionwarden_core::store::OnceKey;
use sessionwarden_core::{StoreError, Timestamp};

use crate::columns::{bounded, sql_limit, unavailable};

const PUT: &str = "INSERT INTO sessionwarden_once_keys (once_key, expires_at) VALUES ($1, $2) \
     ON CONFLICT (once_key) DO UPDATE SET expires_at = excluded.expires_at \
     WHERE sessionwarden_once_keys.expires_at <= $3";
const LIVE: &str = "SELECT count(*) FROM sessionwarden_once_keys WHERE once_key = $1 AND expires_at > $2";
const TAKE: &str = "DELETE FROM sessionwarden_once_keys WHERE once_key = $1 AND expires_at > $2";
const PURGE: &str = "DELETE FROM sessionwarden_once_keys WHERE once_key IN (SELECT once_key FROM \
     sessionwarden_once_keys WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)";

macro_rules! dialect {
    ($module:ident, $db:ty) => {
        pub(crate) mod $module {
            use super::*;

            type Pool = sqlx::Pool<$db>;

            /// Stores `key` until `expires_at` unless a live one is there (writer pool; `reader`
            /// answers the already-expired case, which writes nothing).
            pub(crate) async fn put(
                writer: &Pool,
                reader: &Pool,
                key: &OnceKey,
                expires_at: Timestamp,
                now: Timestamp,
            ) -> Result<bool, StoreError> {
                const OP: &str = "once_put";
                bounded(OP, async {
                    if expires_at <= now {
                        // It could never be taken: store nothing, only say whether a live one
                        // is there.
                        let live: i64 = sqlx::query_scalar(LIVE)
                            .bind(&key.as_bytes()[..])
                            .bind(now.unix())
                            .fetch_one(reader)
                            .await
                            .map_err(unavailable(OP))?;
                        return Ok(live == 0);
                    }
                    let done = sqlx::query(PUT)
                        .bind(&key.as_bytes()[..])
                        .bind(expires_at.unix())
                        .bind(now.unix())
                        .execute(writer)
                        .await
                        .map_err(unavailable(OP))?;
                    Ok(done.rows_affected() == 1)
                })
                .await
            }

            /// Removes `key` if it is live at `now`; whether it was (writer pool).
            pub(crate) async fn take(
                writer: &Pool,
                key: &OnceKey,
                now: Timestamp,
            ) -> Result<bool, StoreError> {
                bounded("once_take", async {
                    let done = sqlx::query(TAKE)
                        .bind(&key.as_bytes()[..])
                        .bind(now.unix())
                        .execute(writer)
                        .await
                        .map_err(unavailable("once_take"))?;
                    Ok(done.rows_affected() == 1)
                })
                .await
            }

            /// Deletes up to `batch` keys expired at `now`.
            pub(crate) async fn purge_expired(
                writer: &Pool,
                now: Timestamp,
                batch: usize,
            ) -> Result<u64, StoreError> {
                bounded("once_purge", async {
                    let done = sqlx::query(PURGE)
                        .bind(now.unix())
                        .bind(sql_limit(batch))
                        .execute(writer)
                        .await
                        .map_err(unavailable("once_purge"))?;
                    Ok(done.rows_affected())
                })
                .await
            }
        }
    };
}

#[cfg(feature = "sqlite")]
dialect!(sqlite, sqlx::Sqlite);
#[cfg(feature = "postgres")]
dialect!(postgres, sqlx::Postgres);
