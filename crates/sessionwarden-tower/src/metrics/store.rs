//! Timing a store's operations.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

use super::{SESSIONS_ACTIVE, SESSIONS_REVOKED, SESSIONS_SWEPT, STORE_DURATION, STORE_ERRORS, STORE_UP};
use crate::error::StoreError;
use crate::id::{SessionHandle, StoreKey};
use crate::record::Record;
use crate::store::{
    AccountLocks, Admission, AuditEntry, AuditLog, AuditQuery, Backend, DisabledUser, ExpiredDeletion,
    ListQuery, OnceKey, OneTimeKeys, Rate, RateDecision, RateLimitStore, SaveOutcome, SessionIndex,
    SessionInfo, SessionLimit, SessionPage, SessionStore, UserSessionCap,
};
use crate::time::Timestamp;

/// Store operations as they appear in the `operation` label.
pub const OPERATIONS: &[&str] = &[
    "load",
    "create",
    "save",
    "delete",
    "cycle",
    "ping",
    "list_user",
    "list",
    "revoke",
    "revoke_user",
    "delete_expired",
    "audit_append",
    "audit_query",
    "audit_purge",
    "rate_limit_check",
    "once_put",
    "once_take",
    "list_page",
    "count",
    "admit",
    "account_lock",
];

/// Index into [`OPERATIONS`] (and the handles registered for each).
#[derive(Clone, Copy)]
enum Op {
    Load,
    Create,
    Save,
    Delete,
    Cycle,
    Ping,
    ListUser,
    List,
    Revoke,
    RevokeUser,
    DeleteExpired,
    AuditAppend,
    AuditQuery,
    AuditPurge,
    RateLimitCheck,
    OncePut,
    OnceTake,
    ListPage,
    Count,
    Admit,
    AccountLock,
}

struct OpMetrics {
    duration: Histogram,
    errors: Counter,
}

struct Handles {
    backend: &'static str,
    ops: Vec<OpMetrics>,
    up: Gauge,
    /// What `up` was last set to: the gauge is written only on a change, so the request
    /// path reads a shared flag instead of writing a shared cache line every operation.
    is_up: AtomicBool,
    /// Time one operation in this many.
    sample_every: u32,
    revoked: Counter,
    swept: Counter,
    active: Gauge,
}

/// A store whose every operation is timed, per operation and backend, and whose answers keep
/// the availability gauge [`STORE_UP`](super::STORE_UP).
///
/// Forwards every capability the inner store has ([`SessionIndex`], [`ExpiredDeletion`],
/// [`AuditLog`], [`RateLimitStore`], [`OneTimeKeys`]), and nothing it lacks. Revocations and
/// sweeps are counted from their results (how many sessions they ended).
///
/// An operation that returns [`StoreError::Corrupt`] counts as an error but not as an outage:
/// the backend answered. Any other error sets the gauge to 0 until the next answer.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::{MemoryStore, SessionLayer, keyring::{KeySet, Keyring}, Timestamp};
/// use sessionwarden::metrics::InstrumentedStore;
/// let store = InstrumentedStore::new(MemoryStore::default(), "memory");
/// assert_eq!(store.backend(), "memory");
/// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
/// let layer = SessionLayer::new(store, keyring);
/// # drop(layer);
/// # Ok::<(), sessionwarden::keyring::KeyringError>(())
/// ```
#[derive(Clone)]
pub struct InstrumentedStore<S> {
    inner: S,
    handles: Arc<Handles>,
}

impl<S: fmt::Debug> fmt::Debug for InstrumentedStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstrumentedStore")
            .field("backend", &self.handles.backend)
            .field("inner", &self.inner)
            .finish()
    }
}

impl<S> InstrumentedStore<S> {
    /// Wraps `inner`, labelling its metrics `backend="<backend>"` (`memory`, `sqlite`,
    /// `postgres`, `redis`, ...: a name from the application's configuration, never from a
    /// request). Registers the handles with the current recorder.
    #[must_use]
    pub fn new(inner: S, backend: &'static str) -> Self {
        let ops = OPERATIONS
            .iter()
            .map(|&op| OpMetrics {
                duration: histogram!(STORE_DURATION, "backend" => backend, "operation" => op),
                errors: counter!(STORE_ERRORS, "backend" => backend, "operation" => op),
            })
            .collect();
        let up = gauge!(STORE_UP, "backend" => backend);
        // Up until an operation says otherwise: a fresh wrapper around a store that was just
        // opened (and so reached).
        up.set(1.0);
        let handles = Arc::new(Handles {
            backend,
            ops,
            up,
            is_up: AtomicBool::new(true),
            sample_every: 1,
            revoked: counter!(SESSIONS_REVOKED, "backend" => backend),
            swept: counter!(SESSIONS_SWEPT, "backend" => backend),
            active: gauge!(SESSIONS_ACTIVE),
        });
        Self { inner, handles }
    }

    /// Times only one operation in `every` (per thread, round robin) instead of all of them;
    /// errors and availability are still tracked on every operation. The histogram then
    /// keeps its quantiles but its `_count` is about 1/`every` of the operations. Recording a
    /// sample is most of what this wrapper costs a request (see `docs/metrics.md`, "Cost"):
    /// use this on hot paths that must pay less. 1 (the default) times every operation.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// # use sessionwarden::{MemoryStore, metrics::InstrumentedStore};
    /// let store = InstrumentedStore::new(MemoryStore::default(), "memory").with_latency_sampling(4);
    /// # drop(store);
    /// ```
    #[must_use]
    pub fn with_latency_sampling(mut self, every: u32) -> Self {
        if let Some(h) = Arc::get_mut(&mut self.handles) {
            h.sample_every = every.max(1);
        } else {
            // Shared with clones already: copy the handles (they point at the same series).
            let h = &self.handles;
            self.handles = Arc::new(Handles {
                backend: h.backend,
                ops: h
                    .ops
                    .iter()
                    .map(|o| OpMetrics { duration: o.duration.clone(), errors: o.errors.clone() })
                    .collect(),
                up: h.up.clone(),
                is_up: AtomicBool::new(h.is_up.load(Ordering::Relaxed)),
                revoked: h.revoked.clone(),
                swept: h.swept.clone(),
                active: h.active.clone(),
                sample_every: every.max(1),
            });
        }
        self
    }

    /// The backend label.
    #[must_use]
    pub fn backend(&self) -> &'static str {
        self.handles.backend
    }

    /// The wrapped store.
    #[must_use]
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Runs one operation, timing it and noting what its result says about the backend.
    async fn timed<T>(
        &self,
        op: Op,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let h = &self.handles;
        let start = (h.sample_every <= 1 || sampled(h.sample_every)).then(quanta::Instant::now);
        let result = fut.await;
        let m = &h.ops[op as usize];
        if let Some(start) = start {
            m.duration.record(start.elapsed());
        }
        let answered = match &result {
            Ok(_) => true,
            Err(StoreError::Corrupt { .. }) => {
                m.errors.increment(1);
                true
            }
            Err(_) => {
                m.errors.increment(1);
                false
            }
        };
        if h.is_up.load(Ordering::Relaxed) != answered {
            h.is_up.store(answered, Ordering::Relaxed);
            h.up.set(if answered { 1.0 } else { 0.0 });
        }
        result
    }

    #[allow(clippy::cast_precision_loss)] // session counts are far below 2^53
    fn ended(&self, counter: &Counter, n: u64) {
        counter.increment(n);
        self.handles.active.decrement(n as f64);
    }
}

/// Whether this thread's next operation is one in `every` to time. A thread-local tick, so
/// threads never contend on a shared counter.
fn sampled(every: u32) -> bool {
    thread_local! {
        static TICK: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    TICK.with(|t| {
        let n = t.get();
        t.set(n.wrapping_add(1));
        n % every == 0
    })
}

impl<S: SessionStore> From<InstrumentedStore<S>> for Backend {
    fn from(store: InstrumentedStore<S>) -> Self {
        Self::Server(Arc::new(store))
    }
}

#[async_trait]
impl<S: SessionStore> SessionStore for InstrumentedStore<S> {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        self.timed(Op::Load, self.inner.load(key, now)).await
    }
    async fn create(&self, key: &StoreKey, record: &Record) -> Result<bool, StoreError> {
        self.timed(Op::Create, self.inner.create(key, record)).await
    }
    async fn save(&self, key: &StoreKey, record: &Record, expected: u64) -> Result<SaveOutcome, StoreError> {
        self.timed(Op::Save, self.inner.save(key, record, expected)).await
    }
    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.timed(Op::Delete, self.inner.delete(key)).await
    }
    async fn cycle(&self, from: &StoreKey, to: &StoreKey) -> Result<bool, StoreError> {
        self.timed(Op::Cycle, self.inner.cycle(from, to)).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.timed(Op::Ping, self.inner.ping()).await
    }
}

#[async_trait]
impl<S: SessionIndex> SessionIndex for InstrumentedStore<S> {
    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<SessionInfo>, StoreError> {
        self.timed(Op::ListUser, self.inner.list_user(user, now)).await
    }
    async fn list(&self, now: Timestamp, limit: usize) -> Result<Vec<SessionInfo>, StoreError> {
        self.timed(Op::List, self.inner.list(now, limit)).await
    }
    async fn list_page(&self, query: &ListQuery, now: Timestamp) -> Result<SessionPage, StoreError> {
        self.timed(Op::ListPage, self.inner.list_page(query, now)).await
    }
    async fn count(&self, user: Option<&str>, now: Timestamp) -> Result<u64, StoreError> {
        self.timed(Op::Count, self.inner.count(user, now)).await
    }
    async fn revoke(&self, handle: &SessionHandle) -> Result<bool, StoreError> {
        let found = self.timed(Op::Revoke, self.inner.revoke(handle)).await?;
        if found {
            self.ended(&self.handles.revoked, 1);
        }
        Ok(found)
    }
    async fn revoke_user(&self, user: &str) -> Result<u64, StoreError> {
        let n = self.timed(Op::RevokeUser, self.inner.revoke_user(user)).await?;
        self.ended(&self.handles.revoked, n);
        Ok(n)
    }
}

#[async_trait]
impl<S: UserSessionCap> UserSessionCap for InstrumentedStore<S> {
    async fn admit(
        &self,
        key: &StoreKey,
        record: &Record,
        replaces: Option<&StoreKey>,
        limit: SessionLimit,
        now: Timestamp,
    ) -> Result<Admission, StoreError> {
        self.timed(Op::Admit, self.inner.admit(key, record, replaces, limit, now)).await
    }
}

#[async_trait]
impl<S: AccountLocks> AccountLocks for InstrumentedStore<S> {
    async fn disable(&self, user: &str, now: Timestamp) -> Result<bool, StoreError> {
        self.timed(Op::AccountLock, self.inner.disable(user, now)).await
    }
    async fn enable(&self, user: &str) -> Result<bool, StoreError> {
        self.timed(Op::AccountLock, self.inner.enable(user)).await
    }
    async fn is_disabled(&self, user: &str) -> Result<bool, StoreError> {
        self.timed(Op::AccountLock, self.inner.is_disabled(user)).await
    }
    async fn list_disabled(&self) -> Result<Vec<DisabledUser>, StoreError> {
        self.timed(Op::AccountLock, self.inner.list_disabled()).await
    }
}

#[async_trait]
impl<S: ExpiredDeletion> ExpiredDeletion for InstrumentedStore<S> {
    async fn delete_expired(&self, now: Timestamp, batch: usize) -> Result<u64, StoreError> {
        let n = self.timed(Op::DeleteExpired, self.inner.delete_expired(now, batch)).await?;
        self.ended(&self.handles.swept, n);
        Ok(n)
    }
}

#[async_trait]
impl<S: AuditLog> AuditLog for InstrumentedStore<S> {
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.timed(Op::AuditAppend, self.inner.append(entry)).await
    }
    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        self.timed(Op::AuditQuery, self.inner.query(query)).await
    }
    async fn purge(&self, before: Timestamp, batch: usize) -> Result<u64, StoreError> {
        self.timed(Op::AuditPurge, self.inner.purge(before, batch)).await
    }
}

#[async_trait]
impl<S: RateLimitStore> RateLimitStore for InstrumentedStore<S> {
    async fn check(&self, key: &str, rate: Rate, cost: u32, now_ms: i64) -> Result<RateDecision, StoreError> {
        self.timed(Op::RateLimitCheck, self.inner.check(key, rate, cost, now_ms)).await
    }
}

#[async_trait]
impl<S: OneTimeKeys> OneTimeKeys for InstrumentedStore<S> {
    async fn put(&self, key: &OnceKey, expires_at: Timestamp, now: Timestamp) -> Result<bool, StoreError> {
        self.timed(Op::OncePut, self.inner.put(key, expires_at, now)).await
    }
    async fn take(&self, key: &OnceKey, now: Timestamp) -> Result<bool, StoreError> {
        self.timed(Op::OnceTake, self.inner.take(key, now)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_match_the_op_order() {
        assert_eq!(OPERATIONS[Op::Load as usize], "load");
        assert_eq!(OPERATIONS[Op::Ping as usize], "ping");
        assert_eq!(OPERATIONS[Op::DeleteExpired as usize], "delete_expired");
        assert_eq!(OPERATIONS[Op::OnceTake as usize], "once_take");
        assert_eq!(OPERATIONS[Op::ListPage as usize], "list_page");
        assert_eq!(OPERATIONS[Op::Admit as usize], "admit");
        assert_eq!(OPERATIONS.len(), Op::AccountLock as usize + 1);
    }
}
