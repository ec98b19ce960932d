//! Security events: everything worth knowing about sessions and attacks on them.
//!
//! Every event is emitted through `tracing` under the target [`TARGET`]
//! (`sessionwarden::security`), counted, and kept in a bounded buffer of recent events for
//! admin APIs. No event carries a secret or a raw session id: sessions are named by their
//! [`SessionHandle`], a hash-derived name that cannot be turned into a cookie.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::Serialize;

#[cfg(feature = "csrf")]
pub use crate::csrf::CsrfRejectReason;
use crate::envelope::Rejection;
use crate::id::SessionHandle;
use crate::time::Timestamp;

/// The `tracing` target of security events.
pub const TARGET: &str = "sessionwarden::security";

/// Which deadline ended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryKind {
    /// The idle timeout passed without activity.
    Idle,
    /// The absolute timeout since creation passed.
    Absolute,
}

/// Why a request's session cookie was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CookieRejectReason {
    /// The envelope did not open.
    Envelope(Rejection),
    /// The request carried two or more cookies with the session cookie's name (a sign of
    /// cookie tossing from a sibling domain); none is trusted.
    Duplicate,
    /// The envelope opened but its payload is not a session (wrong length, bad JSON).
    BadPayload,
}

impl CookieRejectReason {
    /// A stable snake_case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Envelope(r) => r.as_str(),
            Self::Duplicate => "duplicate_cookie",
            Self::BadPayload => "bad_payload",
        }
    }
}

/// One security event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecurityEvent {
    /// A new session was stored (or its first cookie sealed).
    SessionCreated {
        /// The session.
        session: SessionHandle,
    },
    /// A session got a new id (login, privilege change); the old id no longer loads.
    SessionRotated {
        /// The old name.
        from: SessionHandle,
        /// The new name.
        to: SessionHandle,
    },
    /// A session was destroyed by its owner (logout).
    SessionDestroyed {
        /// The session.
        session: SessionHandle,
    },
    /// A session presented after its deadline.
    SessionExpired {
        /// Which deadline.
        deadline: ExpiryKind,
    },
    /// A session was revoked by an operator or a "log out everywhere".
    SessionRevoked {
        /// The session.
        session: SessionHandle,
    },
    /// A cookie was rejected; the request was treated as having no session.
    CookieRejected {
        /// Why.
        reason: CookieRejectReason,
    },
    /// A stored record could not be decoded; it was deleted.
    CorruptRecord {
        /// The session.
        session: SessionHandle,
    },
    /// The store could not be reached; the request was answered 503.
    StoreUnavailable {
        /// The operation that failed.
        operation: &'static str,
    },
    /// A cookie sealed under an older key was re-sealed under the primary.
    CookieResealed {
        /// The id of the key that had sealed it.
        from_kid: u32,
    },
    /// The keyring was reloaded.
    KeyringReloaded {
        /// The primary key's id after the reload.
        primary_kid: u32,
    },
    /// A keyring reload failed; the previous keys stay in use.
    KeyringReloadFailed {
        /// What went wrong (never key material).
        reason: String,
    },
    /// A state-changing request failed the CSRF checks and was answered 403.
    #[cfg(feature = "csrf")]
    CsrfRejected {
        /// Which check failed (never a token value).
        reason: CsrfRejectReason,
    },
    /// A bearer token or refresh token was refused; the request was answered 401.
    JwtRejected {
        /// `sessionwarden_jwt::JwtError::reason()`: `alg_none`, `expired`, `revoked`, …
        /// (never token bytes or claim values).
        reason: &'static str,
    },
    /// An already-rotated refresh token came back outside the grace window: its whole family
    /// was revoked (stolen token, or a client replaying old tokens).
    RefreshTokenReuse {
        /// The family's id (not a secret: it cannot refresh anything).
        family: String,
    },
    /// Every session of a user, or of everyone, was revoked by an operator or a "log out
    /// everywhere" (one event for the lot; [`SecurityEvent::SessionRevoked`] names single
    /// sessions).
    SessionsRevoked {
        /// The user, or `None` when every user's sessions were revoked.
        user: Option<String>,
        /// How many sessions were deleted.
        sessions: u64,
    },
    /// A request to the admin API was refused: no bearer token, a malformed
    /// `Authorization` header, or the wrong token. Answered 401.
    AdminAuthFailed {
        /// `missing`, `malformed` or `mismatch` (never the presented bytes).
        reason: &'static str,
    },
}

impl SecurityEvent {
    /// The event's kind, a stable snake_case name (`"cookie_rejected"`, ...).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::SessionCreated { .. } => "session_created",
            Self::SessionRotated { .. } => "session_rotated",
            Self::SessionDestroyed { .. } => "session_destroyed",
            Self::SessionExpired { .. } => "session_expired",
            Self::SessionRevoked { .. } => "session_revoked",
            Self::CookieRejected { .. } => "cookie_rejected",
            Self::CorruptRecord { .. } => "corrupt_record",
            Self::StoreUnavailable { .. } => "store_unavailable",
            Self::CookieResealed { .. } => "cookie_resealed",
            Self::KeyringReloaded { .. } => "keyring_reloaded",
            Self::KeyringReloadFailed { .. } => "keyring_reload_failed",
            #[cfg(feature = "csrf")]
            Self::CsrfRejected { .. } => "csrf_rejected",
            Self::JwtRejected { .. } => "jwt_rejected",
            Self::RefreshTokenReuse { .. } => "refresh_token_reuse",
            Self::SessionsRevoked { .. } => "sessions_revoked",
            Self::AdminAuthFailed { .. } => "admin_auth_failed",
        }
    }

    /// The reason, for events that have one.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::CookieRejected { reason } => Some(reason.as_str()),
            Self::StoreUnavailable { operation } => Some(operation),
            Self::KeyringReloadFailed { reason } => Some(reason),
            #[cfg(feature = "csrf")]
            Self::CsrfRejected { reason } => Some(reason.as_str()),
            Self::JwtRejected { reason } => Some(reason),
            Self::RefreshTokenReuse { .. } => Some("refresh_reuse"),
            Self::AdminAuthFailed { reason } => Some(reason),
            Self::SessionExpired { deadline: ExpiryKind::Idle } => Some("idle"),
            Self::SessionExpired { deadline: ExpiryKind::Absolute } => Some("absolute"),
            _ => None,
        }
    }
}

/// An event with the time it was recorded.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedEvent {
    /// When.
    pub at: Timestamp,
    /// What.
    #[serde(flatten)]
    pub event: SecurityEvent,
}

/// Something that wants every event as it happens (metrics exporter, test recorder).
pub trait EventSink: Send + Sync + 'static {
    /// Called once per event, synchronously: keep it cheap.
    fn record(&self, at: Timestamp, event: &SecurityEvent);
}

/// The event hub: logs, counts, keeps recent events, and forwards to sinks.
/// Clones share one hub.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

struct Inner {
    capacity: usize,
    recent: Mutex<VecDeque<RecordedEvent>>,
    counts: Mutex<BTreeMap<&'static str, u64>>,
    sinks: Vec<Arc<dyn EventSink>>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events").field("capacity", &self.inner.capacity).finish_non_exhaustive()
    }
}

impl Events {
    /// A hub that keeps the last `capacity` events.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self::with_sinks(capacity, Vec::new())
    }

    /// A hub that also forwards every event to `sinks`.
    #[must_use]
    pub fn with_sinks(capacity: usize, sinks: Vec<Arc<dyn EventSink>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                capacity,
                recent: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
                counts: Mutex::new(BTreeMap::new()),
                sinks,
            }),
        }
    }

    /// Records `event` at `at`.
    pub fn record(&self, at: Timestamp, event: SecurityEvent) {
        let kind = event.kind();
        // Refusals and failures are warnings; the lifecycle of sessions is information.
        let warning = match &event {
            SecurityEvent::CookieRejected { .. }
            | SecurityEvent::CorruptRecord { .. }
            | SecurityEvent::StoreUnavailable { .. }
            | SecurityEvent::KeyringReloadFailed { .. }
            | SecurityEvent::JwtRejected { .. }
            | SecurityEvent::RefreshTokenReuse { .. }
            | SecurityEvent::AdminAuthFailed { .. } => true,
            #[cfg(feature = "csrf")]
            SecurityEvent::CsrfRejected { .. } => true,
            _ => false,
        };
        if warning {
            tracing::warn!(target: TARGET, kind, reason = event.reason(), event = ?event, "security event");
        } else {
            tracing::info!(target: TARGET, kind, reason = event.reason(), event = ?event, "security event");
        }
        *self.inner.counts.lock().entry(kind).or_insert(0) += 1;
        for sink in &self.inner.sinks {
            sink.record(at, &event);
        }
        if self.inner.capacity > 0 {
            let mut recent = self.inner.recent.lock();
            if recent.len() == self.inner.capacity {
                recent.pop_front();
            }
            recent.push_back(RecordedEvent { at, event });
        }
    }

    /// The most recent events, oldest first.
    #[must_use]
    pub fn recent(&self) -> Vec<RecordedEvent> {
        self.inner.recent.lock().iter().cloned().collect()
    }

    /// How many events of each kind were recorded since start.
    #[must_use]
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.inner.counts.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_is_bounded_and_counts_survive() {
        let ev = Events::new(2);
        for _ in 0..5 {
            ev.record(
                Timestamp::from_unix(1),
                SecurityEvent::CookieRejected { reason: CookieRejectReason::Duplicate },
            );
        }
        assert_eq!(ev.recent().len(), 2);
        assert_eq!(ev.counts()["cookie_rejected"], 5);
        let json = serde_json::to_string(&ev.recent()[0]).unwrap();
        assert!(json.contains(r#""kind":"cookie_rejected""#), "{json}");
    }
}
