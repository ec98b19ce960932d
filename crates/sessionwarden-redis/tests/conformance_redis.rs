//! The store conformance suites (core, index, expired deletion) on a single Redis server
//! (`SESSIONWARDEN_TEST_REDIS_URL`).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

sessionwarden_test::core_conformance!(redis_core, || async {
    common::or_exit(common::single(&common::unique_prefix("conformance")).await)
});
sessionwarden_test::index_conformance!(redis_index, || async {
    common::or_exit(common::single(&common::unique_prefix("conformance")).await)
});
sessionwarden_test::expired_deletion_conformance!(redis_expired_deletion, || async {
    common::or_exit(common::single(&common::unique_prefix("conformance")).await)
});
