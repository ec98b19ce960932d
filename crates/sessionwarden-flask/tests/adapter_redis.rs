//! `FlaskRedisStore` against a real Redis (127.0.0.1:6379, or `SESSIONWARDEN_TEST_REDIS_URL`):
//! the store contract where Flask-Session can keep it, the exact bytes Flask-Session writes,
//! and the records it must refuse (never unpickled).
#![cfg(feature = "adapter")]
#![allow(clippy::unwrap_used, missing_docs)]

use redis::AsyncCommands as _;
use serde_json::json;
use sessionwarden_flask::adapter::{FlaskRedisStore, FlaskSids};
use sessionwarden_flask::decode_redis_record;
use sessionwarden_tower::store::{SaveOutcome, SessionStore};
use sessionwarden_tower::{SessionId, StoreError, Timestamp};

fn url() -> String {
    std::env::var("SESSIONWARDEN_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// A store under a prefix of its own, and a raw connection to look behind it.
async fn store(test: &str) -> Option<(FlaskRedisStore, redis::aio::MultiplexedConnection)> {
    let Ok(store) = FlaskRedisStore::connect(&url()).await else {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(!in_ci, "Redis is required under CI=true");
        eprintln!("SKIPPED: Redis unavailable at {}", url());
        return None;
    };
    let prefix = format!("flask-adapter-test:{}:{test}:", std::process::id());
    let conn = redis::Client::open(url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    Some((store.with_prefix(prefix).with_lifetime(600), conn))
}

fn key() -> sessionwarden_tower::StoreKey {
    use sessionwarden_tower::codec::IdCodec as _;
    FlaskSids::plain().store_key(&SessionId::generate())
}

const NOW: Timestamp = Timestamp::from_unix(1_767_225_600);

/// The store for the core conformance suite, under a prefix of its own. Without Redis there
/// is nothing to run: under CI=true that fails, elsewhere the test binary ends here, saying why.
async fn conformance_store() -> FlaskRedisStore {
    match FlaskRedisStore::connect(&url()).await {
        Ok(store) => store
            .with_prefix(format!("flask-adapter-test:{}:conformance:", std::process::id()))
            .with_lifetime(600),
        Err(e) => {
            sessionwarden_test::env::service_missing("redis", &format!("{}: {e}", url()));
            // libtest captures the test's stderr and would never show it before the exit.
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "SKIPPED: Redis unavailable at {}", url());
            std::process::exit(0)
        }
    }
}

// FlaskRedisStore implements only the core trait, so it mounts only the core suite. Four
// cases assume record fields Flask-Session does not store, and are known divergences (they
// run here and must fail, so this list cannot go stale):
// - `create_then_load`, `save_is_versioned`, `concurrent_writers_lose_nothing`: Flask-Session
//   stores no version, so a record's version is a hash of its stored bytes, not the number
//   the writer gave it (saves still compare it, which is what keeps writers safe);
// - `create_then_load`, `expired_never_loads`: Flask-Session stores no deadline, the Redis TTL
//   is the only expiry, so deadlines are read back from the TTL at each load and a record
//   loads until Redis removes it, whatever `now` the caller passes.
// `stored_bytes_hold_no_session_id` holds for the keys the suite hands the store (hashes); in
// deployment the FlaskSids codec makes the key Flask-Session's own sid, as Flask requires.
sessionwarden_test::core_conformance!(flask_redis_core, conformance_store, known_divergences: [
    create_then_load,
    save_is_versioned,
    concurrent_writers_lose_nothing,
    expired_never_loads,
]);

#[tokio::test]
async fn reads_what_flask_session_wrote_and_writes_it_back_the_same() {
    let Some((store, mut conn)) = store("exact").await else { return };
    let k = key();
    // {"_permanent": True, "user": "admin"} exactly as Flask-Session 0.8 stores it.
    let flask_bytes: &[u8] = b"\x82\xaa_permanent\xc3\xa4user\xa5admin";
    let _: () = conn.set_ex(store.redis_key(&k), flask_bytes, 600).await.unwrap();
    let record = store.load(&k, NOW).await.unwrap().unwrap();
    assert!(record.persistent);
    assert_eq!(record.data, json!({"user": "admin"}).as_object().unwrap().clone());
    // Unchanged, the record goes back byte for byte, with Flask-Session's TTL.
    let mut same = record.clone();
    same.version += 1;
    assert_eq!(store.save(&k, &same, record.version).await.unwrap(), SaveOutcome::Saved);
    let stored: Vec<u8> = conn.get(store.redis_key(&k)).await.unwrap();
    assert_eq!(stored, flask_bytes);
    let ttl: i64 = conn.ttl(store.redis_key(&k)).await.unwrap();
    assert!((590..=600).contains(&ttl), "{ttl}");
}

#[tokio::test]
async fn a_flask_write_in_between_is_a_conflict_not_an_overwrite() {
    let Some((store, mut conn)) = store("cas").await else { return };
    let k = key();
    let _: () = conn.set_ex(store.redis_key(&k), b"\x81\xa4user\xa1a".as_slice(), 600).await.unwrap();
    let loaded = store.load(&k, NOW).await.unwrap().unwrap();
    // Flask rewrites the record meanwhile.
    let _: () = conn.set_ex(store.redis_key(&k), b"\x81\xa4user\xa1b".as_slice(), 600).await.unwrap();
    let mut mine = loaded.clone();
    mine.data.insert("note".into(), json!("x"));
    match store.save(&k, &mine, loaded.version).await.unwrap() {
        SaveOutcome::Conflict(newer) => assert_eq!(newer.data["user"], json!("b")),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let stored: Vec<u8> = conn.get(store.redis_key(&k)).await.unwrap();
    assert_eq!(decode_redis_record(&stored).unwrap()["user"].as_str(), Some("b"));
    // Deleted meanwhile: missing, never resurrected.
    let _: () = conn.del(store.redis_key(&k)).await.unwrap();
    assert_eq!(store.save(&k, &mine, loaded.version).await.unwrap(), SaveOutcome::Missing);
    assert!(store.load(&k, NOW).await.unwrap().is_none());
}

#[tokio::test]
async fn create_never_overwrites_and_cycle_moves_with_the_ttl() {
    let Some((store, mut conn)) = store("cycle").await else { return };
    let (a, b) = (key(), key());
    let mut record = sessionwarden_flask::adapter::record_from_map(Default::default(), NOW);
    record.data.insert("when".into(), json!({"$datetime": "2025-01-02T03:04:05Z"}));
    assert!(store.create(&a, &record).await.unwrap());
    assert!(!store.create(&a, &record).await.unwrap(), "create never overwrites");
    assert!(store.cycle(&a, &b).await.unwrap());
    assert!(store.load(&a, NOW).await.unwrap().is_none(), "the old sid loads nothing");
    let moved = store.load(&b, NOW).await.unwrap().unwrap();
    assert_eq!(moved.data["when"], json!({"$datetime": "2025-01-02T03:04:05Z"}));
    let ttl: i64 = conn.ttl(store.redis_key(&b)).await.unwrap();
    assert!(ttl > 0 && ttl <= 600, "{ttl}");
    assert!(!store.cycle(&a, &b).await.unwrap(), "nothing left to move");
    // The stored datetime is msgpack's timestamp extension, as Flask-Session writes it.
    let raw: Vec<u8> = conn.get(store.redis_key(&b)).await.unwrap();
    assert!(raw.windows(2).any(|w| w == [0xd6, 0xff]), "{raw:02x?}");
    store.delete(&b).await.unwrap();
    assert!(store.load(&b, NOW).await.unwrap().is_none());
    store.ping().await.unwrap();
}

#[tokio::test]
async fn pickles_and_garbage_are_corrupt_never_loaded() {
    let Some((store, mut conn)) = store("hostile").await else { return };
    let cases: [(&str, &[u8]); 5] = [
        // pickle.dumps({"user": "admin"}), protocol 4: Flask-Session would unpickle it.
        ("pickle", b"\x80\x04\x95\x13\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x04user\x94\x8c\x05admin\x94s."),
        ("truncated msgpack", b"\x82\xaa_permanent\xc3\xa4user"),
        ("not a map", b"\x93\x01\x02\x03"),
        ("json array", b"[1,2]"),
        ("unknown ext", b"\x81\xa1x\xd6\x05\x00\x00\x00\x00"),
    ];
    for (name, bytes) in cases {
        let k = key();
        let _: () = conn.set_ex(store.redis_key(&k), bytes, 600).await.unwrap();
        match store.load(&k, NOW).await {
            Err(StoreError::Corrupt { .. }) => {}
            other => panic!("{name}: expected Corrupt, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn markup_cannot_go_to_flask_session_as_in_flask() {
    let Some((store, _conn)) = store("markup").await else { return };
    let mut record = sessionwarden_flask::adapter::record_from_map(Default::default(), NOW);
    record.data.insert("m".into(), json!({"$markup": "<b>x</b>"}));
    assert!(matches!(store.create(&key(), &record).await, Err(StoreError::Corrupt { .. })));
}
