//! Flask session dicts to sessionwarden records and back.

use std::time::Duration;

use serde_json::Value;
use sessionwarden_tower::{Expiry, Record, Timestamp};

use crate::{Error, FlaskMap, FlaskValue, map_from_typed_json, map_to_typed_json};

/// The key Flask keeps `session.permanent` under; it maps to `Record::persistent`.
pub const PERMANENT_KEY: &str = "_permanent";
/// Flask-Login's user id key; a string there maps to `Record::user`.
pub const USER_KEY: &str = "_user_id";

/// The layer [`Expiry`] that matches Flask: a sliding `PERMANENT_SESSION_LIFETIME` after the
/// last write, which the adapters express as both the idle and the absolute timeout (the
/// adapters move the absolute deadline on every load, as every Flask write does).
///
/// ```
/// let expiry = sessionwarden_flask::adapter::flask_expiry(2_678_400, true);
/// assert!(expiry.is_persistent());
/// ```
#[must_use]
pub fn flask_expiry(lifetime_secs: u64, permanent: bool) -> Expiry {
    let lifetime = Some(Duration::from_secs(lifetime_secs.max(1)));
    Expiry::default().with_idle_timeout(lifetime).with_absolute_timeout(lifetime).persistent(permanent)
}

/// A record for a Flask session dict: `_permanent` becomes `persistent`, a string
/// `_user_id` becomes `user`, everything else is `data` in typed JSON. Times are `now`;
/// callers set the deadlines they know.
///
/// ```
/// use sessionwarden_flask::{FlaskMap, FlaskValue, adapter::record_from_map};
/// let mut m = FlaskMap::new();
/// m.insert("_permanent".into(), FlaskValue::Bool(true));
/// m.insert("pair".into(), FlaskValue::Tuple(vec![FlaskValue::Int(1), "a".into()]));
/// let r = record_from_map(m, sessionwarden_tower::Timestamp::from_unix(0));
/// assert!(r.persistent);
/// assert_eq!(r.data["pair"], serde_json::json!({"$tuple": [1, "a"]}));
/// ```
#[must_use]
pub fn record_from_map(mut map: FlaskMap, now: Timestamp) -> Record {
    let persistent = matches!(map.shift_remove(PERMANENT_KEY), Some(FlaskValue::Bool(true)));
    let user = match map.get(USER_KEY) {
        Some(FlaskValue::Str(s)) => {
            let s = s.clone();
            map.shift_remove(USER_KEY);
            Some(s)
        }
        _ => None,
    };
    let mut record = Record::new(now, &Expiry::default());
    if let Value::Object(data) = map_to_typed_json(&map) {
        record.data = data;
    }
    record.user = user;
    record.persistent = persistent;
    record.idle_deadline = None;
    record.absolute_deadline = None;
    record
}

/// The Flask session dict for a record: `_permanent` first when persistent (as a new
/// permanent Flask session starts), then `data` read from typed JSON, then `_user_id`.
///
/// # Errors
/// [`Error::BadMarker`] when `data` holds a malformed marker.
///
/// ```
/// use sessionwarden_flask::{FlaskValue, adapter::{map_from_record, record_from_map}};
/// let mut r = record_from_map(Default::default(), sessionwarden_tower::Timestamp::from_unix(0));
/// r.user = Some("alice".into());
/// r.data.insert("when".into(), serde_json::json!({"$datetime": "2025-01-02T03:04:05Z"}));
/// let m = map_from_record(&r)?;
/// assert_eq!(m["_user_id"], FlaskValue::from("alice"));
/// assert!(matches!(m["when"], FlaskValue::DateTime(_)));
/// # Ok::<(), sessionwarden_flask::Error>(())
/// ```
pub fn map_from_record(record: &Record) -> Result<FlaskMap, Error> {
    let mut map = FlaskMap::new();
    if record.persistent {
        map.insert(PERMANENT_KEY.to_owned(), FlaskValue::Bool(true));
    }
    // The keys the record carries elsewhere are not taken from `data`.
    for (k, v) in map_from_typed_json(&Value::Object(record.data.clone()))? {
        if k != PERMANENT_KEY && !(k == USER_KEY && record.user.is_some()) {
            map.insert(k, v);
        }
    }
    if let Some(user) = &record.user {
        map.insert(USER_KEY.to_owned(), FlaskValue::Str(user.clone()));
    }
    Ok(map)
}

/// `u64` seconds for a sessionwarden time (times before 1970 are 0: Flask signs with the
/// current time, which is never that).
pub(crate) fn unix_u64(t: Timestamp) -> u64 {
    u64::try_from(t.unix()).unwrap_or(0)
}

/// A sessionwarden time for `u64` seconds (saturating).
pub(crate) fn timestamp(secs: u64) -> Timestamp {
    Timestamp::from_unix(i64::try_from(secs).unwrap_or(i64::MAX))
}
