//! Store wrappers for tests: one that counts calls, one that can be switched off.
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use async_trait::async_trait;
use sessionwarden_tower::store::{AccountLocks, Admission, DisabledUser, SessionLimit, UserSessionCap};
use sessionwarden_tower::{
    ExpiredDeletion, ListQuery, Record, SaveOutcome, SessionHandle, SessionIndex, SessionInfo, SessionPage,
    SessionStore, StoreError, StoreKey, Timestamp,
};

/// Counts reads and writes, fails every call while `down` is set, and can make saves slow
/// (to hold writers in flight together).
///
/// It has the capabilities of what it wraps: `Instrumented<dyn SessionStore>` (the default)
/// is only a core store, `Instrumented<MemoryStore>` also lists, revokes and sweeps.
#[derive(Debug)]
pub struct Instrumented<S: ?Sized = dyn SessionStore> {
    pub inner: Arc<S>,
    pub loads: Arc<AtomicUsize>,
    pub writes: Arc<AtomicUsize>,
    pub down: Arc<AtomicBool>,
    pub save_delay_ms: Arc<AtomicU64>,
}

impl<S: ?Sized> Clone for Instrumented<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            loads: self.loads.clone(),
            writes: self.writes.clone(),
            down: self.down.clone(),
            save_delay_ms: self.save_delay_ms.clone(),
        }
    }
}

impl<S: ?Sized> Instrumented<S> {
    pub fn new(inner: Arc<S>) -> Self {
        Self {
            inner,
            loads: Arc::default(),
            writes: Arc::default(),
            down: Arc::default(),
            save_delay_ms: Arc::default(),
        }
    }

    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }

    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    /// Every later `save` first sleeps `ms` milliseconds.
    pub fn set_save_delay_ms(&self, ms: u64) {
        self.save_delay_ms.store(ms, Ordering::SeqCst);
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self, op: &'static str) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::unavailable(op, std::io::Error::other("store switched off by the test")));
        }
        Ok(())
    }
}

#[async_trait]
impl<S: SessionStore + ?Sized> SessionStore for Instrumented<S> {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        self.check("load")?;
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key, now).await
    }
    async fn create(&self, key: &StoreKey, record: &Record) -> Result<bool, StoreError> {
        self.check("create")?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.create(key, record).await
    }
    async fn save(&self, key: &StoreKey, record: &Record, expected: u64) -> Result<SaveOutcome, StoreError> {
        self.check("save")?;
        let delay = self.save_delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        }
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.save(key, record, expected).await
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.check("delete")?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key).await
    }
    async fn cycle(&self, from: &StoreKey, to: &StoreKey) -> Result<bool, StoreError> {
        self.check("cycle")?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.cycle(from, to).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.check("ping")?;
        self.inner.ping().await
    }
}

#[async_trait]
impl<S: SessionIndex + ?Sized> SessionIndex for Instrumented<S> {
    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<SessionInfo>, StoreError> {
        self.check("list_user")?;
        self.inner.list_user(user, now).await
    }
    async fn list(&self, now: Timestamp, limit: usize) -> Result<Vec<SessionInfo>, StoreError> {
        self.check("list")?;
        self.inner.list(now, limit).await
    }
    async fn list_page(&self, query: &ListQuery, now: Timestamp) -> Result<SessionPage, StoreError> {
        self.check("list_page")?;
        self.inner.list_page(query, now).await
    }
    async fn count(&self, user: Option<&str>, now: Timestamp) -> Result<u64, StoreError> {
        self.check("count")?;
        self.inner.count(user, now).await
    }
    async fn revoke(&self, handle: &SessionHandle) -> Result<bool, StoreError> {
        self.check("revoke")?;
        self.inner.revoke(handle).await
    }
    async fn revoke_user(&self, user: &str) -> Result<u64, StoreError> {
        self.check("revoke_user")?;
        self.inner.revoke_user(user).await
    }
}

#[async_trait]
impl<S: ExpiredDeletion + ?Sized> ExpiredDeletion for Instrumented<S> {
    async fn delete_expired(&self, now: Timestamp, batch: usize) -> Result<u64, StoreError> {
        self.check("delete_expired")?;
        self.inner.delete_expired(now, batch).await
    }
}

#[async_trait]
impl<S: UserSessionCap + ?Sized> UserSessionCap for Instrumented<S> {
    async fn admit(
        &self,
        key: &StoreKey,
        record: &Record,
        replaces: Option<&StoreKey>,
        limit: SessionLimit,
        now: Timestamp,
    ) -> Result<Admission, StoreError> {
        self.check("admit")?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.admit(key, record, replaces, limit, now).await
    }
}

#[async_trait]
impl<S: AccountLocks + ?Sized> AccountLocks for Instrumented<S> {
    async fn disable(&self, user: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.check("disable")?;
        self.inner.disable(user, now).await
    }
    async fn enable(&self, user: &str) -> Result<bool, StoreError> {
        self.check("enable")?;
        self.inner.enable(user).await
    }
    async fn is_disabled(&self, user: &str) -> Result<bool, StoreError> {
        self.check("is_disabled")?;
        self.inner.is_disabled(user).await
    }
    async fn list_disabled(&self) -> Result<Vec<DisabledUser>, StoreError> {
        self.check("list_disabled")?;
        self.inner.list_disabled().await
    }
}
