//! The store conformance suite: what every [`SessionStore`] must do.
//!
//! Each case uses fresh random keys and user names, so stores shared between tests (one
//! Redis, one PostgreSQL database) need no cleanup between cases.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use sessionwarden::{Expiry, Record, SaveOutcome, SessionId, SessionStore, StoreKey, Timestamp};

/// A fixed "now" far from the epoch, so deadlines before it are meaningful.
pub const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);

fn expiry() -> Expiry {
    Expiry::default()
        .with_idle_timeout(Some(Duration::from_secs(1800)))
        .with_absolute_timeout(Some(Duration::from_secs(12 * 3600)))
}

/// A record created at `now` with `data` and version 1.
pub fn record(now: Timestamp, user: Option<&str>, data: &[(&str, serde_json::Value)]) -> Record {
    let mut r = Record::new(now, &expiry());
    r.version = 1;
    r.user = user.map(str::to_owned);
    for (k, v) in data {
        r.data.insert((*k).to_owned(), v.clone());
    }
    r
}

fn key() -> StoreKey {
    SessionId::generate().store_key()
}

fn user() -> String {
    format!("user-{}", &SessionId::generate().store_key().to_hex()[..12])
}

pub async fn create_then_load(store: Arc<impl SessionStore>) {
    let k = key();
    let r = record(NOW, Some("alice"), &[("user", "admin".into()), ("n", 3.into())]);
    assert!(store.create(&k, &r).await.unwrap());
    let loaded = store.load(&k, NOW).await.unwrap().expect("created record loads");
    assert_eq!(loaded.data, r.data);
    assert_eq!(loaded.user.as_deref(), Some("alice"));
    assert_eq!(loaded.version, 1);
    assert_eq!(loaded.created, r.created);
    assert_eq!(loaded.expires_at(), r.expires_at());
}

pub async fn create_never_overwrites(store: Arc<impl SessionStore>) {
    let k = key();
    let first = record(NOW, None, &[("owner", "first".into())]);
    let second = record(NOW, None, &[("owner", "second".into())]);
    assert!(store.create(&k, &first).await.unwrap());
    assert!(!store.create(&k, &second).await.unwrap(), "create must refuse an existing key");
    let loaded = store.load(&k, NOW).await.unwrap().unwrap();
    assert_eq!(loaded.data["owner"], "first");
}

pub async fn load_missing_is_none(store: Arc<impl SessionStore>) {
    assert!(store.load(&key(), NOW).await.unwrap().is_none());
}

pub async fn save_is_versioned(store: Arc<impl SessionStore>) {
    let k = key();
    let r = record(NOW, None, &[("a", 1.into())]);
    store.create(&k, &r).await.unwrap();
    let mut v2 = r.clone();
    v2.version = 2;
    v2.data.insert("b".into(), 2.into());
    assert_eq!(store.save(&k, &v2, 1).await.unwrap(), SaveOutcome::Saved);
    // A writer still holding version 1 loses and is shown the newer record.
    let mut stale = r.clone();
    stale.version = 2;
    stale.data.insert("c".into(), 3.into());
    match store.save(&k, &stale, 1).await.unwrap() {
        SaveOutcome::Conflict(newer) => {
            assert_eq!(newer.version, 2);
            assert_eq!(newer.data.get("b"), Some(&2.into()));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let loaded = store.load(&k, NOW).await.unwrap().unwrap();
    assert_eq!(loaded.version, 2);
    assert!(loaded.data.get("c").is_none(), "the losing write must not land");
}

pub async fn save_of_missing_record_does_not_resurrect(store: Arc<impl SessionStore>) {
    let k = key();
    let r = record(NOW, None, &[("a", 1.into())]);
    store.create(&k, &r).await.unwrap();
    store.delete(&k).await.unwrap();
    let mut v2 = r.clone();
    v2.version = 2;
    assert_eq!(store.save(&k, &v2, 1).await.unwrap(), SaveOutcome::Missing);
    assert!(store.load(&k, NOW).await.unwrap().is_none());
}

pub async fn delete_removes(store: Arc<impl SessionStore>) {
    let k = key();
    store.create(&k, &record(NOW, None, &[])).await.unwrap();
    store.delete(&k).await.unwrap();
    assert!(store.load(&k, NOW).await.unwrap().is_none());
    // Deleting nothing is not an error.
    store.delete(&k).await.unwrap();
}

pub async fn cycle_moves_atomically(store: Arc<impl SessionStore>) {
    let (from, to) = (key(), key());
    let u = user();
    store.create(&from, &record(NOW, Some(&u), &[("x", "y".into())])).await.unwrap();
    assert!(store.cycle(&from, &to).await.unwrap());
    assert!(store.load(&from, NOW).await.unwrap().is_none(), "old id must stop loading");
    let moved = store.load(&to, NOW).await.unwrap().unwrap();
    assert_eq!(moved.data["x"], "y");
    // The user index follows the record.
    let listed = store.list_user(&u, NOW).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].handle, to.handle());
}

pub async fn cycle_refuses_missing_or_taken(store: Arc<impl SessionStore>) {
    let (a, b) = (key(), key());
    assert!(!store.cycle(&a, &b).await.unwrap(), "nothing to move");
    store.create(&a, &record(NOW, None, &[("who", "a".into())])).await.unwrap();
    store.create(&b, &record(NOW, None, &[("who", "b".into())])).await.unwrap();
    assert!(!store.cycle(&a, &b).await.unwrap(), "must not overwrite b");
    assert_eq!(store.load(&a, NOW).await.unwrap().unwrap().data["who"], "a");
    assert_eq!(store.load(&b, NOW).await.unwrap().unwrap().data["who"], "b");
}

pub async fn expired_never_loads(store: Arc<impl SessionStore>) {
    // Created long ago: both deadlines passed, but stores with TTLs keep it a while.
    let k = key();
    let old = Timestamp::from_unix(NOW.unix() - 100);
    let mut r = record(old, None, &[("a", 1.into())]);
    r.idle_deadline = Some(Timestamp::from_unix(NOW.unix() + 5));
    r.absolute_deadline = Some(Timestamp::from_unix(NOW.unix() + 3600));
    store.create(&k, &r).await.unwrap();
    assert!(store.load(&k, NOW).await.unwrap().is_some());
    let later = Timestamp::from_unix(NOW.unix() + 5);
    assert!(store.load(&k, later).await.unwrap().is_none(), "idle deadline reached");
    let k2 = key();
    let mut r2 = record(old, None, &[]);
    r2.idle_deadline = Some(Timestamp::from_unix(NOW.unix() + 3600));
    r2.absolute_deadline = Some(Timestamp::from_unix(NOW.unix() + 10));
    store.create(&k2, &r2).await.unwrap();
    assert!(
        store.load(&k2, Timestamp::from_unix(NOW.unix() + 11)).await.unwrap().is_none(),
        "absolute deadline passed"
    );
}

pub async fn list_and_revoke_by_handle(store: Arc<impl SessionStore>) {
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

pub async fn revoke_user_is_complete(store: Arc<impl SessionStore>) {
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
pub async fn revoke_user_races_with_logins(store: Arc<impl SessionStore>) {
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

/// 20 writers each add their own key to one session through versioned save + merge:
/// every key must be there at the end.
pub async fn concurrent_writers_lose_nothing(store: Arc<impl SessionStore>) {
    let k = key();
    store.create(&k, &record(NOW, None, &[])).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut current = store.load(&k, NOW).await.unwrap().unwrap();
            for _ in 0..200 {
                let mut next = current.clone();
                next.data.insert(format!("k{i}"), i.into());
                next.version = current.version + 1;
                match store.save(&k, &next, current.version).await.unwrap() {
                    SaveOutcome::Saved => return,
                    SaveOutcome::Conflict(newer) => current = newer,
                    SaveOutcome::Missing => panic!("record vanished"),
                }
            }
            panic!("writer {i} never got its save in");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let loaded = store.load(&k, NOW).await.unwrap().unwrap();
    for i in 0..20 {
        assert_eq!(loaded.data.get(&format!("k{i}")), Some(&i.into()), "write k{i} was lost");
    }
    assert_eq!(loaded.version, 21);
}

pub async fn sweep_removes_expired_only(store: Arc<impl SessionStore>) {
    let (dead, live) = (key(), key());
    let old = Timestamp::from_unix(NOW.unix() - 7200);
    let mut r = record(old, None, &[]);
    r.idle_deadline = Some(Timestamp::from_unix(NOW.unix() + 1));
    store.create(&dead, &r).await.unwrap();
    store.create(&live, &record(NOW, None, &[])).await.unwrap();
    let later = Timestamp::from_unix(NOW.unix() + 2);
    // Other tests share the store: sweep until nothing expired at `later` is left.
    while store.sweep(later, 1000).await.unwrap() > 0 {}
    assert!(store.load(&dead, NOW).await.unwrap().is_none(), "swept record must be gone");
    assert!(store.load(&live, NOW).await.unwrap().is_some());
}

pub async fn ping_answers(store: Arc<impl SessionStore>) {
    store.ping().await.unwrap();
}

/// Stores see only the hash of an id; the id (and so a cookie) cannot be found in them.
pub async fn stored_bytes_hold_no_session_id(store: Arc<impl SessionStore>) {
    let id = SessionId::generate();
    let k = id.store_key();
    store.create(&k, &record(NOW, None, &[("a", 1.into())])).await.unwrap();
    // The store was only ever given `k`; the debug form of everything it returns must not
    // contain the id's bytes in any common encoding.
    let loaded = store.load(&k, NOW).await.unwrap().unwrap();
    let dump = format!("{store:?} {loaded:?} {:?}", store.list(NOW, 10_000).await.unwrap());
    for form in crate::env::encodings(id.expose_bytes()) {
        assert!(!dump.contains(&form), "store output contains the session id");
    }
}
