//! Load and save latency of the SQL stores beside `MemoryStore`, in one run.
//!
//! Run: `cargo bench -p sessionwarden-sql --bench sql_store`. PostgreSQL comes from
//! `SESSIONWARDEN_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`) and
//! is skipped, with a message, when unreachable. SQLite uses a file in a temporary directory
//! (WAL, `synchronous = FULL`), so its save time includes an fsync.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sessionwarden_sql::{PostgresStore, SqliteStore};
use sessionwarden_test::conformance::{NOW, record};
use sessionwarden_tower::{MemoryStore, SaveOutcome, SessionId, SessionStore, StoreKey};
use tokio::runtime::Runtime;

fn stores(rt: &Runtime, dir: &std::path::Path) -> Vec<(&'static str, Arc<dyn SessionStore>)> {
    let mut out: Vec<(&'static str, Arc<dyn SessionStore>)> =
        vec![("memory", Arc::new(MemoryStore::default()))];
    out.push(("sqlite", Arc::new(rt.block_on(SqliteStore::open(dir.join("bench.db"))).unwrap())));
    match rt.block_on(PostgresStore::connect(&sessionwarden_test::env::postgres_url())) {
        Ok(store) => out.push(("postgres", Arc::new(store))),
        Err(e) => eprintln!("SKIPPED postgres: {e}"),
    }
    out
}

fn seed(rt: &Runtime, store: &Arc<dyn SessionStore>) -> StoreKey {
    let k = SessionId::generate().store_key();
    let r = record(NOW, Some("bench"), &[("user", "admin".into()), ("cart", serde_json::json!([1, 2, 3]))]);
    assert!(rt.block_on(store.create(&k, &r)).unwrap());
    k
}

fn bench(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stores = stores(&rt, dir.path());

    let mut load = c.benchmark_group("load");
    load.measurement_time(Duration::from_secs(3));
    for (name, store) in &stores {
        let k = seed(&rt, store);
        load.bench_function(*name, |b| {
            b.to_async(&rt).iter(|| async { store.load(&k, NOW).await.unwrap().unwrap() });
        });
        rt.block_on(store.delete(&k)).unwrap();
    }
    load.finish();

    let mut save = c.benchmark_group("save");
    save.measurement_time(Duration::from_secs(3));
    for (name, store) in &stores {
        let k = seed(&rt, store);
        let base = rt.block_on(store.load(&k, NOW)).unwrap().unwrap();
        let version = AtomicU64::new(base.version);
        save.bench_function(*name, |b| {
            b.to_async(&rt).iter(|| async {
                let expected = version.load(Ordering::Relaxed);
                let mut next = base.clone();
                next.version = expected + 1;
                assert_eq!(store.save(&k, &next, expected).await.unwrap(), SaveOutcome::Saved);
                version.store(expected + 1, Ordering::Relaxed);
            });
        });
        rt.block_on(store.delete(&k)).unwrap();
    }
    save.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
