//! `GET /metrics`, scraped over HTTP from a local listener and parsed as Prometheus text,
//! while a browser logs in, is sent forged cookies and a CSRF-less write, and logs out.
//! Each test builds its own server metrics (its own recorder), so tests in parallel do not
//! see each other's counts.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use axum::body::Body;
use prometheus_parse::{Scrape, Value};
use serde_json::json;
use sessionwarden::keyring::{KeySet, Keyring};
use sessionwarden::metrics::{self as m, COOKIE_REASONS, CSRF_REASONS, JWT_REASONS, OPERATIONS};
use sessionwarden::{SystemClock, Timestamp};
use sessionwarden_server::App;
use sessionwarden_server::auth::DemoUser;
use sessionwarden_server::cli::{ServeArgs, StoreKind};
use sessionwarden_server::metrics::{CONTENT_TYPE, ServerMetrics, metrics_router};
use sessionwarden_test::TestClient;
use sessionwarden_test::client::TestResponse;

const HOST: &str = "127.0.0.1:8000";

struct World {
    browser: TestClient,
    app: App,
    scrape_url: String,
    http: reqwest::Client,
}

async fn world(store: StoreKind) -> World {
    let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0)).unwrap());
    let metrics = ServerMetrics::new(&keyring, Timestamp::from_unix(0));
    let args = ServeArgs {
        store,
        insecure_cookies: true,
        demo_user: vec![DemoUser::parse("alice:wonderland").unwrap()],
        ..ServeArgs::default()
    };
    let mut settings = args.settings();
    settings.metrics = Some(metrics.clone());
    let app =
        App::with_settings(&settings, keyring, metrics.events(1024), Arc::new(SystemClock)).await.unwrap();
    // The metrics router on a listener of its own, as the admin listener will mount it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = metrics_router(app.metrics.clone().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    World {
        browser: TestClient::new(app.router()),
        app,
        scrape_url: format!("http://{addr}/metrics"),
        http: reqwest::Client::new(),
    }
}

impl World {
    async fn scrape(&self) -> (String, Scrape) {
        let res = self.http.get(&self.scrape_url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], CONTENT_TYPE);
        let text = res.text().await.unwrap();
        let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
        (text, parsed)
    }

    async fn csrf_token(&mut self) -> String {
        let r = self
            .browser
            .send(axum::http::Request::get("/csrf-token").header("host", HOST), Body::empty())
            .await;
        r.json()["csrf_token"].as_str().unwrap().to_owned()
    }

    async fn post(&mut self, path: &str, token: Option<&str>, body: serde_json::Value) -> TestResponse {
        let mut req = axum::http::Request::post(path)
            .header("host", HOST)
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/json");
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        self.browser.send(req, Body::from(body.to_string())).await
    }
}

/// The counter or gauge `name` with exactly `labels` (0 if absent).
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .filter(|x| x.labels.len() == labels.len() && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => panic!("{name} is not a counter or gauge"),
        })
        .sum()
}

/// Observations in the histogram `name` under `labels`.
fn observations(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            Value::Histogram(b) => b.iter().map(|b| b.count).fold(0.0, f64::max),
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .sum()
}

/// `after - before` of a counter.
fn delta(before: &Scrape, after: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(after, name, labels) - value(before, name, labels)
}

fn assert_fixed_labels(s: &Scrape, backend: &str) {
    for sample in &s.samples {
        for (k, v) in sample.labels.iter() {
            let v = v.as_str();
            let ok = match k.as_str() {
                "reason" => {
                    COOKIE_REASONS.contains(&v) || CSRF_REASONS.contains(&v) || JWT_REASONS.contains(&v)
                }
                "deadline" => ["idle", "absolute"].contains(&v),
                "result" => ["ok", "failed", "hit", "miss"].contains(&v),
                "backend" => v == backend,
                "operation" => OPERATIONS.contains(&v),
                "rule" => sessionwarden::risk::RiskRule::ALL.iter().any(|r| r.as_str() == v),
                "action" => sessionwarden::risk::RiskAction::TAKEN.iter().any(|a| a.as_str() == v),
                _ => false,
            };
            assert!(ok, "label {k}={v:?} of {} is not from a fixed set", sample.metric);
        }
    }
}

#[tokio::test]
async fn a_browsing_session_moves_the_counters_by_exactly_its_events() {
    let mut w = world(StoreKind::Memory).await;
    let (_, s0) = w.scrape().await;
    assert_eq!(value(&s0, m::SESSIONS_CREATED, &[]), 0.0);

    // A first visit creates the session; logging in rotates it.
    let token = w.csrf_token().await;
    let (_, s1) = w.scrape().await;
    assert_eq!(delta(&s0, &s1, m::SESSIONS_CREATED, &[]), 1.0, "one new session");
    let r = w.post("/login", Some(&token), json!({"username": "alice", "password": "wonderland"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["csrf_token"].as_str().unwrap().to_owned();
    let (_, s2) = w.scrape().await;
    assert_eq!(delta(&s1, &s2, m::SESSIONS_ROTATED, &[]), 1.0, "login rotates the id");
    assert_eq!(delta(&s1, &s2, m::SESSIONS_CREATED, &[]), 0.0, "the same session, under a new id");

    // Three forged cookies: the real one with one character of its MAC changed.
    let (name, genuine) = w.browser.jar.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap();
    for i in 0..3 {
        let mut forged: Vec<char> = genuine.chars().collect();
        let at = forged.len() - 6 - i;
        forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
        let forged: String = forged.into_iter().collect();
        let req = axum::http::Request::get("/get-session").header("cookie", format!("{name}={forged}"));
        let r = w.browser.clone().send(req, Body::empty()).await;
        assert_eq!(r.body, "User: None", "a forged cookie is no session");
    }
    // A write without its CSRF token.
    let r = w.post("/notes", None, json!({"note": "n"})).await;
    assert_eq!(r.status, 403);
    let (_, s3) = w.scrape().await;
    assert_eq!(delta(&s2, &s3, m::COOKIE_REJECTED, &[("reason", "bad_mac")]), 3.0);
    let any_cookie: f64 =
        COOKIE_REASONS.iter().map(|r| delta(&s2, &s3, m::COOKIE_REJECTED, &[("reason", r)])).sum();
    assert_eq!(any_cookie, 3.0, "no other cookie reason moved");
    assert_eq!(delta(&s2, &s3, m::CSRF_REJECTED, &[("reason", "token_missing")]), 1.0);
    let any_csrf: f64 =
        CSRF_REASONS.iter().map(|r| delta(&s2, &s3, m::CSRF_REJECTED, &[("reason", r)])).sum();
    assert_eq!(any_csrf, 1.0);

    // Logout destroys it; the readiness probe pings the store.
    let r = w.post("/logout", Some(&token), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(w.browser.get("/readyz").await.status, 200);
    let (text, s4) = w.scrape().await;
    assert_eq!(delta(&s3, &s4, m::SESSIONS_DESTROYED, &[]), 1.0);
    assert_eq!(value(&s4, m::SESSIONS_ACTIVE, &[]), 0.0, "one created, one destroyed");
    assert_eq!(value(&s4, m::STORE_UP, &[("backend", "memory")]), 1.0);
    // The memory store times one operation in four (`stores::MEMORY_LATENCY_SAMPLING`): over
    // this browsing session's dozen operations, some are timed, not every one.
    let timed: f64 = ["load", "create", "save", "cycle", "delete", "ping"]
        .iter()
        .map(|op| observations(&s4, m::STORE_DURATION, &[("backend", "memory"), ("operation", op)]))
        .sum();
    assert!(timed >= 1.0, "no store operation was timed");
    assert_eq!(w.app.state.events.counts()["cookie_rejected"], 3, "the event hub agrees");
    assert_fixed_labels(&s4, "memory");
    // Nothing secret, nothing from a request.
    for secret in [genuine.as_str(), token.as_str(), "alice", "wonderland"] {
        assert!(!text.contains(secret), "{secret:?} in the scrape");
    }
}

/// The cookie store keeps nothing server-side: no store metrics, the session counters still.
#[tokio::test]
async fn cookie_sessions_are_counted_without_a_store() {
    let mut w = world(StoreKind::Cookie).await;
    let (_, s0) = w.scrape().await;
    w.csrf_token().await;
    let (_, s1) = w.scrape().await;
    assert_eq!(delta(&s0, &s1, m::SESSIONS_CREATED, &[]), 1.0);
    assert!(!s1.samples.iter().any(|x| x.metric == m::STORE_DURATION), "no server-side store to time");
    assert_fixed_labels(&s1, "none");
}

/// Every reason `JwtError::reason()` can give has its own `reason` label value: the list
/// lives in the tower crate (which cannot depend on the JWT crate), so it is checked against
/// the source of `reason()` here, where both are in reach.
#[test]
fn every_jwt_reason_is_a_listed_label_value() {
    let source = include_str!("../../sessionwarden-jwt/src/error.rs");
    let start = source.find("pub fn reason(&self) -> &'static str {").expect("JwtError::reason in error.rs");
    let body = &source[start..];
    let body = &body[..body.find("\n    }\n").expect("end of reason()")];
    let reasons: Vec<&str> = body.split("=> \"").skip(1).map(|s| &s[..s.find('"').unwrap()]).collect();
    assert!(reasons.len() > 20, "parsed {} reasons from reason()", reasons.len());
    for reason in reasons {
        assert!(JWT_REASONS.contains(&reason), "JwtError reason {reason:?} is missing from JWT_REASONS");
    }
}
