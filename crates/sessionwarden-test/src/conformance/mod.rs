//! The store conformance suites, one per capability, and what they share.
//!
//! | suite | for | mount macro |
//! |---|---|---|
//! | [`core`] | every [`SessionStore`](sessionwarden_tower::SessionStore) | [`core_conformance!`](crate::core_conformance) |
//! | [`index`] | [`SessionIndex`](sessionwarden_tower::SessionIndex) | [`index_conformance!`](crate::index_conformance) |
//! | [`expired_deletion`] | [`ExpiredDeletion`](sessionwarden_tower::ExpiredDeletion) | [`expired_deletion_conformance!`](crate::expired_deletion_conformance) |
//!
//! A store mounts exactly the suites of the traits it implements. Each case uses fresh random
//! keys and user names, so stores shared between tests (one Redis, one PostgreSQL database)
//! need no cleanup between cases.
#![allow(clippy::unwrap_used, missing_docs)]

pub mod core;
pub mod expired_deletion;
pub mod index;

use std::time::Duration;

use sessionwarden_tower::{Expiry, Record, SessionId, StoreKey, Timestamp};

/// A fixed "now" far from the epoch, so deadlines before it are meaningful.
pub const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);

fn expiry() -> Expiry {
    Expiry::default()
        .with_idle_timeout(Some(Duration::from_secs(1800)))
        .with_absolute_timeout(Some(Duration::from_secs(12 * 3600)))
}

/// A record created at `now` with `data` and version 1.
pub fn record(now: Timestamp, user: Option<&str>, data: &[(&str, serde_json::Value)]) -> Record {
    let mut r = Record::new(now, &expiry());
    r.version = 1;
    r.user = user.map(str::to_owned);
    for (k, v) in data {
        r.data.insert((*k).to_owned(), v.clone());
    }
    r
}

pub(crate) fn key() -> StoreKey {
    SessionId::generate().store_key()
}

pub(crate) fn user() -> String {
    format!("user-{}", &SessionId::generate().store_key().to_hex()[..12])
}
