//! [`MemoryStore`]'s capabilities beyond sessions: an audit log, rate-limit state and one-time
//! keys, in this process's memory, bounded, shared by the store's clones.
//!
//! Each lives behind its own lock (never the sessions' one), so audit writes, limiter checks
//! and session requests do not queue behind each other. Every operation is one critical
//! section, which makes the rate-limit step and `take` atomic.
//!
//! Bounds, so a flood of distinct keys cannot grow memory without limit:
//!
//! | state | bound | when full |
//! |---|---|---|
//! | audit records | [`MemoryStore::AUDIT_CAPACITY`] | the oldest record (by time) is dropped |
//! | rate-limit keys | [`MemoryStore::LIMITER_CAPACITY`] | expired state is dropped first, then the key whose state runs out soonest (the one closest to being forgotten anyway) |
//! | one-time keys | [`MemoryStore::ONCE_CAPACITY`] | expired keys are dropped; if none are, `put` fails with [`StoreError::Unavailable`] (refusing is safer than forgetting a live replay guard) |

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use parking_lot::Mutex;

use super::MemoryStore;
use super::capability::{
    AuditEntry, AuditLog, AuditQuery, OnceKey, OneTimeKeys, Rate, RateDecision, RateLimitStore, gcra_step,
};
use crate::error::StoreError;
use crate::time::Timestamp;

const AUDIT_CAPACITY: usize = MemoryStore::AUDIT_CAPACITY;
const LIMITER_CAPACITY: usize = MemoryStore::LIMITER_CAPACITY;
const ONCE_CAPACITY: usize = MemoryStore::ONCE_CAPACITY;

impl MemoryStore {
    /// How many audit records a store keeps; past it the oldest go.
    ///
    /// ```
    /// assert_eq!(sessionwarden::MemoryStore::AUDIT_CAPACITY, 100_000);
    /// ```
    pub const AUDIT_CAPACITY: usize = 100_000;
    /// How many rate-limit keys a store tracks at once.
    pub const LIMITER_CAPACITY: usize = 100_000;
    /// How many live one-time keys a store holds at once; past it `put` fails closed.
    pub const ONCE_CAPACITY: usize = 100_000;
}

/// The capability state of one [`MemoryStore`] (and its clones).
#[derive(Debug, Default)]
pub(super) struct MemoryCaps {
    audit: Mutex<Audit>,
    limits: Mutex<Limits>,
    once: Mutex<Once>,
}

#[derive(Debug, Default)]
struct Audit {
    next: u64,
    // Keyed by (time, append sequence): iteration order is oldest first, ties by appending.
    entries: std::collections::BTreeMap<(Timestamp, u64), AuditEntry>,
}

#[derive(Debug, Default)]
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

    fn store(&mut self, key: &str, tat: i64, now_ms: i64) {
        if let Some(old) = self.tat.get(key).copied() {
            self.by_tat.remove(&(old, key.to_owned()));
        } else if self.tat.len() >= LIMITER_CAPACITY {
            // Expired state says nothing a missing one would not: drop it first.
            while self.by_tat.first().is_some_and(|(t, _)| *t <= now_ms) {
                self.pop_first();
            }
            // Still full: the state that runs out soonest goes.
            if self.tat.len() >= LIMITER_CAPACITY {
                self.pop_first();
            }
        }
        self.tat.insert(key.to_owned(), tat);
        self.by_tat.insert((tat, key.to_owned()));
    }
}

#[derive(Debug, Default)]
struct Once {
    keys: HashMap<[u8; 32], Timestamp>,
    by_expiry: BTreeSet<(Timestamp, [u8; 32])>,
}

impl Once {
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
        Ok(audit
            .entries
            .values()
            .rev()
            .filter(|e| matches(e, query))
            .take(query.limit)
            .cloned()
            .collect())
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
            limits.store(key, tat, now_ms);
        }
        Ok(decision)
    }
}

/// One-time keys in memory, at most [`MemoryStore::ONCE_CAPACITY`] live ones.
#[async_trait]
impl OneTimeKeys for MemoryStore {
    async fn put(&self, key: &OnceKey, expires_at: Timestamp, now: Timestamp) -> Result<bool, StoreError> {
        let mut once = self.caps.once.lock();
        let k = *key.as_bytes();
        if once.keys.get(&k).is_some_and(|&at| at > now) {
            return Ok(false);
        }
        once.remove(&k);
        if expires_at <= now {
            // Already expired: it could never be taken, so there is nothing to keep.
            return Ok(true);
        }
        if once.keys.len() >= ONCE_CAPACITY {
            once.sweep(now);
            if once.keys.len() >= ONCE_CAPACITY {
                return Err(StoreError::unavailable("once_put", "one-time key store is full"));
            }
        }
        once.keys.insert(k, expires_at);
        once.by_expiry.insert((expires_at, k));
        Ok(true)
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
