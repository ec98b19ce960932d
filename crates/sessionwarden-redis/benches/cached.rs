//! `load` latency of the local read cache beside its alternatives, in one run: the memory
//! store, `RedisStore` alone, and `RedisStore::with_local_cache` (a warm hit), so the ratios
//! compare like with like.
//!
//! Run: `cargo bench -p sessionwarden-redis --bench cached` (Redis at
//! `SESSIONWARDEN_TEST_REDIS_URL`, default `redis://127.0.0.1:6379/`). Prints one line per
//! store; without Redis only the memory store is measured and a message says why.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sessionwarden_redis::RedisStore;
use sessionwarden_tower::{Expiry, MemoryStore, Record, SessionId, SessionStore, Timestamp};

fn record(now: Timestamp) -> Record {
    let expiry = Expiry::default()
        .with_idle_timeout(Some(Duration::from_secs(1800)))
        .with_absolute_timeout(Some(Duration::from_secs(12 * 3600)));
    let mut r = Record::new(now, &expiry);
    r.version = 1;
    r.user = Some("bench-user".into());
    r.data.insert("user".into(), "admin".into());
    r.data.insert("csrf".into(), "x".repeat(43).into());
    r
}

fn bench_load(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, store: Arc<dyn SessionStore>) {
    let now = Timestamp::from_unix(1_900_000_000);
    let key = SessionId::generate().store_key();
    rt.block_on(store.create(&key, &record(now))).unwrap();
    rt.block_on(store.load(&key, now)).unwrap().unwrap();
    c.bench_function(&format!("load/{name}"), |b| {
        b.to_async(rt).iter(|| async { black_box(store.load(&key, now).await.unwrap()) });
    });
    rt.block_on(store.delete(&key)).unwrap();
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    bench_load(c, &rt, "memory", Arc::new(MemoryStore::default()));
    let url = sessionwarden_test::env::redis_url();
    match rt.block_on(RedisStore::connect(&url)) {
        Ok(store) => {
            let store = store.with_prefix("swbench:cached:");
            bench_load(c, &rt, "redis", Arc::new(store.clone()));
            let cached = rt.block_on(store.with_local_cache(100_000));
            assert!(cached.is_serving_hits(), "the cache's subscription never confirmed");
            let cached = Arc::new(cached);
            bench_load(c, &rt, "redis+local_cache", cached.clone());
            let stats = cached.stats();
            eprintln!("local cache: {} hits, {} misses", stats.hits, stats.misses);
        }
        Err(e) => eprintln!("SKIPPED redis benches: {url} unreachable ({e})"),
    }
}

criterion_group!(name = group; config = Criterion::default().measurement_time(Duration::from_secs(3)); targets = benches);
criterion_main!(group);
