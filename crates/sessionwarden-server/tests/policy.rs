//! Session policy through the real router, on every server-side store: OWASP ASVS 7.1.2 (a
//! per-user cap on concurrent sessions, under concurrent logins) and 7.4.2 (an administrator
//! disables a user: every session and token ends at once, logins are refused until enabled).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use serde_json::{Value, json};
use sessionwarden::keyring::{KeySet, Keyring};
use sessionwarden::{Events, ManualClock, Timestamp};
use sessionwarden_server::App;
use sessionwarden_server::cli::{ServeArgs, SessionLimitPolicyArg, StoreKind};
use sessionwarden_test::TestClient;
use sessionwarden_test::client::TestResponse;

const T0: Timestamp = Timestamp::from_unix(1_900_000_000);
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
const SAFARI_IOS: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";

/// One browser: its jar, its address and its user agent.
struct Browser {
    c: TestClient,
    peer: SocketAddr,
    ua: &'static str,
    csrf: String,
    headers: Vec<(&'static str, String)>,
}

impl Browser {
    fn new(app: &App, peer: &str, ua: &'static str) -> Self {
        Self {
            c: TestClient::new(app.router()),
            peer: peer.parse().unwrap(),
            ua,
            csrf: String::new(),
            headers: vec![],
        }
    }

    fn req(&self, method: &str, uri: &str) -> axum::http::request::Builder {
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("user-agent", self.ua)
            .extension(ConnectInfo(self.peer));
        for (k, v) in &self.headers {
            req = req.header(*k, v);
        }
        req
    }

    async fn get(&mut self, uri: &str) -> TestResponse {
        let req = self.req("GET", uri);
        self.c.send(req, Body::empty()).await
    }

    async fn post(&mut self, uri: &str, body: &Value) -> TestResponse {
        if self.csrf.is_empty() {
            self.csrf = self.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
        }
        let req = self
            .req("POST", uri)
            .header("content-type", "application/json")
            .header("x-csrf-token", self.csrf.clone());
        self.c.send(req, Body::from(body.to_string())).await
    }

    async fn login(&mut self, user: &str, password: &str) -> TestResponse {
        let r = self.post("/login", &json!({"username": user, "password": password})).await;
        if r.status == 200 {
            self.csrf = r.json()["csrf_token"].as_str().unwrap().to_owned();
        }
        r
    }

    async fn me(&mut self) -> Option<String> {
        let r = self.get("/notes").await;
        // `/notes` works with or without a user; the session's user is what `/account` sees.
        assert_eq!(r.status, 200);
        let r = self.get("/account/sessions").await;
        (r.status == 200).then_some(r.body)
    }
}

fn tag() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}-{nanos}", std::process::id())
}

/// The stores that keep sessions on the server and can list them by user, each with the
/// arguments that select it; a store whose service is missing is skipped outside CI (and
/// fails under `CI=true`).
///
/// Users are named `alice-<tag>` and `bob-<tag>` (`users.0`, `users.1`): shared databases
/// keep the sessions of earlier runs, which must not count.
fn stores(dir: &std::path::Path) -> (Vec<(&'static str, ServeArgs)>, (String, String)) {
    let t = tag();
    let users = (format!("alice-{t}"), format!("bob-{t}"));
    let base = ServeArgs {
        insecure_cookies: true,
        data_dir: dir.to_owned(),
        demo_user: vec![
            sessionwarden_server::auth::DemoUser::parse(&format!("{}:wonderland", users.0)).unwrap(),
            sessionwarden_server::auth::DemoUser::parse(&format!("{}:builder", users.1)).unwrap(),
        ],
        // Many logins from a few addresses, against stores that parallel tests and earlier
        // runs share at one fixed time: the rate limits would trip; tests/throttle.rs has theirs.
        throttle_mode: sessionwarden::throttle::Mode::Off,
        ..ServeArgs::default()
    };
    let mut out = vec![
        ("memory", ServeArgs { store: StoreKind::Memory, ..base.clone() }),
        ("sqlite", ServeArgs { store: StoreKind::Sqlite, ..base.clone() }),
    ];
    let pg = sessionwarden_test::env::postgres_url();
    if service_up("postgres", || std::net::TcpStream::connect("127.0.0.1:5432").is_ok()) {
        out.push((
            "postgres",
            ServeArgs { store: StoreKind::Postgres, database_url: Some(pg), ..base.clone() },
        ));
    }
    let prefix = format!("sw-policy-{}:", tag());
    let redis = sessionwarden_test::env::redis_url();
    if service_up("redis", || redis_answers(&redis)) {
        out.push((
            "redis",
            ServeArgs {
                store: StoreKind::Redis,
                redis_url: redis,
                redis_prefix: prefix.clone(),
                redis_token_prefix: format!("{prefix}jwt:"),
                ..base.clone()
            },
        ));
    }
    let cluster = sessionwarden_test::env::redis_cluster_urls();
    if service_up("redis cluster", || redis_answers(&cluster[0])) {
        out.push((
            "redis cluster",
            ServeArgs {
                store: StoreKind::Redis,
                redis_url: cluster.join(","),
                redis_prefix: prefix.clone(),
                redis_token_prefix: format!("{prefix}jwt:"),
                ..base
            },
        ));
    }
    (out, users)
}

fn redis_answers(url: &str) -> bool {
    std::process::Command::new("redis-cli")
        .args(["-u", url, "ping"])
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"PONG"))
}

fn service_up(name: &str, up: impl FnOnce() -> bool) -> bool {
    let ok = up();
    if !ok {
        sessionwarden_test::env::service_missing(name, "not reachable");
    }
    ok
}

async fn app(args: &ServeArgs, clock: &ManualClock) -> App {
    let keyring = Keyring::new(KeySet::generate(T0).unwrap());
    App::new(args, keyring, Events::default(), Arc::new(clock.clone())).await.unwrap()
}

/// How many of `user`'s sessions the app's store holds live now.
async fn live_sessions(app: &App, user: &str, clock: &ManualClock) -> usize {
    let sessionwarden_server::stores::UserRevocation::Index(index) = &app.state.user_revocation else {
        panic!("a server-side store lists sessions by user");
    };
    index.list_user(user, sessionwarden::Clock::now(clock)).await.unwrap().len()
}

/// ASVS 7.1.2: fifty concurrent logins of one user under a cap of five leave exactly five live
/// sessions, under both policies: evict-oldest lets every login in (and ends the oldest),
/// refuse-new lets five in and answers the rest 409 `too_many_sessions`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn asvs_7_1_2_concurrent_logins_are_capped() {
    const LOGINS: usize = 50;
    const CAP: usize = 5;
    let dir = support::TempDir::new();
    let (stores, _) = stores(dir.path());
    for (name, base) in stores {
        for policy in [SessionLimitPolicyArg::EvictOldest, SessionLimitPolicyArg::RefuseNew] {
            // A user of its own per store and policy: shared databases keep earlier sessions.
            let user = format!("carol-{}", tag());
            // SQLite fsyncs every commit (synchronous=FULL); on a loaded shared disk fifty
            // logins queued behind one writer can pass the pool's 3 s wait and fail closed
            // with 503, which says nothing about the cap. The decision is what is tested here,
            // so the file goes to memory-backed storage where there is one.
            let shm = std::path::Path::new("/dev/shm");
            let database_url = match base.store {
                StoreKind::Sqlite if shm.is_dir() => {
                    Some(shm.join(format!("sw-policy-{}.db", tag())).display().to_string())
                }
                _ => base.database_url.clone(),
            };
            let args = ServeArgs {
                database_url,
                max_sessions_per_user: std::num::NonZeroU32::new(CAP as u32),
                session_limit_policy: policy,
                demo_user: vec![
                    sessionwarden_server::auth::DemoUser::parse(&format!("{user}:secret")).unwrap(),
                ],
                ..base.clone()
            };
            let clock = ManualClock::new(T0);
            let app = app(&args, &clock).await;
            let mut browsers = Vec::new();
            for i in 0..LOGINS {
                let mut b = Browser::new(&app, &format!("192.0.2.{}:4000", i + 1), FIREFOX);
                b.csrf = b.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
                browsers.push(b);
            }
            let tasks: Vec<_> = browsers
                .into_iter()
                .map(|mut b| {
                    let user = user.clone();
                    tokio::spawn(async move {
                        let r = b.login(&user, "secret").await;
                        (b, r.status.as_u16(), r.body)
                    })
                })
                .collect();
            // Every task is already running; collecting them in turn waits for all.
            let mut answers: Vec<(u16, String)> = Vec::new();
            for task in tasks {
                let (mut b, mut status, mut body) = task.await.unwrap();
                // 503 + Retry-After is the store's overload answer (SQLite's one writer and
                // small reader pool on a busy machine): the client retries, as told. It
                // failed closed, so the retry is the same login again.
                for _ in 0..5 {
                    if status != 503 {
                        break;
                    }
                    // A fresh token: the failed attempt may have got as far as ending the
                    // pre-login session the old token belonged to.
                    b.csrf.clear();
                    let r = b.login(&user, "secret").await;
                    (status, body) = (r.status.as_u16(), r.body);
                }
                answers.push((status, body));
            }
            if let (StoreKind::Sqlite, Some(db)) = (args.store, &args.database_url) {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{db}{suffix}"));
                }
            }
            let ok = answers.iter().filter(|(s, _)| *s == 200).count();
            let live = live_sessions(&app, &user, &clock).await;
            assert_eq!(live, CAP, "{name} {policy:?}: live sessions after {LOGINS} concurrent logins");
            match policy {
                SessionLimitPolicyArg::EvictOldest => {
                    assert_eq!(ok, LOGINS, "{name}: every login succeeds: {answers:?}");
                }
                SessionLimitPolicyArg::RefuseNew => {
                    assert_eq!(ok, CAP, "{name}: exactly the cap gets in");
                    for (status, body) in answers.iter().filter(|(s, _)| *s != 200) {
                        assert_eq!(*status, 409, "{name}: {body}");
                        let v: Value = serde_json::from_str(body).unwrap();
                        assert_eq!(v, json!({"error": "too_many_sessions"}), "{name}");
                    }
                }
            }
        }
    }
}

/// Without the flag there is no cap: ten logins leave ten sessions.
#[tokio::test]
async fn no_cap_unless_the_flag_is_set() {
    let dir = support::TempDir::new();
    let (stores, (alice, _)) = stores(dir.path());
    let (name, args) = stores.into_iter().next().unwrap();
    let clock = ManualClock::new(T0);
    let app = app(&args, &clock).await;
    for _ in 0..10 {
        let mut b = Browser::new(&app, "192.0.2.1:1", FIREFOX);
        assert_eq!(b.login(&alice, "wonderland").await.status, 200, "{name}");
    }
    assert_eq!(live_sessions(&app, &alice, &clock).await, 10, "{name}");
}

/// A cap on a store that cannot count sessions by user refuses to start, saying why.
#[tokio::test]
async fn a_cap_on_a_store_without_the_capability_refuses_to_start() {
    let dir = support::TempDir::new();
    let args = ServeArgs {
        store: StoreKind::Cookie,
        insecure_cookies: true,
        data_dir: dir.path().to_owned(),
        max_sessions_per_user: std::num::NonZeroU32::new(3),
        ..ServeArgs::default()
    };
    let keyring = Keyring::new(KeySet::generate(T0).unwrap());
    let e = App::new(&args, keyring, Events::default(), Arc::new(ManualClock::new(T0))).await.unwrap_err();
    let text = format!("{e:#}");
    assert!(text.contains("--max-sessions-per-user") && text.contains("cookie store"), "{text}");
}

/// ASVS 7.4.2: disabling a user ends their sessions and refresh tokens at once and refuses
/// their logins (with the wrong-password answer) until they are enabled again.
#[tokio::test]
async fn asvs_7_4_2_disabling_a_user_ends_their_sessions_and_tokens() {
    let dir = support::TempDir::new();
    let (stores, (alice, bob)) = stores(dir.path());
    for (name, args) in stores {
        let clock = ManualClock::new(T0);
        let app = app(&args, &clock).await;
        let mut laptop = Browser::new(&app, "192.0.2.10:50000", FIREFOX);
        let mut phone = Browser::new(&app, "192.0.2.11:50000", SAFARI_IOS);
        let mut other = Browser::new(&app, "192.0.2.12:50000", FIREFOX);
        assert_eq!(laptop.login(&alice, "wonderland").await.status, 200, "{name}");
        assert_eq!(phone.login(&alice, "wonderland").await.status, 200, "{name}");
        assert_eq!(other.login(&bob, "builder").await.status, 200, "{name}");
        let r = laptop.get("/token").await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        let refresh = r.json()["refresh_token"].as_str().unwrap().to_owned();
        let wrong = {
            let mut b = Browser::new(&app, "192.0.2.13:1", FIREFOX);
            b.login(&alice, "not the password").await
        };
        assert_eq!(wrong.status, 401, "{name}");

        let done = sessionwarden_server::users::disable_user(&app.state, &alice).await.unwrap();
        assert!(done.newly, "{name}");
        assert_eq!(done.sessions, 2, "{name}: both of alice's sessions ended");

        assert_eq!(laptop.me().await, None, "{name}: the old cookie has no user");
        assert_eq!(phone.me().await, None, "{name}");
        assert!(other.me().await.is_some(), "{name}: bob is untouched");
        assert_eq!(refresh_status(&app, &refresh).await, 401, "{name}: the refresh token is dead");
        let mut fresh = Browser::new(&app, "192.0.2.14:1", FIREFOX);
        let refused = fresh.login(&alice, "wonderland").await;
        assert_eq!(
            (refused.status, &refused.body),
            (wrong.status, &wrong.body),
            "{name}: like a wrong password"
        );
        assert_eq!(live_sessions(&app, &alice, &clock).await, 0, "{name}: the refused login kept nothing");
        let listed = sessionwarden_server::users::disabled_users(&app.state).await.unwrap();
        assert!(listed.iter().any(|u| u.user == alice), "{name}: {listed:?}");

        assert!(sessionwarden_server::users::enable_user(&app.state, &alice).await.unwrap(), "{name}");
        // Past the second of the token cutoff, so new tokens are not covered by it.
        clock.advance(Duration::from_secs(2));
        let mut back = Browser::new(&app, "192.0.2.15:1", FIREFOX);
        assert_eq!(back.login(&alice, "wonderland").await.status, 200, "{name}: enabled again");
        assert!(back.me().await.is_some(), "{name}");
        let r = back.get("/token").await;
        assert_eq!(r.status, 200, "{name}");
        let refresh = r.json()["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(refresh_status(&app, &refresh).await, 200, "{name}: new tokens work");
    }
}

async fn refresh_status(app: &App, refresh: &str) -> u16 {
    let req = axum::http::Request::builder()
        .method("POST")
        .uri("/token/refresh")
        .header("content-type", "application/json");
    TestClient::new(app.router())
        .send(req, Body::from(json!({"refresh_token": refresh}).to_string()))
        .await
        .status
        .as_u16()
}

/// ASVS 7.4.2 through the real binary: `users disable` on the store a running server uses
/// ends the user's session and refuses their login; `users list` shows them; `users enable`
/// lets them back in. A store that keeps no disabled users refuses at once, saying why.
#[tokio::test]
async fn asvs_7_4_2_users_disable_and_enable_through_the_binary() {
    let dir = support::TempDir::new();
    let user = format!("dave-{}", tag());
    let args = ServeArgs {
        store: StoreKind::Sqlite,
        insecure_cookies: true,
        data_dir: dir.path().to_owned(),
        demo_user: vec![sessionwarden_server::auth::DemoUser::parse(&format!("{user}:secret")).unwrap()],
        ..ServeArgs::default()
    };
    let clock = ManualClock::new(T0);
    let app = app(&args, &clock).await;
    let mut b = Browser::new(&app, "192.0.2.20:1", FIREFOX);
    assert_eq!(b.login(&user, "secret").await.status, 200);
    let data_dir = dir.path().to_str().unwrap();

    let (ok, out, err) = support::cli(&["users", "disable", &user, "--data-dir", data_dir]);
    assert!(ok, "{err}");
    assert!(out.contains(&format!("disabled {user}")) && out.contains("ended 1 session"), "{out}");
    assert_eq!(b.me().await, None, "the running server's session ended");
    let mut again = Browser::new(&app, "192.0.2.21:1", FIREFOX);
    assert_eq!(again.login(&user, "secret").await.status, 401, "the running server refuses the login");
    let (ok, out, err) = support::cli(&["users", "list", "--json", "--data-dir", data_dir]);
    assert!(ok, "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listed[0]["user"], user.as_str(), "{out}");

    let (ok, out, err) = support::cli(&["users", "enable", &user, "--data-dir", data_dir]);
    assert!(ok && out.contains(&format!("enabled {user}")), "{out}{err}");
    let mut back = Browser::new(&app, "192.0.2.22:1", FIREFOX);
    assert_eq!(back.login(&user, "secret").await.status, 200, "enabled again");

    let (ok, _, err) =
        support::cli(&["users", "--store", "cookie", "disable", &user, "--data-dir", data_dir]);
    assert!(!ok && err.contains("cookie store"), "{err}");
}
