//! The admin dashboard at `/admin`: server-rendered HTML over the same operations as the
//! JSON API, on the admin listener.
//!
//! - **Sign-in.** `GET /admin/sign-in` shows a form; posting the admin token to it (compared
//!   by [`AdminToken::matches`], in constant time) starts a dashboard session. A wrong or
//!   empty token gets the form again with one generic error, status 401, and a
//!   [`SecurityEvent::AdminAuthFailed`] event (`mismatch` / `missing`), as a wrong bearer
//!   token does. `POST /admin/sign-out` ends the session. Every other dashboard page
//!   redirects to the sign-in page without a signed-in session.
//! - **Its own session.** sessionwarden protects its own admin with its own
//!   [`SessionLayer`]: the cookie [`COOKIE_NAME`] (`__Host-sw-admin`; `sw-admin` under
//!   `--insecure-cookies`, which has no `Secure`), `SameSite=Strict`, `Cache-Control:
//!   no-store`, idle timeout [`IDLE_TIMEOUT`], absolute timeout [`ABSOLUTE_TIMEOUT`], kept
//!   in a [`MemoryStore`] of its own (at most [`MAX_ADMIN_SESSIONS`]). Admin sessions are
//!   therefore never listed, capped or revoked with the users' sessions; they end when the
//!   process restarts (as does a change of the token, which needs one), and each server of
//!   a fleet signs in on its own. Sign-in rotates the session id (fixation) and the CSRF
//!   secret and marks the session signed in; it names no user, for the admin is none of the
//!   application's users. The cookie is sealed with the server's keyring and so follows its
//!   rotations. Browsers do not separate cookies by port: the
//!   main listener on the same host receives this cookie too, and ignores it (another name).
//! - **CSRF.** Every action is a POST form carrying the token of the project's own
//!   [`CsrfLayer`] (origin check, then the session-bound token; the sign-in form needs one
//!   even before there is a session). A signed-in session's POST without it gets 403 and a
//!   [`SecurityEvent::CsrfRejected`] event; a POST without a session, a redirect to sign-in. Every action handler also takes
//!   [`CsrfVerified`], so none runs unchecked.
//! - **No second implementation.** Revocations, keys and events call the functions the JSON
//!   API calls ([`super::api`]); disabling and enabling users call [`crate::users`], as the
//!   CLI does. After an action the browser is redirected to a page that says, in words, what
//!   happened (post/redirect/get). The events these actions record (and their audit
//!   records) carry the request they came from: the dashboard session's handle, the client's
//!   network and device, the path.
//! - **No secrets on a page.** Sessions are named by handle and keys by id; no session id,
//!   cookie value, token or key material is ever rendered.
//! - **Headers.** `Content-Security-Policy` allows no script at all, the one inline
//!   stylesheet by its hash, forms posting only to this origin and no framing;
//!   `Referrer-Policy: no-referrer`, `X-Content-Type-Options: nosniff`.
//! - **Accessible.** A skip link, labelled inputs, visible focus, tables with header cells,
//!   status in text as well as colour, and plain links and buttons in reading order: every
//!   control can be reached and used with the keyboard alone. No JavaScript.
//!
//! | page | what it shows and does |
//! | --- | --- |
//! | `GET /admin` | active sessions, events per minute over the last hour (SVG), store health, key ages |
//! | `GET /admin/sessions?user=U&cursor=H` | live sessions a page at a time; revoke each |
//! | `GET /admin/users/{user}` | a user's sessions; revoke them all; disable or enable the user |
//! | `GET /admin/events?type=K&user=U&since=T&until=T` | the audit records, newest first |
//! | `GET /admin/keys` | the keyring file's keys; rotate; retire a verify-only key after a confirmation page |

mod html;
mod pages;

use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::Router;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, WWW_AUTHENTICATE, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde::Deserialize;
use sessionwarden::csrf::{CsrfTokens, CsrfVerified};
use sessionwarden::{
    CacheControl, CookieConfig, CsrfLayer, Expiry, MemoryStore, SameSite, SecurityEvent, Session,
    SessionLayer,
};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use self::html::Flash;
use super::{AdminState, AdminToken};

/// The dashboard session's cookie (without `Secure`, under `--insecure-cookies`, the
/// `__Host-` prefix is dropped: browsers refuse it then).
pub const COOKIE_NAME: &str = "__Host-sw-admin";

/// A dashboard session idle this long ends (OWASP ASVS 7.3.1 asks for an idle timeout; an
/// admin's is short).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// A dashboard session ends this long after it began (at the sign-in page), however active
/// (ASVS 7.3.2).
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(8 * 3600);

/// Dashboard sessions (signed in or holding only a sign-in form's CSRF secret) kept at once;
/// beyond it the one nearest its deadline is dropped.
pub const MAX_ADMIN_SESSIONS: usize = 1024;

/// The sign-in page.
pub const SIGN_IN_PATH: &str = "/admin/sign-in";

/// The session key marking a signed-in dashboard session (the sign-in time, Unix seconds).
/// Not a user: the admin is none of the application's users, and the events the dashboard's
/// actions record must not name one (an "admin" user would see them as theirs).
const SIGNED_IN_KEY: &str = "signed_in_at";

/// The session key of the message shown after an action.
const FLASH_KEY: &str = "flash";

/// What the dashboard's handlers share.
#[derive(Clone)]
struct Dashboard {
    admin: AdminState,
    token: Option<Arc<AdminToken>>,
}

/// The dashboard's routes, inside their own session and CSRF layers. Not behind the bearer
/// check: [`SignedIn`] stands in front of every page but sign-in.
pub(super) fn router(admin: AdminState, token: Option<AdminToken>) -> Router {
    let mut cookie = CookieConfig::default()
        .with_name(COOKIE_NAME)
        .with_same_site(SameSite::Strict)
        .with_cache_control(CacheControl::NoStore);
    let mut csrf = CsrfLayer::new().with_token_required_path(SIGN_IN_PATH);
    if !admin.secure_cookies {
        cookie = cookie.insecure_allow_http();
        csrf = csrf.insecure_http_origin();
    }
    let sessions =
        SessionLayer::new(MemoryStore::with_capacity(MAX_ADMIN_SESSIONS), admin.app.keyring.clone())
            .with_cookie(cookie)
            .with_expiry(
                Expiry::default()
                    .with_idle_timeout(Some(IDLE_TIMEOUT))
                    .with_absolute_timeout(Some(ABSOLUTE_TIMEOUT)),
            )
            .with_clock(admin.app.clock.clone())
            .with_events(admin.app.events.clone());
    let state = Dashboard { admin, token: token.map(Arc::new) };
    Router::new()
        .route("/admin", get(pages::overview))
        .route("/admin/", get(|| async { Redirect::permanent("/admin") }))
        .route("/admin/sessions", get(pages::sessions))
        .route("/admin/sessions/{handle}/revoke", post(pages::revoke_session))
        .route("/admin/users/{user}", get(pages::user))
        .route("/admin/users/{user}/revoke", post(pages::revoke_user))
        .route("/admin/users/{user}/disable", post(pages::disable_user))
        .route("/admin/users/{user}/enable", post(pages::enable_user))
        .route("/admin/events", get(pages::events))
        .route("/admin/keys", get(pages::keys))
        .route("/admin/keys/rotate", post(pages::rotate_key))
        .route("/admin/keys/{kid}/retire", get(pages::confirm_retire).post(pages::retire_key))
        .route(SIGN_IN_PATH, get(sign_in_form).post(sign_in))
        .route("/admin/sign-out", post(sign_out))
        // Browsers ask for it on every page: answered here, it is not an admin-auth failure.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .with_state(state)
        .layer(csrf)
        .layer(sessions)
        .layer(axum::middleware::from_fn(security_headers))
}

/// `'sha256-…'` of the stylesheet, for the Content-Security-Policy.
fn style_hash() -> String {
    let digest = Sha256::digest(html::STYLESHEET.as_bytes());
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest))
}

async fn security_headers(req: Request, next: Next) -> Response {
    static CSP: std::sync::OnceLock<Option<HeaderValue>> = std::sync::OnceLock::new();
    let csp = CSP.get_or_init(|| {
        HeaderValue::try_from(format!(
            "default-src 'none'; style-src {}; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
            style_hash()
        ))
        .ok()
    });
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    if let Some(csp) = csp {
        headers.insert(CONTENT_SECURITY_POLICY, csp.clone());
    }
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}

/// A request of a signed-in dashboard session. Without one, the rejection is a redirect to
/// the sign-in page.
struct SignedIn {
    session: Session,
    tokens: CsrfTokens,
}

impl<S: Send + Sync> FromRequestParts<S> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let tokens =
            CsrfTokens::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let session = parts
            .extensions
            .get::<Session>()
            .cloned()
            .ok_or_else(|| sessionwarden::Error::MissingLayer.into_response())?;
        match session.get::<i64>(SIGNED_IN_KEY).await {
            Ok(Some(_)) => Ok(Self { session, tokens }),
            Ok(None) => Err(Redirect::to(SIGN_IN_PATH).into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

impl SignedIn {
    /// A CSRF token for the page's forms, and the message an action left for it.
    async fn page_context(&self) -> Result<(String, Option<Flash>), Response> {
        let token = self.tokens.token().await.map_err(IntoResponse::into_response)?;
        let flash = self.session.remove::<Flash>(FLASH_KEY).await.map_err(IntoResponse::into_response)?;
        Ok((token.into_string(), flash))
    }

    /// Leaves `flash` for the next page and redirects there (303: the browser GETs it).
    async fn done(&self, flash: Flash, to: &str) -> Response {
        match self.session.insert(FLASH_KEY, &flash).await {
            Ok(()) => Redirect::to(to).into_response(),
            Err(e) => e.into_response(),
        }
    }
}

#[derive(Deserialize)]
struct SignInNote {
    signed_out: Option<String>,
}

async fn sign_in_form(
    State(dash): State<Dashboard>,
    session: Session,
    tokens: CsrfTokens,
    Query(note): Query<SignInNote>,
) -> Response {
    match session.get::<i64>(SIGNED_IN_KEY).await {
        Ok(Some(_)) => return Redirect::to("/admin").into_response(),
        Ok(None) => {}
        Err(e) => return e.into_response(),
    }
    let note = note.signed_out.is_some().then_some("You are signed out.");
    sign_in_page(&dash, &tokens, None, note, StatusCode::OK).await
}

async fn sign_in_page(
    dash: &Dashboard,
    tokens: &CsrfTokens,
    error: Option<&str>,
    note: Option<&str>,
    status: StatusCode,
) -> Response {
    match tokens.token().await {
        Ok(token) => {
            (status, html::sign_in(token.as_str(), dash.token.is_some(), error, note)).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    token: String,
}

/// Checks the posted token; on success a fresh session id and CSRF secret, signed in.
async fn sign_in(
    State(dash): State<Dashboard>,
    session: Session,
    _checked: CsrfVerified,
    tokens: CsrfTokens,
    Form(form): Form<SignInForm>,
) -> Response {
    let presented = Zeroizing::new(form.token);
    if let Some(token) = &dash.token {
        // Whitespace around a pasted token is not part of it (the configured one is trimmed).
        let presented = presented.trim();
        let refused = if presented.is_empty() {
            Some("missing")
        } else if token.matches(presented.as_bytes()) {
            None
        } else {
            Some("mismatch")
        };
        if let Some(reason) = refused {
            let now = dash.admin.app.clock.now();
            dash.admin.app.events.record(now, SecurityEvent::AdminAuthFailed { reason });
            let mut res =
                sign_in_page(&dash, &tokens, Some("Sign-in failed."), None, StatusCode::UNAUTHORIZED).await;
            res.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"sessionwarden admin\""));
            return res;
        }
    }
    // A new id (fixation) and a new CSRF secret (pre-sign-in tokens die), then the mark.
    let now = dash.admin.app.clock.now();
    let signed_in = async {
        session.cycle_id().await?;
        tokens.rotate().await?;
        session.insert(SIGNED_IN_KEY, now.unix()).await
    };
    match signed_in.await {
        Ok(()) => Redirect::to("/admin").into_response(),
        Err(e) => e.into_response(),
    }
}

async fn sign_out(signed_in: SignedIn, _checked: CsrfVerified) -> Response {
    match signed_in.session.destroy().await {
        Ok(()) => Redirect::to("/admin/sign-in?signed_out=1").into_response(),
        Err(e) => e.into_response(),
    }
}
