//! Login, logout and the CSRF-protected demo routes: `POST /login`, `POST /logout`,
//! `GET /csrf-token`, `GET /me`, `GET`/`POST /notes`.
//!
//! Demo users come from `--demo-user NAME:PASSWORD`; each password is hashed with argon2
//! (default parameters) while the command line is parsed, so the plaintext is never kept in
//! the settings and never logged.

use std::collections::HashMap;
use std::fmt;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sessionwarden::csrf::{self, CsrfLayer, CsrfToken, CsrfVerified};
use sessionwarden::{Error, Session};

use crate::AppState;

/// The session key the demo notes live under.
const NOTES_KEY: &str = "notes";

/// One `--demo-user`: a name and the argon2 hash of its password.
#[derive(Clone)]
pub struct DemoUser {
    name: String,
    hash: String,
}

impl DemoUser {
    /// Parses `NAME:PASSWORD` and hashes the password (argon2id, default parameters).
    ///
    /// # Errors
    /// Without a `:`, with an empty name or password, or if hashing fails.
    pub fn parse(s: &str) -> Result<Self, String> {
        let Some((name, password)) = s.split_once(':') else {
            return Err("expected NAME:PASSWORD".to_owned());
        };
        if name.is_empty() || password.is_empty() {
            return Err("expected NAME:PASSWORD with a non-empty name and password".to_owned());
        }
        Ok(Self { name: name.to_owned(), hash: hash(password.as_bytes())? })
    }

    /// The user's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Debug for DemoUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash is left out: it is offline-crackable material.
        f.debug_struct("DemoUser").field("name", &self.name).finish_non_exhaustive()
    }
}

fn hash(password: &[u8]) -> Result<String, String> {
    let hash: PasswordHash =
        Argon2::default().hash_password(password).map_err(|e| format!("argon2 hashing failed: {e}"))?;
    Ok(hash.to_string())
}

/// The demo users, and a dummy hash so an unknown name costs as much as a known one.
pub struct Users {
    // A password change (`POST /account/password`) replaces a hash; demo users live only in
    // memory, like the flags they come from.
    by_name: std::sync::RwLock<HashMap<String, String>>,
    dummy: String,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users")
            .field(
                "names",
                &self.by_name.read().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default(),
            )
            .finish_non_exhaustive()
    }
}

impl Users {
    /// The users of `--demo-user`; the last of two with one name wins.
    ///
    /// # Errors
    /// If the dummy hash cannot be made (the OS random number generator failed).
    pub fn new(users: &[DemoUser]) -> anyhow::Result<Self> {
        // A random password nobody knows: no name logs in against the dummy.
        let random = argon2::password_hash::try_generate_salt()
            .map_err(|_| anyhow::anyhow!("the OS random number generator failed"))?;
        let dummy = hash(&random).map_err(anyhow::Error::msg)?;
        let by_name = users.iter().map(|u| (u.name.clone(), u.hash.clone())).collect();
        Ok(Self { by_name: std::sync::RwLock::new(by_name), dummy })
    }

    /// Whether `password` is `name`'s. Runs one argon2 verification whether or not the user
    /// exists (against the dummy hash when not), so timing tells nothing about names.
    pub(crate) fn verify(&self, name: &str, password: &str) -> bool {
        let stored = self.by_name.read().ok().and_then(|m| m.get(name).cloned());
        let (known, hash) = match &stored {
            Some(h) => (true, h.as_str()),
            None => (false, self.dummy.as_str()),
        };
        let ok = PasswordHash::new(hash)
            .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok());
        known && ok
    }

    /// Sets `name`'s password (argon2id). Returns whether the user exists.
    pub(crate) fn set_password(&self, name: &str, password: &str) -> Result<bool, String> {
        let hash = hash(password.as_bytes())?;
        let mut users = self.by_name.write().map_err(|_| "user table poisoned".to_owned())?;
        Ok(users.get_mut(name).map(|h| *h = hash).is_some())
    }

    /// Verifies off the async workers (argon2 is deliberately slow).
    pub(crate) async fn verify_blocking(self: &std::sync::Arc<Self>, name: &str, password: &str) -> bool {
        let (users, name, password) = (self.clone(), name.to_owned(), password.to_owned());
        tokio::task::spawn_blocking(move || users.verify(&name, &password)).await.unwrap_or(false)
    }
}

/// The CSRF settings `serve` takes from its command line.
#[derive(Debug, Clone)]
pub struct CsrfSettings {
    /// Refuse state-changing requests without `Sec-Fetch-Site` or `Origin`.
    pub csrf_strict: bool,
    /// The site's own origin, if configured.
    pub public_origin: Option<csrf::Origin>,
    /// Plain-http development: the request's host counts with `http`.
    pub insecure_cookies: bool,
    /// Other origins allowed to send state-changing requests.
    pub trusted_origin: Vec<csrf::Origin>,
}

/// The CSRF layer for `args`: the site's origin from `--public-origin` (else the request's
/// host, with `http` under `--insecure-cookies`), `--trusted-origin`s, `--csrf-strict`, and
/// a token required on `POST /login` even before there is a session.
pub(crate) fn csrf_layer(args: &CsrfSettings) -> CsrfLayer {
    let mut layer = CsrfLayer::new().with_strict(args.csrf_strict).with_token_required_path("/login");
    match &args.public_origin {
        Some(origin) => layer = layer.with_public_origin(origin.clone()),
        None if args.insecure_cookies => layer = layer.insecure_http_origin(),
        None => {}
    }
    for origin in &args.trusted_origin {
        layer = layer.with_trusted_origin(origin.clone());
    }
    layer
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/reauth", post(reauth))
        .route("/logout", post(logout))
        .route("/csrf-token", get(csrf_token))
        .merge(
            // Protected: answered 401 `reauth_required` while a risk rule asks for a step-up.
            Router::new()
                .route("/me", get(crate::tokens::me))
                .route("/notes", get(notes).post(add_note))
                .route_layer(axum::middleware::from_fn(crate::risk::require_clear)),
        )
        .with_state(state)
}

/// A body that is JSON (`application/json`) or a urlencoded form; anything else is 415.
pub(crate) struct JsonOrForm<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send + 'static> FromRequest<S> for JsonOrForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let mime = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        match mime.as_deref() {
            Some("application/json") => Json::<T>::from_request(req, state)
                .await
                .map(|Json(t)| Self(t))
                .map_err(crate::body::json_rejected),
            Some("application/x-www-form-urlencoded") => Form::<T>::from_request(req, state)
                .await
                .map(|Form(t)| Self(t))
                .map_err(crate::body::form_rejected),
            _ => {
                Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected application/json or a form")
                    .into_response())
            }
        }
    }
}

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

#[derive(Deserialize)]
struct Password {
    password: String,
}

/// `POST /reauth` with the logged-in user's password: the session records that the user
/// proved who they are again, which ending sessions asks for (within `--reauth-window`).
async fn reauth(
    State(state): State<AppState>,
    session: Session,
    JsonOrForm(body): JsonOrForm<Password>,
) -> Result<Response, Error> {
    let Some(user) = session.user().await? else {
        return Ok((StatusCode::UNAUTHORIZED, Json(json!({"error": "not logged in"}))).into_response());
    };
    // A stolen session must not be a way around the login limits to guess the password.
    if let Err(refused) = count_attempt(&state, &user).await {
        return Ok(refused);
    }
    if !state.users.verify_blocking(&user, &body.password).await {
        return Ok(invalid_credentials());
    }
    session.reauthenticated().await?;
    let window = state.reauth_window.as_secs();
    Ok(Json(json!({"reauthenticated": true, "valid_for_seconds": window})).into_response())
}

/// Counts a password attempt for `user` against `--limit-login-per-client` and
/// `--limit-login-per-user`, before the password is checked: the answer past a limit (429
/// `{"error": "too_many_attempts"}` with `Retry-After`, or 503 if the shared store is down)
/// is the same for every name, known or not.
pub(crate) async fn count_attempt(state: &AppState, user: &str) -> Result<(), Response> {
    let Some(throttle) = &state.throttle else { return Ok(()) };
    match throttle.check_login(user).await {
        Ok(()) => Ok(()),
        Err(sessionwarden::throttle::ThrottleError::Throttled(t)) => {
            Err(too_many_attempts(t.retry_after_secs()))
        }
        Err(e) => Err(e.into_response()),
    }
}

/// 429 for a login over a rate limit: JSON like the other login answers, `Retry-After`.
pub(crate) fn too_many_attempts(retry_after_secs: u64) -> Response {
    let mut res =
        (StatusCode::TOO_MANY_REQUESTS, Json(json!({"error": "too_many_attempts"}))).into_response();
    res.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
    res
}

pub(crate) fn invalid_credentials() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid username or password"}))).into_response()
}

/// 409: the user has `--max-sessions-per-user` live sessions under `refuse-new`. A conflict
/// with the state of the account (not a rate to wait out, so not 429): it lasts until the
/// user ends a session or one expires.
pub(crate) fn too_many_sessions() -> Response {
    (StatusCode::CONFLICT, Json(json!({"error": "too_many_sessions"}))).into_response()
}

/// Logs in: CSRF-checked even without a session (login CSRF), then a new session id
/// (fixation), the user on the session, and a new CSRF secret (pre-login tokens die).
async fn login(
    State(state): State<AppState>,
    session: Session,
    _checked: CsrfVerified,
    tokens: csrf::CsrfTokens,
    JsonOrForm(creds): JsonOrForm<Credentials>,
) -> Result<Response, Error> {
    let Credentials { username, password } = creds;
    // Counted before the password is checked, known name or not: the same 429 for both.
    if let Err(refused) = count_attempt(&state, &username).await {
        return Ok(refused);
    }
    if !state.users.verify_blocking(&username, &password).await {
        return Ok(invalid_credentials());
    }
    // New id, the user, login time and method, client metadata, and the CSRF secret dropped;
    // counted against --max-sessions-per-user, refused for a disabled user.
    match session.login(&username, sessionwarden::LoginMethod::Password).await {
        Ok(()) => {}
        // The same answer as a wrong password: disabling an account reveals nothing.
        Err(Error::AccountDisabled) => return Ok(invalid_credentials()),
        Err(Error::TooManySessions) => return Ok(too_many_sessions()),
        Err(e) => return Err(e),
    }
    // The layer's scheme: sessionwarden's tokens, or Flask-WTF's under a Flask store.
    tokens.rotate().await?;
    let token = tokens.token().await?;
    Ok(Json(json!({"user": username, "csrf_token": token})).into_response())
}

/// Ends the session: deleted from the store, cookie expired.
///
/// On a server-side store (memory, SQLite, PostgreSQL, Redis) the record is gone, so a copy
/// of the old cookie never loads again. The pure cookie store (`--store cookie`) has no
/// record to delete: logout expires the cookie in this browser, but a copy taken earlier
/// stays valid until its idle or absolute deadline. What closes that gap: a server-side
/// store, short timeouts, or rotating and then retiring the key (which logs everyone out).
///
/// The access and refresh tokens issued for the session (`GET /token`) are revoked first, so
/// a failing token store leaves the session in place for a retry.
async fn logout(State(state): State<AppState>, session: Session) -> Result<Json<Value>, Error> {
    crate::tokens::revoke_session_tokens(&state, &session).await?;
    session.destroy().await?;
    Ok(Json(json!({"user": null})))
}

async fn csrf_token(token: CsrfToken) -> Json<Value> {
    Json(json!({"csrf_token": token}))
}

#[derive(Deserialize)]
struct NewNote {
    note: String,
}

async fn notes(session: Session) -> Result<Json<Value>, Error> {
    let notes: Vec<String> = session.get(NOTES_KEY).await?.unwrap_or_default();
    Ok(Json(json!({"notes": notes})))
}

/// The protected demo route: appends a note to the session's list.
async fn add_note(session: Session, JsonOrForm(new): JsonOrForm<NewNote>) -> Result<Json<Value>, Error> {
    let mut notes: Vec<String> = session.get(NOTES_KEY).await?.unwrap_or_default();
    notes.push(new.note);
    session.insert(NOTES_KEY, &notes).await?;
    Ok(Json(json!({"notes": notes})))
}

/// Whether clients may read or write `key` through `/session/data`: not the CSRF secret, not
/// the token session id.
pub(crate) fn is_reserved(key: &str) -> bool {
    key == csrf::SESSION_KEY
        || key == crate::tokens::SID_KEY
        // Flask-WTF's per-session secret, under the Flask stores' token scheme.
        || key == sessionwarden_flask::CSRF_SESSION_KEY
}
