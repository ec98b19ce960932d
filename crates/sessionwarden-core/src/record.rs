//! What a store keeps for one session: the data and its metadata.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::{ClientInfo, RiskState};
use crate::time::Timestamp;

/// A session's data: string keys to JSON values.
pub type Data = Map<String, Value>;

/// One session as stores keep it.
///
/// `Debug` lists the data's keys but never its values (a session may hold a CSRF secret or
/// anything else a handler put there).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Record {
    /// The session's data.
    pub data: Data,
    /// When the session was created.
    pub created: Timestamp,
    /// When the session was last seen by a request that renewed it.
    pub last_seen: Timestamp,
    /// The sliding deadline: `last_seen` + idle timeout. `None` when there is no idle timeout.
    pub idle_deadline: Option<Timestamp>,
    /// The fixed deadline: `created` + absolute timeout. `None` when there is none.
    pub absolute_deadline: Option<Timestamp>,
    /// The authenticated user, set at login. Demo data in [`Record::data`] never counts.
    pub user: Option<String>,
    /// Bumped by every successful save; stores compare it to refuse lost updates.
    pub version: u64,
    /// Whether the cookie outlives the browser session (Flask's `session.permanent`).
    pub persistent: bool,
    /// What the session knows about its client: network, device, login time and method.
    /// Recorded when the session is created and at login; never rewritten per request.
    #[serde(default)]
    pub client: Option<ClientInfo>,
    /// When the user last proved who they are in this session: at login, or at a later
    /// re-authentication. Sensitive actions (ending sessions, changing credentials) ask that
    /// it be recent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticated_at: Option<Timestamp>,
    /// What the risk rules remember of the session: the network and device it moved to, and
    /// a pending re-authentication. `None` until a rule has something to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskState>,
    /// A remember-me login: the session has no idle timeout ([`Record::touch`] leaves
    /// [`Record::idle_deadline`] unset) and lives until its absolute deadline, which the login
    /// set to its remembered lifetime. Absent from the encoding when `false`, so records
    /// written before it existed decode unchanged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remembered: bool,
}

impl Record {
    /// A fresh, empty record created at `now` under `expiry`.
    #[must_use]
    pub fn new(now: Timestamp, expiry: &crate::expiry::Expiry) -> Self {
        Self {
            data: Data::new(),
            created: now,
            last_seen: now,
            idle_deadline: expiry.idle_timeout().map(|d| now.plus(d)),
            absolute_deadline: expiry.absolute_timeout().map(|d| now.plus(d)),
            user: None,
            version: 0,
            persistent: expiry.is_persistent(),
            client: None,
            authenticated_at: None,
            risk: None,
            remembered: false,
        }
    }

    /// The earlier of the two deadlines: when the record stops being valid.
    #[must_use]
    pub fn expires_at(&self) -> Option<Timestamp> {
        match (self.idle_deadline, self.absolute_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether the record has expired at `now`. An expired record must never load.
    #[must_use]
    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at().is_some_and(|t| t <= now)
    }

    /// Time to live from `now`, for stores with TTLs; `None` when the record never expires.
    #[must_use]
    pub fn ttl(&self, now: Timestamp) -> Option<Duration> {
        self.expires_at().map(|t| now.until(t))
    }

    /// Moves the idle deadline: the session was used at `now`. A [remembered](Record::remembered)
    /// session has none.
    pub fn touch(&mut self, now: Timestamp, expiry: &crate::expiry::Expiry) {
        self.last_seen = now;
        self.idle_deadline = if self.remembered { None } else { expiry.idle_timeout().map(|d| now.plus(d)) };
    }

    /// The versioned byte encoding stores keep (JSON, format version 1).
    ///
    /// # Errors
    /// Fails only if a value cannot be serialised, which a `serde_json::Value` always can.
    pub fn to_bytes(&self) -> Result<Vec<u8>, crate::error::StoreError> {
        serde_json::to_vec(&Versioned { v: 1, record: self })
            .map_err(|_| crate::error::StoreError::Corrupt { reason: "record does not serialise" })
    }

    /// Decodes [`Record::to_bytes`]' output.
    ///
    /// # Errors
    /// Returns [`crate::error::StoreError::Corrupt`] for bytes that are not a version-1 record.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, crate::error::StoreError> {
        #[derive(Deserialize)]
        struct Owned {
            v: u32,
            record: Record,
        }
        let owned: Owned = serde_json::from_slice(bytes)
            .map_err(|_| crate::error::StoreError::Corrupt { reason: "record is not valid JSON" })?;
        if owned.v != 1 {
            return Err(crate::error::StoreError::Corrupt { reason: "unknown record format version" });
        }
        Ok(owned.record)
    }
}

#[derive(Serialize)]
struct Versioned<'a> {
    v: u32,
    record: &'a Record,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values are left out: they may be secrets (CSRF secret, tokens, personal data).
        f.debug_struct("Record")
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .field("created", &self.created)
            .field("last_seen", &self.last_seen)
            .field("idle_deadline", &self.idle_deadline)
            .field("absolute_deadline", &self.absolute_deadline)
            .field("user", &self.user.as_ref().map(|_| ".."))
            .field("version", &self.version)
            .field("persistent", &self.persistent)
            .field("client", &self.client.as_ref().map(|_| ".."))
            .field("authenticated_at", &self.authenticated_at)
            .field("risk", &self.risk.as_ref().map(|_| ".."))
            .field("remembered", &self.remembered)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expiry::Expiry;

    #[test]
    fn debug_hides_values() {
        let mut r = Record::new(Timestamp::from_unix(10), &Expiry::default());
        r.data.insert("csrf".into(), Value::String("s3cr3t-value".into()));
        r.user = Some("alice".into());
        let dbg = format!("{r:?}");
        assert!(dbg.contains("csrf"));
        assert!(!dbg.contains("s3cr3t-value"));
        assert!(!dbg.contains("alice"));
    }

    #[test]
    fn deadlines_and_expiry() {
        let expiry = Expiry::default()
            .with_idle_timeout(Some(Duration::from_secs(100)))
            .with_absolute_timeout(Some(Duration::from_secs(1000)));
        let mut r = Record::new(Timestamp::from_unix(0), &expiry);
        assert_eq!(r.expires_at(), Some(Timestamp::from_unix(100)));
        assert!(!r.is_expired(Timestamp::from_unix(99)));
        assert!(r.is_expired(Timestamp::from_unix(100)));
        r.touch(Timestamp::from_unix(950), &expiry);
        assert_eq!(r.expires_at(), Some(Timestamp::from_unix(1000)));
        assert_eq!(r.ttl(Timestamp::from_unix(990)), Some(Duration::from_secs(10)));
    }

    #[test]
    fn remembered_records_have_no_idle_deadline() {
        let expiry = Expiry::default();
        let mut r = Record::new(Timestamp::from_unix(0), &expiry);
        let plain = String::from_utf8(r.to_bytes().unwrap()).unwrap();
        assert!(!plain.contains("remembered"), "a plain record encodes as before: {plain}");
        r.remembered = true;
        r.absolute_deadline = Some(Timestamp::from_unix(1_000_000));
        r.touch(Timestamp::from_unix(50), &expiry);
        assert_eq!(r.idle_deadline, None);
        assert_eq!(r.expires_at(), Some(Timestamp::from_unix(1_000_000)));
        let back = Record::from_bytes(&r.to_bytes().unwrap()).unwrap();
        assert!(back.remembered);
        assert_eq!(back, r);
    }

    #[test]
    fn bytes_round_trip_and_reject_garbage() {
        let r = Record::new(Timestamp::from_unix(5), &Expiry::default());
        assert_eq!(Record::from_bytes(&r.to_bytes().unwrap()).unwrap(), r);
        assert!(Record::from_bytes(b"\x00garbage").is_err());
        assert!(Record::from_bytes(br#"{"v":2,"record":{}}"#).is_err());
    }
}
