//! The session layer suite over HTTP on Redis and Redis Cluster: what a user of the layer
//! sees, including 100 concurrent writers on one session and an outage answered with 503.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::sync::Arc;

use sessionwarden_tower::Backend;

async fn single() -> Backend {
    Backend::Server(Arc::new(common::or_exit(common::single(&common::unique_prefix("layer")).await)))
}

async fn cluster() -> Backend {
    Backend::Server(Arc::new(common::or_exit(common::cluster(&common::unique_prefix("layer")).await)))
}

sessionwarden_test::layer_conformance!(redis_layer, single);
sessionwarden_test::layer_conformance!(redis_cluster_layer, cluster);
sessionwarden_test::login_conformance!(redis_login, single);
sessionwarden_test::login_conformance!(redis_cluster_login, cluster);
