//! Property tests: what the encoders write, the decoders read back unchanged, and no input
//! makes a decoder panic.
#![allow(clippy::unwrap_used)]

mod strategies;

use proptest::collection::vec;
use proptest::prelude::*;
use sessionwarden_flask::{
    __fuzzing, CsrfCodec, CsrfRawToken, Error, FlaskCookieCodec, FlaskDateTime, FlaskValue, SecretKey,
    decode_redis_record, encode_redis_record, map_to_typed_json,
};
use strategies::{YEAR_9999_END, cookie_value, session};

/// Every value a msgpack record carries without loss (no tuples, markup or UUIDs, which
/// msgspec turns into lists, errors and strings; integers within msgpack's range).
fn record_value() -> impl Strategy<Value = FlaskValue> {
    let leaf = prop_oneof![
        Just(FlaskValue::Null),
        any::<bool>().prop_map(FlaskValue::Bool),
        any::<i64>().prop_map(FlaskValue::Int),
        (i64::MAX as u64 + 1..=u64::MAX)
            .prop_map(|u| FlaskValue::integer_from_decimal(&u.to_string()).unwrap()),
        any::<f64>().prop_map(FlaskValue::Float),
        any::<String>().prop_map(FlaskValue::Str),
        vec(any::<u8>(), 0..300).prop_map(FlaskValue::Bytes),
        (-62_135_596_800i64..=YEAR_9999_END, 0u32..1_000_000_000)
            .prop_map(|(s, n)| FlaskValue::DateTime(FlaskDateTime::from_unix(s, n).unwrap())),
    ];
    leaf.prop_recursive(4, 48, 20, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..20).prop_map(FlaskValue::List),
            vec((any::<String>(), inner), 0..20).prop_map(|kv| FlaskValue::Dict(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cookie_encode_then_decode_is_identity(s in session(cookie_value()), now in 0u64..=u64::from(u32::MAX) * 4) {
        let codec = FlaskCookieCodec::new(SecretKey::from("roundtrip")).with_fallbacks([SecretKey::from("old")]);
        let cookie = codec.encode(&s, now).unwrap();
        match codec.decode(&cookie, now) {
            // Typed JSON compares NaN and -0.0 exactly, where f64 == would not.
            Ok(back) => prop_assert_eq!(map_to_typed_json(&back), map_to_typed_json(&s)),
            Err(Error::TooLong { .. }) => prop_assert!(cookie.len() > 4096),
            Err(e) => prop_assert!(false, "decode failed: {e}"),
        }
    }

    #[test]
    fn record_encode_then_decode_is_identity(s in session(record_value())) {
        let bytes = encode_redis_record(&s).unwrap();
        let back = decode_redis_record(&bytes).unwrap();
        prop_assert_eq!(map_to_typed_json(&back), map_to_typed_json(&s));
        // Insertion order is kept, so re-encoding gives the same bytes.
        prop_assert_eq!(encode_redis_record(&back).unwrap(), bytes);
    }

    #[test]
    fn typed_json_round_trips(v in cookie_value()) {
        let json = v.to_typed_json();
        let back = FlaskValue::from_typed_json(&json).unwrap();
        prop_assert_eq!(back.to_typed_json(), json);
    }

    #[test]
    fn csrf_issue_then_validate(seed in any::<[u8; 32]>(), signed_at in 0u64..u64::from(u32::MAX), age in 0u64..=3600) {
        let codec = CsrfCodec::new(SecretKey::from("roundtrip"));
        let raw = CsrfRawToken::from_random_bytes(&[seed, seed].concat().try_into().unwrap());
        let token = codec.issue(&raw, signed_at);
        prop_assert_eq!(codec.validate(Some(&token), Some(raw.as_str()), signed_at + age), Ok(()));
    }

    #[test]
    fn decoders_never_panic(data in vec(any::<u8>(), 0..512)) {
        __fuzzing::decode_cookie(&data);
        __fuzzing::decode_redis_record(&data);
    }

    #[test]
    fn decoders_never_panic_on_near_valid_cookies(s in session(cookie_value()), flip in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let codec = FlaskCookieCodec::new(SecretKey::from("fuzz"));
        let mut cookie = codec.encode(&s, 1_767_225_600).unwrap().into_bytes();
        if !cookie.is_empty() {
            let i = flip.index(cookie.len());
            cookie[i] = byte;
        }
        __fuzzing::decode_cookie(&cookie);
        if let Ok(record) = encode_redis_record(&s) {
            let mut record = record;
            let i = flip.index(record.len());
            record[i] = byte;
            __fuzzing::decode_redis_record(&record);
        }
    }
}
