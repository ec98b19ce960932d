//! Self-service for the logged-in user (OWASP ASVS 7.5.2, 7.4.3): see and end one's own
//! sessions, change one's password and end the other sessions with it.
//!
//! - `GET /account/sessions`: the user's live sessions (handle, created, last seen, expiry,
//!   IP prefix, device, login time and method, `current: true` for this one);
//! - `POST /account/sessions/{handle}/revoke`: ends one of them;
//! - `POST /account/sessions/revoke-others`: ends all but this one;
//! - `POST /account/password` `{current_password, new_password, revoke_other_sessions}`:
//!   changes the password and, when asked, ends the other sessions at once; the answer says
//!   how many other sessions there are either way, so a client can offer to end them.
//!
//! Ending sessions needs a login or a `POST /reauth` within `--reauth-window` (default 5
//! minutes): otherwise 401 `{"error": "reauth_required"}`. The session layer's CSRF checks
//! cover every `POST`. A store that cannot list sessions by user answers 501, and the cookie
//! store, which keeps no sessions on the server, 501 too: an empty list would be a lie.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;
use sessionwarden::{Error, Revoked, Session, SessionHandle, SessionIndex};

use crate::AppState;
use crate::auth::JsonOrForm;
use crate::stores::UserRevocation;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/account/sessions", get(list))
        .route("/account/sessions/revoke-others", post(revoke_others))
        .route("/account/sessions/{handle}/revoke", post(revoke))
        .route("/account/password", post(change_password))
        // Protected: answered 401 `reauth_required` while a risk rule asks for a step-up.
        .route_layer(axum::middleware::from_fn(crate::risk::require_clear))
        .with_state(state)
}

/// The store's index, or the 501 that says why there is none.
#[allow(clippy::result_large_err)] // a Response, built once per refused request
fn index(state: &AppState) -> Result<&dyn SessionIndex, Response> {
    match &state.user_revocation {
        UserRevocation::Index(index) => Ok(&**index),
        UserRevocation::NoServerSessions => Err(not_implemented(
            "the cookie store keeps no sessions on the server: there is nothing to list or end",
        )),
        UserRevocation::Unsupported(why) => Err(not_implemented(&why.to_string())),
    }
}

fn not_implemented(why: &str) -> Response {
    (StatusCode::NOT_IMPLEMENTED, Json(json!({"error": why}))).into_response()
}

/// The answer for a session error: 401 with a machine-readable `error` for "log in" and
/// "re-authenticate", the layer's answer otherwise.
fn refused(e: Error) -> Response {
    match e {
        Error::NotLoggedIn => {
            (StatusCode::UNAUTHORIZED, Json(json!({"error": "not_logged_in"}))).into_response()
        }
        Error::ReauthRequired => {
            (StatusCode::UNAUTHORIZED, Json(json!({"error": "reauth_required", "reauth": "/reauth"})))
                .into_response()
        }
        other => other.into_response(),
    }
}

async fn list(State(state): State<AppState>, session: Session) -> Response {
    let index = match index(&state) {
        Ok(index) => index,
        Err(res) => return res,
    };
    match session.own_sessions(index).await {
        Ok(sessions) => Json(json!({"sessions": sessions})).into_response(),
        Err(e) => refused(e),
    }
}

async fn revoke(State(state): State<AppState>, session: Session, Path(handle): Path<String>) -> Response {
    let index = match index(&state) {
        Ok(index) => index,
        Err(res) => return res,
    };
    // A malformed handle names no session: the same answer as another user's.
    let Some(handle) = SessionHandle::parse(&handle) else {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "no such session"}))).into_response();
    };
    let result = session.revoke_own_session(index, &handle, state.reauth_window).await;
    match result {
        Ok(Revoked::NotFound) => {
            (StatusCode::NOT_FOUND, Json(json!({"error": "no such session"}))).into_response()
        }
        Ok(revoked) => {
            // The session's JWT refresh families and access tokens end with it.
            if let Err(e) = state.tokens.revoke_session(handle.as_str()).await {
                return crate::tokens::jwt_error(e).into_response();
            }
            let current = revoked == Revoked::Current;
            Json(json!({"revoked": handle, "current": current})).into_response()
        }
        Err(e) => refused(e),
    }
}

async fn revoke_others(State(state): State<AppState>, session: Session) -> Response {
    let index = match index(&state) {
        Ok(index) => index,
        Err(res) => return res,
    };
    match session.revoke_other_sessions(index, state.reauth_window).await {
        Ok(ended) => {
            for handle in &ended {
                if let Err(e) = state.tokens.revoke_session(handle.as_str()).await {
                    return crate::tokens::jwt_error(e).into_response();
                }
            }
            Json(json!({"revoked": ended.len(), "handles": ended})).into_response()
        }
        Err(e) => refused(e),
    }
}

#[derive(Deserialize)]
struct PasswordChange {
    current_password: String,
    new_password: String,
    #[serde(default)]
    revoke_other_sessions: bool,
}

/// Changes the logged-in user's password after checking the current one. The check counts
/// as a re-authentication, so `revoke_other_sessions: true` ends the others in the same
/// request (ASVS 7.4.3); without it, the answer's `other_sessions` lets the client offer it.
async fn change_password(
    State(state): State<AppState>,
    session: Session,
    JsonOrForm(body): JsonOrForm<PasswordChange>,
) -> Result<Response, Error> {
    let Some(user) = session.user().await? else {
        return Ok(refused(Error::NotLoggedIn));
    };
    if body.new_password.is_empty() {
        return Ok(
            (StatusCode::BAD_REQUEST, Json(json!({"error": "the new password is empty"}))).into_response()
        );
    }
    if !state.users.verify_blocking(&user, &body.current_password).await {
        return Ok(crate::auth::invalid_credentials());
    }
    let users = state.users.clone();
    let (name, new) = (user.clone(), body.new_password);
    let changed = tokio::task::spawn_blocking(move || users.set_password(&name, &new))
        .await
        .unwrap_or_else(|_| Err("password hashing failed".to_owned()));
    match changed {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            tracing::error!(target: "sessionwarden::server", "password change failed");
            return Ok((StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": "password change failed"})))
                .into_response());
        }
    }
    session.reauthenticated().await?;
    let index = match index(&state) {
        Ok(index) => index,
        // The password changed; there is no list of other sessions to offer.
        Err(_) => return Ok(Json(json!({"changed": true, "other_sessions": null})).into_response()),
    };
    if body.revoke_other_sessions {
        let ended = session.revoke_other_sessions(index, state.reauth_window).await?;
        for handle in &ended {
            state.tokens.revoke_session(handle.as_str()).await.map_err(crate::tokens::jwt_error)?;
        }
        return Ok(
            Json(json!({"changed": true, "other_sessions": 0, "revoked": ended.len()})).into_response()
        );
    }
    let others = session.own_sessions(index).await?.iter().filter(|s| !s.current).count();
    Ok(Json(json!({
        "changed": true,
        "other_sessions": others,
        "revoke_others": "/account/sessions/revoke-others",
    }))
    .into_response())
}
