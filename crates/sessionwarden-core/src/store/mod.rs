//! The store contract: the core [`SessionStore`] every server-side store implements, and
//! the opt-in capabilities (see [`capability`]) that some stores add.

pub mod capability;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

pub use self::capability::*;
use crate::client::ClientInfo;
use crate::error::StoreError;
use crate::id::{SessionHandle, StoreKey};
use crate::record::Record;
use crate::time::Timestamp;

/// What a versioned save did.
// large_enum_variant: one outcome per save, returned and matched at once; boxing the rare
// `Conflict` record would add an allocation to the path that is already the slow one.
#[allow(clippy::large_enum_variant)]
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
    pub client: Option<ClientInfo>,
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
    async fn list_page(&self, query: &ListQuery, now: Timestamp) -> Result<SessionPage, StoreError> {
        (**self).list_page(query, now).await
    }
    async fn count(&self, user: Option<&str>, now: Timestamp) -> Result<u64, StoreError> {
        (**self).count(user, now).await
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
