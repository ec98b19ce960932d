//! Client metadata through the layer: what a new session records about its client by
//! default, and that `without_client_metadata` records nothing.
#![allow(clippy::unwrap_used, missing_docs)]

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use http_body_util::BodyExt as _;
use sessionwarden_tower::keyring::{KeySet, Keyring};
use sessionwarden_tower::{Events, MemoryStore, Session, SessionLayer, Timestamp, TrustedProxies};
use tower::ServiceExt as _;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";

/// Starts a session and answers what it recorded about its client, as JSON.
async fn start(session: Session) -> Result<String, sessionwarden_tower::Error> {
    session.insert("n", 1).await?;
    Ok(serde_json::to_string(&session.client().await?).unwrap())
}

async fn client_json(layer: SessionLayer) -> serde_json::Value {
    let app = Router::new().route("/start", get(start)).layer(layer);
    let peer: std::net::SocketAddr = "10.0.0.7:40000".parse().unwrap();
    let req = http::Request::get("/start")
        .header("user-agent", FIREFOX)
        .header("x-forwarded-for", "203.0.113.9, 10.0.0.3")
        .extension(ConnectInfo(peer))
        .body(Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
    serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

fn layer(events: &Events) -> SessionLayer {
    let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(1_800_000_000)).unwrap());
    SessionLayer::new(MemoryStore::default(), keyring)
        .with_events(events.clone())
        .with_trusted_proxies(TrustedProxies::new(["10.0.0.0/8"]).unwrap())
}

#[tokio::test]
async fn a_new_session_records_its_client_behind_a_trusted_proxy() {
    let info = client_json(layer(&Events::default())).await;
    assert_eq!(info["ip_prefix"], "203.0.113.0/24", "{info}");
    assert_eq!(info["device"]["browser"], "Firefox", "{info}");
    assert!(info["user_agent_hash"].is_string(), "{info}");
}

#[tokio::test]
async fn without_client_metadata_nothing_about_the_client_is_kept() {
    let events = Events::default();
    let info = client_json(layer(&events).without_client_metadata()).await;
    assert_eq!(info, serde_json::Value::Null, "no client metadata: {info}");
}
