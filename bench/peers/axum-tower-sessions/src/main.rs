//! Peer: axum + tower-sessions 0.15 with its `MemoryStore`, routes shaped like the reference
//! server's. Run by `bench/run`; prints `peer listening on http://ADDR` when ready.
//!
//! Fairness: `/set-session` stores the `user` query value, which the harness changes on every
//! request, so tower-sessions (which skips saving unchanged values) really saves every time.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::Query;
use axum::routing::get;
use axum::Router;
use tower_sessions::{MemoryStore, Session, SessionManagerLayer};

async fn set_session(session: Session, Query(q): Query<HashMap<String, String>>) -> &'static str {
    let user = q.get("user").map_or("admin", String::as_str);
    match session.insert("user", user).await {
        Ok(()) => "Session set!",
        Err(_) => "error",
    }
}

async fn get_session(session: Session) -> String {
    match session.get::<String>("user").await {
        Ok(Some(u)) => format!("User: {u}"),
        _ => "User: None".to_owned(),
    }
}

async fn healthz() -> &'static str {
    "ok"
}

fn listen_addr() -> SocketAddr {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2)
        .find(|w| w[0] == "--listen")
        .map_or("127.0.0.1:0", |w| w[1].as_str())
        .parse()
        .expect("--listen ADDR")
}

#[tokio::main]
async fn main() {
    // Plain http on loopback, as `sessionwarden --insecure-cookies`: no Secure attribute.
    let layer = SessionManagerLayer::new(MemoryStore::default()).with_secure(false);
    let app = Router::new()
        .route("/set-session", get(set_session))
        .route("/get-session", get(get_session))
        .route("/healthz", get(healthz))
        .layer(layer);
    let listener = tokio::net::TcpListener::bind(listen_addr()).await.expect("bind");
    println!("peer listening on http://{}", listener.local_addr().expect("addr"));
    axum::serve(listener, app).await.expect("serve");
}
