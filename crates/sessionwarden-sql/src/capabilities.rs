//! The store capabilities beyond sessions on [`SqliteStore`] and [`PostgresStore`]: audit
//! records ([`audit`](crate::audit)), rate-limit state ([`limiter`](crate::limiter)) and
//! one-time keys ([`once`](crate::once)), in the tables of schema version 3.
//!
//! Each trait method hands the store's pool to the dialect's function; writes go to the
//! writer pool, so SQLite's single writer connection orders them.

use async_trait::async_trait;
use sessionwarden_core::store::{
    AuditEntry, AuditLog, AuditQuery, OnceKey, OneTimeKeys, Rate, RateDecision, RateLimitStore,
};
use sessionwarden_core::{StoreError, Timestamp};

#[cfg(feature = "postgres")]
use crate::PostgresStore;
#[cfg(feature = "sqlite")]
use crate::SqliteStore;
use crate::{audit, limiter, once};

/// Implements the three traits and the purge for a store type, given its dialect module.
macro_rules! capabilities {
    ($ty:ident, $dialect:ident) => {
        /// Audit records in `sessionwarden_audit`; see [`audit`](crate::audit).
        #[async_trait]
        impl AuditLog for $ty {
            async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
                audit::$dialect::append(self.writer_pool(), entry).await
            }

            async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
                audit::$dialect::query(self.reader_pool(), query).await
            }

            async fn purge(&self, before: Timestamp, batch: usize) -> Result<u64, StoreError> {
                audit::$dialect::purge(self.writer_pool(), before, batch).await
            }
        }

        /// GCRA state in `sessionwarden_rate_limits`; see [`limiter`](crate::limiter).
        #[async_trait]
        impl RateLimitStore for $ty {
            async fn check(
                &self,
                key: &str,
                rate: Rate,
                cost: u32,
                now_ms: i64,
            ) -> Result<RateDecision, StoreError> {
                limiter::$dialect::check(self.writer_pool(), key, rate, cost, now_ms).await
            }
        }

        /// One-time keys in `sessionwarden_once_keys`; see [`once`](crate::once).
        #[async_trait]
        impl OneTimeKeys for $ty {
            async fn put(
                &self,
                key: &OnceKey,
                expires_at: Timestamp,
                now: Timestamp,
            ) -> Result<bool, StoreError> {
                once::$dialect::put(self.writer_pool(), self.reader_pool(), key, expires_at, now).await
            }

            async fn take(&self, key: &OnceKey, now: Timestamp) -> Result<bool, StoreError> {
                once::$dialect::take(self.writer_pool(), key, now).await
            }
        }

        impl $ty {
            /// Deletes up to `batch` rate-limit rows and up to `batch` one-time keys that have
            /// expired at `now` (rate-limit state whose TAT is at or before `now`, keys whose
            /// `expires_at` is). Returns how many rows went.
            ///
            /// Expired rows never change a decision, so this only reclaims space; run it
            /// beside the session sweeper. Audit records age out through
            /// [`AuditLog::purge`] instead.
            ///
            /// # Errors
            /// [`StoreError::Unavailable`] if the database fails.
            pub async fn purge_expired_capabilities(
                &self,
                now: Timestamp,
                batch: usize,
            ) -> Result<u64, StoreError> {
                let now_ms = now.unix().saturating_mul(1000);
                let limits = limiter::$dialect::purge_expired(self.writer_pool(), now_ms, batch).await?;
                let keys = once::$dialect::purge_expired(self.writer_pool(), now, batch).await?;
                Ok(limits + keys)
            }
        }
    };
}

#[cfg(feature = "sqlite")]
capabilities!(SqliteStore, sqlite);
#[cfg(feature = "postgres")]
capabilities!(PostgresStore, postgres);
