//! The blog's Redis example (Flask-Session with `SESSION_TYPE = 'redis'`), in Rust: sessions
//! kept server-side in Redis; the cookie carries only the sealed session id.
//!
//! Run:   cargo run -p examples --bin redis_session          (Redis on 127.0.0.1:6379,
//!                                                            or set REDIS_URL)
//! Then:  curl -c jar -b jar http://127.0.0.1:3003/set-session   → Session set!
//!        curl -c jar -b jar http://127.0.0.1:3003/get-session   → User: admin
//!        redis-cli --scan --pattern 'session:*'                 → keys named by a hash of the
//!                                                                 id, never the id itself
//! Stop Redis and ask again: the answer is 503, not "User: None" — a store outage never
//! logs anyone out. Start Redis again and the server recovers by itself.

use axum::Router;
use axum::routing::get;
use sessionwarden::{Backend, Session, SessionLayer};
use sessionwarden_redis::RedisStore;

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
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let store = match RedisStore::connect_any(&url).await {
        Ok(store) => store,
        Err(e) => {
            eprintln!("cannot reach Redis at {url}: {e}");
            std::process::exit(1);
        }
    };
    let app = Router::new()
        .route("/set-session", get(set_session))
        .route("/get-session", get(get_session))
        .layer(SessionLayer::new(Backend::Server(std::sync::Arc::new(store)), examples::keyring()));
    examples::serve(app, 3003).await;
}
