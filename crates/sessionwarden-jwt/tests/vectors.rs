//! Frozen vectors: key derivation from seeds and the JWKS shape are wire formats (every node
//! and every release must derive the same public key from the same seed).
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sessionwarden_jwt::{AccessTokenRequest, Jwt, JwtAlgorithm, JwtConfig, JwtKey, JwtKeySet};

fn b64(v: &serde_json::Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn ed25519_seed_matches_rfc8032_test_1() {
    // RFC 8032 §7.1, TEST 1.
    let seed: [u8; 32] = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
    let jwk = JwtKey::ed25519_from_seed("t1", seed).unwrap().public_jwk().unwrap();
    assert_eq!(b64(&jwk["x"]), hex::<32>("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
}

#[test]
fn es256_seed_derivation_is_frozen() {
    let jwk = JwtKey::es256_from_seed("p", [0u8; 32]).unwrap().public_jwk().unwrap();
    assert_eq!(jwk["x"], ES256_ZERO_SEED_X, "x changed: the seed derivation is a wire format");
    assert_eq!(jwk["y"], ES256_ZERO_SEED_Y, "y changed: the seed derivation is a wire format");
}

// Computed independently (plain-Python P-256 arithmetic) from
// d = SHA-256("sessionwarden-jwt/es256/v1" || 0x00 || 32 zero bytes), which is in [1, n).
const ES256_ZERO_SEED_X: &str = "1swRhHlbe0FHsCHtnLTMC1hzqJKp2pZXvB7ZP0hNGEs";
const ES256_ZERO_SEED_Y: &str = "bzLcwRX1BMCjRdkhe79J4SvDc8xpwSMfEePxWzjZfjY";

#[test]
fn jwks_public_keys_verify_tokens_from_the_seeded_keys() {
    let config = JwtConfig::default().with_algorithms([JwtAlgorithm::EdDsa, JwtAlgorithm::Es256]);
    let signer = |key| Jwt::new(JwtKeySet::single(key), config.clone()).unwrap();
    let ed = signer(JwtKey::ed25519_from_seed("ed", [1u8; 32]).unwrap());
    let es = signer(JwtKey::es256_from_seed("es", [2u8; 32]).unwrap());

    let mut keys = Vec::new();
    for jwks in [ed.jwks(), es.jwks()] {
        let jwk = &jwks["keys"][0];
        assert_eq!(jwk["use"], "sig");
        let kid = jwk["kid"].as_str().unwrap();
        keys.push(match jwk["kty"].as_str().unwrap() {
            "OKP" => {
                assert_eq!(jwk["crv"], "Ed25519");
                assert_eq!(jwk["alg"], "EdDSA");
                JwtKey::ed25519_public(kid, b64(&jwk["x"]).try_into().unwrap()).unwrap()
            }
            "EC" => {
                assert_eq!(jwk["crv"], "P-256");
                assert_eq!(jwk["alg"], "ES256");
                JwtKey::es256_public(kid, &b64(&jwk["x"]), &b64(&jwk["y"])).unwrap()
            }
            other => panic!("unexpected kty {other}"),
        });
    }
    // A verifier that knows only the published public keys (and signs with its own HS256 key).
    let verifier = Jwt::new(
        JwtKeySet {
            signing: JwtKey::hs256("hs", &[5u8; 32]).unwrap(),
            verifying: keys,
            retired_kids: vec![],
        },
        config.with_algorithms([JwtAlgorithm::Hs256, JwtAlgorithm::EdDsa, JwtAlgorithm::Es256]),
    )
    .unwrap();
    for jwt in [&ed, &es] {
        let issued = jwt.issue_at(&AccessTokenRequest::new("alice"), 1_000).unwrap();
        assert_eq!(verifier.verify_at(issued.token(), 1_000).unwrap().sub(), "alice");
    }
    // HS256 keys never appear in a JWKS.
    assert_eq!(verifier.jwks()["keys"].as_array().unwrap().len(), 2);
}

fn hex<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}
