//! Frozen Flask interop vectors (`tests/data/flask-vectors.json`, copied from
//! `shared/interop/flask-vectors.json`). Every vector in every section this crate covers must
//! give its documented result; see the file's `how_to_use` and `schema`.
#![allow(clippy::unwrap_used)]

use serde_json::Value;
use sessionwarden_flask::{FlaskCookieCodec, SecretKey, map_from_typed_json, map_to_typed_json};

const VECTORS: &str = include_str!("data/flask-vectors.json");

fn section(name: &str) -> Vec<Value> {
    let all: Value = serde_json::from_str(VECTORS).unwrap();
    all[name].as_array().unwrap().clone()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("{k} in {}", v["id"]))
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} in {}", v["id"]))
}

fn keys(v: &Value) -> Vec<SecretKey> {
    v["fallbacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| SecretKey::from(k.as_str().unwrap()))
        .collect()
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
                assert_eq!(
                    map_to_typed_json(session),
                    v["expected_payload_json"],
                    "{id}"
                );
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
