//! The admin JSON API under `/admin/api/…` and its OpenAPI document at
//! `/admin/openapi.json`.
//!
//! Routes and document come from the same [`utoipa_axum::routes!`] lists, so a route cannot
//! be served without being documented. Responses never hold a session id, a cookie value, a
//! token or key material: sessions are named by handle, keys by id. A capability the store
//! lacks answers 501 with a fixed body naming it, never an empty list.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use sessionwarden::keyring::{KeyId, KeyringFile};
use sessionwarden::store::{AuditEntry, AuditLog, AuditQuery, ListQuery, SessionPage};
use sessionwarden::{SecurityEvent, SessionHandle, SessionIndex, SessionInfo, StoreError, Timestamp};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AdminState;
use crate::stores::Unsupported;

/// Sessions listed when `limit` is not given.
pub const DEFAULT_LIST_LIMIT: usize = 100;
/// Most sessions one listing returns.
pub const MAX_LIST_LIMIT: usize = 10_000;
/// Audit records returned when `limit` is not given.
pub const DEFAULT_EVENTS_LIMIT: usize = 100;
/// Most audit records one query returns.
pub const MAX_EVENTS_LIMIT: usize = 1_000;
/// Sessions revoked per round of a revoke-all.
const REVOKE_ALL_BATCH: usize = 1_000;
/// The value `POST /admin/api/sessions/revoke-all` needs in `?confirm=`.
pub const REVOKE_ALL_CONFIRMATION: &str = "revoke-all";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sessionwarden admin API",
        description = "Sessions, audit records and keys of a sessionwarden server. Every request \
                       needs `Authorization: Bearer <admin token>`."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API routes with their documentation, from one list.
fn documented() -> OpenApiRouter<AdminState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list_sessions))
        .routes(routes!(show_session))
        .routes(routes!(revoke_session))
        .routes(routes!(revoke_user))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
        .routes(routes!(list_disabled_users))
        .routes(routes!(revoke_all))
        .routes(routes!(list_events))
        .routes(routes!(list_keys))
        .routes(routes!(rotate_key))
        .routes(routes!(retire_key))
        .routes(routes!(openapi_json))
}

/// The API routes and the document describing them (unauthenticated: [`super::admin_router`]
/// puts the token check in front).
pub(super) fn router(state: AdminState) -> Router {
    let (router, doc) = documented().split_for_parts();
    router.layer(Extension(Arc::new(doc))).with_state(state)
}

/// The OpenAPI document of the admin API, as served at `/admin/openapi.json`.
#[must_use]
pub fn openapi() -> utoipa::openapi::OpenApi {
    documented().split_for_parts().1
}

// ---- errors ----

/// An error answer: `{"error": …}` with a fixed text per kind, plus the capability for 501.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    error: String,
    /// The missing capability (`session_index`, `audit_log`, `keyring_file`), on 501 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    capability: Option<&'static str>,
    /// Why the configured store lacks it, on 501 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
}

/// Why an admin operation failed; the JSON API answers it as [`ErrorBody`], the dashboard
/// as a message on the page ([`ApiError::status_and_message`]).
#[derive(Debug)]
pub(super) enum ApiError {
    Status(StatusCode, String),
    Unsupported { capability: &'static str, why: String },
    Store(StoreError),
}

impl ApiError {
    fn new(status: StatusCode, error: impl Into<String>) -> Self {
        Self::Status(status, error.into())
    }
    fn unsupported(capability: &'static str, why: &Unsupported) -> Self {
        Self::Unsupported { capability, why: why.to_string() }
    }

    /// The status and the text a person is shown: the same fixed texts as the JSON bodies
    /// (a store error is logged, never shown).
    pub(super) fn status_and_message(&self) -> (StatusCode, String) {
        match self {
            Self::Status(status, error) => (*status, error.clone()),
            Self::Unsupported { why, .. } => {
                (StatusCode::NOT_IMPLEMENTED, format!("not supported by the configured store: {why}"))
            }
            Self::Store(e) => {
                tracing::warn!(target: "sessionwarden::admin", error = %e, "store error");
                (StatusCode::SERVICE_UNAVAILABLE, "session store unavailable".into())
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            Self::Status(status, error) => (status, ErrorBody { error, capability: None, detail: None }),
            Self::Unsupported { capability, why } => (
                StatusCode::NOT_IMPLEMENTED,
                ErrorBody {
                    error: "not supported by the configured store".into(),
                    capability: Some(capability),
                    detail: Some(why),
                },
            ),
            Self::Store(e) => {
                tracing::warn!(target: "sessionwarden::admin", error = %e, "store error");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorBody { error: "session store unavailable".into(), capability: None, detail: None },
                )
            }
        };
        (status, Json(body)).into_response()
    }
}

pub(super) fn index(state: &AdminState) -> Result<&Arc<dyn SessionIndex>, ApiError> {
    state.index.as_ref().map_err(|why| ApiError::unsupported("session_index", why))
}

pub(super) fn audit(state: &AdminState) -> Result<&Arc<dyn AuditLog>, ApiError> {
    state.audit.as_ref().map_err(|why| ApiError::unsupported("audit_log", why))
}

fn key_path(state: &AdminState) -> Result<std::path::PathBuf, ApiError> {
    state.key_path().cloned().ok_or(ApiError::Unsupported {
        capability: "keyring_file",
        why: "keys come from SECRET_KEY / SECRET_KEY_FALLBACKS: change them there and restart".into(),
    })
}

pub(super) fn parse_handle(raw: &str) -> Result<SessionHandle, ApiError> {
    SessionHandle::parse(raw).ok_or_else(|| {
        ApiError::new(StatusCode::BAD_REQUEST, "not a session handle (22 characters of base64url)")
    })
}

// ---- sessions ----

/// One session, as listings show it (no id, no data). The real answer is
/// [`SessionInfo`]'s serde form, so fields added there appear here without a change.
#[derive(ToSchema)]
#[allow(dead_code)] // schema only
struct SessionInfoDoc {
    /// Opaque name for showing and revoking it.
    handle: String,
    /// The authenticated user, if any.
    user: Option<String>,
    /// Created, Unix seconds.
    created: i64,
    /// Last renewed, Unix seconds.
    last_seen: i64,
    /// Expires, Unix seconds, if ever.
    expires_at: Option<i64>,
    /// What the store keeps about the client (IP prefix, user-agent hash, …).
    #[schema(value_type = Option<Object>)]
    client: Option<serde_json::Value>,
}

/// A page of sessions, in handle order.
#[derive(Serialize, ToSchema)]
struct SessionList {
    #[schema(value_type = Vec<SessionInfoDoc>)]
    sessions: Vec<SessionInfo>,
    /// Pass as `cursor` for the next page; `null` when no live session follows.
    #[schema(value_type = Option<String>)]
    next: Option<SessionHandle>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Only this user's sessions.
    user: Option<String>,
    /// At most this many (default 100, at most 10000).
    limit: Option<usize>,
    /// Start after this handle: the `next` of the previous page.
    cursor: Option<String>,
}

/// The one place the admin API lists sessions: a page of the index's handle-ordered
/// listing, which stays a primary-key range read at millions of sessions.
pub(super) async fn listing(
    index: &dyn SessionIndex,
    user: Option<&str>,
    after: Option<SessionHandle>,
    limit: usize,
    now: Timestamp,
) -> Result<SessionPage, StoreError> {
    let mut query = ListQuery::first(limit).with_after(after);
    query.user = user.map(str::to_owned);
    index.list_page(&query, now).await
}

/// The live session named `handle`, if any: the first entry of the page that starts just
/// before the handle's position (a point read, whatever the store holds).
async fn find(
    index: &dyn SessionIndex,
    handle: &SessionHandle,
    now: Timestamp,
) -> Result<Option<SessionInfo>, StoreError> {
    let Some(prefix) = handle.key_prefix() else { return Ok(None) };
    let after = u128::from_be_bytes(prefix).checked_sub(1).map(|p| {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&p.to_be_bytes());
        sessionwarden::StoreKey::from_bytes(key).handle()
    });
    let page = listing(index, None, after, 1, now).await?;
    Ok(page.sessions.into_iter().next().filter(|s| s.handle == *handle))
}

/// Lists live sessions.
#[utoipa::path(get, path = "/admin/api/sessions", tag = "sessions", params(ListParams),
    responses(
        (status = 200, body = SessionList),
        (status = 400, body = ErrorBody, description = "bad limit"),
        (status = 501, body = ErrorBody, description = "the store cannot list sessions"),
    ))]
async fn list_sessions(
    State(state): State<AdminState>,
    Query(p): Query<ListParams>,
) -> Result<Json<SessionList>, ApiError> {
    let index = index(&state)?;
    let limit = p.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if limit == 0 || limit > MAX_LIST_LIMIT {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "limit must be 1 to 10000"));
    }
    let after = p.cursor.as_deref().map(parse_handle).transpose()?;
    let page = listing(index.as_ref(), p.user.as_deref(), after, limit, state.app.clock.now()).await?;
    Ok(Json(SessionList { sessions: page.sessions, next: page.next }))
}

/// Shows one live session.
#[utoipa::path(get, path = "/admin/api/sessions/{handle}", tag = "sessions",
    params(("handle" = String, Path, description = "the session's handle")),
    responses(
        (status = 200, body = SessionInfoDoc),
        (status = 400, body = ErrorBody, description = "not a handle"),
        (status = 404, body = ErrorBody, description = "no live session has this handle"),
        (status = 501, body = ErrorBody, description = "the store cannot list sessions"),
    ))]
async fn show_session(
    State(state): State<AdminState>,
    Path(handle): Path<String>,
) -> Result<Response, ApiError> {
    let index = index(&state)?;
    let handle = parse_handle(&handle)?;
    match find(index.as_ref(), &handle, state.app.clock.now()).await? {
        Some(info) => Ok(Json(info).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, "no live session has this handle")),
    }
}

/// What a revocation did.
#[derive(Serialize, ToSchema)]
struct Revoked {
    /// Sessions deleted.
    revoked_sessions: u64,
    /// The user whose sessions and tokens were revoked, if one was named.
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
}

/// Revokes one session at once: its cookie no longer loads it.
#[utoipa::path(post, path = "/admin/api/sessions/{handle}/revoke", tag = "sessions",
    params(("handle" = String, Path, description = "the session's handle")),
    responses(
        (status = 200, body = Revoked),
        (status = 400, body = ErrorBody, description = "not a handle"),
        (status = 404, body = ErrorBody, description = "no live session has this handle"),
        (status = 501, body = ErrorBody, description = "the store cannot revoke sessions"),
    ))]
async fn revoke_session(
    State(state): State<AdminState>,
    Path(handle): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    revoke_one(&state, &parse_handle(&handle)?).await?;
    Ok(Json(Revoked { revoked_sessions: 1, user: None }))
}

/// Revokes the session named `handle` and its tokens (the API's and the dashboard's one
/// implementation).
pub(super) async fn revoke_one(state: &AdminState, handle: &SessionHandle) -> Result<(), ApiError> {
    let index = index(state)?;
    if !index.revoke(handle).await? {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no live session has this handle"));
    }
    // The session's JWTs carry its handle as `sid`: its refresh families end with it.
    state
        .app
        .tokens
        .revoke_session(handle.as_str())
        .await
        .map_err(|e| ApiError::Store(StoreError::unavailable("token store", e)))?;
    state.app.events.record(state.app.clock.now(), SecurityEvent::SessionRevoked { session: handle.clone() });
    Ok(())
}

/// Revokes every session of a user and, as `POST /logout-everywhere` does, every refresh-token
/// family and access token issued to them up to now.
#[utoipa::path(post, path = "/admin/api/users/{user}/revoke", tag = "sessions",
    params(("user" = String, Path, description = "the user")),
    responses(
        (status = 200, body = Revoked),
        (status = 501, body = ErrorBody, description = "the store cannot revoke sessions by user"),
        (status = 503, body = ErrorBody, description = "a store failed"),
    ))]
async fn revoke_user(
    State(state): State<AdminState>,
    Path(user): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    let sessions = revoke_user_sessions(&state, &user).await?;
    Ok(Json(Revoked { revoked_sessions: sessions, user: Some(user) }))
}

/// Revokes every session and token of `user`; how many sessions ended.
pub(super) async fn revoke_user_sessions(state: &AdminState, user: &str) -> Result<u64, ApiError> {
    // Decided before any token is touched: a partial revocation would look like a whole one.
    let index = index(state)?;
    revoke_tokens(state, user).await?;
    let sessions = index.revoke_user(user).await?;
    state.app.events.record(
        state.app.clock.now(),
        SecurityEvent::SessionsRevoked { user: Some(user.to_owned()), sessions },
    );
    Ok(sessions)
}

/// What disabling or enabling a user did.
#[derive(Serialize, ToSchema)]
struct UserState {
    user: String,
    disabled: bool,
    /// Whether this request changed it (false: it already was).
    changed: bool,
    /// Sessions ended (disable only).
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_sessions: Option<u64>,
}

/// The answer for a failed disable or enable.
pub(super) fn users_error(e: crate::users::UsersError) -> ApiError {
    match e {
        crate::users::UsersError::Unsupported(why) => ApiError::unsupported("account_locks", &why),
        crate::users::UsersError::Store(e) => ApiError::Store(e),
        other => {
            tracing::warn!(target: "sessionwarden::admin", error = %other, "disabling a user failed");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "token store unavailable: run it again")
        }
    }
}

/// Disables a user (OWASP ASVS 7.4.2): every server of the fleet refuses their logins (as a
/// wrong password), and every session, refresh family and access token of theirs ends.
#[utoipa::path(post, path = "/admin/api/users/{user}/disable", tag = "users",
    params(("user" = String, Path, description = "the user")),
    responses(
        (status = 200, body = UserState),
        (status = 501, body = ErrorBody, description = "the store keeps no disabled accounts"),
        (status = 503, body = ErrorBody, description = "a store failed; run it again"),
    ))]
async fn disable_user(
    State(state): State<AdminState>,
    Path(user): Path<String>,
) -> Result<Json<UserState>, ApiError> {
    let done = crate::users::disable_user(&state.app, &user).await.map_err(users_error)?;
    Ok(Json(UserState { user, disabled: true, changed: done.newly, revoked_sessions: Some(done.sessions) }))
}

/// Enables a disabled user again.
#[utoipa::path(post, path = "/admin/api/users/{user}/enable", tag = "users",
    params(("user" = String, Path, description = "the user")),
    responses(
        (status = 200, body = UserState),
        (status = 501, body = ErrorBody, description = "the store keeps no disabled accounts"),
    ))]
async fn enable_user(
    State(state): State<AdminState>,
    Path(user): Path<String>,
) -> Result<Json<UserState>, ApiError> {
    let changed = crate::users::enable_user(&state.app, &user).await.map_err(users_error)?;
    Ok(Json(UserState { user, disabled: false, changed, revoked_sessions: None }))
}

/// The disabled users.
#[utoipa::path(get, path = "/admin/api/users/disabled", tag = "users",
    responses(
        (status = 200, description = "`{\"users\": [{\"user\", \"since\"}]}`"),
        (status = 501, body = ErrorBody, description = "the store keeps no disabled accounts"),
    ))]
async fn list_disabled_users(State(state): State<AdminState>) -> Result<Response, ApiError> {
    let users = crate::users::disabled_users(&state.app).await.map_err(users_error)?;
    Ok(Json(serde_json::json!({ "users": users })).into_response())
}

async fn revoke_tokens(state: &AdminState, user: &str) -> Result<(), ApiError> {
    state.app.tokens.revoke_user(user).await.map_err(|e| {
        tracing::warn!(target: "sessionwarden::admin", error = %e, "token revocation failed");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "token store unavailable")
    })
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ConfirmParams {
    /// Must be `revoke-all`.
    confirm: Option<String>,
}

/// Revokes every session of every user, with the tokens of every user who had one.
#[utoipa::path(post, path = "/admin/api/sessions/revoke-all", tag = "sessions", params(ConfirmParams),
    responses(
        (status = 200, body = Revoked),
        (status = 400, body = ErrorBody, description = "`?confirm=revoke-all` is missing"),
        (status = 501, body = ErrorBody, description = "the store cannot list or revoke sessions"),
    ))]
async fn revoke_all(
    State(state): State<AdminState>,
    Query(p): Query<ConfirmParams>,
) -> Result<Json<Revoked>, ApiError> {
    let index = index(&state)?;
    if p.confirm.as_deref() != Some(REVOKE_ALL_CONFIRMATION) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "revoking every session needs ?confirm=revoke-all",
        ));
    }
    let mut revoked = 0u64;
    let mut users = BTreeSet::new();
    // Round by round until a listing comes back empty. Sessions created meanwhile may be
    // caught or not; the bound keeps a flood of new sessions from holding this forever.
    for _ in 0..10_000 {
        let batch = listing(index.as_ref(), None, None, REVOKE_ALL_BATCH, state.app.clock.now()).await?;
        if batch.sessions.is_empty() {
            break;
        }
        for s in batch.sessions {
            if let Some(user) = s.user {
                users.insert(user);
            }
            if index.revoke(&s.handle).await? {
                revoked += 1;
            }
        }
    }
    for user in &users {
        revoke_tokens(&state, user).await?;
    }
    state
        .app
        .events
        .record(state.app.clock.now(), SecurityEvent::SessionsRevoked { user: None, sessions: revoked });
    Ok(Json(Revoked { revoked_sessions: revoked, user: None }))
}

// ---- events ----

/// One audit record. The real answer is the store's `AuditEntry` in its serde form.
#[derive(ToSchema)]
#[allow(dead_code)] // schema only
struct AuditEntryDoc {
    /// When, Unix seconds.
    at: i64,
    /// The event kind (`session_revoked`, `csrf_rejected`, `admin_auth_failed`, …).
    kind: String,
    /// The user concerned, if any.
    user: Option<String>,
    /// The session concerned, by handle, if any.
    handle: Option<String>,
    /// The event's other fields.
    #[schema(value_type = Object)]
    detail: serde_json::Value,
}

/// Audit records, newest first.
#[derive(Serialize, ToSchema)]
struct EventList {
    #[schema(value_type = Vec<AuditEntryDoc>)]
    events: Vec<AuditEntry>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct EventParams {
    /// Only this kind (`session_revoked`, …).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub(super) kind: Option<String>,
    /// Only this user.
    pub(super) user: Option<String>,
    /// At or after: Unix seconds or RFC 3339 (`2026-01-02T03:04:05Z`).
    pub(super) since: Option<String>,
    /// Before: Unix seconds or RFC 3339.
    pub(super) until: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub(super) limit: Option<usize>,
}

fn parse_time(name: &str, raw: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    if let Ok(secs) = raw.parse::<i64>() {
        return Ok(Some(Timestamp::from_unix(secs)));
    }
    let t = humantime::parse_rfc3339_weak(raw).map_err(|_| {
        ApiError::new(StatusCode::BAD_REQUEST, format!("{name} must be Unix seconds or an RFC 3339 time"))
    })?;
    let secs = t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Ok(Some(Timestamp::from_unix(i64::try_from(secs).unwrap_or(i64::MAX))))
}

/// Queries the audit records the store keeps.
#[utoipa::path(get, path = "/admin/api/events", tag = "events", params(EventParams),
    responses(
        (status = 200, body = EventList),
        (status = 400, body = ErrorBody, description = "a bad time or limit"),
        (status = 501, body = ErrorBody, description = "the store keeps no audit records"),
    ))]
async fn list_events(
    State(state): State<AdminState>,
    Query(p): Query<EventParams>,
) -> Result<Json<EventList>, ApiError> {
    Ok(Json(EventList { events: query_events(&state, p).await? }))
}

/// The audit records `p` asks for, newest first. Empty filters count as absent (a form
/// sends every field).
pub(super) async fn query_events(state: &AdminState, p: EventParams) -> Result<Vec<AuditEntry>, ApiError> {
    let log = audit(state)?;
    let limit = p.limit.unwrap_or(DEFAULT_EVENTS_LIMIT);
    if limit == 0 || limit > MAX_EVENTS_LIMIT {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "limit must be 1 to 1000"));
    }
    let given = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
    let mut query = AuditQuery::newest(limit);
    query.kind = given(p.kind);
    query.user = given(p.user);
    query.since = parse_time("since", given(p.since).as_deref().map(str::trim))?;
    query.until = parse_time("until", given(p.until).as_deref().map(str::trim))?;
    Ok(log.query(&query).await?)
}

// ---- keys ----

/// One key: id, state, creation time. Never key material.
#[derive(Serialize, ToSchema)]
pub(super) struct KeyRow {
    /// The key id.
    pub(super) kid: u32,
    /// `primary`, `verify` or `retired`.
    pub(super) state: &'static str,
    /// Created, Unix seconds.
    pub(super) created: i64,
}

/// The keyring's keys.
#[derive(Serialize, ToSchema)]
pub(super) struct KeyList {
    pub(super) keys: Vec<KeyRow>,
}

fn key_rows(entries: &[sessionwarden::keyring::KeyEntry]) -> KeyList {
    KeyList {
        keys: entries
            .iter()
            .map(|e| KeyRow { kid: e.kid().get(), state: e.state().as_str(), created: e.created().unix() })
            .collect(),
    }
}

/// The shared keyring, if keys come from the store (`--keyring-store`).
fn shared(state: &AdminState) -> Option<&std::sync::Arc<sessionwarden::keyring::SharedKeyring>> {
    match &state.keys {
        crate::keys::KeySource::Shared(shared) => Some(shared),
        _ => None,
    }
}

fn keyring_error(e: &sessionwarden::keyring::KeyringError) -> ApiError {
    use sessionwarden::keyring::KeyringError;
    match e {
        KeyringError::UnknownKey { .. } => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
        KeyringError::RetirePrimary { .. } => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        KeyringError::Contended { .. } => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        KeyringError::Store { .. } => {
            tracing::warn!(target: "sessionwarden::admin", error = %e, "shared keyring");
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "keyring store unavailable")
        }
        _ => {
            tracing::warn!(target: "sessionwarden::admin", error = %e, "keyring file");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "keyring file could not be read or written")
        }
    }
}

/// Changes the keyring (the shared one in the store, or the file under the lock), then puts
/// its keys in use at once (other servers of a fleet follow within a second).
async fn change_keys(
    state: &AdminState,
    change: impl FnMut(&mut KeyringFile, Timestamp) -> Result<(), sessionwarden::keyring::KeyringError>
    + Send
    + 'static,
) -> Result<KeyList, ApiError> {
    let mut change = change;
    if let Some(shared) = shared(state) {
        let now = state.app.clock.now();
        let entries =
            shared.update(|file| change(file, now).map(|()| true)).await.map_err(|e| keyring_error(&e))?;
        let primary_kid = shared.keyring().current().primary().id().get();
        state.app.events.record(now, SecurityEvent::KeyringReloaded { primary_kid });
        return Ok(key_rows(&entries));
    }
    let path = key_path(state)?;
    let _guard = state.key_file.lock().await;
    let now = state.app.clock.now();
    let task = tokio::task::spawn_blocking(move || {
        let mut file = KeyringFile::load(&path)?;
        change(&mut file, now)?;
        file.save(&path)?;
        let set = file.key_set()?;
        Ok::<_, sessionwarden::keyring::KeyringError>((key_rows(file.entries()), set))
    });
    let (rows, set) = task
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "keyring change failed"))?
        .map_err(|e| keyring_error(&e))?;
    let primary_kid = set.primary().id().get();
    state.app.keyring.replace(set);
    state.app.events.record(now, SecurityEvent::KeyringReloaded { primary_kid });
    Ok(rows)
}

/// Lists the keyring file's keys.
#[utoipa::path(get, path = "/admin/api/keys", tag = "keys",
    responses(
        (status = 200, body = KeyList),
        (status = 501, body = ErrorBody, description = "keys come from the environment"),
    ))]
async fn list_keys(State(state): State<AdminState>) -> Result<Json<KeyList>, ApiError> {
    keys(&state).await.map(Json)
}

/// The keyring's keys: the shared one's in the store, or the file's.
pub(super) async fn keys(state: &AdminState) -> Result<KeyList, ApiError> {
    if let Some(shared) = shared(state) {
        return Ok(key_rows(&shared.entries().await.map_err(|e| keyring_error(&e))?));
    }
    let path = key_path(state)?;
    let file = tokio::task::spawn_blocking(move || KeyringFile::load(&path))
        .await
        .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "keyring file could not be read"))?
        .map_err(|e| keyring_error(&e))?;
    Ok(key_rows(file.entries()))
}

/// Adds a new primary key; the old primary only verifies from now on.
#[utoipa::path(post, path = "/admin/api/keys/rotate", tag = "keys",
    responses(
        (status = 200, body = KeyList, description = "the keys after the rotation"),
        (status = 501, body = ErrorBody, description = "keys come from the environment"),
    ))]
async fn rotate_key(State(state): State<AdminState>) -> Result<Json<KeyList>, ApiError> {
    rotate(&state).await.map(Json)
}

/// Adds a new primary key; the keys after the change.
pub(super) async fn rotate(state: &AdminState) -> Result<KeyList, ApiError> {
    change_keys(state, |file, now| file.rotate(now).map(|_| ())).await
}

/// Retires a verify-only key: what it sealed is rejected from now on.
#[utoipa::path(post, path = "/admin/api/keys/{kid}/retire", tag = "keys",
    params(("kid" = u32, Path, description = "the key id")),
    responses(
        (status = 200, body = KeyList, description = "the keys after the change"),
        (status = 404, body = ErrorBody, description = "no such key"),
        (status = 409, body = ErrorBody, description = "the key is the primary"),
        (status = 501, body = ErrorBody, description = "keys come from the environment"),
    ))]
async fn retire_key(
    State(state): State<AdminState>,
    Path(kid): Path<String>,
) -> Result<Json<KeyList>, ApiError> {
    retire(&state, &kid).await.map(Json)
}

/// Retires the verify-only key `kid`; the keys after the change.
pub(super) async fn retire(state: &AdminState, kid: &str) -> Result<KeyList, ApiError> {
    let kid = KeyId::parse(kid).ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "not a key id"))?;
    change_keys(state, move |file, _| file.retire(kid)).await
}

// ---- document ----

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/admin/openapi.json", tag = "meta",
    responses((status = 200, description = "the OpenAPI document", content_type = "application/json")))]
async fn openapi_json(Extension(doc): Extension<Arc<utoipa::openapi::OpenApi>>) -> Response {
    Json(doc.as_ref()).into_response()
}
