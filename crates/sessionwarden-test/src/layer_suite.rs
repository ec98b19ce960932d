//! The session layer's behaviour over HTTP, mounted for every backend with
//! [`crate::layer_conformance!`]: round trips, cookie attributes, rejected cookies, rotation,
//! timeouts, id cycling, destruction, laziness, fail-closed, and concurrent writers.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::Duration;

use axum::body::Body;
use serde_json::json;
use sessionwarden_tower::{Backend, CookieConfig, Expiry};

use crate::harness::Harness;

fn attrs(set_cookie: &str) -> Vec<String> {
    set_cookie.split(';').skip(1).map(|s| s.trim().to_owned()).collect()
}

suite! {
$
/// Mounts every case of [`crate::layer_suite`] as `#[tokio::test]`s for the backend made by
/// `$make` (a closure returning a future of a [`Backend`](sessionwarden_tower::Backend)).
mount layer_conformance;
path layer_suite;
wrap std::convert::identity;

pub async fn round_trip(backend: Backend) {
    let mut h = Harness::new(backend);
    let r = h.client.get("/get").await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "User: None"));
    let r = h.client.get("/set").await;
    assert_eq!(r.body, "Session set!");
    assert_eq!(r.set_cookies().len(), 1);
    assert_eq!(h.client.get("/get").await.body, "User: admin");
    h.client.get("/set?user=bob").await;
    assert_eq!(h.client.get("/get").await.body, "User: bob");
    // Another browser has its own session.
    assert_eq!(h.other_client().get("/get").await.body, "User: None");
}

pub async fn default_cookie_attributes(backend: Backend) {
    let mut h = Harness::new(backend);
    let r = h.client.get("/set").await;
    let sc = &r.set_cookies()[0];
    assert!(sc.starts_with("__Host-session=s1."), "{sc}");
    let mut a = attrs(sc);
    a.sort();
    assert_eq!(a, ["HttpOnly", "Path=/", "SameSite=Lax", "Secure"], "{sc}");
}

pub async fn insecure_cookie_attributes(backend: Backend) {
    let mut h = Harness::with(backend, CookieConfig::default().insecure_allow_http(), Expiry::default());
    let r = h.client.get("/set").await;
    let sc = &r.set_cookies()[0];
    assert!(sc.starts_with("session=s1."), "{sc}");
    let mut a = attrs(sc);
    a.sort();
    assert_eq!(a, ["HttpOnly", "Path=/", "SameSite=Lax"], "{sc}");
    assert_eq!(h.client.get("/get").await.body, "User: admin");
}

pub async fn persistent_cookie_has_max_age(backend: Backend) {
    let expiry = Expiry::default().with_absolute_timeout(Some(Duration::from_secs(7200))).persistent(true);
    let mut h = Harness::with(backend, CookieConfig::default(), expiry);
    let r = h.client.get("/set").await;
    let sc = &r.set_cookies()[0];
    assert!(attrs(sc).contains(&"Max-Age=7200".to_owned()), "{sc}");
}

pub async fn untouched_responses_are_left_alone(backend: Backend) {
    let mut h = Harness::new(backend);
    h.client.get("/set").await;
    let r = h.client.get("/noop").await;
    assert!(r.set_cookies().is_empty());
    assert!(r.headers.get("vary").is_none(), "untouched response must not vary on Cookie");
    assert!(r.headers.get("cache-control").is_none());
    let r = h.client.get("/get").await;
    assert_eq!(r.headers.get("vary").unwrap(), "Cookie");
    assert_eq!(r.headers.get("cache-control").unwrap(), "private");
}

pub async fn read_only_visitor_gets_no_session(backend: Backend) {
    let mut h = Harness::new(backend);
    for _ in 0..3 {
        let r = h.client.get("/get").await;
        assert!(r.set_cookies().is_empty(), "a visitor who never wrote must get no cookie");
        assert_eq!(r.headers.get("vary").unwrap(), "Cookie");
    }
    assert!(h.client.jar.is_empty());
    if let Some(store) = &h.store {
        assert_eq!(store.writes(), 0, "no session may be created for a read-only visitor");
    }
    assert_eq!(h.rec.count("session_created"), 0);
}

pub async fn load_is_lazy(backend: Backend) {
    let mut h = Harness::new(backend);
    h.client.get("/set").await;
    let Some(store) = h.store.clone() else { return };
    let loads = store.loads();
    for _ in 0..5 {
        h.client.get("/noop").await;
    }
    assert_eq!(store.loads(), loads, "a handler that never touches the session costs no store read");
    h.client.get("/get").await;
    assert_eq!(store.loads(), loads + 1);
}

pub async fn read_only_traffic_does_not_write(backend: Backend) {
    let mut h = Harness::new(backend);
    h.client.get("/set").await;
    let writes = h.store.as_ref().map(|s| s.writes());
    for _ in 0..5 {
        h.clock.advance(Duration::from_secs(10));
        let r = h.client.get("/get").await;
        assert_eq!(r.body, "User: admin");
        assert!(r.set_cookies().is_empty(), "no cookie re-issue within the renewal interval");
    }
    assert_eq!(h.store.as_ref().map(|s| s.writes()), writes, "no store write within the renewal interval");
    // Past the renewal interval (idle/8 = 225 s by default) one request renews.
    h.clock.advance(Duration::from_secs(200));
    h.client.get("/get").await;
    if let (Some(store), Some(w)) = (&h.store, writes) {
        assert_eq!(store.writes(), w + 1, "renewal writes once");
    }
    let r = h.client.get("/get").await;
    assert!(r.set_cookies().is_empty());
}

pub async fn bad_cookies_are_no_session(backend: Backend) {
    let mut h = Harness::new(backend);
    h.client.get("/set").await;
    let good = h.cookie().unwrap();
    let name = h.cookie_name.clone();
    let parts: Vec<&str> = good.split('.').collect();
    assert_eq!(parts.len(), 5, "{good}");
    let flip = |s: &str| {
        let mut b = s.as_bytes().to_vec();
        let i = b.len() / 2;
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    let with = |i: usize, v: String| {
        let mut p: Vec<String> = parts.iter().map(|s| (*s).to_owned()).collect();
        p[i] = v;
        p.join(".")
    };
    // Our cookie sealed for one name, presented under another name (cookie confusion).
    let other_name_value = {
        let keys = h.keyring.current();
        sessionwarden_tower::envelope::Envelope::seal(
            &keys,
            "csrf",
            &[0u8; 32],
            h.clock_now(),
            sessionwarden_tower::envelope::Mode::Signed,
        )
        .unwrap()
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("tampered payload", format!("{name}={}", with(3, flip(parts[3]))), "bad_mac"),
        ("tampered mac", format!("{name}={}", with(4, flip(parts[4]))), "bad_mac"),
        (
            "tampered issue time",
            format!("{name}={}", with(2, (parts[2].parse::<i64>().unwrap() - 1).to_string())),
            "bad_mac",
        ),
        ("unknown key id", format!("{name}={}", with(1, "999".into())), "unknown_key"),
        ("truncated", format!("{name}={}", &good[..good.len() - 10]), "malformed"),
        ("garbage base64", format!("{name}={}", with(3, "!!!***".into())), "malformed"),
        ("garbage", format!("{name}=hello"), "malformed"),
        ("empty", format!("{name}="), "malformed"),
        ("oversized", format!("{name}=s1.1.1.{}.x", "A".repeat(5000)), "oversized"),
        ("sealed for another cookie name", format!("{name}={other_name_value}"), "bad_mac"),
        ("two session cookies", format!("{name}={good}; {name}={good}"), "duplicate_cookie"),
    ];
    for (what, cookie, reason) in cases {
        h.rec.clear();
        let r = h.get_with_cookie("/get", &cookie).await;
        assert_eq!(r.status, 200, "{what}: must not be an error status");
        assert_eq!(r.body, "User: None", "{what}");
        assert_eq!(h.rec.reasons("cookie_rejected"), [reason], "{what}");
    }
    // Our value moved under another name is simply not our cookie.
    let r = h.get_with_cookie("/get", &format!("other={good}")).await;
    assert_eq!(r.body, "User: None");
    // The genuine cookie still works.
    assert_eq!(h.get_with_cookie("/get", &format!("{name}={good}")).await.body, "User: admin");
}

pub async fn rotation_logs_nobody_out(backend: Backend) {
    let mut h = Harness::new(backend);
    h.client.get("/set").await;
    let old = h.cookie().unwrap();
    assert!(old.starts_with("s1.1."), "{old}");
    let new_kid = h.rotate();
    // The old cookie still loads, and its response re-seals it under the new primary.
    let r = h.client.get("/get").await;
    assert_eq!(r.body, "User: admin");
    let resealed = h.cookie().unwrap();
    assert!(resealed.starts_with(&format!("s1.{new_kid}.")), "{resealed}");
    assert_eq!(h.rec.count("cookie_resealed"), 1);
    // New sessions carry the new key id.
    let mut other = h.other_client();
    let r = other.get("/set?user=carol").await;
    assert!(r.set_cookies()[0].contains(&format!("=s1.{new_kid}.")));
    // Until the old key is retired, a not-yet-moved copy still works.
    let name = h.cookie_name.clone();
    assert_eq!(h.get_with_cookie("/get", &format!("{name}={old}")).await.body, "User: admin");
    h.retire(sessionwarden_tower::keyring::KeyId::parse("1").unwrap());
    h.rec.clear();
    assert_eq!(h.get_with_cookie("/get", &format!("{name}={old}")).await.body, "User: None");
    assert_eq!(h.rec.reasons("cookie_rejected"), ["retired_key"]);
    assert_eq!(h.client.get("/get").await.body, "User: admin");
}

pub async fn idle_timeout_expires(backend: Backend) {
    let expiry = Expiry::default().with_idle_timeout(Some(Duration::from_secs(600)));
    let mut h = Harness::with(backend, CookieConfig::default(), expiry);
    h.client.get("/set").await;
    h.clock.advance(Duration::from_secs(599));
    assert_eq!(h.client.get("/get").await.body, "User: admin", "just inside the idle timeout");
    // That request renewed the idle deadline; now stay away longer than the timeout.
    h.clock.advance(Duration::from_secs(601));
    assert_eq!(h.client.get("/get").await.body, "User: None");
}

pub async fn absolute_timeout_expires(backend: Backend) {
    let expiry = Expiry::default()
        .with_idle_timeout(Some(Duration::from_secs(600)))
        .with_absolute_timeout(Some(Duration::from_secs(3600)));
    let mut h = Harness::with(backend, CookieConfig::default(), expiry);
    h.client.get("/set").await;
    // Active every 5 minutes: the idle timeout never hits, the absolute one does.
    for _ in 0..11 {
        h.clock.advance(Duration::from_secs(300));
        assert_eq!(h.client.get("/get").await.body, "User: admin");
    }
    h.clock.advance(Duration::from_secs(300));
    assert_eq!(h.client.get("/get").await.body, "User: None", "absolute timeout passed");
}

pub async fn cycle_id_retires_old_id(backend: Backend) {
    let mut h = Harness::new(backend);
    h.client.get("/set").await;
    let before = h.cookie().unwrap();
    let r = h.client.send(http::Request::post("/login?user=alice"), Body::empty()).await;
    assert_eq!(r.body, "logged in");
    let after = h.cookie().unwrap();
    assert_ne!(before, after, "login must issue a new cookie");
    assert_eq!(h.client.get("/get").await.body, "User: admin", "data survives the new id");
    let name = h.cookie_name.clone();
    if h.store.is_some() {
        assert_eq!(h.rec.count("session_rotated"), 1);
        // The pre-login id is dead: session fixation is over.
        assert_eq!(h.get_with_cookie("/get", &format!("{name}={before}")).await.body, "User: None");
    }
}

pub async fn destroy_expires_cookie_and_record(backend: Backend) {
    let mut h = Harness::new(backend);
    h.client.get("/set").await;
    let before = h.cookie().unwrap();
    let r = h.client.send(http::Request::post("/destroy"), Body::empty()).await;
    let sc = &r.set_cookies()[0];
    assert!(attrs(sc).contains(&"Max-Age=0".to_owned()), "{sc}");
    assert!(h.cookie().is_none(), "the browser drops the cookie");
    assert_eq!(h.client.get("/get").await.body, "User: None");
    if h.store.is_some() {
        assert_eq!(h.rec.count("session_destroyed"), 1);
        let name = h.cookie_name.clone();
        assert_eq!(
            h.get_with_cookie("/get", &format!("{name}={before}")).await.body,
            "User: None",
            "replayed cookie after logout"
        );
    }
}

pub async fn store_outage_fails_closed(backend: Backend) {
    let mut h = Harness::new(backend);
    h.client.get("/set").await;
    let Some(store) = h.store.clone() else { return };
    let cookie = h.cookie().unwrap();
    store.set_down(true);
    for uri in ["/get", "/set?user=mallory", "/data"] {
        let r = h.client.get(uri).await;
        assert_eq!(r.status, 503, "{uri} during an outage");
        assert!(r.set_cookies().is_empty(), "{uri}: no new session may hide the real one");
        assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    }
    assert!(h.rec.count("store_unavailable") >= 3);
    assert_eq!(h.client.get("/noop").await.status, 200, "routes without sessions keep working");
    store.set_down(false);
    assert_eq!(h.cookie().unwrap(), cookie);
    assert_eq!(h.client.get("/get").await.body, "User: admin", "nothing was overwritten");
}

pub async fn concurrent_writes_lose_nothing(backend: Backend) {
    let mut h = Harness::new(backend);
    h.client.get("/set").await;
    if h.store.is_none() {
        // Cookie sessions: concurrent responses overwrite each other's cookie by nature.
        return;
    }
    let mut tasks = Vec::new();
    for i in 0..100 {
        let mut c = h.client.clone();
        tasks.push(tokio::spawn(async move {
            let r = c.post_json("/data", &json!({ format!("k{i}"): i })).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let data = h.client.get("/data").await.json();
    for i in 0..100 {
        assert_eq!(data[format!("k{i}")], i, "write k{i} was lost");
    }
    assert_eq!(data["user"], "admin");
}

pub async fn oversized_session_is_refused(backend: Backend) {
    let mut h = Harness::new(backend);
    h.client.get("/set").await;
    let r = h.client.get("/big?n=5000").await;
    if h.store.is_none() {
        assert_eq!(r.status, 413, "a cookie session cannot hold 5000 bytes");
        assert_eq!(h.client.get("/get").await.body, "User: admin", "the refused change lost nothing");
        let r = h.client.get("/big?n=1000").await;
        assert_eq!(r.status, 200);
        let sc = r.set_cookies();
        assert!(sc[0].len() < 4096 + 100);
    } else {
        assert_eq!(r.status, 200, "server-side sessions are not bound by the cookie limit");
    }
}

/// A response that sets the session cookie or carries a CSRF token holds a secret:
/// `no-store`, not just `private` (which still lets the browser's own cache keep it).
pub async fn secret_responses_are_never_stored(backend: Backend) {
    let mut h = Harness::new(backend);
    let r = h.client.get("/set").await;
    assert_eq!(r.set_cookies().len(), 1);
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store", "a response that sets the cookie");
    let r = h.client.get("/get").await;
    assert!(r.set_cookies().is_empty());
    assert_eq!(r.headers.get("cache-control").unwrap(), "private", "a read needs only private");
    h.client.get("/csrf-token").await;
    let r = h.client.get("/csrf-token").await;
    assert_eq!(r.status, 200);
    assert!(r.set_cookies().is_empty(), "the CSRF secret exists already");
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store", "a response that carries a CSRF token");
}

/// Two session cookies are refused, and the one we can reach (host-only, `Path=/`) is
/// cleared, so the browser does not keep sending a pair that can never load.
pub async fn duplicate_cookies_are_cleared(backend: Backend) {
    let mut h = Harness::new(backend);
    h.client.get("/set").await;
    let good = h.cookie().unwrap();
    let name = h.cookie_name.clone();
    h.rec.clear();
    let r = h.get_with_cookie("/get", &format!("{name}={good}; {name}={good}")).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "User: None"));
    assert_eq!(h.rec.reasons("cookie_rejected"), ["duplicate_cookie"]);
    let sc = r.set_cookies();
    assert_eq!(sc.len(), 1, "{sc:?}");
    assert!(sc[0].starts_with(&format!("{name}=;")), "{}", sc[0]);
    assert!(attrs(&sc[0]).contains(&"Max-Age=0".to_owned()), "{}", sc[0]);
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    // Refusing the pair deleted nothing: the genuine cookie alone still loads.
    assert_eq!(h.get_with_cookie("/get", &format!("{name}={good}")).await.body, "User: admin");
}

/// Without the `__Host-` prefix, one of two session cookies may be a domain cookie tossed by
/// a sibling subdomain that our clearing cannot reach: the pair is refused, nothing is cleared.
pub async fn duplicate_cookies_without_host_prefix_stay_refused(backend: Backend) {
    let mut h = Harness::with(backend, CookieConfig::default().with_name("sid"), Expiry::default());
    h.client.get("/set").await;
    let good = h.cookie().unwrap();
    h.rec.clear();
    let r = h.get_with_cookie("/get", &format!("sid={good}; sid={good}")).await;
    assert_eq!((r.status.as_u16(), r.body.as_str()), (200, "User: None"));
    assert_eq!(h.rec.reasons("cookie_rejected"), ["duplicate_cookie"]);
    assert!(r.set_cookies().is_empty(), "{:?}", r.set_cookies());
}

/// A cookie-store request whose second write overflows the cookie saves neither write:
/// a typed 413 and no `Set-Cookie` (not a 500 with the first write's cookie).
pub async fn oversized_write_is_all_or_nothing(backend: Backend) {
    let mut h = Harness::new(backend);
    h.client.get("/set").await;
    let before = h.cookie().unwrap();
    let r = h.client.post_json("/data", &json!({"a_small": 1, "b_big": "x".repeat(5000)})).await;
    if h.store.is_some() {
        assert_eq!(r.status, 200, "server-side sessions are not bound by the cookie limit");
        let data = h.client.get("/data").await.json();
        assert_eq!((data["a_small"].clone(), data["b_big"].as_str().map(str::len)), (json!(1), Some(5000)));
        return;
    }
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.set_cookies().is_empty(), "no cookie with the writes made before the overflow");
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(h.cookie().unwrap(), before);
    let data = h.client.get("/data").await.json();
    assert!(data.get("a_small").is_none(), "the first write was not kept: {data}");
    assert_eq!(data["user"], "admin");
}

pub async fn debug_output_shows_no_secret(backend: Backend) {
    let mut h = Harness::new(backend);
    h.client.post_json("/data", &json!({"secret": "hunter2-value"})).await;
    let cookie = h.cookie().unwrap();
    let payload_part = cookie.split('.').nth(3).unwrap().to_owned();
    let dump = format!("{:?} {:?} {:?} {:?}", h.keyring, h.keyfile, h.rec.events(), h.store);
    assert!(!dump.contains("hunter2-value"), "{dump}");
    assert!(!dump.contains(&payload_part));
    assert!(!dump.contains(&cookie));
}
}
