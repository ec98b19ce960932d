//! Rate limits through the reference server's real router: login limits that hold across two
//! servers sharing Redis, Redis Cluster, PostgreSQL or SQLite; the same answer for known and
//! unknown users; monitor mode; id guessing and session floods per client; and no secret in
//! any event or log line.
//!
//! Clients are told apart by the injected peer address (`ConnectInfo`), as axum's
//! `into_make_service_with_connect_info` hands it to the layer. Every run uses its own
//! client networks and user names: the shared stores keep earlier runs' state.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ConnectInfo;
use serde_json::json;
use sessionwarden::events::SecurityEvent;
use sessionwarden::keyring::{KeySet, Keyring};
use sessionwarden::throttle::{Mode, RuleKind, ThrottleAction};
use sessionwarden::{Clock as _, Events, ManualClock, SystemClock};
use sessionwarden_server::App;
use sessionwarden_server::cli::{LimitArg, ServeArgs, StoreKind};
use sessionwarden_test::TestClient;
use sessionwarden_test::client::TestResponse;

const PASSWORD: &str = "correct-horse-battery-staple";

/// A per-run number: client networks and user names carry it, so no two runs share state.
fn run_id() -> u16 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    (nanos ^ u128::from(std::process::id()) << 7) as u16
}

/// Client `n` of a run, in a /48 of its own (`2001:db8:<group>::/48`, the group from the run
/// and `n`): one key per client for the limits.
fn client(run: u16, n: u8) -> SocketAddr {
    let group = run.wrapping_add(u16::from(n).wrapping_mul(257));
    format!("[2001:db8:{group:x}::1]:4000").parse().unwrap()
}

/// One browser: a jar, an address, a CSRF token.
struct Browser {
    c: TestClient,
    peer: SocketAddr,
    csrf: String,
}

impl Browser {
    fn new(app: &App, peer: SocketAddr) -> Self {
        Self { c: TestClient::new(app.router()), peer, csrf: String::new() }
    }

    fn req(&self, method: &str, uri: &str) -> axum::http::request::Builder {
        axum::http::Request::builder().method(method).uri(uri).extension(ConnectInfo(self.peer))
    }

    async fn get(&mut self, uri: &str) -> TestResponse {
        let req = self.req("GET", uri);
        self.c.send(req, Body::empty()).await
    }

    async fn login(&mut self, user: &str, password: &str) -> TestResponse {
        if self.csrf.is_empty() {
            let r = self.get("/csrf-token").await;
            assert_eq!(r.status, 200, "{}", r.body);
            self.csrf = r.json()["csrf_token"].as_str().unwrap().to_owned();
        }
        let req = self
            .req("POST", "/login")
            .header("content-type", "application/json")
            .header("x-csrf-token", self.csrf.clone());
        let body = json!({"username": user, "password": password}).to_string();
        self.c.send(req, Body::from(body)).await
    }
}

fn retry_after(r: &TestResponse) -> Option<u64> {
    r.headers.get("retry-after").map(|v| v.to_str().unwrap().parse().unwrap())
}

async fn app_with(args: &ServeArgs, clock: &ManualClock, events: &Events) -> App {
    // One keyring for the fleet: either server opens the other's cookies.
    let keyring =
        Keyring::new(KeySet::from_secrets("throttle-test-fleet-secret-0123456789abcdef", &[]).unwrap());
    App::new(args, keyring, events.clone(), Arc::new(clock.clone())).await.unwrap()
}

fn base(dir: &std::path::Path, user: &str) -> ServeArgs {
    ServeArgs {
        insecure_cookies: true,
        data_dir: dir.to_owned(),
        demo_user: vec![sessionwarden_server::auth::DemoUser::parse(&format!("{user}:{PASSWORD}")).unwrap()],
        ..ServeArgs::default()
    }
}

/// The stores a fleet shares limits through, each with its arguments; a missing service is
/// skipped outside CI and fails under `CI=true`.
fn shared_stores(base: &ServeArgs, run: u16) -> Vec<(&'static str, ServeArgs)> {
    let mut out =
        vec![("sqlite", ServeArgs { store: StoreKind::Sqlite, database_url: None, ..base.clone() })];
    if up("postgres", || std::net::TcpStream::connect("127.0.0.1:5432").is_ok()) {
        let pg = sessionwarden_test::env::postgres_url();
        out.push((
            "postgres",
            ServeArgs { store: StoreKind::Postgres, database_url: Some(pg), ..base.clone() },
        ));
    }
    let prefix = format!("sw-throttle-{run}:");
    let redis = sessionwarden_test::env::redis_url();
    if up("redis", || redis_answers(&redis)) {
        out.push((
            "redis",
            ServeArgs {
                store: StoreKind::Redis,
                redis_url: redis,
                redis_prefix: prefix.clone(),
                ..base.clone()
            },
        ));
    }
    let cluster = sessionwarden_test::env::redis_cluster_urls();
    if up("redis cluster", || redis_answers(&cluster[0])) {
        out.push((
            "redis cluster",
            ServeArgs {
                store: StoreKind::Redis,
                redis_url: cluster.join(","),
                redis_prefix: prefix,
                ..base.clone()
            },
        ));
    }
    out
}

fn redis_answers(url: &str) -> bool {
    std::process::Command::new("redis-cli")
        .args(["-u", url, "ping"])
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"PONG"))
}

fn up(name: &str, check: impl FnOnce() -> bool) -> bool {
    let ok = check();
    if !ok {
        sessionwarden_test::env::service_missing(name, "not reachable");
    }
    ok
}

/// The clock both servers read: the real time, frozen (Redis TTLs run on real time).
fn clock() -> ManualClock {
    ManualClock::new(SystemClock.now())
}

/// `--limit-login-per-user 5/min`: failures spread over two servers sharing the store trip
/// the one limit; then `--limit-login-per-client 10/min,block=5m` likewise, over many names.
#[tokio::test]
async fn login_limits_hold_across_two_servers_sharing_a_store() {
    let dir = support::TempDir::new();
    let run = run_id();
    let user = format!("alice-{run}");
    for (n, (name, args)) in shared_stores(&base(dir.path(), &user), run).into_iter().enumerate() {
        let n = u8::try_from(n).unwrap() * 8;
        let clock = clock();
        // A user of its own per store: the shared stores keep each other's state.
        let who = format!("{user}-{}", name.replace(' ', "-"));
        let demo = sessionwarden_server::auth::DemoUser::parse(&format!("{who}:{PASSWORD}")).unwrap();
        let args = ServeArgs { demo_user: vec![demo], ..args };
        let (one, two) = (
            app_with(&args, &clock, &Events::new(256)).await,
            app_with(&args, &clock, &Events::new(256)).await,
        );
        assert!(one.state.throttle.as_ref().unwrap().is_shared(), "{name}: limits go to the store");
        // Per user: two clients on two servers, five failures between them.
        let mut a = Browser::new(&one, client(run, n));
        let mut b = Browser::new(&two, client(run, n + 1));
        for i in 0..5 {
            let browser = if i % 2 == 0 { &mut a } else { &mut b };
            let r = browser.login(&who, "wrong").await;
            assert_eq!(r.status, 401, "{name}: failure {i}: {}", r.body);
        }
        for browser in [&mut a, &mut b] {
            let r = browser.login(&who, "wrong").await;
            assert_eq!(r.status, 429, "{name}: the sixth, on either server: {}", r.body);
            assert_eq!(r.json(), json!({"error": "too_many_attempts"}));
            assert_eq!(retry_after(&r), Some(12), "{name}: 5/min allows one more every 12 s");
        }
        // Per client: one client, ten names (so no per-user limit), two servers.
        let c_addr = client(run, n + 2);
        let (mut c1, mut c2) = (Browser::new(&one, c_addr), Browser::new(&two, c_addr));
        for i in 0..10 {
            let browser = if i % 2 == 0 { &mut c1 } else { &mut c2 };
            let r = browser.login(&format!("nobody-{i}-{run}"), "wrong").await;
            assert_eq!(r.status, 401, "{name}: attempt {i}");
        }
        let r = c2.login(&format!("nobody-x-{run}"), "wrong").await;
        assert_eq!((r.status.as_u16(), retry_after(&r)), (429, Some(300)), "{name}: the block window");
        // The block, started on server two, holds on server one.
        let r = c1.login(&format!("nobody-y-{run}"), "wrong").await;
        assert_eq!(r.status, 429, "{name}: blocked fleet-wide");
        // Even the right password waits: the limit counts attempts, not only failures.
        let r = Browser::new(&one, client(run, n + 3)).login(&who, PASSWORD).await;
        assert_eq!(r.status, 429, "{name}");
        clock.advance(std::time::Duration::from_secs(12));
        let r = Browser::new(&one, client(run, n + 3)).login(&who, PASSWORD).await;
        assert_eq!(r.status, 200, "{name}: one more after 12 s: {}", r.body);
    }
}

/// The memory store counts in each process: two servers allow twice the limit (what the
/// start-up warning says).
#[tokio::test]
async fn per_process_limits_are_per_process() {
    let dir = support::TempDir::new();
    let run = run_id();
    let user = format!("bob-{run}");
    let args = ServeArgs { store: StoreKind::Memory, ..base(dir.path(), &user) };
    let clock = clock();
    let (one, two) = (
        app_with(&args, &clock, &Events::default()).await,
        app_with(&args, &clock, &Events::default()).await,
    );
    assert!(!one.state.throttle.as_ref().unwrap().is_shared());
    for app in [&one, &two] {
        let mut b = Browser::new(app, client(run, 0));
        for _ in 0..5 {
            assert_eq!(b.login(&user, "wrong").await.status, 401);
        }
        assert_eq!(b.login(&user, "wrong").await.status, 429);
    }
}

/// A known user with a wrong password and a name nobody has get the same answers, in the
/// same order, with the same headers: the limit is keyed by the name as typed, looked up or
/// not, and unknown names still pay for an argon2 verification (`auth::Users::verify`).
#[tokio::test]
async fn known_and_unknown_users_are_answered_alike() {
    let dir = support::TempDir::new();
    let run = run_id();
    let user = format!("carol-{run}");
    let args = ServeArgs {
        store: StoreKind::Memory,
        limit_login_per_user: LimitArg(Some("3/min".parse().unwrap())),
        ..base(dir.path(), &user)
    };
    let clock = clock();
    let app = app_with(&args, &clock, &Events::default()).await;
    let mut answers = vec![];
    for (i, name) in [user.clone(), format!("nobody-{run}")].into_iter().enumerate() {
        let mut b = Browser::new(&app, client(run, u8::try_from(i).unwrap()));
        let mut seen = vec![];
        for _ in 0..5 {
            let r = b.login(&name, "wrong").await;
            let mut headers: Vec<_> = r
                .headers
                .iter()
                .filter(|(k, _)| *k != "set-cookie" && *k != "date")
                .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
                .collect();
            headers.sort();
            seen.push((r.status.as_u16(), r.body.clone(), headers));
        }
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1], "known and unknown names answered alike");
    let statuses: Vec<u16> = answers[0].iter().map(|a| a.0).collect();
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
}

/// `--throttle-mode monitor`: every attempt goes through, and the event says what enforce
/// would have done.
#[tokio::test]
async fn monitor_mode_records_but_does_not_block() {
    let dir = support::TempDir::new();
    let run = run_id();
    let user = format!("dave-{run}");
    let args =
        ServeArgs { store: StoreKind::Memory, throttle_mode: Mode::Monitor, ..base(dir.path(), &user) };
    let clock = clock();
    let events = Events::new(1024);
    let app = app_with(&args, &clock, &events).await;
    let mut b = Browser::new(&app, client(run, 0));
    for i in 0..12 {
        assert_eq!(b.login(&user, "wrong").await.status, 401, "attempt {i}");
    }
    assert_eq!(b.login(&user, PASSWORD).await.status, 200, "monitor never refuses");
    let throttled: Vec<_> = events
        .recent()
        .into_iter()
        .filter_map(|e| match e.event {
            SecurityEvent::Throttled { rule, action, .. } => Some((rule, action)),
            _ => None,
        })
        .collect();
    assert_eq!(
        throttled,
        [
            (RuleKind::LoginPerUser, ThrottleAction::Monitored),
            (RuleKind::LoginPerClient, ThrottleAction::Monitored)
        ]
    );
}

/// Forged cookies from one client: 429 past `--limit-id-guessing`, another client unaffected.
#[tokio::test]
async fn id_guessing_is_refused_for_one_client_only() {
    let dir = support::TempDir::new();
    let run = run_id();
    let args = ServeArgs {
        store: StoreKind::Memory,
        limit_id_guessing: LimitArg(Some("3/min,block=15m".parse().unwrap())),
        ..base(dir.path(), "erin")
    };
    let clock = clock();
    let app = app_with(&args, &clock, &Events::default()).await;
    let guess = |peer: SocketAddr, i: usize| {
        let router = app.router();
        async move {
            let req = axum::http::Request::get("/notes")
                .header("cookie", format!("session=v1.1.{}.{}", "Q".repeat(40 + i), "Z".repeat(43)))
                .extension(ConnectInfo(peer))
                .body(Body::empty())
                .unwrap();
            tower::ServiceExt::oneshot(router, req).await.unwrap()
        }
    };
    let (attacker, other) = (client(run, 0), client(run, 1));
    for i in 0..3 {
        assert_eq!(guess(attacker, i).await.status(), 200, "guess {i}");
    }
    let r = guess(attacker, 3).await;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "900");
    assert_eq!(guess(attacker, 4).await.status(), 429, "blocked");
    assert_eq!(guess(other, 0).await.status(), 200, "another client is unaffected");
}

/// An anonymous client fetching `/csrf-token` in a loop (a new session each time) gets 429
/// at `--limit-new-sessions` (60/min by default) before it fills the store.
#[tokio::test]
async fn a_csrf_token_loop_is_refused_before_it_fills_the_store() {
    let dir = support::TempDir::new();
    let run = run_id();
    let args = ServeArgs { store: StoreKind::Memory, ..base(dir.path(), "frank") };
    let clock = clock();
    let app = app_with(&args, &clock, &Events::default()).await;
    let mut statuses = vec![];
    for _ in 0..100 {
        // A fresh jar each time: every request starts a session.
        statuses.push(Browser::new(&app, client(run, 0)).get("/csrf-token").await.status.as_u16());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 60);
    assert!(statuses[60..].iter().all(|s| *s == 429), "{statuses:?}");
    let sessionwarden_server::stores::UserRevocation::Index(index) = &app.state.user_revocation else {
        panic!()
    };
    assert_eq!(index.count(None, clock.now()).await.unwrap(), 60, "no refused session was stored");
    assert_eq!(Browser::new(&app, client(run, 1)).get("/csrf-token").await.status, 200, "another client");
}

/// Everything recorded while logins fail, guesses are refused and limits trip: no password,
/// no cookie, no session id in any event or log line.
#[tokio::test]
async fn no_event_or_log_line_holds_a_secret() {
    let buffer = captured_logs();

    let dir = support::TempDir::new();
    let run = run_id();
    let user = format!("grace-{run}");
    let args = ServeArgs {
        store: StoreKind::Memory,
        limit_id_guessing: LimitArg(Some("2/min".parse().unwrap())),
        ..base(dir.path(), &user)
    };
    let clock = clock();
    let events = Events::new(4096);
    let app = app_with(&args, &clock, &events).await;
    let mut b = Browser::new(&app, client(run, 0));
    let mut secrets: Vec<String> = vec![PASSWORD.to_owned()];
    for i in 0..8 {
        let password = format!("hunter{i}-{run}-guess");
        let _ = b.login(&user, &password).await;
        secrets.push(password);
    }
    let _ = Browser::new(&app, client(run, 1)).login(&user, PASSWORD).await;
    // A password typed into the name field: the per-user limit trips on it, and no event or
    // log line may name it.
    let typed_as_name = format!("pw-in-the-name-field-{run}");
    let mut d = Browser::new(&app, client(run, 4));
    for _ in 0..7 {
        let _ = d.login(&typed_as_name, "x").await;
    }
    secrets.push(typed_as_name);
    let mut ok = Browser::new(&app, client(run, 2));
    let _ = ok.get("/csrf-token").await;
    secrets.extend(b.c.jar.values().cloned());
    secrets.extend(ok.c.jar.values().cloned());
    for i in 0..5 {
        let forged = format!("v1.1.{}{i}.{}", "S".repeat(40), "T".repeat(43));
        let mut c = Browser::new(&app, client(run, 3));
        c.c.jar.insert("session".into(), forged.clone());
        let _ = c.get("/notes").await;
        secrets.push(forged);
    }
    let logs = String::from_utf8_lossy(&buffer.lock().unwrap()).into_owned();
    let recorded = serde_json::to_string(&events.recent()).unwrap();
    assert!(recorded.contains("\"kind\":\"throttled\""), "limits tripped: {recorded}");
    assert!(logs.contains("throttled"), "and were logged");
    for secret in &secrets {
        assert!(!secret.is_empty());
        for (what, text) in [("events", &recorded), ("logs", &logs)] {
            assert!(!text.contains(secret.as_str()), "{what} hold a secret {secret:?}");
            for part in secret.split('.').filter(|p| p.len() >= 16) {
                assert!(!text.contains(part), "{what} hold part of a cookie");
            }
        }
    }
}

/// A `MakeWriter` into a shared buffer.
/// Every log line of this test binary, from a global JSON subscriber installed once. Global,
/// not a thread's default: a default set on one thread races with callsites other tests
/// register at the same moment (their interest can be cached as "never"), and lines went
/// missing under load.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static BUFFER: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    BUFFER
        .get_or_init(|| {
            let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
            let writer = {
                let buffer = buffer.clone();
                move || Capture(buffer.clone())
            };
            let subscriber = tracing_subscriber::fmt()
                .json()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(writer)
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
            buffer
        })
        .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
