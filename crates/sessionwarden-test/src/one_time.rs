//! The one-time-key suite: what every [`OneTimeKeys`] must do.
//!
//! Mount it with [`one_time_conformance!`](crate::one_time_conformance). Every case derives
//! its keys from values unique to the run and injects its own `now`, so stores shared between
//! tests and runs need no cleanup.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use sessionwarden_tower::Timestamp;
use sessionwarden_tower::store::{OnceKey, OneTimeKeys};

use crate::conformance::NOW;
use crate::tokens::unique;

fn key() -> OnceKey {
    OnceKey::derive("sessionwarden-test", unique("once").as_bytes())
}

fn at(offset: i64) -> Timestamp {
    Timestamp::from_unix(NOW.unix() + offset)
}

/// A stored key is taken once; a second take, or a take of a key never stored, finds nothing.
pub async fn put_then_take_once<S: OneTimeKeys>(store: Arc<S>) {
    let k = key();
    assert!(store.put(&k, at(60), NOW).await.unwrap());
    assert!(store.take(&k, at(1)).await.unwrap(), "a live key is taken");
    assert!(!store.take(&k, at(1)).await.unwrap(), "and only once");
    assert!(!store.take(&key(), NOW).await.unwrap(), "a key never stored");
    // After its take the key may be stored again (a fresh challenge of the same value).
    assert!(store.put(&k, at(60), at(2)).await.unwrap());
    assert!(store.take(&k, at(3)).await.unwrap());
}

/// `put` refuses while a live key is there (a replay) and changes nothing: the first expiry
/// stands. Once it has passed the key may be stored again.
pub async fn put_refused_while_live<S: OneTimeKeys>(store: Arc<S>) {
    let k = key();
    assert!(store.put(&k, at(10), NOW).await.unwrap());
    assert!(!store.put(&k, at(10), NOW).await.unwrap(), "a replay");
    assert!(!store.put(&k, at(1_000), at(9)).await.unwrap(), "a later expiry changes nothing");
    assert!(!store.take(&k, at(10)).await.unwrap(), "the refused put did not extend the key");
    assert!(store.put(&k, at(20), at(10)).await.unwrap(), "allowed once the first has expired");
    assert!(!store.put(&k, at(30), at(19)).await.unwrap());
    assert!(store.take(&k, at(19)).await.unwrap());
}

/// A key is live until `expires_at`, not at it: from then on it is not taken and does not
/// block a new `put`. A key stored already expired is never found.
pub async fn expired_keys_are_gone<S: OneTimeKeys>(store: Arc<S>) {
    let k = key();
    assert!(store.put(&k, at(10), NOW).await.unwrap());
    assert!(!store.take(&k, at(10)).await.unwrap(), "expired at expires_at");
    let live = key();
    assert!(store.put(&live, at(10), NOW).await.unwrap());
    assert!(store.take(&live, at(9)).await.unwrap(), "live one second before");
    let stale = key();
    assert!(store.put(&stale, NOW, NOW).await.unwrap(), "nothing live was there");
    assert!(!store.take(&stale, NOW).await.unwrap(), "stored expired: never found");
    assert!(store.put(&stale, at(5), NOW).await.unwrap(), "and it blocks nothing");
}

/// Keys are isolated, namespaces included: one value under two namespaces is two keys.
pub async fn keys_are_isolated<S: OneTimeKeys>(store: Arc<S>) {
    let value = unique("once-value");
    let (a, b) = (OnceKey::derive("ns-a", value.as_bytes()), OnceKey::derive("ns-b", value.as_bytes()));
    assert!(store.put(&a, at(60), NOW).await.unwrap());
    assert!(store.put(&b, at(60), NOW).await.unwrap(), "another namespace is another key");
    assert!(store.take(&a, NOW).await.unwrap());
    assert!(!store.take(&a, NOW).await.unwrap());
    assert!(store.take(&b, NOW).await.unwrap(), "taking a left b alone");
}

/// Of 16 concurrent takes of one key exactly one wins; of 16 concurrent puts, exactly one.
pub async fn concurrent_takes_have_one_winner<S: OneTimeKeys>(store: Arc<S>) {
    let k = key();
    assert!(store.put(&k, at(60), NOW).await.unwrap());
    let takes: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take(&k, NOW).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for t in takes {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1, "takes that won");

    let fresh = key();
    let puts: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.put(&fresh, at(60), NOW).await.unwrap() })
        })
        .collect();
    let mut stored = 0;
    for t in puts {
        stored += usize::from(t.await.unwrap());
    }
    assert_eq!(stored, 1, "puts that stored");
}

/// Two store instances over one backend ("two nodes"): a key put on one is refused and taken
/// once across both.
pub async fn nodes_take_once<S: OneTimeKeys>(a: Arc<S>, b: Arc<S>) {
    let k = key();
    assert!(a.put(&k, at(60), NOW).await.unwrap());
    assert!(!b.put(&k, at(60), NOW).await.unwrap(), "a replay on the other node");
    let takes: Vec<_> = (0..16)
        .map(|i| {
            let node = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { node.take(&k, NOW).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for t in takes {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1, "takes that won across two nodes");
}

/// Mounts every case of [`one_time`](crate::one_time) as a `#[tokio::test]` for the store made
/// by `$make`; with `nodes: $nodes` (a closure returning a future of two instances over one
/// backend) the shared-backend case too.
///
/// ```ignore
/// sessionwarden_test::one_time_conformance!(one_time_memory, || async { sessionwarden_tower::MemoryStore::default() });
/// ```
#[macro_export]
macro_rules! one_time_conformance {
    ($name:ident, $make:expr $(, nodes: $nodes:expr)? $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::__capability_cases!(one_time; $make;
                put_then_take_once,
                put_refused_while_live,
                expired_keys_are_gone,
                keys_are_isolated,
                concurrent_takes_have_one_winner,
            );
            $($crate::__capability_cases!(@nodes one_time; $nodes; nodes_take_once);)?
        }
    };
}
