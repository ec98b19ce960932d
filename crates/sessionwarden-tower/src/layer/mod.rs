//! The tower layer that gives each request a [`crate::Session`].
//!
//! Per request: the session cookie is found (`cookies`; two cookies of that name are
//! rejected as a cookie-tossing attempt, and cleared once the session is used), a lazy
//! [`crate::Session`] goes into the request's extensions, the handler runs, then the session
//! is saved if it changed and the response gets its `Set-Cookie`, `Vary: Cookie` and
//! `Cache-Control` headers (`no-store` when it sets the cookie or carries a CSRF token,
//! otherwise the configured [`crate::CacheControl`]). If the store failed anywhere in the
//! request, the response is replaced by a 503; if a cookie-store write did not fit, by a 413
//! and nothing is saved. Every such answer is a typed rejection (`rejection`), built in one
//! place: a store outage never logs anyone out and never lets a request continue without its
//! real session.
//!
//! The dependency runs one way: this module owns the request and the response and calls into
//! `crate::session`; the session module sees only the configuration shared here (`Shared`).

pub(crate) mod cookies;
mod extract;
#[allow(clippy::module_inception)]
mod layer;
pub(crate) mod rejection;
mod service;

pub(crate) use self::layer::Shared;
pub use self::layer::{DEFAULT_MAX_SESSION_SIZE, SessionLayer};
pub use self::service::{PeerAddr, SessionService};
