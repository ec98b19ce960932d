//! Peer: axum + axum-extra's `SignedCookieJar` (HMAC-SHA256 signed cookie, value in clear),
//! routes shaped like the reference server's. Run by `bench/run`; prints
//! `peer listening on http://ADDR` when ready.
//!
//! Fairness: `/set-session` signs and sets a new cookie on every request.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{FromRef, Query};
use axum::routing::get;
use axum::Router;
use axum_extra::extract::cookie::{Cookie, Key, SameSite, SignedCookieJar};

#[derive(Clone)]
struct AppState {
    key: Key,
}

impl FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Self {
        state.key.clone()
    }
}

async fn set_session(
    jar: SignedCookieJar,
    Query(q): Query<HashMap<String, String>>,
) -> (SignedCookieJar, &'static str) {
    let user = q.get("user").cloned().unwrap_or_else(|| "admin".to_owned());
    // The same attributes as sessionwarden's insecure-cookies mode (minus Secure).
    let cookie = Cookie::build(("session", user)).path("/").http_only(true).same_site(SameSite::Lax);
    (jar.add(cookie), "Session set!")
}

async fn get_session(jar: SignedCookieJar) -> String {
    match jar.get("session") {
        Some(c) => format!("User: {}", c.value()),
        None => "User: None".to_owned(),
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
    let state = AppState { key: Key::generate() };
    let app = Router::new()
        .route("/set-session", get(set_session))
        .route("/get-session", get(get_session))
        .route("/healthz", get(healthz))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(listen_addr()).await.expect("bind");
    println!("peer listening on http://{}", listener.local_addr().expect("addr"));
    axum::serve(listener, app).await.expect("serve");
}
