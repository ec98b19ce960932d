//! Counting security events.

use std::fmt;

use metrics::{Counter, Gauge, counter, gauge};

use super::{
    COOKIE_REJECTED, COOKIE_RESEALED, CORRUPT_RECORDS, CSRF_REJECTED, JWT_REJECTED, KEYRING_RELOADS,
    PRIMARY_KEY_AGE, PRIMARY_KEY_CREATED, REFRESH_TOKEN_REUSE, RISK_DETECTED, SESSIONS_ACTIVE,
    SESSIONS_CREATED, SESSIONS_DESTROYED, SESSIONS_EVICTED, SESSIONS_EXPIRED, SESSIONS_ROTATED,
    STORE_UNAVAILABLE,
};
use crate::events::{EventSink, ExpiryKind, SecurityEvent};
use crate::keyring::Keyring;
use crate::time::Timestamp;

/// The `reason` label values of [`COOKIE_REJECTED`](super::COOKIE_REJECTED):
/// [`CookieRejectReason::as_str`](crate::events::CookieRejectReason::as_str) of every reason,
/// and `other`.
pub const COOKIE_REASONS: &[&str] = &[
    "oversized",
    "malformed",
    "unknown_key",
    "retired_key",
    "bad_mac",
    "expired",
    "issued_in_future",
    "duplicate_cookie",
    "bad_payload",
    "other",
];

/// The `reason` label values of [`CSRF_REJECTED`](super::CSRF_REJECTED):
/// `CsrfRejectReason::as_str` of every reason, and `other`.
pub const CSRF_REASONS: &[&str] = &[
    "cross_site",
    "origin_mismatch",
    "null_origin",
    "malformed_origin",
    "missing_origin",
    "token_missing",
    "token_malformed",
    "token_expired",
    "token_wrong_session",
    "token_unknown_key",
    "no_session",
    "other",
];

/// The `reason` label values of [`JWT_REJECTED`](super::JWT_REJECTED):
/// `sessionwarden_jwt::JwtError::reason()` of every error, and `other`.
///
/// Kept here because this crate does not depend on the JWT crate; a test there checks that
/// every reason it can give is listed.
pub const JWT_REASONS: &[&str] = &[
    "alg_none",
    "alg_not_allowed",
    "alg_mismatch",
    "kid_missing",
    "kid_invalid",
    "kid_unknown",
    "kid_retired",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "iat_in_future",
    "wrong_issuer",
    "wrong_audience",
    "wrong_type",
    "crit_unsupported",
    "missing_claim",
    "claim_type",
    "too_large",
    "not_compact",
    "malformed",
    "revoked",
    "refresh_unknown",
    "refresh_expired",
    "refresh_revoked",
    "refresh_reuse",
    "refresh_key_retired",
    "invalid_key",
    "config",
    "signing_failed",
    "rng_failed",
    "store_unavailable",
    "other",
];

/// One counter per reason of a fixed set, the last being `other`.
struct ByReason(Vec<(&'static str, Counter)>);

impl ByReason {
    fn register(name: &'static str, reasons: &'static [&'static str]) -> Self {
        Self(reasons.iter().map(|&r| (r, counter!(name, "reason" => r))).collect())
    }

    fn increment(&self, reason: &str) {
        // A reason this version does not list lands in `other` (the last): label values
        // stay a fixed set whatever a caller passes.
        let found = self.0.iter().find(|(r, _)| *r == reason).or(self.0.last());
        if let Some((_, c)) = found {
            c.increment(1);
        }
    }
}

/// One counter per (rule, action taken) pair of the risk rules: a fixed label set.
struct ByRule(Vec<(crate::risk::RiskRule, crate::risk::RiskAction, Counter)>);

impl ByRule {
    fn register() -> Self {
        use crate::risk::{RiskAction, RiskRule};
        let pairs = RiskRule::ALL.iter().flat_map(|&rule| RiskAction::TAKEN.iter().map(move |&a| (rule, a)));
        Self(
            pairs
                .map(|(rule, action)| {
                    (
                        rule,
                        action,
                        counter!(RISK_DETECTED, "rule" => rule.as_str(), "action" => action.as_str()),
                    )
                })
                .collect(),
        )
    }

    fn increment(&self, rule: crate::risk::RiskRule, action: crate::risk::RiskAction) {
        if let Some((_, _, c)) = self.0.iter().find(|(r, a, _)| *r == rule && *a == action) {
            c.increment(1);
        }
    }
}

/// An [`EventSink`] that counts security events by kind and reason.
///
/// Matches on the event's kind and its reason enum only, never on who or which session: no
/// label ever carries a user, a handle or a value from a request. Register it with
/// [`Events::with_sinks`](crate::Events::with_sinks), after the recorder is installed.
///
/// `SessionRevoked` events are not counted here: revocations are counted where they happen,
/// by [`InstrumentedStore`](super::InstrumentedStore), so a "log out everywhere" that ends
/// five sessions counts five.
///
/// ```
/// # extern crate sessionwarden_tower as sessionwarden;
/// use std::sync::Arc;
/// use sessionwarden::{Events, events::EventSink, metrics::MetricsSink};
/// let events = Events::with_sinks(1024, vec![Arc::new(MetricsSink::new()) as Arc<dyn EventSink>]);
/// # drop(events);
/// ```
pub struct MetricsSink {
    created: Counter,
    rotated: Counter,
    evicted: Counter,
    destroyed: Counter,
    expired_idle: Counter,
    expired_absolute: Counter,
    active: Gauge,
    cookie_rejected: ByReason,
    resealed: Counter,
    corrupt: Counter,
    store_unavailable: Counter,
    #[cfg_attr(not(feature = "csrf"), allow(dead_code))]
    csrf_rejected: ByReason,
    jwt_rejected: ByReason,
    refresh_reuse: Counter,
    risk: ByRule,
    reload_ok: Counter,
    reload_failed: Counter,
    key_age: Gauge,
    key_created: Gauge,
    keyring: Option<Keyring>,
}

impl fmt::Debug for MetricsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsSink").field("keyring", &self.keyring.is_some()).finish_non_exhaustive()
    }
}

impl Default for MetricsSink {
    fn default() -> Self {
        Self::new()
    }
}

impl MetricsSink {
    /// Registers every counter (at zero) with the current recorder.
    #[must_use]
    pub fn new() -> Self {
        Self {
            created: counter!(SESSIONS_CREATED),
            rotated: counter!(SESSIONS_ROTATED),
            evicted: counter!(SESSIONS_EVICTED),
            destroyed: counter!(SESSIONS_DESTROYED),
            expired_idle: counter!(SESSIONS_EXPIRED, "deadline" => "idle"),
            expired_absolute: counter!(SESSIONS_EXPIRED, "deadline" => "absolute"),
            active: gauge!(SESSIONS_ACTIVE),
            cookie_rejected: ByReason::register(COOKIE_REJECTED, COOKIE_REASONS),
            resealed: counter!(COOKIE_RESEALED),
            corrupt: counter!(CORRUPT_RECORDS),
            store_unavailable: counter!(STORE_UNAVAILABLE),
            csrf_rejected: ByReason::register(CSRF_REJECTED, CSRF_REASONS),
            jwt_rejected: ByReason::register(JWT_REJECTED, JWT_REASONS),
            refresh_reuse: counter!(REFRESH_TOKEN_REUSE),
            risk: ByRule::register(),
            reload_ok: counter!(KEYRING_RELOADS, "result" => "ok"),
            reload_failed: counter!(KEYRING_RELOADS, "result" => "failed"),
            key_age: gauge!(PRIMARY_KEY_AGE),
            key_created: gauge!(PRIMARY_KEY_CREATED),
            keyring: None,
        }
    }

    /// Also tracks `keyring`'s primary key: its age and creation time are set now (at `now`)
    /// and again at every `KeyringReloaded` event and [`MetricsSink::observe_keyring`] call.
    #[must_use]
    pub fn with_keyring(mut self, keyring: Keyring, now: Timestamp) -> Self {
        self.keyring = Some(keyring);
        self.observe_keyring(now);
        self
    }

    /// Sets the key-age gauges from the keyring's current primary, at `now`. Call it
    /// periodically so the age gauge does not go stale between rotations (the creation-time
    /// gauge never does).
    pub fn observe_keyring(&self, now: Timestamp) {
        let Some(keyring) = &self.keyring else { return };
        let created = keyring.current().primary().created();
        // Gauges are f64; second-resolution Unix times are exact in an f64 until year 285M.
        #[allow(clippy::cast_precision_loss)]
        {
            self.key_created.set(created.unix() as f64);
            self.key_age.set(now.unix().saturating_sub(created.unix()).max(0) as f64);
        }
    }
}

impl EventSink for MetricsSink {
    fn record(&self, at: Timestamp, event: &SecurityEvent) {
        match event {
            SecurityEvent::SessionCreated { .. } => {
                self.created.increment(1);
                self.active.increment(1.0);
            }
            SecurityEvent::SessionRotated { .. } => self.rotated.increment(1),
            SecurityEvent::SessionDestroyed { .. } => {
                self.destroyed.increment(1);
                self.active.decrement(1.0);
            }
            SecurityEvent::SessionExpired { deadline } => {
                match deadline {
                    ExpiryKind::Idle => self.expired_idle.increment(1),
                    ExpiryKind::Absolute => self.expired_absolute.increment(1),
                }
                self.active.decrement(1.0);
            }
            SecurityEvent::CookieRejected { reason } => self.cookie_rejected.increment(reason.as_str()),
            SecurityEvent::CorruptRecord { .. } => self.corrupt.increment(1),
            SecurityEvent::StoreUnavailable { .. } => self.store_unavailable.increment(1),
            SecurityEvent::CookieResealed { .. } => self.resealed.increment(1),
            SecurityEvent::KeyringReloaded { .. } => {
                self.reload_ok.increment(1);
                self.observe_keyring(at);
            }
            SecurityEvent::KeyringReloadFailed { .. } => self.reload_failed.increment(1),
            #[cfg(feature = "csrf")]
            SecurityEvent::CsrfRejected { reason } => self.csrf_rejected.increment(reason.as_str()),
            SecurityEvent::JwtRejected { reason } => self.jwt_rejected.increment(reason),
            SecurityEvent::RefreshTokenReuse { .. } => self.refresh_reuse.increment(1),
            SecurityEvent::RiskDetected { rule, action, .. } => self.risk.increment(*rule, *action),
            // Counted by the store wrapper, where the number ended is known (see above).
            SecurityEvent::SessionRevoked { .. } | SecurityEvent::SessionsRevoked { .. } => {}
            // Logged and audited; no metric of their own yet.
            SecurityEvent::ForwardingHeaderRejected { .. } | SecurityEvent::AdminAuthFailed { .. } => {}
            #[cfg(feature = "throttle")]
            SecurityEvent::Throttled { .. } => {}
            // The per-user cap ended a session.
            SecurityEvent::SessionEvicted { .. } => {
                self.evicted.increment(1);
                self.active.decrement(1.0);
            }
            // Their sessions are counted as revoked by the store wrapper.
            SecurityEvent::UserDisabled { .. } | SecurityEvent::UserEnabled { .. } => {}
        }
    }
}
