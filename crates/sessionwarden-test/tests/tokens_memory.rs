//! The JWT token-store suites on the in-process stores, the reference the other backends
//! are held to.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use sessionwarden_jwt::{MemoryRefreshStore, MemoryRevocations};
use sessionwarden_test::tokens::{Purge, concurrent_rotations, refresh_suite, revocation_suite};

#[tokio::test]
async fn memory_refresh_store() {
    refresh_suite(Arc::new(MemoryRefreshStore::new()), Purge::Deletes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_concurrent_rotations() {
    concurrent_rotations(Arc::new(MemoryRefreshStore::new()), 16).await;
}

#[tokio::test]
async fn memory_revocations() {
    revocation_suite(Arc::new(MemoryRevocations::new()), Purge::Deletes).await;
}
