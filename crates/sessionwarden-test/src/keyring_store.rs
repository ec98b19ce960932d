//! The keyring-store suite: what every [`KeyringStore`] must do (versioned documents with
//! compare-and-set, and leases on the callers' clock).
//!
//! Mount it with [`keyring_store_conformance!`](crate::keyring_store_conformance). Every case
//! uses names unique to the run and injects its own `now`, so stores shared between tests and
//! runs need no cleanup.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use sessionwarden_tower::Timestamp;
use sessionwarden_tower::store::KeyringStore;

use crate::conformance::NOW;
use crate::tokens::unique;

fn at(offset: i64) -> Timestamp {
    Timestamp::from_unix(NOW.unix() + offset)
}

fn name() -> String {
    unique("keyring")
}

const MINUTE: Duration = Duration::from_secs(60);

/// A name never swapped has no version and no document.
pub async fn missing_keyring_is_none<S: KeyringStore>(store: Arc<S>) {
    let n = name();
    assert_eq!(store.keyring_version(&n).await.unwrap(), None);
    assert!(store.load_keyring(&n).await.unwrap().is_none());
}

/// The first swap stores version 1; a second "first" swap is refused and changes nothing.
pub async fn first_swap_stores_version_one<S: KeyringStore>(store: Arc<S>) {
    let n = name();
    assert!(store.swap_keyring(&n, None, b"first").await.unwrap());
    assert_eq!(store.keyring_version(&n).await.unwrap(), Some(1));
    assert!(!store.swap_keyring(&n, None, b"again").await.unwrap(), "a keyring is already there");
    let v = store.load_keyring(&n).await.unwrap().unwrap();
    assert_eq!((v.version, v.document.as_slice()), (1, &b"first"[..]));
}

/// A swap succeeds only from the current version and stores the next one; a stale or future
/// `expected` is refused and changes nothing.
pub async fn swap_needs_the_current_version<S: KeyringStore>(store: Arc<S>) {
    let n = name();
    assert!(!store.swap_keyring(&n, Some(1), b"no").await.unwrap(), "nothing stored yet");
    assert_eq!(store.keyring_version(&n).await.unwrap(), None, "the refused swap stored nothing");
    assert!(store.swap_keyring(&n, None, b"v1").await.unwrap());
    assert!(store.swap_keyring(&n, Some(1), b"v2").await.unwrap());
    assert!(!store.swap_keyring(&n, Some(1), b"stale").await.unwrap(), "a stale version");
    assert!(!store.swap_keyring(&n, Some(3), b"future").await.unwrap(), "a future version");
    assert!(store.swap_keyring(&n, Some(2), b"v3").await.unwrap());
    let v = store.load_keyring(&n).await.unwrap().unwrap();
    assert_eq!((v.version, v.document.as_slice()), (3, &b"v3"[..]));
    assert_eq!(store.keyring_version(&n).await.unwrap(), Some(3));
}

/// Documents are bytes, kept exactly: every byte value, and a 64 KiB document.
pub async fn documents_are_kept_byte_for_byte<S: KeyringStore>(store: Arc<S>) {
    let n = name();
    let all: Vec<u8> = (0..=255u8).collect();
    assert!(store.swap_keyring(&n, None, &all).await.unwrap());
    assert_eq!(store.load_keyring(&n).await.unwrap().unwrap().document, all);
    let big: Vec<u8> = (0..65_536u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    assert!(store.swap_keyring(&n, Some(1), &big).await.unwrap());
    assert_eq!(store.load_keyring(&n).await.unwrap().unwrap().document, big);
}

/// Keyrings of different names are independent.
pub async fn keyrings_are_isolated_by_name<S: KeyringStore>(store: Arc<S>) {
    let (a, b) = (name(), name());
    assert!(store.swap_keyring(&a, None, b"a1").await.unwrap());
    assert!(store.swap_keyring(&a, Some(1), b"a2").await.unwrap());
    assert_eq!(store.keyring_version(&b).await.unwrap(), None, "b untouched");
    assert!(store.swap_keyring(&b, None, b"b1").await.unwrap(), "b starts at its own version 1");
    assert_eq!(store.load_keyring(&a).await.unwrap().unwrap().document, b"a2");
    assert_eq!(store.load_keyring(&b).await.unwrap().unwrap().document, b"b1");
}

/// Of 16 concurrent swaps from one version exactly one succeeds, and its document is stored.
pub async fn concurrent_swaps_have_one_winner<S: KeyringStore>(store: Arc<S>) {
    let n = name();
    assert!(store.swap_keyring(&n, None, b"base").await.unwrap());
    let tasks: Vec<_> = (0..16u8)
        .map(|i| {
            let (store, n) = (store.clone(), n.clone());
            tokio::spawn(async move { (i, store.swap_keyring(&n, Some(1), &[b'w', i]).await.unwrap()) })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (i, won) = t.await.unwrap();
        if won {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one swap wins: {winners:?}");
    let v = store.load_keyring(&n).await.unwrap().unwrap();
    assert_eq!((v.version, v.document), (2, vec![b'w', winners[0]]));
}

/// A lease is exclusive until it expires (at `now + ttl`, by the callers' clock); its holder
/// renews it; once expired anyone takes it.
pub async fn lease_is_exclusive_until_it_expires<S: KeyringStore>(store: Arc<S>) {
    let lease = unique("lease");
    assert!(store.acquire_lease(&lease, "node-a", MINUTE, NOW).await.unwrap());
    assert!(!store.acquire_lease(&lease, "node-b", MINUTE, at(1)).await.unwrap(), "a holds it");
    assert!(store.acquire_lease(&lease, "node-a", MINUTE, at(30)).await.unwrap(), "a renews: until 90");
    assert!(!store.acquire_lease(&lease, "node-b", MINUTE, at(89)).await.unwrap(), "renewed, still a's");
    assert!(
        store.acquire_lease(&lease, "node-b", MINUTE, at(90)).await.unwrap(),
        "expired at 90: b takes it"
    );
    assert!(!store.acquire_lease(&lease, "node-a", MINUTE, at(91)).await.unwrap(), "now b's");
}

/// Only the holder releases a lease; once released anyone takes it at once.
pub async fn only_the_holder_releases_a_lease<S: KeyringStore>(store: Arc<S>) {
    let lease = unique("lease");
    assert!(!store.release_lease(&lease, "node-a").await.unwrap(), "nobody holds it");
    assert!(store.acquire_lease(&lease, "node-a", MINUTE, NOW).await.unwrap());
    assert!(!store.release_lease(&lease, "node-b").await.unwrap(), "b is not the holder");
    assert!(!store.acquire_lease(&lease, "node-b", MINUTE, NOW).await.unwrap(), "still a's");
    assert!(store.release_lease(&lease, "node-a").await.unwrap());
    assert!(store.acquire_lease(&lease, "node-b", MINUTE, at(1)).await.unwrap(), "free after release");
    let other = unique("lease");
    assert!(store.acquire_lease(&other, "node-a", MINUTE, at(1)).await.unwrap(), "leases are independent");
}

/// Of 16 holders racing for a free lease exactly one gets it.
pub async fn concurrent_acquires_have_one_winner<S: KeyringStore>(store: Arc<S>) {
    let lease = unique("lease");
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (store, lease) = (store.clone(), lease.clone());
            tokio::spawn(async move {
                store.acquire_lease(&lease, &format!("node-{i}"), MINUTE, NOW).await.unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one holder");
}

/// Two store instances over one backend ("two nodes") share documents and leases.
pub async fn nodes_share_keyrings_and_leases<S: KeyringStore>(a: Arc<S>, b: Arc<S>) {
    let n = name();
    assert!(a.swap_keyring(&n, None, b"from-a").await.unwrap());
    assert_eq!(b.keyring_version(&n).await.unwrap(), Some(1), "b sees a's version");
    assert!(!b.swap_keyring(&n, None, b"from-b").await.unwrap(), "and cannot create it again");
    assert!(b.swap_keyring(&n, Some(1), b"from-b").await.unwrap());
    assert_eq!(a.load_keyring(&n).await.unwrap().unwrap().document, b"from-b");
    let lease = unique("lease");
    assert!(a.acquire_lease(&lease, "node-a", MINUTE, NOW).await.unwrap());
    assert!(!b.acquire_lease(&lease, "node-b", MINUTE, at(1)).await.unwrap(), "b sees a's lease");
    assert!(b.acquire_lease(&lease, "node-b", MINUTE, at(60)).await.unwrap(), "and takes it once expired");
}

/// Mounts every case of [`keyring_store`](crate::keyring_store) as a `#[tokio::test]` for the
/// store made by `$make`; with `nodes: $nodes` (a closure returning a future of two instances
/// over one backend) the shared-backend case too.
///
/// ```ignore
/// sessionwarden_test::keyring_store_conformance!(keyring_memory, || async { sessionwarden_tower::MemoryStore::default() });
/// ```
#[macro_export]
macro_rules! keyring_store_conformance {
    ($name:ident, $make:expr $(, nodes: $nodes:expr)? $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::__capability_cases!(keyring_store; $make;
                missing_keyring_is_none,
                first_swap_stores_version_one,
                swap_needs_the_current_version,
                documents_are_kept_byte_for_byte,
                keyrings_are_isolated_by_name,
                concurrent_swaps_have_one_winner,
                lease_is_exclusive_until_it_expires,
                only_the_holder_releases_a_lease,
                concurrent_acquires_have_one_winner,
            );
            $($crate::__capability_cases!(@nodes keyring_store; $nodes; nodes_share_keyrings_and_leases);)?
        }
    };
}
