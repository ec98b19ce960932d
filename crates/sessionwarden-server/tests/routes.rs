//! The reference routes through the router, in process.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use axum::body::Body;
use serde_json::json;
use sessionwarden::keyring::{KeySet, Keyring};
use sessionwarden::{Events, SystemClock, Timestamp};
use sessionwarden_server::App;
use sessionwarden_server::cli::{ServeArgs, StoreKind};
use sessionwarden_test::TestClient;

async fn client(store: StoreKind) -> TestClient {
    let args = ServeArgs { store, insecure_cookies: true, ..ServeArgs::default() };
    let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0)).unwrap());
    let app = App::new(&args, keyring, Events::default(), Arc::new(SystemClock)).await.unwrap();
    TestClient::new(app.router())
}

/// `POST /session/data` with the session's CSRF token, as a page of the site would send it.
async fn post_data(c: &mut TestClient, body: &serde_json::Value) -> sessionwarden_test::client::TestResponse {
    let token = c.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
    let req = axum::http::Request::post("/session/data")
        .header("content-type", "application/json")
        .header("x-csrf-token", token);
    c.send(req, Body::from(body.to_string())).await
}

#[tokio::test]
async fn session_data_merges_and_removes() {
    for store in [StoreKind::Memory, StoreKind::Cookie] {
        let mut c = client(store).await;
        assert_eq!(c.get("/session/data").await.json(), json!({}));
        let r = post_data(&mut c, &json!({"a": 1, "b": [1, 2], "user": "zoe"})).await;
        assert_eq!(r.json(), json!({"a": 1, "b": [1, 2], "user": "zoe"}));
        assert_eq!(c.get("/get-session").await.body, "User: zoe");
        let r = post_data(&mut c, &json!({"a": null, "c": {"d": true}, "_csrf": "mine"})).await;
        assert_eq!(r.json(), json!({"b": [1, 2], "c": {"d": true}, "user": "zoe"}));
        assert_eq!(c.get("/session/data").await.json(), r.json());
    }
}

#[tokio::test]
async fn session_data_rejects_what_is_not_a_json_object() {
    let mut c = client(StoreKind::Memory).await;
    let r = c.post_json("/session/data", &json!([1, 2])).await;
    assert_eq!(r.status, 400);
    let req = axum::http::Request::post("/session/data").header("content-type", "text/plain");
    let r = c.send(req, Body::from("{\"a\":1}")).await;
    assert_eq!(r.status, 415, "JSON endpoints refuse text/plain");
    let req = axum::http::Request::post("/session/data").header("content-type", "application/json");
    let r = c.send(req, Body::from("{not json")).await;
    assert_eq!(r.status, 400);
    assert!(c.jar.is_empty(), "a rejected request creates no session");
}

/// Malformed bodies to every JSON route get a fixed answer: never the parser's message with
/// its line and column.
#[tokio::test]
async fn malformed_json_bodies_get_a_generic_answer() {
    let mut c = client(StoreKind::Memory).await;
    let token = c.get("/csrf-token").await.json()["csrf_token"].as_str().unwrap().to_owned();
    let long = format!(r#"{{"note": "{}", "x": }}"#, "a".repeat(120));
    let cases: [(&str, &str, &str, u16, &str); 8] = [
        ("data: truncated", "/session/data", r#"{"a": [1, 2"#, 400, "malformed request body"),
        ("data: syntax error at column 129", "/session/data", &long, 400, "malformed request body"),
        (
            "login: missing comma",
            "/login",
            r#"{"username": "a" "password": "b"}"#,
            400,
            "malformed request body",
        ),
        (
            "login: wrong type",
            "/login",
            r#"{"username": "a", "password": 12345}"#,
            422,
            "request body does not have the expected fields",
        ),
        (
            "login: missing field",
            "/login",
            r#"{"username": "a"}"#,
            422,
            "request body does not have the expected fields",
        ),
        ("notes: not JSON", "/notes", "{note", 400, "malformed request body"),
        ("notes: syntax error at column 129", "/notes", &long, 400, "malformed request body"),
        (
            "refresh: truncated",
            "/token/refresh",
            r#"{"refresh_token": "#,
            400,
            "expected {\"refresh_token\": …}",
        ),
    ];
    for (name, path, body, status, error) in cases {
        let req = axum::http::Request::post(path)
            .header("content-type", "application/json")
            .header("x-csrf-token", &token);
        let r = c.send(req, Body::from(body.to_owned())).await;
        assert_eq!(r.status, status, "{name}: {}", r.body);
        assert_eq!(r.json(), json!({ "error": error }), "{name}");
        for internal in ["line", "column", "12345", "expected a string", "missing field"] {
            assert!(!r.body.contains(internal), "{name}: {internal:?} in {}", r.body);
        }
    }
    // A malformed form body is answered the same way.
    let req = axum::http::Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-csrf-token", &token);
    let r = c.send(req, Body::from("username=a")).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(r.json(), json!({"error": "request body does not have the expected fields"}));
}

/// `value` inside `depth` arrays and objects, alternately.
fn nested(depth: usize) -> serde_json::Value {
    let mut v = json!("leaf");
    for i in 0..depth {
        v = if i % 2 == 0 { json!([v]) } else { json!({ "k": v }) };
    }
    v
}

/// A value too deep to be read back once stored is refused when written (400), and nothing
/// of that write is stored; a value at the limit is stored and loads back.
#[tokio::test]
async fn too_deep_values_are_refused_and_the_session_survives() {
    let dir = std::env::temp_dir().join(format!(
        "sw-depth-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for store in [StoreKind::Memory, StoreKind::Cookie, StoreKind::Sqlite] {
        let args = ServeArgs { store, insecure_cookies: true, data_dir: dir.clone(), ..ServeArgs::default() };
        let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0)).unwrap());
        let app = App::new(&args, keyring, Events::default(), Arc::new(SystemClock)).await.unwrap();
        let mut c = TestClient::new(app.router());
        let r = post_data(&mut c, &json!({"a": 1})).await;
        assert_eq!(r.status, 200, "{store:?}");

        for (name, body) in [
            ("depth 125", json!({"deep": nested(125)})),
            ("one over the limit", json!({"deep": nested(sessionwarden::MAX_VALUE_DEPTH + 1)})),
            ("a good key beside a deep one", json!({"b": 2, "deep": nested(125)})),
        ] {
            let r = post_data(&mut c, &body).await;
            assert_eq!(r.status, 400, "{store:?} {name}: {}", r.body);
            let data = c.get("/session/data").await;
            assert_eq!(data.status, 200, "{store:?} {name}");
            assert_eq!(data.json(), json!({"a": 1}), "{store:?} {name}: the session is unchanged");
        }

        let at_limit = nested(sessionwarden::MAX_VALUE_DEPTH);
        let r = post_data(&mut c, &json!({"deep": at_limit})).await;
        assert_eq!(r.status, 200, "{store:?} at the limit: {}", r.body);
        let data = c.get("/session/data").await;
        assert_eq!(data.json(), json!({"a": 1, "deep": at_limit}), "{store:?} at the limit loads back");
        // And again on a later request, from what the store kept.
        assert_eq!(c.get("/get-session").await.status, 200);
        assert_eq!(c.get("/session/data").await.json()["deep"], at_limit, "{store:?}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Issue #17, defect 2: a server-side session had no size cap (a 1.5 MB value was accepted,
/// and repeated writes grew one record to 13 MB). Writes past the limit are refused whole with
/// a typed 413 and nothing of the request is saved; the session keeps working.
#[tokio::test]
async fn issue_17_server_sessions_are_capped_and_refused_whole() {
    let dir = std::env::temp_dir().join(format!(
        "sw-size-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    for store in [StoreKind::Memory, StoreKind::Sqlite] {
        let args = ServeArgs {
            store,
            insecure_cookies: true,
            data_dir: dir.clone(),
            max_session_size: 4096,
            ..ServeArgs::default()
        };
        let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0)).unwrap());
        let app = App::new(&args, keyring, Events::default(), Arc::new(SystemClock)).await.unwrap();
        let mut c = TestClient::new(app.router());
        assert_eq!(post_data(&mut c, &json!({"a": 1})).await.status, 200, "{store:?}");
        let big = "x".repeat(5000);
        for (name, body) in [
            ("one value over the limit", json!({"big": big})),
            ("a small key beside a big one", json!({"b": 2, "big": big})),
            ("1.5 MB", json!({"huge": "y".repeat(1_500_000)})),
        ] {
            let r = post_data(&mut c, &body).await;
            assert_eq!(r.status, 413, "{store:?} {name}: {}", r.body);
            assert!(r.set_cookies().is_empty(), "{store:?} {name}: a refused write sends no cookie");
            assert_eq!(c.get("/session/data").await.json(), json!({"a": 1}), "{store:?} {name}: unchanged");
        }
        // Growing the session step by step stops at the limit, and what was accepted loads.
        let mut accepted = 0;
        for i in 0..20 {
            let r = post_data(&mut c, &json!({ format!("k{i}"): "z".repeat(400) })).await;
            match r.status.as_u16() {
                200 => accepted += 1,
                413 => break,
                other => panic!("{store:?}: step {i} answered {other}: {}", r.body),
            }
        }
        assert!((5..20).contains(&accepted), "{store:?}: {accepted} steps of 400 bytes fit in 4096");
        let data = c.get("/session/data").await.json();
        assert_eq!(data.as_object().unwrap().len(), 1 + accepted, "{store:?}: {data}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
