//! Typed JSON: [`FlaskValue`] as plain `serde_json::Value` with one-key markers.
//!
//! The markers are the ones the interop vectors use: `{"$bytes": b64std}`, `{"$tuple": [..]}`,
//! `{"$datetime": ISO 8601}`, `{"$uuid": hyphenated}`, `{"$markup": html}`,
//! `{"$bigint": decimal}` (outside the i64/u64 range) and `{"$float": "NaN" | "Infinity" |
//! "-Infinity" | "-0.0"}`. A one-key object whose key is one of these is always read as the
//! marker.
//!
//! A real dict shaped like a marker (one key, and that key a marker's name: Flask sees
//! nothing special in `{"$tuple": [1, 2]}`) is written escaped, as `{"$dict": {...}}`, and
//! `$dict` reads its object back as a plain dict, without looking for markers in it. So
//! every Flask value survives the round trip through typed JSON, look-alikes included. The
//! session's top-level dict needs no escape: it is always a dict, never read as a marker.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Number, Value};

use crate::{Error, FlaskDateTime, FlaskMap, FlaskValue, Uuid, pyjson::MAX_DEPTH, value::BigInt};

impl FlaskValue {
    /// Converts to typed JSON with one-key markers.
    ///
    /// ```
    /// use sessionwarden_flask::FlaskValue;
    /// let v = FlaskValue::Tuple(vec![FlaskValue::Bytes(vec![0, 255]), FlaskValue::Float(f64::NAN)]);
    /// assert_eq!(
    ///     v.to_typed_json(),
    ///     serde_json::json!({"$tuple": [{"$bytes": "AP8="}, {"$float": "NaN"}]})
    /// );
    /// ```
    #[must_use]
    pub fn to_typed_json(&self) -> Value {
        let marker = |k: &str, v: Value| Value::Object(Map::from_iter([(k.to_owned(), v)]));
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Int(i) => Value::from(*i),
            Self::BigInt(b) => match b.to_u64() {
                Some(u) => Value::from(u),
                None => marker("$bigint", Value::String(b.as_decimal().to_owned())),
            },
            Self::Float(f) => {
                if f.is_nan() {
                    marker("$float", "NaN".into())
                } else if f.is_infinite() {
                    marker("$float", if *f > 0.0 { "Infinity" } else { "-Infinity" }.into())
                } else if *f == 0.0 && f.is_sign_negative() {
                    marker("$float", "-0.0".into())
                } else {
                    // invariant: finite floats always convert
                    Number::from_f64(*f).map_or(Value::Null, Value::Number)
                }
            }
            Self::Str(s) => Value::String(s.clone()),
            Self::List(items) => Value::Array(items.iter().map(Self::to_typed_json).collect()),
            Self::Tuple(items) => {
                marker("$tuple", Value::Array(items.iter().map(Self::to_typed_json).collect()))
            }
            Self::Dict(map) => {
                let object = map_to_typed_json(map);
                match map.keys().next() {
                    Some(k) if map.len() == 1 && is_marker_name(k) => marker("$dict", object),
                    _ => object,
                }
            }
            Self::Bytes(b) => marker("$bytes", Value::String(STANDARD.encode(b))),
            Self::Markup(s) => marker("$markup", Value::String(s.clone())),
            Self::Uuid(u) => marker("$uuid", Value::String(u.to_string())),
            Self::DateTime(dt) => marker("$datetime", Value::String(dt.to_string())),
        }
    }

    /// Reads typed JSON with one-key markers.
    ///
    /// # Errors
    /// Returns [`Error::BadMarker`] if a marker holds an invalid value, and
    /// [`Error::Unencodable`] for nesting deeper than 128 levels.
    ///
    /// ```
    /// use sessionwarden_flask::FlaskValue;
    /// let v = FlaskValue::from_typed_json(&serde_json::json!({"$uuid": "3f2504e0-4f89-11d3-9a0c-0305e82c3301"}))?;
    /// assert!(matches!(v, FlaskValue::Uuid(_)));
    /// # Ok::<(), sessionwarden_flask::Error>(())
    /// ```
    pub fn from_typed_json(v: &Value) -> Result<Self, Error> {
        from_typed(v, 0)
    }
}

/// Converts a session dict to a typed-JSON object.
///
/// ```
/// use sessionwarden_flask::{FlaskMap, FlaskValue, map_to_typed_json};
/// let mut m = FlaskMap::new();
/// m.insert("n".into(), FlaskValue::Int(3));
/// assert_eq!(map_to_typed_json(&m), serde_json::json!({"n": 3}));
/// ```
#[must_use]
pub fn map_to_typed_json(map: &FlaskMap) -> Value {
    Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_typed_json())).collect())
}

/// Reads a typed-JSON object as a session dict.
///
/// # Errors
/// Returns [`Error::NotAnObject`] if `v` is not an object (or is a marker), otherwise as
/// [`FlaskValue::from_typed_json`].
///
/// ```
/// use sessionwarden_flask::map_from_typed_json;
/// let m = map_from_typed_json(&serde_json::json!({"blob": {"$bytes": "AP8="}}))?;
/// assert_eq!(m.len(), 1);
/// # Ok::<(), sessionwarden_flask::Error>(())
/// ```
pub fn map_from_typed_json(v: &Value) -> Result<FlaskMap, Error> {
    // The top level is the session dict itself: its keys are never a marker (a session whose
    // only key is `$bytes` is a dict with that key, as `map_to_typed_json` wrote it).
    let Value::Object(map) = v else {
        return Err(Error::NotAnObject);
    };
    dict(map, 0)
}

/// The names of the one-key markers, `$dict` (the escape) included.
const MARKER_NAMES: [&str; 8] =
    ["$bytes", "$tuple", "$datetime", "$uuid", "$markup", "$bigint", "$float", "$dict"];

fn is_marker_name(key: &str) -> bool {
    MARKER_NAMES.contains(&key)
}

/// An object's entries as a dict, each value read as typed JSON.
fn dict(map: &Map<String, Value>, depth: usize) -> Result<FlaskMap, Error> {
    let mut out = FlaskMap::with_capacity(map.len());
    for (k, v) in map {
        out.insert(k.clone(), from_typed(v, depth + 1)?);
    }
    Ok(out)
}

fn from_typed(v: &Value, depth: usize) -> Result<FlaskValue, Error> {
    if depth >= MAX_DEPTH {
        return Err(Error::Unencodable { what: "a value nested deeper than 128 levels" });
    }
    Ok(match v {
        Value::Null => FlaskValue::Null,
        Value::Bool(b) => FlaskValue::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                FlaskValue::Int(i)
            } else if let Some(u) = n.as_u64() {
                BigInt::from_u64(u)
            } else {
                FlaskValue::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => FlaskValue::Str(s.clone()),
        Value::Array(items) => FlaskValue::List(list(items, depth)?),
        Value::Object(map) => {
            if map.len() == 1
                && let Some((k, inner)) = map.iter().next()
                && let Some(v) = from_marker(k, inner, depth)?
            {
                return Ok(v);
            }
            FlaskValue::Dict(dict(map, depth)?)
        }
    })
}

fn list(items: &[Value], depth: usize) -> Result<Vec<FlaskValue>, Error> {
    items.iter().map(|i| from_typed(i, depth + 1)).collect()
}

fn from_marker(key: &str, v: &Value, depth: usize) -> Result<Option<FlaskValue>, Error> {
    let marker: &'static str = match key {
        "$bytes" => "$bytes",
        "$tuple" => "$tuple",
        "$datetime" => "$datetime",
        "$uuid" => "$uuid",
        "$markup" => "$markup",
        "$bigint" => "$bigint",
        "$float" => "$float",
        "$dict" => "$dict",
        _ => return Ok(None),
    };
    let bad = |reason| Error::BadMarker { marker, reason };
    let text = v.as_str();
    let value = match (marker, text) {
        ("$dict", _) => match v {
            Value::Object(map) => FlaskValue::Dict(dict(map, depth)?),
            _ => return Err(bad("expected an object")),
        },
        ("$tuple", _) => match v {
            Value::Array(items) => FlaskValue::Tuple(list(items, depth)?),
            _ => return Err(bad("expected an array")),
        },
        (_, None) => return Err(bad("expected a string")),
        ("$bytes", Some(s)) => {
            FlaskValue::Bytes(STANDARD.decode(s).map_err(|_| bad("expected standard base64"))?)
        }
        ("$datetime", Some(s)) => FlaskValue::DateTime(FlaskDateTime::parse_iso8601(s)?),
        ("$uuid", Some(s)) => FlaskValue::Uuid(Uuid::parse(s).ok_or(bad("expected a uuid"))?),
        ("$markup", Some(s)) => FlaskValue::Markup(s.to_owned()),
        ("$bigint", Some(s)) => {
            FlaskValue::integer_from_decimal(s).ok_or(bad("expected a decimal integer"))?
        }
        (_, Some(s)) => FlaskValue::Float(match s {
            "NaN" => f64::NAN,
            "Infinity" => f64::INFINITY,
            "-Infinity" => f64::NEG_INFINITY,
            "-0.0" => -0.0,
            _ => return Err(bad("expected NaN, Infinity, -Infinity or -0.0")),
        }),
    };
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn dict_of(entries: &[(&str, FlaskValue)]) -> FlaskValue {
        FlaskValue::Dict(entries.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
    }

    /// Dicts shaped like markers are escaped, and every value comes back as it was.
    #[test]
    fn lookalike_dicts_round_trip() {
        let s = |t: &str| FlaskValue::Str(t.to_owned());
        let cases = [
            (
                "one-key $tuple dict",
                dict_of(&[("$tuple", FlaskValue::List(vec![FlaskValue::Int(1)]))]),
                json!({"$dict": {"$tuple": [1]}}),
            ),
            (
                "one-key $bytes dict, not base64",
                dict_of(&[("$bytes", s("x"))]),
                json!({"$dict": {"$bytes": "x"}}),
            ),
            ("one-key $float dict", dict_of(&[("$float", s("NaN"))]), json!({"$dict": {"$float": "NaN"}})),
            ("one-key $bigint dict", dict_of(&[("$bigint", s("1"))]), json!({"$dict": {"$bigint": "1"}})),
            (
                "one-key $dict dict",
                dict_of(&[("$dict", dict_of(&[("a", FlaskValue::Int(1))]))]),
                json!({"$dict": {"$dict": {"a": 1}}}),
            ),
            (
                "two keys: no escape",
                dict_of(&[("$tuple", FlaskValue::Int(1)), ("b", FlaskValue::Int(2))]),
                json!({"$tuple": 1, "b": 2}),
            ),
            (
                "other one-key dict: no escape",
                dict_of(&[("$other", FlaskValue::Int(1))]),
                json!({"$other": 1}),
            ),
            ("a real tuple", FlaskValue::Tuple(vec![FlaskValue::Int(1)]), json!({"$tuple": [1]})),
            (
                "a real tuple in a look-alike",
                dict_of(&[("$tuple", FlaskValue::Tuple(vec![]))]),
                json!({"$dict": {"$tuple": {"$tuple": []}}}),
            ),
        ];
        for (name, value, typed) in cases {
            assert_eq!(value.to_typed_json(), typed, "{name}");
            assert_eq!(FlaskValue::from_typed_json(&typed).unwrap(), value, "{name}");
        }
        assert!(FlaskValue::from_typed_json(&json!({"$dict": [1]})).is_err(), "$dict holds an object");
    }

    #[test]
    fn a_session_whose_only_key_is_a_marker_name_is_a_dict() {
        let mut m = FlaskMap::new();
        m.insert("$bytes".into(), FlaskValue::Str("x".into()));
        let typed = map_to_typed_json(&m);
        assert_eq!(typed, json!({"$bytes": "x"}));
        assert_eq!(map_from_typed_json(&typed).unwrap(), m);
        assert_eq!(map_from_typed_json(&json!([1])), Err(Error::NotAnObject));
    }
}
