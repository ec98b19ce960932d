//! The session-policy suite: what every [`UserSessionCap`] (the per-user session cap, OWASP
//! ASVS 7.1.2) and [`AccountLocks`] (disabled accounts, ASVS 7.4.2) must do.
//!
//! Mount it with [`session_policy_conformance!`](crate::session_policy_conformance). Every case
//! uses fresh user names and keys, so stores shared between tests and runs need no cleanup.
#![allow(clippy::unwrap_used, missing_docs)]

use std::num::NonZeroU32;
use std::sync::Arc;

use sessionwarden_tower::store::{AccountLocks, Admission, LimitPolicy, SessionLimit, UserSessionCap};
use sessionwarden_tower::{Record, SessionHandle, SessionId, SessionIndex, StoreKey, Timestamp};

use crate::conformance::{NOW, record};
use crate::tokens::unique;

fn key() -> StoreKey {
    SessionId::generate().store_key()
}

fn limit(max: u32, policy: LimitPolicy) -> SessionLimit {
    SessionLimit::new(NonZeroU32::new(max).unwrap(), policy)
}

fn at(offset: i64) -> Timestamp {
    Timestamp::from_unix(NOW.unix() + offset)
}

/// A session of `user` created `offset` seconds after [`NOW`].
fn login(user: &str, offset: i64) -> Record {
    record(at(offset), Some(user), &[])
}

async fn handles<S: SessionIndex + ?Sized>(store: &S, user: &str, now: Timestamp) -> Vec<SessionHandle> {
    let mut out: Vec<SessionHandle> =
        store.list_user(user, now).await.unwrap().into_iter().map(|s| s.handle).collect();
    out.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    out
}

fn sorted(mut v: Vec<SessionHandle>) -> Vec<SessionHandle> {
    v.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    v
}

/// Under evict-oldest every admission succeeds; past the cap the oldest session ends, and
/// the survivors are the newest.
pub async fn cap_evicts_the_oldest<S: UserSessionCap + SessionIndex + AccountLocks>(store: Arc<S>) {
    let user = unique("cap-evict");
    let cap = limit(2, LimitPolicy::EvictOldest);
    let keys = [key(), key(), key()];
    for (i, k) in keys.iter().take(2).enumerate() {
        let a = store.admit(k, &login(&user, i as i64), None, cap, at(5)).await.unwrap();
        assert_eq!(a, Admission::Admitted { evicted: vec![] }, "under the cap nothing ends");
    }
    let a = store.admit(&keys[2], &login(&user, 2), None, cap, at(5)).await.unwrap();
    assert_eq!(a, Admission::Admitted { evicted: vec![keys[0].handle()] }, "the oldest ends");
    assert!(store.load(&keys[0], at(5)).await.unwrap().is_none(), "and no longer loads");
    assert_eq!(handles(&*store, &user, at(5)).await, sorted(vec![keys[1].handle(), keys[2].handle()]));
}

/// Under refuse-new an admission at the cap creates nothing and ends nothing.
pub async fn cap_refuses_at_the_limit<S: UserSessionCap + SessionIndex + AccountLocks>(store: Arc<S>) {
    let user = unique("cap-refuse");
    let cap = limit(2, LimitPolicy::RefuseNew);
    let (a, b, c) = (key(), key(), key());
    for (i, k) in [a, b].iter().enumerate() {
        assert!(matches!(
            store.admit(k, &login(&user, i as i64), None, cap, at(5)).await.unwrap(),
            Admission::Admitted { .. }
        ));
    }
    assert_eq!(store.admit(&c, &login(&user, 2), None, cap, at(5)).await.unwrap(), Admission::Refused);
    assert!(store.load(&c, at(5)).await.unwrap().is_none(), "the refused session was not stored");
    assert_eq!(handles(&*store, &user, at(5)).await, sorted(vec![a.handle(), b.handle()]), "nothing ended");
    // Another user is not affected.
    let other = unique("cap-other");
    assert!(matches!(
        store.admit(&key(), &login(&other, 0), None, cap, at(5)).await.unwrap(),
        Admission::Admitted { .. }
    ));
}

/// The session a login replaces is not counted and is deleted on admission; expired sessions
/// are not counted either.
pub async fn replaced_and_expired_sessions_do_not_count<S: UserSessionCap + SessionIndex + AccountLocks>(
    store: Arc<S>,
) {
    let user = unique("cap-replace");
    let cap = limit(2, LimitPolicy::RefuseNew);
    let (a, b, c) = (key(), key(), key());
    for (i, k) in [a, b].iter().enumerate() {
        assert!(matches!(
            store.admit(k, &login(&user, i as i64), None, cap, at(5)).await.unwrap(),
            Admission::Admitted { .. }
        ));
    }
    let r = store.admit(&c, &login(&user, 2), Some(&b), cap, at(5)).await.unwrap();
    assert_eq!(r, Admission::Admitted { evicted: vec![] }, "b is replaced, not counted");
    assert!(store.load(&b, at(5)).await.unwrap().is_none(), "the replaced session is gone");
    assert_eq!(handles(&*store, &user, at(5)).await, sorted(vec![a.handle(), c.handle()]));
    // Past the idle timeout (30 minutes) of a and c, both have expired: room for two again.
    let later = at(2 * 3600);
    for _ in 0..2 {
        let r = store.admit(&key(), &record(later, Some(&user), &[]), None, cap, later).await.unwrap();
        assert!(matches!(r, Admission::Admitted { .. }), "expired sessions do not count: {r:?}");
    }
}

/// A key with a live record is never overwritten: the admission reports it taken.
pub async fn a_taken_key_is_refused<S: UserSessionCap + SessionIndex + AccountLocks>(store: Arc<S>) {
    let user = unique("cap-taken");
    let cap = limit(5, LimitPolicy::EvictOldest);
    let k = key();
    assert!(matches!(
        store.admit(&k, &login(&user, 0), None, cap, at(1)).await.unwrap(),
        Admission::Admitted { .. }
    ));
    let mut other = login(&user, 1);
    other.data.insert("x".into(), 1.into());
    assert_eq!(store.admit(&k, &other, None, cap, at(1)).await.unwrap(), Admission::Taken);
    assert!(store.load(&k, at(1)).await.unwrap().unwrap().data.is_empty(), "the first record stands");
}

/// Thirty concurrent admissions of one user under a cap of four leave exactly four sessions:
/// under evict-oldest all thirty succeed, under refuse-new exactly four.
pub async fn concurrent_admissions_keep_the_cap<S: UserSessionCap + SessionIndex + AccountLocks>(
    store: Arc<S>,
) {
    for policy in [LimitPolicy::EvictOldest, LimitPolicy::RefuseNew] {
        let user = unique("cap-concurrent");
        let cap = limit(4, policy);
        let tasks: Vec<_> = (0..30)
            .map(|i| {
                let (store, user) = (store.clone(), user.clone());
                tokio::spawn(async move {
                    store.admit(&key(), &login(&user, i), None, cap, at(40)).await.unwrap()
                })
            })
            .collect();
        let mut admitted = 0;
        for t in tasks {
            admitted += usize::from(matches!(t.await.unwrap(), Admission::Admitted { .. }));
        }
        let want = if policy == LimitPolicy::RefuseNew { 4 } else { 30 };
        assert_eq!(admitted, want, "{policy}: admitted");
        assert_eq!(store.list_user(&user, at(40)).await.unwrap().len(), 4, "{policy}: live sessions");
    }
}

/// Disable and enable are idempotent, seen at once, and listed by name.
pub async fn users_are_disabled_and_enabled<S: UserSessionCap + SessionIndex + AccountLocks>(store: Arc<S>) {
    let (user, other) = (unique("locked"), unique("free"));
    assert!(!store.is_disabled(&user).await.unwrap());
    assert!(store.disable(&user, NOW).await.unwrap(), "newly disabled");
    assert!(!store.disable(&user, at(10)).await.unwrap(), "already disabled");
    assert!(store.is_disabled(&user).await.unwrap());
    assert!(!store.is_disabled(&other).await.unwrap(), "only that user");
    let listed = store.list_disabled().await.unwrap();
    let entry = listed.iter().find(|d| d.user == user).expect("listed");
    assert_eq!(entry.since, NOW, "the first disable's time is kept");
    assert!(!listed.iter().any(|d| d.user == other));
    assert!(store.enable(&user).await.unwrap(), "was disabled");
    assert!(!store.enable(&user).await.unwrap(), "not any more");
    assert!(!store.is_disabled(&user).await.unwrap());
    assert!(!store.list_disabled().await.unwrap().iter().any(|d| d.user == user));
}

/// Two store instances over one backend ("two nodes"): a disable on one is seen by the other,
/// and the cap counts sessions admitted on both.
pub async fn nodes_share_policy<S: UserSessionCap + SessionIndex + AccountLocks>(a: Arc<S>, b: Arc<S>) {
    let user = unique("nodes-policy");
    assert!(a.disable(&user, NOW).await.unwrap());
    assert!(b.is_disabled(&user).await.unwrap(), "the other node sees the disable");
    assert!(b.enable(&user).await.unwrap());
    assert!(!a.is_disabled(&user).await.unwrap());
    let cap = limit(1, LimitPolicy::RefuseNew);
    assert!(matches!(
        a.admit(&key(), &login(&user, 0), None, cap, at(1)).await.unwrap(),
        Admission::Admitted { .. }
    ));
    assert_eq!(b.admit(&key(), &login(&user, 1), None, cap, at(1)).await.unwrap(), Admission::Refused);
}

/// Mounts every case of [`session_policy`](crate::session_policy) as a `#[tokio::test]` for the
/// store made by `$make`; with `nodes: $nodes` (a closure returning a future of two instances
/// over one backend) the shared-backend case too.
///
/// ```ignore
/// sessionwarden_test::session_policy_conformance!(policy_memory, || async { sessionwarden_tower::MemoryStore::default() });
/// ```
#[macro_export]
macro_rules! session_policy_conformance {
    ($name:ident, $make:expr $(, nodes: $nodes:expr)? $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::__capability_cases!(session_policy; $make;
                cap_evicts_the_oldest,
                cap_refuses_at_the_limit,
                replaced_and_expired_sessions_do_not_count,
                a_taken_key_is_refused,
                concurrent_admissions_keep_the_cap,
                users_are_disabled_and_enabled,
            );
            $($crate::__capability_cases!(@nodes session_policy; $nodes; nodes_share_policy);)?
        }
    };
}
