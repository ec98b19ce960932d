//! The JWT refresh-token and revocation stores on SQLite and PostgreSQL: the token-store suites
//! every backend runs (`sessionwarden_test::tokens`), 16 concurrent rotations of one token, and
//! on SQLite the rows a purge leaves. PostgreSQL skips with a printed reason when absent, fails
//! under `CI=true`.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use sessionwarden_jwt::{AccessTokenRequest, RefreshStore, RevocationQuery, Revocations, RevokedBy};
use sessionwarden_sql::{PostgresTokenStore, SqliteTokenStore};
use sessionwarden_test::tokens::{
    NOW, Purge, concurrent_rotations, manager, refresh_suite, revocation_suite,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_token_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteTokenStore::open(dir.path().join("t.db")).await.unwrap());
    refresh_suite(store.clone(), Purge::Deletes).await;
    revocation_suite(store.clone(), Purge::Deletes).await;
    concurrent_rotations(store.clone(), 16).await;
    // A second handle on the same file (another process of the fleet) sees the same state.
    let other = SqliteTokenStore::open(dir.path().join("t.db")).await.unwrap();
    let q = RevocationQuery { jti: "j-1", sub: "x", sid: None, iat: NOW, now: NOW + 1 };
    assert_eq!(other.check(&q).await.unwrap(), None);
    store.revoke_jti("j-9", NOW + 10).await.unwrap();
    assert_eq!(other.check(&RevocationQuery { jti: "j-9", ..q }).await.unwrap(), Some(RevokedBy::Jti));
    assert!(!format!("{store:?}").is_empty());
}

async fn count(pool: &sqlx::SqlitePool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}")).fetch_one(pool).await.unwrap()
}

/// `purge_expired` deletes the rows themselves: expired families with their tokens, and
/// denylist entries past their `until`; live rows and user cutoffs stay.
#[tokio::test]
async fn sqlite_purge_deletes_expired_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let store = Arc::new(SqliteTokenStore::open(&path).await.unwrap());
    let m = manager(store.clone());
    let old = m.issue_at(&AccessTokenRequest::new("alice").with_sid("s-old"), NOW).await.unwrap();
    m.rotate_at(old.refresh.as_str(), NOW + 1).await.unwrap();
    // Issued 40 days later: alive when the first family (30 days) has expired.
    let young = NOW + 40 * 24 * 3600;
    let live = m.issue_at(&AccessTokenRequest::new("alice"), young).await.unwrap();
    store.revoke_jti("j-expired", NOW + 100).await.unwrap();
    store.revoke_sid("s-expired", NOW + 100).await.unwrap();
    store.revoke_jti("j-live", young + 100).await.unwrap();
    store.revoke_user_before("alice", NOW + 5).await.unwrap();

    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", path.display())).await.unwrap();
    assert_eq!(count(&pool, "sessionwarden_refresh_families").await, 2);
    assert_eq!(count(&pool, "sessionwarden_refresh_tokens").await, 3);
    assert_eq!(count(&pool, "sessionwarden_revocations").await, 4);

    RefreshStore::purge_expired(store.as_ref(), young).await.unwrap();
    Revocations::purge_expired(store.as_ref(), young).await.unwrap();
    assert_eq!(count(&pool, "sessionwarden_refresh_families").await, 1, "the expired family is gone");
    assert_eq!(count(&pool, "sessionwarden_refresh_tokens").await, 1, "with both of its tokens");
    let left: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, value FROM sessionwarden_revocations ORDER BY kind")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        left,
        [("jti".to_owned(), "j-live".to_owned()), ("user".to_owned(), "alice".to_owned())],
        "expired jti and sid rows are gone; a live jti and the cutoff stay"
    );
    assert_eq!(m.rotate_at(old.refresh.as_str(), young).await.unwrap_err().reason(), "refresh_unknown");
    assert!(m.rotate_at(live.refresh.as_str(), young + 1).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_token_store() {
    let url = sessionwarden_test::env::postgres_url();
    let store = match tokio::time::timeout(
        std::time::Duration::from_secs(5),
        PostgresTokenStore::connect(&url),
    )
    .await
    {
        Ok(Ok(s)) => Arc::new(s),
        Ok(Err(e)) => return sessionwarden_test::env::service_missing("PostgreSQL", &e.to_string()),
        Err(_) => return sessionwarden_test::env::service_missing("PostgreSQL", "connect timed out"),
    };
    refresh_suite(store.clone(), Purge::Deletes).await;
    revocation_suite(store.clone(), Purge::Deletes).await;
    concurrent_rotations(store, 16).await;
}
