//! The capability suites (audit log, rate limits, one-time keys, session policy, keyrings) on PostgreSQL; two stores
//! (two pools) over one database stand in for two nodes. Plus what only the SQL stores
//! promise: expired state is purged in batches.
//!
//! Needs PostgreSQL at `SESSIONWARDEN_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); tests share the database and never truncate a
//! table (every case uses keys of its own).
#![allow(clippy::unwrap_used, missing_docs)]

use sessionwarden_sql::PostgresStore;
use sessionwarden_test::env::{postgres_url, service_missing};
use sessionwarden_test::tokens::unique;
use sessionwarden_tower::Timestamp;
use sessionwarden_tower::store::{OnceKey, OneTimeKeys, Rate, RateLimitStore};

/// The suites have no way to skip, so without PostgreSQL their cases fail (after
/// `service_missing` has said why); `cargo test -- --skip postgres` leaves them out.
async fn store() -> PostgresStore {
    match PostgresStore::connect(&postgres_url()).await {
        Ok(store) => store,
        Err(e) => {
            service_missing("PostgreSQL", &e.to_string());
            panic!("PostgreSQL unavailable ({e}); run with `-- --skip postgres` to leave these out");
        }
    }
}

async fn two_nodes() -> (PostgresStore, PostgresStore) {
    (store().await, store().await)
}

sessionwarden_test::audit_conformance!(audit_postgres, store, nodes: two_nodes);
sessionwarden_test::rate_limit_conformance!(rate_limit_postgres, store, nodes: two_nodes);
sessionwarden_test::one_time_conformance!(one_time_postgres, store, nodes: two_nodes);
sessionwarden_test::session_policy_conformance!(policy_postgres, store, nodes: two_nodes);
sessionwarden_test::keyring_store_conformance!(keyring_postgres, store, nodes: two_nodes);

#[tokio::test]
async fn purge_removes_expired_state_only_in_batches_postgres() {
    let store = store().await;
    // Only this test writes state that runs out in 1970; clear what an aborted run left.
    let at = |s: i64| Timestamp::from_unix(s);
    while store.purge_expired_capabilities(at(2_000), 10_000).await.unwrap() > 0 {}
    let rate = Rate { interval: std::time::Duration::from_secs(10), burst: 1 };
    let names: Vec<String> = (0..5).map(|_| unique("pg-purge")).collect();
    for (i, name) in (0i64..).zip(&names) {
        assert!(store.check(name, rate, 1, (1_000 + 10 * i) * 1000).await.unwrap().allowed);
    }
    let late = unique("pg-purge-late");
    assert!(store.check(&late, rate, 1, 4_990_000).await.unwrap().allowed);
    let keys: Vec<OnceKey> = (0..5).map(|_| OnceKey::derive("purge", unique("k").as_bytes())).collect();
    for (i, k) in (1i64..).zip(&keys) {
        assert!(store.put(k, at(1_000 + i), at(1_000)).await.unwrap());
    }
    let live = OnceKey::derive("purge", unique("live").as_bytes());
    assert!(store.put(&live, at(5_000), at(1_000)).await.unwrap());

    // Limiter state of names[0..3] has run out at 1030 s (TATs 1010, 1020, 1030), all five keys.
    assert_eq!(store.purge_expired_capabilities(at(1_030), 2).await.unwrap(), 4, "two of each");
    assert_eq!(store.purge_expired_capabilities(at(1_030), 100).await.unwrap(), 1 + 3);
    assert_eq!(store.purge_expired_capabilities(at(1_030), 100).await.unwrap(), 0);
    // The purged state was indeed expired: each name allows its burst again at its old time.
    assert!(!store.check(&names[3], rate, 1, 1_030_000).await.unwrap().allowed, "live state was kept");
    assert!(!store.check(&late, rate, 1, 4_990_000).await.unwrap().allowed, "live state was kept");
    assert!(store.take(&live, at(1_030)).await.unwrap(), "a live key survives the purge");
    while store.purge_expired_capabilities(at(2_000), 10_000).await.unwrap() > 0 {}
    assert!(store.check(&names[4], rate, 1, 1_040_000).await.unwrap().allowed, "its state was purged");
}
