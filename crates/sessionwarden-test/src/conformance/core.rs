//! The core suite: what every [`SessionStore`] must do (load, create, save, delete, cycle,
//! ping). Mounted with [`core_conformance!`](crate::core_conformance).

use std::sync::Arc;

use sessionwarden_tower::{SaveOutcome, SessionId, SessionStore, Timestamp};

use super::{NOW, key, record, user};

suite! {
$
/// Mounts the [core suite](crate::conformance::core) (every
/// [`SessionStore`](sessionwarden_tower::SessionStore)) as `#[tokio::test]`s for the store made by
/// `$make`.
mount core_conformance;
path conformance::core;
wrap std::sync::Arc::new;

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
    assert_eq!(moved.user.as_deref(), Some(u.as_str()));
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
    let dump = format!("{store:?} {loaded:?}");
    for form in crate::env::encodings(id.expose_bytes()) {
        assert!(!dump.contains(&form), "store output contains the session id");
    }
}
}
