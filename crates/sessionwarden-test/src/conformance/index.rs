//! The index suite: what a [`SessionIndex`] must do (list and revoke by handle and by user).
//! Mounted with [`index_conformance!`](crate::index_conformance).

use std::sync::Arc;

use sessionwarden_tower::{SessionId, SessionIndex, StoreKey, Timestamp};

use super::{NOW, key, record, user};

suite! {
$
/// Mounts the [index suite](crate::conformance::index)
/// ([`SessionIndex`](sessionwarden_tower::SessionIndex)) as `#[tokio::test]`s for the store made by
/// `$make`.
mount index_conformance;
path conformance::index;
wrap std::sync::Arc::new;

pub async fn list_and_revoke_by_handle(store: Arc<impl SessionIndex>) {
    let u = user();
    let (a, b, other) = (key(), key(), key());
    store.create(&a, &record(NOW, Some(&u), &[])).await.unwrap();
    store.create(&b, &record(NOW, Some(&u), &[])).await.unwrap();
    store.create(&other, &record(NOW, Some(&user()), &[])).await.unwrap();
    let listed = store.list_user(&u, NOW).await.unwrap();
    let mut handles: Vec<_> = listed.iter().map(|s| s.handle.clone()).collect();
    handles.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    let mut want = vec![a.handle(), b.handle()];
    want.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    assert_eq!(handles, want);
    assert!(listed.iter().all(|s| s.user.as_deref() == Some(u.as_str())));
    assert!(store.revoke(&a.handle()).await.unwrap());
    assert!(!store.revoke(&a.handle()).await.unwrap(), "already revoked");
    assert!(store.load(&a, NOW).await.unwrap().is_none());
    assert!(store.load(&b, NOW).await.unwrap().is_some());
    assert_eq!(store.list_user(&u, NOW).await.unwrap().len(), 1);
    assert!(store.load(&other, NOW).await.unwrap().is_some());
}

pub async fn revoke_user_is_complete(store: Arc<impl SessionIndex>) {
    let u = user();
    let keys: Vec<StoreKey> = (0..5).map(|_| key()).collect();
    for k in &keys {
        store.create(k, &record(NOW, Some(&u), &[])).await.unwrap();
    }
    let bystander = key();
    store.create(&bystander, &record(NOW, Some(&user()), &[])).await.unwrap();
    assert_eq!(store.revoke_user(&u).await.unwrap(), 5);
    for k in &keys {
        assert!(store.load(k, NOW).await.unwrap().is_none());
    }
    assert!(store.list_user(&u, NOW).await.unwrap().is_empty());
    assert!(store.load(&bystander, NOW).await.unwrap().is_some());
}

/// Logins race a revoke-all: every session of the user that existed when the revoke
/// returned must be gone; nothing half-revoked may remain listed but loadable or the reverse.
pub async fn revoke_user_races_with_logins(store: Arc<impl SessionIndex>) {
    let u = user();
    let creator = {
        let store = store.clone();
        let u = u.clone();
        tokio::spawn(async move {
            let mut keys = Vec::new();
            for _ in 0..50 {
                let k = key();
                store.create(&k, &record(NOW, Some(&u), &[])).await.unwrap();
                keys.push(k);
                tokio::task::yield_now().await;
            }
            keys
        })
    };
    tokio::task::yield_now().await;
    store.revoke_user(&u).await.unwrap();
    let created = creator.await.unwrap();
    // After the creator stops, one more revoke-all must leave nothing at all.
    store.revoke_user(&u).await.unwrap();
    for k in &created {
        assert!(store.load(k, NOW).await.unwrap().is_none(), "a session survived revoke-all");
    }
    assert!(store.list_user(&u, NOW).await.unwrap().is_empty());
}

/// A cycled record is listed, and revocable, under its new handle only.
pub async fn cycle_moves_the_index_entry(store: Arc<impl SessionIndex>) {
    let (from, to) = (key(), key());
    let u = user();
    store.create(&from, &record(NOW, Some(&u), &[])).await.unwrap();
    assert!(store.cycle(&from, &to).await.unwrap());
    let listed = store.list_user(&u, NOW).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].handle, to.handle());
    assert!(!store.revoke(&from.handle()).await.unwrap(), "the old handle names nothing");
    assert!(store.revoke(&to.handle()).await.unwrap());
}

/// Listings never show an expired or deleted session, by user or in the admin listing.
pub async fn listings_skip_expired_and_deleted(store: Arc<impl SessionIndex>) {
    let u = user();
    let (live, deleted, expired) = (key(), key(), key());
    store.create(&live, &record(NOW, Some(&u), &[])).await.unwrap();
    store.create(&deleted, &record(NOW, Some(&u), &[])).await.unwrap();
    let old = Timestamp::from_unix(NOW.unix() - 7200);
    let mut r = record(old, Some(&u), &[]);
    r.idle_deadline = Some(Timestamp::from_unix(NOW.unix() - 1));
    store.create(&expired, &r).await.unwrap();
    store.delete(&deleted).await.unwrap();
    let listed: Vec<_> = store.list_user(&u, NOW).await.unwrap().into_iter().map(|s| s.handle).collect();
    assert_eq!(listed, vec![live.handle()]);
    let all: Vec<_> = store.list(NOW, 100_000).await.unwrap().into_iter().map(|s| s.handle).collect();
    assert!(!all.contains(&deleted.handle()), "a deleted session is listed");
    assert!(!all.contains(&expired.handle()), "an expired session is listed");
}

/// `list` returns at most `limit` sessions.
pub async fn list_respects_its_limit(store: Arc<impl SessionIndex>) {
    for _ in 0..3 {
        store.create(&key(), &record(NOW, Some(&user()), &[])).await.unwrap();
    }
    assert_eq!(store.list(NOW, 2).await.unwrap().len(), 2);
    assert!(store.list(NOW, 0).await.unwrap().is_empty());
}

/// Listings name sessions by handle: no session id in them in any common encoding.
pub async fn listings_hold_no_session_id(store: Arc<impl SessionIndex>) {
    let id = SessionId::generate();
    let u = user();
    let k: StoreKey = id.store_key();
    store.create(&k, &record(NOW, Some(&u), &[("a", 1.into())])).await.unwrap();
    let by_user = store.list_user(&u, NOW).await.unwrap();
    assert_eq!(by_user.len(), 1);
    let dump = format!("{by_user:?} {:?}", store.list(NOW, 10_000).await.unwrap());
    for form in crate::env::encodings(id.expose_bytes()) {
        assert!(!dump.contains(&form), "a listing contains the session id");
    }
}
}
