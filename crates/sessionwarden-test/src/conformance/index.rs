//! The index suite: what a [`SessionIndex`] must do (list and revoke by handle and by user).
//! Mounted with [`index_conformance!`](crate::index_conformance).

use std::sync::Arc;

use sessionwarden_tower::store::ListQuery;
use sessionwarden_tower::{SessionHandle, SessionId, SessionIndex, SessionInfo, StoreKey, Timestamp};

use super::{NOW, key, record, user};

/// A store key with `head` as its first bytes and random bytes after: tests place keys where
/// they want them in key order (stores take any 32 bytes; nothing else lands in so narrow a
/// range of a shared backend).
fn key_at(head: &[u8]) -> StoreKey {
    let mut bytes = *key().as_bytes();
    bytes[..head.len()].copy_from_slice(head);
    StoreKey::from_bytes(bytes)
}

/// The handle's key prefix, for comparing positions in key order.
fn position(s: &SessionInfo) -> [u8; 16] {
    s.handle.key_prefix().expect("a listed handle decodes")
}

/// A record of `u` that expired before [`NOW`].
fn expired_record(u: &str) -> sessionwarden_tower::Record {
    let mut r = record(Timestamp::from_unix(NOW.unix() - 7200), Some(u), &[]);
    r.idle_deadline = Some(Timestamp::from_unix(NOW.unix() - 1));
    r
}

/// Walks pages of `limit` from `query`, checking each page is in strictly increasing key order,
/// continues where the last left off, and holds at most `limit`; stops when `stop` says a page
/// went past the range of interest or there is no next page. Returns every session seen.
async fn walk(
    store: &impl SessionIndex,
    mut query: ListQuery,
    stop: impl Fn(&SessionInfo) -> bool,
) -> Vec<SessionInfo> {
    let mut seen: Vec<SessionInfo> = Vec::new();
    for _ in 0..10_000 {
        let page = store.list_page(&query, NOW).await.unwrap();
        assert!(page.sessions.len() <= query.limit, "a page holds more than its limit");
        for s in &page.sessions {
            if let Some(prev) = seen.last() {
                assert!(position(prev) < position(s), "pages are not in strictly increasing handle order");
            }
        }
        if page.next.is_some() {
            assert_eq!(page.sessions.len(), query.limit, "a page short of its limit says more follow");
            assert_eq!(
                page.next.as_ref(),
                page.sessions.last().map(|s| &s.handle),
                "next is the last handle"
            );
        }
        let past = page.sessions.iter().any(&stop);
        seen.extend(page.sessions);
        match page.next {
            Some(next) if !past => query.after = Some(next),
            _ => return seen,
        }
    }
    panic!("paging did not end within 10 000 pages");
}

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

/// Paging visits every live session exactly once, in handle order, across buckets of key
/// space (keys in two adjacent key ranges: Redis keeps them in two buckets); expired and
/// deleted sessions are never listed.
pub async fn paging_visits_every_live_session_once(store: Arc<impl SessionIndex>) {
    let b = key().as_bytes()[0].min(254);
    let low = |i: u8| key_at(&[b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, i]);
    let high = |i: u8| key_at(&[b + 1, 0, 0, 0, 0, 0, 0, 0, i]);
    let mut live: Vec<StoreKey> = (1..=4).map(low).chain((1..=4).map(high)).collect();
    for k in &live {
        store.create(k, &record(NOW, Some(&user()), &[])).await.unwrap();
    }
    let (expired, deleted) = (low(5), high(5));
    store.create(&expired, &expired_record(&user())).await.unwrap();
    store.create(&deleted, &record(NOW, None, &[])).await.unwrap();
    store.delete(&deleted).await.unwrap();
    live.sort();
    let start = StoreKey::from_bytes([&[b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..], &[0; 24]].concat().try_into().unwrap());
    let end = high(0xff).as_bytes()[..16].to_vec();
    let query = ListQuery::first(3).with_after(Some(start.handle()));
    let seen = walk(&*store, query, |s| position(s).as_slice() > end.as_slice()).await;
    let ours: Vec<SessionHandle> = seen
        .iter()
        .filter(|s| position(s).as_slice() <= end.as_slice())
        .map(|s| s.handle.clone())
        .collect();
    let want: Vec<SessionHandle> = live.iter().map(StoreKey::handle).collect();
    assert_eq!(ours, want, "every live session once, in handle order; no expired or deleted one");
}

/// A user-filtered walk lists that user's live sessions only, each once, and its last page
/// says nothing follows; `count` agrees.
pub async fn paging_by_user(store: Arc<impl SessionIndex>) {
    let u = user();
    let mut live: Vec<StoreKey> = (0..5).map(|_| key()).collect();
    for k in &live {
        store.create(k, &record(NOW, Some(&u), &[])).await.unwrap();
    }
    store.create(&key(), &expired_record(&u)).await.unwrap();
    store.create(&key(), &record(NOW, Some(&user()), &[])).await.unwrap();
    live.sort();
    let seen = walk(&*store, ListQuery::first(2).with_user(u.clone()), |_| false).await;
    assert!(seen.iter().all(|s| s.user.as_deref() == Some(u.as_str())), "another user's session is listed");
    let handles: Vec<SessionHandle> = seen.iter().map(|s| s.handle.clone()).collect();
    assert_eq!(handles, live.iter().map(StoreKey::handle).collect::<Vec<_>>());
    assert_eq!(store.count(Some(&u), NOW).await.unwrap(), 5, "count skips the expired session");
    assert!(store.count(None, NOW).await.unwrap() >= 6, "count of all sessions");
}

/// `next` is exact: a page that ends with the last session says nothing follows, one that
/// ends before it says more do.
pub async fn paging_says_exactly_when_more_follow(store: Arc<impl SessionIndex>) {
    let u = user();
    for _ in 0..4 {
        store.create(&key(), &record(NOW, Some(&u), &[])).await.unwrap();
    }
    let whole = store.list_page(&ListQuery::first(4).with_user(u.clone()), NOW).await.unwrap();
    assert_eq!((whole.sessions.len(), whole.next), (4, None), "all four fit: nothing follows");
    let first = store.list_page(&ListQuery::first(3).with_user(u.clone()), NOW).await.unwrap();
    assert_eq!(first.sessions.len(), 3);
    assert!(first.next.is_some(), "a fourth session follows");
    let rest = store.list_page(&ListQuery::first(3).with_user(u).with_after(first.next), NOW).await.unwrap();
    assert_eq!((rest.sessions.len(), rest.next), (1, None));
}

/// A cursor past every key gives an empty last page; a limit of zero gives an empty page with
/// no cursor; a handle that names no session is still a position.
pub async fn paging_edges(store: Arc<impl SessionIndex>) {
    let u = user();
    let k = key();
    store.create(&k, &record(NOW, Some(&u), &[])).await.unwrap();
    let end = StoreKey::from_bytes([0xff; 32]).handle();
    for q in [ListQuery::first(10), ListQuery::first(10).with_user(u.clone())] {
        let past = store.list_page(&q.clone().with_after(Some(end.clone())), NOW).await.unwrap();
        assert!(past.sessions.is_empty() && past.next.is_none(), "past the end: {past:?}");
        let mut zero = q.clone();
        zero.limit = 0;
        let zero = store.list_page(&zero, NOW).await.unwrap();
        assert!(zero.sessions.is_empty() && zero.next.is_none(), "limit 0: {zero:?}");
    }
    // Just before the session's own key: the session is the first thing listed after it.
    let mut before = *k.as_bytes();
    before[15] = before[15].wrapping_sub(1);
    if before[15] != 0xff {
        let q = ListQuery::first(1).with_user(u.clone()).with_after(Some(StoreKey::from_bytes(before).handle()));
        assert_eq!(store.list_page(&q, NOW).await.unwrap().sessions[0].handle, k.handle());
    }
    let q = ListQuery::first(1).with_user(u).with_after(Some(k.handle()));
    assert!(store.list_page(&q, NOW).await.unwrap().sessions.is_empty(), "the cursor is exclusive");
}
}
