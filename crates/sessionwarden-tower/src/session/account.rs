//! Self-service: a logged-in user sees and ends their own sessions (OWASP ASVS 7.5.2).
//!
//! These are methods on [`Session`] that take the store's [`SessionIndex`] (the capability
//! to list and revoke sessions by user), so a store that cannot list sessions cannot be
//! passed in: the missing capability is a compile error, not an empty list.
//!
//! Ending a session (another one, or all others) needs a recent re-authentication: the user
//! logged in, or called [`Session::reauthenticated`] after proving who they are again,
//! within the window the caller passes ([`DEFAULT_REAUTH_WINDOW`] is 5 minutes). Listing
//! does not.

use std::time::Duration;

use serde::Serialize;

use super::Session;
use crate::error::Error;
use crate::events::SecurityEvent;
use crate::id::SessionHandle;
use crate::store::{SessionIndex, SessionInfo};
use crate::time::Timestamp;
use sessionwarden_core::client::{DeviceSummary, IpPrefix, LoginMethod};

/// How recent a re-authentication must be for ending sessions, unless the caller says
/// otherwise: 5 minutes.
pub const DEFAULT_REAUTH_WINDOW: Duration = Duration::from_secs(5 * 60);

/// One of the user's sessions as the user sees it: no id, no data, no full address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OwnSession {
    /// Opaque name, for [`Session::revoke_own_session`].
    pub handle: SessionHandle,
    /// When it was created.
    pub created: Timestamp,
    /// When a request last renewed it.
    pub last_seen: Timestamp,
    /// When it expires, if ever.
    pub expires_at: Option<Timestamp>,
    /// The network it was created from (/24 or /48).
    pub ip_prefix: Option<IpPrefix>,
    /// Browser family, major version and OS.
    pub device: Option<DeviceSummary>,
    /// When the user logged in to it.
    pub login_at: Option<Timestamp>,
    /// How.
    pub login_method: Option<LoginMethod>,
    /// Whether it is the session of the request asking.
    pub current: bool,
}

impl OwnSession {
    fn new(info: SessionInfo, current: Option<&SessionHandle>) -> Self {
        let client = info.client.unwrap_or_default();
        Self {
            current: current == Some(&info.handle),
            handle: info.handle,
            created: info.created,
            last_seen: info.last_seen,
            expires_at: info.expires_at,
            ip_prefix: client.ip_prefix,
            device: client.device,
            login_at: client.login_at,
            login_method: client.login_method,
        }
    }
}

/// What [`Session::revoke_own_session`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revoked {
    /// Another of the user's sessions was ended.
    Other,
    /// The session of this request was ended (like a logout).
    Current,
    /// The handle names no live session of this user (it never did, it belongs to someone
    /// else, or it has ended already). Nothing was changed.
    NotFound,
}

impl Session {
    /// The logged-in user's live sessions, oldest first, with the one of this request
    /// marked [`OwnSession::current`].
    ///
    /// # Errors
    /// [`Error::NotLoggedIn`] without a logged-in user; [`Error::Store`] if the store cannot
    /// be reached.
    ///
    /// ```
    /// # extern crate sessionwarden_tower as sessionwarden;
    /// use sessionwarden::{MemoryStore, Session};
    /// async fn my_sessions(session: Session, store: MemoryStore) -> Result<String, sessionwarden::Error> {
    ///     let sessions = session.own_sessions(&store).await?;
    ///     Ok(format!("{} sessions", sessions.len()))
    /// }
    /// ```
    pub async fn own_sessions<I: SessionIndex + ?Sized>(&self, index: &I) -> Result<Vec<OwnSession>, Error> {
        let user = self.user().await?.ok_or(Error::NotLoggedIn)?;
        let current = self.handle().await?;
        let now = self.shared().now();
        let mut sessions: Vec<OwnSession> = index
            .list_user(&user, now)
            .await?
            .into_iter()
            // A listing entry whose user differs is not this user's, whatever the store says.
            .filter(|info| info.user.as_deref() == Some(user.as_str()))
            .map(|info| OwnSession::new(info, current.as_ref()))
            .collect();
        sessions.sort_by(|a, b| (a.created, a.handle.as_str()).cmp(&(b.created, b.handle.as_str())));
        Ok(sessions)
    }

    /// Ends one of the logged-in user's sessions by handle, after a re-authentication within
    /// `reauth_window`. Ending this request's own session is a logout. A handle of another
    /// user's session is [`Revoked::NotFound`], exactly like one that does not exist.
    ///
    /// # Errors
    /// [`Error::NotLoggedIn`]; [`Error::ReauthRequired`] when the last authentication is
    /// older than `reauth_window` (nothing is changed); [`Error::Store`].
    pub async fn revoke_own_session<I: SessionIndex + ?Sized>(
        &self,
        index: &I,
        handle: &SessionHandle,
        reauth_window: Duration,
    ) -> Result<Revoked, Error> {
        self.require_recent_authentication(reauth_window).await?;
        let own = self.own_sessions(index).await?;
        let Some(target) = own.iter().find(|s| &s.handle == handle) else {
            return Ok(Revoked::NotFound);
        };
        if target.current {
            self.destroy().await?;
            return Ok(Revoked::Current);
        }
        if index.revoke(handle).await? {
            self.shared().event(SecurityEvent::SessionRevoked { session: handle.clone() });
            Ok(Revoked::Other)
        } else {
            Ok(Revoked::NotFound)
        }
    }

    /// Ends every session of the logged-in user except this one, after a re-authentication
    /// within `reauth_window` (what to offer after a password change: OWASP ASVS 7.4.3).
    /// Returns the handles ended.
    ///
    /// # Errors
    /// As [`Session::revoke_own_session`].
    pub async fn revoke_other_sessions<I: SessionIndex + ?Sized>(
        &self,
        index: &I,
        reauth_window: Duration,
    ) -> Result<Vec<SessionHandle>, Error> {
        self.require_recent_authentication(reauth_window).await?;
        let mut ended = Vec::new();
        for other in self.own_sessions(index).await?.into_iter().filter(|s| !s.current) {
            if index.revoke(&other.handle).await? {
                self.shared().event(SecurityEvent::SessionRevoked { session: other.handle.clone() });
                ended.push(other.handle);
            }
        }
        Ok(ended)
    }

    /// `Ok` if a user is logged in and authenticated within `window`.
    ///
    /// # Errors
    /// [`Error::NotLoggedIn`], [`Error::ReauthRequired`], [`Error::Store`].
    pub async fn require_recent_authentication(&self, window: Duration) -> Result<(), Error> {
        if self.user().await?.is_none() {
            return Err(Error::NotLoggedIn);
        }
        if self.authenticated_within(window).await? { Ok(()) } else { Err(Error::ReauthRequired) }
    }
}
