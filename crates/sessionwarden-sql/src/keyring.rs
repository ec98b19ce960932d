//! Shared keyrings and leases in SQL (schema version 6): the statements behind
//! [`KeyringStore`] for both dialects.
//!
//! Table `sessionwarden_keyrings`: `name` (primary key), `version` and `document` (the
//! keyring's bytes, secrets already wrapped). Table `sessionwarden_leases`: `name` (primary
//! key), `holder` and `expires_at` (Unix seconds, the callers' clock).
//!
//! Every write is one statement, atomic under concurrency on either database:
//!
//! - the first swap of a name is `INSERT … ON CONFLICT DO NOTHING`: of concurrent creators
//!   exactly one inserts;
//! - later swaps are `UPDATE … SET version = version + 1 … WHERE name = $1 AND version = $2`:
//!   PostgreSQL re-checks the condition on the row a concurrent winner just updated, SQLite
//!   has one writer, so of concurrent swaps from one version exactly one changes the row;
//! - a lease is an upsert whose `DO UPDATE` applies only when the stored lease is the same
//!   holder's or has expired at the caller's `now`.
//!
//! The version poll (`keyring_version`) reads one integer by primary key.

use async_trait::async_trait;
use sessionwarden_core::store::{KeyringStore, KeyringVersion, lease_secs};
use sessionwarden_core::{StoreError, Timestamp};

use crate::columns::{bounded, unavailable};

const VERSION: &str = "SELECT version FROM sessionwarden_keyrings WHERE name = $1";
const LOAD: &str = "SELECT version, document FROM sessionwarden_keyrings WHERE name = $1";
const CREATE: &str = "INSERT INTO sessionwarden_keyrings (name, version, document) VALUES ($1, 1, $2) \
     ON CONFLICT (name) DO NOTHING";
const SWAP: &str = "UPDATE sessionwarden_keyrings SET version = version + 1, document = $3 \
     WHERE name = $1 AND version = $2";
const ACQUIRE: &str = "INSERT INTO sessionwarden_leases (name, holder, expires_at) VALUES ($1, $2, $3) \
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
     WHERE sessionwarden_leases.holder = excluded.holder OR sessionwarden_leases.expires_at <= $4";
const RELEASE: &str = "DELETE FROM sessionwarden_leases WHERE name = $1 AND holder = $2";

/// A stored version, or `Corrupt` for one no swap could have written.
fn version(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt { reason: "keyring version is negative" })
}

macro_rules! dialect {
    ($module:ident, $db:ty) => {
        pub(crate) mod $module {
            use super::*;

            type Pool = sqlx::Pool<$db>;

            pub(crate) async fn keyring_version(pool: &Pool, name: &str) -> Result<Option<u64>, StoreError> {
                bounded("keyring_version", async {
                    let v: Option<i64> = sqlx::query_scalar(VERSION)
                        .bind(name)
                        .fetch_optional(pool)
                        .await
                        .map_err(unavailable("keyring_version"))?;
                    v.map(version).transpose()
                })
                .await
            }

            pub(crate) async fn load(pool: &Pool, name: &str) -> Result<Option<KeyringVersion>, StoreError> {
                bounded("keyring_load", async {
                    let row: Option<(i64, Vec<u8>)> = sqlx::query_as(LOAD)
                        .bind(name)
                        .fetch_optional(pool)
                        .await
                        .map_err(unavailable("keyring_load"))?;
                    row.map(|(v, doc)| Ok(KeyringVersion::new(version(v)?, doc))).transpose()
                })
                .await
            }

            pub(crate) async fn swap(
                pool: &Pool,
                name: &str,
                expected: Option<u64>,
                document: &[u8],
            ) -> Result<bool, StoreError> {
                const OP: &str = "keyring_swap";
                bounded(OP, async {
                    let done = match expected {
                        None => sqlx::query(CREATE).bind(name).bind(document).execute(pool).await,
                        Some(v) => {
                            // A version past i64 was never stored: nothing can match it.
                            let Ok(v) = i64::try_from(v) else { return Ok(false) };
                            sqlx::query(SWAP).bind(name).bind(v).bind(document).execute(pool).await
                        }
                    }
                    .map_err(unavailable(OP))?;
                    Ok(done.rows_affected() == 1)
                })
                .await
            }

            pub(crate) async fn acquire(
                pool: &Pool,
                name: &str,
                holder: &str,
                ttl: std::time::Duration,
                now: Timestamp,
            ) -> Result<bool, StoreError> {
                bounded("lease_acquire", async {
                    let done = sqlx::query(ACQUIRE)
                        .bind(name)
                        .bind(holder)
                        .bind(now.unix().saturating_add(lease_secs(ttl)))
                        .bind(now.unix())
                        .execute(pool)
                        .await
                        .map_err(unavailable("lease_acquire"))?;
                    Ok(done.rows_affected() == 1)
                })
                .await
            }

            pub(crate) async fn release(pool: &Pool, name: &str, holder: &str) -> Result<bool, StoreError> {
                bounded("lease_release", async {
                    let done = sqlx::query(RELEASE)
                        .bind(name)
                        .bind(holder)
                        .execute(pool)
                        .await
                        .map_err(unavailable("lease_release"))?;
                    Ok(done.rows_affected() == 1)
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

macro_rules! implement {
    ($ty:ty, $dialect:ident) => {
        /// Keyrings in `sessionwarden_keyrings`, leases in `sessionwarden_leases`; see
        /// [`keyring`](crate::keyring).
        #[async_trait]
        impl KeyringStore for $ty {
            // Writer pool for reads too: a version read right after a swap on this store must
            // see it (SQLite's readers are separate connections).
            async fn keyring_version(&self, name: &str) -> Result<Option<u64>, StoreError> {
                $dialect::keyring_version(self.writer_pool(), name).await
            }
            async fn load_keyring(&self, name: &str) -> Result<Option<KeyringVersion>, StoreError> {
                $dialect::load(self.writer_pool(), name).await
            }
            async fn swap_keyring(
                &self,
                name: &str,
                expected: Option<u64>,
                document: &[u8],
            ) -> Result<bool, StoreError> {
                $dialect::swap(self.writer_pool(), name, expected, document).await
            }
            async fn acquire_lease(
                &self,
                name: &str,
                holder: &str,
                ttl: std::time::Duration,
                now: Timestamp,
            ) -> Result<bool, StoreError> {
                $dialect::acquire(self.writer_pool(), name, holder, ttl, now).await
            }
            async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
                $dialect::release(self.writer_pool(), name, holder).await
            }
        }
    };
}

#[cfg(feature = "sqlite")]
implement!(crate::SqliteStore, sqlite);
#[cfg(feature = "postgres")]
implement!(crate::PostgresStore, postgres);
