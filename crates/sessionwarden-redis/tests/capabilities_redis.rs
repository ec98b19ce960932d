//! The capability suites (audit log, rate limits, one-time keys) on a single Redis node
//! (`SESSIONWARDEN_TEST_REDIS_URL`). Each store gets a prefix of its own; the "two nodes"
//! cases connect twice under one prefix.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use sessionwarden_redis::RedisStore;

async fn one() -> RedisStore {
    common::or_exit(common::single(&common::unique_prefix("caps")).await)
}

async fn two_nodes() -> (RedisStore, RedisStore) {
    let prefix = common::unique_prefix("caps-nodes");
    (common::or_exit(common::single(&prefix).await), common::or_exit(common::single(&prefix).await))
}

sessionwarden_test::audit_conformance!(audit_redis, one, nodes: two_nodes);
sessionwarden_test::rate_limit_conformance!(rate_limit_redis, one, nodes: two_nodes);
sessionwarden_test::one_time_conformance!(one_time_redis, one, nodes: two_nodes);
