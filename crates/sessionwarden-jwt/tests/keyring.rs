//! The `keyring` feature: keys follow keyring reloads, refresh tokens survive a rotation and
//! die with a retirement, events name what was refused, and the bearer extractor answers.
#![cfg(feature = "keyring")]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::FromRef;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use sessionwarden_jwt::keyring::{Bearer, KeyringTokens, TokenStores};
use sessionwarden_jwt::{AccessTokenRequest, JwtAlgorithm, MemoryRefreshStore, MemoryRevocations};
use sessionwarden_tower::keyring::{KeyId, Keyring, KeyringFile};
use sessionwarden_tower::{Clock as _, Events, ManualClock, Timestamp};
use tower::ServiceExt as _;

const START: Timestamp = Timestamp::from_unix(1_750_000_000);

struct World {
    file: KeyringFile,
    keyring: Keyring,
    clock: ManualClock,
    events: Events,
    tokens: Arc<KeyringTokens>,
}

impl World {
    fn new(algorithm: JwtAlgorithm) -> Self {
        let file = KeyringFile::generate(START).unwrap();
        let keyring = Keyring::new(file.key_set().unwrap());
        let clock = ManualClock::new(START);
        let events = Events::default();
        let tokens = KeyringTokens::builder(keyring.clone())
            .with_algorithm(algorithm)
            .with_clock(Arc::new(clock.clone()))
            .with_events(events.clone())
            .build()
            .unwrap();
        Self { file, keyring, clock, events, tokens: Arc::new(tokens) }
    }

    fn primary(&self) -> KeyId {
        self.keyring.current().primary().id()
    }

    /// `keys rotate` and the reload every node does. Returns the new primary.
    fn rotate(&mut self) -> KeyId {
        let kid = self.file.rotate(self.clock.now()).unwrap();
        self.keyring.replace(self.file.key_set().unwrap());
        kid
    }

    /// `keys retire` and the reload.
    fn retire(&mut self, kid: KeyId) {
        self.file.retire(kid).unwrap();
        self.keyring.replace(self.file.key_set().unwrap());
    }

    fn count(&self, kind: &str) -> u64 {
        self.events.counts().get(kind).copied().unwrap_or(0)
    }

    fn reasons(&self, kind: &str) -> Vec<String> {
        let recent = self.events.recent();
        let matching = recent.iter().filter(|e| e.event.kind() == kind);
        matching.map(|e| e.event.reason().unwrap_or_default().to_owned()).collect()
    }
}

fn alice() -> AccessTokenRequest {
    AccessTokenRequest::new("alice").with_sid("handle-1")
}

#[tokio::test]
async fn keys_follow_a_keyring_reload_and_the_jwks_follows() {
    let mut w = World::new(JwtAlgorithm::EdDsa);
    let old = w.primary();
    let before = w.tokens.issue(&alice()).await.unwrap();
    let jwks = w.tokens.jwks_json().unwrap();
    assert!(jwks.contains(&format!("\"kid\":\"{old}\"")), "{jwks}");

    let new = w.rotate();
    assert_eq!(w.tokens.current().unwrap().0.signing_kid(), new.to_string(), "the new primary signs");
    let after = w.tokens.issue(&alice()).await.unwrap();
    assert!(w.tokens.verify(after.access.token()).await.is_ok());
    assert!(w.tokens.verify(before.access.token()).await.is_ok(), "verify-only keys still verify");
    let jwks = w.tokens.jwks_json().unwrap();
    assert!(jwks.contains(&format!("\"kid\":\"{old}\"")) && jwks.contains(&format!("\"kid\":\"{new}\"")));

    w.retire(old);
    let err = w.tokens.verify(before.access.token()).await.unwrap_err();
    assert_eq!(err.reason(), "kid_retired");
    assert!(!w.tokens.jwks_json().unwrap().contains(&format!("\"kid\":\"{old}\"")), "retired: unpublished");
    assert_eq!(w.reasons("jwt_rejected"), vec!["kid_retired"]);
}

#[tokio::test]
async fn grace_retry_across_a_rotation_gets_the_successor_first_issued() {
    let mut w = World::new(JwtAlgorithm::Hs256);
    let first = w.tokens.issue(&alice()).await.unwrap();
    let second = w.tokens.rotate(first.refresh.as_str()).await.unwrap();
    w.rotate();
    w.clock.advance(Duration::from_secs(5));
    let retry = w.tokens.rotate(first.refresh.as_str()).await.unwrap();
    assert_eq!(retry.refresh, second.refresh, "same successor across the key rotation");
    assert_eq!(retry.access.jti(), second.access.jti());
    assert_eq!(w.count("refresh_token_reuse"), 0);

    // After the window it is a reuse: the family dies, and the event names it.
    w.clock.advance(Duration::from_secs(10));
    let err = w.tokens.rotate(first.refresh.as_str()).await.unwrap_err();
    assert_eq!(err.reason(), "refresh_reuse");
    let recent = w.events.recent();
    let reuse = recent.iter().find(|e| e.event.kind() == "refresh_token_reuse").unwrap();
    let sessionwarden_tower::SecurityEvent::RefreshTokenReuse { family } = &reuse.event else {
        unreachable!()
    };
    assert_eq!(family, second.family.as_str());
    let err = w.tokens.rotate(second.refresh.as_str()).await.unwrap_err();
    assert_eq!(err.reason(), "refresh_revoked");
}

/// Issue #11's hardening defect: after `keys retire`, a refresh token minted under the retired
/// key must not mint access tokens. Each row: what happened to the token before the drill,
/// and what rotating it answers after.
#[tokio::test]
async fn retiring_a_key_ends_the_refresh_tokens_it_minted() {
    struct Case {
        name: &'static str,
        rotated_under_the_new_key_first: bool,
        want: Result<(), &'static str>,
    }
    let cases = [
        Case {
            name: "issued under the old key, unused",
            rotated_under_the_new_key_first: false,
            want: Err("refresh_key_retired"),
        },
        Case {
            name: "rotated once the new key was primary",
            rotated_under_the_new_key_first: true,
            want: Ok(()),
        },
    ];
    for c in cases {
        let mut w = World::new(JwtAlgorithm::Hs256);
        let old = w.primary();
        let pair = w.tokens.issue(&alice()).await.unwrap();
        w.rotate();
        w.clock.advance(Duration::from_secs(60));
        let live = if c.rotated_under_the_new_key_first {
            w.tokens.rotate(pair.refresh.as_str()).await.unwrap().refresh
        } else {
            pair.refresh.clone()
        };
        // Before the retirement the old key only verifies, and its tokens still rotate.
        w.retire(old);
        w.clock.advance(Duration::from_secs(60));
        let got = w.tokens.rotate(live.as_str()).await.map(|_| ()).map_err(|e| e.reason());
        assert_eq!(got, c.want, "{}", c.name);
        if let Err(reason) = c.want {
            assert_eq!(w.reasons("jwt_rejected"), vec![reason], "{}", c.name);
        }
    }
}

#[tokio::test]
async fn revocations_reach_access_and_refresh_tokens() {
    let w = World::new(JwtAlgorithm::Hs256);
    let pair = w.tokens.issue(&alice()).await.unwrap();
    w.tokens.revoke_session("handle-1").await.unwrap();
    assert_eq!(w.tokens.verify(pair.access.token()).await.unwrap_err().reason(), "revoked");
    assert_eq!(w.tokens.rotate(pair.refresh.as_str()).await.unwrap_err().reason(), "refresh_revoked");

    let pair = w.tokens.issue(&AccessTokenRequest::new("bob")).await.unwrap();
    w.tokens.revoke_user("bob").await.unwrap();
    assert_eq!(w.tokens.verify(pair.access.token()).await.unwrap_err().reason(), "revoked");
    assert_eq!(w.tokens.rotate(pair.refresh.as_str()).await.unwrap_err().reason(), "refresh_revoked");
}

#[tokio::test]
async fn purge_removes_what_expired_off_the_clock() {
    let clock = ManualClock::new(START);
    let file = KeyringFile::generate(START).unwrap();
    let refresh = Arc::new(MemoryRefreshStore::new());
    let stores = TokenStores { refresh: refresh.clone(), revocations: Arc::new(MemoryRevocations::new()) };
    let tokens = KeyringTokens::builder(Keyring::new(file.key_set().unwrap()))
        .with_stores(stores)
        .with_clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    tokens.issue(&alice()).await.unwrap();
    tokens.purge_expired().await.unwrap();
    assert_eq!(refresh.len(), 1, "not expired: kept");
    clock.advance(Duration::from_secs(31 * 24 * 3600));
    tokens.purge_expired().await.unwrap();
    assert!(refresh.is_empty(), "the 30-day family expired and was purged");
}

#[tokio::test]
async fn a_static_secret_refuses_every_other_kid() {
    let file = KeyringFile::generate(START).unwrap();
    let keyring = Keyring::new(file.key_set().unwrap());
    let derived = KeyringTokens::builder(keyring.clone()).build().unwrap();
    let fixed =
        KeyringTokens::builder(keyring.clone()).with_static_hs256("static", &[0x42; 32]).build().unwrap();
    let from_derived = derived.issue(&alice()).await.unwrap();
    let from_fixed = fixed.issue(&alice()).await.unwrap();
    assert!(fixed.verify(from_fixed.access.token()).await.is_ok());
    assert_eq!(fixed.verify(from_derived.access.token()).await.unwrap_err().reason(), "kid_unknown");
    let err = KeyringTokens::builder(keyring)
        .with_algorithm(JwtAlgorithm::EdDsa)
        .with_static_hs256("static", &[0x42; 32])
        .build()
        .unwrap_err();
    assert_eq!(err.reason(), "config");
    assert!(!format!("{fixed:?}").contains("66, 66"), "no secret in Debug");
}

#[derive(Clone)]
struct AppState {
    tokens: Arc<KeyringTokens>,
}

impl FromRef<AppState> for Arc<KeyringTokens> {
    fn from_ref(state: &AppState) -> Self {
        state.tokens.clone()
    }
}

#[tokio::test]
async fn the_bearer_extractor_answers_like_rfc_6750() {
    let w = World::new(JwtAlgorithm::Hs256);
    let app = axum::Router::new()
        .route("/me", get(|Bearer(claims): Bearer| async move { claims.sub().to_owned() }))
        .with_state(AppState { tokens: w.tokens.clone() });
    let pair = w.tokens.issue(&alice()).await.unwrap();
    let send = |auth: Option<String>| {
        let app = app.clone();
        async move {
            let mut req = Request::get("/me");
            if let Some(auth) = auth {
                req = req.header("authorization", auth);
            }
            app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
        }
    };
    let ok = send(Some(format!("Bearer {}", pair.access.token()))).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let missing = send(None).await;
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(missing.headers()["www-authenticate"], r#"Bearer realm="sessionwarden""#);
    let forged = send(Some("Bearer e30.e30.c2ln".to_owned())).await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        forged.headers()["www-authenticate"],
        r#"Bearer realm="sessionwarden", error="invalid_token""#
    );
    assert_eq!(w.count("jwt_rejected"), 1, "a missing header is no event; a forged token is");
}
