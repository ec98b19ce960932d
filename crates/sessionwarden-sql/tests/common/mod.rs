//! Helpers the store-specific tests share.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;

use sessionwarden_tower::{Record, SessionId, StoreKey, Timestamp};

pub(crate) use sessionwarden_test::conformance::{NOW, record};

/// A fresh directory under Cargo's per-target temp dir, kept after the test (stores may still
/// hold the file open when the test's locals are dropped).
pub(crate) fn fresh_dir() -> PathBuf {
    tempfile::Builder::new()
        .prefix("sessionwarden-sql-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
        .keep()
}

pub(crate) fn key() -> StoreKey {
    SessionId::generate().store_key()
}

/// A user name no other test uses.
pub(crate) fn user() -> String {
    format!("sql-user-{}", &key().to_hex()[..12])
}

/// A record that expired at `at` (both deadlines at or before it).
pub(crate) fn expired_at(at: Timestamp, user: Option<&str>) -> Record {
    let mut r = record(Timestamp::from_unix(at.unix() - 10), user, &[]);
    r.idle_deadline = Some(at);
    r.absolute_deadline = Some(at);
    r
}

/// Asserts that no common encoding of `id`'s bytes occurs in `dump`.
pub(crate) fn assert_no_id(id: &SessionId, dump: &str) {
    for form in sessionwarden_test::env::encodings(id.expose_bytes()) {
        assert!(!dump.contains(&form), "the table dump contains the session id ({form})");
    }
}

/// Every usual text form of a column value: the text itself, or hex and base64 for bytes
/// (with a lossy UTF-8 reading too, in case a blob is text).
pub(crate) fn text_forms(bytes: &[u8]) -> String {
    let mut out = String::from_utf8_lossy(bytes).into_owned();
    for form in sessionwarden_test::env::encodings(bytes) {
        out.push(' ');
        out.push_str(&form);
    }
    out
}
