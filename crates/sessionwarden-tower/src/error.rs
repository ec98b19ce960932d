//! The crate's errors: one enum for callers, one for store implementers.

pub use sessionwarden_core::error::{BoxError, RandomError, StoreError};

use crate::keyring::KeyringError;

/// Everything that can go wrong in a session operation.
///
/// Callers get this; clients never see it. A request that meets
/// [`Error::Store`] with [`StoreError::Unavailable`] is answered 503 (fail closed): never a
/// fresh anonymous session that would hide the user's real one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The session store failed. See [`StoreError`] for the cases.
    #[error(transparent)]
    Store(#[from] StoreError),

    /// A value could not be serialised into the session.
    ///
    /// The value's `Serialize` impl failed (for example a map with non-string keys).
    #[error("session value for key {key:?} does not serialise to JSON")]
    Serialize {
        /// The session key being written.
        key: String,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },

    /// A value nests deeper than [`crate::MAX_VALUE_DEPTH`] and was not stored.
    ///
    /// Past that depth a stored session could no longer be read back. The session is
    /// unchanged; the request gets 400. Flatten the value.
    #[error("session value for key {key:?} nests deeper than {limit} levels")]
    ValueTooDeep {
        /// The session key being written.
        key: String,
        /// The limit, [`crate::MAX_VALUE_DEPTH`].
        limit: usize,
    },

    /// A stored value does not deserialise into the requested type.
    ///
    /// The session holds this key with another shape; read it as `serde_json::Value` to see.
    #[error("session value for key {key:?} does not deserialise into the requested type")]
    Deserialize {
        /// The session key being read.
        key: String,
        /// What serde reported.
        #[source]
        source: serde_json::Error,
    },

    /// The sealed cookie would exceed the browser's limit of 4096 bytes.
    ///
    /// Browsers silently drop such cookies. The change was not applied, and writes are all
    /// or nothing: none of the request's session changes is saved and the session layer
    /// answers `413 Payload Too Large` without a `Set-Cookie`. Keep less in a cookie-store
    /// session, or use a server-side store.
    #[error(
        "session cookie would be {size} bytes, over the browser limit of {limit}; store less or use a server-side store"
    )]
    CookieTooLarge {
        /// The sealed cookie's size (name, `=` and value).
        size: usize,
        /// The limit.
        limit: usize,
    },

    /// The session would exceed the layer's size limit for server-side sessions
    /// ([`crate::SessionLayer::with_max_session_size`], 64 KiB by default).
    ///
    /// Like [`Error::CookieTooLarge`], all or nothing: none of the request's session changes
    /// is saved and the layer answers `413 Payload Too Large`. Keep less in the session (a
    /// session is read and rewritten whole on every change), or raise the limit.
    #[error("session would be {size} bytes, over the limit of {limit}; store less or raise the limit")]
    SessionTooLarge {
        /// The stored record's size.
        size: usize,
        /// The limit.
        limit: usize,
    },

    /// The keyring could not be loaded, written or used.
    #[error(transparent)]
    Keyring(#[from] KeyringError),

    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Random,

    /// A concurrent request kept winning the race to save this session.
    ///
    /// Saves merge and retry a few times before giving up; this means heavy contention.
    #[error("session save lost {attempts} races in a row to concurrent requests")]
    Contention {
        /// How many attempts were made.
        attempts: u32,
    },

    /// The operation needs a logged-in user and the session has none (answered 401).
    #[error("no user is logged in to this session")]
    NotLoggedIn,

    /// The operation needs a recent re-authentication ([`crate::Session::reauthenticated`])
    /// and the last one is older than the window (answered 401 `reauth_required`).
    #[error("this needs a recent re-authentication")]
    ReauthRequired,

    /// A login under [`LimitPolicy::RefuseNew`](crate::store::LimitPolicy) found the user with
    /// the maximum of live sessions ([`crate::SessionLayer::with_session_limit`]). Nothing
    /// was changed; answered 409 `{"error": "too_many_sessions"}`. The user ends one of their
    /// sessions (or waits for one to expire) and logs in again.
    #[error("the user has the maximum number of live sessions")]
    TooManySessions,

    /// A login of a user an operator disabled ([`crate::SessionLayer::with_account_locks`]).
    /// Nothing was kept; answered like a failed login (401), so the response reveals nothing.
    #[error("the account is disabled")]
    AccountDisabled,

    /// [`crate::Session::login_remembered`] on a layer that does not allow remember-me logins:
    /// a wiring mistake (answered 500). Add [`crate::SessionLayer::with_remember_me`].
    #[error("remember-me logins are not enabled: add SessionLayer::with_remember_me")]
    RememberMeNotEnabled,

    /// The handler used a [`crate::Session`] outside the [`crate::SessionLayer`].
    #[error("no session layer on this route: add sessionwarden::SessionLayer")]
    MissingLayer,
}

impl From<RandomError> for Error {
    fn from(_: RandomError) -> Self {
        Self::Random
    }
}
