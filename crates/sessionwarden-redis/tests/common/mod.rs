//! Shared set-up: connect to the test Redis (single or cluster) or skip.
#![allow(dead_code, unreachable_pub)]

use sessionwarden_redis::RedisStore;

/// A prefix unique to this test process and `name`, so runs and tests never share keys.
pub fn unique_prefix(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("swtest:{}:{nanos}:{name}:", std::process::id())
}

/// The single-node store under `prefix`, or `None` after reporting the skip (panics under
/// CI=true).
pub async fn single(prefix: &str) -> Option<RedisStore> {
    let url = sessionwarden_test::env::redis_url();
    match RedisStore::connect(&url).await {
        Ok(store) => Some(store.with_prefix(prefix)),
        Err(e) => {
            let why = format!("{url}: {e}");
            sessionwarden_test::env::service_missing("redis", &why);
            remember_skip("redis", why);
            None
        }
    }
}

/// The cluster store under `prefix`, or `None` after reporting the skip.
pub async fn cluster(prefix: &str) -> Option<RedisStore> {
    let urls = sessionwarden_test::env::redis_cluster_urls();
    match RedisStore::connect_cluster(&urls).await {
        Ok(store) => Some(store.with_prefix(prefix)),
        Err(e) => {
            let why = format!("{}: {e} (start it with scripts/redis-cluster.sh start)", urls.join(","));
            sessionwarden_test::env::service_missing("redis cluster", &why);
            remember_skip("redis cluster", why);
            None
        }
    }
}

/// For the conformance macro, which needs a store: without one there is nothing to test,
/// so the whole test binary ends here (after `service_missing` printed why).
pub fn or_exit(store: Option<RedisStore>) -> RedisStore {
    match store {
        Some(store) => store,
        None => {
            // libtest captures `eprintln!` of a test and would never show it before the
            // exit: write the reason to the real stderr.
            use std::io::Write as _;
            let why = SKIP.get().map_or("service unavailable", String::as_str);
            let _ = writeln!(std::io::stderr(), "SKIPPED: {why}; set CI=true to make this a failure");
            std::process::exit(0)
        }
    }
}

static SKIP: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn remember_skip(service: &str, why: String) {
    let _ = SKIP.set(format!("{service} unavailable ({why})"));
}
