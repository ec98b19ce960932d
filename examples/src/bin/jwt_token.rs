//! The blog's JWT example (PyJWT's `jwt.encode({'user': …, 'exp': now + 1 h}, secret)` behind
//! `GET /token`), in Rust with `sessionwarden-jwt`: a token for the session's logged-in user,
//! signed with the keyring's JWT subkey, and an API route that accepts it as a bearer token.
//!
//! Run:   cargo run -p examples --bin jwt_token
//! Then:  curl -c jar -b jar http://127.0.0.1:3004/token
//!            → 401 Unauthorized (nobody is logged in)
//!        curl -c jar -b jar 'http://127.0.0.1:3004/login?user=admin'
//!            → Logged in as admin
//!        TOKEN=$(curl -s -c jar -b jar http://127.0.0.1:3004/token | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
//!        curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3004/me
//!            → {"user":"admin"}     (no cookie needed: the token is the credential)
//!        curl -H "Authorization: Bearer ${TOKEN}x" http://127.0.0.1:3004/me
//!            → 401 with `WWW-Authenticate: Bearer error="invalid_token"`; the program prints
//!              the reason (`bad_signature`), the client never sees it
//!
//! The token is HS256 with `typ: at+jwt`, `kid` = the keyring key id, `iss`/`aud`
//! `sessionwarden`, `exp` one hour out, and a random `jti`. Verification refuses `alg: none`,
//! algorithm and key confusion, unknown or injected `kid`s, string-typed `exp`, and anything
//! expired beyond 30 s of leeway. Unlike the blog's version the secret is not the cookie
//! secret: it is a separate HKDF subkey of it, so a cookie MAC can never pass as a JWT.
//! (`/login?user=` is a demo shortcut; a real login checks a password, see `sessionwarden serve`.)

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sessionwarden::keyring::Purpose;
use sessionwarden::{CookieStore, Session, SessionLayer};
use sessionwarden_jwt::{AccessTokenRequest, Jwt, JwtConfig, JwtKey, JwtKeySet};

#[derive(serde::Deserialize)]
struct Login {
    user: String,
}

async fn login(session: Session, Query(q): Query<Login>) -> Result<String, sessionwarden::Error> {
    session.cycle_id().await?;
    session.set_user(Some(&q.user)).await?;
    Ok(format!("Logged in as {}", q.user))
}

async fn token(State(jwt): State<Arc<Jwt>>, session: Session) -> Result<Response, sessionwarden::Error> {
    let Some(user) = session.user().await? else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    Ok(match jwt.issue(&AccessTokenRequest::new(user)) {
        Ok(issued) => Json(json!({ "token": issued.token() })).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    })
}

async fn me(State(jwt): State<Arc<Jwt>>, headers: HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match jwt.verify(bearer) {
        Ok(claims) => Json(json!({ "user": claims.sub() })).into_response(),
        Err(e) => {
            // The reason is for the operator; the client gets the generic RFC 6750 answer.
            println!("token refused: {}", e.reason());
            (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#)])
                .into_response()
        }
    }
}

#[tokio::main]
async fn main() {
    let keyring = examples::keyring();
    let jwt = {
        let keys = keyring.current();
        let key = keys.primary();
        let signing = JwtKey::hs256(key.id().to_string(), key.subkey(Purpose::JwtHs256).expose())
            .expect("a keyring subkey is a valid HS256 key");
        Arc::new(Jwt::new(JwtKeySet::single(signing), JwtConfig::default()).expect("default policy"))
    };
    let app = Router::new()
        .route("/login", get(login))
        .route("/token", get(token))
        .route("/me", get(me))
        .with_state(jwt)
        .layer(SessionLayer::new(CookieStore::signed(), keyring));
    examples::serve(app, 3004).await;
}
