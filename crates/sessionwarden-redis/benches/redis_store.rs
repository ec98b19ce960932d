//! Load and save latency of `RedisStore` on one Redis server, beside `MemoryStore` in the
//! same run for scale; and `RedisTokenStore::check` (the JWT revocation lookup a verification
//! costs on a cache miss: one `MGET` of three keys), with nothing revoked and with a hit.
//!
//! Run: `cargo bench -p sessionwarden-redis` (Redis at `SESSIONWARDEN_TEST_REDIS_URL`,
//! default `redis://127.0.0.1:6379/`). Without Redis only the memory store is measured and
//! a message says why.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sessionwarden_jwt::{RevocationQuery, Revocations};
use sessionwarden_redis::{RedisStore, RedisTokenStore};
use sessionwarden_tower::{Expiry, MemoryStore, Record, SaveOutcome, SessionId, SessionStore, Timestamp};

fn record(now: Timestamp) -> Record {
    let expiry = Expiry::default()
        .with_idle_timeout(Some(Duration::from_secs(1800)))
        .with_absolute_timeout(Some(Duration::from_secs(12 * 3600)));
    let mut r = Record::new(now, &expiry);
    r.version = 1;
    r.user = Some("bench-user".into());
    r.data.insert("user".into(), "admin".into());
    r.data.insert("csrf".into(), "x".repeat(43).into());
    r.data.insert("cart".into(), serde_json::json!([1, 2, 3, 4, 5]));
    r
}

fn bench_store(c: &mut Criterion, rt: &tokio::runtime::Runtime, name: &str, store: Arc<dyn SessionStore>) {
    let now = Timestamp::from_unix(1_900_000_000);
    let key = SessionId::generate().store_key();
    let base = record(now);
    rt.block_on(store.create(&key, &base)).unwrap();

    c.bench_function(&format!("{name}/load"), |b| {
        b.to_async(rt).iter(|| async { black_box(store.load(&key, now).await.unwrap()) });
    });

    // Each save writes the next version, as the session layer does.
    let current = AtomicU64::new(1);
    c.bench_function(&format!("{name}/save"), |b| {
        b.to_async(rt).iter(|| async {
            let expected = current.load(Ordering::SeqCst);
            let mut next = base.clone();
            next.version = expected + 1;
            assert_eq!(store.save(&key, &next, expected).await.unwrap(), SaveOutcome::Saved);
            current.store(expected + 1, Ordering::SeqCst);
        });
    });
    rt.block_on(store.delete(&key)).unwrap();
}

fn bench_check(c: &mut Criterion, rt: &tokio::runtime::Runtime, store: &RedisStore) {
    let tokens = RedisTokenStore::from_store(store).with_prefix("swbench:tokens:");
    let now = 1_900_000_000;
    rt.block_on(tokens.revoke_jti("bench-revoked", now + 3600)).unwrap();
    let clean =
        RevocationQuery { jti: "bench-live", sub: "bench-user", sid: Some("bench-sid"), iat: now, now };
    let revoked = RevocationQuery { jti: "bench-revoked", ..clean };
    c.bench_function("redis_tokens/check_not_revoked", |b| {
        b.to_async(rt).iter(|| async { black_box(tokens.check(&clean).await.unwrap()) });
    });
    c.bench_function("redis_tokens/check_revoked", |b| {
        b.to_async(rt).iter(|| async { black_box(tokens.check(&revoked).await.unwrap()) });
    });
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    bench_store(c, &rt, "memory", Arc::new(MemoryStore::default()));
    let url = sessionwarden_test::env::redis_url();
    match rt.block_on(RedisStore::connect(&url)) {
        Ok(store) => {
            bench_check(c, &rt, &store);
            bench_store(c, &rt, "redis", Arc::new(store.with_prefix("swbench:session:")));
        }
        Err(e) => eprintln!("SKIPPED redis benches: {url} unreachable ({e})"),
    }
}

criterion_group!(name = group; config = Criterion::default().measurement_time(Duration::from_secs(3)); targets = benches);
criterion_main!(group);
