//! Flask's `TaggedJSONSerializer` (`flask/json/tag.py`, Flask 3.1).
//!
//! Types JSON cannot hold are wrapped in a one-key object whose key starts with a space. On
//! write the checks run in Flask's order; on read the tree is untagged bottom-up and only an
//! object with exactly one key equal to a tag name is converted. See FLASK-FORMATS.md 1.4.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::{Error, FlaskDateTime, FlaskMap, FlaskValue, Uuid, pyjson};

const TAG_DICT: &str = " di";
const TAG_TUPLE: &str = " t";
const TAG_BYTES: &str = " b";
const TAG_MARKUP: &str = " m";
const TAG_UUID: &str = " u";
const TAG_DATETIME: &str = " d";

/// 0100-01-01T00:00:00Z in Unix seconds.
const YEAR_100: i64 = -59_011_459_200;

/// The registered tag names, as `TaggedJSONSerializer.tags` holds them.
const TAGS: [&str; 6] = [TAG_DICT, TAG_TUPLE, TAG_BYTES, TAG_MARKUP, TAG_UUID, TAG_DATETIME];

fn tag_name(key: &str) -> Option<&'static str> {
    TAGS.iter().copied().find(|t| *t == key)
}

/// Serializes a session dict as Flask does: tagged, keys sorted, compact, ASCII-only.
pub(crate) fn dumps(session: &FlaskMap) -> Result<String, Error> {
    let mut out = String::with_capacity(128);
    write_dict(&mut out, session, 0)?;
    Ok(out)
}

/// Parses Flask's session JSON and untags it. The top level must be an object.
pub(crate) fn loads(text: &str) -> Result<FlaskMap, Error> {
    match untag(pyjson::parse(text, true)?)? {
        FlaskValue::Dict(map) => Ok(map),
        _ => Err(Error::NotAnObject),
    }
}

fn write_value(out: &mut String, v: &FlaskValue, depth: usize) -> Result<(), Error> {
    if depth >= pyjson::MAX_DEPTH {
        return Err(Error::Unencodable { what: "a value nested deeper than 128 levels" });
    }
    match v {
        FlaskValue::Null => out.push_str("null"),
        FlaskValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        FlaskValue::Int(i) => out.push_str(&i.to_string()),
        FlaskValue::BigInt(b) => out.push_str(b.as_decimal()),
        FlaskValue::Float(f) => pyjson::write_float(out, *f),
        FlaskValue::Str(s) => pyjson::write_str(out, s),
        FlaskValue::Dict(map) => write_dict(out, map, depth)?,
        FlaskValue::Tuple(items) => {
            out.push_str(r#"{" t":"#);
            write_list(out, items, depth + 1)?;
            out.push('}');
        }
        FlaskValue::List(items) => write_list(out, items, depth)?,
        FlaskValue::Bytes(b) => {
            out.push_str(r#"{" b":""#);
            out.push_str(&STANDARD.encode(b));
            out.push_str("\"}");
        }
        FlaskValue::Markup(s) => {
            out.push_str(r#"{" m":"#);
            pyjson::write_str(out, s);
            out.push('}');
        }
        FlaskValue::Uuid(u) => {
            out.push_str(r#"{" u":""#);
            out.push_str(&u.to_simple());
            out.push_str("\"}");
        }
        FlaskValue::DateTime(dt) => {
            if dt.unix_seconds() < YEAR_100 {
                // Python's parsedate maps years 0..99 to 19xx/20xx, so Flask could not read
                // back what it wrote; refuse rather than have the year change silently.
                return Err(Error::Unencodable { what: "a datetime before the year 100" });
            }
            out.push_str(r#"{" d":""#);
            out.push_str(&dt.to_http_date());
            out.push_str("\"}");
        }
    }
    Ok(())
}

fn write_list(out: &mut String, items: &[FlaskValue], depth: usize) -> Result<(), Error> {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(out, item, depth + 1)?;
    }
    out.push(']');
    Ok(())
}

fn write_dict(out: &mut String, map: &FlaskMap, depth: usize) -> Result<(), Error> {
    if depth >= pyjson::MAX_DEPTH {
        return Err(Error::Unencodable { what: "a value nested deeper than 128 levels" });
    }
    // TagDict comes first in Flask's order: a one-key dict whose key is a tag name would be
    // mistaken for that tag on read, so it is escaped as {" di": {"<key>__": value}}.
    if map.len() == 1
        && let Some((key, value)) = map.first()
        && tag_name(key).is_some()
    {
        out.push_str(r#"{" di":{"#);
        pyjson::write_str(out, &format!("{key}__"));
        out.push(':');
        write_value(out, value, depth + 2)?;
        out.push_str("}}");
        return Ok(());
    }
    // sort_keys=True: Python compares str by code point, which is UTF-8 byte order.
    let mut entries: Vec<(&String, &FlaskValue)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        pyjson::write_str(out, k);
        out.push(':');
        write_value(out, v, depth + 1)?;
    }
    out.push('}');
    Ok(())
}

/// Untags a parsed JSON tree bottom-up, as `TaggedJSONSerializer._untag_scan` does.
///
/// Recursion depth is bounded by the parser's [`pyjson::MAX_DEPTH`].
fn untag(v: FlaskValue) -> Result<FlaskValue, Error> {
    match v {
        FlaskValue::List(items) => {
            Ok(FlaskValue::List(items.into_iter().map(untag).collect::<Result<_, _>>()?))
        }
        FlaskValue::Dict(map) => {
            let mut map =
                map.into_iter().map(|(k, v)| Ok((k, untag(v)?))).collect::<Result<FlaskMap, Error>>()?;
            if map.len() == 1
                && let Some(tag) = map.first().and_then(|(k, _)| tag_name(k))
            {
                // invariant: len() == 1, so pop() returns the only entry
                let (_, inner) = map.pop().expect("one entry");
                return from_tagged(tag, inner);
            }
            Ok(FlaskValue::Dict(map))
        }
        other => Ok(other),
    }
}

/// Converts the (already untagged) value under `tag`. Stricter than Flask, which coerces
/// odd inputs (`tuple("ab")`, `Markup(1)`) or returns `None` for a bad date: anything Flask
/// would not have written is an error here.
fn from_tagged(tag: &'static str, inner: FlaskValue) -> Result<FlaskValue, Error> {
    let bad = |reason| Error::BadTag { tag, reason };
    match (tag, inner) {
        (TAG_TUPLE, FlaskValue::List(items)) => Ok(FlaskValue::Tuple(items)),
        (TAG_BYTES, FlaskValue::Str(s)) => STANDARD
            .decode(s)
            .map(FlaskValue::Bytes)
            .map_err(|_| bad("expected standard base64 with padding")),
        (TAG_MARKUP, FlaskValue::Str(s)) => Ok(FlaskValue::Markup(s)),
        (TAG_UUID, FlaskValue::Str(s)) => {
            Uuid::parse(&s).map(FlaskValue::Uuid).ok_or(bad("expected 32 hex digits"))
        }
        (TAG_DATETIME, FlaskValue::Str(s)) => FlaskDateTime::parse_http_date(&s)
            .map(FlaskValue::DateTime)
            .ok_or(bad("expected an http date like 'Fri, 14 Mar 2025 15:09:26 GMT'")),
        (TAG_DICT, FlaskValue::Dict(mut m)) if m.len() == 1 => {
            // invariant: len() == 1
            let (key, value) = m.pop().expect("one entry");
            match key.strip_suffix("__") {
                Some(k) if tag_name(k).is_some() => {
                    let mut out = FlaskMap::with_capacity(1);
                    out.insert(k.to_owned(), value);
                    Ok(FlaskValue::Dict(out))
                }
                _ => Err(bad("expected a tag name followed by '__'")),
            }
        }
        (TAG_DICT, _) => Err(bad("expected an object with one key")),
        (TAG_TUPLE, _) => Err(bad("expected an array")),
        _ => Err(bad("expected a string")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tag_named_dicts_are_escaped_and_other_space_keys_are_not() {
        let mut inner = FlaskMap::new();
        inner.insert(" t".into(), "x".into());
        let mut s = FlaskMap::new();
        s.insert("weird".into(), FlaskValue::Dict(inner));
        let json = dumps(&s).unwrap();
        assert_eq!(json, r#"{"weird":{" di":{" t__":"x"}}}"#);
        assert_eq!(loads(&json).unwrap(), s);

        let plain = loads(r#"{"a":{" x":1},"b":{" t":1,"o":2}}"#).unwrap();
        assert_eq!(dumps(&plain).unwrap(), r#"{"a":{" x":1},"b":{" t":1,"o":2}}"#);
    }

    #[test]
    fn bad_tag_values_are_errors() {
        for bad in [
            r#"{"a":{" t":"ab"}}"#,
            r#"{"a":{" b":"AP8"}}"#,
            r#"{"a":{" b":1}}"#,
            r#"{"a":{" m":1}}"#,
            r#"{"a":{" u":"xyz"}}"#,
            r#"{"a":{" d":"yesterday"}}"#,
            r#"{"a":{" di":{}}}"#,
            r#"{"a":{" di":{"x__":1}}}"#,
            r#"{"a":{" di":[" t__"]}}"#,
        ] {
            assert!(matches!(loads(bad), Err(Error::BadTag { .. })), "{bad}");
        }
        assert_eq!(loads("[]"), Err(Error::NotAnObject));
    }
}
