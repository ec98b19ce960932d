//! Value strategies shared by the property tests: every value Flask's cookie carries.
#![allow(dead_code, unreachable_pub)]

use proptest::collection::vec;
use proptest::prelude::*;
use sessionwarden_flask::{FlaskDateTime, FlaskMap, FlaskValue, Uuid};

/// 0100-01-01 and 9999-12-31T23:59:59, in Unix seconds.
pub(crate) const YEAR_100: i64 = -59_011_459_200;
pub(crate) const YEAR_9999_END: i64 = 253_402_300_799;

pub(crate) fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        // Keys that collide with Flask's tags must survive via the " di" escape.
        Just(" t".to_owned()),
        Just(" di".to_owned()),
        Just(" b".to_owned()),
        Just(" x".to_owned()),
        Just("_permanent".to_owned()),
    ]
}

pub(crate) fn big_int() -> impl Strategy<Value = FlaskValue> {
    "-?[1-9][0-9]{19,60}".prop_map(|s| FlaskValue::integer_from_decimal(&s).unwrap())
}

/// Every value the cookie format can carry (datetimes in whole seconds, year 100 on).
pub(crate) fn cookie_value() -> impl Strategy<Value = FlaskValue> {
    let leaf = prop_oneof![
        Just(FlaskValue::Null),
        any::<bool>().prop_map(FlaskValue::Bool),
        any::<i64>().prop_map(FlaskValue::Int),
        big_int(),
        any::<f64>().prop_map(FlaskValue::Float),
        any::<String>().prop_map(FlaskValue::Str),
        vec(any::<u8>(), 0..24).prop_map(FlaskValue::Bytes),
        any::<String>().prop_map(FlaskValue::Markup),
        any::<[u8; 16]>().prop_map(|b| FlaskValue::Uuid(Uuid::from_bytes(b))),
        (YEAR_100..=YEAR_9999_END)
            .prop_map(|s| FlaskValue::DateTime(FlaskDateTime::from_unix(s, 0).unwrap())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(FlaskValue::List),
            vec(inner.clone(), 0..6).prop_map(FlaskValue::Tuple),
            vec((key(), inner), 0..6).prop_map(|kv| FlaskValue::Dict(kv.into_iter().collect())),
        ]
    })
}

/// A session dict of such values.
pub(crate) fn session(value: impl Strategy<Value = FlaskValue>) -> impl Strategy<Value = FlaskMap> {
    vec((key(), value), 0..8).prop_map(|kv| kv.into_iter().collect())
}
