//! Self-service and client metadata through the real router, on every server-side store:
//! OWASP ASVS 7.5.2 (users view and, after re-authenticating, end their sessions), 7.4.3
//! (offer to end all other sessions after a password change), and the client metadata
//! sessions carry (network prefix, device, login time and method, trusted proxies).
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
use sessionwarden_server::cli::{ServeArgs, StoreKind};
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
    let prefix = format!("sw-account-{}:", tag());
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

fn sessions(r: &TestResponse) -> Vec<Value> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["sessions"].as_array().unwrap().clone()
}

/// ASVS 7.5.2: the user sees every session of theirs with its network, device, login and
/// `current`, and ends one only after a recent re-authentication; the ended one stops
/// working at once, and nobody can end another user's session.
#[tokio::test]
async fn asvs_7_5_2_users_view_and_end_their_sessions_after_reauthentication() {
    let dir = support::TempDir::new();
    let (stores, (alice, bob)) = stores(dir.path());
    for (name, args) in stores {
        let clock = ManualClock::new(T0);
        let app = app(&args, &clock).await;
        let mut laptop = Browser::new(&app, "192.0.2.10:50000", FIREFOX);
        let mut phone = Browser::new(&app, "[2001:db8:7:8::1]:443", SAFARI_IOS);
        let mut mallory = Browser::new(&app, "198.51.100.66:1", FIREFOX);
        assert_eq!(laptop.login(&alice, "wonderland").await.status, 200, "{name}");
        clock.advance(Duration::from_secs(30));
        assert_eq!(phone.login(&alice, "wonderland").await.status, 200, "{name}");
        assert_eq!(mallory.login(&bob, "builder").await.status, 200, "{name}");

        let list = sessions(&laptop.get("/account/sessions").await);
        assert_eq!(list.len(), 2, "{name}: alice's two sessions, not bob's: {list:?}");
        let mine = list.iter().find(|s| s["current"] == true).unwrap();
        let other = list.iter().find(|s| s["current"] == false).unwrap();
        assert_eq!(mine["ip_prefix"], "192.0.2.0/24", "{name}");
        assert_eq!(mine["device"]["browser"], "Firefox", "{name}");
        assert_eq!(mine["device"]["os"], "Linux", "{name}");
        assert_eq!(mine["login_method"], "password", "{name}");
        assert_eq!(mine["login_at"], T0.unix(), "{name}");
        assert_eq!(other["ip_prefix"], "2001:db8:7::/48", "{name}");
        assert_eq!(other["device"]["browser"], "Mobile Safari", "{name}");
        assert_eq!(other["device"]["os"], "iOS", "{name}");
        for s in &list {
            let text = s.to_string();
            assert!(
                !text.contains("192.0.2.10") && !text.contains("2001:db8:7:8::1"),
                "{name}: no full address: {text}"
            );
        }
        let phone_handle = other["handle"].as_str().unwrap().to_owned();

        // Past the 5-minute window the laptop must re-authenticate first.
        clock.advance(Duration::from_secs(301));
        let r = laptop.post(&format!("/account/sessions/{phone_handle}/revoke"), &json!({})).await;
        assert_eq!((r.status.as_u16(), r.json()["error"].clone()), (401, json!("reauth_required")), "{name}");
        assert!(phone.me().await.is_some(), "{name}: nothing was ended");
        let r = laptop.post("/reauth", &json!({"password": "wrong"})).await;
        assert_eq!(r.status, 401, "{name}: a wrong password does not count");
        let r = laptop.post("/reauth", &json!({"password": "wonderland"})).await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);

        // Bob cannot end alice's session, and learns nothing from trying.
        assert_eq!(mallory.post("/reauth", &json!({"password": "builder"})).await.status, 200, "{name}");
        let r = mallory.post(&format!("/account/sessions/{phone_handle}/revoke"), &json!({})).await;
        assert_eq!(r.status, 404, "{name}");
        let r = mallory.post("/account/sessions/not-a-handle/revoke", &json!({})).await;
        assert_eq!(r.status, 404, "{name}");
        assert!(phone.me().await.is_some(), "{name}: still alive after bob's attempt");

        let r = laptop.post(&format!("/account/sessions/{phone_handle}/revoke"), &json!({})).await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        assert_eq!(r.json()["current"], false);
        assert!(phone.me().await.is_none(), "{name}: the phone's cookie stopped working at once");
        let list = sessions(&laptop.get("/account/sessions").await);
        assert_eq!(list.len(), 1, "{name}");
        let r = laptop.post(&format!("/account/sessions/{phone_handle}/revoke"), &json!({})).await;
        assert_eq!(r.status, 404, "{name}: ending it twice finds nothing");
        assert!(mallory.me().await.is_some(), "{name}: bob's session untouched");
    }
}

/// ASVS 7.5.2 / 7.4.3: "end all my other sessions", and a password change that offers it
/// (the answer counts the other sessions) or does it in the same request.
#[tokio::test]
async fn asvs_7_4_3_a_password_change_offers_and_ends_the_other_sessions() {
    let dir = support::TempDir::new();
    let (stores, (alice, _)) = stores(dir.path());
    for (name, args) in stores {
        let clock = ManualClock::new(T0);
        let app = app(&args, &clock).await;
        let mut a = Browser::new(&app, "192.0.2.1:1", FIREFOX);
        let mut b = Browser::new(&app, "192.0.2.2:1", FIREFOX);
        let mut c = Browser::new(&app, "203.0.113.3:1", SAFARI_IOS);
        for br in [&mut a, &mut b, &mut c] {
            assert_eq!(br.login(&alice, "wonderland").await.status, 200, "{name}");
        }
        // The offer: the password changes, the others are counted, nothing else ends.
        let r = a
            .post(
                "/account/password",
                &json!({"current_password": "wonderland", "new_password": "looking-glass"}),
            )
            .await;
        assert_eq!(r.status, 200, "{name}: {}", r.body);
        assert_eq!(r.json()["other_sessions"], 2, "{name}");
        assert!(b.me().await.is_some() && c.me().await.is_some(), "{name}");
        assert_eq!(Browser::new(&app, "192.0.2.9:1", FIREFOX).login(&alice, "wonderland").await.status, 401);
        // Taking the offer.
        let r = a.post("/account/sessions/revoke-others", &json!({})).await;
        assert_eq!((r.status.as_u16(), r.json()["revoked"].clone()), (200, json!(2)), "{name}: {}", r.body);
        assert!(b.me().await.is_none() && c.me().await.is_none(), "{name}: the others ended at once");
        assert_eq!(sessions(&a.get("/account/sessions").await).len(), 1, "{name}");

        // In one request: a wrong current password changes nothing.
        let mut d = Browser::new(&app, "192.0.2.4:1", FIREFOX);
        assert_eq!(d.login(&alice, "looking-glass").await.status, 200, "{name}");
        let body = json!({"current_password": "nope", "new_password": "x", "revoke_other_sessions": true});
        assert_eq!(a.post("/account/password", &body).await.status, 401, "{name}");
        assert!(d.me().await.is_some(), "{name}");
        let body = json!({"current_password": "looking-glass", "new_password": "mirror", "revoke_other_sessions": true});
        let r = a.post("/account/password", &body).await;
        assert_eq!((r.status.as_u16(), r.json()["revoked"].clone()), (200, json!(1)), "{name}: {}", r.body);
        assert!(d.me().await.is_none(), "{name}");
        assert!(a.me().await.is_some(), "{name}: the session that changed the password stays");
    }
}

/// Ending the session of the request itself is a logout; without a login every route says
/// so with a machine-readable 401.
#[tokio::test]
async fn revoking_the_current_session_logs_out_and_anonymous_requests_are_refused() {
    let dir = support::TempDir::new();
    let args = ServeArgs {
        store: StoreKind::Memory,
        insecure_cookies: true,
        data_dir: dir.path().to_owned(),
        demo_user: vec![sessionwarden_server::auth::DemoUser::parse("alice:wonderland").unwrap()],
        ..ServeArgs::default()
    };
    let clock = ManualClock::new(T0);
    let app = app(&args, &clock).await;
    let mut anon = Browser::new(&app, "192.0.2.1:1", FIREFOX);
    let r = anon.get("/account/sessions").await;
    assert_eq!((r.status.as_u16(), r.json()["error"].clone()), (401, json!("not_logged_in")));
    assert_eq!(anon.post("/account/sessions/revoke-others", &json!({})).await.status, 401);
    assert_eq!(anon.post("/reauth", &json!({"password": "wonderland"})).await.status, 401);

    let mut a = Browser::new(&app, "192.0.2.1:1", FIREFOX);
    a.login("alice", "wonderland").await;
    let handle = sessions(&a.get("/account/sessions").await)[0]["handle"].as_str().unwrap().to_owned();
    let r = a.post(&format!("/account/sessions/{handle}/revoke"), &json!({})).await;
    assert_eq!((r.status.as_u16(), r.json()["current"].clone()), (200, json!(true)));
    assert!(a.c.jar.is_empty(), "the cookie is expired: {:?}", a.c.jar);
}

/// The self-service `POST`s are CSRF-protected like every other state change.
#[tokio::test]
async fn self_service_posts_need_the_csrf_token() {
    let dir = support::TempDir::new();
    let args = ServeArgs {
        store: StoreKind::Memory,
        insecure_cookies: true,
        data_dir: dir.path().to_owned(),
        demo_user: vec![sessionwarden_server::auth::DemoUser::parse("alice:wonderland").unwrap()],
        ..ServeArgs::default()
    };
    let clock = ManualClock::new(T0);
    let app = app(&args, &clock).await;
    let mut a = Browser::new(&app, "192.0.2.1:1", FIREFOX);
    a.login("alice", "wonderland").await;
    let mut b = Browser::new(&app, "192.0.2.2:1", FIREFOX);
    b.login("alice", "wonderland").await;
    for uri in ["/account/sessions/revoke-others", "/reauth", "/account/password"] {
        let req = a.req("POST", uri).header("content-type", "application/json");
        let r = a.c.send(req, Body::from("{}")).await;
        assert_eq!(r.status, 403, "{uri} without a token");
    }
    assert!(b.me().await.is_some());
}

/// The client address behind proxies: only a trusted peer's forwarding header counts, the
/// right-most untrusted hop is the client, and a header that does not parse is ignored
/// with a security event, never a 500.
#[tokio::test]
async fn trusted_proxy_table() {
    let dir = support::TempDir::new();
    let args = ServeArgs {
        store: StoreKind::Memory,
        insecure_cookies: true,
        data_dir: dir.path().to_owned(),
        demo_user: vec![sessionwarden_server::auth::DemoUser::parse("alice:wonderland").unwrap()],
        trusted_proxy: vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()],
        ..ServeArgs::default()
    };
    struct Case {
        name: &'static str,
        peer: &'static str,
        xff: Option<&'static str>,
        prefix: &'static str,
        event: bool,
    }
    let cases = [
        Case { name: "no proxy", peer: "192.0.2.7:1", xff: None, prefix: "192.0.2.0/24", event: false },
        Case {
            name: "spoofed header from an untrusted peer is ignored",
            peer: "192.0.2.7:1",
            xff: Some("203.0.113.1"),
            prefix: "192.0.2.0/24",
            event: false,
        },
        Case {
            name: "one trusted proxy",
            peer: "10.1.2.3:1",
            xff: Some("203.0.113.1"),
            prefix: "203.0.113.0/24",
            event: false,
        },
        Case {
            name: "chain: the client's own claim left of the real hop is not believed",
            peer: "10.1.2.3:1",
            xff: Some("198.51.100.99, 203.0.113.1, 10.9.9.9"),
            prefix: "203.0.113.0/24",
            event: false,
        },
        Case {
            name: "IPv6 behind an IPv6 proxy",
            peer: "[fd00::1]:1",
            xff: Some("2001:db8:aa:bb::1"),
            prefix: "2001:db8:aa::/48",
            event: false,
        },
        Case {
            name: "malformed hop: the proxy is the client, and an event",
            peer: "10.1.2.3:1",
            xff: Some("203.0.113.1, not-an-ip"),
            prefix: "10.1.2.0/24",
            event: true,
        },
    ];
    for case in cases {
        let events = Events::default();
        let keyring = Keyring::new(KeySet::generate(T0).unwrap());
        let clock = ManualClock::new(T0);
        let app = App::new(&args, keyring, events.clone(), Arc::new(clock)).await.unwrap();
        let mut br = Browser::new(&app, case.peer, FIREFOX);
        if let Some(xff) = case.xff {
            br.headers.push(("x-forwarded-for", xff.to_owned()));
        }
        let r = br.login("alice", "wonderland").await;
        assert_eq!(r.status, 200, "{}: {}", case.name, r.body);
        let list = sessions(&br.get("/account/sessions").await);
        assert_eq!(list[0]["ip_prefix"], case.prefix, "{}", case.name);
        let rejected: Vec<_> =
            events.recent().into_iter().filter(|e| e.event.kind() == "forwarding_header_rejected").collect();
        assert_eq!(!rejected.is_empty(), case.event, "{}: {rejected:?}", case.name);
        if let Some(e) = rejected.first() {
            let ctx = e.context.as_ref().expect("the event carries its request");
            assert_eq!(ctx.client_ip, Some("10.1.2.3".parse().unwrap()), "{}", case.name);
            assert!(!format!("{e:?}").contains("not-an-ip"), "the header's value is not repeated");
        }
    }
}

/// Security events carry the request they happened in: method, path, client address,
/// device, request id, and the session's user and handle once it loaded.
#[tokio::test]
async fn security_events_carry_their_request_context() {
    let dir = support::TempDir::new();
    let args = ServeArgs {
        store: StoreKind::Memory,
        insecure_cookies: true,
        data_dir: dir.path().to_owned(),
        demo_user: vec![sessionwarden_server::auth::DemoUser::parse("alice:wonderland").unwrap()],
        ..ServeArgs::default()
    };
    let events = Events::default();
    let keyring = Keyring::new(KeySet::generate(T0).unwrap());
    let app = App::new(&args, keyring, events.clone(), Arc::new(ManualClock::new(T0))).await.unwrap();
    let mut a = Browser::new(&app, "192.0.2.44:1", FIREFOX);
    a.headers.push(("x-request-id", format!("req-{}", tag())));
    a.login("alice", "wonderland").await;
    // A CSRF refusal in the logged-in session.
    let req = a.req("POST", "/notes?token=secret-in-query").header("content-type", "application/json");
    assert_eq!(a.c.send(req, Body::from(r#"{"note":"x"}"#)).await.status, 403);
    let recent = events.recent();
    let csrf = recent.iter().rev().find(|e| e.event.kind() == "csrf_rejected").expect("a CSRF event");
    let ctx = csrf.context.as_ref().unwrap();
    assert_eq!(ctx.method, "POST");
    assert_eq!(ctx.path, "/notes", "the query is left out");
    assert_eq!(ctx.client_ip, Some("192.0.2.44".parse().unwrap()));
    assert_eq!(ctx.device.as_ref().and_then(|d| d.browser()), Some("Firefox"));
    assert!(ctx.request_id.as_deref().unwrap().starts_with("req-"));
    let rotated = recent.iter().find(|e| e.event.kind() == "session_rotated").expect("login rotated the id");
    assert_eq!(rotated.context.as_ref().unwrap().path, "/login");
    let text =
        serde_json::to_string(&recent.iter().map(|e| serde_json::to_value(e).unwrap()).collect::<Vec<_>>())
            .unwrap();
    assert!(!text.contains("secret-in-query"));
    for cookie in a.c.jar.values() {
        assert!(!text.contains(cookie.as_str()), "no cookie value in events");
    }
}
