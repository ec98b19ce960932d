//! Remember-me logins and the session's deadlines as a handler reads them.
//!
//! A remember-me login ([`Session::login_remembered`]) is a login whose session outlives the
//! browser and the idle timeout: its cookie is persistent (`Max-Age` is the remembered
//! lifetime), it has no idle deadline, and it ends at the login time plus that lifetime.
//! Such a session is only as strong as the device it sits on, so sensitive routes should ask
//! for a recent authentication ([`Session::authenticated_within`], or the
//! [`RequireRecentAuth`](crate::auth::RequireRecentAuth) guard) rather than trusting the
//! remembered login alone (OWASP ASVS 7.5.2; NIST SP 800-63B §7.2).
//!
//! The layer must allow it ([`SessionLayer::with_remember_me`]): a sealed cookie is refused
//! once it is older than the absolute timeout, and the longest remembered lifetime has to
//! raise that bound. A plain [`Session::login`] on a remembered session ends the
//! remembering: the session gets the layer's ordinary idle and absolute timeouts again.

use std::borrow::Cow;
use std::time::Duration;

use super::Session;
use crate::config::Expiry;
use crate::error::Error;
use crate::layer::{SessionLayer, Shared};
use crate::record::Record;
use crate::time::Timestamp;

/// A change of a session's remember-me state, kept in the request's change set so a save
/// that lost a race replays it onto the newer record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RememberChange {
    /// Remembered until `until`: persistent, no idle deadline.
    On {
        /// The session's new absolute deadline.
        until: Timestamp,
    },
    /// Back to the layer's ordinary lifetimes.
    Off {
        /// The absolute deadline it gets.
        absolute: Option<Timestamp>,
        /// The idle deadline it gets.
        idle: Option<Timestamp>,
        /// Whether its cookie stays persistent (the layer's setting).
        persistent: bool,
    },
}

impl RememberChange {
    /// What a login at `now` does to `record`'s remembering: remember it for `lifetime`, or,
    /// for a plain login of a remembered session, stop (the shorter of its remembered deadline
    /// and the layer's absolute timeout from now). `None` when nothing changes.
    pub(crate) fn at_login(
        now: Timestamp,
        lifetime: Option<Duration>,
        record: &Record,
        expiry: &Expiry,
    ) -> Option<Self> {
        if let Some(lifetime) = lifetime {
            return Some(Self::On { until: now.plus(lifetime) });
        }
        if !record.remembered {
            return None;
        }
        let ordinary = expiry.absolute_timeout().map(|d| now.plus(d));
        let absolute = match (record.absolute_deadline, ordinary) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Some(Self::Off {
            absolute,
            idle: expiry.idle_timeout().map(|d| now.plus(d)),
            persistent: expiry.is_persistent(),
        })
    }

    /// Applies the change to `record`.
    pub(crate) fn apply(self, record: &mut Record) {
        match self {
            Self::On { until } => {
                record.remembered = true;
                record.persistent = true;
                record.absolute_deadline = Some(until);
                record.idle_deadline = None;
            }
            Self::Off { absolute, idle, persistent } => {
                record.remembered = false;
                record.persistent = persistent;
                record.absolute_deadline = absolute;
                record.idle_deadline = idle;
            }
        }
    }
}

impl Shared {
    /// The lifetimes a presented cookie's seal is checked against: the layer's, with the
    /// absolute timeout raised to the longest remembered lifetime when remember-me is on (the
    /// record's own deadlines still decide when each session ends).
    pub(crate) fn seal_bound(&self) -> Cow<'_, Expiry> {
        match (self.remember_max, self.expiry.absolute_timeout()) {
            (Some(max), Some(absolute)) if max > absolute => {
                Cow::Owned(self.expiry.clone().with_absolute_timeout(Some(max)))
            }
            _ => Cow::Borrowed(&self.expiry),
        }
    }
}

impl SessionLayer {
    /// Allows remember-me logins ([`Session::login_remembered`]) lasting up to `max_lifetime`
    /// (a longer lifetime asked for is cut to it). Off by default: without it,
    /// `login_remembered` fails with [`Error::RememberMeNotEnabled`].
    ///
    /// A sealed cookie older than the absolute timeout is refused before its record is read;
    /// with remember-me on, that bound becomes `max_lifetime` when it is longer. Every other
    /// session still ends at its own idle and absolute deadlines, which the store (or, for
    /// the cookie store, the authenticated record in the cookie) enforces.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use std::time::Duration;
    /// use sessionwarden::{MemoryStore, SessionLayer, keyring::{Keyring, KeySet}, Timestamp};
    /// let keyring = Keyring::new(KeySet::generate(Timestamp::from_unix(0))?);
    /// let layer = SessionLayer::new(MemoryStore::default(), keyring)
    ///     .with_remember_me(Duration::from_secs(30 * 24 * 3600));
    /// # drop(layer);
    /// # Ok::<(), sessionwarden::keyring::KeyringError>(())
    /// ```
    #[must_use]
    pub fn with_remember_me(self, max_lifetime: Duration) -> Self {
        self.map(|s| s.remember_max = Some(max_lifetime))
    }
}

/// A session's deadlines, from [`Session::expires_at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SessionDeadlines {
    /// The sliding deadline, as of the session's last renewal (this request may still move
    /// it when the session is saved). `None` without an idle timeout, and for a remembered
    /// session.
    pub idle: Option<Timestamp>,
    /// The fixed deadline: creation plus the absolute timeout, or for a remembered session,
    /// its login plus the remembered lifetime. `None` without an absolute timeout.
    pub absolute: Option<Timestamp>,
    /// Whether the session is a remember-me login ([`Session::login_remembered`]).
    pub remembered: bool,
}

impl SessionDeadlines {
    /// The earlier deadline: when the session ends unless it is used (or renewed) before.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// # async fn f(session: sessionwarden::Session) -> Result<(), sessionwarden::Error> {
    /// if let Some(deadlines) = session.expires_at().await? {
    ///     let ends: Option<std::time::SystemTime> = deadlines.earliest().map(Into::into);
    ///     # let _ = ends;
    /// }
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn earliest(&self) -> Option<Timestamp> {
        match (self.idle, self.absolute) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl Session {
    /// Logs `user` in as [`Session::login`] does, and remembers the login: the cookie
    /// becomes persistent, the session has no idle timeout and ends `lifetime` from now (at
    /// most the layer's [`SessionLayer::with_remember_me`] maximum). Ask for a recent
    /// authentication before sensitive actions ([`Session::authenticated_within`]): the
    /// remembered login may be weeks old.
    ///
    /// # Errors
    /// [`Error::RememberMeNotEnabled`] when the layer does not allow remember-me logins; the
    /// rest as [`Session::login`].
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use std::time::Duration;
    /// use sessionwarden::{LoginMethod, Session};
    /// async fn login(session: Session, remember: bool) -> Result<(), sessionwarden::Error> {
    ///     // ... after checking the password:
    ///     if remember {
    ///         session.login_remembered("alice", LoginMethod::Password, Duration::from_secs(14 * 86_400)).await
    ///     } else {
    ///         session.login("alice", LoginMethod::Password).await
    ///     }
    /// }
    /// ```
    pub async fn login_remembered(
        &self,
        user: &str,
        method: crate::LoginMethod,
        lifetime: Duration,
    ) -> Result<(), Error> {
        let Some(max) = self.shared().remember_max else {
            return Err(Error::RememberMeNotEnabled);
        };
        self.log_in(user, method, Some(lifetime.min(max))).await
    }

    /// The session's idle and absolute deadlines, and whether it is remembered; `None`
    /// without a session.
    ///
    /// # Errors
    /// [`Error::Store`] if the store cannot be reached.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// async fn status(session: sessionwarden::Session) -> Result<String, sessionwarden::Error> {
    ///     Ok(match session.expires_at().await? {
    ///         Some(d) if d.remembered => format!("remembered until {:?}", d.absolute),
    ///         Some(d) => format!("ends at {:?}", d.earliest()),
    ///         None => "no session".to_owned(),
    ///     })
    /// }
    /// ```
    pub async fn expires_at(&self) -> Result<Option<SessionDeadlines>, Error> {
        let st = self.loaded().await?;
        Ok(st.live().map(|l| SessionDeadlines {
            idle: l.record.idle_deadline,
            absolute: l.record.absolute_deadline,
            remembered: l.record.remembered,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp::from_unix(1_800_000_000);
    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn login_changes() {
        let expiry = Expiry::default();
        let plain = Record::new(NOW, &expiry);
        let mut remembered = plain.clone();
        RememberChange::On { until: NOW.plus(30 * DAY) }.apply(&mut remembered);

        assert_eq!(RememberChange::at_login(NOW, None, &plain, &expiry), None, "plain stays plain");
        assert_eq!(
            RememberChange::at_login(NOW, Some(DAY), &plain, &expiry),
            Some(RememberChange::On { until: NOW.plus(DAY) })
        );
        let later = NOW.plus(DAY);
        let Some(off) = RememberChange::at_login(later, None, &remembered, &expiry) else {
            panic!("a plain login ends remembering");
        };
        let mut back = remembered.clone();
        off.apply(&mut back);
        assert!(!back.remembered);
        assert!(!back.persistent);
        assert_eq!(back.absolute_deadline, Some(later.plus(Duration::from_secs(12 * 3600))));
        assert_eq!(back.idle_deadline, Some(later.plus(Duration::from_secs(30 * 60))));
        // Near its remembered end, the session keeps the earlier deadline.
        let near_end = NOW.plus(30 * DAY - Duration::from_secs(60));
        let Some(off) = RememberChange::at_login(near_end, None, &remembered, &expiry) else { panic!() };
        off.apply(&mut back);
        assert_eq!(back.absolute_deadline, Some(NOW.plus(30 * DAY)));
    }

    #[test]
    fn remembered_record() {
        let mut r = Record::new(NOW, &Expiry::default());
        RememberChange::On { until: NOW.plus(7 * DAY) }.apply(&mut r);
        assert!(r.remembered && r.persistent);
        assert_eq!(r.expires_at(), Some(NOW.plus(7 * DAY)));
        let d = SessionDeadlines { idle: r.idle_deadline, absolute: r.absolute_deadline, remembered: true };
        assert_eq!(d.earliest(), Some(NOW.plus(7 * DAY)));
        let both = SessionDeadlines { idle: Some(NOW), absolute: Some(NOW.plus(DAY)), remembered: false };
        assert_eq!(both.earliest(), Some(NOW));
    }
}
