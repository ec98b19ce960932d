//! Attacks on verification, refresh rotation and revocation, as named tables.
//!
//! Attack tokens are built by hand (base64url of crafted JSON + HMAC-SHA256 or Ed25519 from the
//! RustCrypto crates) wherever a JWT library would refuse to produce them.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::Signer as _;
use hmac::{Hmac, Mac as _};
use serde_json::{Value, json};
use sha2::Sha256;

use sessionwarden_jwt::{
    AccessTokenRequest, Confirmation, FamilyId, FamilyRecord, Jwt, JwtAlgorithm, JwtConfig, JwtError, JwtKey,
    JwtKeySet, MemoryRefreshStore, MemoryRevocations, RefreshConfig, RefreshManager, RefreshStore,
    Revocations, TokenHash, TokenRecord,
};

const NOW: u64 = 1_750_000_000;
const HS_SECRET: [u8; 32] = [0x11; 32];
const HS_OLD_SECRET: [u8; 32] = [0x10; 32];
/// Another purpose's subkey (say, the CSRF key) — never a JWT key.
const OTHER_PURPOSE_SECRET: [u8; 32] = [0x22; 32];
const ED_SEED: [u8; 32] = [0x33; 32];
const EC_SEED: [u8; 32] = [0x44; 32];
const ATTACKER_ED_SEED: [u8; 32] = [0x66; 32];

fn all_algs() -> JwtConfig {
    JwtConfig::default().with_algorithms([JwtAlgorithm::Hs256, JwtAlgorithm::EdDsa, JwtAlgorithm::Es256])
}

/// The verifier under test: signs with `hs1`, verifies `hs0`, `ed1`, `ec1`; `hs-old` retired.
fn verifier() -> Jwt {
    let keys = JwtKeySet {
        signing: JwtKey::hs256("hs1", &HS_SECRET).unwrap(),
        verifying: vec![
            JwtKey::hs256("hs0", &HS_OLD_SECRET).unwrap(),
            JwtKey::ed25519_from_seed("ed1", ED_SEED).unwrap(),
            JwtKey::es256_from_seed("ec1", EC_SEED).unwrap(),
        ],
        retired_kids: vec!["hs-old".into()],
    };
    Jwt::new(keys, all_algs()).unwrap()
}

/// A legitimate issuer signing with one of the verifier's keys.
fn signer(key: JwtKey) -> Jwt {
    Jwt::new(JwtKeySet::single(key), all_algs()).unwrap()
}

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
}

fn b64_raw(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(text)
}

/// Stands for bytes that are not UTF-8 in [`b64_not_utf8`].
const NOT_UTF8: &str = "@not-utf8@";

/// `json` base64url-encoded, with every [`NOT_UTF8`] replaced by the bytes `ff fe`.
fn b64_not_utf8(json: &Value) -> String {
    let text = json.to_string();
    let (before, after) = text.split_once(NOT_UTF8).unwrap();
    let mut bytes = before.as_bytes().to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe]);
    bytes.extend_from_slice(after.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hmac(secret: &[u8], input: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn header(alg: &str, kid: &str) -> Value {
    json!({ "alg": alg, "typ": "at+jwt", "kid": kid })
}

fn claims() -> Value {
    json!({
        "iss": "sessionwarden", "aud": "sessionwarden", "sub": "alice",
        "exp": NOW + 3600, "nbf": NOW, "iat": NOW, "jti": "jti-1",
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn without(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

enum Sig<'a> {
    Hmac(&'a [u8]),
    Ed([u8; 32]),
    Empty,
    Text(&'a str),
}

fn token_raw(header_b64: &str, payload_b64: &str, sig: Sig<'_>) -> String {
    let input = format!("{header_b64}.{payload_b64}");
    let sig = match sig {
        Sig::Hmac(secret) => hmac(secret, &input),
        Sig::Ed(seed) => URL_SAFE_NO_PAD
            .encode(ed25519_dalek::SigningKey::from_bytes(&seed).sign(input.as_bytes()).to_bytes()),
        Sig::Empty => String::new(),
        Sig::Text(t) => t.to_owned(),
    };
    format!("{input}.{sig}")
}

fn token(header: &Value, claims: &Value, sig: Sig<'_>) -> String {
    token_raw(&b64(header), &b64(claims), sig)
}

fn hs(header: &Value, claims: &Value) -> String {
    token(header, claims, Sig::Hmac(&HS_SECRET))
}

fn ed_public() -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(&ED_SEED).verifying_key().to_bytes()
}

fn ec_public_sec1() -> Vec<u8> {
    let jwk = JwtKey::es256_from_seed("ec1", EC_SEED).unwrap().public_jwk().unwrap();
    let mut out = vec![4u8];
    for c in ["x", "y"] {
        out.extend(URL_SAFE_NO_PAD.decode(jwk[c].as_str().unwrap()).unwrap());
    }
    out
}

struct Case {
    name: &'static str,
    token: String,
    now: u64,
    want: Result<(), &'static str>,
}

fn case(name: &'static str, token: String, want: Result<(), &'static str>) -> Case {
    Case { name, token, now: NOW, want }
}

#[test]
fn verification_attacks() {
    let jwt = verifier();
    let good_hs = hs(&header("HS256", "hs1"), &claims());
    let (good_h, good_p, good_s) = {
        let mut p = good_hs.split('.');
        (p.next().unwrap().to_owned(), p.next().unwrap().to_owned(), p.next().unwrap().to_owned())
    };
    let ed_pub = ed_public();
    let attacker_pub = ed25519_dalek::SigningKey::from_bytes(&ATTACKER_ED_SEED).verifying_key().to_bytes();
    let attacker_jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(attacker_pub) });
    let ed_issued = signer(JwtKey::ed25519_from_seed("ed1", ED_SEED).unwrap())
        .issue_at(&AccessTokenRequest::new("alice"), NOW)
        .unwrap();
    let ec_issued = signer(JwtKey::es256_from_seed("ec1", EC_SEED).unwrap())
        .issue_at(&AccessTokenRequest::new("alice"), NOW)
        .unwrap();
    let old_issued = signer(JwtKey::hs256("hs0", &HS_OLD_SECRET).unwrap())
        .issue_at(&AccessTokenRequest::new("alice"), NOW)
        .unwrap();
    let retired_issued = signer(JwtKey::hs256("hs-old", &[0x0f; 32]).unwrap())
        .issue_at(&AccessTokenRequest::new("alice"), NOW)
        .unwrap();
    let own_issued = jwt.issue_at(&AccessTokenRequest::new("alice"), NOW).unwrap();
    let exp_at_now = with(claims(), "exp", json!(NOW));

    #[rustfmt::skip]
    let mut cases = vec![
        // Controls: without them every refusal below could be an accident.
        case("control: hand-built HS256", good_hs.clone(), Ok(())),
        case("control: issued by Jwt", own_issued.token().to_owned(), Ok(())),
        case("control: EdDSA key", ed_issued.token().to_owned(), Ok(())),
        case("control: ES256 key", ec_issued.token().to_owned(), Ok(())),
        case("control: previous HS256 key still verifies", old_issued.token().to_owned(), Ok(())),
        // alg none, every spelling, with and without a signature.
        case("alg none, no signature", token(&header("none", "hs1"), &claims(), Sig::Empty), Err("alg_none")),
        case("alg None, no signature", token(&header("None", "hs1"), &claims(), Sig::Empty), Err("alg_none")),
        case("alg NONE, no signature", token(&header("NONE", "hs1"), &claims(), Sig::Empty), Err("alg_none")),
        case("alg nOnE, no signature", token(&header("nOnE", "hs1"), &claims(), Sig::Empty), Err("alg_none")),
        case("alg none, HMAC signature", token(&header("none", "hs1"), &claims(), Sig::Hmac(&HS_SECRET)), Err("alg_none")),
        case("alg None, HMAC signature", token(&header("None", "hs1"), &claims(), Sig::Hmac(&HS_SECRET)), Err("alg_none")),
        case("alg NONE, HMAC signature", token(&header("NONE", "hs1"), &claims(), Sig::Hmac(&HS_SECRET)), Err("alg_none")),
        case("alg nOnE, HMAC signature", token(&header("nOnE", "hs1"), &claims(), Sig::Hmac(&HS_SECRET)), Err("alg_none")),
        case("alg none, no kid", token(&json!({"alg": "none", "typ": "at+jwt"}), &claims(), Sig::Empty), Err("alg_none")),
        // Algorithms outside the allowlist.
        case("alg HS512", hs(&header("HS512", "hs1"), &claims()), Err("alg_not_allowed")),
        case("alg RS256", hs(&header("RS256", "hs1"), &claims()), Err("alg_not_allowed")),
        case("alg hs256 (wrong case)", hs(&header("hs256", "hs1"), &claims()), Err("alg_not_allowed")),
        case("alg not a string", hs(&json!({"alg": 1, "typ": "at+jwt", "kid": "hs1"}), &claims()), Err("malformed")),
        // Key confusion: HS256 "signed" with a public key, naming the asymmetric key's kid.
        case("HS256 with Ed25519 public key, kid ed1", token(&header("HS256", "ed1"), &claims(), Sig::Hmac(&ed_pub)), Err("alg_mismatch")),
        case("HS256 with ES256 public key (SEC1), kid ec1", token(&header("HS256", "ec1"), &claims(), Sig::Hmac(&ec_public_sec1())), Err("alg_mismatch")),
        case("HS256 with Ed25519 public key, kid hs1", token(&header("HS256", "hs1"), &claims(), Sig::Hmac(&ed_pub)), Err("bad_signature")),
        case("ES256 header naming the EdDSA key", token(&header("ES256", "ed1"), &claims(), Sig::Ed(ED_SEED)), Err("alg_mismatch")),
        case("EdDSA header naming an HS256 key", token(&header("EdDSA", "hs1"), &claims(), Sig::Ed(ED_SEED)), Err("alg_mismatch")),
        // kid
        case("kid path traversal", hs(&header("HS256", "../../dev/null"), &claims()), Err("kid_invalid")),
        case("kid SQL injection", hs(&header("HS256", "' OR 1=1 --"), &claims()), Err("kid_invalid")),
        case("kid empty", hs(&header("HS256", ""), &claims()), Err("kid_invalid")),
        case("kid 65 chars", hs(&header("HS256", &"a".repeat(65)), &claims()), Err("kid_invalid")),
        case("kid a number", hs(&json!({"alg": "HS256", "typ": "at+jwt", "kid": 1}), &claims()), Err("kid_invalid")),
        case("kid missing", hs(&json!({"alg": "HS256", "typ": "at+jwt"}), &claims()), Err("kid_missing")),
        case("kid unknown", hs(&header("HS256", "nope"), &claims()), Err("kid_unknown")),
        case("kid retired", retired_issued.token().to_owned(), Err("kid_retired")),
        // Embedded keys and key URLs are ignored: the token is judged by our key only.
        case("jwk header with attacker's key, signed by attacker", token(&with(header("EdDSA", "ed1"), "jwk", attacker_jwk.clone()), &claims(), Sig::Ed(ATTACKER_ED_SEED)), Err("bad_signature")),
        case("jwk header with attacker's key, no kid", token(&json!({"alg": "EdDSA", "typ": "at+jwt", "jwk": attacker_jwk}), &claims(), Sig::Ed(ATTACKER_ED_SEED)), Err("kid_missing")),
        case("jku header, signed by attacker", token(&with(header("EdDSA", "ed1"), "jku", json!("https://attacker.invalid/jwks.json")), &claims(), Sig::Ed(ATTACKER_ED_SEED)), Err("bad_signature")),
        case("x5u header, signed by attacker", token(&with(header("EdDSA", "ed1"), "x5u", json!("https://attacker.invalid/cert.pem")), &claims(), Sig::Ed(ATTACKER_ED_SEED)), Err("bad_signature")),
        case("jku + x5u + x5c headers on a token we signed: ignored", token(&json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "ed1", "jku": "https://attacker.invalid/", "x5u": "https://attacker.invalid/", "x5c": ["MIIB"]}), &claims(), Sig::Ed(ED_SEED)), Ok(())),
        // typ (RFC 9068) and crit.
        case("typ missing", hs(&json!({"alg": "HS256", "kid": "hs1"}), &claims()), Err("wrong_type")),
        case("typ JWT", hs(&with(header("HS256", "hs1"), "typ", json!("JWT")), &claims()), Err("wrong_type")),
        case("typ null", hs(&with(header("HS256", "hs1"), "typ", Value::Null), &claims()), Err("wrong_type")),
        case("typ application/at+jwt", hs(&with(header("HS256", "hs1"), "typ", json!("application/at+jwt")), &claims()), Ok(())),
        case("typ AT+JWT", hs(&with(header("HS256", "hs1"), "typ", json!("AT+JWT")), &claims()), Ok(())),
        case("crit present", hs(&with(header("HS256", "hs1"), "crit", json!(["exp"])), &claims()), Err("crit_unsupported")),
        case("duplicate alg member", token_raw(&b64_raw(r#"{"alg":"HS256","typ":"at+jwt","kid":"hs1","alg":"none"}"#), &good_p, Sig::Hmac(&HS_SECRET)), Err("malformed")),
        // Time, at the leeway boundary (leeway 30 s), with the injected now.
        Case { name: "exp + leeway - 1: valid", token: hs(&header("HS256", "hs1"), &exp_at_now), now: NOW + 29, want: Ok(()), },
        Case { name: "exp + leeway: expired", token: hs(&header("HS256", "hs1"), &exp_at_now), now: NOW + 30, want: Err("expired"), },
        Case { name: "exp + leeway + 1: expired", token: hs(&header("HS256", "hs1"), &exp_at_now), now: NOW + 31, want: Err("expired"), },
        case("nbf = now + leeway: valid", hs(&header("HS256", "hs1"), &with(claims(), "nbf", json!(NOW + 30))), Ok(())),
        case("nbf in the future", hs(&header("HS256", "hs1"), &with(claims(), "nbf", json!(NOW + 31))), Err("not_yet_valid")),
        case("iat in the future", hs(&header("HS256", "hs1"), &with(claims(), "iat", json!(NOW + 31))), Err("iat_in_future")),
        // Claim types (CVE-2026-25537 shape) and presence.
        case("exp as a string", hs(&header("HS256", "hs1"), &with(claims(), "exp", json!("99999999999"))), Err("claim_type")),
        case("exp as a float", hs(&header("HS256", "hs1"), &with(claims(), "exp", json!(1.0e11))), Err("claim_type")),
        case("exp negative", hs(&header("HS256", "hs1"), &with(claims(), "exp", json!(-1))), Err("claim_type")),
        case("exp null", hs(&header("HS256", "hs1"), &with(claims(), "exp", Value::Null)), Err("claim_type")),
        case("nbf as a string", hs(&header("HS256", "hs1"), &with(claims(), "nbf", json!("99999999999"))), Err("claim_type")),
        case("iat as a string", hs(&header("HS256", "hs1"), &with(claims(), "iat", json!("0"))), Err("claim_type")),
        case("aud as a number", hs(&header("HS256", "hs1"), &with(claims(), "aud", json!(1))), Err("claim_type")),
        case("exp missing", hs(&header("HS256", "hs1"), &without(claims(), "exp")), Err("missing_claim")),
        case("iat missing", hs(&header("HS256", "hs1"), &without(claims(), "iat")), Err("missing_claim")),
        case("iss missing", hs(&header("HS256", "hs1"), &without(claims(), "iss")), Err("missing_claim")),
        case("aud missing", hs(&header("HS256", "hs1"), &without(claims(), "aud")), Err("missing_claim")),
        case("sub missing", hs(&header("HS256", "hs1"), &without(claims(), "sub")), Err("missing_claim")),
        case("jti missing", hs(&header("HS256", "hs1"), &without(claims(), "jti")), Err("missing_claim")),
        case("nbf missing is fine", hs(&header("HS256", "hs1"), &without(claims(), "nbf")), Ok(())),
        // iss / aud
        case("wrong iss", hs(&header("HS256", "hs1"), &with(claims(), "iss", json!("evil"))), Err("wrong_issuer")),
        case("wrong aud", hs(&header("HS256", "hs1"), &with(claims(), "aud", json!("other-api"))), Err("wrong_audience")),
        case("aud array with ours", hs(&header("HS256", "hs1"), &with(claims(), "aud", json!(["x", "sessionwarden"]))), Ok(())),
        case("aud array without ours", hs(&header("HS256", "hs1"), &with(claims(), "aud", json!(["x"]))), Err("wrong_audience")),
        // Integrity and shape.
        case("payload tampered", format!("{good_h}.{}.{good_s}", b64(&with(claims(), "sub", json!("admin")))), Err("bad_signature")),
        case("signature stripped (trailing dot)", format!("{good_h}.{good_p}."), Err("bad_signature")),
        case("signature stripped (two parts)", format!("{good_h}.{good_p}"), Err("malformed")),
        case("five parts (JWE shape)", format!("{good_hs}.a.b"), Err("malformed")),
        case("JSON serialization", json!({"payload": good_p, "protected": good_h, "signature": good_s}).to_string(), Err("not_compact")),
        case("JSON serialization, general form", json!({"payload": good_p, "signatures": [{"protected": good_h, "signature": good_s}]}) .to_string(), Err("not_compact")),
        case("padded base64 header", format!("{good_h}=.{good_p}.{good_s}"), Err("malformed")),
        case("signature not base64url", format!("{good_h}.{good_p}.{}!", &good_s[1..]), Err("malformed")),
        case("10 KB token", hs(&header("HS256", "hs1"), &with(claims(), "pad", json!("x".repeat(10 * 1024)))), Err("too_large")),
        case("signed with another purpose's secret", token(&header("HS256", "hs1"), &claims(), Sig::Hmac(&OTHER_PURPOSE_SECRET)), Err("bad_signature")),
        case("signed with the previous key but naming the current", token(&header("HS256", "hs1"), &claims(), Sig::Hmac(&HS_OLD_SECRET)), Err("bad_signature")),
        case("garbage signature", token(&header("HS256", "hs1"), &claims(), Sig::Text("AAAA")), Err("bad_signature")),
        case("empty string", String::new(), Err("malformed")),
        // Signed, but not UTF-8 inside a member serde_json would skip unchecked.
        case("invalid UTF-8 in an unknown claim, signed", token_raw(&good_h, &b64_not_utf8(&with(claims(), "x", json!(NOT_UTF8))), Sig::Hmac(&HS_SECRET)), Err("malformed")),
        case("invalid UTF-8 in an unknown header member, signed", token_raw(&b64_not_utf8(&with(header("HS256", "hs1"), "x", json!(NOT_UTF8))), &good_p, Sig::Hmac(&HS_SECRET)), Err("malformed")),
    ];
    cases.push(case(
        "ES256 signature truncated (60 bytes)",
        ec_issued.token()[..ec_issued.token().len() - 6].to_owned(),
        Err("bad_signature"),
    ));

    let mut failures = Vec::new();
    for c in &cases {
        let got = jwt.verify_at(&c.token, c.now).map(|_| ()).map_err(|e| e.reason());
        if got != c.want {
            failures.push(format!("{}: got {got:?}, want {:?}", c.name, c.want));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn allowlist_refuses_algorithms_not_configured() {
    // A verifier allowing HS256 only refuses an EdDSA token before any key lookup.
    let jwt =
        Jwt::new(JwtKeySet::single(JwtKey::hs256("hs1", &HS_SECRET).unwrap()), JwtConfig::default()).unwrap();
    let ed = signer(JwtKey::ed25519_from_seed("ed1", ED_SEED).unwrap())
        .issue_at(&AccessTokenRequest::new("alice"), NOW)
        .unwrap();
    assert_eq!(jwt.verify_at(ed.token(), NOW).unwrap_err().reason(), "alg_not_allowed");
}

/// OWASP ASVS 9.2.4: two services sharing one key each issue tokens naming their own audience,
/// and each refuses the other's.
#[test]
fn one_key_two_audiences_never_cross() {
    let service = |audience: &str| {
        let keys = JwtKeySet::single(JwtKey::hs256("hs1", &HS_SECRET).unwrap());
        Jwt::new(keys, JwtConfig::default().with_audience(audience)).unwrap()
    };
    let (orders, billing) = (service("orders"), service("billing"));
    let for_orders = orders.issue_at(&AccessTokenRequest::new("alice"), NOW).unwrap();
    let for_billing = billing.issue_at(&AccessTokenRequest::new("alice"), NOW).unwrap();
    assert_eq!(orders.verify_at(for_orders.token(), NOW).unwrap().aud().to_vec(), vec!["orders".to_owned()]);
    assert_eq!(
        billing.verify_at(for_billing.token(), NOW).unwrap().aud().to_vec(),
        vec!["billing".to_owned()]
    );
    assert_eq!(billing.verify_at(for_orders.token(), NOW).unwrap_err().reason(), "wrong_audience");
    assert_eq!(orders.verify_at(for_billing.token(), NOW).unwrap_err().reason(), "wrong_audience");
}

#[test]
fn config_bounds() {
    let key = || JwtKeySet::single(JwtKey::hs256("1", &HS_SECRET).unwrap());
    let cases = [
        ("leeway 60 s accepted", JwtConfig::default().with_leeway(Duration::from_secs(60)), true),
        ("leeway 61 s refused", JwtConfig::default().with_leeway(Duration::from_secs(61)), false),
        ("leeway 60.5 s refused", JwtConfig::default().with_leeway(Duration::from_millis(60_500)), false),
        ("empty issuer refused", JwtConfig::default().with_issuer(""), false),
        ("empty audience refused", JwtConfig::default().with_audience(""), false),
        ("zero ttl refused", JwtConfig::default().with_access_ttl(Duration::ZERO), false),
        ("empty allowlist refused", JwtConfig::default().with_algorithms([]), false),
    ];
    for (name, config, ok) in cases {
        assert_eq!(Jwt::new(key(), config).is_ok(), ok, "{name}");
    }
    let dup = JwtKeySet {
        signing: JwtKey::hs256("1", &HS_SECRET).unwrap(),
        verifying: vec![JwtKey::hs256("1", &HS_OLD_SECRET).unwrap()],
        retired_kids: vec![],
    };
    assert!(Jwt::new(dup, JwtConfig::default()).is_err(), "duplicate kid");
    let verify_only = JwtKeySet::single(JwtKey::ed25519_public("e", ed_public()).unwrap());
    assert!(Jwt::new(verify_only, all_algs()).is_err(), "signing key without private material");
    assert_eq!(JwtKey::hs256("1", &[0u8; 31]).unwrap_err().reason(), "invalid_key");
    assert_eq!(JwtKey::hs256("../x", &HS_SECRET).unwrap_err().reason(), "kid_invalid");
}

#[test]
fn errors_and_keys_never_show_secrets() {
    let jwt = verifier();
    let issued = jwt.issue_at(&AccessTokenRequest::new("alice").with_sid("handle-xyz"), NOW).unwrap();
    let claims = jwt.verify_at(issued.token(), NOW).unwrap();
    let seen = [
        format!("{issued:?}"),
        format!("{claims:?}"),
        format!("{jwt:?}"),
        format!("{:?}", JwtKey::hs256("k", &[0xab; 32]).unwrap()),
    ];
    for s in &seen {
        assert!(!s.contains(issued.token()), "token in {s}");
        assert!(!s.contains("handle-xyz"), "sid in {s}");
        assert!(!s.contains("171, 171") && !s.to_lowercase().contains("abab"), "key in {s}");
    }
    // Errors name the claim, never its value.
    let bad = hs(&header("HS256", "hs1"), &with(claims_json_with_secret(), "exp", json!("SECRET-VALUE")));
    let err = jwt.verify_at(&bad, NOW).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("SECRET-VALUE"));
}

fn claims_json_with_secret() -> Value {
    with(claims(), "sub", json!("SECRET-VALUE"))
}

fn refresh_setup(grace: u64) -> (Arc<Jwt>, RefreshManager) {
    let jwt = Arc::new(verifier());
    let manager = RefreshManager::new(jwt.clone(), Arc::new(MemoryRefreshStore::new()), [0x77; 32])
        .with_config(RefreshConfig::default().with_grace(Duration::from_secs(grace)))
        .unwrap();
    (jwt, manager)
}

#[tokio::test]
async fn refresh_rotation_works() {
    let (jwt, refresh) = refresh_setup(10);
    let first = refresh.issue_at(&AccessTokenRequest::new("alice").with_sid("s1"), NOW).await.unwrap();
    assert_eq!(first.refresh.as_str().len(), 43);
    let second = refresh.rotate_at(first.refresh.as_str(), NOW + 100).await.unwrap();
    let third = refresh.rotate_at(second.refresh.as_str(), NOW + 200).await.unwrap();
    assert_ne!(first.refresh, second.refresh);
    assert_ne!(second.refresh, third.refresh);
    assert_eq!(first.family, third.family);
    let claims = jwt.verify_at(third.access.token(), NOW + 200).unwrap();
    assert_eq!(claims.sub(), "alice");
    assert_eq!(claims.sid(), Some("s1"));
    assert_eq!(claims.iat(), NOW + 200);
}

#[tokio::test]
async fn refresh_reuse_after_grace_revokes_family() {
    let (_, refresh) = refresh_setup(10);
    let first = refresh.issue_at(&AccessTokenRequest::new("alice"), NOW).await.unwrap();
    let second = refresh.rotate_at(first.refresh.as_str(), NOW).await.unwrap();
    // The thief (or a replaying client) uses the old token after the window.
    let err = refresh.rotate_at(first.refresh.as_str(), NOW + 10).await.unwrap_err();
    assert_eq!(err.reason(), "refresh_reuse");
    // The newest token of the family is dead too.
    let err = refresh.rotate_at(second.refresh.as_str(), NOW + 11).await.unwrap_err();
    assert_eq!(err.reason(), "refresh_revoked");
}

#[tokio::test]
async fn refresh_retry_within_grace_returns_same_successor() {
    let (_, refresh) = refresh_setup(10);
    let first = refresh.issue_at(&AccessTokenRequest::new("alice"), NOW).await.unwrap();
    let second = refresh.rotate_at(first.refresh.as_str(), NOW + 5).await.unwrap();
    let retry = refresh.rotate_at(first.refresh.as_str(), NOW + 14).await.unwrap();
    assert_eq!(retry.refresh, second.refresh, "same successor refresh token");
    assert_eq!(retry.access, second.access, "same access token");
    // The successor still works, once.
    let third = refresh.rotate_at(second.refresh.as_str(), NOW + 20).await.unwrap();
    assert_ne!(third.refresh, second.refresh);
    // Now the successor is used, so a late retry of the first is reuse even inside a window.
    let (_, refresh) = refresh_setup(60);
    let first = refresh.issue_at(&AccessTokenRequest::new("bob"), NOW).await.unwrap();
    let second = refresh.rotate_at(first.refresh.as_str(), NOW).await.unwrap();
    refresh.rotate_at(second.refresh.as_str(), NOW + 1).await.unwrap();
    let err = refresh.rotate_at(first.refresh.as_str(), NOW + 2).await.unwrap_err();
    assert_eq!(err.reason(), "refresh_reuse");
}

#[tokio::test]
async fn refresh_strict_mode_and_edge_cases() {
    let (_, strict) = refresh_setup(0);
    let first = strict.issue_at(&AccessTokenRequest::new("alice"), NOW).await.unwrap();
    strict.rotate_at(first.refresh.as_str(), NOW).await.unwrap();
    let err = strict.rotate_at(first.refresh.as_str(), NOW).await.unwrap_err();
    assert_eq!(err.reason(), "refresh_reuse", "grace 0: an immediate retry is reuse");

    let (_, refresh) = refresh_setup(10);
    let cases = [
        ("empty", String::new()),
        ("not base64", "!".repeat(43)),
        ("random unknown", URL_SAFE_NO_PAD.encode([9u8; 32])),
        ("too long", "A".repeat(44)),
    ];
    for (name, raw) in cases {
        let err = refresh.rotate_at(&raw, NOW).await.unwrap_err();
        assert_eq!(err.reason(), "refresh_unknown", "{name}");
    }

    // Families expire (default 30 days) even while in use.
    let first = refresh.issue_at(&AccessTokenRequest::new("alice"), NOW).await.unwrap();
    let later = NOW + 30 * 24 * 3600;
    let err = refresh.rotate_at(first.refresh.as_str(), later).await.unwrap_err();
    assert_eq!(err.reason(), "refresh_expired");

    // Logout revokes the family.
    let pair = refresh.issue_at(&AccessTokenRequest::new("alice"), NOW).await.unwrap();
    assert!(refresh.revoke(pair.refresh.as_str()).await.unwrap());
    let err = refresh.rotate_at(pair.refresh.as_str(), NOW + 1).await.unwrap_err();
    assert_eq!(err.reason(), "refresh_revoked");
    assert!(!format!("{:?}", pair.refresh).contains(pair.refresh.as_str()));

    // Logout by session handle, and "log out everywhere" by user.
    let s1 = refresh.issue_at(&AccessTokenRequest::new("erin").with_sid("h-1"), NOW).await.unwrap();
    let s2 = refresh.issue_at(&AccessTokenRequest::new("erin").with_sid("h-2"), NOW).await.unwrap();
    let f1 = refresh.issue_at(&AccessTokenRequest::new("frank").with_sid("h-3"), NOW).await.unwrap();
    assert_eq!(refresh.revoke_session("h-1").await.unwrap(), 1);
    let err = refresh.rotate_at(s1.refresh.as_str(), NOW + 1).await.unwrap_err();
    assert_eq!(err.reason(), "refresh_revoked");
    let s2 = refresh.rotate_at(s2.refresh.as_str(), NOW + 1).await.unwrap();
    assert_eq!(refresh.revoke_user("erin").await.unwrap(), 1);
    let err = refresh.rotate_at(s2.refresh.as_str(), NOW + 2).await.unwrap_err();
    assert_eq!(err.reason(), "refresh_revoked");
    refresh.rotate_at(f1.refresh.as_str(), NOW + 2).await.unwrap();
}

#[test]
fn cnf_seam_round_trips() {
    let jwt = verifier();
    let thumb = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
    let issued =
        jwt.issue_at(&AccessTokenRequest::new("alice").with_cnf(Confirmation::jkt(thumb)), NOW).unwrap();
    let verified = jwt.verify_at(issued.token(), NOW).unwrap();
    assert_eq!(verified.cnf().and_then(|c| c.jkt.as_deref()), Some(thumb));
    let plain = jwt.issue_at(&AccessTokenRequest::new("alice"), NOW).unwrap();
    assert_eq!(jwt.verify_at(plain.token(), NOW).unwrap().cnf(), None);
    let bad = hs(&header("HS256", "hs1"), &with(claims(), "cnf", json!("not-an-object")));
    assert_eq!(jwt.verify_at(&bad, NOW).unwrap_err().reason(), "claim_type");
}

#[tokio::test]
async fn revocation_by_jti_sid_and_user_cutoff() {
    let jwt = verifier();
    let revocations = MemoryRevocations::new();
    let issue = |sub: &str, sid: &str, at: u64| {
        jwt.issue_at(&AccessTokenRequest::new(sub).with_sid(sid), at).unwrap()
    };
    let a = issue("alice", "s-a", NOW);
    let b = issue("bob", "s-b", NOW);
    let c_old = issue("carol", "s-c1", NOW - 100);
    let c_new = issue("carol", "s-c2", NOW);
    let d = issue("dave", "s-d", NOW);

    revocations.revoke_jti(a.jti(), a.expires_at()).await.unwrap();
    revocations.revoke_sid("s-b", NOW + 3600).await.unwrap();
    revocations.revoke_user_before("carol", NOW - 50).await.unwrap();

    let cases = [
        ("revoked jti", &a, Err("revoked")),
        ("revoked sid", &b, Err("revoked")),
        ("issued before the user's cutoff", &c_old, Err("revoked")),
        ("issued after the user's cutoff", &c_new, Ok(())),
        ("untouched user", &d, Ok(())),
    ];
    for (name, token, want) in cases {
        let got = jwt
            .verify_unrevoked_at(token.token(), NOW + 1, &revocations)
            .await
            .map(|_| ())
            .map_err(|e| e.reason());
        assert_eq!(got, want, "{name}");
    }
    // The denylisted jti entry lapses with the token's own expiry.
    revocations.purge_expired(a.expires_at()).await.unwrap();
}

/// A store where another request always wins the race between our lookup and our rotate (it
/// presents the same token, so it derives the same successor).
struct LosesEveryRace(MemoryRefreshStore);

#[async_trait::async_trait]
impl RefreshStore for LosesEveryRace {
    async fn create_family(&self, f: FamilyRecord, t: TokenRecord) -> Result<(), JwtError> {
        self.0.create_family(f, t).await
    }
    async fn lookup(&self, h: &TokenHash) -> Result<Option<(TokenRecord, FamilyRecord)>, JwtError> {
        self.0.lookup(h).await
    }
    async fn rotate(&self, old: &TokenHash, new: TokenRecord, at: u64) -> Result<bool, JwtError> {
        assert!(self.0.rotate(old, new.clone(), at).await?, "the other request wins");
        self.0.rotate(old, new, at).await
    }
    async fn revoke_family(&self, f: &FamilyId) -> Result<(), JwtError> {
        self.0.revoke_family(f).await
    }
    async fn revoke_session(&self, sid: &str) -> Result<usize, JwtError> {
        self.0.revoke_session(sid).await
    }
    async fn revoke_user(&self, sub: &str) -> Result<usize, JwtError> {
        self.0.revoke_user(sub).await
    }
    async fn purge_expired(&self, now: u64) -> Result<(), JwtError> {
        self.0.purge_expired(now).await
    }
}

#[tokio::test]
async fn refresh_concurrent_use_within_grace_gets_the_winner_successor() {
    let jwt = Arc::new(verifier());
    let store = Arc::new(LosesEveryRace(MemoryRefreshStore::new()));
    let racing = RefreshManager::new(jwt.clone(), store.clone(), [0x77; 32]);
    let first = racing.issue_at(&AccessTokenRequest::new("alice"), NOW).await.unwrap();
    // Lost the race, but inside the grace window: same successor as the winner's.
    let pair = racing.rotate_at(first.refresh.as_str(), NOW).await.unwrap();
    // The winner's successor is in the store and active: a plain manager on the same store can
    // use it once.
    let plain = RefreshManager::new(jwt, store.clone(), [0x77; 32]);
    let next = plain.rotate_at(pair.refresh.as_str(), NOW + 1).await.unwrap();
    assert_ne!(next.refresh, pair.refresh);
    // With grace 0 the loser is a reuse, and the family dies.
    let strict = RefreshManager::new(Arc::new(verifier()), store, [0x77; 32])
        .with_config(RefreshConfig::default().with_grace(Duration::ZERO))
        .unwrap();
    let first = strict.issue_at(&AccessTokenRequest::new("bob"), NOW).await.unwrap();
    let err = strict.rotate_at(first.refresh.as_str(), NOW).await.unwrap_err();
    assert_eq!(err.reason(), "refresh_reuse");
}
