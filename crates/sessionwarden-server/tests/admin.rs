//! The admin API through the real routers, in process: authentication, session revocation
//! taking effect at once, revoke-all's confirmation, 501 for missing capabilities, keys, the
//! audit records and their purge, the OpenAPI document, and a scan of everything the admin
//! plane says or writes for secrets.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD as STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sessionwarden::keyring::{Keyring, KeyringFile};
use sessionwarden::store::AuditQuery;
use sessionwarden::{Clock, Events, ManualClock, SystemClock, Timestamp};
use sessionwarden_server::App;
use sessionwarden_server::admin::{AdminState, AdminToken, admin_router};
use sessionwarden_server::audit::AuditSink;
use sessionwarden_server::auth::DemoUser;
use sessionwarden_server::cli::{ServeArgs, StoreKind};
use sessionwarden_server::keys::KeySource;
use sessionwarden_test::TestClient;
use sessionwarden_test::client::TestResponse;

const TOKEN: &str = "admin-token-0123456789-abcdefghijklmnopqrstuvwxyz";

/// Each test logs in users of its own, named for this run: the PostgreSQL store is shared
/// with other tests and runs, and a revocation by user must meet only this test's sessions.
const NAMES: [&str; 6] = ["alice", "bob", "carol", "dave", "erin", "frank"];

fn user(name: &str) -> String {
    static TAG: OnceLock<String> = OnceLock::new();
    let tag = TAG.get_or_init(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        format!("{}-{nanos}", std::process::id())
    });
    format!("{name}-{tag}")
}

fn users() -> Vec<DemoUser> {
    static USERS: OnceLock<Vec<DemoUser>> = OnceLock::new();
    USERS
        .get_or_init(|| {
            NAMES.iter().map(|n| DemoUser::parse(&format!("{}:pw-{n}", user(n))).unwrap()).collect()
        })
        .clone()
}

struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let d = std::env::temp_dir().join(format!("sw-admin-{}-{nanos}-{n}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Self(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An application with its admin router, audit sink and keyring file.
struct Setup {
    app: App,
    admin: Router,
    events: Events,
    sink: AuditSink,
    keyring_path: std::path::PathBuf,
    _dir: TempDir,
}

/// The stores these tests run on: memory and SQLite always; PostgreSQL and Redis when they
/// answer (under CI they must).
fn stores_under_test() -> Vec<StoreKind> {
    let mut kinds = vec![StoreKind::Memory, StoreKind::Sqlite];
    if std::net::TcpStream::connect("127.0.0.1:5432").is_ok() {
        kinds.push(StoreKind::Postgres);
    } else {
        sessionwarden_test::env::service_missing("PostgreSQL", "127.0.0.1:5432 refused");
    }
    if std::net::TcpStream::connect("127.0.0.1:6379").is_ok() {
        kinds.push(StoreKind::Redis);
    } else {
        sessionwarden_test::env::service_missing("Redis", "127.0.0.1:6379 refused");
    }
    kinds
}

async fn setup_with(store: StoreKind, clock: Arc<dyn Clock>, env_keys: bool) -> Setup {
    let dir = TempDir::new();
    let mut args = ServeArgs {
        store,
        insecure_cookies: true,
        demo_user: users(),
        data_dir: dir.0.clone(),
        ..ServeArgs::default()
    };
    match store {
        StoreKind::Postgres => args.database_url = Some(sessionwarden_test::env::postgres_url()),
        // A prefix of its own: other tests share this Redis.
        StoreKind::Redis => {
            args.redis_prefix = format!("sw-admin-{}:", dir.0.file_name().unwrap().to_str().unwrap())
        }
        _ => {}
    }
    let keyring_path = dir.0.join("keyring.json");
    let file = KeyringFile::load_or_create(&keyring_path, clock.now()).unwrap();
    let keyring = Keyring::new(file.key_set().unwrap());
    let (sink, writer) = AuditSink::channel(1024);
    let events = Events::with_sinks(1024, vec![Arc::new(sink.clone())]);
    let app = App::new(&args, keyring, events.clone(), clock).await.unwrap();
    if let Ok(log) = app.audit.clone() {
        writer.spawn(log);
    }
    let keys = if env_keys { KeySource::Env } else { KeySource::File(keyring_path.clone()) };
    let admin = admin_router(AdminState::new(&app, keys), Some(AdminToken::new(TOKEN).unwrap()));
    Setup { app, admin, events, sink, keyring_path, _dir: dir }
}

async fn setup(store: StoreKind) -> Setup {
    setup_with(store, Arc::new(SystemClock), false).await
}

/// Everything admin responses said, for the secret scan.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl Setup {
    fn browser(&self) -> TestClient {
        TestClient::new(self.app.router())
    }

    async fn admin_raw(&self, method: &str, uri: &str, auth: Option<&str>) -> TestResponse {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let r = TestClient::new(self.admin.clone()).send(req, Body::empty()).await;
        SEEN.lock().unwrap().push(format!("{:?}\n{}", r.headers, r.body));
        r
    }

    async fn admin(&self, method: &str, uri: &str) -> TestResponse {
        self.admin_raw(method, uri, Some(&format!("Bearer {TOKEN}"))).await
    }

    async fn handles(&self, name: &str) -> Vec<String> {
        let r = self.admin("GET", &format!("/admin/api/sessions?user={}", user(name))).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["handle"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The audit records once `pred` holds of them (the writer runs in the background).
    async fn audit_until(
        &self,
        pred: impl Fn(&[sessionwarden::store::AuditEntry]) -> bool,
    ) -> Vec<sessionwarden::store::AuditEntry> {
        let log = self.app.audit.clone().unwrap();
        for _ in 0..500 {
            let entries = log.query(&AuditQuery::newest(1000)).await.unwrap();
            if pred(&entries) {
                return entries;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("audit records never matched: {:?}", log.query(&AuditQuery::newest(1000)).await.unwrap());
    }
}

async fn login(browser: &mut TestClient, name: &str) {
    let (user, password) = (user(name), format!("pw-{name}"));
    let t = browser.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
    let req = Request::post("/login").header("content-type", "application/json").header("x-csrf-token", t);
    let r = browser.send(req, Body::from(json!({"username": user, "password": password}).to_string())).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

async fn me(browser: &mut TestClient) -> Value {
    browser.get("/me").await.json()["user"].clone()
}

#[tokio::test]
async fn bad_tokens_get_401_and_a_security_event() {
    let s = setup(StoreKind::Memory).await;
    let one_off = {
        let mut t = TOKEN.to_owned().into_bytes();
        t[10] ^= 1;
        String::from_utf8(t).unwrap()
    };
    let cases: [(&str, Option<String>, &str); 12] = [
        ("no header", None, "missing"),
        ("empty", Some(String::new()), "malformed"),
        ("scheme only", Some("Bearer".into()), "malformed"),
        ("scheme and space", Some("Bearer ".into()), "malformed"),
        ("wrong scheme", Some(format!("Basic {TOKEN}")), "malformed"),
        ("no scheme", Some(TOKEN.to_owned()), "malformed"),
        ("one char off", Some(format!("Bearer {one_off}")), "mismatch"),
        ("prefix", Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])), "mismatch"),
        ("suffix", Some(format!("Bearer {TOKEN}x")), "mismatch"),
        ("leading space", Some(format!("Bearer  {TOKEN}")), "mismatch"),
        ("trailing space", Some(format!("Bearer {TOKEN} ")), "mismatch"),
        ("tab", Some(format!("Bearer\t{TOKEN}")), "malformed"),
    ];
    for (i, (name, auth, reason)) in cases.iter().enumerate() {
        for path in ["/admin/api/sessions", "/admin/openapi.json", "/admin/api/keys", "/admin/nothing-here"] {
            let r = s.admin_raw("GET", path, auth.as_deref()).await;
            assert_eq!(r.status, 401, "{name} {path}: {}", r.body);
            assert!(
                r.headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"),
                "{name}: WWW-Authenticate"
            );
            assert_eq!(r.json(), json!({"error": "admin authentication required"}), "{name}");
        }
        let reasons: Vec<_> = s
            .events
            .recent()
            .iter()
            .filter(|e| e.event.kind() == "admin_auth_failed")
            .map(|e| e.event.reason().unwrap().to_owned())
            .collect();
        assert_eq!(reasons.len(), (i + 1) * 4, "{name}: one event per refusal");
        assert_eq!(reasons.last().map(String::as_str), Some(*reason), "{name}");
    }
    // The right token, with the scheme in any case.
    assert_eq!(s.admin("GET", "/admin/api/sessions").await.status, 200);
    assert_eq!(s.admin_raw("GET", "/admin/api/sessions", Some(&format!("bearer {TOKEN}"))).await.status, 200);
    // And the refusals reach the audit log.
    s.audit_until(|e| e.iter().filter(|e| e.kind == "admin_auth_failed").count() == cases.len() * 4).await;
}

#[tokio::test]
async fn revoking_one_session_ends_it_at_once() {
    for store in stores_under_test() {
        let s = setup(store).await;
        let (mut a, mut b) = (s.browser(), s.browser());
        login(&mut a, "carol").await;
        let first = s.handles("carol").await;
        assert_eq!(first.len(), 1, "{store:?}");
        login(&mut b, "carol").await;
        let both = s.handles("carol").await;
        assert_eq!(both.len(), 2, "{store:?}");
        let a_handle = first[0].clone();

        let shown = s.admin("GET", &format!("/admin/api/sessions/{a_handle}")).await;
        assert_eq!(shown.status, 200, "{store:?}: {}", shown.body);
        assert_eq!(shown.json()["user"], user("carol").as_str());

        let r = s.admin("POST", &format!("/admin/api/sessions/{a_handle}/revoke")).await;
        assert_eq!(r.status, 200, "{store:?}: {}", r.body);
        assert_eq!(me(&mut a).await, Value::Null, "{store:?}: the revoked cookie must stop working at once");
        assert_eq!(me(&mut b).await, user("carol").as_str(), "{store:?}: the other session is untouched");
        assert_eq!(s.handles("carol").await.len(), 1);
        let r = s.admin("POST", &format!("/admin/api/sessions/{a_handle}/revoke")).await;
        assert_eq!(r.status, 404, "{store:?}: revoked twice");
        assert_eq!(s.admin("GET", &format!("/admin/api/sessions/{a_handle}")).await.status, 404);
        assert_eq!(s.admin("GET", "/admin/api/sessions/not-a-handle").await.status, 400);

        let entries = s
            .audit_until(|e| {
                e.iter().any(|e| {
                    e.kind == "session_revoked" && e.handle.as_ref().is_some_and(|h| h.as_str() == a_handle)
                })
            })
            .await;
        assert!(
            entries.iter().all(|e| e.kind != "session_created"),
            "{store:?}: lifecycle noise is not audited"
        );
        let r = s.admin("GET", "/admin/api/events?type=session_revoked&limit=1000").await;
        assert_eq!(r.status, 200, "{}", r.body);
        let events = r.json()["events"].as_array().unwrap().clone();
        assert!(events.iter().all(|e| e["kind"] == "session_revoked"), "{store:?}: filtered by type");
        assert!(events.iter().any(|e| e["handle"] == a_handle.as_str()), "{store:?}");
    }
}

#[tokio::test]
async fn revoking_a_user_ends_their_sessions_and_refresh_tokens() {
    for store in stores_under_test() {
        let s = setup(store).await;
        let (mut a, mut b, mut other) = (s.browser(), s.browser(), s.browser());
        login(&mut a, "alice").await;
        login(&mut b, "alice").await;
        login(&mut other, "bob").await;
        let tokens = a.get("/token").await.json();
        let refresh = |token: String| {
            let mut stranger = s.browser();
            async move {
                let req = Request::post("/token/refresh").header("content-type", "application/json");
                stranger.send(req, Body::from(json!({"refresh_token": token}).to_string())).await
            }
        };
        let r = refresh(tokens["refresh_token"].as_str().unwrap().to_owned()).await;
        assert_eq!(r.status, 200, "{store:?}: refresh works before: {}", r.body);
        let next = r.json()["refresh_token"].as_str().unwrap().to_owned();

        let r = s.admin("POST", &format!("/admin/api/users/{}/revoke", user("alice"))).await;
        assert_eq!(r.status, 200, "{store:?}: {}", r.body);
        assert_eq!(r.json(), json!({"revoked_sessions": 2, "user": user("alice")}), "{store:?}");
        assert_eq!(me(&mut a).await, Value::Null);
        assert_eq!(me(&mut b).await, Value::Null);
        assert_eq!(me(&mut other).await, user("bob").as_str(), "{store:?}: another user keeps their session");
        let r = refresh(next).await;
        assert_eq!(r.status, 401, "{store:?}: alice's refresh token must be revoked: {}", r.body);

        // Other tests of this process share PostgreSQL and Redis (and revoke other users).
        let alice = user("alice");
        let mine = |e: &&sessionwarden::store::AuditEntry| {
            e.kind == "sessions_revoked" && e.user.as_deref() == Some(alice.as_str())
        };
        let e = s.audit_until(|e| e.iter().any(|x| mine(&x))).await;
        let entry = e.iter().find(mine).unwrap();
        assert_eq!(
            (entry.user.as_deref(), &entry.detail["sessions"]),
            (Some(user("alice").as_str()), &json!(2))
        );
        let r =
            s.admin("GET", &format!("/admin/api/events?user={}&type=sessions_revoked", user("alice"))).await;
        assert_eq!(r.json()["events"].as_array().unwrap().len(), 1, "{store:?}: {}", r.body);
    }
}

#[tokio::test]
async fn revoke_all_needs_its_confirmation() {
    // Memory and SQLite only: on the shared PostgreSQL and Redis this would end other tests'
    // sessions.
    for store in [StoreKind::Memory, StoreKind::Sqlite] {
        let s = setup(store).await;
        let (mut a, mut b) = (s.browser(), s.browser());
        login(&mut a, "alice").await;
        login(&mut b, "bob").await;
        for uri in ["/admin/api/sessions/revoke-all", "/admin/api/sessions/revoke-all?confirm=yes"] {
            let r = s.admin("POST", uri).await;
            assert_eq!(r.status, 400, "{uri}: {}", r.body);
            assert!(r.body.contains("confirm=revoke-all"), "{}", r.body);
        }
        assert_eq!(me(&mut a).await, user("alice").as_str(), "a refused revoke-all revokes nothing");
        let r = s.admin("POST", "/admin/api/sessions/revoke-all?confirm=revoke-all").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.json()["revoked_sessions"], 2);
        assert_eq!(me(&mut a).await, Value::Null);
        assert_eq!(me(&mut b).await, Value::Null);
        let r = s.admin("GET", "/admin/api/sessions").await;
        assert_eq!(r.json()["sessions"], json!([]));
    }
}

#[tokio::test]
async fn missing_capabilities_answer_501_naming_them() {
    let s = setup_with(StoreKind::Cookie, Arc::new(SystemClock), true).await;
    let cases = [
        ("GET", "/admin/api/sessions", "session_index"),
        ("GET", "/admin/api/sessions?user=alice", "session_index"),
        ("GET", "/admin/api/sessions/AAAAAAAAAAAAAAAAAAAAAA", "session_index"),
        ("POST", "/admin/api/sessions/AAAAAAAAAAAAAAAAAAAAAA/revoke", "session_index"),
        ("POST", "/admin/api/users/alice/revoke", "session_index"),
        ("POST", "/admin/api/sessions/revoke-all?confirm=revoke-all", "session_index"),
        ("GET", "/admin/api/events", "audit_log"),
        ("GET", "/admin/api/keys", "keyring_file"),
        ("POST", "/admin/api/keys/rotate", "keyring_file"),
        ("POST", "/admin/api/keys/1/retire", "keyring_file"),
    ];
    for (method, uri, capability) in cases {
        let r = s.admin(method, uri).await;
        assert_eq!(r.status, 501, "{method} {uri}: {}", r.body);
        let j = r.json();
        assert_eq!(j["capability"], capability, "{uri}");
        assert_eq!(j["error"], "not supported by the configured store");
        assert!(j.get("sessions").is_none() && j.get("events").is_none(), "never an empty list");
    }
}

#[tokio::test]
async fn keys_rotate_and_retire_without_showing_material() {
    let s = setup(StoreKind::Memory).await;
    let listed = s.admin("GET", "/admin/api/keys").await.json();
    let keys = listed["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["state"], "primary");
    let first = keys[0]["kid"].as_u64().unwrap();
    let mut fields: Vec<_> = keys[0].as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["created", "kid", "state"]);

    let r = s.admin("POST", "/admin/api/keys/rotate").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let keys = r.json()["keys"].as_array().unwrap().clone();
    let primary: Vec<_> = keys.iter().filter(|k| k["state"] == "primary").collect();
    assert_eq!(primary.len(), 1);
    let second = primary[0]["kid"].as_u64().unwrap();
    assert_ne!(first, second);
    assert_eq!(s.app.state.keyring.current().primary().id().get() as u64, second, "in use at once");
    // The file says the same (the CLI and the watcher read it).
    let file = KeyringFile::load(&s.keyring_path).unwrap();
    assert_eq!(file.entries().len(), 2);

    let r = s.admin("POST", &format!("/admin/api/keys/{second}/retire")).await;
    assert_eq!(r.status, 409, "the primary cannot be retired: {}", r.body);
    let r = s.admin("POST", "/admin/api/keys/4000000000/retire").await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(s.admin("POST", "/admin/api/keys/x/retire").await.status, 400);
    let r = s.admin("POST", &format!("/admin/api/keys/{first}/retire")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let states: Vec<_> = r.json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_u64().unwrap(), k["state"].clone()))
        .collect();
    assert!(states.contains(&(first, json!("retired"))), "{states:?}");
}

#[tokio::test]
async fn audit_records_older_than_the_retention_are_purged() {
    let clock = ManualClock::new(Timestamp::from_unix(1_800_000_000));
    let s = setup_with(StoreKind::Sqlite, Arc::new(clock.clone()), false).await;
    assert_eq!(s.app.audit_retention, Duration::from_secs(90 * 86_400), "the default is 90 days");
    let mut maintenance = s.app.maintenance();
    assert!(format!("{maintenance:?}").contains("audit purge"));
    let r = s.admin_raw("GET", "/admin/api/sessions", None).await;
    assert_eq!(r.status, 401);
    s.audit_until(|e| e.len() == 1).await;
    maintenance.run_due().await;
    s.audit_until(|e| e.len() == 1).await;
    clock.advance(Duration::from_secs(89 * 86_400));
    let reports = maintenance.run_due().await;
    assert!(reports.iter().any(|r| r.name() == "audit purge" && r.removed() == Some(0)), "{reports:?}");
    clock.advance(Duration::from_secs(2 * 86_400));
    let reports = maintenance.run_due().await;
    assert!(reports.iter().any(|r| r.name() == "audit purge" && r.removed() == Some(1)), "{reports:?}");
    let log = s.app.audit.clone().unwrap();
    assert!(log.query(&AuditQuery::newest(10)).await.unwrap().is_empty());
}

#[tokio::test]
async fn openapi_document_covers_every_route_and_parses() {
    let s = setup(StoreKind::Memory).await;
    let r = s.admin("GET", "/admin/openapi.json").await;
    assert_eq!(r.status, 200);
    let doc: Value = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    // The document parses as OpenAPI 3 (the 3.1 document utoipa writes, read by oas3).
    let parsed: oas3::OpenApiV3Spec = oas3::from_json(&r.body).unwrap();
    assert!(!parsed.paths.as_ref().unwrap().is_empty());
    assert_eq!(serde_json::to_value(sessionwarden_server::admin::api::openapi()).unwrap(), doc);

    let documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    // Every route the admin plane has must be in the document.
    let routes = [
        ("GET", "/admin/api/sessions"),
        ("GET", "/admin/api/sessions/{handle}"),
        ("POST", "/admin/api/sessions/{handle}/revoke"),
        ("POST", "/admin/api/users/{user}/revoke"),
        ("POST", "/admin/api/users/{user}/disable"),
        ("POST", "/admin/api/users/{user}/enable"),
        ("GET", "/admin/api/users/disabled"),
        ("POST", "/admin/api/sessions/revoke-all"),
        ("GET", "/admin/api/events"),
        ("GET", "/admin/api/keys"),
        ("POST", "/admin/api/keys/rotate"),
        ("POST", "/admin/api/keys/{kid}/retire"),
        ("GET", "/admin/openapi.json"),
    ];
    for (m, p) in routes {
        assert!(documented.contains(&(m.to_owned(), p.to_owned())), "{m} {p} is not documented");
    }
    assert_eq!(documented.len(), routes.len(), "undocumented extras: {documented:?}");
    // And every documented route is served (an unknown route is the router's bare 404).
    for (m, p) in &documented {
        let uri = p
            .replace("{handle}", "AAAAAAAAAAAAAAAAAAAAAA")
            .replace("{user}", "nobody")
            .replace("{kid}", "4000000000");
        let r = s.admin(m, &uri).await;
        assert!(r.status != 405 && !r.body.is_empty(), "{m} {uri} is not served: {}", r.status);
        let _: Value = serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("{m} {uri}: not JSON"));
    }
    let r = s.admin("GET", "/admin/api/nothing").await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (404, ""));
    // Every session listing field is in the schema (SessionInfo goes through serde).
    let mut a = s.browser();
    login(&mut a, "alice").await;
    let listed = s.admin("GET", "/admin/api/sessions").await.json();
    let schema = &doc["components"]["schemas"]["SessionInfoDoc"]["properties"];
    for field in listed["sessions"][0].as_object().unwrap().keys() {
        assert!(schema.get(field).is_some(), "{field} is missing from the SessionInfoDoc schema");
    }
}

/// Collects what `tracing` writes while a test runs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

/// Secrets: each value, and its common encodings, must appear nowhere.
fn secrets_in(cookie_jar: &TestClient, keyring_path: &std::path::Path) -> Vec<String> {
    let mut secrets = vec![TOKEN.to_owned()];
    for value in cookie_jar.jar.values() {
        secrets.push(value.clone());
        // The envelope's parts (the id's encoding among them).
        for part in value.split('.').filter(|p| p.len() >= 16) {
            secrets.push(part.to_owned());
            if let Ok(bytes) = URL_SAFE_NO_PAD.decode(part) {
                secrets.extend(sessionwarden_test::env::encodings(&bytes));
            }
        }
    }
    // Every long string of the keyring file is key material.
    let file: Value = serde_json::from_str(&std::fs::read_to_string(keyring_path).unwrap()).unwrap();
    fn strings(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) if s.len() >= 32 => {
                out.push(s.clone());
                for engine in [&URL_SAFE_NO_PAD, &STANDARD] {
                    if let Ok(bytes) = engine.decode(s.trim_end_matches('=')) {
                        out.extend(sessionwarden_test::env::encodings(&bytes));
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
            Value::Object(o) => o.values().for_each(|v| strings(v, out)),
            _ => {}
        }
    }
    strings(&file, &mut secrets);
    secrets
}

#[tokio::test]
async fn no_secret_in_admin_responses_logs_or_audit_records() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    for store in stores_under_test() {
        let s = setup(store).await;
        let mut a = s.browser();
        login(&mut a, "dave").await;
        let _ = a.get("/token").await;
        let mut b = s.browser();
        login(&mut b, "erin").await;
        // A tampered cookie and bad tokens, so refusals are logged and audited too.
        let mut tampered = s.browser();
        tampered.jar = a.jar.iter().map(|(k, v)| (k.clone(), format!("{v}x"))).collect();
        let _ = tampered.get("/me").await;
        let _ = s.admin_raw("GET", "/admin/api/sessions", Some(&format!("Bearer {TOKEN}x"))).await;
        let _ = s.admin_raw("GET", "/admin/api/sessions", Some(&format!("Basic {TOKEN}"))).await;
        let handles = s.handles("dave").await;
        let _ = s.admin("GET", "/admin/api/sessions").await;
        let _ = s.admin("GET", &format!("/admin/api/sessions/{}", handles[0])).await;
        let _ = s.admin("GET", "/admin/api/keys").await;
        let _ = s.admin("POST", "/admin/api/keys/rotate").await;
        let _ = s.admin("GET", "/admin/openapi.json").await;
        let secrets = {
            let mut v = secrets_in(&a, &s.keyring_path);
            v.extend(secrets_in(&b, &s.keyring_path));
            v
        };
        let _ = s.admin("POST", &format!("/admin/api/sessions/{}/revoke", handles[0])).await;
        let _ = s.admin("POST", &format!("/admin/api/users/{}/revoke", user("erin"))).await;
        let _ = a.post_json("/logout", &json!({})).await;
        let entries = s.audit_until(|e| e.iter().any(|e| e.kind == "sessions_revoked")).await;
        let _ = s.admin("GET", "/admin/api/events?limit=1000").await;
        assert_eq!(s.sink.dropped(), 0);

        let audit = serde_json::to_string(&entries).unwrap();
        let said = SEEN.lock().unwrap().join("\n");
        let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
        assert!(logged.contains("admin_auth_failed"), "the capture must hold the events");
        for secret in &secrets {
            {
                let enc = secret.clone();
                assert!(!said.contains(&enc), "{store:?}: an admin response holds a secret");
                assert!(!logged.contains(&enc), "{store:?}: the log holds a secret");
                assert!(!audit.contains(&enc), "{store:?}: an audit record holds a secret");
            }
        }
    }
}

#[tokio::test]
async fn logout_everywhere_is_audited_like_an_admin_revocation() {
    let s = setup(StoreKind::Memory).await;
    let (mut a, mut b) = (s.browser(), s.browser());
    login(&mut a, "bob").await;
    login(&mut b, "bob").await;
    let t = a.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
    let r = a.send(Request::post("/logout-everywhere").header("x-csrf-token", t), Body::empty()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(me(&mut b).await, Value::Null);
    let entries = s.audit_until(|e| e.iter().any(|e| e.kind == "sessions_revoked")).await;
    let entry = entries.iter().find(|e| e.kind == "sessions_revoked").unwrap();
    assert_eq!(entry.user.as_deref(), Some(user("bob").as_str()));
    assert_eq!(entry.detail["sessions"], 2);
}

/// Without a token (allowed on loopback only, see `AdminConfig::new`) nothing is asked of a
/// request; with one, the same router refuses it.
#[tokio::test]
async fn without_a_token_the_router_lets_requests_through() {
    let s = setup(StoreKind::Memory).await;
    let open = admin_router(AdminState::new(&s.app, KeySource::Env), None);
    let r = TestClient::new(open).get("/admin/api/sessions").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.admin_raw("GET", "/admin/api/sessions", None).await.status, 401);
}

/// The admin listing pages by cursor: every session once, `next` null at the end, and a
/// session looked up by handle is found without a scan.
#[tokio::test]
async fn the_session_listing_pages_by_cursor() {
    let s = setup(StoreKind::Memory).await;
    for _ in 0..5 {
        let mut b = s.browser();
        assert_eq!(b.get("/csrf-token").await.status, 200);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let uri = match &cursor {
            Some(c) => format!("/admin/api/sessions?limit=2&cursor={c}"),
            None => "/admin/api/sessions?limit=2".to_owned(),
        };
        let r = s.admin("GET", &uri).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let page = r.json();
        let sessions = page["sessions"].as_array().unwrap();
        assert!(sessions.len() <= 2);
        seen.extend(sessions.iter().map(|s| s["handle"].as_str().unwrap().to_owned()));
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (5, 5), "every session once: {seen:?}");
    let r = s.admin("GET", &format!("/admin/api/sessions/{}", seen[3])).await;
    assert_eq!((r.status.as_u16(), r.json()["handle"].clone()), (200, serde_json::json!(seen[3])));
    assert_eq!(s.admin("GET", "/admin/api/sessions?cursor=not-a-handle").await.status, 400);
}

/// ASVS 7.4.2 through the admin API: disabling a user ends their sessions at once and refuses
/// their logins until they are enabled again; the disabled list names them.
#[tokio::test]
async fn asvs_7_4_2_the_admin_api_disables_and_enables_users() {
    for store in stores_under_test() {
        let s = setup(store).await;
        // A user no other test logs in: the stores are shared by the tests of this process.
        let name = "frank";
        let mut b = s.browser();
        login(&mut b, name).await;
        assert_eq!(me(&mut b).await, json!(user(name)), "{store:?}");
        let r = s.admin("POST", &format!("/admin/api/users/{}/disable", user(name))).await;
        assert_eq!(r.status, 200, "{store:?}: {}", r.body);
        assert_eq!((r.json()["disabled"].clone(), r.json()["changed"].clone()), (json!(true), json!(true)));
        assert!(r.json()["revoked_sessions"].as_u64().unwrap() >= 1, "{store:?}: {}", r.body);
        assert_eq!(me(&mut b).await, Value::Null, "{store:?}: the old cookie has no user");
        let r = s.admin("GET", "/admin/api/users/disabled").await;
        assert!(r.body.contains(&user(name)), "{store:?}: {}", r.body);
        let mut again = s.browser();
        let t = again.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
        let req =
            Request::post("/login").header("content-type", "application/json").header("x-csrf-token", t);
        let body = json!({"username": user(name), "password": format!("pw-{name}")}).to_string();
        assert_eq!(again.send(req, Body::from(body)).await.status, 401, "{store:?}: logins refused");
        let r = s.admin("POST", &format!("/admin/api/users/{}/enable", user(name))).await;
        assert_eq!((r.status.as_u16(), r.json()["changed"].clone()), (200, json!(true)), "{store:?}");
        login(&mut again, name).await;
        assert_eq!(me(&mut again).await, json!(user(name)), "{store:?}: enabled again");
    }
}
