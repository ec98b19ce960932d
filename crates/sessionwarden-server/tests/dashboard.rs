//! The admin dashboard: in process, its sign-in, its CSRF protection and the JSON API's
//! bearer token beside it; then in a real browser (Debian's Chromium through chromedriver,
//! driven by fantoccini), signing in, revoking a session, disabling a user, rotating and
//! retiring keys, reading the events, all by keyboard where a person would use it, with a
//! screenshot of each page in `<target>/dashboard-screenshots/` and every page's source
//! scanned for secrets.
//!
//! Without `/usr/bin/chromium` or `/usr/bin/chromedriver` the browser test fails under
//! `CI=true` (`.ci/run` installs them) and otherwise skips with the reason printed.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD as STANDARD, URL_SAFE_NO_PAD};
use fantoccini::actions::{InputSource as _, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use sessionwarden::keyring::{KeySet, Keyring, KeyringFile};
use sessionwarden::store::AuditQuery;
use sessionwarden::{Clock as _, Events, SystemClock};
use sessionwarden_server::App;
use sessionwarden_server::admin::{AdminState, AdminToken, EventRate, admin_router};
use sessionwarden_server::audit::AuditSink;
use sessionwarden_server::auth::DemoUser;
use sessionwarden_server::cli::{ServeArgs, StoreKind};
use sessionwarden_server::keys::KeySource;
use sessionwarden_test::TestClient;
use sessionwarden_test::client::TestResponse;

const TOKEN: &str = "dashboard-token-0123456789-abcdefghijklmnopqrstuvwxyz";

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let d = std::env::temp_dir().join(format!("sw-dash-{tag}-{}-{nanos}-{n}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        Self(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An application on the memory store with demo users alice and bob, its admin router with
/// the events-per-minute counter, and its keyring file. Plain-http cookies (`sw-admin`)
/// unless `secure`.
struct Setup {
    app: App,
    admin: Router,
    events: Events,
    keyring_path: PathBuf,
    _dir: TempDir,
}

async fn setup() -> Setup {
    setup_with(false).await
}

async fn setup_with(secure: bool) -> Setup {
    let dir = TempDir::new("app");
    let args = ServeArgs {
        store: StoreKind::Memory,
        insecure_cookies: !secure,
        demo_user: vec![DemoUser::parse("alice:pw-alice").unwrap(), DemoUser::parse("bob:pw-bob").unwrap()],
        data_dir: dir.0.clone(),
        ..ServeArgs::default()
    };
    let keyring_path = dir.0.join("keyring.json");
    let file = KeyringFile::load_or_create(&keyring_path, SystemClock.now()).unwrap();
    let keyring = Keyring::new(file.key_set().unwrap());
    let (sink, writer) = AuditSink::channel(1024);
    let rate = EventRate::default();
    let events = Events::with_sinks(1024, vec![Arc::new(sink), Arc::new(rate.clone())]);
    let app = App::new(&args, keyring, events.clone(), Arc::new(SystemClock)).await.unwrap();
    writer.spawn(app.audit.clone().unwrap());
    let state = AdminState::new(&app, KeySource::File(keyring_path.clone())).with_event_rate(rate);
    let admin = admin_router(state, Some(AdminToken::new(TOKEN).unwrap()));
    Setup { app, admin, events, keyring_path, _dir: dir }
}

impl Setup {
    fn browser(&self) -> TestClient {
        TestClient::new(self.app.router())
    }

    fn admin_client(&self) -> TestClient {
        TestClient::new(self.admin.clone())
    }

    fn count(&self, kind: &str) -> usize {
        self.events.recent().iter().filter(|e| e.event.kind() == kind).count()
    }

    fn key_count(&self) -> usize {
        KeyringFile::load(&self.keyring_path).unwrap().entries().len()
    }
}

async fn login(browser: &mut TestClient, user: &str) -> TestResponse {
    let t = browser.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
    let req = Request::post("/login").header("content-type", "application/json").header("x-csrf-token", t);
    let body = json!({"username": user, "password": format!("pw-{user}")}).to_string();
    browser.send(req, Body::from(body)).await
}

async fn me(browser: &mut TestClient) -> Value {
    browser.get("/me").await.json()["user"].clone()
}

/// The handle of `browser`'s own session, as the user's self-service listing names it.
async fn own_handle(browser: &mut TestClient) -> String {
    let r = browser.get("/account/sessions").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.json()["sessions"].as_array().unwrap().clone();
    list.iter().find(|s| s["current"] == true).unwrap()["handle"].as_str().unwrap().to_owned()
}

/// The CSRF token of the first form of `html`.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf_token\" value=\"").expect("a form with a CSRF token") + 25;
    html[at..].split('"').next().unwrap().to_owned()
}

async fn post_form(client: &mut TestClient, uri: &str, form: &[(&str, &str)]) -> TestResponse {
    let body: String =
        form.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
    let req = Request::post(uri).header("content-type", "application/x-www-form-urlencoded");
    client.send(req, Body::from(body)).await
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn location(r: &TestResponse) -> &str {
    r.headers.get("location").map_or("", |v| v.to_str().unwrap())
}

/// A signed-in dashboard client.
async fn signed_in(s: &Setup) -> TestClient {
    sign_in(s.admin_client()).await
}

async fn sign_in(mut admin: TestClient) -> TestClient {
    let form = admin.get("/admin/sign-in").await;
    let r =
        post_form(&mut admin, "/admin/sign-in", &[("csrf_token", &csrf_of(&form.body)), ("token", TOKEN)])
            .await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/admin"), "{}", r.body);
    admin
}

#[tokio::test]
async fn pages_without_a_session_redirect_to_sign_in() {
    let s = setup().await;
    let mut admin = s.admin_client();
    for path in ["/admin", "/admin/sessions?user=alice", "/admin/users/alice", "/admin/events", "/admin/keys"]
    {
        let r = admin.get(path).await;
        assert_eq!((r.status.as_u16(), location(&r)), (303, "/admin/sign-in"), "{path}");
        assert!(r.set_cookies().is_empty(), "{path}: a redirect starts no session");
    }
    // An action without a session does nothing.
    for path in ["/admin/keys/rotate", "/admin/users/alice/disable", "/admin/sign-out"] {
        let r = post_form(&mut admin, path, &[]).await;
        assert_eq!((r.status.as_u16(), location(&r)), (303, "/admin/sign-in"), "{path}");
    }
    assert_eq!(s.key_count(), 1);
    // The sign-in page itself is served, with a labelled token field and the CSRF token.
    let r = admin.get("/admin/sign-in").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<label for=\"token\">") && r.body.contains("id=\"token\""), "{}", r.body);
    assert!(!csrf_of(&r.body).is_empty());
    assert!(r.headers["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    assert_eq!(r.headers["x-frame-options"], "DENY");
    let cookie = r.set_cookies().join("\n");
    assert!(cookie.starts_with("sw-admin=") && cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
}

#[tokio::test]
async fn sign_in_needs_the_csrf_token_and_the_admin_token() {
    let s = setup().await;
    let mut admin = s.admin_client();
    let form = admin.get("/admin/sign-in").await;
    let csrf = csrf_of(&form.body);
    /// A sign-in attempt: its form fields, the status, and the `admin_auth_failed` reason
    /// (`None`: refused by the CSRF check before the token is looked at).
    struct Case<'a> {
        name: &'a str,
        fields: Vec<(&'a str, &'a str)>,
        status: u16,
        reason: Option<&'a str>,
    }
    let wrong = "dashboard-token-0123456789-abcdefghijklmnopqrstuvwxyZ";
    let cases = [
        Case { name: "no CSRF token", fields: vec![("token", TOKEN)], status: 403, reason: None },
        Case {
            name: "a forged CSRF token",
            fields: vec![("csrf_token", "x"), ("token", TOKEN)],
            status: 403,
            reason: None,
        },
        Case {
            name: "no admin token",
            fields: vec![("csrf_token", &csrf)],
            status: 401,
            reason: Some("missing"),
        },
        Case {
            name: "an empty admin token",
            fields: vec![("csrf_token", &csrf), ("token", " ")],
            status: 401,
            reason: Some("missing"),
        },
        Case {
            name: "a wrong admin token",
            fields: vec![("csrf_token", &csrf), ("token", wrong)],
            status: 401,
            reason: Some("mismatch"),
        },
    ];
    for Case { name, fields, status, reason } in cases {
        let (csrf_before, auth_before) = (s.count("csrf_rejected"), s.count("admin_auth_failed"));
        let r = post_form(&mut admin, "/admin/sign-in", &fields).await;
        assert_eq!(r.status.as_u16(), status, "{name}: {}", r.body);
        match reason {
            None => assert_eq!(s.count("csrf_rejected"), csrf_before + 1, "{name}"),
            Some(reason) => {
                assert_eq!(s.count("admin_auth_failed"), auth_before + 1, "{name}");
                let last =
                    s.events.recent().into_iter().rev().find(|e| e.event.kind() == "admin_auth_failed");
                assert_eq!(last.unwrap().event.reason(), Some(reason), "{name}");
                // The form again, with one generic error and nothing of what was typed.
                assert!(r.body.contains("Sign-in failed.") && r.body.contains("id=\"token\""), "{name}");
                assert!(!r.body.contains("abcdefghijklmnopqrstuvwxyZ"), "{name}");
            }
        }
        assert!(!r.body.contains("Overview"), "{name}: not signed in");
    }
    assert_eq!(admin.get("/admin").await.status, 303, "still signed out");
    // The right token, with the whitespace of a paste around it.
    let jar_before = admin.jar.clone();
    let r =
        post_form(&mut admin, "/admin/sign-in", &[("csrf_token", &csrf), ("token", &format!(" {TOKEN}\n"))])
            .await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/admin"), "{}", r.body);
    assert_ne!(admin.jar, jar_before, "signing in issues a new session id");
    let r = admin.get("/admin").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Overview"));
    // The pre-sign-in CSRF token died with the rotation.
    let r = post_form(&mut admin, "/admin/keys/rotate", &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status, 403);
    assert_eq!(s.key_count(), 1);
    // The old cookie does not sign in.
    let mut stale = s.admin_client();
    stale.jar = jar_before;
    assert_eq!(stale.get("/admin").await.status, 303);
}

#[tokio::test]
async fn actions_without_the_csrf_token_are_refused() {
    let s = setup().await;
    let mut alice = s.browser();
    assert_eq!(login(&mut alice, "alice").await.status, 200);
    let handle = own_handle(&mut alice).await;
    let mut admin = signed_in(&s).await;
    let page = admin.get("/admin/keys").await;
    let csrf = csrf_of(&page.body);
    let actions = [
        "/admin/keys/rotate".to_owned(),
        "/admin/keys/1/retire".to_owned(),
        format!("/admin/sessions/{handle}/revoke"),
        "/admin/users/alice/revoke".to_owned(),
        "/admin/users/alice/disable".to_owned(),
        "/admin/users/alice/enable".to_owned(),
        "/admin/sign-out".to_owned(),
    ];
    for action in &actions {
        let before = s.count("csrf_rejected");
        let r = post_form(&mut admin, action, &[]).await;
        assert_eq!(r.status, 403, "{action}: {}", r.body);
        assert_eq!(s.count("csrf_rejected"), before + 1, "{action}");
        // Another session's token is no better.
        let mut other = signed_in(&s).await;
        let theirs = csrf_of(&other.get("/admin/keys").await.body);
        let r = post_form(&mut admin, action, &[("csrf_token", &theirs)]).await;
        assert_eq!(r.status, 403, "{action} with another session's token");
    }
    assert_eq!(s.key_count(), 1, "nothing rotated");
    assert_eq!(me(&mut alice).await, json!("alice"), "nothing revoked or disabled");
    assert_eq!(admin.get("/admin").await.status, 200, "still signed in");
    // With the token, the same action works and says so on the next page.
    let r = post_form(&mut admin, "/admin/keys/rotate", &[("csrf_token", &csrf)]).await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/admin/keys"));
    assert_eq!(s.key_count(), 2);
    let page = admin.get("/admin/keys").await;
    assert!(page.body.contains("Done: </strong>rotated: key"), "{}", page.body);
    // Shown once.
    assert!(!admin.get("/admin/keys").await.body.contains("Done:"));
    // A cross-site form post is refused by the origin check, token or not.
    let req = Request::post("/admin/keys/rotate")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "cross-site");
    let csrf = csrf_of(&admin.get("/admin/keys").await.body);
    let r = admin.send(req, Body::from(format!("csrf_token={}", urlencode(&csrf)))).await;
    assert_eq!(r.status, 403);
    assert_eq!(s.key_count(), 2);
}

#[tokio::test]
async fn the_json_api_still_needs_the_bearer_token() {
    let s = setup().await;
    let mut admin = signed_in(&s).await;
    // The dashboard's session cookie opens no API route, document or unknown path.
    for path in ["/admin/api/sessions", "/admin/api/keys", "/admin/openapi.json", "/admin/nothing-here"] {
        let r = admin.get(path).await;
        assert_eq!(r.status, 401, "{path}: {}", r.body);
        assert_eq!(r.json(), json!({"error": "admin authentication required"}), "{path}");
    }
    let r = post_form(&mut admin, "/admin/api/keys/rotate", &[("csrf_token", "x")]).await;
    assert_eq!(r.status, 401);
    assert_eq!(s.key_count(), 1);
    // With the bearer token it answers, without any dashboard session.
    let req = Request::get("/admin/api/keys").header("authorization", format!("Bearer {TOKEN}"));
    let r = s.admin_client().send(req, Body::empty()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["keys"].as_array().unwrap().len(), 1);
    // And a bearer token is no way into the dashboard.
    let req = Request::get("/admin").header("authorization", format!("Bearer {TOKEN}"));
    let r = s.admin_client().send(req, Body::empty()).await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/admin/sign-in"));
}

#[tokio::test]
async fn sign_out_ends_the_dashboard_session() {
    let s = setup().await;
    let mut admin = signed_in(&s).await;
    let stolen = admin.jar.clone();
    let csrf = csrf_of(&admin.get("/admin").await.body);
    let r = post_form(&mut admin, "/admin/sign-out", &[("csrf_token", &csrf)]).await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/admin/sign-in?signed_out=1"));
    assert!(admin.get("/admin/sign-in?signed_out=1").await.body.contains("You are signed out."));
    let mut copy = s.admin_client();
    copy.jar = stolen;
    assert_eq!(copy.get("/admin").await.status, 303, "a copy of the cookie is dead too");
}

#[tokio::test]
async fn without_a_token_the_loopback_dashboard_signs_in_with_a_button() {
    let s = setup().await;
    let keys = KeySource::File(s.keyring_path.clone());
    let admin = admin_router(AdminState::new(&s.app, keys), None);
    let mut client = TestClient::new(admin);
    let form = client.get("/admin/sign-in").await;
    assert!(!form.body.contains("id=\"token\""), "no token field: {}", form.body);
    assert!(form.body.contains("No admin token is set"), "{}", form.body);
    // Still a CSRF-checked form: a forged sign-in is refused.
    assert_eq!(post_form(&mut client, "/admin/sign-in", &[]).await.status, 403);
    let r = post_form(&mut client, "/admin/sign-in", &[("csrf_token", &csrf_of(&form.body))]).await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/admin"));
    let r = client.get("/admin").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("This server does not count events per minute."), "no EventRate given");
}

#[tokio::test]
async fn sessions_page_by_cursor_and_a_user_is_revoked_whole() {
    let s = setup().await;
    // More anonymous sessions than one page holds, and two of alice's.
    for _ in 0..53 {
        assert_eq!(s.browser().get("/set-session?user=demo").await.status, 200);
    }
    let (mut a1, mut a2) = (s.browser(), s.browser());
    login(&mut a1, "alice").await;
    login(&mut a2, "alice").await;
    let mut admin = signed_in(&s).await;
    let handles = |body: &str| -> Vec<String> {
        body.split("<th scope=\"row\"><code>")
            .skip(1)
            .map(|r| r.split('<').next().unwrap().to_owned())
            .collect()
    };
    let first = admin.get("/admin/sessions").await;
    assert_eq!(first.status, 200);
    let page1 = handles(&first.body);
    assert_eq!(page1.len(), 50, "one page");
    let next = first.body.split("<a href=\"/admin/sessions?cursor=").nth(1).expect("a next-page link");
    let cursor = next.split('"').next().unwrap();
    assert_eq!(cursor, page1[49], "the cursor is the page's last handle");
    let second = admin.get(&format!("/admin/sessions?cursor={cursor}")).await;
    let page2 = handles(&second.body);
    assert_eq!(page2.len(), 5, "the rest");
    assert!(page2.iter().all(|h| !page1.contains(h)), "pages do not overlap");
    assert!(second.body.contains("First page") && !second.body.contains("Next page"));
    assert_eq!(admin.get("/admin/sessions?cursor=not-a-handle").await.status, 400);
    // Filtered by user: alice's two only; revoking them all ends both.
    let theirs = handles(&admin.get("/admin/sessions?user=alice").await.body);
    assert_eq!(theirs.len(), 2);
    let csrf = csrf_of(&admin.get("/admin/users/alice").await.body);
    let r = post_form(&mut admin, "/admin/users/alice/revoke", &[("csrf_token", &csrf)]).await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/admin/users/alice"));
    let page = admin.get("/admin/users/alice").await;
    assert!(page.body.contains("ended 2 session(s) of alice and revoked their tokens"), "{}", page.body);
    assert_eq!((me(&mut a1).await, me(&mut a2).await), (Value::Null, Value::Null));
    // A name that is not one path segment as typed still names one user.
    let odd = admin.get("/admin/users/a%2Fb%3F%3Cc%3E").await;
    assert_eq!(odd.status, 200);
    assert!(odd.body.contains("User <q>a/b?&lt;c&gt;</q>"), "{}", odd.body);
}

#[tokio::test]
async fn events_filter_by_type_user_and_time() {
    let s = setup().await;
    let (mut a, mut b) = (s.browser(), s.browser());
    login(&mut a, "alice").await;
    login(&mut b, "bob").await;
    let mut admin = signed_in(&s).await;
    let csrf = csrf_of(&admin.get("/admin").await.body);
    for user in ["alice", "bob"] {
        post_form(&mut admin, &format!("/admin/users/{user}/revoke"), &[("csrf_token", &csrf)]).await;
    }
    let log = s.app.audit.clone().unwrap();
    for _ in 0..500 {
        if log
            .query(&AuditQuery::newest(100))
            .await
            .unwrap()
            .iter()
            .filter(|e| e.kind == "sessions_revoked")
            .count()
            == 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rows = |body: &str| body.matches("<th scope=\"row\"><time").count();
    let all = admin.get("/admin/events?type=sessions_revoked").await;
    assert_eq!(rows(&all.body), 2, "{}", all.body);
    let bob = admin.get("/admin/events?type=sessions_revoked&user=bob").await;
    assert_eq!(rows(&bob.body), 1);
    assert!(bob.body.contains(">bob</a>") && !bob.body.contains(">alice</a>"), "{}", bob.body);
    let later = admin.get("/admin/events?since=2999-01-01T00:00:00Z").await;
    assert!(later.body.contains("No audit records match."), "{}", later.body);
    let earlier = admin.get("/admin/events?type=sessions_revoked&until=1000000000").await;
    assert_eq!(rows(&earlier.body), 0);
    let bad = admin.get("/admin/events?since=yesterday").await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("Error: </strong>since must be Unix seconds or an RFC 3339 time"),
        "{}",
        bad.body
    );
    // The form keeps what was asked, escaped.
    let kept = admin.get("/admin/events?user=%22%3E%3Cb%3E").await;
    assert!(kept.body.contains("value=\"&quot;&gt;&lt;b&gt;\""), "{}", kept.body);
}

#[tokio::test]
async fn missing_capabilities_are_said_in_words() {
    // The cookie store keeps nothing on the server; keys from SECRET_KEY cannot be rotated here.
    let dir = TempDir::new("cookie");
    let args = ServeArgs {
        store: StoreKind::Cookie,
        insecure_cookies: true,
        data_dir: dir.0.clone(),
        ..ServeArgs::default()
    };
    let keyring = Keyring::new(KeySet::generate(SystemClock.now()).unwrap());
    let app = App::new(&args, keyring, Events::default(), Arc::new(SystemClock)).await.unwrap();
    let router = admin_router(AdminState::new(&app, KeySource::Env), Some(AdminToken::new(TOKEN).unwrap()));
    let mut admin = sign_in(TestClient::new(router)).await;
    let overview = admin.get("/admin").await;
    assert_eq!(overview.status, 200);
    for said in ["None: sessions live in their cookies", "Not available", "Unknown: not supported"] {
        assert!(overview.body.contains(said), "{said}: {}", overview.body);
    }
    for path in ["/admin/sessions", "/admin/events", "/admin/keys", "/admin/users/alice"] {
        let r = admin.get(path).await;
        assert_eq!(r.status, 501, "{path}: {}", r.body);
        assert!(
            r.body.contains("Error: </strong>not supported by the configured store"),
            "{path}: {}",
            r.body
        );
    }
    assert!(admin.get("/admin/keys").await.body.contains("SECRET_KEY"));
    let csrf = csrf_of(&overview.body);
    let r = post_form(&mut admin, "/admin/keys/rotate", &[("csrf_token", &csrf)]).await;
    assert_eq!((r.status.as_u16(), location(&r)), (303, "/admin/keys"));
    assert!(admin.get("/admin/keys").await.body.contains("Error: </strong>not supported"));
    let r = post_form(&mut admin, "/admin/users/alice/disable", &[("csrf_token", &csrf)]).await;
    assert_eq!(r.status, 303);
    assert!(admin.get("/admin/users/alice").await.body.contains("Error: </strong>not supported"));
}

// ---- in a browser ----

/// Chromium and chromedriver, or why the browser test cannot run here.
fn browser_binaries() -> Result<(PathBuf, PathBuf), String> {
    let chromium = PathBuf::from("/usr/bin/chromium");
    let driver = PathBuf::from("/usr/bin/chromedriver");
    for p in [&chromium, &driver] {
        if !p.exists() {
            return Err(format!("{} is missing (apt-get install chromium chromium-driver)", p.display()));
        }
    }
    Ok((chromium, driver))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// chromedriver in a process group of its own, with the Chromium it starts: the whole
/// group is killed on drop, so a failed test leaves no browser behind.
struct Driver(Child);

impl Driver {
    fn start(bin: &Path, port: u16) -> Self {
        use std::os::unix::process::CommandExt as _;
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .process_group(0)
            // A background process group must not touch the terminal (SIGTTIN would stop it).
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self(child)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid (process_group(0)); `--` so that the negative
        // id is not read as an option.
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where screenshots go: `<target>/dashboard-screenshots/`.
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("dashboard-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Serves `router` on a loopback port through the server's own HTTP loop.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let limits = sessionwarden_server::http::HttpLimits {
        header_timeout: Duration::from_secs(30),
        body_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(60),
        max_connections: 64,
    };
    tokio::spawn(sessionwarden_server::http::serve(listener, router, limits, std::future::pending()));
    format!("http://{addr}")
}

/// The browser session of the test, collecting every page's source for the secret scan.
struct Browser {
    client: Client,
    base: String,
    sources: Vec<(String, String)>,
}

impl Browser {
    async fn goto(&mut self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.unwrap();
        self.record().await;
    }

    /// The current page's path and query.
    async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    async fn record(&mut self) -> String {
        let source = self.client.source().await.unwrap();
        let path = self.path().await;
        self.sources.push((path, source.clone()));
        source
    }

    async fn text(&self) -> String {
        self.client.find(Locator::Css("body")).await.unwrap().text().await.unwrap()
    }

    async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
        let source = self.client.source().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.html")), source).unwrap();
    }

    async fn press(&self, key: Key) {
        let c: char = key.into();
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: c })
            .then(KeyAction::Up { value: c });
        self.client.perform_actions(keys).await.unwrap();
    }

    /// What has the focus: its tag, id and text.
    async fn focused(&self) -> (String, String, String) {
        let v = self
            .client
            .execute(
                "const e = document.activeElement; \
                 return [e.tagName.toLowerCase(), e.id || '', \
                 (e.getAttribute('aria-label') || e.innerText || e.value || '').trim()];",
                vec![],
            )
            .await
            .unwrap();
        let s = |i: usize| v[i].as_str().unwrap_or_default().to_owned();
        (s(0), s(1), s(2))
    }

    /// Presses Tab until the focused element's text or id is `target`; how many presses it
    /// took.
    async fn tab_to(&self, target: &str) -> usize {
        for n in 1..=80 {
            self.press(Key::Tab).await;
            let (_, id, text) = self.focused().await;
            if text == target || id == target {
                return n;
            }
        }
        panic!("Tab never reached {target:?}");
    }

    /// Presses `key` where the focus is, then waits for the page it loads (a new document,
    /// fully loaded) and records it.
    async fn press_and_load(&mut self, key: Key) -> String {
        self.client.execute("window.__swOld = true;", vec![]).await.unwrap();
        self.press(key).await;
        self.wait_new_page().await
    }

    /// Clicks the link named `text` and waits for the page it loads.
    async fn follow(&mut self, text: &str) -> String {
        self.client.execute("window.__swOld = true;", vec![]).await.unwrap();
        self.client.find(Locator::LinkText(text)).await.unwrap().click().await.unwrap();
        self.wait_new_page().await
    }

    async fn wait_new_page(&mut self) -> String {
        for _ in 0..400 {
            let done = self
                .client
                .execute("return window.__swOld === undefined && document.readyState === 'complete';", vec![])
                .await
                .unwrap();
            if done == json!(true) {
                return self.record().await;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("no new page loaded; still at {}", self.path().await);
    }

    /// Reloads until the page's text holds `needle` (the audit writer runs in the background).
    async fn reload_until(&mut self, path: &str, needle: &str) {
        for _ in 0..100 {
            self.goto(path).await;
            if self.text().await.contains(needle) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path} never showed {needle:?}: {}", self.text().await);
    }
}

/// Secrets: each value, and its common encodings, must appear on no page. `cookies` are
/// cookie values, `keyrings` keyring files' text.
fn secrets(cookies: &[String], keyrings: &[String]) -> Vec<String> {
    let mut out = vec![TOKEN.to_owned()];
    for value in cookies {
        out.push(value.clone());
        for part in value.split('.').filter(|p| p.len() >= 16) {
            out.push(part.to_owned());
            if let Ok(bytes) = URL_SAFE_NO_PAD.decode(part) {
                out.extend(sessionwarden_test::env::encodings(&bytes));
            }
        }
    }
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
    for text in keyrings {
        strings(&serde_json::from_str(text).unwrap(), &mut out);
    }
    out.retain(|s| s.len() >= 16);
    out
}

#[tokio::test]
async fn the_dashboard_in_a_real_browser() {
    let (chromium, driver_bin) = match browser_binaries() {
        Ok(found) => found,
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => panic!("CI=true: {why}"),
        Err(why) => {
            eprintln!("skipping the browser test: {why}");
            return;
        }
    };
    // The default, secure cookies (`__Host-sw-admin; Secure`), as the README runs it: over
    // plain http on a loopback address the browser takes them.
    let s = setup_with(true).await;
    let base = serve(s.admin.clone()).await;
    let port = free_port();
    let driver = Driver::start(&driver_bin, port);
    let profile = TempDir::new("chromium-profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                // No crash handler: it would leave its own session, outliving the test.
                "--disable-crash-reporter", "--disable-breakpad",
                "--window-size=1280,1000", format!("--user-data-dir={}", profile.0.display()),
            ],
        }),
    );
    let webdriver = format!("http://127.0.0.1:{port}");
    let mut client = None;
    // chromedriver takes a moment to listen.
    for _ in 0..100 {
        let mut builder = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(caps.clone());
        match builder.connect(&webdriver).await {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let client = client.expect("chromedriver answered");
    let mut b = Browser { client, base, sources: Vec::new() };

    // Users with real sessions through the main router.
    let (mut alice1, mut alice2, mut bob) = (s.browser(), s.browser(), s.browser());
    for (c, u) in [(&mut alice1, "alice"), (&mut alice2, "alice"), (&mut bob, "bob")] {
        assert_eq!(login(c, u).await.status, 200);
    }
    let revoked = own_handle(&mut alice1).await;
    let mut keyrings = vec![std::fs::read_to_string(&s.keyring_path).unwrap()];
    // Taken now: a revoked session's cookie leaves its jar when the server expires it.
    let mut cookies: Vec<String> =
        [&alice1, &alice2, &bob].iter().flat_map(|j| j.jar.values().cloned()).collect();

    // Signed out, the dashboard sends the browser to the sign-in page.
    b.goto("/admin").await;
    assert_eq!(b.path().await, "/admin/sign-in");
    b.screenshot("sign-in").await;

    // A wrong token: the form again, a generic error, an event.
    let failed = s.count("admin_auth_failed");
    b.client
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys("not-the-admin-token-at-all-0123456789")
        .await
        .unwrap();
    b.press_and_load(Key::Enter).await;
    assert_eq!(b.path().await, "/admin/sign-in");
    assert!(b.text().await.contains("Error: Sign-in failed."), "{}", b.text().await);
    assert_eq!(s.count("admin_auth_failed"), failed + 1);
    b.screenshot("sign-in-failed").await;

    // The right one, typed and submitted with the keyboard.
    b.client.find(Locator::Id("token")).await.unwrap().send_keys(TOKEN).await.unwrap();
    let overview = b.press_and_load(Key::Enter).await;
    assert_eq!(b.path().await, "/admin");
    let text = b.text().await;
    assert!(text.contains("Active sessions\n3"), "{text}");
    assert!(text.contains("Reachable"), "{text}");
    assert!(overview.contains("<svg"), "the events chart");
    // Its numbers, in words: the one refusal so far is the wrong token.
    assert!(text.contains(" events in the last 60 minutes, 1 of them refusals;"), "{text}");
    assert_eq!(overview.matches("fill=\"url(#hatch)\"").count(), 1, "one minute with a refusal");
    cookies.push(b.client.get_named_cookie("__Host-sw-admin").await.unwrap().value().to_owned());
    b.screenshot("overview").await;

    // Keyboard: the skip link comes first and moves the focus to the content; the
    // navigation follows in reading order.
    b.goto("/admin").await;
    b.press(Key::Tab).await;
    assert_eq!(b.focused().await, ("a".into(), String::new(), "Skip to content".into()));
    b.press(Key::Enter).await;
    assert_eq!(b.focused().await.1, "main", "the skip link focuses the content");
    b.press(Key::Tab).await;
    assert_eq!(b.focused().await.2, "List them", "the first control of the content is next");
    b.goto("/admin").await;
    assert_eq!(b.tab_to("Sessions").await, 3, "skip link, Overview, Sessions");
    b.press_and_load(Key::Enter).await;
    assert_eq!(b.path().await, "/admin/sessions");

    // Filter by user, by keyboard: past the navigation to the labelled field, type, Enter.
    assert_eq!(b.tab_to("filter-user").await, 7, "skip link, 4 entries, Sign out, the field");
    b.client.active_element().await.unwrap().send_keys("alice").await.unwrap();
    b.press_and_load(Key::Enter).await;
    assert_eq!(b.path().await, "/admin/sessions?user=alice");
    let rows = b.client.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 2, "alice's two sessions");
    assert!(b.text().await.contains(&revoked));
    b.screenshot("sessions").await;

    // Revoke one of them: Tab to its button and press Enter.
    b.tab_to(&format!("Revoke session {revoked}")).await;
    b.screenshot("keyboard-focus").await;
    b.press_and_load(Key::Enter).await;
    assert_eq!(b.path().await, "/admin/sessions?user=alice");
    let text = b.text().await;
    assert!(text.contains(&format!("Done: session {revoked} revoked")), "{text}");
    assert_eq!(b.client.find_all(Locator::Css("tbody tr")).await.unwrap().len(), 1);
    // The user's cookie is refused by the main router at once; the other session lives.
    assert_eq!(me(&mut alice1).await, Value::Null);
    assert_eq!(me(&mut alice2).await, json!("alice"));
    b.screenshot("sessions-after-revoke").await;

    // A user's page, reached by links; disable them.
    b.follow("Show all users").await;
    b.follow("bob").await;
    assert_eq!(b.path().await, "/admin/users/bob");
    assert!(b.text().await.contains("Status\nEnabled"), "{}", b.text().await);
    b.screenshot("user").await;
    b.tab_to("Disable user").await;
    b.press_and_load(Key::Enter).await;
    let text = b.text().await;
    assert!(text.contains("Done: disabled bob: ended 1 session(s) and every token"), "{text}");
    assert!(text.contains("Status\nDisabled since"), "{text}");
    assert!(text.contains("No live sessions."), "{text}");
    assert_eq!(me(&mut bob).await, Value::Null, "bob's session ended");
    let mut bob2 = s.browser();
    assert_eq!(login(&mut bob2, "bob").await.status, 401, "bob's login is refused");
    b.screenshot("user-disabled").await;
    b.tab_to("Enable user").await;
    b.press_and_load(Key::Space).await;
    assert!(b.text().await.contains("Done: enabled bob"));
    assert_eq!(login(&mut bob2, "bob").await.status, 200, "bob logs in again");

    // The events timeline, filtered by type.
    b.goto("/admin/events").await;
    b.client.find(Locator::Id("ev-type")).await.unwrap().send_keys("session_revoked").await.unwrap();
    b.press_and_load(Key::Enter).await;
    assert_eq!(b.path().await, "/admin/events?type=session_revoked&user=&since=&until=");
    b.reload_until("/admin/events?type=session_revoked", &revoked).await;
    let kinds: Vec<String> = {
        let mut v = Vec::new();
        for cell in b.client.find_all(Locator::Css("tbody tr td:nth-child(2)")).await.unwrap() {
            v.push(cell.text().await.unwrap());
        }
        v
    };
    assert!(!kinds.is_empty() && kinds.iter().all(|k| k == "session_revoked"), "{kinds:?}");
    b.reload_until("/admin/events", "user_disabled").await;
    b.screenshot("events").await;

    // Keys: rotate, see the list change; retire the old key after a confirmation page.
    b.goto("/admin/keys").await;
    assert_eq!(b.client.find_all(Locator::Css("tbody tr")).await.unwrap().len(), 1);
    b.screenshot("keys").await;
    b.tab_to("Rotate: add a new primary key").await;
    b.press_and_load(Key::Enter).await;
    assert_eq!(b.path().await, "/admin/keys");
    let rows = b.client.find_all(Locator::Css("tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 2, "{}", b.text().await);
    assert!(b.text().await.contains("Done: rotated: key"), "{}", b.text().await);
    let old = KeyringFile::load(&s.keyring_path).unwrap();
    let old_kid = old.entries().iter().find(|e| e.state().as_str() == "verify").unwrap().kid().get();
    b.screenshot("keys-rotated").await;
    keyrings.push(std::fs::read_to_string(&s.keyring_path).unwrap());
    b.follow(&format!("Retire key {old_kid}…")).await;
    assert_eq!(b.path().await, format!("/admin/keys/{old_kid}/retire"));
    assert!(b.text().await.contains("This cannot be undone."));
    b.screenshot("retire-confirm").await;
    assert_eq!(s.key_count(), 2);
    b.tab_to(&format!("Retire key {old_kid}")).await;
    b.press_and_load(Key::Enter).await;
    assert_eq!(b.path().await, "/admin/keys");
    let text = b.text().await;
    assert!(text.contains(&format!("Done: key {old_kid} retired")), "{text}");
    assert!(text.contains("retired"), "{text}");
    let file = KeyringFile::load(&s.keyring_path).unwrap();
    assert_eq!(file.entries().iter().find(|e| e.kid().get() == old_kid).unwrap().state().as_str(), "retired");
    b.screenshot("keys-retired").await;

    // The overview once more, with the hour's events in the chart.
    b.goto("/admin").await;
    b.screenshot("overview-after").await;
    cookies.push(b.client.get_named_cookie("__Host-sw-admin").await.unwrap().value().to_owned());
    keyrings.push(std::fs::read_to_string(&s.keyring_path).unwrap());

    // Sign out: the sign-in page says so, and the dashboard is closed again.
    b.tab_to("Sign out").await;
    b.press_and_load(Key::Enter).await;
    assert_eq!(b.path().await, "/admin/sign-in?signed_out=1");
    assert!(b.text().await.contains("You are signed out."));
    b.goto("/admin/keys").await;
    assert_eq!(b.path().await, "/admin/sign-in");

    // No page said a session id, a cookie value, the admin token or key material; no page
    // carries a script.
    for jar in [&alice1, &alice2, &bob, &bob2] {
        cookies.extend(jar.jar.values().cloned());
    }
    let all = secrets(&cookies, &keyrings);
    assert!(all.len() > 20, "{} secrets", all.len());
    for (path, source) in &b.sources {
        assert!(!source.to_ascii_lowercase().contains("<script"), "{path} carries a script");
        for secret in &all {
            assert!(!source.contains(secret.as_str()), "{path} shows a secret");
        }
    }
    assert!(b.sources.len() > 20, "every page was scanned: {}", b.sources.len());
    // The audit log kept the dashboard's refusals and actions.
    let log = s.app.audit.clone().unwrap();
    let kinds: Vec<String> =
        log.query(&AuditQuery::newest(1000)).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert!(kinds.iter().any(|k| k == "admin_auth_failed"), "{kinds:?}");
    b.client.close().await.unwrap();
    drop(driver);
}
