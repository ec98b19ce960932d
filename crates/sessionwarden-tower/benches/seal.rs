//! Cookie seal/open beside one HMAC-SHA256 (the floor), and a read request through the
//! session layer beside the same router without it — all in one run, so ratios hold on a
//! noisy machine.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use sessionwarden_tower::envelope::{Envelope, Mode};
use sessionwarden_tower::keyring::{KeySet, Keyring};
use sessionwarden_tower::{CookieConfig, CookieStore, MemoryStore, Session, SessionLayer, Timestamp};
use sha2::Sha256;
use tower::ServiceExt as _;

fn crypto(c: &mut Criterion) {
    let keys = KeySet::generate(Timestamp::from_unix(0)).unwrap();
    let now = Timestamp::from_unix(1_800_000_000);
    // A ~200-byte session: what a small cookie-store record serialises to.
    let payload = br#"{"data":{"user":"admin","csrf":"q8Zl2m1cYJ2vQ0pXb3nW7e","cart":[1,2,3]},"created":1800000000,"last_seen":1800000000,"idle_deadline":1800001800,"absolute_deadline":1800043200,"user":"admin","version":3,"persistent":false}"#;
    assert!((180..260).contains(&payload.len()), "{}", payload.len());
    let mut g = c.benchmark_group("cookie");
    let mac: Hmac<Sha256> = <Hmac<Sha256> as KeyInit>::new_from_slice(&[7u8; 32]).unwrap();
    let hundred = [0x5au8; 100];
    g.bench_function("hmac_sha256_100B_floor", |b| {
        b.iter(|| {
            let mut m = mac.clone();
            m.update(black_box(&hundred));
            black_box(m.finalize().into_bytes())
        })
    });
    let signed = Envelope::seal(&keys, "__Host-session", payload, now, Mode::Signed).unwrap();
    let encrypted = Envelope::seal(&keys, "__Host-session", payload, now, Mode::Encrypted).unwrap();
    g.bench_function("seal_signed_200B", |b| {
        b.iter(|| Envelope::seal(&keys, "__Host-session", black_box(payload), now, Mode::Signed).unwrap())
    });
    g.bench_function("open_signed_200B", |b| {
        b.iter(|| Envelope::open(&keys, "__Host-session", black_box(&signed), now, None).unwrap())
    });
    g.bench_function("seal_encrypted_200B", |b| {
        b.iter(|| Envelope::seal(&keys, "__Host-session", black_box(payload), now, Mode::Encrypted).unwrap())
    });
    g.bench_function("open_encrypted_200B", |b| {
        b.iter(|| Envelope::open(&keys, "__Host-session", black_box(&encrypted), now, None).unwrap())
    });
    g.finish();
}

async fn get_user(session: Session) -> Result<String, sessionwarden_tower::Error> {
    let user: Option<String> = session.get("user").await?;
    Ok(format!("User: {}", user.as_deref().unwrap_or("None")))
}

async fn set_user(session: Session) -> Result<&'static str, sessionwarden_tower::Error> {
    session.insert("user", "admin").await?;
    Ok("Session set!")
}

async fn plain() -> &'static str {
    "User: admin"
}

fn layer(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0)).unwrap());
    let cookie_cfg = CookieConfig::default().insecure_allow_http();
    let with = |backend: sessionwarden_tower::Backend| {
        Router::new()
            .route("/get-session", get(get_user))
            .route("/set-session", get(set_user))
            .layer(SessionLayer::new(backend, keyring.clone()).with_cookie(cookie_cfg.clone()))
    };
    let bare = Router::new().route("/get-session", get(plain));
    let cookie_router = with(CookieStore::signed().into());
    let memory_router = with(MemoryStore::default().into());
    let cookie_of = |router: &Router| {
        rt.block_on(async {
            let res = router
                .clone()
                .oneshot(http::Request::get("/set-session").body(Body::empty()).unwrap())
                .await
                .unwrap();
            let sc = res.headers()["set-cookie"].to_str().unwrap();
            sc.split(';').next().unwrap().to_owned()
        })
    };
    let cookie_c = cookie_of(&cookie_router);
    let cookie_m = cookie_of(&memory_router);
    let mut g = c.benchmark_group("read_request");
    let run = |router: &Router, cookie: Option<&str>| {
        let mut req = http::Request::get("/get-session");
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let router = router.clone();
        async move {
            let res = router.oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            assert_eq!(res.status(), 200);
            black_box(res)
        }
    };
    g.bench_function("no_layer", |b| b.to_async(&rt).iter(|| run(&bare, None)));
    g.bench_function("cookie_store", |b| b.to_async(&rt).iter(|| run(&cookie_router, Some(&cookie_c))));
    g.bench_function("memory_store", |b| b.to_async(&rt).iter(|| run(&memory_router, Some(&cookie_m))));
    g.finish();
}

criterion_group!(benches, crypto, layer);
criterion_main!(benches);
