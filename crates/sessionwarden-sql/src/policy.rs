//! Session policy in SQL: the per-user session cap ([`UserSessionCap`], over
//! `sessionwarden_sessions`) and disabled accounts ([`AccountLocks`], table
//! `sessionwarden_disabled_users`, schema version 5), for both dialects.
//!
//! An admission is one transaction that serialises the logins of one user:
//!
//! - PostgreSQL takes `pg_advisory_xact_lock` on a 64-bit hash of the user name first, so
//!   concurrent admissions of one user (from any server) queue on it, and each one's reads
//!   (a fresh snapshot per statement under READ COMMITTED) see every earlier one's rows;
//!   admissions of different users do not wait for each other (a hash collision only makes
//!   two users queue together);
//! - SQLite runs it in a `BEGIN IMMEDIATE` transaction, which takes the database's write lock
//!   before the first read, so admissions from every connection to the file happen one after
//!   another.
//!
//! Inside it: the new key must be free, the user's live sessions other than the replaced one
//! are counted oldest first, the policy evicts or refuses, and the record is inserted.

use async_trait::async_trait;
use sessionwarden_core::store::{
    AccountLocks, Admission, DisabledUser, LimitPolicy, SessionLimit, UserSessionCap,
};
use sessionwarden_core::{Record, StoreError, StoreKey, Timestamp};

use crate::columns::{Columns, bounded, unavailable};

const KEY_TAKEN: &str = "SELECT 1 FROM sessionwarden_sessions \
     WHERE store_key = $1 AND (expires_at IS NULL OR expires_at > $2)";
const USER_SESSIONS: &str = "SELECT store_key FROM sessionwarden_sessions \
     WHERE user_id = $1 AND (expires_at IS NULL OR expires_at > $2) AND store_key <> $3 \
     ORDER BY created, store_key";
const DELETE_KEY: &str = "DELETE FROM sessionwarden_sessions WHERE store_key = $1";
const DISABLE: &str = "INSERT INTO sessionwarden_disabled_users (user_id, disabled_at) VALUES ($1, $2) \
     ON CONFLICT (user_id) DO NOTHING";
const ENABLE: &str = "DELETE FROM sessionwarden_disabled_users WHERE user_id = $1";
const IS_DISABLED: &str = "SELECT 1 FROM sessionwarden_disabled_users WHERE user_id = $1";
const LIST_DISABLED: &str = "SELECT user_id, disabled_at FROM sessionwarden_disabled_users ORDER BY user_id";

/// A stored key's 32 bytes, or `Corrupt`.
fn store_key(bytes: &[u8]) -> Result<StoreKey, StoreError> {
    let bytes: [u8; 32] =
        bytes.try_into().map_err(|_| StoreError::Corrupt { reason: "store key is not 32 bytes" })?;
    Ok(StoreKey::from_bytes(bytes))
}

macro_rules! dialect {
    ($module:ident, $db:ty, $begin:ident, $lock:expr) => {
        pub(crate) mod $module {
            use super::*;

            type Pool = sqlx::Pool<$db>;

            /// [`UserSessionCap::admit`] in one transaction (the pool must be the writer).
            pub(crate) async fn admit(
                pool: &Pool,
                key: &StoreKey,
                record: &Record,
                replaces: Option<&StoreKey>,
                limit: SessionLimit,
                now: Timestamp,
            ) -> Result<Admission, StoreError> {
                const OP: &str = "admit";
                let c = Columns::new(record)?;
                bounded(OP, async {
                    let mut tx = super::$begin(pool).await.map_err(unavailable(OP))?;
                    if let (Some(user), Some(lock)) = (&record.user, $lock) {
                        sqlx::query(lock)
                            .bind(user.as_str())
                            .execute(&mut *tx)
                            .await
                            .map_err(unavailable(OP))?;
                    }
                    let taken: Option<i32> = sqlx::query_scalar(KEY_TAKEN)
                        .bind(key.as_bytes().as_slice())
                        .bind(now.unix())
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(unavailable(OP))?;
                    if taken.is_some() {
                        tx.rollback().await.map_err(unavailable(OP))?;
                        return Ok(Admission::Taken);
                    }
                    let mut evicted = Vec::new();
                    if let Some(user) = &record.user {
                        // No session has the empty key: with nothing replaced, none is excluded.
                        let excluded: &[u8] = replaces.map_or(&[][..], |k| k.as_bytes().as_slice());
                        let others: Vec<Vec<u8>> = sqlx::query_scalar(USER_SESSIONS)
                            .bind(user.as_str())
                            .bind(now.unix())
                            .bind(excluded)
                            .fetch_all(&mut *tx)
                            .await
                            .map_err(unavailable(OP))?;
                        let max = usize::try_from(limit.max()).unwrap_or(usize::MAX);
                        if others.len() >= max {
                            if limit.policy() == LimitPolicy::RefuseNew {
                                tx.rollback().await.map_err(unavailable(OP))?;
                                return Ok(Admission::Refused);
                            }
                            for old in &others[..others.len() + 1 - max] {
                                sqlx::query(DELETE_KEY)
                                    .bind(old.as_slice())
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(unavailable(OP))?;
                                evicted.push(store_key(old)?.handle());
                            }
                        }
                    }
                    if let Some(old) = replaces {
                        sqlx::query(DELETE_KEY)
                            .bind(old.as_bytes().as_slice())
                            .execute(&mut *tx)
                            .await
                            .map_err(unavailable(OP))?;
                    }
                    let done = sqlx::query(crate::store::CREATE)
                        .bind(key.as_bytes().as_slice())
                        .bind(c.data.as_slice())
                        .bind(c.version)
                        .bind(c.created)
                        .bind(c.last_seen)
                        .bind(c.idle_deadline)
                        .bind(c.absolute_deadline)
                        .bind(c.expires_at)
                        .bind(c.user_id.as_deref())
                        .bind(c.ip_prefix.as_deref())
                        .bind(c.ua_hash.as_deref())
                        .bind(c.client_info.as_deref())
                        .bind(now.unix())
                        .execute(&mut *tx)
                        .await
                        .map_err(unavailable(OP))?;
                    if done.rows_affected() != 1 {
                        // Checked free above, under the lock: only a concurrent writer that is
                        // no admission could have taken it. Nothing of this admission stays.
                        tx.rollback().await.map_err(unavailable(OP))?;
                        return Ok(Admission::Taken);
                    }
                    tx.commit().await.map_err(unavailable(OP))?;
                    Ok(Admission::Admitted { evicted })
                })
                .await
            }

            pub(crate) async fn disable(pool: &Pool, user: &str, now: Timestamp) -> Result<bool, StoreError> {
                bounded("disable_user", async {
                    let done = sqlx::query(DISABLE)
                        .bind(user)
                        .bind(now.unix())
                        .execute(pool)
                        .await
                        .map_err(unavailable("disable_user"))?;
                    Ok(done.rows_affected() == 1)
                })
                .await
            }

            pub(crate) async fn enable(pool: &Pool, user: &str) -> Result<bool, StoreError> {
                bounded("enable_user", async {
                    let done = sqlx::query(ENABLE)
                        .bind(user)
                        .execute(pool)
                        .await
                        .map_err(unavailable("enable_user"))?;
                    Ok(done.rows_affected() > 0)
                })
                .await
            }

            pub(crate) async fn is_disabled(pool: &Pool, user: &str) -> Result<bool, StoreError> {
                bounded("is_disabled", async {
                    let row: Option<i32> = sqlx::query_scalar(IS_DISABLED)
                        .bind(user)
                        .fetch_optional(pool)
                        .await
                        .map_err(unavailable("is_disabled"))?;
                    Ok(row.is_some())
                })
                .await
            }

            pub(crate) async fn list_disabled(pool: &Pool) -> Result<Vec<DisabledUser>, StoreError> {
                bounded("list_disabled", async {
                    let rows: Vec<(String, i64)> = sqlx::query_as(LIST_DISABLED)
                        .fetch_all(pool)
                        .await
                        .map_err(unavailable("list_disabled"))?;
                    Ok(rows.into_iter().map(|(u, t)| DisabledUser::new(u, Timestamp::from_unix(t))).collect())
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
/// PostgreSQL: an ordinary transaction; the advisory lock serialises one user's admissions.
async fn begin_postgres(
    pool: &sqlx::PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    pool.begin().await
}

#[cfg(feature = "sqlite")]
dialect!(sqlite, sqlx::Sqlite, begin_sqlite, None::<&str>);
#[cfg(feature = "postgres")]
dialect!(
    postgres,
    sqlx::Postgres,
    begin_postgres,
    Some("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
);

macro_rules! implement {
    ($ty:ty, $dialect:ident) => {
        /// Admissions in one transaction per login; see [`policy`](crate::policy).
        #[async_trait]
        impl UserSessionCap for $ty {
            async fn admit(
                &self,
                key: &StoreKey,
                record: &Record,
                replaces: Option<&StoreKey>,
                limit: SessionLimit,
                now: Timestamp,
            ) -> Result<Admission, StoreError> {
                $dialect::admit(self.writer_pool(), key, record, replaces, limit, now).await
            }
        }

        /// Disabled users in `sessionwarden_disabled_users`; see [`policy`](crate::policy).
        #[async_trait]
        impl AccountLocks for $ty {
            async fn disable(&self, user: &str, now: Timestamp) -> Result<bool, StoreError> {
                $dialect::disable(self.writer_pool(), user, now).await
            }
            async fn enable(&self, user: &str) -> Result<bool, StoreError> {
                $dialect::enable(self.writer_pool(), user).await
            }
            // Each read is its own transaction, so it sees every committed disable.
            async fn is_disabled(&self, user: &str) -> Result<bool, StoreError> {
                $dialect::is_disabled(self.reader_pool(), user).await
            }
            async fn list_disabled(&self) -> Result<Vec<DisabledUser>, StoreError> {
                $dialect::list_disabled(self.reader_pool()).await
            }
        }
    };
}

#[cfg(feature = "sqlite")]
implement!(crate::SqliteStore, sqlite);
#[cfg(feature = "postgres")]
implement!(crate::PostgresStore, postgres);
