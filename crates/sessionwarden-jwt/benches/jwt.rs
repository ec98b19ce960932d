//! Verification cost, side by side in one run:
//!
//! - `hmac_sha256_100b_floor`: one HMAC-SHA256 over 100 bytes with a pre-keyed instance
//!   (cloned per call): the floor no HS256 verifier can go below;
//! - `hs256_verify_full_policy`: [`Jwt::verify_at`] with every check on;
//! - `hs256_jsonwebtoken_decode`: `jsonwebtoken::decode` with a near-default `Validation`
//!   (HS256, `iss` and `aud` set), for comparison;
//! - `eddsa_verify_full_policy`, `es256_verify_full_policy`;
//! - `revocation_check_memory`: one [`Revocations::check`] on [`MemoryRevocations`] holding
//!   10,000 entries of each kind;
//! - `revocation_check_cached_hit`: the same query answered by [`CachedRevocations`] (the
//!   per-node cache in front of a shared SQL or Redis store), on a hit.
//!
//! Run: `CARGO_TARGET_DIR=/var/cache/sessionwarden/target-jwt cargo bench -p sessionwarden-jwt`
//! and compare each line's time with the floor's.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

use std::time::Duration;

use sessionwarden_jwt::{
    AccessTokenRequest, CachedRevocations, Jwt, JwtAlgorithm, JwtConfig, JwtKey, JwtKeySet,
    MemoryRevocations, RevocationQuery, Revocations, SystemClock,
};

/// Drives a future that never waits (the memory store's) to completion without a runtime, so
/// the measurement is the lookup, not an executor.
fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

fn bench(c: &mut Criterion) {
    use sessionwarden_jwt::Clock as _;
    let now = SystemClock.now();
    let secret = [0x42u8; 32];
    let config =
        JwtConfig::default().with_algorithms([JwtAlgorithm::Hs256, JwtAlgorithm::EdDsa, JwtAlgorithm::Es256]);
    let hs = Jwt::new(JwtKeySet::single(JwtKey::hs256("1", &secret).unwrap()), config.clone()).unwrap();
    let ed = Jwt::new(JwtKeySet::single(JwtKey::ed25519_from_seed("e", [7u8; 32]).unwrap()), config.clone())
        .unwrap();
    let es = Jwt::new(JwtKeySet::single(JwtKey::es256_from_seed("p", [8u8; 32]).unwrap()), config).unwrap();
    let request = AccessTokenRequest::new("alice").with_sid("session-handle");
    let hs_token = hs.issue_at(&request, now).unwrap().into_token();
    let ed_token = ed.issue_at(&request, now).unwrap().into_token();
    let es_token = es.issue_at(&request, now).unwrap().into_token();

    let keyed = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
    let msg = [0x5au8; 100];
    c.bench_function("hmac_sha256_100b_floor", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            mac.update(black_box(&msg));
            black_box(mac.finalize().into_bytes())
        });
    });

    c.bench_function("hs256_verify_full_policy", |b| {
        b.iter(|| black_box(hs.verify_at(black_box(&hs_token), now).unwrap()));
    });

    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&["sessionwarden"]);
    validation.set_audience(&["sessionwarden"]);
    let decoding = jsonwebtoken::DecodingKey::from_secret(&secret);
    c.bench_function("hs256_jsonwebtoken_decode", |b| {
        b.iter(|| {
            black_box(
                jsonwebtoken::decode::<serde_json::Value>(black_box(&hs_token), &decoding, &validation)
                    .unwrap(),
            )
        });
    });

    c.bench_function("eddsa_verify_full_policy", |b| {
        b.iter(|| black_box(ed.verify_at(black_box(&ed_token), now).unwrap()));
    });
    c.bench_function("es256_verify_full_policy", |b| {
        b.iter(|| black_box(es.verify_at(black_box(&es_token), now).unwrap()));
    });

    let revocations = MemoryRevocations::new();
    for i in 0..10_000u64 {
        ready(revocations.revoke_jti(&format!("jti-{i}"), now + 3600)).unwrap();
        ready(revocations.revoke_sid(&format!("sid-{i}"), now + 3600)).unwrap();
        ready(revocations.revoke_user_before(&format!("user-{i}"), now - 10)).unwrap();
    }
    let query =
        RevocationQuery { jti: "fresh-jti", sub: "alice", sid: Some("session-handle"), iat: now, now };
    c.bench_function("revocation_check_memory", |b| {
        b.iter(|| black_box(ready(revocations.check(black_box(&query))).unwrap()));
    });

    // The fleet path: a shared store behind the per-node verdict cache; this is a hit.
    let cached = CachedRevocations::new(std::sync::Arc::new(revocations), Duration::from_secs(1)).unwrap();
    ready(cached.check(&query)).unwrap();
    c.bench_function("revocation_check_cached_hit", |b| {
        b.iter(|| black_box(ready(cached.check(black_box(&query))).unwrap()));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
