//! [`MemoryStore`]'s capabilities beyond sessions: an audit log, rate-limit state and one-time
//! keys, in this process's memory, bounded, shared by the store's clones.
//!
//! Each lives behind its own lock (never the sessions' one), so audit writes, limiter checks
//! and session requests do not queue behind each other. Every operation is one critical
//! section, which makes the rate-limit step and `take` atomic.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use parking_lot::Mutex;

use super::MemoryStore;
use super::capability::{
    AccountLocks, AuditEntry, AuditLog, AuditQuery, DisabledUser, KeyringStore, KeyringVersion, OnceKey,
    OneTimeKeys, Rate, RateDecision, RateLimitStore, gcra_step, lease_secs,
};
use crate::error::StoreError;
use crate::time::Timestamp;

const AUDIT_CAPACITY: usize = MemoryStore::AUDIT_CAPACITY;
const LIMITER_CAPACITY: usize = MemoryStore::LIMITER_CAPACITY;
const ONCE_CAPACITY: usize = MemoryStore::ONCE_CAPACITY;

/// The capabilities beyond sessions: [`AuditLog`], [`RateLimitStore`] and [`OneTimeKeys`],
/// each behind its own lock and shared by the store's clones (one process only: a fleet needs a
/// shared store).
///
/// Bounds, so a flood of distinct keys cannot grow memory without limit:
///
/// | state | bound | when full |
/// |---|---|---|
/// | audit records | [`MemoryStore::AUDIT_CAPACITY`] | the oldest record (by time) is dropped |
/// | rate-limit keys | [`MemoryStore::LIMITER_CAPACITY`] | expired state is dropped first, then the key whose state runs out soonest (the one closest to being forgotten anyway) |
/// | one-time keys | [`MemoryStore::ONCE_CAPACITY`] | expired keys are dropped; if none are, `put` fails with [`StoreError::Unavailable`] (refusing is safer than forgetting a live replay guard) |
impl MemoryStore {
    /// How many audit records a store keeps; past it the oldest go.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// assert_eq!(sessionwarden::MemoryStore::AUDIT_CAPACITY, 100_000);
    /// ```
    pub const AUDIT_CAPACITY: usize = 100_000;
    /// How many rate-limit keys a store tracks at once.
    pub const LIMITER_CAPACITY: usize = 100_000;
    /// How many live one-time keys a store holds at once; past it `put` fails closed.
    pub const ONCE_CAPACITY: usize = 100_000;
}

/// The capability state of one [`MemoryStore`] (and its clones).
#[derive(Default)]
pub(super) struct MemoryCaps {
    audit: Mutex<Audit>,
    limits: Mutex<Limits>,
    once: Mutex<Once>,
    // Disabled users and since when. Unbounded by design: an operator adds each one by hand,
    // and forgetting one would let a disabled user back in.
    disabled: Mutex<HashMap<String, Timestamp>>,
    // Keyring documents and leases by name. Unbounded: a process has a handful of keyrings.
    keyrings: Mutex<HashMap<String, KeyringVersion>>,
    leases: Mutex<HashMap<String, (String, Timestamp)>>,
}

impl std::fmt::Debug for MemoryCaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Sizes only: records name users, keys name challenges.
        f.debug_struct("MemoryCaps")
            .field("audit_records", &self.audit.lock().entries.len())
            .field("rate_limit_keys", &self.limits.lock().tat.len())
            .field("one_time_keys", &self.once.lock().keys.len())
            .field("disabled_users", &self.disabled.lock().len())
            .field("keyrings", &self.keyrings.lock().len())
            .finish()
    }
}

#[derive(Default)]
struct Audit {
    next: u64,
    // Keyed by (time, append sequence): iteration order is oldest first, ties by appending.
    entries: std::collections::BTreeMap<(Timestamp, u64), AuditEntry>,
}

#[derive(Default)]
struct Limits {
    tat: HashMap<String, i64>,
    // (tat, key): what runs out first is at the front.
    by_tat: BTreeSet<(i64, String)>,
}

impl Limits {
    fn pop_first(&mut self) {
        if let Some((_, k)) = self.by_tat.pop_first() {
            self.tat.remove(&k);
        }
    }

    fn store(&mut self, key: &str, tat: i64, now_ms: i64, capacity: usize) {
        if let Some(old) = self.tat.get(key).copied() {
            self.by_tat.remove(&(old, key.to_owned()));
        } else if self.tat.len() >= capacity {
            // Expired state says nothing a missing one would not: drop it first.
            while self.by_tat.first().is_some_and(|(t, _)| *t <= now_ms) {
                self.pop_first();
            }
            // Still full: the state that runs out soonest goes.
            if self.tat.len() >= capacity {
                self.pop_first();
            }
        }
        self.tat.insert(key.to_owned(), tat);
        self.by_tat.insert((tat, key.to_owned()));
    }
}

#[derive(Default)]
struct Once {
    keys: HashMap<[u8; 32], Timestamp>,
    by_expiry: BTreeSet<(Timestamp, [u8; 32])>,
}

impl Once {
    /// Stores `key` until `expires_at` unless a live one is there (`Ok(false)`); `Err` when
    /// `capacity` live keys are held.
    fn put(
        &mut self,
        k: [u8; 32],
        expires_at: Timestamp,
        now: Timestamp,
        capacity: usize,
    ) -> Result<bool, StoreError> {
        if self.keys.get(&k).is_some_and(|&at| at > now) {
            return Ok(false);
        }
        self.remove(&k);
        if expires_at <= now {
            // Already expired: it could never be taken, so there is nothing to keep.
            return Ok(true);
        }
        if self.keys.len() >= capacity {
            self.sweep(now);
            if self.keys.len() >= capacity {
                return Err(StoreError::unavailable("once_put", "one-time key store is full"));
            }
        }
        self.keys.insert(k, expires_at);
        self.by_expiry.insert((expires_at, k));
        Ok(true)
    }

    fn remove(&mut self, key: &[u8; 32]) {
        if let Some(at) = self.keys.remove(key) {
            self.by_expiry.remove(&(at, *key));
        }
    }

    fn sweep(&mut self, now: Timestamp) {
        while let Some(&(at, k)) = self.by_expiry.first() {
            if at > now {
                break;
            }
            self.remove(&k);
        }
    }
}

fn matches(entry: &AuditEntry, q: &AuditQuery) -> bool {
    q.kind.as_ref().is_none_or(|k| *k == entry.kind)
        && q.user.as_ref().is_none_or(|u| entry.user.as_ref() == Some(u))
        && q.since.is_none_or(|s| entry.at >= s)
        && q.until.is_none_or(|u| entry.at < u)
}

/// Audit records in memory, at most [`MemoryStore::AUDIT_CAPACITY`] (the oldest go first).
#[async_trait]
impl AuditLog for MemoryStore {
    async fn append(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let mut audit = self.caps.audit.lock();
        let seq = audit.next;
        audit.next += 1;
        audit.entries.insert((entry.at, seq), entry.clone());
        while audit.entries.len() > AUDIT_CAPACITY {
            audit.entries.pop_first();
        }
        Ok(())
    }

    async fn query(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let audit = self.caps.audit.lock();
        Ok(audit.entries.values().rev().filter(|e| matches(e, query)).take(query.limit).cloned().collect())
    }

    async fn purge(&self, before: Timestamp, batch: usize) -> Result<u64, StoreError> {
        let mut audit = self.caps.audit.lock();
        let mut removed = 0;
        while removed < batch {
            match audit.entries.first_key_value() {
                Some((&(at, _), _)) if at < before => {
                    audit.entries.pop_first();
                    removed += 1;
                }
                _ => break,
            }
        }
        Ok(removed as u64)
    }
}

/// Rate-limit state in memory: one theoretical arrival time per key, at most
/// [`MemoryStore::LIMITER_CAPACITY`] keys. Only for one server: a fleet needs a shared store.
#[async_trait]
impl RateLimitStore for MemoryStore {
    async fn check(&self, key: &str, rate: Rate, cost: u32, now_ms: i64) -> Result<RateDecision, StoreError> {
        let mut limits = self.caps.limits.lock();
        let (decision, stored) = gcra_step(limits.tat.get(key).copied(), now_ms, rate, cost);
        if let Some(tat) = stored {
            limits.store(key, tat, now_ms, LIMITER_CAPACITY);
        }
        Ok(decision)
    }
}

/// One-time keys in memory, at most [`MemoryStore::ONCE_CAPACITY`] live ones.
#[async_trait]
impl OneTimeKeys for MemoryStore {
    async fn put(&self, key: &OnceKey, expires_at: Timestamp, now: Timestamp) -> Result<bool, StoreError> {
        self.caps.once.lock().put(*key.as_bytes(), expires_at, now, ONCE_CAPACITY)
    }

    async fn take(&self, key: &OnceKey, now: Timestamp) -> Result<bool, StoreError> {
        let mut once = self.caps.once.lock();
        let k = *key.as_bytes();
        let live = once.keys.get(&k).is_some_and(|&at| at > now);
        if live {
            once.remove(&k);
        }
        Ok(live)
    }
}

/// Disabled users, in this process only (a fleet needs a shared store).
#[async_trait]
impl AccountLocks for MemoryStore {
    async fn disable(&self, user: &str, now: Timestamp) -> Result<bool, StoreError> {
        let mut disabled = self.caps.disabled.lock();
        if disabled.contains_key(user) {
            return Ok(false);
        }
        disabled.insert(user.to_owned(), now);
        Ok(true)
    }

    async fn enable(&self, user: &str) -> Result<bool, StoreError> {
        Ok(self.caps.disabled.lock().remove(user).is_some())
    }

    async fn is_disabled(&self, user: &str) -> Result<bool, StoreError> {
        Ok(self.caps.disabled.lock().contains_key(user))
    }

    async fn list_disabled(&self) -> Result<Vec<DisabledUser>, StoreError> {
        let mut out: Vec<DisabledUser> =
            self.caps.disabled.lock().iter().map(|(u, t)| DisabledUser::new(u.clone(), *t)).collect();
        out.sort_by(|a, b| a.user.cmp(&b.user));
        Ok(out)
    }
}

/// Keyring documents and leases, in this process only: clones of one store share them (a
/// fleet needs a shared store). Each operation is one critical section, so swaps and lease
/// acquisitions are atomic.
#[async_trait]
impl KeyringStore for MemoryStore {
    async fn keyring_version(&self, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.caps.keyrings.lock().get(name).map(|k| k.version))
    }

    async fn load_keyring(&self, name: &str) -> Result<Option<KeyringVersion>, StoreError> {
        Ok(self.caps.keyrings.lock().get(name).cloned())
    }

    async fn swap_keyring(
        &self,
        name: &str,
        expected: Option<u64>,
        document: &[u8],
    ) -> Result<bool, StoreError> {
        let mut keyrings = self.caps.keyrings.lock();
        let current = keyrings.get(name).map(|k| k.version);
        if current != expected {
            return Ok(false);
        }
        let version = expected.map_or(1, |v| v.saturating_add(1));
        keyrings.insert(name.to_owned(), KeyringVersion::new(version, document.to_vec()));
        Ok(true)
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl: std::time::Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut leases = self.caps.leases.lock();
        if let Some((who, until)) = leases.get(name)
            && who != holder
            && *until > now
        {
            return Ok(false);
        }
        let until = Timestamp::from_unix(now.unix().saturating_add(lease_secs(ttl)));
        leases.insert(name.to_owned(), (holder.to_owned(), until));
        Ok(true)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool, StoreError> {
        let mut leases = self.caps.leases.lock();
        if leases.get(name).is_some_and(|(who, _)| who == holder) {
            leases.remove(name);
            return Ok(true);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_state_stays_within_its_bound() {
        let mut limits = Limits::default();
        for i in 0..10 {
            limits.store(&format!("k{i}"), 1_000 + i, 0, 4);
            assert!(limits.tat.len() <= 4 && limits.by_tat.len() == limits.tat.len());
        }
        // The soonest to run out went first: the four latest remain.
        let mut left: Vec<_> = limits.tat.values().copied().collect();
        left.sort_unstable();
        assert_eq!(left, [1_006, 1_007, 1_008, 1_009]);
        // Expired state goes before live state: at 1_007 two are expired, and one new key
        // evicts only expired ones.
        limits.store("new", 5_000, 1_007, 4);
        assert!(
            limits.tat.contains_key("k8") && limits.tat.contains_key("k9") && limits.tat.contains_key("new")
        );
        // Updating a known key never evicts.
        limits.store("k9", 6_000, 0, limits.tat.len());
        assert_eq!(limits.tat["k9"], 6_000);
        assert_eq!(limits.by_tat.len(), limits.tat.len());
    }

    #[test]
    fn once_keys_fail_closed_when_full_of_live_keys() {
        let mut once = Once::default();
        let (t, now) = (Timestamp::from_unix, Timestamp::from_unix(100));
        for i in 0..3u8 {
            assert!(once.put([i; 32], t(200 + i64::from(i)), now, 3).unwrap());
        }
        assert!(once.put([9; 32], t(300), now, 3).is_err(), "full of live keys: refuse, forget none");
        assert!(!once.put([0; 32], t(300), now, 3).unwrap(), "the live ones are all still there");
        // Once some have expired they make room.
        assert!(once.put([9; 32], t(300), t(201), 3).unwrap());
        assert_eq!(once.keys.len(), 2, "the two expired keys were swept, the new one stored");
        assert_eq!(once.by_expiry.len(), once.keys.len());
    }

    #[test]
    fn debug_shows_sizes_only() {
        let caps = MemoryCaps::default();
        caps.limits.lock().store("secret-user@example.com", 10, 0, 10);
        let shown = format!("{caps:?}");
        assert!(!shown.contains("secret-user"), "{shown}");
        assert!(shown.contains("rate_limit_keys: 1"), "{shown}");
    }
}
