//! JWTs through the real router: a named table of attacks on bearer verification (each answered
//! 401 with `WWW-Authenticate: Bearer error="invalid_token"`, no state change, and one
//! `jwt_rejected` event with the right reason), the leeway boundary on an injected clock,
//! refresh rotation / reuse / grace, revocation (jti, logout, log out everywhere), key rotation
//! and JWKS, and two routers sharing one store.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sessionwarden::keyring::{Keyring, KeyringFile, Purpose};
use sessionwarden::{Clock as _, Events, ManualClock};
use sessionwarden_jwt::{RevocationQuery, Revocations as _, RevokedBy};
use sessionwarden_server::App;
use sessionwarden_server::auth::DemoUser;
use sessionwarden_server::cli::{ServeArgs, StoreKind};
use sessionwarden_server::tokens::{JwtAlg, JwtSecret};
use sessionwarden_test::client::TestResponse;
use sessionwarden_test::harness::START;
use sessionwarden_test::{Recorder, TestClient};
use sha2::Sha256;

const HOST: &str = "site.example";

fn alice() -> DemoUser {
    static ALICE: OnceLock<DemoUser> = OnceLock::new();
    ALICE.get_or_init(|| DemoUser::parse("alice:wonderland").unwrap()).clone()
}

fn args(alg: JwtAlg) -> ServeArgs {
    ServeArgs {
        store: StoreKind::Memory,
        idle_timeout: 0,
        absolute_timeout: 0,
        demo_user: vec![alice()],
        jwt_alg: alg,
        ..ServeArgs::default()
    }
}

struct World {
    browser: TestClient,
    clock: ManualClock,
    rec: Recorder,
    keyring: Keyring,
    keyfile: KeyringFile,
    router: axum::Router,
    tokens: Arc<sessionwarden_server::tokens::Tokens>,
    app: App,
}

impl World {
    async fn new(alg: JwtAlg) -> Self {
        Self::with_args(args(alg)).await
    }

    async fn with_args(args: ServeArgs) -> Self {
        let clock = ManualClock::new(START);
        let (rec, events) = Recorder::hub();
        let keyfile = KeyringFile::generate(START).unwrap();
        let keyring = Keyring::new(keyfile.key_set().unwrap());
        let app = App::new(&args, keyring.clone(), events, Arc::new(clock.clone())).await.unwrap();
        let router = app.router();
        let tokens = app.state.tokens.clone();
        Self { browser: TestClient::new(router.clone()), clock, rec, keyring, keyfile, router, tokens, app }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.clock.now().unix()).unwrap()
    }

    fn stranger(&self) -> TestClient {
        TestClient::new(self.router.clone())
    }

    /// Logs the browser in as alice; returns `(access, refresh)` from `GET /token`.
    async fn login(&mut self) -> (String, String) {
        let t = self.browser.send(get("/csrf-token"), Body::empty()).await.json()["csrf_token"]
            .as_str()
            .unwrap()
            .to_owned();
        let req = post("/login").header("content-type", "application/json").header("x-csrf-token", t);
        let body = json!({"username": "alice", "password": "wonderland"}).to_string();
        assert_eq!(self.browser.send(req, Body::from(body)).await.status, 200);
        self.token().await
    }

    async fn token(&mut self) -> (String, String) {
        let r = self.browser.send(get("/token"), Body::empty()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let j = r.json();
        (j["token"].as_str().unwrap().to_owned(), j["refresh_token"].as_str().unwrap().to_owned())
    }

    async fn csrf(&mut self) -> String {
        self.browser.send(get("/csrf-token"), Body::empty()).await.json()["csrf_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `GET /me` with only a bearer token (no cookie).
    async fn me(&self, token: &str) -> TestResponse {
        let req = get("/me").header("authorization", format!("Bearer {token}"));
        self.stranger().send(req, Body::empty()).await
    }

    async fn refresh(&self, refresh: &str) -> TestResponse {
        let req = post("/token/refresh").header("content-type", "application/json");
        self.stranger().send(req, Body::from(json!({"refresh_token": refresh}).to_string())).await
    }

    /// The HS256 key the server signs with now: `(kid, secret)`.
    fn hs_key(&self) -> (String, [u8; 32]) {
        let set = self.keyring.current();
        let key = set.primary();
        (key.id().to_string(), *key.subkey(Purpose::JwtHs256).expose())
    }
}

fn get(uri: &str) -> axum::http::request::Builder {
    axum::http::Request::get(uri).header("host", HOST).header("sec-fetch-site", "same-origin")
}

fn post(uri: &str) -> axum::http::request::Builder {
    axum::http::Request::post(uri).header("host", HOST).header("sec-fetch-site", "same-origin")
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn hmac(key: &[u8], input: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn hs256(header: &Value, claims: &Value, key: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = hmac(key, &input);
    format!("{input}.{sig}")
}

fn eddsa(header: &Value, claims: &Value, seed: [u8; 32]) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = ed25519_dalek::SigningKey::from_bytes(&seed).sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

fn claims(now: u64) -> Value {
    json!({"iss": "sessionwarden", "aud": "sessionwarden", "sub": "alice", "iat": now, "nbf": now,
           "exp": now + 3600, "jti": "attack-jti"})
}

fn header(kid: &str) -> Value {
    json!({"alg": "HS256", "typ": "at+jwt", "kid": kid})
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

/// How an attack token is built, given the world.
type Build = Box<dyn Fn(&Ctx) -> String>;

/// What a builder may use.
struct Ctx {
    now: u64,
    kid: String,
    secret: [u8; 32],
    legit: String,
    /// Another purpose's subkey of the same keyring key (the CSRF key).
    csrf_key: [u8; 32],
    retired: (String, [u8; 32]),
}

struct Case {
    name: &'static str,
    alg: JwtAlg,
    build: Build,
    reason: &'static str,
}

fn case(name: &'static str, reason: &'static str, build: impl Fn(&Ctx) -> String + 'static) -> Case {
    Case { name, alg: JwtAlg::Hs256, build: Box::new(build), reason }
}

fn none_token(alg: &str, with_sig: bool, c: &Ctx) -> String {
    let h = json!({"alg": alg, "typ": "at+jwt", "kid": c.kid});
    let input = format!("{}.{}", b64(&h), b64(&claims(c.now)));
    if with_sig { format!("{input}.{}", hmac(&c.secret, &input)) } else { format!("{input}.") }
}

#[rustfmt::skip] // one case per line reads as a table
fn cases() -> Vec<Case> {
    vec![
        case("alg none, no signature", "alg_none", |c| none_token("none", false, c)),
        case("alg None, no signature", "alg_none", |c| none_token("None", false, c)),
        case("alg NONE, no signature", "alg_none", |c| none_token("NONE", false, c)),
        case("alg nOnE, no signature", "alg_none", |c| none_token("nOnE", false, c)),
        case("alg none, with a valid HS256 signature", "alg_none", |c| none_token("none", true, c)),
        case("alg None, with a valid HS256 signature", "alg_none", |c| none_token("None", true, c)),
        case("alg NONE, with a valid HS256 signature", "alg_none", |c| none_token("NONE", true, c)),
        case("alg nOnE, with a valid HS256 signature", "alg_none", |c| none_token("nOnE", true, c)),
        case("kid ../../dev/null (empty-key trick)", "kid_invalid", |c| hs256(&header("../../dev/null"), &claims(c.now), b"")),
        case("kid SQL injection", "kid_invalid", |c| hs256(&header("' OR 1=1 --"), &claims(c.now), &c.secret)),
        case("kid unknown", "kid_unknown", |c| hs256(&header("999999"), &claims(c.now), &c.secret)),
        case("kid missing", "kid_missing", |c| hs256(&without(header("x"), "kid"), &claims(c.now), &c.secret)),
        case("kid of a retired key, signed with that key", "kid_retired", |c| hs256(&header(&c.retired.0), &claims(c.now), &c.retired.1)),
        case("embedded jwk header (attacker's key)", "bad_signature", |c| {
            let h = with(header(&c.kid), "jwk", json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode([7u8; 32])}));
            hs256(&h, &claims(c.now), &[7u8; 32])
        }),
        case("nbf in the future (beyond leeway)", "not_yet_valid", |c| hs256(&header(&c.kid), &with(claims(c.now), "nbf", json!(c.now + 31)), &c.secret)),
        case("iat in the future (beyond leeway)", "iat_in_future", |c| hs256(&header(&c.kid), &with(claims(c.now), "iat", json!(c.now + 31)), &c.secret)),
        case("exp as a string", "claim_type", |c| hs256(&header(&c.kid), &with(claims(c.now), "exp", json!((c.now + 3600).to_string())), &c.secret)),
        case("exp missing", "missing_claim", |c| hs256(&header(&c.kid), &without(claims(c.now), "exp"), &c.secret)),
        case("exp null", "claim_type", |c| hs256(&header(&c.kid), &with(claims(c.now), "exp", Value::Null), &c.secret)),
        case("exp a float", "claim_type", |c| hs256(&header(&c.kid), &with(claims(c.now), "exp", json!(1e10)), &c.secret)),
        case("wrong iss", "wrong_issuer", |c| hs256(&header(&c.kid), &with(claims(c.now), "iss", json!("https://evil.example")), &c.secret)),
        case("wrong aud", "wrong_audience", |c| hs256(&header(&c.kid), &with(claims(c.now), "aud", json!("other-api")), &c.secret)),
        case("typ JWT (not an access token)", "wrong_type", |c| hs256(&with(header(&c.kid), "typ", json!("JWT")), &claims(c.now), &c.secret)),
        case("typ missing", "wrong_type", |c| hs256(&without(header(&c.kid), "typ"), &claims(c.now), &c.secret)),
        case("crit header", "crit_unsupported", |c| hs256(&with(header(&c.kid), "crit", json!(["exp"])), &claims(c.now), &c.secret)),
        case("alg hs256 in lower case", "alg_not_allowed", |c| hs256(&with(header(&c.kid), "alg", json!("hs256")), &claims(c.now), &c.secret)),
        case("alg HS512", "alg_not_allowed", |c| hs256(&with(header(&c.kid), "alg", json!("HS512")), &claims(c.now), &c.secret)),
        case("payload tampered (sub: admin)", "bad_signature", |c| {
            let parts: Vec<&str> = c.legit.split('.').collect();
            let mut payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            payload["sub"] = json!("admin");
            format!("{}.{}.{}", parts[0], b64(&payload), parts[2])
        }),
        case("signature stripped (trailing dot)", "bad_signature", |c| {
            let (input, _) = c.legit.rsplit_once('.').unwrap();
            format!("{input}.")
        }),
        case("signature stripped (two parts)", "malformed", |c| c.legit.rsplit_once('.').unwrap().0.to_owned()),
        case("signature of another token", "bad_signature", |c| {
            let other = hs256(&header(&c.kid), &with(claims(c.now), "sub", json!("bob")), &c.secret);
            let (input, _) = c.legit.rsplit_once('.').unwrap();
            format!("{input}.{}", other.rsplit_once('.').unwrap().1)
        }),
        case("signature not canonical base64url", "malformed", |c| format!("{}=", c.legit)),
        case("JSON serialization", "not_compact", |c| {
            let p: Vec<&str> = c.legit.split('.').collect();
            json!({"payload": p[1], "protected": p[0], "signature": p[2]}).to_string()
        }),
        case("10 KB token", "too_large", |c| hs256(&header(&c.kid), &with(claims(c.now), "pad", json!("x".repeat(10 * 1024))), &c.secret)),
        case("signed with another purpose's key (CSRF subkey)", "bad_signature", |c| hs256(&header(&c.kid), &claims(c.now), &c.csrf_key)),
        case("signed with the raw keyring secret's neighbour (all zeros)", "bad_signature", |c| hs256(&header(&c.kid), &claims(c.now), &[0u8; 32])),
        case("header not JSON", "malformed", |c| format!("{}.{}", URL_SAFE_NO_PAD.encode("not json"), c.legit.split_once('.').unwrap().1)),
        case("duplicate alg members", "malformed", |c| {
            let h = format!(r#"{{"alg":"HS256","alg":"none","typ":"at+jwt","kid":"{}"}}"#, c.kid);
            let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(h), b64(&claims(c.now)));
            format!("{input}.{}", hmac(&c.secret, &input))
        }),
    ]
}

async fn ctx(w: &mut World) -> Ctx {
    // A retired key: rotate, take the old key's JWT subkey, retire it.
    let old = w.keyring.current().primary().id();
    let old_secret = *w.keyring.current().primary().subkey(Purpose::JwtHs256).expose();
    w.keyfile.rotate(w.clock.now()).unwrap();
    w.keyfile.retire(old).unwrap();
    w.keyring.replace(w.keyfile.key_set().unwrap());
    let (legit, _) = w.login().await;
    let (kid, secret) = w.hs_key();
    let csrf_key = *w.keyring.current().primary().subkey(Purpose::Csrf).expose();
    Ctx { now: w.now(), kid, secret, legit, csrf_key, retired: (old.to_string(), old_secret) }
}

/// Asserts a refusal: 401, the RFC 6750 challenge, a generic body, no cookie, and exactly one
/// event, `jwt_rejected` with `reason`.
fn assert_refused(r: &TestResponse, rec: &Recorder, reason: &str, name: &str) {
    assert_eq!(r.status, 401, "{name}: {}", r.body);
    let challenge = r.headers.get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
    assert!(
        challenge.as_deref().is_some_and(|c| c.contains(r#"error="invalid_token""#)),
        "{name}: {challenge:?}"
    );
    assert_eq!(r.json(), json!({"error": "unauthorized"}), "{name}: the body says nothing more");
    assert!(r.set_cookies().is_empty(), "{name}: no session was created");
    assert_eq!(rec.reasons("jwt_rejected"), vec![reason.to_owned()], "{name}");
    assert_eq!(rec.events().len(), 1, "{name}: no other event: {:?}", rec.events());
}

#[tokio::test]
async fn attack_table_through_the_router() {
    let mut w = World::new(JwtAlg::Hs256).await;
    let c = ctx(&mut w).await;
    assert_eq!(w.me(&c.legit).await.status, 200, "the legitimate token works");
    let table = cases();
    assert!(table.len() >= 35);
    for case in &table {
        assert_eq!(case.alg, JwtAlg::Hs256);
        let token = (case.build)(&c);
        w.rec.clear();
        let r = w.me(&token).await;
        assert_refused(&r, &w.rec, case.reason, case.name);
        // The state-changing route refuses it the same way and revokes nothing.
        w.rec.clear();
        let req = post("/token/revoke").header("authorization", format!("Bearer {token}"));
        let r = w.stranger().send(req, Body::empty()).await;
        assert_refused(&r, &w.rec, case.reason, case.name);
        assert_eq!(w.me(&c.legit).await.status, 200, "{}: the legitimate token still works", case.name);
    }
}

#[tokio::test]
async fn authorization_header_shapes() {
    let mut w = World::new(JwtAlg::Hs256).await;
    let (token, _) = w.login().await;
    for (name, value) in [
        ("Basic scheme", format!("Basic {token}")),
        ("no scheme", token.clone()),
        ("empty bearer", "Bearer ".to_owned()),
    ] {
        w.rec.clear();
        let req = get("/me").header("authorization", value);
        let r = w.stranger().send(req, Body::empty()).await;
        assert_refused(&r, &w.rec, "malformed", name);
    }
    let req = get("/me").header("authorization", format!("bearer {token}"));
    assert_eq!(w.stranger().send(req, Body::empty()).await.status, 200, "the scheme is case-insensitive");
    // No header and no session: 401 with a bare challenge and no event.
    w.rec.clear();
    let r = w.stranger().send(get("/me"), Body::empty()).await;
    assert_eq!(r.status, 401);
    let r = w.stranger().send(post("/token/revoke"), Body::empty()).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.headers["www-authenticate"], r#"Bearer realm="sessionwarden""#);
    assert_eq!(w.rec.count("jwt_rejected"), 0);
}

/// HS256 "signed" with the published EdDSA / ES256 public key, naming that key.
#[tokio::test]
async fn key_confusion_with_the_published_public_key() {
    for alg in [JwtAlg::EdDsa, JwtAlg::Es256] {
        let mut w = World::new(alg).await;
        let (legit, _) = w.login().await;
        assert_eq!(w.me(&legit).await.status, 200, "{alg:?}: legit");
        let jwks = w.stranger().send(get("/.well-known/jwks.json"), Body::empty()).await.json();
        let jwk = &jwks["keys"][0];
        let kid = jwk["kid"].as_str().unwrap();
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
        let mut point = x.clone();
        if let Some(y) = jwk["y"].as_str() {
            point = [vec![4u8], x.clone(), URL_SAFE_NO_PAD.decode(y).unwrap()].concat();
        }
        let secrets: Vec<Vec<u8>> =
            vec![x, point, jwk.to_string().into_bytes(), jwks.to_string().into_bytes()];
        for secret in secrets {
            let token = hs256(&header(kid), &claims(w.now()), &secret);
            w.rec.clear();
            assert_refused(&w.me(&token).await, &w.rec, "alg_not_allowed", &format!("{alg:?} key confusion"));
        }
    }
}

/// Tokens whose header points at a key elsewhere (jwk, jku, x5u): the attacker's key is never
/// used, and nothing is fetched: a listener named in jku/x5u sees no connection.
#[tokio::test]
async fn embedded_keys_and_key_urls_are_never_used_or_fetched() {
    let mut w = World::new(JwtAlg::EdDsa).await;
    let (legit, _) = w.login().await;
    let kid = w.stranger().send(get("/.well-known/jwks.json"), Body::empty()).await.json()["keys"][0]["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let attacker = [0x66u8; 32];
    let attacker_pub =
        URL_SAFE_NO_PAD.encode(ed25519_dalek::SigningKey::from_bytes(&attacker).verifying_key().to_bytes());
    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": attacker_pub, "kid": kid});
    let base = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid});
    let cases = [
        ("jwk", with(base.clone(), "jwk", jwk.clone()), "bad_signature"),
        ("jku", with(base.clone(), "jku", json!(url)), "bad_signature"),
        ("x5u", with(base.clone(), "x5u", json!(url)), "bad_signature"),
        (
            "jku with the attacker's kid",
            with(with(base.clone(), "jku", json!(url)), "kid", json!("attacker")),
            "kid_unknown",
        ),
        (
            "x5u with the attacker's kid",
            with(with(base.clone(), "x5u", json!(url)), "kid", json!("attacker")),
            "kid_unknown",
        ),
        ("x5c", with(base.clone(), "x5c", json!(["MIIB"])), "bad_signature"),
    ];
    for (name, h, reason) in cases {
        let token = eddsa(&h, &claims(w.now()), attacker);
        w.rec.clear();
        assert_refused(&w.me(&token).await, &w.rec, reason, name);
    }
    let accepted = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await;
    assert!(accepted.is_err(), "the server connected to the URL in a token header");
    assert_eq!(w.me(&legit).await.status, 200);
}

/// With the injected clock: valid one second before `exp + leeway`, refused at it.
#[tokio::test]
async fn expiry_at_the_leeway_boundary() {
    let mut w = World::new(JwtAlg::Hs256).await;
    let (token, _) = w.login().await;
    let exp = w.now() + 3600;
    w.clock.set(sessionwarden::Timestamp::from_unix(i64::try_from(exp + 30 - 1).unwrap()));
    assert_eq!(w.me(&token).await.status, 200, "one second before exp + leeway");
    w.clock.advance(Duration::from_secs(1));
    w.rec.clear();
    assert_refused(&w.me(&token).await, &w.rec, "expired", "at exp + leeway");
    w.clock.advance(Duration::from_secs(1));
    w.rec.clear();
    assert_refused(&w.me(&token).await, &w.rec, "expired", "one second after exp + leeway");
}

#[tokio::test]
async fn access_ttl_and_leeway_follow_the_flags() {
    let mut a = args(JwtAlg::Hs256);
    a.jwt_access_ttl = 60;
    a.jwt_leeway = 0;
    let mut w = World::with_args(a).await;
    let (token, _) = w.login().await;
    w.clock.advance(Duration::from_secs(59));
    assert_eq!(w.me(&token).await.status, 200);
    w.clock.advance(Duration::from_secs(1));
    assert_eq!(w.me(&token).await.status, 401);
}

#[tokio::test]
async fn get_token_needs_a_logged_in_user() {
    let mut w = World::new(JwtAlg::Hs256).await;
    assert_eq!(w.browser.send(get("/token"), Body::empty()).await.status, 401, "no session");
    // Demo data names a user but authenticates nobody.
    assert_eq!(w.browser.send(get("/set-session?user=alice"), Body::empty()).await.status, 200);
    assert_eq!(w.browser.send(get("/token"), Body::empty()).await.status, 401, "set-session is not login");
    let (token, refresh) = w.login().await;
    assert_eq!(refresh.len(), 43, "256 bits, base64url");
    let r = w.me(&token).await;
    assert_eq!(r.json(), json!({"user": "alice"}));
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["kid"], w.keyring.current().primary().id().to_string());
    let r = w.browser.send(get("/token"), Body::empty()).await;
    assert_eq!(r.headers["cache-control"], "no-store");
    // /me from the session still works.
    assert_eq!(w.browser.send(get("/me"), Body::empty()).await.json(), json!({"user": "alice"}));
}

#[tokio::test]
async fn refresh_rotates_and_reuse_after_the_grace_window_revokes_the_family() {
    let mut w = World::new(JwtAlg::Hs256).await;
    let (_, r0) = w.login().await;
    let first = w.refresh(&r0).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let r1 = first.json()["refresh_token"].as_str().unwrap().to_owned();
    let a1 = first.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(r1, r0, "rotated");
    assert_eq!(w.me(&a1).await.status, 200);
    let second = w.refresh(&r1).await;
    let r2 = second.json()["refresh_token"].as_str().unwrap().to_owned();

    // r0 again after the 10 s window: reuse.
    w.clock.advance(Duration::from_secs(11));
    w.rec.clear();
    let r = w.refresh(&r0).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json(), json!({"error": "unauthorized"}));
    assert_eq!(w.rec.count("refresh_token_reuse"), 1);
    let family = w.rec.events().into_iter().find_map(|e| match e {
        sessionwarden::SecurityEvent::RefreshTokenReuse { family } => Some(family),
        _ => None,
    });
    assert!(family.is_some_and(|f| !f.is_empty()), "the event names the family");
    // The newest token of the family is dead too.
    w.rec.clear();
    assert_eq!(w.refresh(&r2).await.status, 401, "the thief's (or the client's) newest token");
    assert_eq!(w.rec.reasons("jwt_rejected"), vec!["refresh_revoked"]);
    // Garbage refresh tokens: 401 / 400, never 500.
    assert_eq!(w.refresh("x").await.status, 401);
    let req = post("/token/refresh").header("content-type", "application/json");
    assert_eq!(w.stranger().send(req, Body::from("{}")).await.status, 400);
}

#[tokio::test]
async fn retry_within_the_grace_window_gets_the_same_successor() {
    let mut w = World::new(JwtAlg::Hs256).await;
    let (_, r0) = w.login().await;
    let a = w.refresh(&r0).await.json();
    w.clock.advance(Duration::from_secs(5));
    let b = w.refresh(&r0).await;
    assert_eq!(b.status, 200, "a retry after a lost response");
    assert_eq!(b.json(), a, "same successor, same access token");
    assert_eq!(w.rec.count("refresh_token_reuse"), 0);
    let r1 = a["refresh_token"].as_str().unwrap();
    assert_eq!(w.refresh(r1).await.status, 200, "the successor works");
}

/// A keyring rotation between a refresh and its retry: the retry still gets the successor the
/// first answer carried (derived with the old primary's subkey, now verify-only), and the same
/// access-token claims, signed by the new primary. Once the old key is retired, a retry of a
/// rotation made under it is a reuse.
#[tokio::test]
async fn retry_within_the_grace_window_survives_a_key_rotation() {
    let mut w = World::new(JwtAlg::Hs256).await;
    let (_, r0) = w.login().await;
    let a = w.refresh(&r0).await.json();
    let old = w.keyring.current().primary().id();
    let new = w.keyfile.rotate(w.clock.now()).unwrap();
    w.keyring.replace(w.keyfile.key_set().unwrap());
    w.clock.advance(Duration::from_secs(5));
    let b = w.refresh(&r0).await;
    assert_eq!(b.status, 200, "a retry across a key rotation is not a reuse: {}", b.body);
    let b = b.json();
    assert_eq!(b["refresh_token"], a["refresh_token"], "the successor first issued");
    let payload = |v: &Value| -> Value {
        let token = v["token"].as_str().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
    };
    let header = |v: &Value| -> Value {
        let token = v["token"].as_str().unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
    };
    assert_eq!(payload(&b), payload(&a), "same claims: jti, iat, exp");
    assert_eq!(
        (header(&a)["kid"].clone(), header(&b)["kid"].clone()),
        (json!(old.to_string()), json!(new.to_string()))
    );
    assert_eq!(w.me(b["token"].as_str().unwrap()).await.status, 200);
    assert_eq!(w.rec.count("refresh_token_reuse"), 0);

    // A second family, rotated under the old key; that key is retired before the retry.
    let (_, s0) = w.token().await;
    assert_eq!(w.refresh(&s0).await.status, 200, "rotated under key {new}");
    w.keyfile.rotate(w.clock.now()).unwrap();
    w.keyfile.retire(new).unwrap();
    w.keyring.replace(w.keyfile.key_set().unwrap());
    assert_eq!(w.refresh(&s0).await.status, 401, "its key is retired: the retry is a reuse");
    assert_eq!(w.rec.count("refresh_token_reuse"), 1);
}

/// Issue #11 (hardening): after `keys retire KID`, a refresh token issued under the retired key
/// minted access tokens. Refused at use time now (`refresh_key_retired`), so the emergency
/// retirement drill ends it on every node that reloads the keyring; a family whose token was
/// rotated under the new key lives on.
#[tokio::test]
async fn issue_11_a_refresh_token_of_a_retired_key_mints_nothing() {
    let mut w = World::new(JwtAlg::Hs256).await;
    let (_, unused) = w.login().await;
    let (_, moved_on) = w.token().await;
    let old = w.keyring.current().primary().id();
    w.keyfile.rotate(w.clock.now()).unwrap();
    w.keyring.replace(w.keyfile.key_set().unwrap());
    w.clock.advance(Duration::from_secs(60));
    // Under the new primary, the second family rotates: its live token is the new key's.
    let r = w.refresh(&moved_on).await;
    assert_eq!(r.status, 200, "the old key still verifies: {}", r.body);
    let moved_on = r.json()["refresh_token"].as_str().unwrap().to_owned();

    w.keyfile.retire(old).unwrap();
    w.keyring.replace(w.keyfile.key_set().unwrap());
    w.rec.clear();
    let r = w.refresh(&unused).await;
    assert_eq!(r.status, 401, "minted under the retired key: {}", r.body);
    assert!(r.json().get("token").is_none());
    assert_eq!(w.rec.reasons("jwt_rejected"), vec!["refresh_key_retired"]);
    assert_eq!(w.rec.count("refresh_token_reuse"), 0, "not a reuse: nothing else is revoked");
    assert_eq!(w.refresh(&moved_on).await.status, 200, "minted under the new key: still good");
}

/// `Tokens::purge_expired` (run by `serve` every few minutes) deletes expired refresh
/// families and denylist rows from the SQL store.
#[tokio::test]
async fn purge_removes_expired_token_rows() {
    let dir = support_dir("purge");
    let mut a = args(JwtAlg::Hs256);
    a.store = StoreKind::Sqlite;
    a.data_dir = dir.clone();
    let mut w = World::with_args(a).await;
    let (token, refresh) = w.login().await;
    let req = post("/token/revoke").header("authorization", format!("Bearer {token}"));
    assert_eq!(w.stranger().send(req, Body::empty()).await.status, 200);
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let jti = claims["jti"].as_str().unwrap().to_owned();
    let issued = w.now();

    // Another handle on the database, asked as of the issue time: the row itself is looked at.
    let db = sessionwarden_sql::SqliteTokenStore::open(dir.join("sessions.db")).await.unwrap();
    let q = RevocationQuery { jti: &jti, sub: "alice", sid: None, iat: issued, now: issued };
    assert_eq!(db.check(&q).await.unwrap(), Some(RevokedBy::Jti));
    w.tokens.purge_expired().await.unwrap();
    assert_eq!(db.check(&q).await.unwrap(), Some(RevokedBy::Jti), "not expired yet: kept");

    // 31 days on: the access token and the refresh family (30 days) have expired.
    w.clock.advance(Duration::from_secs(31 * 24 * 3600));
    w.rec.clear();
    assert_eq!(w.refresh(&refresh).await.status, 401);
    assert_eq!(w.rec.reasons("jwt_rejected"), vec!["refresh_expired"], "still stored before the purge");
    w.tokens.purge_expired().await.unwrap();
    assert_eq!(db.check(&q).await.unwrap(), None, "the jti row is gone");
    w.rec.clear();
    assert_eq!(w.refresh(&refresh).await.status, 401);
    assert_eq!(w.rec.reasons("jwt_rejected"), vec!["refresh_unknown"], "the family is gone");
    let _ = std::fs::remove_dir_all(dir);
}

/// `serve`'s maintenance (the session sweep, the audit purge and the token purge as jobs of one
/// task) runs off
/// the application's clock: advancing the `ManualClock` runs what is due, without sleeping.
#[tokio::test]
async fn maintenance_sweeps_sessions_and_purges_tokens_off_the_clock() {
    let mut a = args(JwtAlg::Hs256);
    a.idle_timeout = 600;
    let mut w = World::with_args(a).await;
    let (_, refresh) = w.login().await;
    // What `serve` spawns, over the same state as the router.
    let mut maintenance = w.app.maintenance();
    let ran = |reports: &[sessionwarden::maintenance::JobReport]| -> Vec<(&'static str, Option<u64>)> {
        reports.iter().map(|r| (r.name(), r.removed())).collect()
    };
    assert_eq!(
        ran(&maintenance.run_due().await),
        vec![("session sweep", Some(0)), ("audit purge", Some(0)), ("token purge", Some(0))]
    );
    w.clock.advance(Duration::from_secs(59));
    assert_eq!(ran(&maintenance.run_due().await), vec![], "nothing is due before a minute");

    // 31 days on: the session (idle 10 min) and the refresh family (30 days) have expired.
    w.clock.advance(Duration::from_secs(31 * 24 * 3600));
    assert_eq!(
        ran(&maintenance.run_due().await),
        vec![("session sweep", Some(1)), ("audit purge", Some(0)), ("token purge", Some(0))]
    );
    w.rec.clear();
    assert_eq!(w.refresh(&refresh).await.status, 401);
    assert_eq!(w.rec.reasons("jwt_rejected"), vec!["refresh_unknown"], "the family was purged");
}

fn support_dir(name: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    std::env::temp_dir().join(format!("sw-jwt-{name}-{}-{nanos}", std::process::id()))
}

#[tokio::test]
async fn strict_grace_zero_makes_any_second_use_a_reuse() {
    let mut a = args(JwtAlg::Hs256);
    a.jwt_refresh_grace = 0;
    let mut w = World::with_args(a).await;
    let (_, r0) = w.login().await;
    assert_eq!(w.refresh(&r0).await.status, 200);
    assert_eq!(w.refresh(&r0).await.status, 401);
    assert_eq!(w.rec.count("refresh_token_reuse"), 1);
}

#[tokio::test]
async fn revoke_denylists_the_jti() {
    let mut w = World::new(JwtAlg::Hs256).await;
    let (token, _) = w.login().await;
    let (other, _) = w.token().await;
    let req = post("/token/revoke").header("authorization", format!("Bearer {token}"));
    let r = w.stranger().send(req, Body::empty()).await;
    assert_eq!(r.status, 200, "bearer-only POST: no CSRF token needed ({})", r.body);
    w.rec.clear();
    assert_refused(&w.me(&token).await, &w.rec, "revoked", "revoked jti");
    assert_eq!(w.me(&other).await.status, 200, "only that token");
}

#[tokio::test]
async fn revoke_needs_the_origin_check_even_for_bearer_calls() {
    let mut w = World::new(JwtAlg::Hs256).await;
    let (token, _) = w.login().await;
    let req = axum::http::Request::post("/token/revoke")
        .header("host", HOST)
        .header("sec-fetch-site", "cross-site")
        .header("authorization", format!("Bearer {token}"));
    assert_eq!(w.stranger().send(req, Body::empty()).await.status, 403);
    assert_eq!(w.me(&token).await.status, 200, "not revoked");
}

#[tokio::test]
async fn logout_revokes_the_sessions_tokens() {
    for store in [StoreKind::Memory, StoreKind::Cookie] {
        let mut a = args(JwtAlg::Hs256);
        a.store = store;
        let mut w = World::with_args(a).await;
        let (token, refresh) = w.login().await;
        assert_eq!(w.me(&token).await.status, 200);
        let t = w.csrf().await;
        let r = w.browser.send(post("/logout").header("x-csrf-token", t), Body::empty()).await;
        assert_eq!(r.status, 200, "{store:?}: {}", r.body);
        w.rec.clear();
        assert_refused(
            &w.me(&token).await,
            &w.rec,
            "revoked",
            &format!("{store:?}: access token after logout"),
        );
        w.rec.clear();
        assert_eq!(w.refresh(&refresh).await.status, 401, "{store:?}: refresh after logout");
        assert_eq!(w.rec.reasons("jwt_rejected"), vec!["refresh_revoked"]);
    }
}

#[tokio::test]
async fn logout_everywhere_revokes_every_token_and_session_of_the_user() {
    let mut w = World::new(JwtAlg::Hs256).await;
    let (t1, r1) = w.login().await;
    // A second device.
    let mut phone = w.stranger();
    std::mem::swap(&mut w.browser, &mut phone);
    let (t2, r2) = w.login().await;
    std::mem::swap(&mut w.browser, &mut phone);
    w.clock.advance(Duration::from_secs(5));
    let t = w.csrf().await;
    let r = w.browser.send(post("/logout-everywhere").header("x-csrf-token", t), Body::empty()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["revoked_sessions"], 2);
    for (name, token) in [("laptop", &t1), ("phone", &t2)] {
        w.rec.clear();
        assert_refused(&w.me(token).await, &w.rec, "revoked", name);
    }
    for refresh in [&r1, &r2] {
        assert_eq!(w.refresh(refresh).await.status, 401);
    }
    assert_eq!(phone.send(get("/me"), Body::empty()).await.status, 401, "the phone's session is gone");
    // A new login later gets working tokens.
    w.clock.advance(Duration::from_secs(2));
    let (fresh, _) = w.login().await;
    assert_eq!(w.me(&fresh).await.status, 200);
}

#[tokio::test]
async fn logout_everywhere_needs_a_logged_in_user() {
    let mut w = World::new(JwtAlg::Hs256).await;
    let t = w.csrf().await;
    let r = w.browser.send(post("/logout-everywhere").header("x-csrf-token", t), Body::empty()).await;
    assert_eq!(r.status, 401);
}

/// Rotation: the new primary signs, old tokens verify until the old key is retired, and the
/// JWKS follows the keyring without a restart.
#[tokio::test]
async fn keys_follow_keyring_reloads_and_jwks_follows() {
    let mut w = World::new(JwtAlg::EdDsa).await;
    let (old_token, _) = w.login().await;
    let old = w.keyring.current().primary().id();
    let jwks = |w: &World| {
        let mut c = w.stranger();
        async move { c.send(get("/.well-known/jwks.json"), Body::empty()).await }
    };
    let r = jwks(&w).await;
    assert_eq!(r.headers["content-type"], "application/json");
    let kids = |v: &Value| {
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(kids(&r.json()), vec![old.to_string()]);
    assert!(!r.body.contains("\"d\""), "no private part");

    let new = w.keyfile.rotate(w.clock.now()).unwrap();
    w.keyring.replace(w.keyfile.key_set().unwrap());
    assert_eq!(kids(&jwks(&w).await.json()), vec![new.to_string(), old.to_string()]);
    let (new_token, _) = w.token().await;
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(new_token.split('.').next().unwrap()).unwrap())
            .unwrap();
    assert_eq!(header["kid"], new.to_string());
    assert_eq!(w.me(&old_token).await.status, 200, "old key still verifies");

    w.keyfile.retire(old).unwrap();
    w.keyring.replace(w.keyfile.key_set().unwrap());
    assert_eq!(kids(&jwks(&w).await.json()), vec![new.to_string()]);
    w.rec.clear();
    assert_refused(&w.me(&old_token).await, &w.rec, "kid_retired", "token of a retired key");
    assert_eq!(w.me(&new_token).await.status, 200);
}

#[tokio::test]
async fn hs256_publishes_no_keys() {
    let w = World::new(JwtAlg::Hs256).await;
    let r = w.stranger().send(get("/.well-known/jwks.json"), Body::empty()).await;
    assert_eq!(r.json(), json!({"keys": []}));
}

/// `JWT_SECRET_KEY`: tokens are signed with it under `JWT_SECRET_KEY_ID`, verifiable by anyone
/// holding the secret, and keyring-signed tokens (another kid) are refused.
#[tokio::test]
async fn explicit_jwt_secret_key() {
    let secret = "s".repeat(40);
    let mut a = args(JwtAlg::Hs256);
    a.jwt_secret_key = Some(JwtSecret::new(secret.clone()));
    a.jwt_secret_key_id = "shared-1".into();
    let mut w = World::with_args(a).await;
    let (token, _) = w.login().await;
    let (input, sig) = token.rsplit_once('.').unwrap();
    assert_eq!(hmac(secret.as_bytes(), input), sig, "signed with JWT_SECRET_KEY itself");
    let head: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(input.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(head, json!({"alg": "HS256", "typ": "at+jwt", "kid": "shared-1"}));
    assert_eq!(w.me(&token).await.status, 200);
    // What a flask-jwt-extended service sharing the secret would mint.
    let shared = hs256(&header("shared-1"), &claims(w.now()), secret.as_bytes());
    assert_eq!(w.me(&shared).await.status, 200);
    // Any other kid is refused, including the keyring's own.
    let (kid, derived) = w.hs_key();
    w.rec.clear();
    assert_refused(
        &w.me(&hs256(&header(&kid), &claims(w.now()), &derived)).await,
        &w.rec,
        "kid_unknown",
        "keyring kid",
    );

    let mut bad = args(JwtAlg::Hs256);
    bad.jwt_secret_key = Some(JwtSecret::new("short"));
    let keyring = Keyring::new(KeyringFile::generate(START).unwrap().key_set().unwrap());
    let err = App::new(&bad, keyring.clone(), Events::default(), Arc::new(sessionwarden::SystemClock))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("32 bytes"), "{err:#}");
    let mut ed = args(JwtAlg::EdDsa);
    ed.jwt_secret_key = Some(JwtSecret::new(secret));
    assert!(App::new(&ed, keyring, Events::default(), Arc::new(sessionwarden::SystemClock)).await.is_err());
    assert!(!format!("{:?}", JwtSecret::new("sssssssssssssssss")).contains("sss"));
}

/// Two servers sharing one SQLite database: a token revoked on A is refused on B within a
/// second, although B had just cached "not revoked"; refresh tokens rotate across servers.
#[tokio::test]
async fn fleet_revocation_reaches_the_other_server_within_a_second() {
    let dir = std::env::temp_dir().join(format!("sw-jwt-fleet-{}", std::process::id()));
    let mut a = args(JwtAlg::Hs256);
    a.store = StoreKind::Sqlite;
    a.data_dir = dir.clone();
    let keyfile = KeyringFile::generate(START).unwrap();
    let shared_keys = || Keyring::new(keyfile.key_set().unwrap());
    let clock = Arc::new(sessionwarden::SystemClock);
    let app_a = App::new(&a, shared_keys(), Events::default(), clock.clone()).await.unwrap();
    let app_b = App::new(&a, shared_keys(), Events::default(), clock).await.unwrap();
    let mut browser = TestClient::new(app_a.router());
    let node_b = TestClient::new(app_b.router());

    let t = browser.send(get("/csrf-token"), Body::empty()).await.json()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let req = post("/login").header("content-type", "application/json").header("x-csrf-token", t);
    let body = json!({"username": "alice", "password": "wonderland"}).to_string();
    assert_eq!(browser.send(req, Body::from(body)).await.status, 200);
    let j = browser.send(get("/token"), Body::empty()).await.json();
    let token = j["token"].as_str().unwrap().to_owned();
    let refresh = j["refresh_token"].as_str().unwrap().to_owned();

    let me_b = |token: String| {
        let mut c = node_b.clone();
        async move {
            c.send(get("/me").header("authorization", format!("Bearer {token}")), Body::empty()).await.status
        }
    };
    assert_eq!(me_b(token.clone()).await, 200, "B verifies A's token (and caches: not revoked)");

    // Refresh on B, with the token A issued.
    let req = post("/token/refresh").header("content-type", "application/json");
    let r = node_b.clone().send(req, Body::from(json!({"refresh_token": refresh}).to_string())).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let mut c = TestClient::new(app_a.router());
    let req = post("/token/revoke").header("authorization", format!("Bearer {token}"));
    assert_eq!(c.send(req, Body::empty()).await.status, 200);
    let revoked_at = std::time::Instant::now();
    loop {
        if me_b(token.clone()).await == 401 {
            break;
        }
        assert!(revoked_at.elapsed() < Duration::from_secs(1), "B still accepts the token after 1 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = revoked_at.elapsed();
    assert!(took < Duration::from_secs(1), "{took:?}");
    let _ = std::fs::remove_dir_all(dir);
}
