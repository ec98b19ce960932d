//! `Session::insert` refuses a value too deep to be loaded again, through the library API.
#![allow(clippy::unwrap_used, missing_docs)]

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use sessionwarden_test::TestClient;
use sessionwarden_tower::keyring::{KeySet, Keyring};
use sessionwarden_tower::{
    Backend, CookieConfig, CookieStore, Error, MAX_VALUE_DEPTH, MemoryStore, Session, SessionLayer, Timestamp,
};

fn nested(depth: usize) -> Value {
    let mut v = json!(1);
    for _ in 0..depth {
        v = json!([v]);
    }
    v
}

async fn put(session: Session, axum::extract::Path(depth): axum::extract::Path<usize>) -> String {
    match session.insert("deep", nested(depth)).await {
        Ok(()) => "stored".into(),
        Err(Error::ValueTooDeep { key, limit }) => format!("too deep: {key} {limit}"),
        Err(e) => format!("other: {e}"),
    }
}

async fn read(session: Session) -> String {
    session.get_value("deep").await.unwrap().map_or_else(|| "none".into(), |v| v.to_string())
}

#[tokio::test]
async fn insert_refuses_values_deeper_than_the_limit() {
    for backend in [Backend::from(MemoryStore::default()), Backend::from(CookieStore::signed())] {
        let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0)).unwrap());
        let layer =
            SessionLayer::new(backend, keyring).with_cookie(CookieConfig::default().insecure_allow_http());
        let app = Router::new().route("/put/{depth}", get(put)).route("/read", get(read)).layer(layer);
        let mut c = TestClient::new(app);
        assert_eq!(c.get(&format!("/put/{MAX_VALUE_DEPTH}")).await.body, "stored");
        assert_eq!(c.get("/read").await.body, nested(MAX_VALUE_DEPTH).to_string());
        for depth in [MAX_VALUE_DEPTH + 1, 125, 1000] {
            assert_eq!(
                c.get(&format!("/put/{depth}")).await.body,
                format!("too deep: deep {MAX_VALUE_DEPTH}")
            );
            assert_eq!(c.get("/read").await.body, nested(MAX_VALUE_DEPTH).to_string(), "unchanged");
        }
    }
}
