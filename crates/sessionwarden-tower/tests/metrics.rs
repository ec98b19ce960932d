//! Metrics, end to end through the layer: every test has its own Prometheus recorder
//! (registered through `metrics::with_local_recorder`), so tests running in parallel never
//! see each other's counts.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::routing::{get, post};
use http_body_util::BodyExt as _;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use prometheus_parse::{Scrape, Value};
use sessionwarden_tower::events::{EventSink, SecurityEvent};
use sessionwarden_tower::keyring::{KeySet, Keyring};
use sessionwarden_tower::metrics::{
    self, COOKIE_REASONS, CSRF_REASONS, InstrumentedStore, JWT_REASONS, MetricsSink, OPERATIONS,
};
use sessionwarden_tower::store::{CachedStore, LocalInvalidator};
use sessionwarden_tower::{
    Events, MemoryStore, Record, SaveOutcome, Session, SessionId, SessionIndex as _, SessionLayer,
    SessionStore, StoreError, StoreKey, Timestamp,
};
use tower::ServiceExt as _;

const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);

fn recorder() -> (PrometheusRecorder, PrometheusHandle) {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(metrics::STORE_DURATION.into()),
            metrics::STORE_DURATION_BUCKETS,
        )
        .unwrap()
        .build_recorder();
    let handle = recorder.handle();
    (recorder, handle)
}

/// The scrape, parsed.
fn scrape(handle: &PrometheusHandle) -> (String, Scrape) {
    let text = handle.render();
    let parsed = Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    (text, parsed)
}

/// The value of the counter or gauge `name` with exactly these labels (0 if absent).
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

/// How many observations the histogram `name` holds under these labels.
fn observations(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match &x.value {
            Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            other => panic!("{name} is not a histogram: {other:?}"),
        })
        .sum()
}

/// Every label value of every sample is from a fixed set.
fn assert_fixed_labels(s: &Scrape, backends: &[&str]) {
    for sample in &s.samples {
        for (k, v) in sample.labels.iter() {
            let ok = match k.as_str() {
                "reason" => {
                    COOKIE_REASONS.contains(&v.as_str())
                        || CSRF_REASONS.contains(&v.as_str())
                        || JWT_REASONS.contains(&v.as_str())
                }
                "deadline" => ["idle", "absolute"].contains(&v.as_str()),
                "result" => ["ok", "failed", "hit", "miss"].contains(&v.as_str()),
                "backend" => backends.contains(&v.as_str()),
                "operation" => OPERATIONS.contains(&v.as_str()),
                "rule" => sessionwarden_tower::risk::RiskRule::ALL.iter().any(|r| r.as_str() == v),
                "action" => sessionwarden_tower::risk::RiskAction::TAKEN.iter().any(|a| a.as_str() == v),
                _ => false,
            };
            assert!(ok, "label {k}={v:?} of {} is not from a fixed set", sample.metric);
        }
    }
}

async fn set(session: Session) -> Result<&'static str, sessionwarden_tower::Error> {
    session.insert("user", "zoe-the-user").await?;
    Ok("set")
}

async fn get_user(session: Session) -> Result<String, sessionwarden_tower::Error> {
    let user: Option<String> = session.get("user").await?;
    Ok(user.unwrap_or_default())
}

async fn logout(session: Session) -> Result<&'static str, sessionwarden_tower::Error> {
    session.destroy().await?;
    Ok("bye")
}

fn app(backend: InstrumentedStore<MemoryStore>, keyring: Keyring, events: Events) -> Router {
    let layer = SessionLayer::new(backend, keyring).with_events(events);
    Router::new()
        .route("/set", get(set))
        .route("/get", get(get_user))
        .route("/logout", post(logout))
        .layer(layer)
}

async fn send(app: &Router, method: &str, path: &str, cookie: Option<&str>) -> (u16, Option<String>, String) {
    let mut req = http::Request::builder().method(method).uri(path).header("host", "site.example");
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let res = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = res.status().as_u16();
    let set = res.headers().get(http::header::SET_COOKIE).map(|v| v.to_str().unwrap().to_owned());
    let body = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (status, set.map(|s| s.split(';').next().unwrap().to_owned()), body)
}

/// One login-like write, three forged cookies and a logout move the counters by exactly
/// that, the store histograms get samples per operation, and the scrape carries no label
/// outside the fixed sets and no cookie, handle or user name.
#[tokio::test]
async fn counters_move_by_exactly_the_events_caused() {
    let (recorder, handle) = recorder();
    let keyring = Keyring::new(KeySet::generate(NOW).unwrap());
    let memory = MemoryStore::default();
    let (store, events) = ::metrics::with_local_recorder(&recorder, || {
        let sink = Arc::new(MetricsSink::new());
        let events = Events::with_sinks(64, vec![sink as Arc<dyn EventSink>]);
        (InstrumentedStore::new(memory.clone(), "memory"), events)
    });
    let app = app(store.clone(), keyring, events.clone());

    let (_, before) = scrape(&handle);
    assert_eq!(value(&before, metrics::SESSIONS_CREATED, &[]), 0.0);
    assert_eq!(value(&before, metrics::COOKIE_REJECTED, &[("reason", "bad_mac")]), 0.0, "registered at zero");

    let (status, cookie, _) = send(&app, "GET", "/set", None).await;
    assert_eq!(status, 200);
    let cookie = cookie.unwrap();
    let (_, _, user) = send(&app, "GET", "/get", Some(&cookie)).await;
    assert_eq!(user, "zoe-the-user");

    // Three forged cookies: the genuine one with one character of its MAC changed.
    let (name, value_part) = cookie.split_once('=').unwrap();
    for i in 0..3 {
        let mut forged: Vec<char> = value_part.chars().collect();
        let at = forged.len() - 6 - i;
        forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
        let forged = format!("{name}={}", forged.into_iter().collect::<String>());
        let (status, _, user) = send(&app, "GET", "/get", Some(&forged)).await;
        assert_eq!((status, user.as_str()), (200, ""), "a forged cookie reads as no session");
    }
    let (status, _, _) = send(&app, "POST", "/logout", Some(&cookie)).await;
    assert_eq!(status, 200);

    let (text, s) = scrape(&handle);
    assert_eq!(value(&s, metrics::SESSIONS_CREATED, &[]), 1.0);
    assert_eq!(value(&s, metrics::SESSIONS_DESTROYED, &[]), 1.0);
    assert_eq!(value(&s, metrics::SESSIONS_ACTIVE, &[]), 0.0, "one created, one ended");
    assert_eq!(value(&s, metrics::COOKIE_REJECTED, &[("reason", "bad_mac")]), 3.0, "{text}");
    let rejected: f64 =
        COOKIE_REASONS.iter().map(|r| value(&s, metrics::COOKIE_REJECTED, &[("reason", r)])).sum();
    assert_eq!(rejected, 3.0, "no other reason moved");
    assert_eq!(events.counts()["cookie_rejected"], 3, "the event hub agrees");
    for op in ["load", "create", "delete"] {
        let n = observations(&s, metrics::STORE_DURATION, &[("backend", "memory"), ("operation", op)]);
        assert!(n >= 1.0, "{op}: {n} observations\n{text}");
    }
    assert_eq!(value(&s, metrics::STORE_UP, &[("backend", "memory")]), 1.0);
    assert_fixed_labels(&s, &["memory"]);

    // No secret and nothing from a request in the scrape.
    let left = sessionwarden_tower::SessionIndex::list(&memory, NOW, 10).await.unwrap();
    assert!(left.is_empty(), "logged out");
    for secret in [value_part, "zoe-the-user", name] {
        assert!(!text.contains(secret), "{secret:?} in the scrape");
    }
}

/// Revocations count what they ended; the sweeper's deletions too; the active gauge follows.
#[tokio::test]
async fn revocations_and_sweeps_count_sessions_ended() {
    let (recorder, handle) = recorder();
    let store = ::metrics::with_local_recorder(&recorder, || {
        InstrumentedStore::new(MemoryStore::default(), "memory")
    });
    let sink = ::metrics::with_local_recorder(&recorder, MetricsSink::new);
    let expiry = sessionwarden_tower::Expiry::default();
    let mut handles = Vec::new();
    for i in 0..4 {
        let key = SessionId::generate().store_key();
        let mut r = Record::new(NOW, &expiry);
        r.user = Some(if i < 3 { "carol" } else { "dave" }.to_owned());
        store.create(&key, &r).await.unwrap();
        sink.record(NOW, &SecurityEvent::SessionCreated { session: key.handle() });
        handles.push(key.handle());
    }
    assert!(store.revoke(&handles[3]).await.unwrap());
    assert!(!store.revoke(&handles[3]).await.unwrap(), "already gone: counts nothing");
    assert_eq!(store.revoke_user("carol").await.unwrap(), 3);
    let (text, s) = scrape(&handle);
    assert_eq!(value(&s, metrics::SESSIONS_REVOKED, &[("backend", "memory")]), 4.0, "{text}");
    assert_eq!(value(&s, metrics::SESSIONS_ACTIVE, &[]), 0.0);
    assert_eq!(observations(&s, metrics::STORE_DURATION, &[("operation", "revoke")]), 2.0);

    // Two sessions past their idle deadline, swept.
    use sessionwarden_tower::ExpiredDeletion as _;
    for _ in 0..2 {
        let key = SessionId::generate().store_key();
        store.create(&key, &Record::new(NOW, &expiry)).await.unwrap();
    }
    let later = Timestamp::from_unix(NOW.unix() + 86_400);
    assert_eq!(store.delete_expired(later, 100).await.unwrap(), 2);
    let (_, s) = scrape(&handle);
    assert_eq!(value(&s, metrics::SESSIONS_SWEPT, &[("backend", "memory")]), 2.0);
    assert_fixed_labels(&s, &["memory"]);
    for h in &handles {
        assert!(!handle.render().contains(h.as_str()), "a handle in the scrape");
    }
}

/// A store that is down: every operation fails.
#[derive(Debug)]
struct Down;

#[async_trait]
impl SessionStore for Down {
    async fn load(&self, _: &StoreKey, _: Timestamp) -> Result<Option<Record>, StoreError> {
        Err(StoreError::unavailable("load", std::io::Error::other("down")))
    }
    async fn create(&self, _: &StoreKey, _: &Record) -> Result<bool, StoreError> {
        Err(StoreError::unavailable("create", std::io::Error::other("down")))
    }
    async fn save(&self, _: &StoreKey, _: &Record, _: u64) -> Result<SaveOutcome, StoreError> {
        Err(StoreError::unavailable("save", std::io::Error::other("down")))
    }
    async fn delete(&self, _: &StoreKey) -> Result<(), StoreError> {
        Err(StoreError::unavailable("delete", std::io::Error::other("down")))
    }
    async fn cycle(&self, _: &StoreKey, _: &StoreKey) -> Result<bool, StoreError> {
        Err(StoreError::unavailable("cycle", std::io::Error::other("down")))
    }
    async fn ping(&self) -> Result<(), StoreError> {
        Err(StoreError::unavailable("ping", std::io::Error::other("down")))
    }
}

#[tokio::test]
async fn availability_follows_the_store_answers() {
    let (recorder, handle) = recorder();
    let (down, up) = ::metrics::with_local_recorder(&recorder, || {
        (InstrumentedStore::new(Down, "redis"), InstrumentedStore::new(MemoryStore::default(), "memory"))
    });
    let (_, s) = scrape(&handle);
    assert_eq!(value(&s, metrics::STORE_UP, &[("backend", "redis")]), 1.0, "up until it fails");
    assert!(down.ping().await.is_err());
    up.ping().await.unwrap();
    let (_, s) = scrape(&handle);
    assert_eq!(value(&s, metrics::STORE_UP, &[("backend", "redis")]), 0.0);
    assert_eq!(value(&s, metrics::STORE_UP, &[("backend", "memory")]), 1.0);
    assert_eq!(value(&s, metrics::STORE_ERRORS, &[("backend", "redis"), ("operation", "ping")]), 1.0);
    assert_eq!(value(&s, metrics::STORE_ERRORS, &[("backend", "memory"), ("operation", "ping")]), 0.0);
    assert_eq!(
        observations(&s, metrics::STORE_DURATION, &[("backend", "redis"), ("operation", "ping")]),
        1.0
    );
    assert_fixed_labels(&s, &["redis", "memory"]);
}

#[tokio::test]
async fn cache_hits_and_misses_and_memory_evictions_are_counted() {
    let (recorder, handle) = recorder();
    let (cached, small) = ::metrics::with_local_recorder(&recorder, || {
        (
            CachedStore::new(MemoryStore::default(), LocalInvalidator::default(), 100).with_metrics(),
            MemoryStore::with_capacity(2).with_metrics(),
        )
    });
    let key = SessionId::generate().store_key();
    cached.create(&key, &Record::new(NOW, &sessionwarden_tower::Expiry::default())).await.unwrap();
    for _ in 0..3 {
        cached.load(&key, NOW).await.unwrap().unwrap();
    }
    let missing = SessionId::generate().store_key();
    assert!(cached.load(&missing, NOW).await.unwrap().is_none());
    for _ in 0..3 {
        let k = SessionId::generate().store_key();
        assert!(small.create(&k, &Record::new(NOW, &sessionwarden_tower::Expiry::default())).await.unwrap());
    }
    let (text, s) = scrape(&handle);
    assert_eq!(value(&s, metrics::CACHE_LOOKUPS, &[("result", "hit")]), 2.0, "{text}");
    assert_eq!(value(&s, metrics::CACHE_LOOKUPS, &[("result", "miss")]), 2.0);
    assert_eq!(cached.stats().hits, 2, "the cache's own count agrees");
    assert_eq!(value(&s, metrics::SESSIONS_EVICTED, &[]), 1.0, "the third session pushed one out");
    assert_fixed_labels(&s, &["memory"]);
}

#[tokio::test]
async fn key_age_is_set_on_load_and_on_reload() {
    let (recorder, handle) = recorder();
    let created = Timestamp::from_unix(1_000_000);
    let keyring = Keyring::new(KeySet::generate(created).unwrap());
    let sink = ::metrics::with_local_recorder(&recorder, || {
        MetricsSink::new().with_keyring(keyring.clone(), Timestamp::from_unix(1_000_600))
    });
    let (_, s) = scrape(&handle);
    assert_eq!(value(&s, metrics::PRIMARY_KEY_AGE, &[]), 600.0);
    assert_eq!(value(&s, metrics::PRIMARY_KEY_CREATED, &[]), 1_000_000.0);
    keyring.replace(KeySet::generate(Timestamp::from_unix(2_000_000)).unwrap());
    let kid = keyring.current().primary().id().get();
    sink.record(Timestamp::from_unix(2_000_100), &SecurityEvent::KeyringReloaded { primary_kid: kid });
    sink.observe_keyring(Timestamp::from_unix(2_000_100));
    let (_, s) = scrape(&handle);
    assert_eq!(value(&s, metrics::PRIMARY_KEY_AGE, &[]), 100.0);
    assert_eq!(value(&s, metrics::PRIMARY_KEY_CREATED, &[]), 2_000_000.0);
    assert_eq!(value(&s, metrics::KEYRING_RELOADS, &[("result", "ok")]), 1.0);
}

/// Reasons outside the fixed set (a newer crate's) land in `other`, never as a new label.
#[test]
fn unknown_reasons_are_counted_as_other() {
    let (recorder, handle) = recorder();
    let sink = ::metrics::with_local_recorder(&recorder, MetricsSink::new);
    sink.record(NOW, &SecurityEvent::JwtRejected { reason: "a-reason-from-the-future" });
    sink.record(NOW, &SecurityEvent::JwtRejected { reason: "expired" });
    let (text, s) = scrape(&handle);
    assert_eq!(value(&s, metrics::JWT_REJECTED, &[("reason", "other")]), 1.0);
    assert_eq!(value(&s, metrics::JWT_REJECTED, &[("reason", "expired")]), 1.0);
    assert!(!text.contains("a-reason-from-the-future"));
    assert_fixed_labels(&s, &[]);
}
