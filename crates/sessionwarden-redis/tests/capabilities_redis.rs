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
sessionwarden_test::session_policy_conformance!(policy_redis, one, nodes: two_nodes);
sessionwarden_test::keyring_store_conformance!(keyring_redis, one, nodes: two_nodes);

/// The capability keys, frozen: names, types, contents and TTLs.
#[tokio::test]
async fn capability_layout_is_pinned() {
    use redis::AsyncCommands as _;
    use sessionwarden_tower::Timestamp;
    use sessionwarden_tower::store::{AuditEntry, AuditLog, OnceKey, OneTimeKeys, Rate, RateLimitStore};

    let prefix = common::unique_prefix("caps-layout");
    let Some(store) = common::single(&prefix).await else { return };
    let client = redis::Client::open(sessionwarden_test::env::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let now = 1_800_000_000;

    let entry = AuditEntry::new(Timestamp::from_unix(now), "session_revoked").with_user("alice");
    store.append(&entry).await.unwrap();
    let log = format!("{prefix}{{audit}}:log");
    let members: Vec<(String, f64)> = conn.zrange_withscores(&log, 0, -1).await.unwrap();
    assert_eq!(members.len(), 1);
    let (member, score) = &members[0];
    assert_eq!(*score, now as f64);
    assert_eq!(&member[..17], "0000000000000001:");
    assert_eq!(serde_json::from_str::<AuditEntry>(&member[17..]).unwrap(), entry);
    let seq: String = conn.get(format!("{prefix}{{audit}}:seq")).await.unwrap();
    assert_eq!(seq, "1");
    for key in [log.clone(), format!("{prefix}{{audit}}:seq")] {
        let ttl: i64 = conn.ttl(&key).await.unwrap();
        let max = i64::try_from(sessionwarden_redis::audit::AUDIT_TTL.as_secs()).unwrap();
        assert!(max - 5 <= ttl && ttl <= max, "{key} ttl {ttl}");
    }

    let rate = Rate { interval: std::time::Duration::from_secs(10), burst: 3 };
    let now_ms = now * 1000;
    assert!(store.check("login:alice", rate, 1, now_ms).await.unwrap().allowed);
    let lim = format!("{prefix}lim:login:alice");
    let tat: String = conn.get(&lim).await.unwrap();
    assert_eq!(tat, (now_ms + 10_000).to_string());
    let pttl: i64 = conn.pttl(&lim).await.unwrap();
    assert!((60_000..=70_000).contains(&pttl), "TAT − now plus a minute: {pttl}");
    assert!(store.check("login:alice", rate, 0, now_ms).await.unwrap().allowed);
    let still: String = conn.get(&lim).await.unwrap();
    assert_eq!(still, tat, "a peek writes nothing");

    let key = OnceKey::derive("dpop-jti", b"j-1");
    assert!(store.put(&key, Timestamp::from_unix(now + 300), Timestamp::from_unix(now)).await.unwrap());
    let hex: String = key.as_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let once = format!("{prefix}once:{hex}");
    let stored: String = conn.get(&once).await.unwrap();
    assert_eq!(stored, (now + 300).to_string());
    let ttl: i64 = conn.ttl(&once).await.unwrap();
    assert!((355..=360).contains(&ttl), "expires_at − now plus a minute: {ttl}");
    assert!(store.take(&key, Timestamp::from_unix(now)).await.unwrap());
    let gone: bool = conn.exists(&once).await.unwrap();
    assert!(!gone, "take deletes the key");
}
