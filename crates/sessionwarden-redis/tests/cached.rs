//! The local read cache over Redis (`RedisStore::with_local_cache`): the store and layer
//! suites on it, a two-server fleet that must see each other's writes and revocations within
//! a second, and failing closed when Redis dies under a warm cache.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sessionwarden_redis::RedisStore;
use sessionwarden_tower::store::CachedStore;
use sessionwarden_tower::{
    Backend, Expiry, Record, SaveOutcome, SessionId, SessionIndex, SessionStore, StoreError, StoreKey,
    Timestamp,
};

/// The promise under test: another server's write is seen within this.
const WITHIN: Duration = Duration::from_secs(1);

sessionwarden_test::core_conformance!(cached_redis_core, || async {
    common::or_exit(common::single(&common::unique_prefix("cachedconf")).await).with_local_cache(10_000).await
});
sessionwarden_test::index_conformance!(cached_redis_index, || async {
    common::or_exit(common::single(&common::unique_prefix("cachedconf")).await).with_local_cache(10_000).await
});
sessionwarden_test::expired_deletion_conformance!(cached_redis_expired_deletion, || async {
    common::or_exit(common::single(&common::unique_prefix("cachedconf")).await).with_local_cache(10_000).await
});

sessionwarden_test::core_conformance!(cached_redis_cluster_core, || async {
    common::or_exit(common::cluster(&common::unique_prefix("cachedconf")).await)
        .with_local_cache(10_000)
        .await
});
sessionwarden_test::index_conformance!(cached_redis_cluster_index, || async {
    common::or_exit(common::cluster(&common::unique_prefix("cachedconf")).await)
        .with_local_cache(10_000)
        .await
});
sessionwarden_test::expired_deletion_conformance!(cached_redis_cluster_expired_deletion, || async {
    common::or_exit(common::cluster(&common::unique_prefix("cachedconf")).await)
        .with_local_cache(10_000)
        .await
});

async fn layer_single() -> Backend {
    let store = common::or_exit(common::single(&common::unique_prefix("cachedlayer")).await);
    Backend::Server(Arc::new(store.with_local_cache(10_000).await))
}

async fn layer_cluster() -> Backend {
    let store = common::or_exit(common::cluster(&common::unique_prefix("cachedlayer")).await);
    Backend::Server(Arc::new(store.with_local_cache(10_000).await))
}

sessionwarden_test::layer_conformance!(cached_redis_layer, layer_single);
sessionwarden_test::layer_conformance!(cached_redis_cluster_layer, layer_cluster);

fn real_now() -> Timestamp {
    Timestamp::from_unix(
        i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap(),
    )
}

fn record(user: &str) -> Record {
    let mut r = Record::new(real_now(), &Expiry::default());
    r.version = 1;
    r.user = Some(user.to_owned());
    r.data.insert("user".into(), "admin".into());
    r
}

fn key() -> StoreKey {
    SessionId::generate().store_key()
}

/// Polls `b.load(k)` until `done` holds; returns how long it took, failing past [`WITHIN`].
async fn seen_by(
    b: &CachedStore<RedisStore>,
    k: &StoreKey,
    what: &str,
    done: impl Fn(&Option<Record>) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        let loaded = b.load(k, real_now()).await.unwrap();
        if done(&loaded) {
            return started.elapsed();
        }
        assert!(started.elapsed() < WITHIN, "server B still sees the old record {what} after {WITHIN:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Loads `k` through `s` until one load is a hit (the cache holds it).
async fn warm(s: &CachedStore<RedisStore>, k: &StoreKey) {
    for _ in 0..50 {
        let before = s.stats().hits;
        assert!(s.load(k, real_now()).await.unwrap().is_some());
        if s.stats().hits > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the cache never served a hit for a loaded session");
}

/// Two servers (two connections, two caches) over one Redis: each sees the other's save,
/// delete, cycle, revoke and revoke-all within a second, never the cached old record.
async fn fleet(a: CachedStore<RedisStore>, b: CachedStore<RedisStore>) {
    assert!(a.is_serving_hits() && b.is_serving_hits(), "both subscriptions confirmed");
    let user = format!("fleet-{}", &key().to_hex()[..12]);
    let keys: Vec<StoreKey> = (0..5).map(|_| key()).collect();
    for k in &keys {
        assert!(a.create(k, &record(&user)).await.unwrap());
        warm(&a, k).await;
        warm(&b, k).await;
    }
    let mut took = Vec::new();

    let mut v2 = record(&user);
    v2.version = 2;
    v2.data.insert("user".into(), "bob".into());
    assert_eq!(a.save(&keys[0], &v2, 1).await.unwrap(), SaveOutcome::Saved);
    took.push(seen_by(&b, &keys[0], "after a save", |r| r.as_ref().is_some_and(|r| r.version == 2)).await);
    warm(&b, &keys[0]).await;

    assert!(a.revoke(&keys[1].handle()).await.unwrap());
    took.push(seen_by(&b, &keys[1], "after a revoke", Option::is_none).await);

    a.delete(&keys[2]).await.unwrap();
    took.push(seen_by(&b, &keys[2], "after a delete", Option::is_none).await);

    let moved = key();
    assert!(a.cycle(&keys[3], &moved).await.unwrap());
    took.push(seen_by(&b, &keys[3], "after a cycle", Option::is_none).await);
    assert!(b.load(&moved, real_now()).await.unwrap().is_some());
    warm(&b, &moved).await;

    // Revoke-all from B this time: A's cached copies must go.
    warm(&a, &moved).await;
    warm(&a, &keys[4]).await;
    assert_eq!(b.revoke_user(&user).await.unwrap(), 3);
    for k in [&keys[0], &keys[4], &moved] {
        took.push(seen_by(&a, k, "after a revoke-all", Option::is_none).await);
    }
    eprintln!("invalidations seen by the other server after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_sees_writes_and_revocations_within_a_second() {
    let prefix = common::unique_prefix("fleet");
    let (Some(a), Some(b)) = (common::single(&prefix).await, common::single(&prefix).await) else { return };
    fleet(a.with_local_cache(1000).await, b.with_local_cache(1000).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_on_redis_cluster_sees_writes_and_revocations_within_a_second() {
    let prefix = common::unique_prefix("fleetcluster");
    let (Some(a), Some(b)) = (common::cluster(&prefix).await, common::cluster(&prefix).await) else { return };
    fleet(a.with_local_cache(1000).await, b.with_local_cache(1000).await).await;
}

/// The bound holds over Redis too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_stays_within_its_bound() {
    let Some(store) = common::single(&common::unique_prefix("bound")).await else { return };
    let store = store.with_local_cache(50).await;
    for _ in 0..300 {
        let k = key();
        store.create(&k, &record("bound")).await.unwrap();
        store.load(&k, real_now()).await.unwrap().unwrap();
    }
    let n = store.entry_count();
    assert!((1..=50).contains(&n), "{n} cached, bound 50");
}

/// A dedicated `redis-server` child on a free port, killed on drop.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(port: u16) -> Option<Self> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(Self { child, port })
    }

    async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {}", self.port);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Warm the cache, kill Redis: within a second every load is `Unavailable`, never a cached
/// hit; restart it (empty): the cache was emptied (the old session loads as nothing, not
/// from memory) and serves hits again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_closed_when_redis_dies_under_a_warm_cache() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let Some(server) = Server::start(port) else {
        sessionwarden_test::env::service_missing("redis-server binary", "cannot spawn redis-server");
        return;
    };
    server.ready().await;
    let url = format!("redis://127.0.0.1:{port}/");
    let store = RedisStore::connect(&url).await.unwrap().with_local_cache(100).await;
    assert!(store.is_serving_hits());
    let k = key();
    assert!(store.create(&k, &record("dora")).await.unwrap());
    warm(&store, &k).await;

    server.kill();
    let killed = Instant::now();
    let failed_after = loop {
        match store.load(&k, real_now()).await {
            Ok(Some(_)) => {
                assert!(killed.elapsed() < WITHIN, "a cached hit {:?} after Redis died", killed.elapsed());
            }
            Ok(None) => panic!("an outage must never look like no session"),
            Err(StoreError::Unavailable { .. }) => break killed.elapsed(),
            Err(e) => panic!("unexpected {e}"),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    for _ in 0..5 {
        assert!(matches!(store.load(&k, real_now()).await, Err(StoreError::Unavailable { .. })));
    }
    assert!(!store.is_serving_hits());
    eprintln!("loads failed closed {failed_after:?} after Redis died");

    let server = Server::start(port).unwrap();
    server.ready().await;
    let back = Instant::now();
    while !(store.ping().await.is_ok() && store.is_serving_hits()) {
        assert!(back.elapsed() < Duration::from_secs(5), "cache not serving again after 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The restarted Redis is empty: the record must not come back from the cache.
    assert!(store.load(&k, real_now()).await.unwrap().is_none(), "served a record from before the outage");
    let k2 = key();
    assert!(store.create(&k2, &record("dora")).await.unwrap());
    warm(&store, &k2).await;
    eprintln!("cache serving again {:?} after Redis came back", back.elapsed());
    drop(server);
}
