//! Hostile and malformed inputs, as named tables. Every one must give an error (or the
//! documented leniency), never a panic.
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sessionwarden_flask::{
    CsrfCodec, CsrfRawToken, Error, FlaskCookieCodec, FlaskMap, FlaskValue, SecretKey, SessionId,
    SessionIdSigner, decode_redis_record,
};
use sha1::Sha1;

const KEY: &str = "malformed-test-key";
const NOW: u64 = 1_767_225_660;
const SIGNED_AT: u64 = 1_767_225_600;

/// Signs `signed` exactly as Flask would, whatever it contains.
fn flask_sign(signed: &str) -> String {
    let derived =
        Hmac::<Sha1>::new_from_slice(KEY.as_bytes()).unwrap().chain_update(b"cookie-session").finalize();
    let sig = Hmac::<Sha1>::new_from_slice(&derived.into_bytes())
        .unwrap()
        .chain_update(signed.as_bytes())
        .finalize();
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig.into_bytes()))
}

/// A validly signed cookie whose payload bytes are `payload` (uncompressed).
fn signed_payload(payload: &[u8]) -> String {
    flask_sign(&format!("{}.aVW5AA", URL_SAFE_NO_PAD.encode(payload)))
}

/// A validly signed cookie whose payload is `payload` zlib-compressed.
fn signed_compressed(payload: &[u8]) -> String {
    use std::io::Write as _;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(payload).unwrap();
    flask_sign(&format!(".{}.aVW5AA", URL_SAFE_NO_PAD.encode(z.finish().unwrap())))
}

fn codec() -> FlaskCookieCodec {
    FlaskCookieCodec::new(SecretKey::from(KEY))
}

struct Case {
    name: &'static str,
    input: String,
    want: Result<(), Error>,
}

#[test]
fn cookie_decoder_rejects_malformed_input() {
    let json = |s: &str| signed_payload(s.as_bytes());
    let bomb = {
        let mut s = FlaskMap::new();
        s.insert("a".into(), FlaskValue::from("0".repeat(1_000_000)));
        codec().encode(&s, SIGNED_AT).unwrap()
    };
    assert!(bomb.len() < 4096, "the bomb must pass the length check to test the inflate cap");
    let cases = [
        Case { name: "empty", input: String::new(), want: Err(Error::Malformed { what: "empty input" }) },
        Case {
            name: "over 4096 bytes",
            input: "a".repeat(4097),
            want: Err(Error::TooLong { len: 4097, max: 4096 }),
        },
        Case {
            name: "no separator",
            input: "not-a-session-cookie".into(),
            want: Err(Error::Malformed { what: "no '.' separator" }),
        },
        Case { name: "signature too short", input: "e30.aVW5AA.abc".into(), want: Err(Error::BadSignature) },
        Case {
            name: "signature not base64",
            input: "e30.aVW5AA.!!!!!!!!!!!!!!!!!!!!!!!!!!!".into(),
            want: Err(Error::BadSignature),
        },
        Case {
            name: "signature with padding",
            input: format!("{}=", flask_sign("e30.aVW5AA")),
            want: Err(Error::BadSignature),
        },
        Case {
            name: "tampered payload",
            input: flask_sign("e30.aVW5AA").replacen("e30", "e31", 1),
            want: Err(Error::BadSignature),
        },
        Case {
            name: "timestamp missing",
            input: flask_sign("e30"),
            want: Err(Error::Malformed { what: "timestamp missing" }),
        },
        Case {
            name: "timestamp longer than 8 bytes",
            input: flask_sign("e30.AQEBAQEBAQEBAQ"),
            want: Err(Error::Malformed { what: "timestamp length" }),
        },
        Case {
            name: "timestamp empty",
            input: flask_sign("e30."),
            want: Err(Error::Malformed { what: "timestamp length" }),
        },
        Case {
            name: "timestamp not base64",
            input: flask_sign("e30.a$W5AA"),
            want: Err(Error::Malformed { what: "timestamp is not base64" }),
        },
        Case {
            name: "timestamp from the future",
            input: flask_sign(&format!("e30.{}", URL_SAFE_NO_PAD.encode(((NOW + 1) as u32).to_be_bytes()))),
            want: Err(Error::FromFuture { ahead: 1 }),
        },
        Case {
            name: "timestamp u64::MAX",
            input: flask_sign("e30.__________8"),
            want: Err(Error::FromFuture { ahead: u64::MAX - NOW }),
        },
        Case {
            name: "payload not base64",
            input: flask_sign("e3$.aVW5AA"),
            want: Err(Error::Base64 { part: "payload" }),
        },
        Case { name: "payload bad zlib", input: flask_sign(".AAAA.aVW5AA"), want: Err(Error::Zlib) },
        Case { name: "payload empty zlib", input: flask_sign("..aVW5AA"), want: Err(Error::Zlib) },
        Case { name: "zip bomb", input: bomb, want: Err(Error::TooLarge { limit: 64 * 1024 }) },
        Case {
            name: "payload not utf-8",
            input: signed_payload(b"{\"a\":\"\xff\"}"),
            want: Err(Error::Utf8),
        },
        Case { name: "top-level array", input: json("[1,2]"), want: Err(Error::NotAnObject) },
        Case { name: "top-level string", input: json("\"x\""), want: Err(Error::NotAnObject) },
        Case {
            name: "truncated json",
            input: json("{\"a\":"),
            want: Err(Error::Json { offset: 5, expected: "a value" }),
        },
        Case {
            name: "utf-8 bom",
            input: json("\u{feff}{}"),
            want: Err(Error::Json { offset: 0, expected: "a value" }),
        },
        Case {
            name: "lone surrogate",
            input: json(r#"{"a":"\udc00"}"#),
            want: Err(Error::Json { offset: 12, expected: "no lone surrogates" }),
        },
        Case {
            name: "nested 200 deep",
            input: json(&format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200))),
            want: Err(Error::Json { offset: 132, expected: "less nesting" }),
        },
        Case {
            name: "integer over 4300 digits",
            input: signed_compressed(format!("{{\"a\":{}}}", "9".repeat(4301)).as_bytes()),
            want: Err(Error::Json { offset: 4306, expected: "an integer of at most 4300 digits" }),
        },
        Case {
            name: "bytes tag not base64",
            input: json(r#"{"a":{" b":"A"}}"#),
            want: Err(Error::BadTag { tag: " b", reason: "expected standard base64 with padding" }),
        },
        Case {
            name: "uuid tag garbage",
            input: json(r#"{"a":{" u":"zz"}}"#),
            want: Err(Error::BadTag { tag: " u", reason: "expected 32 hex digits" }),
        },
        Case {
            name: "datetime tag garbage (Flask: None)",
            input: json(r#"{"a":{" d":"yesterday"}}"#),
            want: Err(Error::BadTag {
                tag: " d",
                reason: "expected an http date like 'Fri, 14 Mar 2025 15:09:26 GMT'",
            }),
        },
        Case {
            name: "tuple tag on a string (Flask: tuple of chars)",
            input: json(r#"{"a":{" t":"ab"}}"#),
            want: Err(Error::BadTag { tag: " t", reason: "expected an array" }),
        },
        Case {
            name: "dict tag around a key that is not a tag",
            input: json(r#"{"a":{" di":{"x__":1}}}"#),
            want: Err(Error::BadTag { tag: " di", reason: "expected a tag name followed by '__'" }),
        },
        // Leniencies Flask has and we keep, because they are harmless once signed.
        Case { name: "unregistered space key stays a dict", input: json(r#"{"a":{" x":1}}"#), want: Ok(()) },
        Case { name: "NaN and Infinity", input: json(r#"{"a":NaN,"b":-Infinity}"#), want: Ok(()) },
        Case {
            name: "whitespace and duplicate keys",
            input: json(" { \"a\" : 1 , \"a\" : 2 } "),
            want: Ok(()),
        },
    ];
    for c in cases {
        let got = codec().decode(&c.input, NOW).map(|_| ());
        assert_eq!(got, c.want, "{}", c.name);
    }
}

#[test]
fn redis_record_decoder_rejects_malformed_input() {
    let cases: [(&str, &[u8], Error); 14] = [
        ("empty", b"", Error::BadRecord { reason: "truncated msgpack" }),
        ("pickle protocol 4", b"\x80\x04\x95\x1c\x00\x00\x00\x00\x00\x00\x00}\x94.", Error::Pickle),
        ("pickle protocol 2", b"\x80\x02}q\x00.", Error::Pickle),
        ("pickle protocol 0", b"(dp0\n.", Error::BadRecord { reason: "trailing bytes after msgpack value" }),
        ("truncated map", b"\x82\xa1a\x01", Error::BadRecord { reason: "truncated msgpack" }),
        ("trailing bytes", b"\x80\x00", Error::BadRecord { reason: "trailing bytes after msgpack value" }),
        ("integer map key", b"\x81\x01\x02", Error::BadRecord { reason: "map key is not a string" }),
        (
            "unknown extension",
            b"\x81\xa1a\xd4\x05\x00",
            Error::BadRecord { reason: "unknown msgpack extension type" },
        ),
        ("string not utf-8", b"\x81\xa1a\xa1\xff", Error::BadRecord { reason: "string is not utf-8" }),
        ("reserved byte", b"\xc1", Error::BadRecord { reason: "reserved msgpack byte 0xc1" }),
        (
            "timestamp nanoseconds past a second",
            b"\x81\xa1a\xc7\x0c\xff\x3b\x9a\xca\x00\x00\x00\x00\x00\x00\x00\x00\x00",
            Error::BadRecord { reason: "timestamp out of python's datetime range" },
        ),
        ("top-level array", b"\x91\x01", Error::NotAnObject),
        ("top-level int (also the JSON text \"5\")", b"5", Error::NotAnObject),
        (
            "json with NaN (msgspec refuses it)",
            b"{\"a\":NaN}",
            Error::BadRecord { reason: "trailing bytes after msgpack value" },
        ),
    ];
    for (name, input, want) in cases {
        assert_eq!(decode_redis_record(input), Err(want), "{name}");
    }
    let deep = [vec![0x81, 0xa1, b'a'], vec![0x91; 200], vec![0xc0]].concat();
    assert_eq!(decode_redis_record(&deep), Err(Error::BadRecord { reason: "nested deeper than 128 levels" }));
}

#[test]
fn session_ids_are_shape_checked_before_any_lookup() {
    let cases = [
        ("flask-session default", "dhcd8V4brGX5aSiq50aJY-B9UUroaMkcH3IPqPFl04A".to_owned(), true),
        ("16-byte id", "A".repeat(22), true),
        ("too short", "A".repeat(21), false),
        ("too long", "A".repeat(257), false),
        ("dot", format!("{}.x", "A".repeat(30)), false),
        ("slash", format!("{}/", "A".repeat(30)), false),
        ("glob", format!("{}*", "A".repeat(30)), false),
        ("empty", String::new(), false),
    ];
    for (name, sid, ok) in cases {
        assert_eq!(SessionId::parse(&sid).is_ok(), ok, "{name}");
    }
    let signer = SessionIdSigner::new(SecretKey::from(KEY));
    for (name, cookie) in [
        ("no dot", "dhcd8V4brGX5aSiq50aJY-B9UUroaMkcH3IPqPFl04A"),
        ("empty", ""),
        ("only a dot", "."),
        (
            "signature of the wrong key",
            "dhcd8V4brGX5aSiq50aJY-B9UUroaMkcH3IPqPFl04A.pPb1GTWfQpt1WiPA1unnZG68Ot8",
        ),
    ] {
        assert!(signer.unsign(cookie).is_err(), "{name}");
    }
}

#[test]
fn csrf_validation_follows_flask_wtf_order() {
    let codec = CsrfCodec::new(SecretKey::from(KEY));
    let raw = CsrfRawToken::from_random_bytes(&[7; 64]);
    let token = codec.issue(&raw, SIGNED_AT);
    let other = CsrfRawToken::from_random_bytes(&[8; 64]);
    // (name, submitted token, session's raw token, now, expected result)
    type CsrfCase<'a> = (&'a str, Option<&'a str>, Option<&'a str>, u64, Result<(), Error>);
    let cases: [CsrfCase<'_>; 9] = [
        ("valid", Some(&token), Some(raw.as_str()), NOW, Ok(())),
        ("age equal to the limit", Some(&token), Some(raw.as_str()), SIGNED_AT + 3600, Ok(())),
        ("no token", None, Some(raw.as_str()), NOW, Err(Error::CsrfTokenMissing)),
        ("empty token", Some(""), Some(raw.as_str()), NOW, Err(Error::CsrfTokenMissing)),
        ("no session token", Some(&token), None, NOW, Err(Error::CsrfSessionTokenMissing)),
        ("other session", Some(&token), Some(other.as_str()), NOW, Err(Error::CsrfTokenMismatch)),
        (
            "expired",
            Some(&token),
            Some(raw.as_str()),
            SIGNED_AT + 3601,
            Err(Error::Expired { age: 3601, max_age: 3600 }),
        ),
        ("future", Some(&token), Some(raw.as_str()), SIGNED_AT - 1, Err(Error::FromFuture { ahead: 1 })),
        (
            "garbage",
            Some("garbage"),
            Some(raw.as_str()),
            NOW,
            Err(Error::Malformed { what: "no '.' separator" }),
        ),
    ];
    for (name, token, session, now, want) in cases {
        assert_eq!(codec.validate(token, session, now), want, "{name}");
    }
    assert_eq!(Error::CsrfTokenMismatch.flask_wtf_message(), "The CSRF tokens do not match.");
}

#[test]
fn display_never_leaks_input() {
    let secret_cookie = flask_sign("eyJ1c2VyIjoic2VjcmV0LXZhbHVlIn0.aVW5AA");
    for err in [
        codec().decode(&secret_cookie, NOW + 10 * 365 * 86400).unwrap_err(),
        FlaskCookieCodec::new(SecretKey::from("other")).decode(&secret_cookie, NOW).unwrap_err(),
        codec().decode(&signed_payload(b"{\"secret-value\""), NOW).unwrap_err(),
    ] {
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(!shown.contains(KEY), "{shown}");
        assert_eq!(shown.chars().next().map(char::is_lowercase), Some(true), "{shown}");
    }
    assert!(!format!("{:?}", codec()).contains(KEY));
}
