//! The request-path cost of metrics, beside its baseline in the same run:
//!
//! - `metrics/read/plain`: `GET /get` (a valid session cookie, one memory-store load)
//!   through `SessionLayer`, no metrics;
//! - `metrics/read/instrumented_no_recorder`: the same through `InstrumentedStore` and a
//!   `MetricsSink`, with no recorder installed (handles are no-ops);
//! - `metrics/read/instrumented_prometheus`: the same with a Prometheus recorder behind the
//!   handles (what a server with metrics on runs).
//!
//! The budget is `instrumented_prometheus / plain <= 1.03` (of the criterion mean estimates,
//! `target/criterion/metrics_read/*/new/estimates.json`).
//!
//! Run: `cargo bench -p sessionwarden-tower --features metrics --bench metrics`.
#![allow(missing_docs, clippy::unwrap_used, clippy::cast_precision_loss)]

use std::hint::black_box;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::BodyExt as _;
use metrics_exporter_prometheus::PrometheusBuilder;
use sessionwarden_tower::events::EventSink;
use sessionwarden_tower::keyring::{KeySet, Keyring};
use sessionwarden_tower::metrics::{InstrumentedStore, MetricsSink};
use sessionwarden_tower::{Backend, Events, MemoryStore, Session, SessionLayer, Timestamp};
use tower::ServiceExt as _;

const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);

/// Requests per batch, and rounds, of the paired measurement.
const PAIRED_BATCH: usize = 500;
const PAIRED_ROUNDS: usize = 401;

async fn set(session: Session) -> Result<&'static str, sessionwarden_tower::Error> {
    session.insert("user", "bench").await?;
    Ok("set")
}

async fn read(session: Session) -> Result<String, sessionwarden_tower::Error> {
    let user: Option<String> = session.get("user").await?;
    Ok(user.unwrap_or_default())
}

fn router(backend: Backend, keyring: &Keyring, events: Events) -> Router {
    Router::new()
        .route("/set", get(set))
        .route("/get", get(read))
        .layer(SessionLayer::new(backend, keyring.clone()).with_events(events))
}

fn instrumented(store: &MemoryStore, sample_every: u32) -> (Backend, Events) {
    let sink = Arc::new(MetricsSink::new());
    let events = Events::with_sinks(1024, vec![sink as Arc<dyn EventSink>]);
    (InstrumentedStore::new(store.clone(), "memory").with_latency_sampling(sample_every).into(), events)
}

fn reads(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let keyring = Keyring::new(KeySet::generate(NOW).unwrap());
    // One store under all three, so every variant reads the same record.
    let store = MemoryStore::default();
    let plain = router(store.clone().into(), &keyring, Events::default());
    let (b, e) = instrumented(&store, 1);
    let no_recorder = router(b, &keyring, e);
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let (b, e) = metrics::with_local_recorder(&recorder, || instrumented(&store, 1));
    let prometheus = router(b, &keyring, e);
    let (b, e) = metrics::with_local_recorder(&recorder, || instrumented(&store, 4));
    let sampled = router(b, &keyring, e);

    let cookie = rt.block_on(async {
        let req = http::Request::get("/set").body(Body::empty()).unwrap();
        let res = plain.clone().oneshot(req).await.unwrap();
        let set = res.headers()[http::header::SET_COOKIE].to_str().unwrap().to_owned();
        set.split(';').next().unwrap().to_owned()
    });
    let request = |router: &Router| {
        let req = http::Request::get("/get").header("cookie", &cookie).body(Body::empty()).unwrap();
        let router = router.clone();
        async move {
            let res = router.oneshot(req).await.unwrap();
            assert_eq!(res.status(), 200);
            black_box(res.into_body().collect().await.unwrap());
        }
    };
    let mut g = c.benchmark_group("metrics/read");
    g.bench_function("plain", |b| b.to_async(&rt).iter(|| request(&plain)));
    g.bench_function("instrumented_no_recorder", |b| b.to_async(&rt).iter(|| request(&no_recorder)));
    g.bench_function("instrumented_prometheus", |b| b.to_async(&rt).iter(|| request(&prometheus)));
    g.finish();

    // Criterion runs the three one after the other, and on a shared machine the load drifts
    // between them by more than the budget. So also measure paired: alternate batches of
    // `plain` and `instrumented_prometheus` requests, timed by this thread's CPU clock (time
    // spent descheduled does not count), and take the median of the per-round ratios, which
    // drift between rounds cannot bias. The runtime is current-thread: all work is on it.
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
    for (name, variant) in
        [("instrumented_prometheus", &prometheus), ("instrumented_prometheus_sampled_1_in_4", &sampled)]
    {
        let (mut ratios, mut plain_min, mut variant_min) = (Vec::new(), f64::MAX, f64::MAX);
        for round in 0..PAIRED_ROUNDS {
            // Alternate which goes first, so neither always runs on a warmer cache.
            let (p, m) = if round % 2 == 0 {
                let p = batch(&plain);
                (p, batch(variant))
            } else {
                let m = batch(variant);
                (batch(&plain), m)
            };
            ratios.push(m / p);
            plain_min = plain_min.min(p);
            variant_min = variant_min.min(m);
        }
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        let (q1, q3) = (ratios[ratios.len() / 4], ratios[ratios.len() * 3 / 4]);
        // Interference only ever adds time, so the fastest batch of each is its least disturbed.
        let of_minima = variant_min / plain_min;
        println!(
            "metrics/read paired: {name} / plain = {median:.4} (median of {PAIRED_ROUNDS} rounds of {PAIRED_BATCH}; quartiles {q1:.4}..{q3:.4}); of the fastest batches {of_minima:.4} ({:.3} µs vs {:.3} µs a request); budget 1.03",
            variant_min / PAIRED_BATCH as f64 * 1e6,
            plain_min / PAIRED_BATCH as f64 * 1e6,
        );
    }

    // The recorded variant really recorded: its load histogram has samples.
    let text = handle.render();
    assert!(text.contains(r#"operation="load""#), "no load samples recorded");
}

/// Client metadata (and then metrics too) on vs off, paired as above, every variant serving
/// the same request: a read from a browser behind a trusted proxy (`ConnectInfo`,
/// `User-Agent`, `X-Forwarded-For`). `off` is a layer built with
/// `without_client_metadata()` (it looks at none of that); `metadata` the default layer
/// with the proxy trusted (the peer checked against the proxy list, the header's lines and
/// the `User-Agent` kept for when a new record or an event needs them);
/// `browser_no_proxy` the default layer trusting no proxy; `metadata_and_metrics` adds the
/// Prometheus-backed `InstrumentedStore` (one in four timed, as the server runs the memory
/// store) and `MetricsSink`. Budget: ≤ 1.03 of `off`.
fn metadata_reads(_: &mut Criterion) {
    use axum::extract::ConnectInfo;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let keyring = Keyring::new(KeySet::generate(NOW).unwrap());
    let store = MemoryStore::default();
    let proxies = sessionwarden_tower::TrustedProxies::new(["10.0.0.0/8"]).unwrap();
    let layer = |backend: Backend, events: Events| {
        Router::new().route("/set", get(set)).route("/get", get(read)).layer(
            SessionLayer::new(backend, keyring.clone())
                .with_events(events)
                .with_trusted_proxies(proxies.clone()),
        )
    };
    let metadata = layer(store.clone().into(), Events::default());
    let off = Router::new().route("/set", get(set)).route("/get", get(read)).layer(
        SessionLayer::new(store.clone(), keyring.clone())
            .with_events(Events::default())
            .without_client_metadata(),
    );
    // The same browser request through a layer that trusts no proxy: the forwarding header
    // is not read, which separates its parsing from the rest.
    let unproxied = router(store.clone().into(), &keyring, Events::default());
    let recorder = PrometheusBuilder::new().build_recorder();
    let (b, e) = metrics::with_local_recorder(&recorder, || instrumented(&store, 4));
    let both = layer(b, e);
    let cookie = rt.block_on(async {
        let req = http::Request::get("/set").body(Body::empty()).unwrap();
        let res = off.clone().oneshot(req).await.unwrap();
        let set = res.headers()[http::header::SET_COOKIE].to_str().unwrap().to_owned();
        set.split(';').next().unwrap().to_owned()
    });
    let peer: std::net::SocketAddr = "10.0.0.7:40000".parse().unwrap();
    // Header values sharing one buffer, as hyper's parsed ones do (a clone is a reference
    // count; a value made from a `&str` would allocate at its first clone instead).
    let shared = |v: &str| {
        let bytes = bytes::Bytes::from(v.as_bytes().to_vec());
        drop(bytes.clone());
        http::HeaderValue::from_maybe_shared(bytes).unwrap()
    };
    let user_agent = shared("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0");
    let forwarded = shared("203.0.113.9, 10.0.0.3");
    let request = |router: &Router| {
        let req = http::Request::get("/get")
            .header("cookie", &cookie)
            .header("user-agent", user_agent.clone())
            .header("x-forwarded-for", forwarded.clone())
            .extension(ConnectInfo(peer))
            .body(Body::empty())
            .unwrap();
        let router = router.clone();
        async move {
            let res = router.oneshot(req).await.unwrap();
            assert_eq!(res.status(), 200);
            black_box(res.into_body().collect().await.unwrap());
        }
    };
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
    for (name, variant) in
        [("browser_no_proxy", &unproxied), ("metadata", &metadata), ("metadata_and_metrics", &both)]
    {
        let (mut ratios, mut off_min, mut variant_min) = (Vec::new(), f64::MAX, f64::MAX);
        for round in 0..PAIRED_ROUNDS {
            let (p, m) = if round % 2 == 0 {
                let p = batch(&off);
                (p, batch(variant))
            } else {
                let m = batch(variant);
                (batch(&off), m)
            };
            ratios.push(m / p);
            off_min = off_min.min(p);
            variant_min = variant_min.min(m);
        }
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        let (q1, q3) = (ratios[ratios.len() / 4], ratios[ratios.len() * 3 / 4]);
        println!(
            "read paired: {name} / off = {median:.4} (median of {PAIRED_ROUNDS} rounds of {PAIRED_BATCH}; quartiles {q1:.4}..{q3:.4}); of the fastest batches {:.4} ({:.3} µs vs {:.3} µs a request); budget 1.03",
            variant_min / off_min,
            variant_min / PAIRED_BATCH as f64 * 1e6,
            off_min / PAIRED_BATCH as f64 * 1e6,
        );
    }
}

criterion_group!(benches, reads, metadata_reads);
criterion_main!(benches);
