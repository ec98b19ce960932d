//! The conformance suites on the in-process store (it has every capability the suites cover),
//! on a cache and on the test wrapper over it (both keep the capabilities of what they wrap),
//! plus what only the memory store promises: a bound.
#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use std::sync::Arc;

use sessionwarden_tower::maintenance::{Maintenance, in_batches};
use sessionwarden_tower::store::ExpiredDeletion as _;
use sessionwarden_tower::{
    Clock as _, Expiry, ManualClock, MemoryStore, Record, SessionId, SessionStore, Timestamp,
};

use sessionwarden_test::wrappers::Instrumented;
use sessionwarden_tower::store::{CachedStore, LocalInvalidator};

fn cached() -> CachedStore<MemoryStore> {
    CachedStore::new(MemoryStore::default(), LocalInvalidator::default(), 1000)
}

fn instrumented() -> Instrumented<MemoryStore> {
    Instrumented::new(std::sync::Arc::new(MemoryStore::default()))
}

sessionwarden_test::core_conformance!(memory_core, || async { MemoryStore::default() });
sessionwarden_test::index_conformance!(memory_index, || async { MemoryStore::default() });
sessionwarden_test::expired_deletion_conformance!(memory_expired_deletion, || async {
    MemoryStore::default()
});

sessionwarden_test::core_conformance!(cached_memory_core, || async { cached() });
sessionwarden_test::index_conformance!(cached_memory_index, || async { cached() });
sessionwarden_test::expired_deletion_conformance!(cached_memory_expired_deletion, || async { cached() });

sessionwarden_test::core_conformance!(instrumented_memory_core, || async { instrumented() });
sessionwarden_test::index_conformance!(instrumented_memory_index, || async { instrumented() });
sessionwarden_test::expired_deletion_conformance!(instrumented_memory_expired_deletion, || async {
    instrumented()
});

#[tokio::test]
async fn never_grows_past_its_bound() {
    let store = MemoryStore::with_capacity(100);
    let expiry = Expiry::default().with_idle_timeout(Some(Duration::from_secs(3600)));
    let mut last = None;
    for i in 0..1000 {
        let now = Timestamp::from_unix(1_000 + i);
        let mut r = Record::new(now, &expiry);
        r.version = 1;
        let k = SessionId::generate().store_key();
        assert!(store.create(&k, &r).await.unwrap());
        assert!(store.len() <= 100, "grew to {}", store.len());
        last = Some((k, now));
    }
    assert_eq!(store.len(), 100);
    // The newest session survived the evictions.
    let (k, now) = last.unwrap();
    assert!(store.load(&k, now).await.unwrap().is_some());
}

#[tokio::test]
async fn full_store_sweeps_expired_before_evicting_live() {
    let store = MemoryStore::with_capacity(3);
    let expiry = Expiry::default().with_idle_timeout(Some(Duration::from_secs(10)));
    let t0 = Timestamp::from_unix(1_000);
    let mut keys = Vec::new();
    for _ in 0..3 {
        let mut r = Record::new(t0, &expiry);
        r.version = 1;
        let k = SessionId::generate().store_key();
        store.create(&k, &r).await.unwrap();
        keys.push(k);
    }
    // One session renewed later stays live; the other two expire.
    let t1 = Timestamp::from_unix(1_008);
    let mut renewed = store.load(&keys[0], t1).await.unwrap().unwrap();
    renewed.touch(t1, &expiry);
    renewed.version = 2;
    store.save(&keys[0], &renewed, 1).await.unwrap();
    let t2 = Timestamp::from_unix(1_012);
    let mut r = Record::new(t2, &expiry);
    r.version = 1;
    store.create(&SessionId::generate().store_key(), &r).await.unwrap();
    assert_eq!(store.len(), 2, "expired sessions are swept, the renewed one kept");
    assert!(store.load(&keys[0], t2).await.unwrap().is_some());
}

/// The maintenance task sweeps a real store off the injected clock, in bounded batches.
#[tokio::test]
async fn a_sweep_of_a_real_store_removes_what_expired() {
    let clock = ManualClock::new(Timestamp::from_unix(1_800_000_000));
    let store = Arc::new(MemoryStore::default());
    let expiry = Expiry::default().with_idle_timeout(Some(Duration::from_secs(60)));
    for _ in 0..5 {
        let key = SessionId::try_generate().unwrap().store_key();
        assert!(store.create(&key, &Record::new(clock.now(), &expiry)).await.unwrap());
    }
    let swept = store.clone();
    let mut m = Maintenance::new(Arc::new(clock.clone())).with_job(
        "session sweep",
        Duration::from_secs(60),
        move |now| {
            let store = swept.clone();
            async move { in_batches(2, || store.delete_expired(now, 2)).await }
        },
    );
    assert_eq!(m.run_due().await[0].removed(), Some(0), "nothing expired yet");
    clock.advance(Duration::from_secs(61));
    assert_eq!(m.run_due().await[0].removed(), Some(5), "three batches of at most two");
}
