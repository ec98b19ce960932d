//! The store conformance suites (core, index, expired deletion) on Redis Cluster (`SESSIONWARDEN_TEST_REDIS_CLUSTER_URLS`;
//! `scripts/redis-cluster.sh start` runs one on ports 7001-7003).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

sessionwarden_test::core_conformance!(redis_cluster_core, || async {
    common::or_exit(common::cluster(&common::unique_prefix("conformance")).await)
});
sessionwarden_test::index_conformance!(redis_cluster_index, || async {
    common::or_exit(common::cluster(&common::unique_prefix("conformance")).await)
});
sessionwarden_test::expired_deletion_conformance!(redis_cluster_expired_deletion, || async {
    common::or_exit(common::cluster(&common::unique_prefix("conformance")).await)
});
