//! Audit records in SQL (schema version 3): the statements behind
//! [`AuditLog`](sessionwarden_core::store::AuditLog) for both dialects.
//!
//! Table `sessionwarden_audit`: `id` (increasing, orders records of one second by appending),
//! `occurred_at` (Unix seconds), `kind`, `user_id` (nullable) and `entry`, the whole
//! [`AuditEntry`] as JSON. `query` filters on the indexed columns (only the filters that are
//! set become conditions) and orders by `occurred_at DESC, id DESC`; rows whose `entry` does
//! not decode are skipped, as listings skip what they cannot read. The table has no bound of
//! its own: `purge` (oldest first, at most `batch` rows per call) is how records age out.
//!
//! The functions take the pool, so any store type holding one can serve the trait.

use sessionwarden_core::StoreError;
use sessionwarden_core::Timestamp;
use sessionwarden_core::store::{AuditEntry, AuditQuery};

use crate::columns::{bounded, sql_limit, unavailable};

/// The record as stored in `entry`.
fn encode(entry: &AuditEntry) -> Result<String, StoreError> {
    serde_json::to_string(entry).map_err(|e| StoreError::unavailable("audit_append", e))
}

const APPEND: &str =
    "INSERT INTO sessionwarden_audit (occurred_at, kind, user_id, entry) VALUES ($1, $2, $3, $4)";
const PURGE: &str = "DELETE FROM sessionwarden_audit WHERE id IN (SELECT id FROM sessionwarden_audit \
     WHERE occurred_at < $1 ORDER BY occurred_at, id LIMIT $2)";

macro_rules! dialect {
    ($module:ident, $db:ty) => {
        pub(crate) mod $module {
            use super::*;

            type Pool = sqlx::Pool<$db>;

            pub(crate) async fn append(pool: &Pool, entry: &AuditEntry) -> Result<(), StoreError> {
                let json = encode(entry)?;
                bounded("audit_append", async {
                    sqlx::query(APPEND)
                        .bind(entry.at.unix())
                        .bind(&entry.kind)
                        .bind(entry.user.as_deref())
                        .bind(json)
                        .execute(pool)
                        .await
                        .map_err(unavailable("audit_append"))?;
                    Ok(())
                })
                .await
            }

            pub(crate) async fn query(pool: &Pool, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
                if q.limit == 0 {
                    return Ok(Vec::new());
                }
                let mut sql =
                    sqlx::QueryBuilder::<$db>::new("SELECT entry FROM sessionwarden_audit WHERE 1 = 1");
                if let Some(kind) = &q.kind {
                    sql.push(" AND kind = ").push_bind(kind.clone());
                }
                if let Some(user) = &q.user {
                    sql.push(" AND user_id = ").push_bind(user.clone());
                }
                if let Some(since) = q.since {
                    sql.push(" AND occurred_at >= ").push_bind(since.unix());
                }
                if let Some(until) = q.until {
                    sql.push(" AND occurred_at < ").push_bind(until.unix());
                }
                sql.push(" ORDER BY occurred_at DESC, id DESC LIMIT ").push_bind(sql_limit(q.limit));
                let rows: Vec<(String,)> = bounded("audit_query", async {
                    sql.build_query_as().fetch_all(pool).await.map_err(unavailable("audit_query"))
                })
                .await?;
                Ok(rows.iter().filter_map(|(json,)| serde_json::from_str(json).ok()).collect())
            }

            pub(crate) async fn purge(
                pool: &Pool,
                before: Timestamp,
                batch: usize,
            ) -> Result<u64, StoreError> {
                if batch == 0 {
                    return Ok(0);
                }
                bounded("audit_purge", async {
                    let done = sqlx::query(PURGE)
                        .bind(before.unix())
                        .bind(sql_limit(batch))
                        .execute(pool)
                        .await
                        .map_err(unavailable("audit_purge"))?;
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
