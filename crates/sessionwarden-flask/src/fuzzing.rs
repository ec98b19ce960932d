//! Entry points for the cargo-fuzz targets in `fuzz/` (STYLE.md item 14). Not part of the
//! public API: no stability promise, hidden from the docs.
//!
//! Each function panics when an invariant breaks and returns whether the input was accepted,
//! so the seed corpus can hold valid samples and hostile ones (see `seeds`).

use crate::{
    Error, FlaskCookieCodec, FlaskMap, FlaskValue, SecretKey, SessionIdSigner, encode_redis_record,
    map_to_typed_json,
};

/// The time cookies are opened at (2026-01-01).
pub const NOW: u64 = 1_767_225_600;

fn codec() -> FlaskCookieCodec {
    FlaskCookieCodec::new(SecretKey::from("fuzz")).with_fallbacks([SecretKey::from("fuzz-old")])
}

/// Flask's session cookie: signature, timestamp, base64, zlib, Python JSON, tag untagging.
///
/// Invariants: a cookie that is rejected yields no session; one that decodes re-encodes
/// (unless it holds what Flask itself could not write back: [`Error::Unencodable`]) and
/// decodes again to the same values; it does not verify under another secret.
pub fn decode_cookie(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    // Past the signature: exercise payload, zlib, JSON and untagging directly.
    if let Ok(json) = crate::itsdangerous::load_payload(text)
        && let Ok(inner) = std::str::from_utf8(&json)
    {
        let _ = crate::tagged::loads(inner);
    }
    if let Ok(map) = crate::tagged::loads(text) {
        round_trip(&map);
    }
    let codec = codec();
    let Ok(decoded) = codec.decode_verified(text, NOW) else {
        assert!(codec.decode(text, NOW).is_err());
        return false;
    };
    assert!(
        FlaskCookieCodec::new(SecretKey::from("other")).decode(text, NOW).is_err(),
        "another secret forges nothing"
    );
    round_trip(&decoded.session);
    true
}

/// Encodes `map` as a cookie and decodes it: the same values come back.
fn round_trip(map: &FlaskMap) {
    let codec = codec();
    match codec.encode(map, NOW) {
        Ok(cookie) => {
            let back = codec.decode(&cookie, NOW).expect("what was encoded decodes");
            assert_eq!(map_to_typed_json(&back), map_to_typed_json(map), "decode(encode(s)) == s");
        }
        Err(Error::Unencodable { .. }) => {}
        Err(e) => panic!("a decoded session does not re-encode: {e}"),
    }
}

/// Flask-Session Redis records (MessagePack with the timestamp extension, JSON, pickle
/// sniffing) and its signed session-id cookie.
///
/// Invariants: a record that decodes re-encodes (unless [`Error::Unencodable`]) to one that
/// decodes to the same values, and re-encoding that gives the same bytes; a signed sid that
/// verifies re-signs to a value that verifies to the same sid.
pub fn decode_redis_record(data: &[u8]) -> bool {
    let signer = SessionIdSigner::new(SecretKey::from("fuzz"));
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(sid) = signer.unsign(text)
    {
        let again = signer.unsign(&signer.sign(&sid)).expect("a re-signed sid verifies");
        assert_eq!(again.as_str(), sid.as_str());
        assert!(SessionIdSigner::new(SecretKey::from("other")).unsign(text).is_err(), "no forgery");
    }
    let Ok(map) = crate::decode_redis_record(data) else {
        return false;
    };
    match encode_redis_record(&map) {
        Ok(bytes) => {
            let back = crate::decode_redis_record(&bytes).expect("what was encoded decodes");
            assert_eq!(map_to_typed_json(&back), map_to_typed_json(&map), "decode(encode(r)) == r");
            assert_eq!(encode_redis_record(&back).expect("encodes again"), bytes, "stable encoding");
        }
        Err(Error::Unencodable { .. }) => {}
        Err(e) => panic!("a decoded record does not re-encode: {e}"),
    }
    true
}

/// Seed inputs: `(target, file name, bytes)`; `valid-*` are accepted, `hostile-*` rejected.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut session = FlaskMap::new();
    session.insert("_permanent".into(), FlaskValue::Bool(true));
    session.insert("user".into(), "admin".into());
    session.insert("n".into(), FlaskValue::Int(-7));
    session.insert("ratio".into(), FlaskValue::Float(0.25));
    session.insert("blob".into(), FlaskValue::Bytes(b"\x00\xffbytes".to_vec()));
    session.insert("items".into(), FlaskValue::List(vec![FlaskValue::Null, "x".into()]));
    let codec = codec();
    let cookie =
        |c: &FlaskCookieCodec, s: &FlaskMap, at: u64| c.encode(s, at).expect("seed encodes").into_bytes();
    out.push(("flask_cookie", "valid-session".to_owned(), cookie(&codec, &session, NOW - 60)));
    let mut big = FlaskMap::new();
    big.insert("text".into(), "a".repeat(600).into());
    out.push(("flask_cookie", "valid-compressed".to_owned(), cookie(&codec, &big, NOW - 60)));
    let old = FlaskCookieCodec::new(SecretKey::from("fuzz-old"));
    out.push(("flask_cookie", "valid-fallback-key".to_owned(), cookie(&old, &session, NOW - 60)));
    let other = FlaskCookieCodec::new(SecretKey::from("other"));
    out.push(("flask_cookie", "hostile-other-key".to_owned(), cookie(&other, &session, NOW - 60)));
    out.push(("flask_cookie", "hostile-expired".to_owned(), cookie(&codec, &session, NOW - 40 * 24 * 3600)));
    out.push(("flask_cookie", "hostile-future".to_owned(), cookie(&codec, &session, NOW + 3600)));
    let mut tampered = cookie(&codec, &session, NOW - 60);
    tampered[3] ^= 1;
    out.push(("flask_cookie", "hostile-tampered".to_owned(), tampered));

    let record = encode_redis_record(&session).expect("seed encodes");
    out.push(("flask_redis_record", "valid-msgpack".to_owned(), record));
    out.push((
        "flask_redis_record",
        "valid-json".to_owned(),
        br#"{"_permanent": true, "user": "admin"}"#.to_vec(),
    ));
    out.push(("flask_redis_record", "hostile-pickle".to_owned(), b"\x80\x04\x95\x00".to_vec()));
    out.push(("flask_redis_record", "hostile-truncated".to_owned(), vec![0x82, 0xa4]));
    let sid = crate::SessionId::from_random_bytes(&[5u8; 32]).expect("32 bytes");
    out.push((
        "flask_redis_record",
        "hostile-signed-sid-is-no-record".to_owned(),
        SessionIdSigner::new(SecretKey::from("fuzz")).sign(&sid).into_bytes(),
    ));
    out
}

/// A target: its name and its entry point (returns whether the input was accepted).
pub type Target = (&'static str, fn(&[u8]) -> bool);

/// Every target of this crate by name.
pub fn targets() -> Vec<Target> {
    vec![("flask_cookie", decode_cookie), ("flask_redis_record", decode_redis_record)]
}
