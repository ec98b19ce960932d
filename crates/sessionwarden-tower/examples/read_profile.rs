//! Instruction counts of one session read through the layer, for callgrind: stable where
//! timings on a shared machine are not. Serves `N` reads of one memory-store session, each
//! from a browser behind a trusted proxy, through a layer configured as `VARIANT`:
//!
//! - `bare`: the default layer, requests without client headers;
//! - `nometa`: `without_client_metadata()`, browser requests;
//! - `meta`: the default layer, browser requests;
//! - `both`: `meta` plus `InstrumentedStore` (one in four timed) and `MetricsSink` with a
//!   Prometheus recorder.
//!
//! Count only the requests, and take the difference of two `N` so setup cancels out:
//!
//! ```text
//! cargo build --release -p sessionwarden-tower --features metrics --example read_profile
//! for n in 1001 2001; do valgrind --tool=callgrind --toggle-collect='<tower::util::oneshot::Oneshot*' \
//!   target/release/examples/read_profile meta $n; done
//! ```
#![allow(missing_docs, clippy::unwrap_used)]
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use http_body_util::BodyExt as _;
use sessionwarden_tower::keyring::{KeySet, Keyring};
use sessionwarden_tower::{Events, MemoryStore, Session, SessionLayer, Timestamp};
use tower::ServiceExt as _;

async fn set(session: Session) -> Result<&'static str, sessionwarden_tower::Error> {
    session.insert("user", "bench").await?;
    Ok("set")
}
async fn read(session: Session) -> Result<String, sessionwarden_tower::Error> {
    let user: Option<String> = session.get("user").await?;
    Ok(user.unwrap_or_default())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(variant), Some(n)) = (args.next(), args.next().and_then(|n| n.parse::<usize>().ok())) else {
        eprintln!("usage: read_profile bare|nometa|meta|both N");
        std::process::exit(2);
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(1_800_000_000)).unwrap());
    let store = MemoryStore::default();
    let proxies = sessionwarden_tower::TrustedProxies::new(["10.0.0.0/8"]).unwrap();
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let mut layer = if variant == "both" {
        metrics::with_local_recorder(&recorder, || {
            let sink = std::sync::Arc::new(sessionwarden_tower::metrics::MetricsSink::new());
            let events = Events::with_sinks(
                1024,
                vec![sink as std::sync::Arc<dyn sessionwarden_tower::events::EventSink>],
            );
            let b: sessionwarden_tower::Backend =
                sessionwarden_tower::metrics::InstrumentedStore::new(store.clone(), "memory")
                    .with_latency_sampling(4)
                    .into();
            SessionLayer::new(b, keyring.clone()).with_events(events).with_trusted_proxies(proxies.clone())
        })
    } else {
        SessionLayer::new(store, keyring).with_events(Events::default()).with_trusted_proxies(proxies)
    };
    if variant == "nometa" {
        layer = layer.without_client_metadata();
    }
    let app = Router::new().route("/set", get(set)).route("/get", get(read)).layer(layer);
    let cookie = rt.block_on(async {
        let req = http::Request::get("/set").body(Body::empty()).unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        let set = res.headers()[http::header::SET_COOKIE].to_str().unwrap().to_owned();
        set.split(';').next().unwrap().to_owned()
    });
    let peer: std::net::SocketAddr = "10.0.0.7:40000".parse().unwrap();
    let browser = variant != "bare";
    // Shared, as hyper's parsed header values are: a clone is a reference count.
    let shared = |v: &'static str| {
        let b = bytes::Bytes::from(v.as_bytes().to_vec());
        drop(b.clone());
        http::HeaderValue::from_maybe_shared(b).unwrap()
    };
    let ua = shared("Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0");
    let xff = shared("203.0.113.9, 10.0.0.3");
    rt.block_on(async {
        for _ in 0..n {
            let mut req = http::Request::get("/get").header("cookie", &cookie);
            if browser {
                req = req
                    .header("user-agent", ua.clone())
                    .header("x-forwarded-for", xff.clone())
                    .extension(ConnectInfo(peer));
            }
            let res = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(res.status(), 200);
            std::hint::black_box(res.into_body().collect().await.unwrap());
        }
    });
}
