//! The store conformance suite on Redis Cluster (`SESSIONWARDEN_TEST_REDIS_CLUSTER_URLS`;
//! `scripts/redis-cluster.sh start` runs one on ports 7001-7003).
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

sessionwarden_test::store_conformance!(redis_cluster, || async {
    common::or_exit(common::cluster(&common::unique_prefix("conformance")).await)
});
