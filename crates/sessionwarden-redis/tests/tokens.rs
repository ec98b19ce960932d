//! `RedisTokenStore` on a single Redis and on Redis Cluster: the token-store suites every
//! backend runs (`sessionwarden_test::tokens`), 16 concurrent rotations of one token, the key
//! layout (every key has a TTL, none holds a token), and what `Debug` shows.
//!
//! Skips with a printed reason when a service is missing; fails under `CI=true`.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::sync::Arc;

use sessionwarden_jwt::{RevocationQuery, Revocations, RevokedBy};
use sessionwarden_redis::RedisTokenStore;
use sessionwarden_test::tokens::{NOW, Purge, concurrent_rotations, refresh_suite, revocation_suite};

#[derive(Clone, Copy, Debug)]
enum Topology {
    Single,
    Cluster,
}

/// A token store under a fresh prefix, or `None` (skip, reason printed).
async fn store(topology: Topology, name: &str) -> Option<RedisTokenStore> {
    let prefix = common::unique_prefix(name);
    let sessions = match topology {
        Topology::Single => common::single(&prefix).await?,
        Topology::Cluster => common::cluster(&prefix).await?,
    };
    Some(RedisTokenStore::from_store(&sessions).with_prefix(prefix))
}

/// The nodes holding keys: the single server, or every cluster master.
fn nodes(topology: Topology) -> Vec<String> {
    match topology {
        Topology::Single => vec![sessionwarden_test::env::redis_url()],
        Topology::Cluster => sessionwarden_test::env::redis_cluster_urls(),
    }
}

/// Every key under `prefix` with its TTL in seconds, on every node.
fn keys(topology: Topology, prefix: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for url in nodes(topology) {
        let mut conn = redis::Client::open(url.as_str()).unwrap().get_connection().unwrap();
        let found: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut conn).unwrap();
        for key in found {
            let ttl: i64 = redis::cmd("TTL").arg(&key).query(&mut conn).unwrap();
            out.push((key, ttl));
        }
    }
    out.sort();
    out
}

/// Runs one command wherever its key lives.
fn query<T: redis::FromRedisValue>(topology: Topology, cmd: &redis::Cmd) -> T {
    match topology {
        Topology::Single => {
            let mut conn =
                redis::Client::open(nodes(topology)[0].as_str()).unwrap().get_connection().unwrap();
            cmd.query(&mut conn).unwrap()
        }
        Topology::Cluster => {
            let client = redis::cluster::ClusterClient::new(nodes(topology)).unwrap();
            cmd.query(&mut client.get_connection().unwrap()).unwrap()
        }
    }
}

/// Every key and value under `prefix`, as bytes, for the no-token check.
fn dump(topology: Topology, prefix: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for url in nodes(topology) {
        let mut conn = redis::Client::open(url.as_str()).unwrap().get_connection().unwrap();
        let found: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut conn).unwrap();
        for key in found {
            let kind: String = redis::cmd("TYPE").arg(&key).query(&mut conn).unwrap();
            let values: Vec<Vec<u8>> = match kind.as_str() {
                "string" => vec![redis::cmd("GET").arg(&key).query(&mut conn).unwrap()],
                "hash" => redis::cmd("HGETALL").arg(&key).query(&mut conn).unwrap(),
                "zset" => redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).query(&mut conn).unwrap(),
                other => panic!("unexpected type {other} at {key}"),
            };
            out.push(key.into_bytes());
            out.extend(values);
        }
    }
    out
}

fn clean(topology: Topology, prefix: &str) {
    for url in nodes(topology) {
        let mut conn = redis::Client::open(url.as_str()).unwrap().get_connection().unwrap();
        let found: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query(&mut conn).unwrap();
        for key in found {
            let _: i64 = redis::cmd("DEL").arg(&key).query(&mut conn).unwrap();
        }
    }
}

async fn suites(topology: Topology) {
    let Some(store) = store(topology, "tokens-suites").await else { return };
    assert_eq!(store.is_cluster(), matches!(topology, Topology::Cluster));
    let store = Arc::new(store);
    refresh_suite(store.clone(), Purge::Native).await;
    revocation_suite(store.clone(), Purge::Native).await;

    // Another node of the fleet (its own connection) sees the same state at once.
    let other = self::store(topology, "unused").await.unwrap().with_prefix(store.prefix());
    let q = RevocationQuery { jti: "j-9", sub: "x", sid: None, iat: NOW, now: NOW + 1 };
    assert_eq!(other.check(&q).await.unwrap(), None);
    store.revoke_jti("j-9", NOW + 10).await.unwrap();
    assert_eq!(other.check(&q).await.unwrap(), Some(RevokedBy::Jti));

    // Nothing to purge by hand: every key expires by itself.
    let keys = keys(topology, store.prefix());
    assert!(keys.len() > 10, "{keys:?}");
    for (key, ttl) in &keys {
        assert!(*ttl > 0, "{key} has no TTL ({ttl})");
    }
    clean(topology, store.prefix());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_node_token_suites() {
    suites(Topology::Single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_token_suites() {
    suites(Topology::Cluster).await;
}

async fn racing_rotations(topology: Topology) {
    let Some(store) = store(topology, "tokens-race").await else { return };
    let store = Arc::new(store);
    let (pair, first) = concurrent_rotations(store.clone(), 16).await;
    let prefix = store.prefix().to_owned();
    // Exactly one successor was ever written: the family holds two tokens, and two pointers
    // exist (the losers wrote the winner's pointer again, never another).
    let fields: Vec<String> = query(topology, redis::cmd("HKEYS").arg(store.family_key(&pair.family)));
    let tokens: Vec<_> = fields.iter().filter(|f| f.starts_with("t:")).collect();
    assert_eq!(tokens.len(), 2, "{fields:?}");
    let pointers: Vec<_> =
        keys(topology, &prefix).into_iter().filter(|(k, _)| k.starts_with(&format!("{prefix}rt:"))).collect();
    assert_eq!(pointers.len(), 2, "{pointers:?}");
    assert_ne!(pair.refresh, first.refresh);
    clean(topology, &prefix);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_node_concurrent_rotations_agree() {
    racing_rotations(Topology::Single).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_concurrent_rotations_agree() {
    racing_rotations(Topology::Cluster).await;
}

/// Nothing stored is a refresh token in any common encoding, and `Debug` shows no token, user
/// or session handle.
#[tokio::test]
async fn redis_holds_no_token_and_debug_leaks_nothing() {
    let topology = Topology::Single;
    let Some(store) = store(topology, "tokens-dump").await else { return };
    let store = Arc::new(store);
    let m = sessionwarden_test::tokens::manager(store.clone());
    let user = sessionwarden_test::tokens::unique("secret-user");
    let request = sessionwarden_jwt::AccessTokenRequest::new(&user).with_sid("handle-xyz");
    let p0 = m.issue_at(&request, NOW).await.unwrap();
    let p1 = m.rotate_at(p0.refresh.as_str(), NOW + 1).await.unwrap();
    let stored = dump(topology, store.prefix());
    assert!(!stored.is_empty());
    for pair in [&p0, &p1] {
        let raw =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, pair.refresh.as_str())
                .unwrap();
        for needle in sessionwarden_test::env::encodings(&raw) {
            for bytes in &stored {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "a refresh token is stored in Redis"
                );
            }
        }
    }
    let debug = format!("{store:?}");
    assert!(debug.contains("RedisTokenStore") && debug.contains(store.prefix()), "{debug}");
    for secret in [p0.refresh.as_str(), p1.refresh.as_str(), user.as_str(), "handle-xyz"] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(store.as_ref().clone().try_with_prefix("bad{tag}:").is_err());
    clean(topology, store.prefix());
}
