//! How deeply a session value may nest: checked when a value enters the session, so that
//! whatever is accepted can be stored and loaded again.

use serde_json::Value;

use crate::Error;

/// The deepest nesting a session value may have: arrays and objects inside one another, the
/// value itself counting as one level (`[[1]]` is 2 deep, a scalar 0).
/// [`crate::Session::insert`] refuses a deeper value with [`Error::ValueTooDeep`].
///
/// Why 48: readers stop at 128 levels (`serde_json`'s recursion limit, the Flask codecs'
/// `MAX_DEPTH`). A stored form adds up to two levels around a value (the record, its data
/// map), and Flask's tagged JSON can double a value's depth (a dict that looks like a tag is
/// wrapped as `{" di": {...}}`), so 2 × 48 + 3 stays well under 128 in every format. Without
/// the check a value 125 levels deep was accepted, then judged corrupt on its next load and
/// the whole session deleted. No real session nests anywhere near 48 levels.
pub const MAX_VALUE_DEPTH: usize = 48;

/// Refuses `value`, about to be stored under `key`, if it nests deeper than
/// [`MAX_VALUE_DEPTH`]. [`crate::Session::insert`] calls it; a handler that inserts several
/// values from one request can call it on all of them first, so that none is stored unless
/// all are accepted.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// let ok = serde_json::json!({"a": [1, 2]});
/// assert!(sessionwarden::check_value_depth("k", &ok).is_ok());
/// let mut deep = serde_json::json!(1);
/// for _ in 0..=sessionwarden::MAX_VALUE_DEPTH {
///     deep = serde_json::json!([deep]);
/// }
/// assert!(sessionwarden::check_value_depth("k", &deep).is_err());
/// ```
///
/// # Errors
/// [`Error::ValueTooDeep`] naming `key`.
pub fn check_value_depth(key: &str, value: &Value) -> Result<(), Error> {
    if depth_exceeds(value, MAX_VALUE_DEPTH) {
        return Err(Error::ValueTooDeep { key: key.to_owned(), limit: MAX_VALUE_DEPTH });
    }
    Ok(())
}

/// Whether `value` nests deeper than `limit`. Iterative, so a value of any depth is measured
/// without recursion; stops at the first path over the limit.
fn depth_exceeds(value: &Value, limit: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((v, above)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        let depth = above + 1;
        if depth > limit {
            return true;
        }
        stack.extend(children.map(|c| (c, depth)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> Value {
        let mut v = Value::from(1);
        for i in 0..depth {
            v = if i % 2 == 0 { Value::Array(vec![v]) } else { serde_json::json!({ "k": v }) };
        }
        v
    }

    #[test]
    fn depth_limit_table() {
        let wide = Value::Array((0..1000).map(|_| nested(3)).collect());
        let cases = [
            ("scalar", Value::from("x"), true),
            ("empty array is 1 deep", serde_json::json!([]), true),
            ("at the limit", nested(MAX_VALUE_DEPTH), true),
            ("one over the limit", nested(MAX_VALUE_DEPTH + 1), false),
            ("125 deep", nested(125), false),
            ("wide but shallow", wide, true),
            (
                "deep in the last of many siblings",
                serde_json::json!([1, 2, {"a": nested(MAX_VALUE_DEPTH)}]),
                false,
            ),
        ];
        for (name, value, ok) in cases {
            let got = check_value_depth("k", &value);
            assert_eq!(got.is_ok(), ok, "{name}: {got:?}");
            if let Err(e) = got {
                assert!(
                    matches!(e, Error::ValueTooDeep { ref key, limit } if key == "k" && limit == MAX_VALUE_DEPTH)
                );
            }
        }
    }

    #[test]
    fn empty_containers_count_as_one_level() {
        assert!(!depth_exceeds(&serde_json::json!({}), 1));
        assert!(depth_exceeds(&serde_json::json!([[]]), 1));
    }
}
