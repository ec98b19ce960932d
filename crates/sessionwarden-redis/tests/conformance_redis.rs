//! The store conformance suite on a single Redis server (`SESSIONWARDEN_TEST_REDIS_URL`).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

sessionwarden_test::store_conformance!(redis, || async {
    common::or_exit(common::single(&common::unique_prefix("conformance")).await)
});
