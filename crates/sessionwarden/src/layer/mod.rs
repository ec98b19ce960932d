//! The tower layer that gives each request a [`crate::Session`].
//!
//! Per request: the session cookie is found (two cookies of that name are rejected as a
//! cookie-tossing attempt), a lazy [`crate::Session`] goes into the request's extensions,
//! the handler runs, then the session is saved if it changed and the response gets its
//! `Set-Cookie`, `Vary: Cookie` and `Cache-Control` headers. If the store failed anywhere
//! in the request, the response is replaced by a 503: a store outage never logs anyone out
//! and never lets a request continue without its real session.

pub(crate) mod cookies;
mod extract;
#[allow(clippy::module_inception)]
mod layer;
pub(crate) mod rejection;
mod service;

pub use self::layer::SessionLayer;
pub(crate) use self::layer::Shared;
pub use self::service::SessionService;
