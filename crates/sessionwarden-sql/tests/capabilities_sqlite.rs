//! The capability suites (audit log, rate limits, one-time keys, session policy, keyrings) on SQLite, a file and an
//! in-memory database; two stores opened on one file stand in for two nodes (two processes on
//! one host). Plus what only the SQL stores promise: expired state is purged in batches.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::PathBuf;

use sessionwarden_sql::SqliteStore;
use sessionwarden_tower::Timestamp;
use sessionwarden_tower::store::{OnceKey, OneTimeKeys, Rate, RateLimitStore};
use sqlx::Connection as _;

/// A fresh directory under Cargo's per-target temp dir, kept after the test.
fn fresh_dir() -> PathBuf {
    tempfile::Builder::new()
        .prefix("sessionwarden-caps-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep()
}

async fn file() -> SqliteStore {
    SqliteStore::open(fresh_dir().join("caps.db")).await.unwrap()
}

async fn memory() -> SqliteStore {
    SqliteStore::in_memory().await.unwrap()
}

async fn two_nodes() -> (SqliteStore, SqliteStore) {
    let path = fresh_dir().join("caps.db");
    let a = SqliteStore::open(&path).await.unwrap();
    (a, SqliteStore::open(&path).await.unwrap())
}

sessionwarden_test::audit_conformance!(audit_sqlite_file, file, nodes: two_nodes);
sessionwarden_test::rate_limit_conformance!(rate_limit_sqlite_file, file, nodes: two_nodes);
sessionwarden_test::one_time_conformance!(one_time_sqlite_file, file, nodes: two_nodes);
sessionwarden_test::session_policy_conformance!(policy_sqlite_file, file, nodes: two_nodes);
sessionwarden_test::audit_conformance!(audit_sqlite_memory, memory);
sessionwarden_test::rate_limit_conformance!(rate_limit_sqlite_memory, memory);
sessionwarden_test::one_time_conformance!(one_time_sqlite_memory, memory);
sessionwarden_test::session_policy_conformance!(policy_sqlite_memory, memory);
sessionwarden_test::keyring_store_conformance!(keyring_sqlite_file, file, nodes: two_nodes);
sessionwarden_test::keyring_store_conformance!(keyring_sqlite_memory, memory);

async fn count(path: &std::path::Path, table: &str) -> i64 {
    let mut side = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(&mut side).await.unwrap()
}

#[tokio::test]
async fn purge_removes_expired_state_only_in_batches() {
    let path = fresh_dir().join("caps.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let at = |s: i64| Timestamp::from_unix(s);
    let rate = Rate { interval: std::time::Duration::from_secs(10), burst: 1 };
    // Limiter state running out at 1010 s, 1020 s, ... 1050 s, and one at 5000 s.
    for i in 1..=5 {
        assert!(store.check(&format!("k{i}"), rate, 1, (1_000 + 10 * (i - 1)) * 1000).await.unwrap().allowed);
    }
    assert!(store.check("late", rate, 1, 4_990_000).await.unwrap().allowed);
    // One-time keys expiring at 1001 ... 1005 s, and one at 5000 s.
    for i in 1..=5 {
        let k = OnceKey::derive("purge", &[i]);
        assert!(store.put(&k, at(1_000 + i64::from(i)), at(1_000)).await.unwrap());
    }
    let live = OnceKey::derive("purge", b"live");
    assert!(store.put(&live, at(5_000), at(1_000)).await.unwrap());

    assert_eq!(store.purge_expired_capabilities(at(1_030), 2).await.unwrap(), 4, "two of each");
    assert_eq!(store.purge_expired_capabilities(at(1_030), 100).await.unwrap(), 1 + 3);
    assert_eq!(store.purge_expired_capabilities(at(1_030), 100).await.unwrap(), 0);
    assert_eq!(count(&path, "sessionwarden_rate_limits").await, 3, "k4, k5 and late are live at 1030 s");
    assert_eq!(count(&path, "sessionwarden_once_keys").await, 1);
    assert!(store.take(&live, at(1_030)).await.unwrap(), "a live key survives the purge");
    assert!(!store.check("late", rate, 1, 4_990_000).await.unwrap().allowed, "live state survives too");
}
