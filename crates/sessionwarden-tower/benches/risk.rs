//! The request-path cost of the risk rules, beside its baseline in the same run:
//!
//! - `risk/read/off`: `GET /get` of a logged-in session (a valid cookie, one memory-store
//!   load) from a browser (`ConnectInfo`, `User-Agent`), through a layer with
//!   `RiskRules::off()`;
//! - `risk/read/default`: the same request through a layer with `RiskRules::default()`: the
//!   record's network and agent hash compared with the request's (nothing fires, nothing is
//!   written: the ordinary request).
//!
//! Criterion runs the two one after the other; as in the metrics bench, a paired
//! measurement (alternating batches timed by the thread's CPU clock, median of the per-round
//! ratios) gives the ratio the budget is about: `default / off <= 1.03`.
//!
//! Run: `cargo bench -p sessionwarden-tower --bench risk`.
#![allow(missing_docs, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use sessionwarden_tower::keyring::{KeySet, Keyring};
use sessionwarden_tower::risk::RiskRules;
use sessionwarden_tower::{LoginMethod, MemoryStore, Session, SessionLayer, Timestamp};
use tower::ServiceExt as _;

const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
const PAIRED_BATCH: usize = 500;
const PAIRED_ROUNDS: usize = 201;

async fn login(session: Session) -> Result<&'static str, sessionwarden_tower::Error> {
    session.login("bench", LoginMethod::Password).await?;
    session.insert("n", 1).await?;
    Ok("in")
}

async fn read(session: Session) -> Result<String, sessionwarden_tower::Error> {
    let n: Option<u64> = session.get("n").await?;
    Ok(n.unwrap_or_default().to_string())
}

fn reads(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let keyring = Keyring::new(KeySet::generate(NOW).unwrap());
    // One store under both, so both read the same record.
    let store = MemoryStore::default();
    let router = |rules: RiskRules| {
        Router::new()
            .route("/login", get(login))
            .route("/get", get(read))
            .layer(SessionLayer::new(store.clone(), keyring.clone()).with_risk_rules(rules))
    };
    let off = router(RiskRules::off());
    let default = router(RiskRules::default());
    let peer: std::net::SocketAddr = "192.0.2.10:40000".parse().unwrap();
    let browser =
        |uri: &str| http::Request::get(uri).header("user-agent", FIREFOX).extension(ConnectInfo(peer));
    let cookie = rt.block_on(async {
        let res = default.clone().oneshot(browser("/login").body(Body::empty()).unwrap()).await.unwrap();
        let set = res.headers()[http::header::SET_COOKIE].to_str().unwrap().to_owned();
        set.split(';').next().unwrap().to_owned()
    });
    let request = |router: &Router| {
        let req = browser("/get").header("cookie", &cookie).body(Body::empty()).unwrap();
        let router = router.clone();
        async move {
            let res = router.oneshot(req).await.unwrap();
            assert_eq!(res.status(), 200);
            // The ordinary request: no rule fired, so nothing was written.
            assert!(!res.headers().contains_key(http::header::SET_COOKIE));
            black_box(res.into_body().collect().await.unwrap());
        }
    };
    let mut g = c.benchmark_group("risk/read");
    g.bench_function("off", |b| b.to_async(&rt).iter(|| request(&off)));
    g.bench_function("default", |b| b.to_async(&rt).iter(|| request(&default)));
    g.finish();

    let cpu = || {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
    };
    let batch = |router: &Router| {
        let started = cpu();
        rt.block_on(async {
            for _ in 0..PAIRED_BATCH {
                request(router).await;
            }
        });
        cpu() - started
    };
    let (mut ratios, mut off_min, mut on_min) = (Vec::new(), f64::MAX, f64::MAX);
    for round in 0..PAIRED_ROUNDS {
        // Alternate which goes first, so neither always runs on a warmer cache.
        let (p, m) = if round % 2 == 0 {
            let p = batch(&off);
            (p, batch(&default))
        } else {
            let m = batch(&default);
            (batch(&off), m)
        };
        ratios.push(m / p);
        off_min = off_min.min(p);
        on_min = on_min.min(m);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let (q1, q3) = (ratios[ratios.len() / 4], ratios[ratios.len() * 3 / 4]);
    println!(
        "risk/read paired: default / off = {median:.4} (median of {PAIRED_ROUNDS} rounds of {PAIRED_BATCH}; quartiles {q1:.4}..{q3:.4}); of the fastest batches {:.4} ({:.3} µs vs {:.3} µs a request); budget 1.03",
        on_min / off_min,
        on_min / PAIRED_BATCH as f64 * 1e6,
        off_min / PAIRED_BATCH as f64 * 1e6,
    );
}

criterion_group!(benches, reads);
criterion_main!(benches);
