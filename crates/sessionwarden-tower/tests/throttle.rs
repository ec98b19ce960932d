//! Rate limits through the real layer: id guessing and session floods per client (the
//! client told apart by the injected peer address), block windows on an injected clock,
//! monitor mode, and events that carry no secret.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use http::{Request, StatusCode, header};
use sessionwarden_tower::events::{RecordedEvent, SecurityEvent};
use sessionwarden_tower::keyring::{KeySet, Keyring};
use sessionwarden_tower::throttle::{Limit, Mode, RuleKind, Throttle, ThrottleAction, ThrottleConfig};
use sessionwarden_tower::{Events, ManualClock, MemoryStore, PeerAddr, Session, SessionLayer, Timestamp};
use tower::ServiceExt as _;

const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);
const ALICE: &str = "192.0.2.10:5000";
const ALICE_NEIGHBOUR: &str = "192.0.2.77:6000";
const BOB: &str = "198.51.100.20:5000";

struct Harness {
    app: Router,
    events: Events,
    clock: ManualClock,
    store: Arc<MemoryStore>,
    /// How many times a handler ran.
    calls: Arc<AtomicUsize>,
}

async fn visit(
    State(calls): State<Arc<AtomicUsize>>,
    session: Session,
) -> Result<&'static str, sessionwarden_tower::Error> {
    calls.fetch_add(1, Ordering::SeqCst);
    session.insert("seen", true).await?;
    Ok("hello")
}

async fn read(
    State(calls): State<Arc<AtomicUsize>>,
    session: Session,
) -> Result<String, sessionwarden_tower::Error> {
    calls.fetch_add(1, Ordering::SeqCst);
    let seen: Option<bool> = session.get("seen").await?;
    Ok(format!("seen: {seen:?}"))
}

async fn logout(session: Session) -> Result<&'static str, sessionwarden_tower::Error> {
    session.destroy().await?;
    Ok("bye")
}

fn harness(config: ThrottleConfig) -> Harness {
    let clock = ManualClock::new(NOW);
    let events = Events::new(4096);
    let store = Arc::new(MemoryStore::default());
    let throttle = Throttle::in_process(config, events.clone(), Arc::new(clock.clone()));
    let keyring = Keyring::new(KeySet::generate(NOW).unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = SessionLayer::new(store.clone() as Arc<dyn sessionwarden_tower::SessionStore>, keyring)
        .with_clock(Arc::new(clock.clone()))
        .with_events(events.clone())
        .with_throttle(throttle);
    let app = Router::new()
        .route("/visit", get(visit))
        .route("/read", get(read))
        .route("/logout", get(logout))
        .with_state(calls.clone())
        .layer(layer);
    Harness { app, events, clock, store, calls }
}

struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    set_cookie: Option<String>,
}

impl Harness {
    async fn get(&self, path: &str, peer: &str, cookie: Option<&str>) -> Answer {
        let mut req = Request::get(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, format!("__Host-session={c}"));
        }
        let mut req = req.body(Body::empty()).unwrap();
        req.extensions_mut().insert(PeerAddr(peer.parse().unwrap()));
        let res = self.app.clone().oneshot(req).await.unwrap();
        let h = |name| res.headers().get(name).map(|v: &http::HeaderValue| v.to_str().unwrap().to_owned());
        Answer {
            status: res.status(),
            retry_after: h(header::RETRY_AFTER).map(|v| v.parse().unwrap()),
            set_cookie: h(header::SET_COOKIE),
        }
    }

    /// A new session's cookie value, for `peer`.
    async fn session(&self, peer: &str) -> String {
        let set = self.get("/visit", peer, None).await.set_cookie.unwrap();
        set.split(';').next().unwrap().split_once('=').unwrap().1.to_owned()
    }

    fn throttled(&self) -> Vec<RecordedEvent> {
        self.events.recent().into_iter().filter(|e| e.event.kind() == "throttled").collect()
    }
}

fn config(id_guessing: &str, new_sessions: &str) -> ThrottleConfig {
    let mut c = ThrottleConfig::default();
    c.id_guessing.limit = id_guessing.parse().unwrap();
    c.new_sessions.limit = new_sessions.parse().unwrap();
    c
}

/// A forged cookie: it has the shape of one, but no key of ours sealed it.
fn forged(i: usize) -> String {
    format!("v1.1.{}.{}", "A".repeat(43 + i % 3), "B".repeat(43))
}

#[tokio::test]
async fn id_guessing_is_refused_past_the_limit_and_blocks_only_that_client() {
    let h = harness(config("3/min,block=10m", "1000/min"));
    let alices_session = h.session(ALICE).await;
    for i in 0..3 {
        assert_eq!(h.get("/read", ALICE, Some(&forged(i))).await.status, StatusCode::OK, "strike {i}");
    }
    let refused = h.get("/read", ALICE, Some(&forged(3))).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.retry_after, Some(600), "the block window");
    assert_eq!(refused.set_cookie, None, "a refusal sets no cookie");

    let events = h.throttled();
    assert_eq!(events.len(), 1, "one event for the trip: {events:?}");
    match &events[0].event {
        SecurityEvent::Throttled { rule, client, count, limit, action, retry_after_secs, .. } => {
            assert_eq!(*rule, RuleKind::SessionIdGuessing);
            assert_eq!(client.unwrap().to_string(), "192.0.2.0/24");
            assert_eq!((*count, *limit), (4, 3));
            assert_eq!(*action, ThrottleAction::Refused);
            assert_eq!(*retry_after_secs, 600);
        }
        other => panic!("{other:?}"),
    }
    let context = events[0].context.as_ref().unwrap();
    assert_eq!((context.method.as_str(), context.path.as_str()), ("GET", "/read"));

    // Inside the window: refused before the handler, whatever the cookie (even a real one),
    // from any address of the client's /24.
    let before = h.calls.load(Ordering::SeqCst);
    for (peer, cookie) in [(ALICE, forged(9)), (ALICE_NEIGHBOUR, forged(10)), (ALICE, alices_session.clone())]
    {
        let r = h.get("/read", peer, Some(&cookie)).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{peer}");
        assert!(r.retry_after.unwrap() <= 600);
    }
    assert_eq!(h.calls.load(Ordering::SeqCst), before, "no handler ran for a blocked client");
    assert_eq!(h.throttled().len(), 1, "the window's refusals record no more events");

    // Without a cookie the client is not guessing; another client is unaffected.
    assert_eq!(h.get("/read", ALICE, None).await.status, StatusCode::OK);
    assert_eq!(h.get("/read", BOB, Some(&forged(0))).await.status, StatusCode::OK);

    // The window ends.
    h.clock.advance(Duration::from_secs(601));
    let r = h.get("/read", ALICE, Some(&alices_session)).await;
    assert_eq!(r.status, StatusCode::OK, "the block window is over");
}

#[tokio::test]
async fn forged_unknown_and_expired_cookies_all_count_and_a_good_one_does_not() {
    let h = harness(config("3/h", "1000/min"));
    // Expired: created, then past the 30-minute idle timeout.
    let expired = h.session(ALICE).await;
    h.clock.advance(Duration::from_secs(31 * 60));
    // Unknown: a real seal whose session was destroyed.
    let unknown = h.session(ALICE).await;
    let set = h.get("/logout", ALICE, Some(&unknown)).await;
    assert!(set.set_cookie.is_some(), "logout expires the cookie");
    let good = h.session(ALICE).await;
    for _ in 0..5 {
        assert_eq!(
            h.get("/read", ALICE, Some(&good)).await.status,
            StatusCode::OK,
            "a live session never counts"
        );
    }
    let cases = [("expired", expired), ("unknown", unknown), ("forged", forged(0))];
    for (name, cookie) in &cases {
        assert_eq!(h.get("/read", ALICE, Some(cookie)).await.status, StatusCode::OK, "{name}");
    }
    assert!(h.throttled().is_empty());
    let r = h.get("/read", ALICE, Some(&forged(1))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "three bad cookies an hour, the fourth refused");
    assert_eq!(r.retry_after, Some(1200), "no block window: until the rate allows one more");
}

#[tokio::test]
async fn a_loop_of_new_sessions_stops_at_the_limit_before_the_store_fills() {
    let h = harness(config("20/min", "5/min"));
    for i in 0..5 {
        let r = h.get("/visit", ALICE, None).await;
        assert_eq!(r.status, StatusCode::OK, "session {i}");
        assert!(r.set_cookie.is_some());
    }
    for _ in 0..20 {
        let r = h.get("/visit", ALICE, None).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.set_cookie, None);
        assert!(r.retry_after.is_some());
    }
    assert_eq!(h.store.len(), 5, "refused sessions were never written");
    let events = h.throttled();
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(matches!(events[0].event, SecurityEvent::Throttled { rule: RuleKind::SessionFlood, .. }));
    // Another client, and a request that keeps its session, are unaffected.
    let bobs = h.get("/visit", BOB, None).await;
    assert_eq!(bobs.status, StatusCode::OK);
    assert_eq!(h.store.len(), 6);
    assert_eq!(h.get("/read", ALICE, None).await.status, StatusCode::OK, "reading creates nothing");
    // One more every 12 s.
    h.clock.advance(Duration::from_secs(12));
    assert_eq!(h.get("/visit", ALICE, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn monitor_mode_records_but_never_refuses() {
    let h = harness(config("2/min,block=10m", "2/min").with_mode(Mode::Monitor));
    for i in 0..10 {
        assert_eq!(h.get("/read", ALICE, Some(&forged(i))).await.status, StatusCode::OK, "guess {i}");
        assert_eq!(h.get("/visit", ALICE, None).await.status, StatusCode::OK, "session {i}");
    }
    assert_eq!(h.store.len(), 10, "every session was stored");
    let events = h.throttled();
    let rules: Vec<_> = events
        .iter()
        .map(|e| match e.event {
            SecurityEvent::Throttled { rule, action, .. } => (rule, action),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        rules,
        [
            (RuleKind::SessionIdGuessing, ThrottleAction::Monitored),
            (RuleKind::SessionFlood, ThrottleAction::Monitored)
        ],
        "one event per rule and window"
    );
}

#[tokio::test]
async fn off_counts_nothing_and_unknown_clients_are_not_counted() {
    let h = harness(config("1/min", "1/min").with_mode(Mode::Off));
    for i in 0..5 {
        assert_eq!(h.get("/read", ALICE, Some(&forged(i))).await.status, StatusCode::OK);
    }
    assert!(h.throttled().is_empty());

    // No peer address told to the layer: no client to count against.
    let h = harness(config("1/min", "1/min"));
    for i in 0..5 {
        let req = Request::get("/read")
            .header(header::COOKIE, format!("__Host-session={}", forged(i)))
            .body(Body::empty())
            .unwrap();
        assert_eq!(h.app.clone().oneshot(req).await.unwrap().status(), StatusCode::OK);
    }
    assert!(h.throttled().is_empty());
}

#[tokio::test]
async fn two_cookies_of_the_session_name_are_not_guesses() {
    let h = harness(config("1/min", "1000/min"));
    for _ in 0..5 {
        let mut req = Request::get("/read")
            .header(header::COOKIE, format!("__Host-session={}; __Host-session={}", forged(0), forged(1)))
            .body(Body::empty())
            .unwrap();
        req.extensions_mut().insert(PeerAddr(ALICE.parse().unwrap()));
        assert_eq!(h.app.clone().oneshot(req).await.unwrap().status(), StatusCode::OK);
    }
    assert!(h.throttled().is_empty(), "cookie tossing is the victim's browser, not a guess");
}

#[tokio::test]
async fn events_carry_no_cookie_or_session_id() {
    let h = harness(config("1/min,block=1m", "1/min"));
    let real = h.session(BOB).await;
    let mut presented = vec![real.clone()];
    for i in 0..4 {
        let c = forged(i);
        let _ = h.get("/read", BOB, Some(&c)).await;
        presented.push(c);
    }
    let _ = h.get("/read", BOB, Some(&real)).await;
    assert!(!h.throttled().is_empty());
    let json = serde_json::to_string(&h.events.recent()).unwrap();
    for cookie in &presented {
        // The sealed value, and each of its dot-separated parts long enough to be an id.
        assert!(!json.contains(cookie.as_str()), "a cookie in the events: {json}");
        for part in cookie.split('.').filter(|p| p.len() >= 16) {
            assert!(!json.contains(part), "part of a cookie in the events: {json}");
        }
    }
}

#[test]
fn limits_read_like_the_flags() {
    let l: Limit = "20/min,block=15m".parse().unwrap();
    assert_eq!((l.count(), l.period(), l.block()), (20, Duration::from_secs(60), Duration::from_secs(900)));
}
