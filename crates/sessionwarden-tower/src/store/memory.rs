//! The in-process store: bounded, swept, for one server or for tests.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;

use super::{
    Admission, ExpiredDeletion, LimitPolicy, ListQuery, SaveOutcome, SessionIndex, SessionInfo, SessionLimit,
    SessionPage, SessionStore, UserSessionCap,
};
use crate::error::StoreError;
use crate::id::{SessionHandle, StoreKey};
use crate::record::Record;
use crate::time::Timestamp;

/// Sessions in this process's memory, lost on restart.
///
/// Bounded by a number of sessions (default 100 000). When full, expired sessions are swept
/// first; if none are, the session nearest its deadline (the least recently active) is
/// evicted to make room, so the store never grows past its bound. A flood of new sessions
/// can therefore push out idle ones: use a persistent store where that matters.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use sessionwarden::MemoryStore;
/// let store = MemoryStore::with_capacity(10_000);
/// assert_eq!(store.capacity(), 10_000);
/// ```
#[derive(Clone, Debug)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    // Audit log, rate limits, one-time keys: see `memory_caps.rs`.
    pub(super) caps: Arc<super::memory_caps::MemoryCaps>,
}

#[derive(Debug)]
struct Inner {
    capacity: usize,
    // Ordered by store key, so a page of the listing is a range read from its cursor.
    records: BTreeMap<StoreKey, Record>,
    // Ordered by deadline, so sweeping and eviction take the front.
    by_deadline: BTreeSet<(Timestamp, StoreKey)>,
    by_user: HashMap<String, HashSet<StoreKey>>,
    /// Eviction and sweep counters, once [`MemoryStore::with_metrics`] registered them.
    #[cfg(feature = "metrics")]
    metrics: Option<RoomMetrics>,
}

/// What making room ended: live sessions evicted, expired ones swept.
#[cfg(feature = "metrics")]
#[derive(Debug)]
struct RoomMetrics {
    evicted: metrics::Counter,
    swept: metrics::Counter,
    active: metrics::Gauge,
}

const NEVER: Timestamp = Timestamp::from_unix(i64::MAX);

impl Default for MemoryStore {
    fn default() -> Self {
        Self::with_capacity(100_000)
    }
}

impl MemoryStore {
    /// A store that holds at most `capacity` sessions (at least 1).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                capacity: capacity.max(1),
                records: BTreeMap::new(),
                by_deadline: BTreeSet::new(),
                by_user: HashMap::new(),
                #[cfg(feature = "metrics")]
                metrics: None,
            })),
            caps: Arc::default(),
        }
    }

    /// Also counts the sessions a full store ends to make room: live ones evicted
    /// ([`SESSIONS_EVICTED`](crate::metrics::SESSIONS_EVICTED)) and expired ones swept
    /// ([`SESSIONS_SWEPT`](crate::metrics::SESSIONS_SWEPT), `backend="memory"`), registered
    /// with the current recorder. Sweeps through
    /// [`ExpiredDeletion`] are counted by [`InstrumentedStore`](crate::metrics::InstrumentedStore).
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// let store = sessionwarden::MemoryStore::with_capacity(10).with_metrics();
    /// # drop(store);
    /// ```
    #[cfg(feature = "metrics")]
    #[must_use]
    pub fn with_metrics(self) -> Self {
        use crate::metrics::{SESSIONS_ACTIVE, SESSIONS_EVICTED, SESSIONS_SWEPT};
        self.inner.lock().metrics = Some(RoomMetrics {
            evicted: metrics::counter!(SESSIONS_EVICTED),
            swept: metrics::counter!(SESSIONS_SWEPT, "backend" => "memory"),
            active: metrics::gauge!(SESSIONS_ACTIVE),
        });
        self
    }

    /// The bound.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.inner.lock().capacity
    }

    /// How many sessions are held now (expired ones not yet swept included).
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.lock().records.len()
    }

    /// Whether the store holds no session.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    fn insert(&mut self, key: StoreKey, record: Record) {
        self.remove(&key);
        self.by_deadline.insert((record.expires_at().unwrap_or(NEVER), key));
        if let Some(user) = &record.user {
            self.by_user.entry(user.clone()).or_default().insert(key);
        }
        self.records.insert(key, record);
    }

    fn remove(&mut self, key: &StoreKey) -> Option<Record> {
        let record = self.records.remove(key)?;
        self.by_deadline.remove(&(record.expires_at().unwrap_or(NEVER), *key));
        if let Some(user) = &record.user
            && let Some(set) = self.by_user.get_mut(user)
        {
            set.remove(key);
            if set.is_empty() {
                self.by_user.remove(user);
            }
        }
        Some(record)
    }

    fn sweep(&mut self, now: Timestamp, batch: usize) -> u64 {
        let mut removed = 0;
        while removed < batch as u64 {
            match self.by_deadline.first() {
                Some(&(deadline, key)) if deadline <= now => {
                    self.remove(&key);
                    removed += 1;
                }
                _ => break,
            }
        }
        removed
    }

    fn make_room(&mut self, now: Timestamp) {
        if self.records.len() < self.capacity {
            return;
        }
        let _swept = self.sweep(now, usize::MAX);
        let mut _evicted = 0u64;
        while self.records.len() >= self.capacity {
            let Some(&(_, key)) = self.by_deadline.first() else { break };
            self.remove(&key);
            _evicted += 1;
        }
        #[cfg(feature = "metrics")]
        #[allow(clippy::cast_precision_loss)] // session counts are far below 2^53
        if let Some(m) = &self.metrics {
            m.swept.increment(_swept);
            m.evicted.increment(_evicted);
            m.active.decrement((_swept + _evicted) as f64);
        }
    }

    fn live(&self, key: &StoreKey, now: Timestamp) -> Option<&Record> {
        self.records.get(key).filter(|r| !r.is_expired(now))
    }

    /// The key `handle` names, found by a range read over the ordered keys.
    fn key_of(&self, handle: &SessionHandle) -> Option<StoreKey> {
        let (low, high) = handle_range(handle)?;
        self.records.range(low..=high).map(|(k, _)| *k).next()
    }

    /// Up to `limit + 1` live sessions after `query.after`, in key order: one past the page
    /// tells whether more follow.
    fn page(&self, query: &ListQuery, now: Timestamp) -> SessionPage {
        if query.limit == 0 {
            return SessionPage::default();
        }
        let start = match &query.after {
            None => Bound::Unbounded,
            Some(h) => match h.cursor_key() {
                Some(k) => Bound::Excluded(k),
                // Not a handle of any key: a position nothing sorts after.
                None => return SessionPage::default(),
            },
        };
        let want = query.limit.saturating_add(1);
        let mut out: Vec<SessionInfo> = match &query.user {
            // A user's sessions are few: sort them rather than walk every key.
            Some(user) => {
                let mut keys: Vec<StoreKey> = self
                    .by_user
                    .get(user)
                    .into_iter()
                    .flatten()
                    .filter(|k| match start {
                        Bound::Excluded(c) => **k > c,
                        _ => true,
                    })
                    .copied()
                    .collect();
                keys.sort_unstable();
                keys.iter()
                    .filter_map(|k| self.live(k, now).map(|r| SessionInfo::new(k, r)))
                    .take(want)
                    .collect()
            }
            None => self
                .records
                .range((start, Bound::Unbounded))
                .filter(|(_, r)| !r.is_expired(now))
                .map(|(k, r)| SessionInfo::new(k, r))
                .take(want)
                .collect(),
        };
        let more = out.len() > query.limit;
        out.truncate(query.limit);
        SessionPage::new(out, more)
    }
}

/// The inclusive range of keys whose first 16 bytes are those `handle` encodes.
fn handle_range(handle: &SessionHandle) -> Option<(StoreKey, StoreKey)> {
    let prefix = handle.key_prefix()?;
    let mut low = [0u8; 32];
    low[..16].copy_from_slice(&prefix);
    Some((StoreKey::from_bytes(low), handle.cursor_key()?))
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn load(&self, key: &StoreKey, now: Timestamp) -> Result<Option<Record>, StoreError> {
        Ok(self.inner.lock().live(key, now).cloned())
    }

    async fn create(&self, key: &StoreKey, record: &Record) -> Result<bool, StoreError> {
        let mut inner = self.inner.lock();
        let now = record.last_seen;
        if inner.live(key, now).is_some() {
            return Ok(false);
        }
        inner.make_room(now);
        inner.insert(*key, record.clone());
        Ok(true)
    }

    async fn save(&self, key: &StoreKey, record: &Record, expected: u64) -> Result<SaveOutcome, StoreError> {
        let mut inner = self.inner.lock();
        let Some(current) = inner.live(key, record.last_seen) else {
            return Ok(SaveOutcome::Missing);
        };
        if current.version != expected {
            return Ok(SaveOutcome::Conflict(current.clone()));
        }
        inner.insert(*key, record.clone());
        Ok(SaveOutcome::Saved)
    }

    async fn delete(&self, key: &StoreKey) -> Result<(), StoreError> {
        self.inner.lock().remove(key);
        Ok(())
    }

    async fn cycle(&self, from: &StoreKey, to: &StoreKey) -> Result<bool, StoreError> {
        let mut inner = self.inner.lock();
        if inner.records.contains_key(to) || !inner.records.contains_key(from) {
            return Ok(false);
        }
        if let Some(record) = inner.remove(from) {
            inner.insert(*to, record);
        }
        Ok(true)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl SessionIndex for MemoryStore {
    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<SessionInfo>, StoreError> {
        let inner = self.inner.lock();
        let mut out: Vec<SessionInfo> = inner
            .by_user
            .get(user)
            .into_iter()
            .flatten()
            .filter_map(|k| inner.live(k, now).map(|r| SessionInfo::new(k, r)))
            .collect();
        out.sort_by_key(|s| s.created);
        Ok(out)
    }

    async fn list(&self, now: Timestamp, limit: usize) -> Result<Vec<SessionInfo>, StoreError> {
        let inner = self.inner.lock();
        let mut out: Vec<SessionInfo> = inner
            .records
            .iter()
            .filter(|(_, r)| !r.is_expired(now))
            .map(|(k, r)| SessionInfo::new(k, r))
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.last_seen));
        out.truncate(limit);
        Ok(out)
    }

    async fn list_page(&self, query: &ListQuery, now: Timestamp) -> Result<SessionPage, StoreError> {
        Ok(self.inner.lock().page(query, now))
    }

    async fn count(&self, user: Option<&str>, now: Timestamp) -> Result<u64, StoreError> {
        let inner = self.inner.lock();
        let n = match user {
            Some(user) => {
                inner.by_user.get(user).into_iter().flatten().filter(|k| inner.live(k, now).is_some()).count()
            }
            None => inner.records.values().filter(|r| !r.is_expired(now)).count(),
        };
        Ok(n as u64)
    }

    async fn revoke(&self, handle: &SessionHandle) -> Result<bool, StoreError> {
        let mut inner = self.inner.lock();
        let key = inner.key_of(handle);
        Ok(key.and_then(|k| inner.remove(&k)).is_some())
    }

    async fn revoke_user(&self, user: &str) -> Result<u64, StoreError> {
        // One lock for the whole revoke: no login can slip a session in halfway.
        let mut inner = self.inner.lock();
        let keys: Vec<StoreKey> = inner.by_user.get(user).into_iter().flatten().copied().collect();
        for k in &keys {
            inner.remove(k);
        }
        Ok(keys.len() as u64)
    }
}

#[async_trait]
impl ExpiredDeletion for MemoryStore {
    async fn delete_expired(&self, now: Timestamp, batch: usize) -> Result<u64, StoreError> {
        Ok(self.inner.lock().sweep(now, batch))
    }
}

/// One lock over the records and the user index: counting, evicting and creating are one
/// critical section, so concurrent logins of one user are decided one after another.
#[async_trait]
impl UserSessionCap for MemoryStore {
    async fn admit(
        &self,
        key: &StoreKey,
        record: &Record,
        replaces: Option<&StoreKey>,
        limit: SessionLimit,
        now: Timestamp,
    ) -> Result<Admission, StoreError> {
        let mut inner = self.inner.lock();
        if inner.live(key, now).is_some() {
            return Ok(Admission::Taken);
        }
        let mut evicted = Vec::new();
        if let Some(user) = &record.user {
            let mut others: Vec<(Timestamp, StoreKey)> = inner
                .by_user
                .get(user)
                .into_iter()
                .flatten()
                .filter(|k| Some(*k) != replaces)
                .filter_map(|k| inner.live(k, now).map(|r| (r.created, *k)))
                .collect();
            others.sort();
            let max = usize::try_from(limit.max()).unwrap_or(usize::MAX);
            if others.len() >= max {
                if limit.policy() == LimitPolicy::RefuseNew {
                    return Ok(Admission::Refused);
                }
                let excess = others.len() + 1 - max;
                for (_, k) in &others[..excess] {
                    inner.remove(k);
                    evicted.push(k.handle());
                }
            }
        }
        if let Some(old) = replaces {
            inner.remove(old);
        }
        inner.make_room(now);
        inner.insert(*key, record.clone());
        Ok(Admission::Admitted { evicted })
    }
}
