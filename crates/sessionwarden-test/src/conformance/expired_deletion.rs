//! The expired-deletion suite: what an [`ExpiredDeletion`] must do (remove records expired at
//! `now`, at most `batch` per call, and nothing else). Mounted with
//! [`expired_deletion_conformance!`](crate::expired_deletion_conformance).

use std::sync::Arc;

use sessionwarden_tower::{ExpiredDeletion, StoreKey, Timestamp};

use super::{NOW, key, record};

/// Deletes what expired at `at` until none of `keys` loads at [`NOW`] (where they are live).
///
/// Other tests share the store and delete expired records concurrently, and a store may pass
/// over rows another deleter holds (PostgreSQL's `SKIP LOCKED`), so a call that removes
/// nothing does not prove ours are gone: retry, a bounded number of rounds.
async fn delete_until_gone(store: &impl ExpiredDeletion, at: Timestamp, keys: &[StoreKey]) {
    for _ in 0..100 {
        while store.delete_expired(at, 1000).await.unwrap() > 0 {}
        let mut left = 0;
        for k in keys {
            left += usize::from(store.load(k, NOW).await.unwrap().is_some());
        }
        if left == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("an expired record survived every round of delete_expired");
}

suite! {
$
/// Mounts the [expired-deletion suite](crate::conformance::expired_deletion)
/// ([`ExpiredDeletion`](sessionwarden_tower::ExpiredDeletion)) as `#[tokio::test]`s for the store
/// made by `$make`.
mount expired_deletion_conformance;
path conformance::expired_deletion;
wrap std::sync::Arc::new;

pub async fn removes_expired_only(store: Arc<impl ExpiredDeletion>) {
    let (dead, live) = (key(), key());
    let old = Timestamp::from_unix(NOW.unix() - 7200);
    let mut r = record(old, None, &[]);
    r.idle_deadline = Some(Timestamp::from_unix(NOW.unix() + 1));
    store.create(&dead, &r).await.unwrap();
    store.create(&live, &record(NOW, None, &[])).await.unwrap();
    let later = Timestamp::from_unix(NOW.unix() + 2);
    delete_until_gone(&*store, later, &[dead]).await;
    assert!(store.load(&live, NOW).await.unwrap().is_some(), "a live record was deleted");
}

/// A call removes at most `batch` records, and a batch of zero removes none.
pub async fn is_bounded_by_batch(store: Arc<impl ExpiredDeletion>) {
    let old = Timestamp::from_unix(NOW.unix() - 7200);
    let dead: Vec<_> = (0..3).map(|_| key()).collect();
    for k in &dead {
        let mut r = record(old, None, &[]);
        r.idle_deadline = Some(Timestamp::from_unix(NOW.unix() + 1));
        store.create(k, &r).await.unwrap();
    }
    let later = Timestamp::from_unix(NOW.unix() + 2);
    assert_eq!(store.delete_expired(later, 0).await.unwrap(), 0);
    // Other tests share the store and may delete these meanwhile: at most one, not exactly.
    assert!(store.delete_expired(later, 1).await.unwrap() <= 1);
    delete_until_gone(&*store, later, &dead).await;
}

/// A record without any deadline never expires, so deleting what has expired keeps it.
pub async fn keeps_records_without_deadline(store: Arc<impl ExpiredDeletion>) {
    let k = key();
    let mut r = record(NOW, None, &[]);
    r.idle_deadline = None;
    r.absolute_deadline = None;
    store.create(&k, &r).await.unwrap();
    // Not far in the future: other tests share the store and their records must survive.
    let later = Timestamp::from_unix(NOW.unix() + 2);
    while store.delete_expired(later, 1000).await.unwrap() > 0 {}
    assert!(store.load(&k, later).await.unwrap().is_some(), "a record without deadline was deleted");
    store.delete(&k).await.unwrap();
}
}
