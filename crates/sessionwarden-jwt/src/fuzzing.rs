//! Entry points for the cargo-fuzz targets in `fuzz/` (STYLE.md item 14). Not part of the
//! public API: no stability promise, hidden from the docs.
//!
//! Each function panics when an invariant breaks and returns whether the input was accepted,
//! so the seed corpus can hold valid samples and hostile ones (see `seeds`).

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::{AccessTokenRequest, Jwt, JwtAlgorithm, JwtConfig, JwtKey, JwtKeySet};

/// The time tokens are verified at.
pub const NOW: u64 = 1_750_000_000;

fn config() -> JwtConfig {
    JwtConfig::default().with_algorithms([JwtAlgorithm::Hs256, JwtAlgorithm::EdDsa, JwtAlgorithm::Es256])
}

/// The three keys (`hs`, `ed`, `ec`) from seeds derived from `salt`.
fn keys(salt: u8) -> [JwtKey; 3] {
    [
        JwtKey::hs256("hs", &[1 ^ salt; 32]).expect("32-byte HMAC key"),
        JwtKey::ed25519_from_seed("ed", [2 ^ salt; 32]).expect("Ed25519 seed"),
        JwtKey::es256_from_seed("ec", [3 ^ salt; 32]).expect("P-256 scalar"),
    ]
}

/// HS256 signs; EdDSA and ES256 verify; `old` is retired.
fn verifier(salt: u8) -> Jwt {
    let [hs, ed, ec] = keys(salt);
    let set = JwtKeySet { signing: hs, verifying: vec![ed, ec], retired_kids: vec!["old".into()] };
    Jwt::new(set, config()).expect("valid key set and config")
}

fn verifiers() -> &'static (Jwt, Jwt) {
    static JWT: OnceLock<(Jwt, Jwt)> = OnceLock::new();
    JWT.get_or_init(|| (verifier(0), verifier(0x40)))
}

/// One issuer per algorithm, each signing with one of the verifier's keys.
fn issuers() -> &'static Vec<Jwt> {
    static JWT: OnceLock<Vec<Jwt>> = OnceLock::new();
    JWT.get_or_init(|| {
        keys(0).into_iter().map(|k| Jwt::new(JwtKeySet::single(k), config()).expect("issuer")).collect()
    })
}

/// JWT header and claims verification.
///
/// Invariants: a token issued for any subject, under each of the three algorithms, verifies
/// to that subject; a token that verifies names an allowed algorithm (never `none`) and a
/// known key, is within its lifetime at [`NOW`], and does not verify under other key material
/// with the same key ids.
pub fn verify_token(data: &[u8]) -> bool {
    let (jwt, impostor) = verifiers();
    // Issuing costs a signature (ECDSA and Ed25519 are slow under the sanitizer), so one
    // input in eight is also a subject to issue for, under the algorithm its first byte picks;
    // the others go to verification alone.
    if let Some((&first, rest)) = data.split_first()
        && first % 8 == 0
        && !rest.is_empty()
    {
        let sub = String::from_utf8_lossy(rest);
        let issuer = &issuers()[usize::from(first / 8) % 3];
        let token = issuer.issue_at(&AccessTokenRequest::new(sub.as_ref()), NOW).expect("issues");
        if token.token.len() <= crate::config::MAX_TOKEN_LEN {
            let claims = jwt.verify_at(&token.token, NOW).expect("an issued token verifies");
            assert_eq!(claims.sub(), sub);
            assert_eq!(claims.jti(), token.jti());
        }
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(claims) = jwt.verify_at(text, NOW) else {
        return false;
    };
    let header = text.split('.').next().and_then(|h| URL_SAFE_NO_PAD.decode(h).ok()).expect("a header");
    let header: serde_json::Value = serde_json::from_slice(&header).expect("header JSON");
    let alg = header["alg"].as_str().expect("alg");
    assert!(matches!(alg, "HS256" | "EdDSA" | "ES256"), "allowed algorithm, never none");
    assert!(matches!(claims.kid(), "hs" | "ed" | "ec"), "a known key");
    assert!(claims.exp() + 30 > NOW, "not expired beyond leeway");
    assert!(claims.iat() <= NOW + 30, "not issued in the future");
    assert!(impostor.verify_at(text, NOW).is_err(), "other key material forges nothing");
    assert_eq!(jwt.verify_at(text, NOW).expect("verifies again").sub(), claims.sub());
    true
}

/// Seed inputs: `(target, file name, bytes)`; `valid-*` are accepted, `hostile-*` rejected.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    for (issuer, alg) in issuers().iter().zip(["hs256", "eddsa", "es256"]) {
        let token = issuer.issue_at(&AccessTokenRequest::new("alice"), NOW - 60).expect("issues");
        out.push(("jwt_verify", format!("valid-{alg}"), token.token.into_bytes()));
    }
    let token = issuers()[0].issue_at(&AccessTokenRequest::new("alice"), NOW - 60).expect("issues").token;
    let (head, rest) = token.split_once('.').expect("three parts");
    let (claims, _) = rest.split_once('.').expect("three parts");
    let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt","kid":"hs"}"#);
    out.push(("jwt_verify", "hostile-alg-none".to_owned(), format!("{none}.{claims}.").into_bytes()));
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    out.push(("jwt_verify", "hostile-bad-signature".to_owned(), tampered));
    let expired = issuers()[1].issue_at(&AccessTokenRequest::new("alice"), NOW - 7200).expect("issues").token;
    out.push(("jwt_verify", "hostile-expired".to_owned(), expired.into_bytes()));
    let retired = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"at+jwt","kid":"old"}"#);
    out.push((
        "jwt_verify",
        "hostile-retired-kid".to_owned(),
        format!("{retired}.{claims}.AAAA").into_bytes(),
    ));
    out.push((
        "jwt_verify",
        "hostile-json-serialization".to_owned(),
        format!(r#"{{"payload":"{claims}","protected":"{head}"}}"#).into_bytes(),
    ));
    out
}

/// A target: its name and its entry point (returns whether the input was accepted).
pub type Target = (&'static str, fn(&[u8]) -> bool);

/// Every target of this crate by name.
pub fn targets() -> Vec<Target> {
    vec![("jwt_verify", verify_token)]
}
