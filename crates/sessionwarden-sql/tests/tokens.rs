//! The JWT refresh-token and revocation stores on SQLite and PostgreSQL: one suite, both
//! backends (PostgreSQL skips with a printed reason when absent, fails under `CI=true`).
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use sessionwarden_jwt::{
    AccessTokenRequest, Jwt, JwtConfig, JwtKey, JwtKeySet, RefreshManager, RefreshStore, RevocationQuery,
    Revocations, RevokedBy,
};
use sessionwarden_sql::{PostgresTokenStore, SqliteTokenStore};

const NOW: u64 = 1_800_000_000;

fn manager(store: Arc<dyn RefreshStore>) -> RefreshManager {
    let jwt = Arc::new(
        Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &[7u8; 32]).unwrap()), JwtConfig::default()).unwrap(),
    );
    RefreshManager::new(jwt, store, [9u8; 32])
}

async fn refresh_suite(store: Arc<dyn RefreshStore>) {
    let m = manager(store.clone());
    let user = format!(
        "u-{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    );
    let p0 = m.issue_at(&AccessTokenRequest::new(&user).with_sid("sid-a"), NOW).await.unwrap();
    let p1 = m.rotate_at(p0.refresh.as_str(), NOW + 1).await.unwrap();
    assert_eq!(p1.family, p0.family);
    // Grace retry: the same pair.
    let again = m.rotate_at(p0.refresh.as_str(), NOW + 5).await.unwrap();
    assert_eq!(again, p1);
    // After the window: reuse, and the newest dies too.
    assert_eq!(m.rotate_at(p0.refresh.as_str(), NOW + 20).await.unwrap_err().reason(), "refresh_reuse");
    assert_eq!(m.rotate_at(p1.refresh.as_str(), NOW + 21).await.unwrap_err().reason(), "refresh_revoked");
    assert_eq!(m.family_of(p1.refresh.as_str()).await.unwrap(), Some(p0.family.clone()));

    // Concurrent rotations of one token: exactly one wins, the other is a grace retry.
    let q0 = m.issue_at(&AccessTokenRequest::new(&user).with_sid("sid-b"), NOW).await.unwrap();
    let (a, b) =
        tokio::join!(m.rotate_at(q0.refresh.as_str(), NOW + 1), m.rotate_at(q0.refresh.as_str(), NOW + 1));
    assert_eq!(a.unwrap(), b.unwrap());

    // Revocation by session and by user.
    assert_eq!(store.revoke_session("sid-b").await.unwrap(), 1);
    let r0 = m.issue_at(&AccessTokenRequest::new(&user).with_sid("sid-c"), NOW).await.unwrap();
    assert!(store.revoke_user(&user).await.unwrap() >= 1);
    assert_eq!(m.rotate_at(r0.refresh.as_str(), NOW + 2).await.unwrap_err().reason(), "refresh_revoked");
    assert_eq!(m.rotate_at("A".repeat(43).as_str(), NOW).await.unwrap_err().reason(), "refresh_unknown");

    // Purge removes expired families with their tokens.
    store.purge_expired(NOW + 365 * 24 * 3600).await.unwrap();
    assert_eq!(m.rotate_at(r0.refresh.as_str(), NOW + 2).await.unwrap_err().reason(), "refresh_unknown");
}

async fn revocation_suite(r: Arc<dyn Revocations>) {
    // Unique per run: per-user cutoffs are kept, and PostgreSQL outlives the test.
    let sub = format!(
        "user-{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
    );
    let q = |jti: &'static str, sid: Option<&'static str>, iat: u64, now: u64| RevocationQuery {
        jti,
        sub: "",
        sid,
        iat,
        now,
    };
    let mut base = q("j-1", Some("s-1"), NOW, NOW + 1);
    base.sub = &sub;
    assert_eq!(r.check(&base).await.unwrap(), None);
    r.revoke_jti("j-1", NOW + 100).await.unwrap();
    r.revoke_jti("j-1", NOW + 50).await.unwrap(); // an earlier `until` never shortens it
    assert_eq!(r.check(&base).await.unwrap(), Some(RevokedBy::Jti));
    assert_eq!(r.check(&RevocationQuery { now: NOW + 100, ..base }).await.unwrap(), None, "expired entry");
    r.revoke_sid("s-1", NOW + 100).await.unwrap();
    assert_eq!(r.check(&RevocationQuery { jti: "j-2", ..base }).await.unwrap(), Some(RevokedBy::Session));
    assert_eq!(r.check(&RevocationQuery { jti: "j-2", sid: None, ..base }).await.unwrap(), None);
    r.revoke_user_before(&sub, NOW + 10).await.unwrap();
    r.revoke_user_before(&sub, NOW + 5).await.unwrap(); // an earlier cutoff is ignored
    let u = RevocationQuery { jti: "j-3", sid: None, iat: NOW + 9, ..base };
    assert_eq!(r.check(&u).await.unwrap(), Some(RevokedBy::UserCutoff));
    assert_eq!(r.check(&RevocationQuery { iat: NOW + 10, ..u }).await.unwrap(), None);
    r.purge_expired(NOW + 1000).await.unwrap();
    assert_eq!(r.check(&base).await.unwrap(), Some(RevokedBy::UserCutoff), "cutoffs survive the purge");
    assert_eq!(
        r.check(&RevocationQuery { iat: NOW + 20, ..base }).await.unwrap(),
        None,
        "jti and sid purged"
    );
}

#[tokio::test]
async fn sqlite_token_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteTokenStore::open(dir.path().join("t.db")).await.unwrap());
    refresh_suite(store.clone()).await;
    revocation_suite(store.clone()).await;
    // A second handle on the same file (another process of the fleet) sees the same state.
    let other = SqliteTokenStore::open(dir.path().join("t.db")).await.unwrap();
    let q = RevocationQuery { jti: "j-1", sub: "x", sid: None, iat: NOW, now: NOW + 1 };
    assert_eq!(other.check(&q).await.unwrap(), None);
    store.revoke_jti("j-9", NOW + 10).await.unwrap();
    assert_eq!(other.check(&RevocationQuery { jti: "j-9", ..q }).await.unwrap(), Some(RevokedBy::Jti));
    assert!(!format!("{store:?}").is_empty());
}

#[tokio::test]
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
    refresh_suite(store.clone()).await;
    revocation_suite(store).await;
}
