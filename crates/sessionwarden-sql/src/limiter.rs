//! GCRA rate-limit state in SQL (schema version 3): the statements behind
//! [`RateLimitStore`](sessionwarden_core::store::RateLimitStore) for both dialects.
//!
//! Table `sessionwarden_rate_limits`: `name` (the caller's key, primary key) and `tat`, its
//! theoretical arrival time in Unix milliseconds on the caller's clock.
//!
//! Each check is one transaction that reads the row, runs [`gcra_step`] in Rust (so the
//! decision is exactly the reference's, with its saturating arithmetic) and writes the new
//! TAT back; a refused or zero-cost check writes nothing. It is atomic under concurrency:
//!
//! - PostgreSQL reads with `SELECT … FOR UPDATE`, which makes concurrent checks of one key
//!   queue on its row (of two first checks of a new key, the second's `INSERT … ON CONFLICT
//!   DO NOTHING` inserts nothing, and it runs the step again on the row the first wrote);
//! - SQLite runs it in a `BEGIN IMMEDIATE` transaction, which takes the database's write lock
//!   before the read, so checks from every connection to the file (other processes included)
//!   happen one after another.
//!
//! A row whose `tat` is at or before the caller's now means exactly what a missing row means,
//! so state expires by itself; [`SqliteStore::purge_expired_capabilities`](crate::SqliteStore::purge_expired_capabilities)
//! (and its PostgreSQL twin) deletes such rows in
//! batches to reclaim space. Keep the clocks of the nodes sharing the table synchronised: the
//! decisions are only as consistent as they are.

use sessionwarden_core::StoreError;
use sessionwarden_core::store::{Rate, RateDecision, gcra_step};

use crate::columns::{bounded, sql_limit, unavailable};

/// How often a check re-runs after losing the race to create a key's first row.
const INSERT_ATTEMPTS: usize = 3;

const UPDATE: &str = "UPDATE sessionwarden_rate_limits SET tat = $1 WHERE name = $2";
const INSERT: &str =
    "INSERT INTO sessionwarden_rate_limits (name, tat) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING";
const PURGE: &str = "DELETE FROM sessionwarden_rate_limits WHERE name IN (SELECT name FROM \
     sessionwarden_rate_limits WHERE tat <= $1 ORDER BY tat LIMIT $2)";

macro_rules! dialect {
    ($module:ident, $db:ty, $select:literal, $begin:ident) => {
        pub(crate) mod $module {
            use super::*;

            type Pool = sqlx::Pool<$db>;

            /// One atomic GCRA step on `name` (the pool must be the store's writer).
            pub(crate) async fn check(
                pool: &Pool,
                name: &str,
                rate: Rate,
                cost: u32,
                now_ms: i64,
            ) -> Result<RateDecision, StoreError> {
                const OP: &str = "rate_limit_check";
                bounded(OP, async {
                    for _ in 0..INSERT_ATTEMPTS {
                        let mut tx = super::$begin(pool).await.map_err(unavailable(OP))?;
                        let tat: Option<i64> = sqlx::query_scalar($select)
                            .bind(name)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(unavailable(OP))?;
                        let (decision, stored) = gcra_step(tat, now_ms, rate, cost);
                        if let Some(new_tat) = stored {
                            let write = match tat {
                                Some(_) => sqlx::query(UPDATE).bind(new_tat).bind(name),
                                None => sqlx::query(INSERT).bind(name).bind(new_tat),
                            };
                            let done = write.execute(&mut *tx).await.map_err(unavailable(OP))?;
                            if done.rows_affected() == 0 {
                                // Another check created the row first: step again on it.
                                tx.rollback().await.map_err(unavailable(OP))?;
                                continue;
                            }
                        }
                        tx.commit().await.map_err(unavailable(OP))?;
                        return Ok(decision);
                    }
                    Err(StoreError::unavailable(OP, "rate-limit row kept appearing and vanishing"))
                })
                .await
            }

            /// Deletes up to `batch` rows whose state has run out at `now_ms`.
            pub(crate) async fn purge_expired(
                pool: &Pool,
                now_ms: i64,
                batch: usize,
            ) -> Result<u64, StoreError> {
                bounded("rate_limit_purge", async {
                    let done = sqlx::query(PURGE)
                        .bind(now_ms)
                        .bind(sql_limit(batch))
                        .execute(pool)
                        .await
                        .map_err(unavailable("rate_limit_purge"))?;
                    Ok(done.rows_affected())
                })
                .await
            }
        }
    };
}

#[cfg(feature = "sqlite")]
/// SQLite: take the write lock before reading, so no other connection steps in between.
async fn begin_sqlite(
    pool: &sqlx::SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

#[cfg(feature = "postgres")]
/// PostgreSQL: an ordinary transaction; the `FOR UPDATE` read locks the row.
async fn begin_postgres(
    pool: &sqlx::PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    pool.begin().await
}

#[cfg(feature = "sqlite")]
dialect!(sqlite, sqlx::Sqlite, "SELECT tat FROM sessionwarden_rate_limits WHERE name = $1", begin_sqlite);
#[cfg(feature = "postgres")]
dialect!(
    postgres,
    sqlx::Postgres,
    "SELECT tat FROM sessionwarden_rate_limits WHERE name = $1 FOR UPDATE",
    begin_postgres
);
