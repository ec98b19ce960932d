//! Where sessions live: the core [`SessionStore`] trait for server-side stores, the capability
//! traits a store may add to it, the in-process [`MemoryStore`], and the client-side
//! [`CookieStore`].
//!
//! A store never sees a session id, only its [`StoreKey`] (SHA-256 of the id), so a dump of
//! the store yields no usable cookie.
//!
//! # Core and capabilities
//!
//! [`SessionStore`] is what the session layer needs on every request: load, create, save,
//! delete, cycle and ping. Every server-side store implements it. What only some backends
//! can do is a trait of its own (the table below says which store has which):
//!
//! - [`SessionIndex`]: list and revoke sessions by handle and by user (self-service, admin
//!   listings, the CLI, logout everywhere);
//! - [`ExpiredDeletion`]: delete expired records in bounded batches (the sweeper); a store
//!   whose backend expires records and leaves nothing behind (Flask-Session's Redis keys with
//!   TTLs) does not implement it;
//! - [`AuditLog`], [`RateLimitStore`], [`OneTimeKeys`]: shared state for the admin plane and
//!   the risk engine.
//!
//! A store that cannot do something does not implement the trait: code that needs it says so
//! in its bounds (`S: SessionIndex`), or, where the store is picked at run time, holds an
//! `Option<Arc<dyn SessionIndex>>` decided at start-up. An `Arc<dyn SessionIndex>` coerces to
//! an `Arc<dyn SessionStore>`, so one value serves both the layer and the admin plane:
//!
//! ```
//! use std::sync::Arc;
//! use sessionwarden::store::{Backend, MemoryStore, SessionIndex, SessionStore};
//!
//! let index: Arc<dyn SessionIndex> = Arc::new(MemoryStore::default());
//! let core: Arc<dyn SessionStore> = index.clone();
//! let backend = Backend::from(core);
//! # drop((index, backend));
//! ```
//!
//! Each trait has its own conformance suite in `sessionwarden-test` (`core_conformance!`,
//! `index_conformance!`, `expired_deletion_conformance!`, ...), and every store mounts exactly
//! the suites of the traits it implements.
//!
//! # Capabilities
//!
//! | store | [`SessionStore`] | [`SessionIndex`] | [`ExpiredDeletion`] |
//! |---|---|---|---|
//! | [`MemoryStore`] | yes | yes | yes |
//! | [`CachedStore<S>`] | yes | when `S` is | when `S` is |
//! | `SqliteStore`, `PostgresStore` | yes | yes | yes |
//! | `RedisStore` (single node, Cluster) | yes | yes | yes: TTLs free records, not their index entries |
//! | `FlaskRedisStore` | yes | no: Flask-Session keeps no index | no: records expire by TTL |
//!
//! [`CookieStore`] is not a `SessionStore`: it keeps nothing on the server, so it cannot
//! even delete a session, and pretending otherwise through the trait would break the
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

/// A server-side session store: the core every store implements.
///
/// Listing, revocation by handle or user, and deletion of expired records are capabilities of
/// their own ([`SessionIndex`], [`ExpiredDeletion`]).
///
/// Contract (checked by the core conformance suite):
/// - `load` never returns a record that is expired at `now`, even if the backend has not
///   evicted it yet, and reports undecodable bytes as [`StoreError::Corrupt`];
/// - `create` never overwrites an existing record;
/// - `save` writes only if the stored version equals `expected_version`;
/// - `cycle` moves a record to a new key atomically: afterwards the old key loads nothing;
/// - `delete` is immediate: afterwards the key loads nothing;
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
    async fn ping(&self) -> Result<(), StoreError> {
        (**self).ping().await
    }
}

#[async_trait]
impl<S: SessionIndex + ?Sized> SessionIndex for Arc<S> {
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
}

#[async_trait]
impl<S: ExpiredDeletion + ?Sized> ExpiredDeletion for Arc<S> {
    async fn delete_expired(&self, now: Timestamp, batch: usize) -> Result<u64, StoreError> {
        (**self).delete_expired(now, batch).await
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
