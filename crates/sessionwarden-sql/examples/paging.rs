//! How long one page of the session listing takes on a big table, on SQLite and PostgreSQL.
//!
//! Run: `cargo run --release -p sessionwarden-sql --example paging -- --rows 1000000
//! [--postgres URL]` (`bench/run` does, and `bench/run --smoke` with 10 000 rows). Prints one
//! JSON object per store on stdout.
//!
//! Each store's table is bulk-loaded to `--rows` sessions (multi-row INSERTs of 1 000 rows,
//! one transaction): 1 in 1 000 belongs to one "heavy" user, the others to 100 000 users.
//! Then, each the median of 31 runs after 3 warm-ups: a primary-key point lookup
//! (`SessionStore::load`, the baseline), the first page of 100, a page from the middle of
//! the key space, the heavy user's first page of 100, and `count` of every session.
//!
//! SQLite uses a file in a temporary directory. PostgreSQL's table is emptied first, so the
//! URL must name a database whose name contains `bench` (the run refuses any other).
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr, missing_docs)]

use std::time::{Duration, Instant};

use sessionwarden_core::store::ListQuery;
use sessionwarden_core::{Record, SessionId, SessionIndex, StoreKey};
use sessionwarden_sql::{PostgresStore, SqliteStore};
use sessionwarden_test::conformance::{NOW, record};

const PAGE: usize = 100;
const BATCH: usize = 1_000;
const HEAVY: &str = "bench-heavy";
const RUNS: usize = 31;

/// One row's values, in the table's column order after `store_key`.
struct Row {
    key: StoreKey,
    data: Vec<u8>,
    record: Record,
}

fn rows(n: usize) -> impl Iterator<Item = Row> {
    (0..n).map(|i| {
        let user = if i % 1_000 == 0 { HEAVY.to_owned() } else { format!("u{}", i % 100_000) };
        let r = record(NOW, Some(&user), &[("user", user.clone().into())]);
        Row { key: SessionId::generate().store_key(), data: r.to_bytes().unwrap(), record: r }
    })
}

const INSERT: &str = "INSERT INTO sessionwarden_sessions (store_key, data, version, created, last_seen, \
     idle_deadline, absolute_deadline, expires_at, user_id, ip_prefix, ua_hash) ";

macro_rules! push_row {
    ($b:expr, $row:expr) => {{
        let r = &$row.record;
        $b.push_bind($row.key.as_bytes().to_vec())
            .push_bind($row.data.clone())
            .push_bind(i64::try_from(r.version).unwrap())
            .push_bind(r.created.unix())
            .push_bind(r.last_seen.unix())
            .push_bind(r.idle_deadline.map(|t| t.unix()))
            .push_bind(r.absolute_deadline.map(|t| t.unix()))
            .push_bind(r.expires_at().map(|t| t.unix()))
            .push_bind(r.user.clone())
            .push_bind(None::<String>)
            .push_bind(None::<String>);
    }};
}

async fn fill_sqlite(path: &std::path::Path, n: usize) {
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let all: Vec<Row> = rows(n).collect();
    for chunk in all.chunks(BATCH) {
        let mut b = sqlx::QueryBuilder::<sqlx::Sqlite>::new(INSERT);
        b.push_values(chunk, |mut b, row| push_row!(b, row));
        b.build().execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    pool.close().await;
}

async fn fill_postgres(url: &str, n: usize) {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    sqlx::query("TRUNCATE sessionwarden_sessions").execute(&pool).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let all: Vec<Row> = rows(n).collect();
    for chunk in all.chunks(BATCH) {
        let mut b = sqlx::QueryBuilder::<sqlx::Postgres>::new(INSERT);
        b.push_values(chunk, |mut b, row| push_row!(b, row));
        b.build().execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    sqlx::query("ANALYZE sessionwarden_sessions").execute(&pool).await.unwrap();
    pool.close().await;
}

/// The median of [`RUNS`] runs of `f`, after 3 warm-ups, in milliseconds.
async fn median_ms<F, Fut>(mut f: F) -> f64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..3 {
        f().await;
    }
    let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        f().await;
        times.push(t.elapsed());
    }
    times.sort();
    times[RUNS / 2].as_secs_f64() * 1e3
}

async fn measure(name: &str, store: &impl SessionIndex, rows: usize, load_s: f64) {
    // Listings show handles (key prefixes), never whole keys: the baseline looks up a key
    // inserted for it.
    let key = SessionId::generate().store_key();
    store.create(&key, &record(NOW, None, &[])).await.unwrap();
    let baseline = median_ms(|| async {
        assert!(store.load(&key, NOW).await.unwrap().is_some());
    })
    .await;
    let first_page = median_ms(|| async {
        assert_eq!(
            store.list_page(&ListQuery::first(PAGE), NOW).await.unwrap().sessions.len(),
            PAGE.min(rows)
        );
    })
    .await;
    let mut middle = [0u8; 32];
    middle[0] = 0x80;
    let middle = StoreKey::from_bytes(middle).handle();
    let middle_page = median_ms(|| async {
        let q = ListQuery::first(PAGE).with_after(Some(middle.clone()));
        assert!(!store.list_page(&q, NOW).await.unwrap().sessions.is_empty());
    })
    .await;
    let heavy = rows.div_ceil(1_000);
    let user_page = median_ms(|| async {
        let q = ListQuery::first(PAGE).with_user(HEAVY);
        assert_eq!(store.list_page(&q, NOW).await.unwrap().sessions.len(), PAGE.min(heavy));
    })
    .await;
    // `count` scans the table: past the store's 5 s operation bound it fails closed, and the
    // figure says so instead of a time.
    let t = Instant::now();
    let (count, count_error) = match store.count(None, NOW).await {
        Ok(n) => {
            assert!(n >= rows as u64);
            let first = t.elapsed().as_secs_f64() * 1e3;
            // Slow counts are timed once; fast ones get the median like the rest.
            if first > 1_000.0 {
                (Some(first), None)
            } else {
                (
                    Some(
                        median_ms(|| async { assert!(store.count(None, NOW).await.unwrap() >= rows as u64) })
                            .await,
                    ),
                    None,
                )
            }
        }
        Err(e) => (None, Some(format!("{e} after {:.1} s", t.elapsed().as_secs_f64()))),
    };
    let out = serde_json::json!({
        "store": name, "rows": rows, "bulk_load_s": load_s, "page": PAGE,
        "baseline_ms": baseline, "first_page_ms": first_page, "middle_page_ms": middle_page,
        "user_page_ms": user_page, "count_ms": count, "count_error": count_error,
    });
    println!("{out}");
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let n: usize = arg("--rows").map_or(1_000_000, |s| s.parse().expect("--rows takes a number"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("paging.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let t = Instant::now();
    fill_sqlite(&path, n).await;
    measure("sqlite", &store, n, t.elapsed().as_secs_f64()).await;
    store.close().await;
    if let Some(url) = arg("--postgres") {
        let db = url.rsplit('/').next().unwrap_or("");
        assert!(db.contains("bench"), "refusing to empty {db:?}: --postgres must name a bench database");
        let store = PostgresStore::connect(&url).await.unwrap();
        let t = Instant::now();
        fill_postgres(&url, n).await;
        measure("postgres", &store, n, t.elapsed().as_secs_f64()).await;
    } else {
        eprintln!("SKIPPED postgres: no --postgres URL");
    }
}
