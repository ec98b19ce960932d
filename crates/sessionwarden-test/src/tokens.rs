//! The JWT token-store suites: one set of cases for every `RefreshStore` and `Revocations`
//! backend (memory, SQLite, PostgreSQL, Redis, Redis Cluster).
//!
//! ```ignore
//! let store = Arc::new(SqliteTokenStore::open(path).await?);
//! sessionwarden_test::tokens::refresh_suite(store.clone(), Purge::Deletes).await;
//! sessionwarden_test::tokens::revocation_suite(store.clone(), Purge::Deletes).await;
//! sessionwarden_test::tokens::concurrent_rotations(store, 16).await;
//! ```
//!
//! Every name a case stores (users, session handles, `jti`s) is unique to the run, so the
//! suites can run against a database or a Redis that outlives them.
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use base64::Engine as _;
use sessionwarden_jwt::{
    AccessTokenRequest, FamilyId, FamilyRecord, Jwt, JwtConfig, JwtError, JwtKey, JwtKeySet, RefreshManager,
    RefreshStore, RevocationQuery, Revocations, RevokedBy, TokenHash, TokenPair, TokenRecord, TokenState,
};

/// The suites' clock: fixed, in the future, so nothing they store has expired on a real clock.
pub const NOW: u64 = 1_800_000_000;

/// How a backend gets rid of expired entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// `purge_expired(now)` deletes what expired before `now` (memory, SQL).
    Deletes,
    /// The backend expires entries by itself, on its own clock (Redis TTLs); `purge_expired`
    /// may do nothing, as the traits allow, so the suites do not look for deletions.
    Native,
}

/// A tag unique to this process and call: names that survive a run never collide with the
/// next one's.
#[must_use]
pub fn unique(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{what}-{}-{nanos}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// A manager over `store`: HS256 key `[7; 32]`, rotation key `[9; 32]`, default grace (10 s).
#[must_use]
pub fn manager(store: Arc<dyn RefreshStore>) -> RefreshManager {
    let jwt = Arc::new(
        Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &[7u8; 32]).unwrap()), JwtConfig::default()).unwrap(),
    );
    RefreshManager::new(jwt, store, [9u8; 32])
}

/// The store hash of a refresh token as handed to a client.
#[must_use]
pub fn hash_of(refresh: &str) -> TokenHash {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(refresh).unwrap();
    TokenHash::of(&raw)
}

/// Rotation, grace retry, reuse, revocation by family, session and user, unknown tokens,
/// and purging.
pub async fn refresh_suite(store: Arc<dyn RefreshStore>, purge: Purge) {
    let m = manager(store.clone());
    let user = unique("u");
    let (sid_a, sid_b, sid_c) = (unique("sid-a"), unique("sid-b"), unique("sid-c"));
    let p0 = m.issue_at(&AccessTokenRequest::new(&user).with_sid(&sid_a), NOW).await.unwrap();
    let (token, family) = store.lookup(&hash_of(p0.refresh.as_str())).await.unwrap().unwrap();
    assert_eq!((token.state, token.issued_at, &token.family), (TokenState::Active, NOW, &p0.family));
    assert_eq!(
        (family.sub.as_str(), family.sid.as_deref(), family.revoked),
        (user.as_str(), Some(&*sid_a), false)
    );
    assert_eq!((family.created_at, family.expires_at), (NOW, NOW + 30 * 24 * 3600));

    let p1 = m.rotate_at(p0.refresh.as_str(), NOW + 1).await.unwrap();
    assert_eq!(p1.family, p0.family);
    let (token, _) = store.lookup(&hash_of(p0.refresh.as_str())).await.unwrap().unwrap();
    assert_eq!(token.state, TokenState::Rotated { successor: hash_of(p1.refresh.as_str()), at: NOW + 1 });
    let (next, _) = store.lookup(&hash_of(p1.refresh.as_str())).await.unwrap().unwrap();
    assert_eq!((next.state, next.issued_at), (TokenState::Active, NOW + 1));
    // Grace retry: the same pair.
    let again = m.rotate_at(p0.refresh.as_str(), NOW + 5).await.unwrap();
    assert_eq!(again, p1);
    // After the window: reuse, and the newest dies too.
    assert_eq!(m.rotate_at(p0.refresh.as_str(), NOW + 20).await.unwrap_err().reason(), "refresh_reuse");
    assert_eq!(m.rotate_at(p1.refresh.as_str(), NOW + 21).await.unwrap_err().reason(), "refresh_revoked");
    assert_eq!(m.family_of(p1.refresh.as_str()).await.unwrap(), Some(p0.family.clone()));
    // `rotate` refuses a revoked family by itself, whatever the manager checked before.
    let successor = TokenRecord {
        hash: TokenHash::of(b"never issued"),
        family: p0.family.clone(),
        issued_at: NOW + 22,
        state: TokenState::Active,
    };
    assert!(!store.rotate(&hash_of(p1.refresh.as_str()), successor, NOW + 22).await.unwrap());
    assert!(store.lookup(&TokenHash::of(b"never issued")).await.unwrap().is_none());

    // Concurrent rotations of one token: exactly one wins, the other is a grace retry.
    let q0 = m.issue_at(&AccessTokenRequest::new(&user).with_sid(&sid_b), NOW).await.unwrap();
    let (a, b) =
        tokio::join!(m.rotate_at(q0.refresh.as_str(), NOW + 1), m.rotate_at(q0.refresh.as_str(), NOW + 1));
    assert_eq!(a.unwrap(), b.unwrap());

    // Revocation by session and by user; counts are of families that were live.
    assert_eq!(store.revoke_session(&sid_b).await.unwrap(), 1);
    assert_eq!(store.revoke_session(&sid_b).await.unwrap(), 0, "already revoked");
    assert_eq!(store.revoke_session(&unique("sid-none")).await.unwrap(), 0);
    let r0 = m.issue_at(&AccessTokenRequest::new(&user).with_sid(&sid_c), NOW).await.unwrap();
    let other = m.issue_at(&AccessTokenRequest::new(unique("other")), NOW).await.unwrap();
    assert_eq!(store.revoke_user(&user).await.unwrap(), 1, "only r0's family was still live");
    assert_eq!(m.rotate_at(r0.refresh.as_str(), NOW + 2).await.unwrap_err().reason(), "refresh_revoked");
    assert!(m.rotate_at(other.refresh.as_str(), NOW + 2).await.is_ok(), "another user's family lives");
    assert_eq!(m.rotate_at("A".repeat(43).as_str(), NOW).await.unwrap_err().reason(), "refresh_unknown");
    // Revoking a family that does not exist is a no-op.
    store.revoke_family(&FamilyId::from_stored(unique("no-such-family"))).await.unwrap();

    // Expiry: refused at the manager's `now` whatever the store still holds.
    let s0 = m.issue_at(&AccessTokenRequest::new(&user), NOW).await.unwrap();
    let late = NOW + 30 * 24 * 3600;
    assert_eq!(m.rotate_at(s0.refresh.as_str(), late).await.unwrap_err().reason(), "refresh_expired");

    store.purge_expired(NOW + 365 * 24 * 3600).await.unwrap();
    match purge {
        // Purge removes expired families with their tokens.
        Purge::Deletes => {
            for t in [&r0, &s0] {
                assert_eq!(
                    m.rotate_at(t.refresh.as_str(), NOW + 2).await.unwrap_err().reason(),
                    "refresh_unknown"
                );
            }
        }
        Purge::Native => {
            assert_eq!(
                m.rotate_at(r0.refresh.as_str(), NOW + 2).await.unwrap_err().reason(),
                "refresh_revoked"
            );
        }
    }
}

/// Denylist by `jti` and session, per-user cutoffs, and purging.
pub async fn revocation_suite(r: Arc<dyn Revocations>, purge: Purge) {
    let (sub, other) = (unique("user"), unique("user"));
    let (j1, j2, j3, s1) = (unique("j1"), unique("j2"), unique("j3"), unique("s1"));
    let base = RevocationQuery { jti: &j1, sub: &sub, sid: Some(&s1), iat: NOW, now: NOW + 1 };
    assert_eq!(r.check(&base).await.unwrap(), None);
    r.revoke_jti(&j1, NOW + 100).await.unwrap();
    r.revoke_jti(&j1, NOW + 50).await.unwrap(); // an earlier `until` never shortens it
    assert_eq!(r.check(&base).await.unwrap(), Some(RevokedBy::Jti));
    assert_eq!(r.check(&RevocationQuery { now: NOW + 99, ..base }).await.unwrap(), Some(RevokedBy::Jti));
    assert_eq!(r.check(&RevocationQuery { now: NOW + 100, ..base }).await.unwrap(), None, "expired entry");
    r.revoke_sid(&s1, NOW + 100).await.unwrap();
    assert_eq!(r.check(&RevocationQuery { jti: &j2, ..base }).await.unwrap(), Some(RevokedBy::Session));
    assert_eq!(r.check(&RevocationQuery { jti: &j2, sid: None, ..base }).await.unwrap(), None);
    assert_eq!(r.check(&RevocationQuery { jti: &j2, now: NOW + 100, ..base }).await.unwrap(), None);
    // The jti wins when several apply.
    assert_eq!(r.check(&base).await.unwrap(), Some(RevokedBy::Jti));
    r.revoke_user_before(&sub, NOW + 10).await.unwrap();
    r.revoke_user_before(&sub, NOW + 5).await.unwrap(); // an earlier cutoff is ignored
    let u = RevocationQuery { jti: &j3, sid: None, iat: NOW + 9, ..base };
    assert_eq!(r.check(&u).await.unwrap(), Some(RevokedBy::UserCutoff));
    assert_eq!(r.check(&RevocationQuery { iat: NOW + 10, ..u }).await.unwrap(), None);
    assert_eq!(r.check(&RevocationQuery { sub: &other, ..u }).await.unwrap(), None, "another user");
    // A cutoff is not a deadline: it holds at any `now`.
    assert_eq!(
        r.check(&RevocationQuery { now: NOW + 10_000, ..u }).await.unwrap(),
        Some(RevokedBy::UserCutoff)
    );
    r.revoke_user_before(&sub, NOW + 12).await.unwrap(); // a later one replaces it
    assert_eq!(r.check(&RevocationQuery { iat: NOW + 11, ..u }).await.unwrap(), Some(RevokedBy::UserCutoff));

    r.purge_expired(NOW + 1000).await.unwrap();
    assert_eq!(r.check(&u).await.unwrap(), Some(RevokedBy::UserCutoff), "cutoffs survive the purge");
    if purge == Purge::Deletes {
        assert_eq!(
            r.check(&RevocationQuery { iat: NOW + 20, ..base }).await.unwrap(),
            None,
            "jti and sid purged"
        );
    }
}

/// Counts the rotations a store accepted.
pub struct CountingRotations {
    inner: Arc<dyn RefreshStore>,
    won: AtomicUsize,
}

impl CountingRotations {
    #[must_use]
    pub fn new(inner: Arc<dyn RefreshStore>) -> Self {
        Self { inner, won: AtomicUsize::new(0) }
    }

    /// How many `rotate` calls returned `true`.
    pub fn won(&self) -> usize {
        self.won.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl RefreshStore for CountingRotations {
    async fn create_family(&self, family: FamilyRecord, first: TokenRecord) -> Result<(), JwtError> {
        self.inner.create_family(family, first).await
    }
    async fn lookup(&self, hash: &TokenHash) -> Result<Option<(TokenRecord, FamilyRecord)>, JwtError> {
        self.inner.lookup(hash).await
    }
    async fn rotate(&self, old: &TokenHash, new: TokenRecord, at: u64) -> Result<bool, JwtError> {
        let won = self.inner.rotate(old, new, at).await?;
        if won {
            self.won.fetch_add(1, Ordering::SeqCst);
        }
        Ok(won)
    }
    async fn revoke_family(&self, family: &FamilyId) -> Result<(), JwtError> {
        self.inner.revoke_family(family).await
    }
    async fn revoke_session(&self, sid: &str) -> Result<usize, JwtError> {
        self.inner.revoke_session(sid).await
    }
    async fn revoke_user(&self, sub: &str) -> Result<usize, JwtError> {
        self.inner.revoke_user(sub).await
    }
    async fn purge_expired(&self, now: u64) -> Result<(), JwtError> {
        self.inner.purge_expired(now).await
    }
}

/// `n` concurrent rotations of one refresh token, each on its own task: every caller gets the
/// same pair, the store accepted exactly one rotation, the presented token names the one
/// successor and the successor is unused. Returns the first pair and the pair's predecessor.
pub async fn concurrent_rotations(store: Arc<dyn RefreshStore>, n: usize) -> (TokenPair, TokenPair) {
    let counting = Arc::new(CountingRotations::new(store.clone()));
    let m = Arc::new(manager(counting.clone()));
    let first =
        m.issue_at(&AccessTokenRequest::new(unique("racer")).with_sid(unique("sid")), NOW).await.unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (m, barrier, refresh) = (m.clone(), barrier.clone(), first.refresh.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                m.rotate_at(refresh.as_str(), NOW + 1).await
            })
        })
        .collect();
    let mut pairs = Vec::with_capacity(n);
    for t in tasks {
        pairs.push(t.await.unwrap().unwrap());
    }
    assert!(pairs.iter().all(|p| *p == pairs[0]), "every racer gets the same pair");
    assert_eq!(counting.won(), 1, "exactly one rotation is accepted");
    let successor = hash_of(pairs[0].refresh.as_str());
    let (old, family) = store.lookup(&hash_of(first.refresh.as_str())).await.unwrap().unwrap();
    assert_eq!(old.state, TokenState::Rotated { successor, at: NOW + 1 });
    assert!(!family.revoked, "a race is not a reuse");
    let (next, _) = store.lookup(&successor).await.unwrap().unwrap();
    assert_eq!(next.state, TokenState::Active);
    (pairs.swap_remove(0), first)
}
