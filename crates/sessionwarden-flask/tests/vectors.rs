//! Frozen Flask interop vectors (`tests/data/flask-vectors.json`, copied from
//! `shared/interop/flask-vectors.json`). Every vector in every section this crate covers must
//! give its documented result; see the file's `how_to_use` and `schema`.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use sessionwarden_flask::{
    CsrfCodec, CsrfRawToken, DEFAULT_KEY_PREFIX, FlaskCookieCodec, RedisWrite, SecretKey, SessionId,
    SessionIdSigner, decode_redis_record, encode_redis_record, map_from_typed_json, map_to_typed_json,
    plan_redis_write,
};

const VECTORS: &str = include_str!("data/flask-vectors.json");

fn section(name: &str) -> Vec<Value> {
    let all: Value = serde_json::from_str(VECTORS).unwrap();
    all[name].as_array().unwrap().clone()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} in {}", v["id"]))
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} in {}", v["id"]))
}

fn keys(v: &Value) -> Vec<SecretKey> {
    v["fallbacks"].as_array().unwrap().iter().map(|k| SecretKey::from(k.as_str().unwrap())).collect()
}

#[test]
fn flask_cookie() {
    let vectors = section("flask_cookie");
    let mut passed = 0;
    for v in &vectors {
        let id = s(v, "id");
        let codec = FlaskCookieCodec::new(SecretKey::from(s(v, "secret")))
            .with_fallbacks(keys(v))
            .with_max_age(u(v, "max_age"));
        let got = codec.decode(s(v, "cookie"), u(v, "verify_at"));
        let either_ok = v["either_ok"].as_bool().unwrap_or(false);
        match (&got, v["valid"].as_bool().unwrap()) {
            (Ok(session), _) if v["valid"].as_bool().unwrap() || either_ok => {
                assert_eq!(map_to_typed_json(session), v["expected_payload_json"], "{id}");
                // The typed-JSON form reads back to the same session.
                let back = map_from_typed_json(&v["expected_payload_json"]).unwrap();
                assert_eq!(&back, session, "{id}");
                // Writer: the payload JSON is byte-identical to Flask's ...
                if v["signed_with"] == "secret" {
                    let signed_at = u(v, "signed_at");
                    let cookie = codec.encode(session, signed_at).unwrap();
                    assert_eq!(cookie, s(v, "cookie"), "{id}");
                    assert_eq!(&codec.decode(&cookie, signed_at).unwrap(), session, "{id}");
                }
            }
            (Err(_), false) => {}
            (Err(_), true) if either_ok => {}
            (got, want) => panic!("{id}: got {got:?}, want valid={want}"),
        }
        passed += 1;
    }
    println!("flask_cookie: {passed}/{} vectors pass", vectors.len());
}

#[test]
fn flask_session_signed_sid() {
    let vectors = section("flask_session_signed_sid");
    for v in &vectors {
        let id = s(v, "id");
        // Flask-Session's signer uses SECRET_KEY alone; `fallbacks` must have no effect.
        let signer = SessionIdSigner::new(SecretKey::from(s(v, "secret")));
        let got = signer.unsign(s(v, "cookie"));
        assert_eq!(got.is_ok(), v["signature_valid"].as_bool().unwrap(), "{id}");
        assert_eq!(got.is_ok(), v["valid"].as_bool().unwrap(), "{id}");
        if let Ok(sid) = got {
            assert_eq!(sid.as_str(), s(v, "expected_sid"), "{id}");
            assert_eq!(sid.as_str(), s(v, "unsigned_value"), "{id}");
            assert_eq!(signer.sign(&sid), s(v, "cookie"), "{id}");
        }
    }
    println!("flask_session_signed_sid: {n}/{n} vectors pass", n = vectors.len());
}

#[test]
fn flask_session_redis() {
    let vectors = section("flask_session_redis");
    for v in &vectors {
        let id = s(v, "id");
        let bytes = hex(s(v, "value_hex"));
        let session = decode_redis_record(&bytes).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(map_to_typed_json(&session), v["expected_payload_json"], "{id}");

        // The cookie resolves to the sid, and the sid to the exact Redis key.
        let sid = if v["use_signer"] == true {
            SessionIdSigner::new(SecretKey::from(s(v, "secret"))).unsign(s(v, "cookie")).unwrap()
        } else {
            SessionId::parse(s(v, "cookie")).unwrap()
        };
        assert_eq!(sid.as_str(), s(v, "sid"), "{id}");
        assert_eq!(sid.redis_key(DEFAULT_KEY_PREFIX), s(v, "redis_key"), "{id}");

        // TTL: PERMANENT_SESSION_LIFETIME whether or not the session is permanent.
        assert_eq!(
            plan_redis_write(&session, true, true, 2_678_400),
            RedisWrite::Set { ttl_seconds: u(v, "ttl_seconds") },
            "{id}"
        );

        // Writer: msgpack records are byte-identical to msgspec's (insertion order kept).
        if s(v, "serialization_format") == "msgpack" {
            assert_eq!(encode_redis_record(&session).unwrap(), bytes, "{id}");
        }
        if let Some(valid) = v["valid"].as_bool() {
            assert!(valid, "{id}: a crafted invalid record decoded");
        }
    }
    println!("flask_session_redis: {n}/{n} vectors pass", n = vectors.len());
}

#[test]
fn flask_wtf_csrf() {
    let vectors = section("flask_wtf_csrf");
    for v in &vectors {
        let id = s(v, "id");
        let key = v["wtf_csrf_secret_key"].as_str().unwrap_or_else(|| s(v, "secret"));
        let codec = CsrfCodec::new(SecretKey::from(key)).with_time_limit(Some(u(v, "time_limit")));
        let got = codec.validate(Some(s(v, "token")), Some(s(v, "session_csrf_token")), u(v, "verify_at"));
        assert_eq!(got.is_ok(), v["valid"].as_bool().unwrap(), "{id}: {got:?}");
        if got.is_ok() {
            // Issuing at the signing time reproduces Flask-WTF's token exactly.
            let raw = CsrfRawToken::parse(s(v, "session_csrf_token")).unwrap();
            assert_eq!(codec.issue(&raw, u(v, "signed_at")), s(v, "token"), "{id}");
        }
    }
    println!("flask_wtf_csrf: {n}/{n} vectors pass", n = vectors.len());
}

#[test]
fn every_section_is_accounted_for() {
    let all: Value = serde_json::from_str(VECTORS).unwrap();
    let mut sections: Vec<&str> =
        all.as_object().unwrap().iter().filter(|(_, v)| v.is_array()).map(|(k, _)| k.as_str()).collect();
    sections.sort_unstable();
    // pyjwt belongs to the JWT crate; this crate covers the Flask formats.
    assert_eq!(
        sections,
        ["flask_cookie", "flask_session_redis", "flask_session_signed_sid", "flask_wtf_csrf", "pyjwt"]
    );
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}
