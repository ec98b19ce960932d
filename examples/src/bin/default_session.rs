//! The blog's first example: a default (cookie) session, like Flask's
//! `session['user'] = 'admin'`.
//!
//! Run:   cargo run -p examples --bin default_session
//! Then:  curl -c jar -b jar http://127.0.0.1:3000/set-session   → Session set!
//!        curl -c jar -b jar http://127.0.0.1:3000/get-session   → User: admin
//!        curl http://127.0.0.1:3000/get-session                 → User: None
//!
//! The whole session lives in the cookie, signed with HMAC-SHA256 (Flask's default session is
//! the same idea). The cookie is `__Host-session`, `Secure`, `HttpOnly`, `SameSite=Lax`:
//! curl and browsers accept `Secure` cookies on 127.0.0.1/localhost over plain http.

use axum::Router;
use axum::routing::get;
use sessionwarden::{CookieStore, Session, SessionLayer};

async fn set_session(session: Session) -> Result<&'static str, sessionwarden::Error> {
    session.insert("user", "admin").await?;
    Ok("Session set!")
}

async fn get_session(session: Session) -> Result<String, sessionwarden::Error> {
    let user: Option<String> = session.get("user").await?;
    Ok(format!("User: {}", user.as_deref().unwrap_or("None")))
}

#[tokio::main]
async fn main() {
    let app = Router::new()
        .route("/set-session", get(set_session))
        .route("/get-session", get(get_session))
        .layer(SessionLayer::new(CookieStore::signed(), examples::keyring()));
    examples::serve(app, 3000).await;
}
