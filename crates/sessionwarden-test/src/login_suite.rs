//! The login helpers over HTTP, mounted for every backend with [`crate::login_conformance!`]:
//! fixation after login, `CurrentUser`, the `RequireUser` and `RequireRecentAuth` guards
//! (401 JSON for APIs, 303 for pages, `next` kept relative), remember-me on an injected clock,
//! flash messages, and the deadlines a handler reads.
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Query;
use axum::response::Redirect;
use axum::routing::{get, post};
use serde_json::{Value, json};
use sessionwarden_tower::auth::{
    CurrentUser, FlashLevel, Flashes, RequireRecentAuth, RequireUser, safe_next,
};
use sessionwarden_tower::keyring::{KeySet, Keyring};
use sessionwarden_tower::{
    Backend, Error, Expiry, LoginMethod, ManualClock, Session, SessionLayer, SessionStore,
};

use crate::client::TestResponse;
use crate::harness::START;
use crate::{Recorder, TestClient, wrappers::Instrumented};

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);
/// What the app's login handler asks for with `remember=1`.
const REMEMBER: Duration = Duration::from_secs(14 * 86_400);
/// The layer's maximum (`with_remember_me`).
const REMEMBER_MAX: Duration = Duration::from_secs(30 * 86_400);
/// The sensitive route's window.
const REAUTH_WINDOW: Duration = Duration::from_secs(5 * 60);

/// An app using every login helper, on a manual clock.
pub struct LoginApp {
    pub client: TestClient,
    pub clock: ManualClock,
    pub rec: Recorder,
    /// The instrumented server-side store, `None` for the cookie store.
    pub store: Option<Instrumented>,
    router: Router,
}

#[derive(serde::Deserialize)]
struct LoginParams {
    user: Option<String>,
    remember: Option<String>,
    next: Option<String>,
}

async fn login(session: Session, Query(p): Query<LoginParams>) -> Result<Redirect, Error> {
    let user = p.user.as_deref().unwrap_or("alice");
    if p.remember.is_some() {
        session.login_remembered(user, LoginMethod::Password, REMEMBER).await?;
    } else {
        session.login(user, LoginMethod::Password).await?;
    }
    Ok(Redirect::to(p.next.as_deref().and_then(safe_next).unwrap_or("/")))
}

async fn login_page(flashes: Flashes) -> String {
    flashes.iter().map(|f| format!("{}: {}\n", f.level, f.message)).collect()
}

async fn logout(session: Session) -> Result<Redirect, Error> {
    session.logout().await?;
    session.flash(FlashLevel::Info, "Logged out").await?;
    Ok(Redirect::to("/login"))
}

#[derive(serde::Deserialize)]
struct FlashParams {
    msg: String,
    n: Option<usize>,
}

async fn flash(session: Session, Query(p): Query<FlashParams>) -> Result<Redirect, Error> {
    for i in 0..p.n.unwrap_or(1) {
        let msg = if p.n.is_some() { format!("{} {i}", p.msg) } else { p.msg.clone() };
        session.flash(FlashLevel::Success, msg).await?;
    }
    Ok(Redirect::to("/login"))
}

async fn whoami(user: Option<CurrentUser>) -> String {
    match user {
        Some(user) => format!("user: {}", user.name()),
        None => "visitor".to_owned(),
    }
}

async fn me(user: CurrentUser) -> String {
    user.into_name()
}

async fn set(session: Session) -> Result<&'static str, Error> {
    session.insert("cart", "3 items").await?;
    Ok("set")
}

async fn data(session: Session) -> Result<axum::Json<Value>, Error> {
    Ok(axum::Json(Value::Object(session.data().await?)))
}

async fn deadlines(session: Session) -> Result<axum::Json<Value>, Error> {
    Ok(axum::Json(serde_json::to_value(session.expires_at().await?).unwrap()))
}

async fn reauth(session: Session) -> Result<&'static str, Error> {
    session.reauthenticated().await?;
    Ok("reauthenticated")
}

async fn change_password(user: CurrentUser) -> String {
    format!("password of {} changed", user.name())
}

async fn page(user: CurrentUser) -> String {
    format!("page for {}", user.name())
}

impl LoginApp {
    /// The app over `backend`, with remember-me allowed up to 30 days.
    pub fn new(backend: Backend) -> Self {
        Self::build(backend, Some(REMEMBER_MAX))
    }

    /// The app over `backend`; `remember` is the layer's remember-me maximum, if allowed.
    pub fn build(backend: Backend, remember: Option<Duration>) -> Self {
        Self::build_with(backend, remember, std::convert::identity)
    }

    /// As [`LoginApp::build`], with more layer options set by `configure`.
    pub fn build_with(
        backend: Backend,
        remember: Option<Duration>,
        configure: impl FnOnce(SessionLayer) -> SessionLayer,
    ) -> Self {
        let clock = ManualClock::new(START);
        let (rec, events) = Recorder::hub();
        let keyring = Keyring::new(KeySet::generate(START).unwrap());
        let (backend, store) = match backend {
            Backend::Server(inner) => {
                let inst = Instrumented::new(inner);
                let dyn_store: Arc<dyn SessionStore> = Arc::new(inst.clone());
                (Backend::Server(dyn_store), Some(inst))
            }
            other => (other, None),
        };
        let mut layer = SessionLayer::new(backend, keyring)
            .with_expiry(Expiry::default())
            .with_clock(Arc::new(clock.clone()))
            .with_events(events);
        if let Some(max) = remember {
            layer = layer.with_remember_me(max);
        }
        let layer = configure(layer);
        let pages = Router::new()
            .route("/settings", get(page))
            .route("/{*rest}", get(page))
            .route_layer(RequireUser::redirect_to("/login"));
        let api = Router::new().route("/api/me", get(me)).route_layer(RequireUser::api());
        let sensitive = Router::new()
            .route("/api/password", post(change_password))
            .route_layer(RequireRecentAuth::api(REAUTH_WINDOW));
        let nested = Router::new().route("/page", get(page)).route_layer(RequireUser::redirect_to("/login"));
        let reauth_page = Router::new()
            .route("/account/delete", get(page))
            .route_layer(RequireRecentAuth::redirect_to(REAUTH_WINDOW, "/reauth"));
        let router = Router::new()
            .route("/login", get(login_page).post(login))
            .route("/logout", post(logout))
            .route("/reauth", post(reauth))
            .route("/flash", get(flash))
            .route("/whoami", get(whoami))
            .route("/me", get(me))
            .route("/set", post(set))
            .route("/data", get(data))
            .route("/deadlines", get(deadlines))
            .merge(pages)
            .merge(api)
            .merge(sensitive)
            .merge(reauth_page)
            .nest("/area", nested)
            .layer(layer);
        Self { client: TestClient::new(router.clone()), clock, rec, store, router }
    }

    /// A second browser (its own cookie jar).
    pub fn other_client(&self) -> TestClient {
        TestClient::new(self.router.clone())
    }
}

/// POST `uri` with an empty body.
async fn post_to(client: &mut TestClient, uri: &str) -> TestResponse {
    client.send(http::Request::post(uri), Body::empty()).await
}

fn location(r: &TestResponse) -> &str {
    assert_eq!(r.status.as_u16(), 303, "{}: {}", r.status, r.body);
    r.headers.get("location").unwrap().to_str().unwrap()
}

/// The `Max-Age` of the response's session cookie, if it has one.
fn max_age(r: &TestResponse) -> Option<u64> {
    let sc = r.set_cookies();
    assert_eq!(sc.len(), 1, "one session cookie: {sc:?}");
    sc[0].split(';').find_map(|a| a.trim().strip_prefix("Max-Age=").map(|v| v.parse().unwrap()))
}

/// The session cookie in `client`'s jar.
fn cookie(client: &TestClient) -> String {
    let (name, value) = client.jar.iter().next().expect("a session cookie");
    format!("{name}={value}")
}

suite! {
$
/// Mounts every case of [`crate::login_suite`] as `#[tokio::test]`s for the backend made by
/// `$make` (a closure returning a future of a [`Backend`](sessionwarden_tower::Backend)).
mount login_conformance;
path login_suite;
wrap std::convert::identity;

/// Session fixation: whatever cookie a browser had before the login (one an attacker planted,
/// say), it is not logged in afterwards; with a server-side store it names nothing at all.
pub async fn login_retires_the_pre_login_session(backend: Backend) {
    let mut app = LoginApp::new(backend);
    post_to(&mut app.client, "/set").await;
    let before = cookie(&app.client);
    let r = post_to(&mut app.client, "/login?user=alice").await;
    assert_eq!(location(&r), "/");
    let after = cookie(&app.client);
    assert_ne!(before, after, "the login issues a new cookie");
    assert_eq!(app.client.get("/whoami").await.body, "user: alice");
    assert_eq!(app.client.get("/data").await.json(), json!({"cart": "3 items"}), "data survives the login");

    let mut attacker = app.other_client();
    let r = attacker.send(http::Request::get("/whoami").header("cookie", &before), Body::empty()).await;
    assert_eq!(r.body, "visitor", "the pre-login cookie is not logged in");
    let r = attacker.send(http::Request::get("/api/me").header("cookie", &before), Body::empty()).await;
    assert_eq!(r.status.as_u16(), 401);
    if app.store.is_some() {
        let r = attacker.send(http::Request::get("/data").header("cookie", &before), Body::empty()).await;
        assert_eq!(r.json(), json!({}), "the pre-login id names no session any more");
    }
}

pub async fn current_user_present_and_absent(backend: Backend) {
    let mut app = LoginApp::new(backend);
    let r = app.client.get("/me").await;
    assert_eq!(r.status.as_u16(), 401, "CurrentUser without a login");
    assert!(r.set_cookies().is_empty(), "a refused visitor gets no session");
    assert_eq!(app.client.get("/whoami").await.body, "visitor", "Option<CurrentUser> without a login");
    // Data under "user" is not a login.
    post_to(&mut app.client, "/set").await;
    assert_eq!(app.client.get("/me").await.status.as_u16(), 401);
    post_to(&mut app.client, "/login?user=bob").await;
    let r = app.client.get("/me").await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "bob"));
    assert_eq!(app.client.get("/whoami").await.body, "user: bob");
    post_to(&mut app.client, "/logout").await;
    assert_eq!(app.client.get("/me").await.status.as_u16(), 401);
    assert_eq!(app.client.get("/whoami").await.body, "visitor");
}

pub async fn current_user_fails_closed_on_outage(backend: Backend) {
    let mut app = LoginApp::new(backend);
    post_to(&mut app.client, "/login").await;
    let Some(store) = app.store.clone() else { return };
    store.set_down(true);
    for path in ["/me", "/whoami", "/api/me", "/settings"] {
        let r = app.client.get(path).await;
        assert_eq!(r.status.as_u16(), 503, "{path}: an outage is not a logout");
        assert!(r.headers.get("location").is_none(), "{path}: no redirect to the login page");
    }
    store.set_down(false);
    assert_eq!(app.client.get("/me").await.body, "alice");
}

pub async fn api_guard_answers_401_json(backend: Backend) {
    let mut app = LoginApp::new(backend);
    let r = app.client.get("/api/me").await;
    assert_eq!(r.status.as_u16(), 401);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.json(), json!({"error": "login_required"}));
    assert!(r.set_cookies().is_empty());
    post_to(&mut app.client, "/login").await;
    let r = app.client.get("/api/me").await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "alice"));
}

pub async fn page_guard_redirects_with_relative_next(backend: Backend) {
    let mut app = LoginApp::new(backend);
    let r = app.client.get("/settings?tab=keys&x=%2F").await;
    assert_eq!(location(&r), "/login?next=/settings%3Ftab%3Dkeys%26x%3D%252F");
    assert_eq!(r.headers["cache-control"], "no-store");
    // The login form posts `next` back; the login sends the user where they were going.
    let r = post_to(&mut app.client, "/login?user=carol&next=/settings%3Ftab%3Dkeys%26x%3D%252F").await;
    assert_eq!(location(&r), "/settings?tab=keys&x=%2F");
    let r = app.client.get("/settings?tab=keys&x=%2F").await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "page for carol"));
    // A guard in a nested router sends back the whole path, prefix included.
    let r = app.other_client().get("/area/page?q=1").await;
    assert_eq!(location(&r), "/login?next=/area/page%3Fq%3D1");
}

/// An open redirect: neither the login handler nor the guard ever sends a browser to another
/// site, whatever `next` or the request's path says.
pub async fn absolute_next_is_refused(backend: Backend) {
    let mut app = LoginApp::new(backend);
    for next in [
        "https://evil.example/",
        "https:%2F%2Fevil.example%2F",
        "%2F%2Fevil.example%2F",
        "%2F%5Cevil.example%2F",
        "%2F%09%2Fevil.example",
        "javascript:alert(1)",
    ] {
        let mut browser = app.other_client();
        let r = post_to(&mut browser, &format!("/login?next={next}")).await;
        assert_eq!(location(&r), "/", "next={next}");
    }
    // A request whose own path is protocol-relative gets no `next` at all.
    let r = app.client.get("//evil.example/x").await;
    assert_eq!(location(&r), "/login");
    let r = app.client.get("/%2F%2Fevil.example").await;
    assert_eq!(location(&r), "/login");
}

pub async fn remembered_login_sets_a_persistent_cookie(backend: Backend) {
    let mut app = LoginApp::new(backend);
    let r = post_to(&mut app.client, "/login?remember=1").await;
    assert_eq!(max_age(&r), Some(REMEMBER.as_secs()), "Max-Age is the remembered lifetime");
    let mut plain = app.other_client();
    let r = post_to(&mut plain, "/login").await;
    assert_eq!(max_age(&r), None, "a plain login keeps a browser-session cookie");
}

/// A remembered session survives the idle timeout (30 minutes) and the layer's absolute
/// timeout (12 hours) up to its own lifetime, then ends.
pub async fn remembered_login_outlives_the_idle_timeout(backend: Backend) {
    let mut app = LoginApp::new(backend);
    let mut plain = app.other_client();
    post_to(&mut app.client, "/login?user=rem&remember=1").await;
    post_to(&mut plain, "/login?user=plain").await;
    app.clock.advance(31 * MINUTE);
    assert_eq!(plain.get("/me").await.status.as_u16(), 401, "a plain login ends at the idle timeout");
    assert_eq!(app.client.get("/me").await.body, "rem", "after the idle timeout");
    app.clock.advance(6 * DAY);
    assert_eq!(app.client.get("/me").await.body, "rem", "after six idle days");
    app.clock.advance(7 * DAY);
    assert_eq!(app.client.get("/me").await.body, "rem", "past the layer's absolute timeout");
    app.clock.advance(DAY);
    assert_eq!(app.client.get("/me").await.status.as_u16(), 401, "at the remembered lifetime's end");
    assert_eq!(app.client.get("/whoami").await.body, "visitor");
}

pub async fn sensitive_route_asks_for_reauth(backend: Backend) {
    let mut app = LoginApp::new(backend);
    let r = post_to(&mut app.client, "/api/password").await;
    assert_eq!((r.status.as_u16(), r.json()), (401, json!({"error": "login_required"})));
    post_to(&mut app.client, "/login?user=dave&remember=1").await;
    let r = post_to(&mut app.client, "/api/password").await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "password of dave changed"), "just logged in");
    app.clock.advance(3 * DAY);
    assert_eq!(app.client.get("/me").await.body, "dave", "still remembered");
    let r = post_to(&mut app.client, "/api/password").await;
    assert_eq!(r.status.as_u16(), 401);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.json(), json!({"error": "reauth_required"}));
    let r = app.client.get("/account/delete").await;
    assert_eq!(location(&r), "/reauth?next=/account/delete", "the page guard sends to re-authentication");
    assert_eq!(post_to(&mut app.client, "/reauth").await.status.as_u16(), 200);
    let r = post_to(&mut app.client, "/api/password").await;
    assert_eq!(r.status.as_u16(), 200, "after re-authenticating");
    app.clock.advance(REAUTH_WINDOW);
    assert_eq!(post_to(&mut app.client, "/api/password").await.status.as_u16(), 401, "the window closes");
}

pub async fn plain_login_ends_remembering(backend: Backend) {
    let mut app = LoginApp::new(backend);
    post_to(&mut app.client, "/login?user=erin&remember=1").await;
    let r = post_to(&mut app.client, "/login?user=frank").await;
    assert_eq!(max_age(&r), None, "back to a browser-session cookie");
    let d = app.client.get("/deadlines").await.json();
    assert_eq!(d["remembered"], json!(false));
    app.clock.advance(31 * MINUTE);
    assert_eq!(app.client.get("/me").await.status.as_u16(), 401, "the idle timeout applies again");
}

pub async fn remember_me_needs_the_layer_option(backend: Backend) {
    let mut app = LoginApp::build(backend, None);
    let r = post_to(&mut app.client, "/login?remember=1").await;
    assert_eq!(r.status.as_u16(), 500, "a wiring mistake, not a silent plain login");
    assert_eq!(app.client.get("/whoami").await.body, "visitor");
}

pub async fn deadlines_are_readable(backend: Backend) {
    let mut app = LoginApp::new(backend);
    assert_eq!(app.client.get("/deadlines").await.json(), Value::Null, "no session");
    post_to(&mut app.client, "/login").await;
    let d = app.client.get("/deadlines").await.json();
    let at = |secs: u64| json!(START.plus(Duration::from_secs(secs)).unix());
    assert_eq!(d, json!({"idle": at(30 * 60), "absolute": at(12 * 3600), "remembered": false}));
    let mut remembered = app.other_client();
    app.clock.advance(MINUTE);
    post_to(&mut remembered, "/login?remember=1").await;
    let d = remembered.get("/deadlines").await.json();
    assert_eq!(d, json!({"idle": null, "absolute": at(60 + REMEMBER.as_secs()), "remembered": true}));
}

pub async fn flash_is_shown_once(backend: Backend) {
    let mut app = LoginApp::new(backend);
    let r = app.client.get("/flash?msg=Saved").await;
    assert_eq!(location(&r), "/login", "a flash survives the redirect");
    assert_eq!(app.client.get("/login").await.body, "success: Saved\n");
    assert_eq!(app.client.get("/login").await.body, "", "then it is gone");
    app.client.get("/flash?msg=One").await;
    app.client.get("/flash?msg=Two").await;
    assert_eq!(app.client.get("/login").await.body, "success: One\nsuccess: Two\n", "oldest first");
    assert_eq!(app.client.get("/login").await.body, "");
    // Another browser never sees them.
    app.client.get("/flash?msg=Mine").await;
    assert_eq!(app.other_client().get("/login").await.body, "");
    assert_eq!(app.client.get("/login").await.body, "success: Mine\n");
}

pub async fn flashes_are_bounded(backend: Backend) {
    let mut app = LoginApp::new(backend);
    app.client.get("/flash?msg=m&n=20").await;
    let body = app.client.get("/login").await.body;
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), sessionwarden_tower::auth::MAX_FLASHES, "{body}");
    assert_eq!(lines.first(), Some(&"success: m 12"), "the oldest were pushed out");
    assert_eq!(lines.last(), Some(&"success: m 19"));
}

pub async fn flash_after_logout_and_without_session(backend: Backend) {
    let mut app = LoginApp::new(backend);
    let r = app.client.get("/login").await;
    assert!(r.set_cookies().is_empty(), "reading no flashes creates no session");
    post_to(&mut app.client, "/login?user=gina").await;
    let r = post_to(&mut app.client, "/logout").await;
    assert_eq!(location(&r), "/login");
    assert_eq!(app.client.get("/login").await.body, "info: Logged out\n");
    assert_eq!(app.client.get("/me").await.status.as_u16(), 401, "the flash is not a login");
}
}
