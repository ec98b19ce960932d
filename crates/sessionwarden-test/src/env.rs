//! Where the test services are, and what to do when one is missing.
//!
//! Under `CI=true` a missing service fails the test run; elsewhere a test may skip with a
//! printed reason.
#![allow(missing_docs)]

use base64::Engine as _;

/// `SESSIONWARDEN_TEST_REDIS_URL`, default `redis://127.0.0.1:6379/`.
#[must_use]
pub fn redis_url() -> String {
    std::env::var("SESSIONWARDEN_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// `SESSIONWARDEN_TEST_REDIS_CLUSTER_URLS` (comma-separated), default the three masters
/// `.ci/run` starts on ports 7001–7003.
#[must_use]
pub fn redis_cluster_urls() -> Vec<String> {
    std::env::var("SESSIONWARDEN_TEST_REDIS_CLUSTER_URLS")
        .unwrap_or_else(|_| "redis://127.0.0.1:7001/,redis://127.0.0.1:7002/,redis://127.0.0.1:7003/".into())
        .split(',')
        .map(str::to_owned)
        .collect()
}

/// `SESSIONWARDEN_TEST_DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`.
#[must_use]
pub fn postgres_url() -> String {
    std::env::var("SESSIONWARDEN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Whether we run under CI, where missing services are failures, not skips.
#[must_use]
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Reports that `service` is unavailable: panics under CI, prints and returns otherwise.
///
/// # Panics
/// Under `CI=true`, always.
pub fn service_missing(service: &str, why: &str) {
    assert!(!in_ci(), "{service} is required under CI=true but unavailable: {why}");
    eprintln!("SKIPPED: {service} unavailable ({why}); set CI=true to make this a failure");
}

/// The common text encodings of `bytes`: hex (both cases), base64 and base64url.
#[must_use]
pub fn encodings(bytes: &[u8]) -> Vec<String> {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    vec![
        hex.to_uppercase(),
        hex,
        base64::engine::general_purpose::STANDARD.encode(bytes),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
    ]
}
