//! Scheduled key rotation across a fleet (`--rotate-every` with `--keyring-store`): three
//! servers sharing PostgreSQL, and three sharing Redis, on one injected clock. The rotation
//! happens exactly once per interval whichever servers run the job; cookies, CSRF tokens and
//! JWTs issued under the old key keep working until it is retired, which waits for the longest
//! of their lifetimes; a retired key's secret is gone from the raw row or hash; a dead
//! holder's lease expires; a wrong KEK refuses to start with one line naming it; no event or
//! error holds key material.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sessionwarden::keyring::{KeyId, KeyState, SharedKeyring};
use sessionwarden::maintenance::Maintenance;
use sessionwarden::{Clock as _, Events, ManualClock, Timestamp};
use sessionwarden_server::App;
use sessionwarden_server::auth::DemoUser;
use sessionwarden_server::cli::{ServeArgs, StoreKind};
use sessionwarden_server::keys::{self, KekText, KeySource};
use sessionwarden_test::TestClient;
use sessionwarden_test::env::{postgres_url, redis_url, service_missing};
use sessionwarden_test::tokens::unique;

const DAY: u64 = 86_400;
const T0: Timestamp = Timestamp::from_unix(1_900_000_000);
/// The fleet's key-encryption key (base64 of 32 random bytes).
const KEK: &str = "mV3xq0Zb6yJc1rT8sKw2Lp9uHd4eNf7gAo5iQzXvC0E=";
/// Another one: a server started with it must refuse.
const WRONG_KEK: &str = "Jt8pR2wQ5nZ0yL3vB6xC9mK1dF4gH7sA0eU2iO5rT8k=";
/// Key 1's secret, seeded from a keyring file, so the test can look for it.
const SEED_SECRET: [u8; 32] = [
    0x91, 0x2c, 0xe7, 0x40, 0x5d, 0xb3, 0x18, 0xf6, 0x6a, 0x0e, 0xc9, 0x77, 0x24, 0xd1, 0x8b, 0x3f, 0x55,
    0xa0, 0x1e, 0xfc, 0x63, 0x97, 0x0b, 0xd8, 0x42, 0xbe, 0x19, 0x7d, 0xe5, 0x36, 0x80, 0xca,
];

/// Sessions live 40 days (longer than the 30-day refresh families), so the session decides
/// when key 1 may be retired: 40 days (and the 30 s JWT leeway) after it stopped signing.
const ABSOLUTE: u64 = 40 * DAY;

fn at(offset: u64) -> Timestamp {
    Timestamp::from_unix(T0.unix() + i64::try_from(offset).unwrap())
}

/// Where the fleet's keyring lives, and how the test reads it raw.
#[derive(Clone)]
enum Backend {
    Postgres,
    Redis { prefix: String },
}

impl Backend {
    /// The raw stored document of keyring `name`: the SQL row's `document` column, or the
    /// Redis hash's `document` field, read with the database's own client.
    async fn raw(&self, name: &str) -> Value {
        let bytes: Vec<u8> = match self {
            Self::Postgres => {
                use sqlx::Connection as _;
                let mut conn = sqlx::PgConnection::connect(&postgres_url()).await.unwrap();
                sqlx::query_scalar("SELECT document FROM sessionwarden_keyrings WHERE name = $1")
                    .bind(name)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
            Self::Redis { prefix } => {
                let client = redis::Client::open(redis_url()).unwrap();
                let mut conn = client.get_multiplexed_async_connection().await.unwrap();
                redis::cmd("HGET")
                    .arg(format!("{prefix}keyring:{name}"))
                    .arg("document")
                    .query_async(&mut conn)
                    .await
                    .unwrap()
            }
        };
        serde_json::from_slice(&bytes).unwrap()
    }
}

async fn backend_up(backend: &Backend) -> bool {
    match backend {
        Backend::Postgres => match sessionwarden_sql::PostgresStore::connect(&postgres_url()).await {
            Ok(_) => true,
            Err(e) => {
                service_missing("PostgreSQL", &e.to_string());
                false
            }
        },
        Backend::Redis { .. } => match sessionwarden_redis::RedisStore::connect(&redis_url()).await {
            Ok(_) => true,
            Err(e) => {
                service_missing("Redis", &e.to_string());
                false
            }
        },
    }
}

fn args(backend: &Backend, name: &str, kek: &str, dir: &Path) -> ServeArgs {
    let mut args = ServeArgs {
        insecure_cookies: true,
        idle_timeout: 0,
        absolute_timeout: ABSOLUTE,
        data_dir: dir.to_owned(),
        demo_user: vec![DemoUser::parse("alice:wonderland").unwrap()],
        rotate_every: Some(Duration::from_secs(30 * DAY)),
        keyring_store: true,
        keyring_name: name.to_owned(),
        kek: KekText::new(kek),
        ..ServeArgs::default()
    };
    match backend {
        Backend::Postgres => {
            args.store = StoreKind::Postgres;
            args.database_url = Some(postgres_url());
        }
        Backend::Redis { prefix } => {
            args.store = StoreKind::Redis;
            args.redis_url = redis_url();
            args.redis_prefix.clone_from(prefix);
            args.redis_token_prefix = format!("{prefix}jwt:");
        }
    }
    args
}

struct Node {
    app: App,
    shared: Arc<SharedKeyring>,
    maintenance: Maintenance,
    events: Events,
}

/// One server as `serve` builds it: the shared keyring (seeded from `keyring_file` on first
/// use), the app on the injected clock, rotation every 30 days.
async fn node(args: &ServeArgs, keyring_file: &Path, clock: &ManualClock) -> Node {
    let (keyring, source) =
        keys::open(&args.key_settings(), &args.store_settings(), keyring_file, false, clock.now())
            .await
            .unwrap();
    let KeySource::Shared(shared) = &source else { panic!("--keyring-store opens the shared keyring") };
    let shared = shared.clone();
    let events = Events::default();
    let app = App::new(args, keyring, events.clone(), Arc::new(clock.clone()))
        .await
        .unwrap()
        .with_key_rotation(source, args.rotate_every.unwrap())
        .unwrap();
    let maintenance = app.maintenance();
    Node { app, shared, maintenance, events }
}

/// How many keys the "key rotation" job changed on this node at the clock's now.
async fn rotate(node: &mut Node) -> u64 {
    let reports = node.maintenance.run_due().await;
    let job =
        reports.iter().find(|r| r.name() == "key rotation").expect("the rotation job is due every minute");
    job.removed().unwrap_or_else(|| panic!("rotation failed: {:?}", job.error()))
}

/// Runs the rotation job on every node at once; the total of keys they changed.
async fn rotate_all(nodes: &mut [&mut Node]) -> u64 {
    let mut total = 0;
    match nodes {
        [a, b, c] => {
            let (x, y, z) = tokio::join!(rotate(a), rotate(b), rotate(c));
            total += x + y + z;
        }
        [a, b] => {
            let (x, y) = tokio::join!(rotate(a), rotate(b));
            total += x + y;
        }
        _ => unreachable!("two or three nodes"),
    }
    for n in nodes.iter() {
        n.shared.sync().await.unwrap();
    }
    total
}

/// How many keyring changes `node` recorded (it records one for each change it made).
fn reloads(node: &Node) -> u64 {
    node.events.counts().get("keyring_reloaded").copied().unwrap_or(0)
}

fn states(node: &Node) -> Vec<(u32, KeyState)> {
    let set = node.app.state.keyring.current();
    let mut out: Vec<(u32, KeyState)> = set.verifying().map(|k| (k.id().get(), k.state())).collect();
    out.extend(set.retired().iter().map(|k| (k.get(), KeyState::Retired)));
    out.sort_by_key(|(k, _)| *k);
    out
}

fn cookie_kid(jar: &std::collections::BTreeMap<String, String>) -> u32 {
    let value = jar.values().next().expect("a session cookie");
    value.split('.').nth(1).unwrap().parse().unwrap()
}

/// A browser (its cookie jar) on `node`'s router; the jar is the caller's copy.
fn on(node: &Node, jar: &std::collections::BTreeMap<String, String>) -> TestClient {
    let mut c = TestClient::new(node.app.router());
    c.jar = jar.clone();
    c
}

async fn me(c: &mut TestClient) -> Value {
    let r = c.get("/me").await;
    match r.status.as_u16() {
        200 => r.json()["user"].clone(),
        401 => Value::Null,
        s => panic!("/me answered {s}: {}", r.body),
    }
}

async fn bearer_me(node: &Node, token: &str) -> u16 {
    let req = Request::get("/me").header("authorization", format!("Bearer {token}"));
    TestClient::new(node.app.router()).send(req, Body::empty()).await.status.as_u16()
}

/// Writes a keyring file holding key 1 with [`SEED_SECRET`], mode 0600.
fn seed_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("keyring.json");
    let text = json!({"format": "sessionwarden-keyring/1", "keys": [
        {"kid": 1, "state": "primary", "created": T0.unix(), "secret": URL_SAFE_NO_PAD.encode(SEED_SECRET)}
    ]});
    std::fs::write(&path, text.to_string()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    path
}

/// The wrapped secret of key `kid` in a raw document.
fn wrapped(doc: &Value, kid: u32) -> Value {
    doc["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).unwrap()["secret"].clone()
}

async fn fleet_rotates_once_and_logs_nobody_out(backend: Backend) {
    if !backend_up(&backend).await {
        return;
    }
    let dir = support::TempDir::new();
    let name = unique("fleet").replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-");
    let args = args(&backend, &name, KEK, dir.path());
    let seed = seed_file(dir.path());
    let clock = ManualClock::new(T0);
    let (mut a, mut b, mut c) = (
        node(&args, &seed, &clock).await,
        node(&args, &seed, &clock).await,
        node(&args, &seed, &clock).await,
    );

    // A wrong KEK: refused with one line naming where it came from.
    let wrong = ServeArgs { kek: KekText::new(WRONG_KEK), ..args.clone() };
    let err = keys::open(&wrong.key_settings(), &wrong.store_settings(), &seed, false, clock.now())
        .await
        .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.starts_with("SESSIONWARDEN_KEK: wrong key-encryption key"), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");

    // The seeded key is in use everywhere, and the store holds it wrapped only.
    for n in [&a, &b, &c] {
        assert_eq!(states(n), [(1, KeyState::Primary)]);
    }
    let doc = backend.raw(&name).await;
    let raw = doc.to_string();
    for text in sessionwarden_test::env::encodings(&SEED_SECRET) {
        assert!(!raw.contains(&text), "the raw document holds the secret in the clear");
    }
    assert_eq!(rotate_all(&mut [&mut a, &mut b, &mut c]).await, 0, "key 1 is new");

    // T1, ten minutes before the rotation: alice logs in on A; a cookie, a CSRF token and
    // JWTs are issued under key 1.
    clock.set(at(30 * DAY - 600));
    let mut browser = TestClient::new(a.app.router());
    let csrf = browser.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
    let req =
        Request::post("/login").header("content-type", "application/json").header("x-csrf-token", &csrf);
    let r = browser
        .send(req, Body::from(json!({"username": "alice", "password": "wonderland"}).to_string()))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let old_csrf = browser.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
    let tokens = browser.get("/token").await.json();
    let (old_access, old_refresh) =
        (tokens["token"].as_str().unwrap().to_owned(), tokens["refresh_token"].as_str().unwrap().to_owned());
    let old_jar = browser.jar.clone();
    assert_eq!(cookie_kid(&old_jar), 1, "sealed under key 1");

    // T2 = 30 days: all three run the job at once; exactly one rotates, every node follows.
    clock.set(at(30 * DAY));
    assert_eq!(rotate_all(&mut [&mut a, &mut b, &mut c]).await, 1, "exactly one rotation");
    for n in [&a, &b, &c] {
        assert_eq!(states(n), [(1, KeyState::Verify), (2, KeyState::Primary)]);
    }
    clock.set(at(30 * DAY + 60));
    assert_eq!(rotate_all(&mut [&mut a, &mut b, &mut c]).await, 0, "a minute later: nothing more");
    let key1_wrapped = wrapped(&backend.raw(&name).await, 1);
    assert!(key1_wrapped.is_string(), "key 1 is still kept, wrapped");

    // Old cookie, CSRF token and tokens on the other servers.
    assert_eq!(me(&mut on(&b, &old_jar)).await, "alice", "key 1's cookie on B");
    let mut on_c = on(&c, &old_jar);
    let req =
        Request::post("/notes").header("content-type", "application/json").header("x-csrf-token", &old_csrf);
    let r = on_c.send(req, Body::from(json!({"note": "after rotation"}).to_string())).await;
    assert_eq!(r.status, 200, "key 1's CSRF token on C: {}", r.body);
    assert_eq!(bearer_me(&c, &old_access).await, 200, "key 1's access token on C");
    let r = TestClient::new(b.app.router())
        .post_json("/token/refresh", &json!({"refresh_token": old_refresh}))
        .await;
    assert_eq!(r.status, 200, "key 1's refresh token on B: {}", r.body);

    // 60 days: a second rotation; key 1 stopped signing 30 days ago, under the 40-day session
    // lifetime, so it stays.
    clock.set(at(60 * DAY));
    let before: Vec<u64> = [&a, &b, &c].iter().map(|n| reloads(n)).collect();
    assert_eq!(rotate_all(&mut [&mut a, &mut b, &mut c]).await, 1);
    for n in [&a, &b, &c] {
        assert_eq!(states(n), [(1, KeyState::Verify), (2, KeyState::Verify), (3, KeyState::Primary)]);
    }
    assert_eq!(me(&mut on(&c, &old_jar)).await, "alice", "key 1's cookie, 60 days on");

    // The server holding the lease dies (it renewed the lease at 60 days, for five minutes).
    let holder = [&a, &b, &c]
        .iter()
        .zip(before)
        .position(|(n, before)| reloads(n) > before)
        .expect("the rotating server recorded the change");
    let mut nodes: Vec<Node> = vec![a, b, c];
    drop(nodes.remove(holder));
    let [mut x, mut y] = <[Node; 2]>::try_from(nodes).ok().unwrap();

    // A minute before the session's absolute expiry (T1 + 40 days) key 1 still opens the old
    // cookie, and is not due for retirement (it stopped signing 40 days minus 660 s ago).
    clock.set(at(70 * DAY - 660));
    assert_eq!(me(&mut on(&x, &old_jar)).await, "alice", "until its session expires");
    assert_eq!(rotate_all(&mut [&mut x, &mut y]).await, 0, "not yet due");

    // 40 days and 30 s after key 1 stopped signing: a surviving server takes the lease and
    // retires it, once.
    clock.set(at(70 * DAY + 90));
    assert_eq!(rotate_all(&mut [&mut x, &mut y]).await, 1, "the retirement, by one survivor");
    for n in [&x, &y] {
        assert_eq!(states(n), [(1, KeyState::Retired), (2, KeyState::Verify), (3, KeyState::Primary)]);
    }
    let doc = backend.raw(&name).await;
    assert_eq!(wrapped(&doc, 1), Value::Null, "the retired key's secret is gone from the store");
    let raw = doc.to_string();
    assert!(!raw.contains(key1_wrapped.as_str().unwrap()), "not even its old wrapping");
    assert_eq!(
        me(&mut on(&x, &old_jar)).await,
        Value::Null,
        "the old session has expired and its key is retired"
    );

    // Nothing any server recorded holds key material.
    for n in [&x, &y] {
        let events =
            format!("{:?} {}", n.events.recent(), serde_json::to_string(&n.events.recent()).unwrap());
        for text in sessionwarden_test::env::encodings(&SEED_SECRET).iter().chain([&KEK.to_owned()]) {
            assert!(!events.contains(text.as_str()), "an event holds key material: {events}");
        }
        let dbg = format!("{:?}", n.shared);
        assert!(!dbg.contains(KEK) && !dbg.contains(&URL_SAFE_NO_PAD.encode(SEED_SECRET)), "{dbg}");
    }
    assert_eq!(x.shared.keyring().current().primary().id(), KeyId::parse("3").unwrap());
}

#[tokio::test]
async fn three_servers_on_postgres_rotate_once_and_log_nobody_out() {
    fleet_rotates_once_and_logs_nobody_out(Backend::Postgres).await;
}

#[tokio::test]
async fn three_servers_on_redis_rotate_once_and_log_nobody_out() {
    let prefix = format!("{}:", unique("sw-keyrot"));
    fleet_rotates_once_and_logs_nobody_out(Backend::Redis { prefix }).await;
}

/// The watcher `serve` runs: another server's rotation reaches this one without a request or
/// a restart (the bound here is generous; the poll itself is every half second).
#[tokio::test]
async fn the_watcher_follows_another_servers_rotation() {
    let backend = Backend::Postgres;
    if !backend_up(&backend).await {
        return;
    }
    let dir = support::TempDir::new();
    let name = unique("watch").replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-");
    let args = args(&backend, &name, KEK, dir.path());
    let path = dir.path().join("absent.json");
    let clock = ManualClock::new(T0);
    let a = node(&args, &path, &clock).await;
    let b = node(&args, &path, &clock).await;
    let _watch = keys::spawn_shared_watcher(b.shared.clone(), keys::SHARED_KEYRING_POLL, b.events.clone());
    let new = a.shared.rotate(clock.now()).await.unwrap();
    let seen = support::eventually(Duration::from_secs(10), || {
        let keyring = b.app.state.keyring.clone();
        async move { keyring.current().primary().id() == new }
    })
    .await;
    assert!(seen, "b never saw the rotation");
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// The binary, on the embedded SQLite store: the `keys` commands act on the shared keyring, and
/// a server (or command) given the wrong KEK exits at once with one line naming `--kek-file`,
/// holding neither KEK nor any key.
#[test]
fn the_binary_refuses_a_wrong_kek_in_one_line_without_key_material() {
    let dir = support::TempDir::new();
    let (good, wrong) = (dir.path().join("kek"), dir.path().join("kek.wrong"));
    write_private(&good, KEK);
    write_private(&wrong, WRONG_KEK);
    seed_file(dir.path());
    let data = dir.path().to_str().unwrap();
    let keys = |kek: &Path, cmd: &[&str]| {
        let kek = kek.to_str().unwrap();
        let mut args =
            vec!["keys", "--data-dir", data, "--store", "sqlite", "--keyring-store", "--kek-file", kek];
        args.extend_from_slice(cmd);
        support::cli(&args)
    };
    let (ok, out, err) = keys(&good, &["rotate"]);
    assert!(ok, "{err}");
    assert_eq!(
        out.trim(),
        "new primary key 2 in shared keyring \"default\"; the previous primary now only verifies"
    );
    let (ok, out, err) = keys(&good, &["list", "--json"]);
    assert!(ok, "{err}");
    let states: Vec<(u64, String)> = serde_json::from_str::<Vec<Value>>(&out)
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_u64().unwrap(), k["state"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(
        states,
        [(1, "verify".to_owned()), (2, "primary".to_owned())],
        "seeded from the file, then rotated"
    );

    let wrong_path = wrong.display().to_string();
    let (ok, _, list_err) = keys(&wrong, &["list"]);
    assert!(!ok);
    let (ok, serve_out, serve_err) = support::cli(&[
        "serve",
        "--data-dir",
        data,
        "--store",
        "sqlite",
        "--keyring-store",
        "--kek-file",
        &wrong_path,
        "--listen",
        "127.0.0.1:0",
        "--rotate-every",
        "30d",
    ]);
    assert!(!ok, "the server must not start: {serve_out}");
    for err in [&list_err, &serve_err] {
        let line = err.trim();
        assert_eq!(line.lines().count(), 1, "one line: {err}");
        assert!(
            line.starts_with(&format!(
                "error: --kek-file {wrong_path}: wrong key-encryption key for shared keyring"
            )),
            "{line}"
        );
        for secret in sessionwarden_test::env::encodings(&SEED_SECRET)
            .iter()
            .chain([&KEK.to_owned(), &WRONG_KEK.to_owned()])
        {
            assert!(!line.contains(secret.as_str()), "key material in: {line}");
        }
    }
    assert!(!serve_out.contains("listening"), "{serve_out}");
}

/// The admin API's key endpoints act on the shared keyring: a rotation there is stored for
/// the fleet (another server syncs it), and a retirement erases the secret.
#[tokio::test]
async fn admin_api_rotates_and_retires_the_shared_keyring() {
    use sessionwarden_server::admin::{AdminState, AdminToken, admin_router};
    const TOKEN: &str = "keyrot-admin-token-0123456789-abcdefghijklmnopqrstuvwxyz";
    let backend = Backend::Postgres;
    if !backend_up(&backend).await {
        return;
    }
    let dir = support::TempDir::new();
    let name = unique("admin").replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-");
    let args = args(&backend, &name, KEK, dir.path());
    let path = dir.path().join("absent.json");
    let clock = ManualClock::new(T0);
    let (a, b) = (node(&args, &path, &clock).await, node(&args, &path, &clock).await);
    let admin = admin_router(
        AdminState::new(&a.app, KeySource::Shared(a.shared.clone())),
        Some(AdminToken::new(TOKEN).unwrap()),
    );
    let call = |method: &str, uri: &str| {
        let req =
            Request::builder().method(method).uri(uri).header("authorization", format!("Bearer {TOKEN}"));
        let admin = admin.clone();
        async move { TestClient::new(admin).send(req, Body::empty()).await }
    };
    let r = call("POST", "/admin/api/keys/rotate").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["keys"][1]["state"], "primary");
    assert_eq!(b.shared.sync().await.unwrap(), Some(2), "stored for the fleet");
    assert_eq!(b.app.state.keyring.current().primary().id(), KeyId::parse("2").unwrap());
    assert_eq!(call("POST", "/admin/api/keys/2/retire").await.status, 409, "the primary");
    let r = call("POST", "/admin/api/keys/1/retire").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(wrapped(&backend.raw(&name).await, 1), Value::Null, "its secret is gone from the row");
    let listed = call("GET", "/admin/api/keys").await.json();
    assert_eq!(listed["keys"][0]["state"], "retired");
    assert!(!listed.to_string().contains("secret"), "{listed}");
}
