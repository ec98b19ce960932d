//! Where sessions live: the [`SessionStore`] trait for server-side stores, the in-process
//! [`MemoryStore`], and the client-side [`CookieStore`].
//!
//! A store never sees a session id, only its [`StoreKey`] (SHA-256 of the id), so a dump of
//! the store yields no usable cookie. Every server-side store passes the same conformance
//! suite (`sessionwarden-test`'s `store_conformance!`).
//!
//! [`CookieStore`] is not a `SessionStore`: it keeps nothing on the server, so it cannot
//! list or revoke sessions, and pretending otherwise through the trait would break the
//! trait's promises. The session layer accepts either through [`Backend`].

mod cached;
mod capability;
mod cookie;
mod memory;
mod memory_caps;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

pub use self::cached::{
    CacheConfig, CacheStats, CachedStore, Invalidation, InvalidationSink, Invalidator, LocalInvalidator,
};
pub use self::capability::{
    AuditEntry, AuditLog, AuditQuery, ExpiredDeletion, OnceKey, OneTimeKeys, Rate, RateDecision,
    RateLimitStore, SessionIndex, gcra_step,
};
pub use self::cookie::CookieStore;
pub use self::memory::MemoryStore;
use crate::error::StoreError;
use crate::id::{SessionHandle, StoreKey};
use crate::record::{ClientSummary, Record};
use crate::time::Timestamp;

/// What a versioned save did.
#[derive(Debug, Clone, PartialEq)]
pub enum SaveOutcome {
    /// The record was written.
    Saved,
    /// Another request saved first; here is the newer record. Merge and retry.
    Conflict(Record),
    /// The record is gone (destroyed, revoked or expired). It must not be resurrected.
    Missing,
}

/// One session as admin listings show it. No id, no data.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SessionInfo {
    /// Opaque name for revoking it.
    pub handle: SessionHandle,
    /// The authenticated user, if any.
    pub user: Option<String>,
    /// When it was created.
    pub created: Timestamp,
    /// When it was last renewed.
    pub last_seen: Timestamp,
    /// When it expires, if ever.
    pub expires_at: Option<Timestamp>,
    /// Client summary.
    pub client: Option<ClientSummary>,
}

impl SessionInfo {
    /// The listing entry for `record` stored under `key`.
    #[must_use]
    pub fn new(key: &StoreKey, record: &Record) -> Self {
        Self {
            handle: key.handle(),
            user: record.user.clone(),
            created: record.created,
            last_seen: record.last_seen,
            expires_at: record.expires_at(),
            client: record.client.clone(),
        }
    }
}

/// A server-side session store.
///
/// Contract (checked by the conformance suite):
/// - `load` never returns a record that is expired at `now`, even if the backend has not
///   evicted it yet, and reports undecodable bytes as [`StoreError::Corrupt`];
/// - `create` never overwrites an existing record;
/// - `save` writes only if the stored version equals `expected_version`;
/// - `cycle` moves a record to a new key atomically: afterwards the old key loads nothing;
/// - revocation is immediate and complete;
/// - an unreachable backend yields [`StoreError::Unavailable`], never "no session".
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug + 'static {
    /// Loads the record under `key`, if there is one that has not expired at `now`.
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError>;

    /// Stores `record` under `key` unless a record is already there. Returns whether it did.
    async fn create(&self, key: &StoreKey, record: &Record) -> Result<bool, StoreError>;

    /// Replaces the record under `key` if its version is still `expected_version`.
    /// `record.version` is the new version.
    async fn save(
        &self,
        key: &StoreKey,
        record: &Record,
        expected_version: u64,
    ) -> Result<SaveOutcome, StoreError>;

    /// Deletes the record under `key` (no error if there is none).
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError>;

    /// Moves the record under `from` to `to`, atomically. Returns `false` (and changes
    /// nothing) if there is no record under `from` or there already is one under `to`.
    async fn cycle(&self, from: &StoreKey, to: &StoreKey) -> Result<bool, StoreError>;

    /// The live sessions of `user`, at `now`.
    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<SessionInfo>, StoreError>;

    /// Up to `limit` live sessions, for admin listings.
    async fn list(&self, now: Timestamp, limit: usize) -> Result<Vec<SessionInfo>, StoreError>;

    /// Deletes the session named by `handle`. Returns whether one was found.
    async fn revoke(&self, handle: &SessionHandle) -> Result<bool, StoreError>;

    /// Deletes every session of `user`. Returns how many were deleted.
    async fn revoke_user(&self, user: &str) -> Result<u64, StoreError>;

    /// Removes up to `batch` expired records. Returns how many were removed.
    async fn sweep(&self, now: Timestamp, batch: usize) -> Result<u64, StoreError>;

    /// Checks that the backend answers (for readiness probes).
    async fn ping(&self) -> Result<(), StoreError>;
}

#[async_trait]
impl<S: SessionStore + ?Sized> SessionStore for Arc<S> {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        (**self).load(key, now).await
    }
    async fn create(&self, key: &StoreKey, record: &Record) -> Result<bool, StoreError> {
        (**self).create(key, record).await
    }
    async fn save(&self, key: &StoreKey, record: &Record, expected: u64) -> Result<SaveOutcome, StoreError> {
        (**self).save(key, record, expected).await
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        (**self).delete(key).await
    }
    async fn cycle(&self, from: &StoreKey, to: &StoreKey) -> Result<bool, StoreError> {
        (**self).cycle(from, to).await
    }
    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<SessionInfo>, StoreError> {
        (**self).list_user(user, now).await
    }
    async fn list(&self, now: Timestamp, limit: usize) -> Result<Vec<SessionInfo>, StoreError> {
        (**self).list(now, limit).await
    }
    async fn revoke(&self, handle: &SessionHandle) -> Result<bool, StoreError> {
        (**self).revoke(handle).await
    }
    async fn revoke_user(&self, user: &str) -> Result<u64, StoreError> {
        (**self).revoke_user(user).await
    }
    async fn sweep(&self, now: Timestamp, batch: usize) -> Result<u64, StoreError> {
        (**self).sweep(now, batch).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        (**self).ping().await
    }
}

/// Where the session layer keeps sessions: in the cookie itself, or on the server.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Backend {
    /// The whole record sealed into the cookie.
    Cookie(CookieStore),
    /// A server-side store; the cookie carries the sealed session id.
    Server(Arc<dyn SessionStore>),
}

impl From<CookieStore> for Backend {
    fn from(store: CookieStore) -> Self {
        Self::Cookie(store)
    }
}

impl From<MemoryStore> for Backend {
    fn from(store: MemoryStore) -> Self {
        Self::Server(Arc::new(store))
    }
}

impl From<Arc<dyn SessionStore>> for Backend {
    fn from(store: Arc<dyn SessionStore>) -> Self {
        Self::Server(store)
    }
}
