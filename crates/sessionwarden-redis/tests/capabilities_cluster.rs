//! The capability suites (audit log, rate limits, one-time keys) on a Redis Cluster
//! (`SESSIONWARDEN_TEST_REDIS_CLUSTER_URLS`; `scripts/redis-cluster.sh start` runs one). Each
//! store gets a prefix of its own; the "two nodes" cases connect twice under one prefix.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use sessionwarden_redis::RedisStore;

async fn one() -> RedisStore {
    common::or_exit(common::cluster(&common::unique_prefix("caps")).await)
}

async fn two_nodes() -> (RedisStore, RedisStore) {
    let prefix = common::unique_prefix("caps-nodes");
    (common::or_exit(common::cluster(&prefix).await), common::or_exit(common::cluster(&prefix).await))
}

sessionwarden_test::audit_conformance!(audit_cluster, one, nodes: two_nodes);
sessionwarden_test::rate_limit_conformance!(rate_limit_cluster, one, nodes: two_nodes);
sessionwarden_test::one_time_conformance!(one_time_cluster, one, nodes: two_nodes);
sessionwarden_test::session_policy_conformance!(policy_cluster, one, nodes: two_nodes);
sessionwarden_test::keyring_store_conformance!(keyring_cluster, one, nodes: two_nodes);
