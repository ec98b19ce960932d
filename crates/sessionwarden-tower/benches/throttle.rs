//! Rate-limit decisions, each beside its floor in the same run:
//!
//! - `throttle/in_process/*`: one `Limiter::check` in this process (governor's GCRA over
//!   1024 client keys), allowed and refused, beside one read of the clock it consults.
//! - `throttle/redis/*`: one shared `Limiter::check` against Redis (one Lua script: GET, SET
//!   with a TTL) beside one plain `PING` round trip on the same connection.
//!
//! Run: `cargo bench -p sessionwarden-tower --bench throttle` (Redis at
//! `SESSIONWARDEN_TEST_REDIS_URL`, default `redis://127.0.0.1:6379/`). Without Redis only the
//! in-process group runs and a message says why.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use futures_util::FutureExt as _;
use sessionwarden_redis::RedisStore;
use sessionwarden_tower::store::{Rate, RateLimitStore};
use sessionwarden_tower::throttle::{LimitKey, Limiter};
use sessionwarden_tower::{Clock, SessionStore, SystemClock};

/// 1024 clients, one /24 each.
fn keys() -> Vec<LimitKey> {
    (0..1024u32).map(|i| LimitKey::client(format!("10.{}.{}.1", i / 256, i % 256).parse().unwrap())).collect()
}

fn in_process(c: &mut Criterion) {
    let keys = keys();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut g = c.benchmark_group("throttle/in_process");
    g.bench_function("clock_floor", |b| b.iter(|| black_box(clock.now_ms())));
    // Generous enough that every check is allowed (and counted).
    let allowing = Limiter::in_process(Rate::per(1_000_000, Duration::from_secs(1)), clock.clone());
    let mut i = 0usize;
    g.bench_function("allowed", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(allowing.check(&keys[i]).now_or_never().unwrap().unwrap())
        });
    });
    // One a day: after the first check per key, every check is refused.
    let refusing = Limiter::in_process(Rate::per(1, Duration::from_secs(86_400)), clock.clone());
    g.bench_function("refused", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(refusing.check(&keys[i]).now_or_never().unwrap().unwrap())
        });
    });
    g.finish();
}

fn redis(c: &mut Criterion) {
    let url = std::env::var("SESSIONWARDEN_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379/".to_owned());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let store = match rt.block_on(RedisStore::connect(&url)) {
        Ok(s) => s.with_prefix("swbench:throttle:"),
        Err(e) => {
            eprintln!("SKIPPED throttle/redis: {url} unreachable ({e})");
            return;
        }
    };
    let keys = keys();
    let shared: Arc<dyn RateLimitStore> = Arc::new(store.clone());
    let limiter = Limiter::shared(
        Rate::per(1_000_000, Duration::from_secs(1)),
        shared,
        "bench:",
        Arc::new(SystemClock),
    );
    rt.block_on(store.ping()).unwrap();
    let mut g = c.benchmark_group("throttle/redis");
    g.bench_function("ping_floor", |b| b.to_async(&rt).iter(|| async { store.ping().await.unwrap() }));
    let mut i = 0usize;
    g.bench_function("shared_check", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) & 1023;
            let key = keys[i];
            let limiter = &limiter;
            async move { black_box(limiter.check(&key).await.unwrap()) }
        });
    });
    g.finish();
}

criterion_group!(name = group; config = Criterion::default().measurement_time(Duration::from_secs(3)); targets = in_process, redis);
criterion_main!(group);
