//! The blog's secure-cookie settings, spelled out:
//!
//! ```python
//! app.config.update(SESSION_COOKIE_SECURE=True, SESSION_COOKIE_HTTPONLY=True,
//!                   SESSION_COOKIE_SAMESITE='Lax',
//!                   PERMANENT_SESSION_LIFETIME=timedelta(minutes=30))
//! ```
//!
//! In sessionwarden these are the defaults (plus the `__Host-` prefix and an absolute
//! timeout); this program sets every one explicitly so you can see where each lives.
//!
//! Run:   cargo run -p examples --bin secure_cookie
//! Then:  curl -i -c jar -b jar http://127.0.0.1:3001/login
//!        → set-cookie: __Host-session=s1.…; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=28800
//!        curl -c jar -b jar http://127.0.0.1:3001/whoami   → User: admin
//!        curl -c jar -b jar http://127.0.0.1:3001/logout   → Logged out (the cookie is expired)

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use sessionwarden::{CookieConfig, Expiry, SameSite, Session, SessionLayer, store::CookieStore};

async fn login(session: Session) -> Result<&'static str, sessionwarden::Error> {
    // A new id (here: a new sealed cookie) at every privilege change.
    session.cycle_id().await?;
    session.set_user(Some("admin")).await?;
    session.insert("user", "admin").await?;
    Ok("Logged in")
}

async fn whoami(session: Session) -> Result<String, sessionwarden::Error> {
    let user: Option<String> = session.get("user").await?;
    Ok(format!("User: {}", user.as_deref().unwrap_or("None")))
}

async fn logout(session: Session) -> Result<&'static str, sessionwarden::Error> {
    session.destroy().await?;
    Ok("Logged out")
}

#[tokio::main]
async fn main() {
    let cookie = CookieConfig::default() // __Host-session; Secure; HttpOnly; Path=/
        .with_same_site(SameSite::Lax);
    let expiry = Expiry::default()
        .with_idle_timeout(Some(Duration::from_secs(30 * 60))) // PERMANENT_SESSION_LIFETIME, sliding
        .with_absolute_timeout(Some(Duration::from_secs(8 * 3600))) // hard cap Flask lacks
        .persistent(true); // session.permanent = True: Max-Age up to the absolute deadline
    let layer = SessionLayer::new(CookieStore::encrypted(), examples::keyring())
        .with_cookie(cookie)
        .with_expiry(expiry);
    let app = Router::new()
        .route("/login", get(login))
        .route("/whoami", get(whoami))
        .route("/logout", get(logout))
        .layer(layer);
    examples::serve(app, 3001).await;
}
