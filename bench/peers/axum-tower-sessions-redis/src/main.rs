//! Peer: axum + tower-sessions 0.14 with tower-sessions-redis-store (fred), routes shaped like
//! the reference server's. Run by `bench/run --redis-url URL`; prints
//! `peer listening on http://ADDR` when ready.
//!
//! Fairness: `/set-session` stores the `user` query value, which the harness changes on every
//! request, so tower-sessions (which skips saving unchanged values) really saves every time.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::Query;
use axum::routing::get;
use axum::Router;
use tower_sessions::{Session, SessionManagerLayer};
use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
use tower_sessions_redis_store::RedisStore;

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

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).find(|w| w[0] == name).map_or(default, |w| w[1].as_str()).to_owned()
}

#[tokio::main]
async fn main() {
    let config = Config::from_url(&arg("--redis-url", "redis://127.0.0.1:6379")).expect("--redis-url");
    // One connection per core, as the runtime has one worker per core.
    let size: usize = arg("--pool-size", "2").parse().expect("--pool-size N");
    let pool = Pool::new(config, None, None, None, size).expect("pool");
    let _task = pool.connect();
    pool.wait_for_connect().await.expect("connect to redis");
    let layer = SessionManagerLayer::new(RedisStore::new(pool)).with_secure(false);
    let app = Router::new()
        .route("/set-session", get(set_session))
        .route("/get-session", get(get_session))
        .route("/healthz", get(healthz))
        .layer(layer);
    let listen: SocketAddr = arg("--listen", "127.0.0.1:0").parse().expect("--listen ADDR");
    let listener = tokio::net::TcpListener::bind(listen).await.expect("bind");
    println!("peer listening on http://{}", listener.local_addr().expect("addr"));
    axum::serve(listener, app).await.expect("serve");
}
