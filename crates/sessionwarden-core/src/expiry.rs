//! How long sessions live: idle and absolute timeouts, persistence, renewal throttling.

use std::time::Duration;

/// How long sessions live.
///
/// Defaults follow OWASP's Session Management Cheat Sheet for ordinary applications: a
/// 30-minute idle timeout, a 12-hour absolute timeout, and a browser-session cookie.
///
/// ```
/// # extern crate sessionwarden_core as sessionwarden;
/// use std::time::Duration;
/// use sessionwarden::Expiry;
/// // Flask's PERMANENT_SESSION_LIFETIME = 31 days with SESSION_PERMANENT = True:
/// let expiry = Expiry::default()
///     .with_absolute_timeout(Some(Duration::from_secs(31 * 24 * 3600)))
///     .with_idle_timeout(None)
///     .persistent(true);
/// assert!(expiry.is_persistent());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    idle: Option<Duration>,
    absolute: Option<Duration>,
    persistent: bool,
    renew_after: Option<Duration>,
}

impl Default for Expiry {
    fn default() -> Self {
        Self {
            // OWASP: 15–30 minutes idle for low-risk applications.
            idle: Some(Duration::from_secs(30 * 60)),
            // OWASP: 4–8 hours absolute for office-type use; 12 h covers a long day.
            absolute: Some(Duration::from_secs(12 * 3600)),
            persistent: false,
            renew_after: None,
        }
    }
}

impl Expiry {
    /// Sets the sliding idle timeout; `None` disables it.
    #[must_use]
    pub fn with_idle_timeout(mut self, idle: Option<Duration>) -> Self {
        self.idle = idle;
        self
    }

    /// Sets the absolute timeout from creation; `None` disables it.
    #[must_use]
    pub fn with_absolute_timeout(mut self, absolute: Option<Duration>) -> Self {
        self.absolute = absolute;
        self
    }

    /// A persistent cookie (`Max-Age` set to the absolute deadline) instead of a
    /// browser-session cookie.
    #[must_use]
    pub fn persistent(mut self, persistent: bool) -> Self {
        self.persistent = persistent;
        self
    }

    /// How stale `last_seen` may get before a read-only request renews the idle deadline.
    ///
    /// Renewal costs a store write (or a new cookie), so it is throttled: by default to an
    /// eighth of the idle timeout, between 1 second and 5 minutes. `Some(Duration::ZERO)`
    /// renews on every request (Flask's `SESSION_REFRESH_EACH_REQUEST`).
    #[must_use]
    pub fn with_renew_after(mut self, renew_after: Option<Duration>) -> Self {
        self.renew_after = renew_after;
        self
    }

    /// The idle timeout, if any.
    #[must_use]
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle
    }

    /// The absolute timeout, if any.
    #[must_use]
    pub fn absolute_timeout(&self) -> Option<Duration> {
        self.absolute
    }

    /// Whether cookies are persistent.
    #[must_use]
    pub fn is_persistent(&self) -> bool {
        self.persistent
    }

    /// The effective renewal interval (see [`Expiry::with_renew_after`]).
    #[must_use]
    pub fn renew_interval(&self) -> Duration {
        if let Some(d) = self.renew_after {
            return d;
        }
        match self.idle {
            Some(idle) => (idle / 8).clamp(Duration::from_secs(1), Duration::from_secs(300)),
            None => Duration::from_secs(300),
        }
    }
}
