//! CSRF costs, each beside its floor in the same run:
//!
//! - `csrf/token/*`: issuing and verifying one token, next to one HMAC-SHA256 of the same
//!   size (keyed per call, as the token code does).
//! - `csrf/request/*`: one `POST /notes` (session cookie, token header, `Sec-Fetch-Site`)
//!   through `SessionLayer` + memory store, with and without `CsrfLayer`.
//!
//! Run: `cargo bench -p sessionwarden-tower --bench csrf`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::BodyExt as _;
use sessionwarden_tower::csrf::{CsrfLayer, CsrfToken, MaskedHmacTokens, TokenScheme};
use sessionwarden_tower::keyring::{KeySet, Keyring};
use sessionwarden_tower::{MemoryStore, Session, SessionLayer, Timestamp};
use sha2::Sha256;
use tower::ServiceExt as _;

const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);

fn tokens(c: &mut Criterion) {
    let keys = KeySet::generate(NOW).unwrap();
    let scheme = MaskedHmacTokens;
    let secret = scheme.new_secret().unwrap();
    let token = scheme.issue(&keys, &secret, NOW).unwrap();
    let subkey = *keys.primary().csrf_subkey().expose();
    let mut g = c.benchmark_group("csrf/token");
    g.bench_function("hmac_sha256_floor", |b| {
        // The floor: one keyed HMAC-SHA256 over a token's MAC input (28 + 4 + 8 + 32 bytes).
        let input = [7u8; 72];
        b.iter(|| {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(black_box(&subkey)).unwrap();
            mac.update(black_box(&input));
            black_box(mac.finalize().into_bytes())
        });
    });
    g.bench_function("hmac_sha256_prekeyed_floor", |b| {
        // The same HMAC from a pre-keyed state, as the token code runs it.
        let input = [7u8; 72];
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(&subkey).unwrap();
        b.iter(|| {
            let mut mac = black_box(&keyed).clone();
            mac.update(black_box(&input));
            black_box(mac.finalize().into_bytes())
        });
    });
    g.bench_function("issue", |b| b.iter(|| black_box(scheme.issue(&keys, &secret, NOW).unwrap())));
    g.bench_function("verify", |b| {
        b.iter(|| {
            scheme
                .verify(
                    &keys,
                    black_box(&secret),
                    black_box(token.as_str()),
                    NOW,
                    std::time::Duration::from_secs(3600),
                )
                .unwrap();
        });
    });
    g.finish();
}

async fn add_note(session: Session) -> Result<&'static str, sessionwarden_tower::Error> {
    // A bounded list keeps the session the same size across iterations.
    let mut notes: Vec<String> = session.get("notes").await?.unwrap_or_default();
    notes.push("note".to_owned());
    if notes.len() > 8 {
        notes.remove(0);
    }
    session.insert("notes", notes).await?;
    Ok("saved")
}

async fn issue(token: CsrfToken) -> String {
    token.into_string()
}

fn requests(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let keyring = Keyring::new(KeySet::generate(NOW).unwrap());
    let sessions = SessionLayer::new(MemoryStore::default(), keyring);
    let routes = || Router::new().route("/notes", post(add_note)).route("/csrf-token", get(issue));
    let protected = routes().layer(CsrfLayer::new()).layer(sessions.clone());
    // The layer's plumbing without either check (the path is exempt): isolates the checks.
    let exempt = routes().layer(CsrfLayer::new().with_exempt_path("/notes")).layer(sessions.clone());
    let unprotected = routes().layer(sessions);

    // One browser session, shared by both routers (same store, same keys).
    let (cookie, token) = rt.block_on(async {
        let req = http::Request::get("/csrf-token").body(Body::empty()).unwrap();
        let res = protected.clone().oneshot(req).await.unwrap();
        let set = res.headers()[http::header::SET_COOKIE].to_str().unwrap().to_owned();
        let cookie = set.split(';').next().unwrap().to_owned();
        let token = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        (cookie, token)
    });
    let request = |router: &Router| {
        let req = http::Request::post("/notes")
            .header("host", "site.example")
            .header("sec-fetch-site", "same-origin")
            .header("cookie", &cookie)
            .header("x-csrf-token", &token)
            .body(Body::empty())
            .unwrap();
        let router = router.clone();
        async move {
            let res = router.oneshot(req).await.unwrap();
            assert_eq!(res.status(), 200);
            black_box(res.into_body().collect().await.unwrap());
        }
    };
    let mut g = c.benchmark_group("csrf/request");
    g.bench_function("post_notes_unprotected", |b| b.to_async(&rt).iter(|| request(&unprotected)));
    g.bench_function("post_notes_protected", |b| b.to_async(&rt).iter(|| request(&protected)));
    g.bench_function("post_notes_layer_exempt", |b| b.to_async(&rt).iter(|| request(&exempt)));
    g.finish();
}

criterion_group!(benches, tokens, requests);
criterion_main!(benches);
