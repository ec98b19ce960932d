//! The risk rules in the reference server: the rules `--risk RULE=ACTION` configures, the
//! GeoIP databases of `--geoip-db`, the 401 that protected routes answer while a session
//! must re-authenticate, and the refresh-token reuse the token endpoint feeds to the engine.
//!
//! Protected routes (`/notes`, `/token`, `/me` from the session, `/account/*`,
//! `/logout-everywhere`) answer `401 {"error": "reauth_required", "reauth": "/reauth"}` while a
//! rule with the `step-up` action has marked the session; `POST /reauth` with the password
//! clears it. `POST /login`, `/logout`, `/reauth`, `/csrf-token` and the demo data routes stay
//! open, so the user can always answer the step-up or leave.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use axum::Json;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sessionwarden::Session;
use sessionwarden::risk::{ReuseOutcome, RiskRules, RiskVerdict, RuleSetting};

use crate::AppState;

/// The risk settings `serve` takes from its command line.
#[derive(Debug, Clone, Default)]
pub struct RiskSettings {
    /// `--risk RULE=ACTION`, applied in order over the defaults.
    pub rules: Vec<RuleSetting>,
    /// `--risk-off`: every rule off.
    pub off: bool,
    /// `--risk-concurrent-window`.
    pub concurrent_window: Option<Duration>,
    /// `--risk-max-speed` (km/h).
    pub max_speed_kmh: Option<f64>,
    /// `--geoip-db PATH` (repeatable): MaxMind-format databases.
    pub geoip_db: Vec<PathBuf>,
}

/// The rules `settings` describe, with their GeoIP databases opened.
///
/// # Errors
/// When a `--geoip-db` file cannot be read or is not a MaxMind DB.
pub fn rules(settings: &RiskSettings) -> Result<RiskRules> {
    if settings.off {
        return Ok(RiskRules::off());
    }
    let mut rules = RiskRules::default().with_settings(&settings.rules);
    if let Some(window) = settings.concurrent_window {
        rules = rules.with_concurrent_window(window);
    }
    if let Some(kmh) = settings.max_speed_kmh {
        rules = rules.with_max_speed_kmh(kmh);
    }
    if !settings.geoip_db.is_empty() {
        let db = sessionwarden::risk::MaxMindDb::open(&settings.geoip_db).context("--geoip-db")?;
        tracing::info!(target: "sessionwarden::server", databases = ?db.database_types(), "GeoIP databases loaded");
        rules = rules.with_geo(Arc::new(db));
    }
    Ok(rules)
}

/// The answer while the session must re-authenticate.
pub(crate) fn reauth_required() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"error": "reauth_required", "reauth": "/reauth"}))).into_response()
}

/// Middleware of the protected routes: 401 `reauth_required` while a risk rule asks for a
/// step-up; the route otherwise.
pub(crate) async fn require_clear(session: Session, req: Request, next: Next) -> Response {
    match session.risk().await {
        Ok(RiskVerdict::StepUp { .. }) => reauth_required(),
        Ok(_) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// After the token endpoint saw a reused refresh token (its family is revoked already):
/// the engine's `refresh_token_reuse` rule, and under `revoke` the family's session and its
/// other tokens ended too. Failures are logged, never turned into another answer: the
/// client gets the 401 of the refused refresh either way.
pub(crate) async fn refresh_token_reuse(state: &AppState, refresh_token: &str) {
    let family = match state.tokens.family_record_of(refresh_token).await {
        Ok(Some(family)) => family,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(target: "sessionwarden::server", error = %e, "reused refresh token: family lookup failed");
            return;
        }
    };
    let index = match &state.user_revocation {
        crate::stores::UserRevocation::Index(index) => Some(&**index),
        _ => None,
    };
    let handle = family.sid.as_deref().and_then(sessionwarden::SessionHandle::parse);
    let outcome = sessionwarden::risk::refresh_token_reuse(
        &state.risk,
        &state.events,
        state.clock.now(),
        index.map(|i| i as &dyn sessionwarden::SessionIndex),
        handle,
        Some(&family.sub),
        family.id.as_str(),
    )
    .await;
    match outcome {
        Ok(ReuseOutcome::Revoked(_)) => {
            if let Some(sid) = &family.sid
                && let Err(e) = state.tokens.revoke_session(sid).await
            {
                tracing::warn!(target: "sessionwarden::server", error = %e, "reused refresh token: session tokens not revoked");
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(target: "sessionwarden::server", error = %e, "reused refresh token: session not revoked");
        }
    }
}
