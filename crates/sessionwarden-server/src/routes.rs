//! The reference server's routes: the contract its tests and the README's examples rely on.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use sessionwarden::Session;

use crate::AppState;

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/set-session", get(set_session))
        .route("/get-session", get(get_session))
        .route("/session/data", get(get_data).post(post_data))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state.clone())
        .merge(crate::auth::router(state.clone()))
        .merge(crate::account::router(state.clone()))
        .merge(crate::tokens::router(state))
}

#[derive(Deserialize)]
struct SetParams {
    user: Option<String>,
}

/// The blog's first example: store `user` (default `admin`).
async fn set_session(
    session: Session,
    Query(p): Query<SetParams>,
) -> Result<&'static str, sessionwarden::Error> {
    session.insert("user", p.user.as_deref().unwrap_or("admin")).await?;
    Ok("Session set!")
}

/// Prints `user` as Flask's example does: `User: None` when unset.
async fn get_session(session: Session) -> Result<String, sessionwarden::Error> {
    let user = session.get_value("user").await?;
    Ok(match user {
        Some(Value::String(s)) => format!("User: {s}"),
        Some(other) => format!("User: {other}"),
        None => "User: None".to_owned(),
    })
}

async fn get_data(session: Session) -> Result<Json<Value>, sessionwarden::Error> {
    let mut data = session.data().await?;
    data.retain(|k, _| !crate::auth::is_reserved(k));
    Ok(Json(Value::Object(data)))
}

/// Merges a JSON object into the session; `null` removes a key.
async fn post_data(
    State(state): State<AppState>,
    session: Session,
    body: crate::body::JsonBody<Value>,
) -> Result<Response, sessionwarden::Error> {
    let crate::body::JsonBody(Value::Object(changes)) = body else {
        return Ok((StatusCode::BAD_REQUEST, "expected a JSON object").into_response());
    };
    if state.flask_values && !crate::flask::values_are_storable(&changes) {
        return Ok((StatusCode::BAD_REQUEST, "a $bytes/$tuple/$datetime/$uuid/$markup marker is malformed")
            .into_response());
    }
    // All or nothing: a value too deep to store again refuses the whole change (400).
    for (k, v) in &changes {
        sessionwarden::check_value_depth(k, v)?;
    }
    for (k, v) in changes {
        if crate::auth::is_reserved(&k) {
            // The CSRF secret is the server's, not the client's.
            continue;
        }
        if v.is_null() {
            session.remove::<Value>(&k).await?;
        } else {
            session.insert(&k, v).await?;
        }
    }
    let mut data = session.data().await?;
    data.retain(|k, _| !crate::auth::is_reserved(k));
    Ok(Json(Value::Object(data)).into_response())
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> Response {
    match &state.store {
        None => "ready".into_response(),
        Some(store) => match store.ping().await {
            Ok(()) => "ready".into_response(),
            Err(e) => {
                tracing::warn!(target: "sessionwarden::server", error = %e, "store not ready");
                (StatusCode::SERVICE_UNAVAILABLE, "store unavailable").into_response()
            }
        },
    }
}
