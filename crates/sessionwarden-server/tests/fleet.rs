//! Two servers sharing one Redis (single node and Cluster), each with the local session cache
//! on: what an operator ends on one server stops working on the other within the cache's
//! promised second (`CacheConfig`'s maximum staleness), although the other had just served
//! the session from its cache. OWASP ASVS 7.4.5 (an administrator ends one session, or all of
//! a user's) and 7.4.2 (disabling a user), across a fleet.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use sessionwarden::keyring::{KeySet, Keyring};
use sessionwarden::{Events, SystemClock};
use sessionwarden_server::App;
use sessionwarden_server::admin::{AdminState, AdminToken, admin_router};
use sessionwarden_server::auth::DemoUser;
use sessionwarden_server::cli::{ServeArgs, StoreKind};
use sessionwarden_server::keys::KeySource;
use sessionwarden_test::TestClient;

const TOKEN: &str = "fleet-admin-token-0123456789-abcdefghijklmnopqrstuvwxyz";

/// The cache's promise: an invalidation published by one server is applied by the others
/// within this (`CacheConfig::with_max_staleness`, 1 s by default).
const PROMISED: Duration = Duration::from_secs(1);

fn tag() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}-{nanos}", std::process::id())
}

/// Two servers (A with its admin router, B) over the same Redis prefix and keyring, both
/// with a local cache.
struct Fleet {
    a: App,
    b: App,
    admin: Router,
    users: (String, String),
    _dir: support::TempDir,
}

async fn fleet(redis_url: &str) -> Fleet {
    let dir = support::TempDir::new();
    let t = tag();
    let users = (format!("alice-{t}"), format!("bob-{t}"));
    let prefix = format!("sw-fleet-{t}:");
    let args = ServeArgs {
        store: StoreKind::Redis,
        redis_url: redis_url.to_owned(),
        redis_prefix: prefix.clone(),
        redis_token_prefix: format!("{prefix}jwt:"),
        local_cache: 1000,
        insecure_cookies: true,
        data_dir: dir.path().to_owned(),
        demo_user: vec![
            DemoUser::parse(&format!("{}:wonderland", users.0)).unwrap(),
            DemoUser::parse(&format!("{}:builder", users.1)).unwrap(),
        ],
        ..ServeArgs::default()
    };
    let keyring = Keyring::new(KeySet::generate(sessionwarden::Clock::now(&SystemClock)).unwrap());
    let clock = std::sync::Arc::new(SystemClock);
    let a = App::new(&args, keyring.clone(), Events::default(), clock.clone()).await.unwrap();
    let b = App::new(&args, keyring, Events::default(), clock).await.unwrap();
    let admin = admin_router(
        AdminState::new(&a, KeySource::File(dir.path().join("keyring.json"))),
        Some(AdminToken::new(TOKEN).unwrap()),
    );
    Fleet { a, b, admin, users, _dir: dir }
}

async fn login(app: &App, user: &str, password: &str) -> TestClient {
    let mut c = TestClient::new(app.router());
    let t = c.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
    let req = Request::post("/login").header("content-type", "application/json").header("x-csrf-token", t);
    let r = c.send(req, Body::from(json!({"username": user, "password": password}).to_string())).await;
    assert_eq!(r.status, 200, "{}", r.body);
    c
}

/// The same browser (its cookie jar) talking to another server.
fn on(app: &App, browser: &TestClient) -> TestClient {
    let mut c = TestClient::new(app.router());
    c.jar = browser.jar.clone();
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

/// How long until `c`'s session has no user on its server; panics after ten times the
/// promise (the assertion on the promise itself is the caller's).
async fn ended_after(c: &mut TestClient) -> Duration {
    let started = Instant::now();
    loop {
        if me(c).await == Value::Null {
            return started.elapsed();
        }
        assert!(started.elapsed() < PROMISED * 10, "the session never ended on the other server");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn admin(f: &Fleet, uri: &str) -> Value {
    let req = Request::post(uri).header("authorization", format!("Bearer {TOKEN}"));
    let r = TestClient::new(f.admin.clone()).send(req, Body::empty()).await;
    assert_eq!(r.status, 200, "{uri}: {}", r.body);
    r.json()
}

async fn handle_of(f: &Fleet, user: &str) -> String {
    let req = Request::get(format!("/admin/api/sessions?user={user}"))
        .header("authorization", format!("Bearer {TOKEN}"));
    let r = TestClient::new(f.admin.clone()).send(req, Body::empty()).await;
    let v = r.json();
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{}", r.body);
    sessions[0]["handle"].as_str().unwrap().to_owned()
}

/// Revoking one session, all of a user's, and disabling a user on server A: each ends on
/// server B, whose cache had just served it, within the promised second; another user's
/// session, cached on B too, is untouched.
async fn ended_on_a_reaches_b(redis_url: &str, name: &str) {
    let f = fleet(redis_url).await;
    let (alice, bob) = (&f.users.0, &f.users.1);
    let bob_on_a = login(&f.a, bob, "builder").await;
    let mut bob_on_b = on(&f.b, &bob_on_a);
    assert_eq!(me(&mut bob_on_b).await, bob.as_str(), "{name}");

    // 7.4.5: one session, by its handle.
    let alice_on_a = login(&f.a, alice, "wonderland").await;
    let mut alice_on_b = on(&f.b, &alice_on_a);
    assert_eq!(me(&mut alice_on_b).await, alice.as_str(), "{name}: B serves (and caches) it");
    assert_eq!(me(&mut alice_on_b).await, alice.as_str(), "{name}: from B's cache");
    let handle = handle_of(&f, alice).await;
    admin(&f, &format!("/admin/api/sessions/{handle}/revoke")).await;
    let took = ended_after(&mut alice_on_b).await;
    assert!(took <= PROMISED, "{name}: revoke one: ended on B after {took:?}");

    // 7.4.5: every session of a user.
    let alice_on_a = login(&f.a, alice, "wonderland").await;
    let mut alice_on_b = on(&f.b, &alice_on_a);
    assert_eq!(me(&mut alice_on_b).await, alice.as_str(), "{name}");
    let r = admin(&f, &format!("/admin/api/users/{alice}/revoke")).await;
    assert_eq!(r["revoked_sessions"], 1, "{name}: {r}");
    let took = ended_after(&mut alice_on_b).await;
    assert!(took <= PROMISED, "{name}: revoke user: ended on B after {took:?}");

    // 7.4.2: disabling the user ends the session everywhere and refuses logins on B too.
    let alice_on_a = login(&f.a, alice, "wonderland").await;
    let mut alice_on_b = on(&f.b, &alice_on_a);
    assert_eq!(me(&mut alice_on_b).await, alice.as_str(), "{name}");
    let r = admin(&f, &format!("/admin/api/users/{alice}/disable")).await;
    assert_eq!(r["revoked_sessions"], 1, "{name}: {r}");
    let took = ended_after(&mut alice_on_b).await;
    assert!(took <= PROMISED, "{name}: disable: ended on B after {took:?}");
    let mut c = TestClient::new(f.b.router());
    let t = c.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
    let req = Request::post("/login").header("content-type", "application/json").header("x-csrf-token", t);
    let r = c.send(req, Body::from(json!({"username": alice, "password": "wonderland"}).to_string())).await;
    assert_eq!(r.status, 401, "{name}: B refuses the disabled user's login: {}", r.body);

    assert_eq!(me(&mut bob_on_b).await, bob.as_str(), "{name}: bob's cached session is untouched");
}

fn redis_answers(url: &str) -> bool {
    std::process::Command::new("redis-cli")
        .args(["-u", url, "ping"])
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"PONG"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_7_4_5_ended_on_one_server_ends_on_another_through_its_cache_redis() {
    let url = sessionwarden_test::env::redis_url();
    if !redis_answers(&url) {
        sessionwarden_test::env::service_missing("Redis", "not reachable");
        return;
    }
    ended_on_a_reaches_b(&url, "redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asvs_7_4_5_ended_on_one_server_ends_on_another_through_its_cache_redis_cluster() {
    let nodes = sessionwarden_test::env::redis_cluster_urls();
    if !redis_answers(&nodes[0]) {
        sessionwarden_test::env::service_missing("Redis Cluster", "not reachable");
        return;
    }
    ended_on_a_reaches_b(&nodes.join(","), "redis cluster").await;
}
