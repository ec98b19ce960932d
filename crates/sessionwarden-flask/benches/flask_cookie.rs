//! Flask session cookie: decode+verify and encode of a typical session.
//!
//! Run: `cargo bench -p sessionwarden-flask --bench flask_cookie`. Compare with
//! `benches/itsdangerous_timing.py`, which times Flask's own serializer on the same session.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sessionwarden_flask::{FlaskCookieCodec, FlaskMap, FlaskValue, SecretKey};

const NOW: u64 = 1_767_225_600;

/// The same session as in `itsdangerous_timing.py`.
fn typical_session() -> FlaskMap {
    let mut s = FlaskMap::new();
    s.insert("user".into(), "admin".into());
    s.insert("csrf_token".into(), "89e495e7941cf9e40e6980d14a16bf023ccd4c91".into());
    s.insert("_fresh".into(), FlaskValue::Bool(true));
    s.insert("last_page".into(), FlaskValue::Tuple(vec!["articles".into(), FlaskValue::Int(42)]));
    s
}

fn bench(c: &mut Criterion) {
    let codec = FlaskCookieCodec::new(SecretKey::from("interop-test-secret-1"));
    let session = typical_session();
    // invariant: the session above is encodable
    let cookie = codec.encode(&session, NOW).expect("encodable session");

    c.bench_function("flask_cookie/decode_verify", |b| {
        b.iter(|| codec.decode(black_box(&cookie), black_box(NOW + 60)))
    });
    c.bench_function("flask_cookie/encode", |b| b.iter(|| codec.encode(black_box(&session), black_box(NOW))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
