//! What only the Redis store promises: its key layout, corrupt-record reporting, no session
//! id in a dump, TTLs that follow the deadlines, and failing closed through an outage.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::AsyncCommands as _;
use redis::aio::MultiplexedConnection;
use sessionwarden_redis::RedisStore;
use sessionwarden_tower::{
    ExpiredDeletion, Expiry, Record, SaveOutcome, SessionId, SessionIndex, SessionStore, StoreError,
    StoreKey, Timestamp,
};

fn real_now() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()).unwrap()
}

fn record_with_deadline(now: Timestamp, deadline: Option<i64>, user: Option<&str>) -> Record {
    let mut r = Record::new(now, &Expiry::default().with_idle_timeout(None).with_absolute_timeout(None));
    r.version = 1;
    r.idle_deadline = deadline.map(Timestamp::from_unix);
    r.user = user.map(str::to_owned);
    r.data.insert("user".into(), "admin".into());
    r
}

async fn raw() -> MultiplexedConnection {
    let client = redis::Client::open(sessionwarden_test::env::redis_url()).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// Every key under `prefix` with its content, as text.
async fn dump(conn: &mut MultiplexedConnection, prefix: &str) -> HashMap<String, String> {
    let mut keys: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .unwrap();
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let mut out = HashMap::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(conn).await.unwrap();
        let content = match kind.as_str() {
            "hash" => {
                let h: Vec<(String, Vec<u8>)> = conn.hgetall(&key).await.unwrap();
                h.iter()
                    .map(|(f, v)| format!("{f}={}", String::from_utf8_lossy(v)))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            "set" => {
                let mut s: Vec<String> = conn.smembers(&key).await.unwrap();
                s.sort();
                s.join(" ")
            }
            "zset" => {
                let z: Vec<(String, f64)> = conn.zrange_withscores(&key, 0, -1).await.unwrap();
                z.iter().map(|(m, s)| format!("{m}:{s}")).collect::<Vec<_>>().join(" ")
            }
            "string" => {
                let v: Vec<u8> = conn.get(&key).await.unwrap();
                String::from_utf8_lossy(&v).into_owned()
            }
            other => format!("<{other}>"),
        };
        out.insert(key, content);
    }
    out
}

/// The wire layout, frozen: key names, field names and what they hold.
#[tokio::test]
async fn layout_is_pinned() {
    let prefix = common::unique_prefix("layout");
    let Some(store) = common::single(&prefix).await else { return };
    let mut conn = raw().await;
    let mut bytes = [0u8; 32];
    bytes[0] = 0xab;
    bytes[1] = 0xcd;
    let key = StoreKey::from_bytes(bytes);
    let hex = key.to_hex();
    let deadline = real_now() + 3600;
    let record = record_with_deadline(Timestamp::from_unix(real_now()), Some(deadline), Some("alice"));
    assert!(store.create(&key, &record).await.unwrap());

    let base = format!("{prefix}{{ab}}:");
    assert_eq!(store.record_key(&key), format!("{base}{hex}"));
    let mut want = [
        format!("{base}{hex}"),
        format!("{base}expiry"),
        format!("{base}handles"),
        format!("{base}owner"),
        format!("{base}user:alice"),
    ];
    want.sort();
    let d = dump(&mut conn, &prefix).await;
    let mut got: Vec<&String> = d.keys().collect();
    got.sort();
    assert_eq!(got, want.iter().collect::<Vec<_>>());

    let fields: HashMap<String, Vec<u8>> = conn.hgetall(format!("{base}{hex}")).await.unwrap();
    assert_eq!(fields.len(), 3, "fields v, d, e");
    assert_eq!(fields["v"], b"1");
    assert_eq!(fields["d"], record.to_bytes().unwrap());
    assert_eq!(fields["e"], deadline.to_string().into_bytes());
    assert_eq!(d[&format!("{base}expiry")], format!("{hex}:{deadline}"));
    assert_eq!(d[&format!("{base}handles")], format!("{}={hex}", &hex[..32]));
    assert_eq!(d[&format!("{base}owner")], format!("{hex}=alice"));
    assert_eq!(d[&format!("{base}user:alice")], hex);

    // A revoke-all leaves only its counters, which expire.
    assert_eq!(store.revoke_user("alice").await.unwrap(), 1);
    let d = dump(&mut conn, &prefix).await;
    assert_eq!(d.keys().collect::<Vec<_>>(), vec![&format!("{prefix}revoking:alice")]);
    assert_eq!(d[&format!("{prefix}revoking:alice")], "s=1 f=1");
    let ttl: i64 = conn.ttl(format!("{prefix}revoking:alice")).await.unwrap();
    assert!((1..=300).contains(&ttl), "revocation counters expire, ttl {ttl}");
}

#[tokio::test]
async fn corrupt_records_are_reported() {
    let prefix = common::unique_prefix("corrupt");
    let Some(store) = common::single(&prefix).await else { return };
    let mut conn = raw().await;
    let now = Timestamp::from_unix(real_now());
    let valid = record_with_deadline(now, Some(real_now() + 600), None).to_bytes().unwrap();
    type Fields = Vec<(&'static str, Vec<u8>)>;
    let cases: [(&str, Fields); 3] = [
        ("garbage bytes", vec![("v", b"1".to_vec()), ("d", b"\x00\xffnot json".to_vec())]),
        ("unknown format version", vec![("v", b"1".to_vec()), ("d", br#"{"v":2,"record":{}}"#.to_vec())]),
        ("version field disagrees", vec![("v", b"7".to_vec()), ("d", valid)]),
    ];
    for (name, fields) in cases {
        let key = SessionId::generate().store_key();
        let _: () = conn.hset_multiple(store.record_key(&key), &fields).await.unwrap();
        match store.load(&key, now).await {
            Err(StoreError::Corrupt { .. }) => {}
            other => panic!("{name}: expected Corrupt, got {other:?}"),
        }
    }
    // A key of another Redis type where a record should be.
    let key = SessionId::generate().store_key();
    let _: () = conn.set(store.record_key(&key), "just a string").await.unwrap();
    assert!(matches!(store.load(&key, now).await, Err(StoreError::Corrupt { .. })), "wrong redis type");
}

/// Nothing in Redis (keys or values) contains a session id in any common encoding.
#[tokio::test]
async fn redis_dump_holds_no_session_id() {
    let prefix = common::unique_prefix("dump");
    let Some(store) = common::single(&prefix).await else { return };
    let mut conn = raw().await;
    let now = Timestamp::from_unix(real_now());
    let mut ids = Vec::new();
    for i in 0..8 {
        let id = SessionId::generate();
        let user = (i % 2 == 0).then_some("bob");
        let r = record_with_deadline(now, Some(real_now() + 600), user);
        assert!(store.create(&id.store_key(), &r).await.unwrap());
        ids.push(id);
    }
    // Exercise every write path: save, cycle, revoke.
    let mut r = store.load(&ids[0].store_key(), now).await.unwrap().unwrap();
    r.version = 2;
    assert_eq!(store.save(&ids[0].store_key(), &r, 1).await.unwrap(), SaveOutcome::Saved);
    let cycled = SessionId::generate();
    assert!(store.cycle(&ids[1].store_key(), &cycled.store_key()).await.unwrap());
    ids.push(cycled);
    assert!(store.revoke(&ids[2].store_key().handle()).await.unwrap());

    let d = dump(&mut conn, &prefix).await;
    assert!(!d.is_empty());
    let text: String = d.iter().map(|(k, v)| format!("{k} {v}\n")).collect();
    for id in &ids {
        for form in sessionwarden_test::env::encodings(id.expose_bytes()) {
            assert!(!text.contains(&form), "redis holds a session id");
        }
    }
}

#[tokio::test]
async fn ttl_follows_the_deadlines() {
    let prefix = common::unique_prefix("ttl");
    let Some(store) = common::single(&prefix).await else { return };
    let conn = raw().await;
    let t = real_now();
    let now = Timestamp::from_unix(t);
    let ttl = |key: StoreKey| {
        let mut conn = conn.clone();
        let rk = store.record_key(&key);
        async move { conn.ttl::<_, i64>(rk).await.unwrap() }
    };

    // Deadline an hour ahead of the real clock: EXPIREAT the deadline.
    let k = SessionId::generate().store_key();
    let r = record_with_deadline(now, Some(t + 3600), None);
    store.create(&k, &r).await.unwrap();
    let got = ttl(k).await;
    assert!((3590..=3600).contains(&got), "ttl {got}");

    // A save that renews the deadline moves the TTL with it.
    let mut renewed = r.clone();
    renewed.version = 2;
    renewed.idle_deadline = Some(Timestamp::from_unix(t + 7200));
    assert_eq!(store.save(&k, &renewed, 1).await.unwrap(), SaveOutcome::Saved);
    let got = ttl(k).await;
    assert!((7190..=7200).contains(&got), "ttl {got}");

    // The earlier of the two deadlines counts.
    let k = SessionId::generate().store_key();
    let mut r = record_with_deadline(now, Some(t + 7200), None);
    r.absolute_deadline = Some(Timestamp::from_unix(t + 1800));
    store.create(&k, &r).await.unwrap();
    let got = ttl(k).await;
    assert!((1790..=1800).contains(&got), "ttl {got}");

    // Deadline already past on the real clock (a caller with another clock, or a test's
    // fixed `now`): the floor keeps the record a minute, and `load` at a `now` before the
    // deadline still reads it.
    let k = SessionId::generate().store_key();
    let past = Timestamp::from_unix(t - 1000);
    store.create(&k, &record_with_deadline(past, Some(t - 500), None)).await.unwrap();
    let got = ttl(k).await;
    assert!((50..=60).contains(&got), "floor ttl {got}");
    assert!(store.load(&k, past).await.unwrap().is_some());
    assert!(store.load(&k, now).await.unwrap().is_none(), "expired at the real now");

    // Close ahead: the floor too.
    let k = SessionId::generate().store_key();
    store.create(&k, &record_with_deadline(now, Some(t + 5), None)).await.unwrap();
    let got = ttl(k).await;
    assert!((50..=60).contains(&got), "floor ttl {got}");

    // No deadline: no TTL.
    let k = SessionId::generate().store_key();
    store.create(&k, &record_with_deadline(now, None, None)).await.unwrap();
    assert_eq!(ttl(k).await, -1);
}

#[tokio::test]
async fn prefixes_with_braces_are_refused() {
    let Some(store) = common::single(&common::unique_prefix("brace")).await else { return };
    assert!(store.clone().try_with_prefix("a{b}:").is_err());
    assert!(store.clone().try_with_prefix("a}:").is_err());
    assert_eq!(store.try_with_prefix("app:s:").unwrap().prefix(), "app:s:");
}

#[tokio::test]
async fn connect_any_picks_the_topology() {
    let urls = sessionwarden_test::env::redis_cluster_urls();
    let Some(_) = common::cluster(&common::unique_prefix("any")).await else { return };
    let store = RedisStore::connect_any(&urls.join(",")).await.unwrap();
    assert!(store.is_cluster());
    store.ping().await.unwrap();
    let hosts: Vec<&str> =
        urls.iter().map(|u| u.trim_start_matches("redis://").trim_end_matches('/')).collect();
    let store = RedisStore::connect_any(&format!("redis+cluster://{}", hosts.join(","))).await.unwrap();
    assert!(store.is_cluster());
    store.ping().await.unwrap();
    let Some(_) = common::single(&common::unique_prefix("any")).await else { return };
    let single = RedisStore::connect_any(&sessionwarden_test::env::redis_url()).await.unwrap();
    assert!(!single.is_cluster());
}

/// A dedicated `redis-server` child on a free port, killed on drop.
struct Server {
    child: Child,
    port: u16,
    password: &'static str,
}

impl Server {
    fn start(port: u16, password: &'static str) -> Option<Self> {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--daemonize", "no", "--requirepass", password])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        Some(Self { child, port, password })
    }

    fn url(&self) -> String {
        format!("redis://:{}@127.0.0.1:{}/", self.password, self.port)
    }

    /// Waits until the server accepts connections.
    async fn ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start on port {}", self.port);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Kill Redis under the store: every operation reports `Unavailable` (never "no session")
/// within a bounded time; restart it: the store recovers by itself within 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_closed_during_an_outage_and_recovers() {
    let port = free_port();
    let Some(server) = Server::start(port, "hunter2-not-in-debug") else {
        sessionwarden_test::env::service_missing("redis-server binary", "cannot spawn redis-server");
        return;
    };
    server.ready().await;
    let store = RedisStore::connect(&server.url()).await.unwrap();
    let dbg = format!("{store:?}");
    assert!(!dbg.contains("hunter2"), "Debug shows the password: {dbg}");
    assert!(dbg.contains(&format!("127.0.0.1:{port}")), "{dbg}");

    let now = Timestamp::from_unix(real_now());
    let key = SessionId::generate().store_key();
    let r = record_with_deadline(now, Some(real_now() + 600), Some("carol"));
    assert!(store.create(&key, &r).await.unwrap());
    assert!(store.load(&key, now).await.unwrap().is_some());

    server.kill();
    for _ in 0..3 {
        let started = Instant::now();
        match store.load(&key, now).await {
            Err(StoreError::Unavailable { operation: "load", .. }) => {}
            other => panic!("load during an outage must fail closed, got {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    }
    let mut next = r.clone();
    next.version = 2;
    assert!(matches!(store.save(&key, &next, 1).await, Err(StoreError::Unavailable { .. })));
    assert!(matches!(
        store.create(&SessionId::generate().store_key(), &r).await,
        Err(StoreError::Unavailable { .. })
    ));
    assert!(matches!(
        store.cycle(&key, &SessionId::generate().store_key()).await,
        Err(StoreError::Unavailable { .. })
    ));
    assert!(matches!(store.list_user("carol", now).await, Err(StoreError::Unavailable { .. })));
    assert!(matches!(store.revoke_user("carol").await, Err(StoreError::Unavailable { .. })));
    assert!(matches!(store.delete_expired(now, 10).await, Err(StoreError::Unavailable { .. })));
    let err = store.ping().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }));
    assert!(!format!("{err} {err:?}").contains("hunter2"), "errors must not carry the password");

    // Same port, fresh (empty) data: what matters is that the store reconnects by itself.
    let server = Server::start(port, "hunter2-not-in-debug").unwrap();
    server.ready().await;
    let back = Instant::now();
    loop {
        match store.ping().await {
            Ok(()) => break,
            Err(e) => assert!(back.elapsed() < Duration::from_secs(2), "not recovered after 2 s: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let key = SessionId::generate().store_key();
    assert!(store.create(&key, &r).await.unwrap());
    assert!(store.load(&key, now).await.unwrap().is_some());
    assert!(back.elapsed() < Duration::from_secs(2), "recovery took {:?}", back.elapsed());
    drop(server);
}

/// A `cycle` of a user's session while a revoke-all of that user is running (here: one
/// that started and never finished) must not carry the session past it.
#[tokio::test]
async fn cycle_during_a_revoke_all_counts_as_revoked() {
    let prefix = common::unique_prefix("cyclerevoke");
    let Some(store) = common::single(&prefix).await else { return };
    let mut conn = raw().await;
    let now = Timestamp::from_unix(real_now());
    let (from, to) = (SessionId::generate().store_key(), SessionId::generate().store_key());
    store.create(&from, &record_with_deadline(now, Some(real_now() + 600), Some("dave"))).await.unwrap();
    let _: () = conn.hset(format!("{prefix}revoking:dave"), "s", 1).await.unwrap();
    assert!(!store.cycle(&from, &to).await.unwrap());
    assert!(store.load(&from, now).await.unwrap().is_none());
    assert!(store.load(&to, now).await.unwrap().is_none());
    assert!(store.list_user("dave", now).await.unwrap().is_empty());

    // Once revokes have finished, cycles go through again; other users never noticed.
    let _: () = conn.hset(format!("{prefix}revoking:dave"), "f", 1).await.unwrap();
    let (from, to) = (SessionId::generate().store_key(), SessionId::generate().store_key());
    store.create(&from, &record_with_deadline(now, Some(real_now() + 600), Some("dave"))).await.unwrap();
    assert!(store.cycle(&from, &to).await.unwrap());
    assert_eq!(store.list_user("dave", now).await.unwrap()[0].handle, to.handle());
}

/// On a cluster, every key a record's scripts touch hashes to one slot (the bucket's), and
/// different buckets spread over different slots.
#[tokio::test]
async fn a_bucket_is_one_cluster_slot() {
    let prefix = common::unique_prefix("slots");
    let Some(store) = common::cluster(&prefix).await else { return };
    let client = redis::cluster::ClusterClient::new(sessionwarden_test::env::redis_cluster_urls()).unwrap();
    let mut conn = client.get_async_connection().await.unwrap();
    let mut slots_seen = std::collections::HashSet::new();
    for first in [0x00u8, 0x01, 0x7f, 0xab, 0xff] {
        let mut bytes = [0x5a; 32];
        bytes[0] = first;
        let key = StoreKey::from_bytes(bytes);
        let base = format!("{prefix}{{{first:02x}}}:");
        let names = [
            store.record_key(&key),
            format!("{base}expiry"),
            format!("{base}handles"),
            format!("{base}owner"),
            format!("{base}user:some{{odd}}user"),
        ];
        let mut slots = Vec::new();
        for name in &names {
            let slot: i64 =
                redis::cmd("CLUSTER").arg("KEYSLOT").arg(name).query_async(&mut conn).await.unwrap();
            slots.push(slot);
        }
        assert!(slots.iter().all(|s| *s == slots[0]), "bucket {first:02x} spans slots {slots:?}");
        slots_seen.insert(slots[0]);
    }
    assert_eq!(slots_seen.len(), 5, "buckets share slots: {slots_seen:?}");
    // And a user name with braces still works end to end.
    let k = SessionId::generate().store_key();
    let now = Timestamp::from_unix(real_now());
    store
        .create(&k, &record_with_deadline(now, Some(real_now() + 600), Some("some{odd}user")))
        .await
        .unwrap();
    assert_eq!(store.list_user("some{odd}user", now).await.unwrap().len(), 1);
    assert_eq!(store.revoke_user("some{odd}user").await.unwrap(), 1);
}
