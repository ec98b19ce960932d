//! The risk rules through the real router: a named table of client changes that must not
//! fire (a Wi-Fi reconnect, an IPv6 privacy address, a browser update, a proxy hop) and of
//! those that must, each with its action actually taken (monitor logs only; step-up answers
//! `reauth_required` until `POST /reauth`; revoke ends the session on every store); refresh-
//! token reuse through the same engine; CAEP SETs to a loopback webhook; and a scan of every
//! event, audit record, SET and log line for secrets.
//!
//! The clock is a `ManualClock`, the peer address an injected `ConnectInfo`, the GeoIP
//! database one the test builds (`sessionwarden_test::mmdb`).
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use base64::Engine as _;
use serde_json::{Value, json};
use sessionwarden::keyring::{KeySet, Keyring};
use sessionwarden::risk::{RiskAction, RiskRule};
use sessionwarden::{Events, ManualClock, SecurityEvent, Timestamp};
use sessionwarden_server::App;
use sessionwarden_server::cli::{ServeArgs, StoreKind};
use sessionwarden_test::TestClient;
use sessionwarden_test::client::TestResponse;
use sessionwarden_test::mmdb::{MmdbWriter, Value as Mmdb};

const T0: Timestamp = Timestamp::from_unix(1_900_000_000);
const PASSWORD: &str = "correct-horse-battery";
const SECRET_KEY: &str = "risk-test-secret-key-0123456789abcdef";
const FIREFOX_121: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
const FIREFOX_122: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:122.0) Gecko/20100101 Firefox/122.0";
const CHROME_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// A GeoIP database: two Swedish networks of different ASes, a German one, an IPv6 /48.
fn geoip_db(dir: &std::path::Path) -> std::path::PathBuf {
    let mut w = MmdbWriter::new("Test-City");
    w.insert("192.0.2.0/24", Mmdb::city("SE", 59.33, 18.07, 64_500));
    w.insert("198.51.100.0/24", Mmdb::city("SE", 59.40, 17.95, 64_501));
    w.insert("203.0.113.0/24", Mmdb::city("DE", 48.14, 11.58, 64_502));
    w.insert("2001:db8:1::/48", Mmdb::city("SE", 59.33, 18.07, 64_500));
    let path = dir.join("test-city.mmdb");
    std::fs::write(&path, w.build()).unwrap();
    path
}

/// One browser: its jar, its peer address, user agent and forwarding header.
struct Browser {
    c: TestClient,
    peer: SocketAddr,
    ua: &'static str,
    xff: Option<String>,
    csrf: String,
}

impl Browser {
    fn new(app: &App, peer: &str, ua: &'static str) -> Self {
        Self { c: TestClient::new(app.router()), peer: sock(peer), ua, xff: None, csrf: String::new() }
    }

    fn req(&self, method: &str, uri: &str) -> axum::http::request::Builder {
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("user-agent", self.ua)
            .extension(ConnectInfo(self.peer));
        if let Some(xff) = &self.xff {
            req = req.header("x-forwarded-for", xff);
        }
        req
    }

    async fn get(&mut self, uri: &str) -> TestResponse {
        let req = self.req("GET", uri);
        self.c.send(req, Body::empty()).await
    }

    async fn post(&mut self, uri: &str, body: &Value) -> TestResponse {
        // A fresh token each time: the cases move the clock past a token's lifetime.
        self.csrf = self.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
        let req = self
            .req("POST", uri)
            .header("content-type", "application/json")
            .header("x-csrf-token", self.csrf.clone());
        self.c.send(req, Body::from(body.to_string())).await
    }

    async fn login(&mut self, user: &str) {
        let r = self.post("/login", &json!({"username": user, "password": PASSWORD})).await;
        assert_eq!(r.status, 200, "login: {}", r.body);
        self.csrf = r.json()["csrf_token"].as_str().unwrap().to_owned();
    }

    /// `GET /me`: 200 with the user, or the refusal's status and `error`.
    async fn me(&mut self) -> (u16, String) {
        let r = self.get("/me").await;
        let body = r.json();
        let what = body["user"].as_str().or(body["error"].as_str()).unwrap_or_default().to_owned();
        (r.status.as_u16(), what)
    }
}

fn sock(s: &str) -> SocketAddr {
    match s.parse() {
        Ok(a) => a,
        Err(_) => SocketAddr::new(s.parse().unwrap(), 4711),
    }
}

fn tag() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{}-{nanos}", std::process::id())
}

fn args(dir: &std::path::Path, user: &str, risk: &[&str]) -> ServeArgs {
    ServeArgs {
        insecure_cookies: true,
        store: StoreKind::Memory,
        data_dir: dir.to_owned(),
        demo_user: vec![sessionwarden_server::auth::DemoUser::parse(&format!("{user}:{PASSWORD}")).unwrap()],
        trusted_proxy: vec!["10.0.0.0/8".parse().unwrap()],
        geoip_db: vec![geoip_db(dir)],
        risk: risk.iter().map(|s| s.parse().unwrap()).collect(),
        // Many logins from a few addresses against shared stores: the rate limits are
        // another test's subject.
        throttle_mode: sessionwarden::throttle::Mode::Off,
        // The cases move the clock by hours and days: no deadline may end the session first.
        idle_timeout: 0,
        absolute_timeout: 0,
        ..ServeArgs::default()
    }
}

async fn app(args: &ServeArgs, clock: &ManualClock, events: Events) -> App {
    let keyring = Keyring::new(KeySet::from_secrets(SECRET_KEY, &[]).unwrap());
    App::new(args, keyring, events, Arc::new(clock.clone())).await.unwrap()
}

/// The (rule, action) of every risk event recorded.
fn fired(events: &Events) -> Vec<(RiskRule, RiskAction)> {
    events
        .recent()
        .into_iter()
        .filter_map(|e| match e.event {
            SecurityEvent::RiskDetected { rule, action, .. } => Some((rule, action)),
            _ => None,
        })
        .collect()
}

/// What the case expects the request after the change to find.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Then {
    /// The session goes on as before (nothing fired, or monitor only).
    Goes,
    /// 401 `reauth_required` until `POST /reauth`, then the session goes on.
    StepUp,
    /// The session is gone.
    Revoked,
}

struct Case {
    name: &'static str,
    risk: &'static [&'static str],
    /// Where the login comes from: peer, user agent, forwarding header.
    from: (&'static str, &'static str, Option<&'static str>),
    /// Where the next request comes from, and how long after.
    to: (&'static str, &'static str, Option<&'static str>),
    after: Duration,
    want: &'static [(RiskRule, RiskAction)],
    then: Then,
}

#[tokio::test]
async fn rule_table_through_the_router() {
    use RiskAction::{Monitor, Revoke, StepUp};
    use RiskRule::*;
    let hour = Duration::from_secs(3600);
    let cases = [
        Case {
            name: "Wi-Fi change inside one /24",
            risk: &[],
            from: ("192.0.2.10", FIREFOX_121, None),
            to: ("192.0.2.201", FIREFOX_121, None),
            after: Duration::from_secs(20),
            want: &[],
            then: Then::Goes,
        },
        Case {
            name: "IPv6 privacy-address rotation inside one /48",
            risk: &[],
            from: ("[2001:db8:1:2:a1b2:c3d4:e5f6:1]:4711", FIREFOX_121, None),
            to: ("[2001:db8:1:ff00:1111:2222:3333:4444]:4711", FIREFOX_121, None),
            after: Duration::from_secs(20),
            want: &[],
            then: Then::Goes,
        },
        Case {
            name: "a browser version bump",
            risk: &[],
            from: ("192.0.2.10", FIREFOX_121, None),
            to: ("192.0.2.10", FIREFOX_122, None),
            after: hour,
            want: &[],
            then: Then::Goes,
        },
        Case {
            name: "a trusted proxy's hops: another proxy node, the same client",
            risk: &[],
            from: ("10.0.0.1", FIREFOX_121, Some("192.0.2.10")),
            to: ("10.0.0.2", FIREFOX_121, Some("192.0.2.10, 10.0.0.7")),
            after: Duration::from_secs(20),
            want: &[],
            then: Then::Goes,
        },
        Case {
            name: "a prefix jump (monitor logs only)",
            risk: &[],
            from: ("192.0.2.10", FIREFOX_121, None),
            to: ("198.51.100.7", FIREFOX_121, None),
            after: hour,
            want: &[(NetworkChange, Monitor), (AsnChange, Monitor)],
            then: Then::Goes,
        },
        Case {
            name: "a country change (mmdb): step-up by default",
            risk: &[],
            from: ("192.0.2.10", FIREFOX_121, None),
            to: ("203.0.113.9", FIREFOX_121, None),
            after: Duration::from_secs(86_400),
            want: &[(NetworkChange, Monitor), (AsnChange, Monitor), (CountryChange, StepUp)],
            then: Then::StepUp,
        },
        Case {
            name: "a country change too fast: impossible travel",
            risk: &["country-change=monitor", "impossible-travel=revoke"],
            from: ("192.0.2.10", FIREFOX_121, None),
            to: ("203.0.113.9", FIREFOX_121, None),
            after: Duration::from_secs(600),
            want: &[
                (NetworkChange, Monitor),
                (AsnChange, Monitor),
                (CountryChange, Monitor),
                (ImpossibleTravel, Revoke),
            ],
            then: Then::Revoked,
        },
        Case {
            name: "a device-family change, configured to revoke",
            risk: &["device-change=revoke"],
            from: ("192.0.2.10", FIREFOX_121, None),
            to: ("192.0.2.10", CHROME_LINUX, None),
            after: hour,
            want: &[(DeviceChange, Revoke)],
            then: Then::Revoked,
        },
        Case {
            name: "two prefixes within the concurrency window",
            risk: &["concurrent-use=step-up", "asn-change=off"],
            from: ("192.0.2.10", FIREFOX_121, None),
            to: ("198.51.100.7", FIREFOX_121, None),
            after: Duration::from_secs(10),
            want: &[(NetworkChange, Monitor), (ConcurrentUse, StepUp)],
            then: Then::StepUp,
        },
    ];
    let dir = support::TempDir::new();
    for c in cases {
        let user = format!("alice-{}", tag());
        let clock = ManualClock::new(T0);
        let events = Events::new(1024);
        let app = app(&args(dir.path(), &user, c.risk), &clock, events.clone()).await;
        let mut b = Browser::new(&app, c.from.0, c.from.1);
        b.xff = c.from.2.map(str::to_owned);
        b.login(&user).await;
        assert_eq!(b.me().await, (200, user.clone()), "{}: logged in", c.name);
        clock.advance(c.after);
        (b.peer, b.ua, b.xff) = (sock(c.to.0), c.to.1, c.to.2.map(str::to_owned));
        let (status, what) = b.me().await;
        assert_eq!(fired(&events), c.want, "{}: rules fired", c.name);
        match c.then {
            Then::Goes => assert_eq!((status, what), (200, user.clone()), "{}", c.name),
            Then::StepUp => {
                assert_eq!((status, what.as_str()), (401, "reauth_required"), "{}", c.name);
                assert_eq!(b.get("/notes").await.status, 401, "{}: every protected route", c.name);
                assert_eq!(b.get("/token").await.status, 401, "{}: no token meanwhile", c.name);
                assert_eq!(b.post("/reauth", &json!({"password": "wrong"})).await.status, 401, "{}", c.name);
                assert_eq!(b.me().await.1, "reauth_required", "{}: a wrong password clears nothing", c.name);
                let r = b.post("/reauth", &json!({"password": PASSWORD})).await;
                assert_eq!(r.status, 200, "{}: reauth: {}", c.name, r.body);
                assert_eq!(b.me().await, (200, user.clone()), "{}: cleared by /reauth", c.name);
                clock.advance(hour);
                assert_eq!(b.me().await, (200, user.clone()), "{}: and stays clear from here", c.name);
                assert_eq!(fired(&events).len(), c.want.len(), "{}: the new baseline fires nothing", c.name);
            }
            Then::Revoked => {
                assert_eq!((status, what.as_str()), (401, "not logged in"), "{}", c.name);
                let revoked = events.recent().iter().filter(|e| e.event.kind() == "session_revoked").count();
                assert_eq!(revoked, 1, "{}: revoked through the store", c.name);
                // Back where it came from, with the same cookie: the record is gone.
                (b.peer, b.ua, b.xff) = (sock(c.from.0), c.from.1, c.from.2.map(str::to_owned));
                assert_eq!(b.me().await.0, 401, "{}: the cookie names nothing any more", c.name);
            }
        }
        // Each firing is counted as a security event by its kind, and carries its evidence.
        for e in events.recent() {
            if let SecurityEvent::RiskDetected { rule, evidence, session, user: u, .. } = &e.event {
                assert!(
                    session.is_some() && u.as_deref() == Some(user.as_str()),
                    "{}: names the session",
                    c.name
                );
                match rule {
                    NetworkChange | ConcurrentUse => {
                        assert!(
                            evidence.from_network.is_some() && evidence.to_network.is_some(),
                            "{}",
                            c.name
                        )
                    }
                    CountryChange => assert_eq!(
                        (evidence.from_country.as_deref(), evidence.to_country.as_deref()),
                        (Some("SE"), Some("DE")),
                        "{}",
                        c.name
                    ),
                    AsnChange => assert_ne!(evidence.from_asn, evidence.to_asn, "{}", c.name),
                    ImpossibleTravel => assert!(evidence.speed_kmh.unwrap() > 1000, "{}", c.name),
                    DeviceChange => assert_eq!(
                        (
                            evidence.from_device.as_ref().and_then(|d| d.browser()),
                            evidence.to_device.as_ref().and_then(|d| d.browser())
                        ),
                        (Some("Firefox"), Some("Chrome")),
                        "{}",
                        c.name
                    ),
                    _ => {}
                }
            }
        }
    }
}

/// The stores that keep sessions server-side, as `policy.rs` picks them; a store whose
/// service is missing is skipped outside CI (and fails under `CI=true`).
fn stores(base: &ServeArgs) -> Vec<(&'static str, ServeArgs)> {
    let mut out = vec![
        ("memory", ServeArgs { store: StoreKind::Memory, ..base.clone() }),
        ("sqlite", ServeArgs { store: StoreKind::Sqlite, ..base.clone() }),
    ];
    let up = |name: &str, ok: bool| {
        if !ok {
            sessionwarden_test::env::service_missing(name, "not reachable");
        }
        ok
    };
    if up("postgres", std::net::TcpStream::connect("127.0.0.1:5432").is_ok()) {
        let pg = Some(sessionwarden_test::env::postgres_url());
        out.push(("postgres", ServeArgs { store: StoreKind::Postgres, database_url: pg, ..base.clone() }));
    }
    let redis_answers = |url: &str| {
        std::process::Command::new("redis-cli")
            .args(["-u", url, "ping"])
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"PONG"))
    };
    let prefix = format!("sw-risk-{}:", tag());
    let redis = |url: String| ServeArgs {
        store: StoreKind::Redis,
        redis_url: url,
        redis_prefix: prefix.clone(),
        redis_token_prefix: format!("{prefix}jwt:"),
        ..base.clone()
    };
    let single = sessionwarden_test::env::redis_url();
    if up("redis", redis_answers(&single)) {
        out.push(("redis", redis(single)));
    }
    let cluster = sessionwarden_test::env::redis_cluster_urls();
    if up("redis cluster", redis_answers(&cluster[0])) {
        out.push(("redis cluster", redis(cluster.join(","))));
    }
    out
}

/// `revoke` ends the session on every store: the request that fired gets no session, the
/// record is gone from the store (the user's listing is empty), and the old cookie, replayed
/// from the original client, loads nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_ends_the_session_on_every_store() {
    let dir = support::TempDir::new();
    let user = format!("bob-{}", tag());
    for (name, args) in stores(&args(dir.path(), &user, &["device-change=revoke"])) {
        let clock = ManualClock::new(T0);
        let events = Events::new(1024);
        let app = app(&args, &clock, events.clone()).await;
        let mut b = Browser::new(&app, "192.0.2.10", FIREFOX_121);
        b.login(&user).await;
        assert_eq!(b.me().await.0, 200, "{name}");
        let jar = b.c.jar.clone();
        let sessionwarden_server::stores::UserRevocation::Index(index) = &app.state.user_revocation else {
            panic!("{name}: a server-side store lists sessions");
        };
        assert_eq!(index.list_user(&user, T0).await.unwrap().len(), 1, "{name}");
        clock.advance(Duration::from_secs(60));
        b.ua = CHROME_LINUX;
        assert_eq!(b.me().await, (401, "not logged in".into()), "{name}: revoked");
        assert_eq!(fired(&events), [(RiskRule::DeviceChange, RiskAction::Revoke)], "{name}");
        assert!(
            index.list_user(&user, clock_now(&clock)).await.unwrap().is_empty(),
            "{name}: gone from the store"
        );
        let mut replay = Browser::new(&app, "192.0.2.10", FIREFOX_121);
        replay.c.jar = jar;
        assert_eq!(replay.me().await.0, 401, "{name}: the copied cookie loads nothing");
    }
}

fn clock_now(clock: &ManualClock) -> Timestamp {
    sessionwarden::Clock::now(clock)
}

/// A reused refresh token feeds the same engine: a `refresh_token_reuse` risk event with the
/// configured action, and under the default `revoke` the session the family was issued for
/// ends with it.
#[tokio::test]
async fn refresh_token_reuse_goes_through_the_engine() {
    let dir = support::TempDir::new();
    for (action, session_survives) in [("revoke", false), ("monitor", true)] {
        let user = format!("carol-{}", tag());
        let clock = ManualClock::new(T0);
        let events = Events::new(1024);
        let setting = format!("refresh-token-reuse={action}");
        let args = args(dir.path(), &user, &[setting.as_str()]);
        let app = app(&args, &clock, events.clone()).await;
        let mut b = Browser::new(&app, "192.0.2.10", FIREFOX_121);
        b.login(&user).await;
        let first = b.get("/token").await.json()["refresh_token"].as_str().unwrap().to_owned();
        b.csrf = b.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
        let refresh = |b: &Browser, token: &str| {
            let req = b
                .req("POST", "/token/refresh")
                .header("content-type", "application/json")
                .header("x-csrf-token", b.csrf.clone());
            (req, Body::from(json!({"refresh_token": token}).to_string()))
        };
        let (req, body) = refresh(&b, &first);
        assert_eq!(b.c.send(req, body).await.status, 200);
        clock.advance(Duration::from_secs(3600));
        let (req, body) = refresh(&b, &first);
        assert_eq!(b.c.send(req, body).await.status, 401, "{action}: reuse is refused");
        let want = if action == "revoke" { RiskAction::Revoke } else { RiskAction::Monitor };
        assert_eq!(fired(&events), [(RiskRule::RefreshTokenReuse, want)], "{action}");
        let reuse = events.recent().into_iter().find(|e| e.event.kind() == "risk_detected").unwrap();
        let SecurityEvent::RiskDetected { session, evidence, .. } = reuse.event else { unreachable!() };
        assert!(session.is_some() && evidence.family.is_some(), "{action}: names the session and family");
        let (status, _) = b.me().await;
        assert_eq!(status == 200, session_survives, "{action}");
    }
}

/// A loopback receiver that keeps every SET POSTed to it.
async fn receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<(String, String)>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let router = axum::Router::new().route(
        "/caep",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let tx = tx.clone();
            async move {
                let ct =
                    headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                let _ = tx.send((ct, body));
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{addr}/caep"), rx)
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Captured JSON log lines.
#[derive(Clone, Default)]
struct Logs(Arc<parking_lot::Mutex<Vec<u8>>>);

/// Every log line of this test binary, from a global JSON subscriber installed once. Global,
/// not a thread's default: a default set on one thread races with callsites other tests
/// register at the same moment (their interest can be cached as "never"), and lines went
/// missing under load.
fn captured_logs() -> Logs {
    static LOGS: std::sync::OnceLock<Logs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        logs
    })
    .clone()
}

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `--caep-export` to a loopback webhook: a step-up becomes `session-presented`, a revoke
/// `session-revoked`, each a `secevent+jwt` with `iss`, `iat`, `jti`, `events` and `sub_id`
/// naming the session by handle. Then the scan: no event, audit record, SET or log line
/// carries the cookie, the session id inside it, the password or the key.
#[tokio::test(flavor = "current_thread")]
async fn caep_export_and_no_secret_anywhere() {
    let logs = captured_logs();

    let dir = support::TempDir::new();
    let user = format!("dave-{}", tag());
    let (url, mut sets) = receiver().await;
    let target: sessionwarden_server::caep::CaepTarget = url.parse().unwrap();
    let (sink, writer) = sessionwarden_server::caep::CaepSink::channel("https://sw.example", false, target);
    let events = Events::with_sinks(1024, vec![Arc::new(sink)]);
    let clock = ManualClock::new(T0);
    let app = app(&args(dir.path(), &user, &["device-change=revoke"]), &clock, events.clone()).await;
    let _writer = writer.spawn(app.state.tokens.clone());

    let mut b = Browser::new(&app, "192.0.2.10", FIREFOX_121);
    b.login(&user).await;
    let cookies: Vec<String> = b.c.jar.values().cloned().collect();
    let handle =
        b.get("/account/sessions").await.json()["sessions"][0]["handle"].as_str().unwrap().to_owned();
    // A country change (step-up), then a browser change (revoke).
    clock.advance(Duration::from_secs(86_400));
    b.peer = sock("203.0.113.9");
    assert_eq!(b.me().await.1, "reauth_required");
    assert_eq!(b.post("/reauth", &json!({"password": PASSWORD})).await.status, 200);
    clock.advance(Duration::from_secs(60));
    b.ua = CHROME_LINUX;
    assert_eq!(b.me().await.0, 401);

    let mut got = Vec::new();
    while got.len() < 4 {
        let next = tokio::time::timeout(Duration::from_secs(10), sets.recv()).await;
        got.push(next.expect("the exporter delivers").unwrap());
    }
    let mut kinds = Vec::new();
    for (content_type, set) in &got {
        assert_eq!(content_type, "application/secevent+jwt");
        let parts: Vec<&str> = set.split('.').collect();
        assert_eq!(parts.len(), 3, "a compact JWS");
        let (header, claims) = (decode(parts[0]), decode(parts[1]));
        assert_eq!(header["typ"], "secevent+jwt");
        assert!(header["kid"].is_string() && header["alg"].is_string());
        assert_eq!(claims["iss"], "https://sw.example");
        assert!(claims["iat"].is_u64() && claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
        assert_eq!(claims["sub_id"]["format"], "complex");
        assert_eq!(claims["sub_id"]["session"], json!({"format": "opaque", "id": handle}));
        assert_eq!(claims["sub_id"]["user"]["id"], user.as_str());
        let events = claims["events"].as_object().unwrap();
        assert_eq!(events.len(), 1, "one event per SET");
        let (uri, body) = events.iter().next().unwrap();
        assert!(body["reason_admin"]["en"].as_str().unwrap().starts_with("risk rule "));
        assert!(body.get("ips").is_none(), "no address without --keep-client-address");
        kinds.push(uri.rsplit('/').next().unwrap().to_owned());
    }
    // The country change's three firings (network, ASN: monitor; country: step-up) are
    // presented; the browser change's revoke is revoked.
    kinds.sort();
    assert_eq!(kinds, ["session-presented", "session-presented", "session-presented", "session-revoked"]);

    // The scan.
    let mut secrets: Vec<String> = vec![PASSWORD.into(), SECRET_KEY.into()];
    secrets.push(base64::engine::general_purpose::STANDARD.encode(SECRET_KEY));
    secrets.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET_KEY));
    for cookie in &cookies {
        secrets.push(cookie.clone());
        // Each part of the sealed value (the sealed id among them), not the short version tag.
        secrets.extend(cookie.split('.').filter(|p| p.len() >= 16).map(str::to_owned));
    }
    let mut haystacks: Vec<(String, String)> = Vec::new();
    for e in events.recent() {
        haystacks.push(("event".into(), serde_json::to_string(&e).unwrap()));
        if let Some(entry) = sessionwarden_server::audit::entry_for(e.at, &e.event) {
            haystacks.push((
                "audit".into(),
                format!("{entry:?} {}", serde_json::to_string(&entry.detail).unwrap()),
            ));
        }
    }
    for (_, set) in &got {
        let parts: Vec<&str> = set.split('.').collect();
        haystacks.push(("set".into(), format!("{} {}", decode(parts[0]), decode(parts[1]))));
    }
    let log_text = String::from_utf8_lossy(&logs.0.lock()).into_owned();
    assert!(log_text.contains("risk_detected"), "the firings are logged");
    haystacks.extend(log_text.lines().map(|l| ("log".to_owned(), l.to_owned())));
    for (what, text) in &haystacks {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a {what} line carries a secret: {text}");
        }
    }
}
