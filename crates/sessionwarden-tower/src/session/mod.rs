//! Sessions: the handle handlers use, and how one request's session is loaded and saved.
//!
//! Read top-down:
//!
//! - `handle` — [`Session`], the public API (`get`, `insert`, `cycle_id`, `destroy`, ...).
//!   Each call locks the request's state, loads it on first use, and dispatches the I/O to
//!   the backend. `Session::finish` runs after the handler and says what the layer must do
//!   to the response.
//! - `state` — one request's state as a state machine (`state::Phase`: unloaded, no
//!   session, live, destroyed, failed) and its change set. No I/O, no backend: the rules
//!   (when a session is created, renewed, re-issued, removed; that a store outage is
//!   terminal) live here and are unit-tested without HTTP.
//! - `cookie_store` — persistence in the cookie itself: open, seal, size limit.
//! - `server_store` — persistence in a [`crate::SessionStore`]: load, create, compare-and-set
//!   save with merge-and-retry, cycle, delete.
//! - `login` — remember-me logins (and the layer option allowing them) and the session's
//!   deadlines as handlers read them ([`Session::expires_at`]).
//! - `commit` — the group commit `server_store` saves through: concurrent writes of one
//!   session in this process go to the store as one batch.
//!
//! The layer (`crate::layer`) owns the request and response; it depends on this module, never
//! the other way round, except for the configuration it shares (`crate::layer::Shared`).

pub mod account;
mod commit;
mod cookie_store;
mod handle;
mod login;
mod server_store;
mod state;

pub(crate) use self::commit::SaveQueues;
pub(crate) use self::handle::Finish;
pub use self::handle::Session;
pub use self::login::SessionDeadlines;

/// A session's times, from [`Session::times`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SessionTimes {
    /// When the session was created.
    pub created: crate::time::Timestamp,
    /// When a request last renewed it (moves with the throttled idle renewal).
    pub last_seen: crate::time::Timestamp,
    /// The earlier of its idle and absolute deadlines; `None` if it has neither.
    pub expires_at: Option<crate::time::Timestamp>,
}
use self::state::Changes;
pub(crate) use self::state::{ClientInputs, Presented};
